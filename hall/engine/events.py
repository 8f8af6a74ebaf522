"""The facts a lot emits: one Struct per event kind, tagged on ``kind``.

Events are the journal. They are written once, never changed, and replayed through
``Lot.apply`` to rebuild a lot exactly, so a field that is added later must get a default
that reproduces the old behaviour. ``actor`` and ``user`` are account ids: they stay inside
the server; anything shown to the public names a bidder by ``bidder`` (the per-lot number).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Final

import msgspec


class Outcome(StrEnum):
    SOLD = "sold"
    UNSOLD = "unsold"


class Event(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, gc=False, array_like=True):
    """gc=False: events hold only scalars, so they can never be part of a cycle.
    array_like: the journal stores fields by position (a bid is 32 bytes, not 91), so a new
    field must be added at the end of its class, with a default."""

    lot: int
    seq: int
    ts: int
    """When the lot accepted it, epoch milliseconds UTC."""
    actor: int | None = None
    """The account whose command produced it; None for the lot's own clock."""
    req: str | None = None
    """The client request id that produced it, remembered for idempotent retries."""


class Opened(Event, frozen=True, tag="opened"):
    ends_at: int | None
    """The close instant in timed mode; None in live mode (the auctioneer hammers)."""


class BidPlaced(Event, frozen=True, tag="bid"):
    amount: int
    bidder: str
    user: int
    ends_at: int | None
    """The close instant after this bid, moved by the anti-sniping rule if it applied."""
    floor: bool = False
    """Entered by the auctioneer for an in-room bidder."""


class Extended(Event, frozen=True, tag="extended"):
    seconds: int
    ends_at: int


class Paused(Event, frozen=True, tag="paused"):
    pass


class Resumed(Event, frozen=True, tag="resumed"):
    ends_at: int | None


class FairWarning(Event, frozen=True, tag="fair_warning"):
    pass


class Closed(Event, frozen=True, tag="closed"):
    outcome: Outcome
    price: int | None
    winner: str | None
    user: int | None


class Withdrawn(Event, frozen=True, tag="withdrawn"):
    reason: str


AnyEvent = Opened | BidPlaced | Extended | Paused | Resumed | FairWarning | Closed | Withdrawn

TERMINAL = (Closed, Withdrawn)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyEvent)


encode: Final[Callable[[AnyEvent], bytes]] = _encoder.encode
"""An event's stored body: the encoder's own method, since the journal calls it for every event
and a function around it costs a frame each time."""


def decode(body: bytes) -> AnyEvent:
    event: AnyEvent = _decoder.decode(body)
    return event
