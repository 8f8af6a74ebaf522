"""A lot's record anyone can check: its events in a SHA-256 hash chain.

Digest 0 is 32 zero bytes; digest n is SHA-256 of digest n-1 followed by event n's canonical
JSON, which is the event exactly as ``GET /api/lots/{id}/events`` serves it (``event_frame``)
with its keys sorted, no spaces, UTF-8. So anyone holding the events of the public API can
recompute every digest with a stock JSON library (Python:
``json.dumps(frame, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, which writes
the same bytes as the msgspec frames used here for speed: tests/test_record.py pins it),
and a lot's final digest, printed on its notice and certificate, fixes all of its history: a
changed, inserted or removed event changes every digest after it.

The store computes each digest as it journals the event and keeps it beside the event
(docs/durability.md); ``verify`` recomputes a lot's chain from what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, assert_never

import msgspec

from hall import _chain
from hall.engine import AnyEvent
from hall.engine.events import (
    BidPlaced, Closed, Extended, FairWarning, Opened, Paused, Resumed, Withdrawn, decode,
)  # fmt: skip
from hall.protocol import EventFrame

if TYPE_CHECKING:
    from hall.store.base import Store

GENESIS: Final = bytes(32)
"""Digest 0, before a lot's first event."""
VERIFY_PAGE: Final = 10_000
"""Events ``verify`` reads at a time, so that checking a long lot holds little in memory."""


# ---------------------------------------------------------------------- the canonical frames
#
# The chain hashes ``event_frame(event)`` (hall/protocol.py) with its keys sorted. Building an
# ``EventFrame`` and encoding it with a sorted encoder costs the journal's hot path about twice
# what these do: one small Struct per event kind holding exactly the keys that kind's frame
# has, declared in sorted order, encoded in declaration order (msgspec's ``order="sorted"``
# sorts every object's keys on every encode). ``type`` is an ordinary field here, since a tag
# is always written first. tests/test_record.py holds them to ``event_frame`` for every kind,
# with every optional key present and absent, and to Python's json for every code point.


class _Canonical(msgspec.Struct, kw_only=True, gc=False):
    """A kind's canonical frame. Each declares ``kind``, ``lot``, ``seq``, ``ts`` and ``type``
    (every frame has them) where they sort among its own keys; ``gc=False`` as for events:
    scalars only."""


class _OpenedFrame(_Canonical, kw_only=True, gc=False):
    """Opened and resumed."""

    ends_at: int | None
    kind: str
    lot: int
    seq: int
    ts: int
    type: str


class _BidFrame(_Canonical, kw_only=True, omit_defaults=True, gc=False):
    bidder: str
    ends_at: int | None
    floor: bool = False
    """Only a floor bid's frame has the key (``event_frame`` sets it only when true)."""
    kind: str
    lot: int
    price: int
    seq: int
    ts: int
    type: str


class _ExtendedFrame(_Canonical, kw_only=True, gc=False):
    ends_at: int
    kind: str
    lot: int
    seconds: int
    seq: int
    ts: int
    type: str


class _PlainFrame(_Canonical, kw_only=True, gc=False):
    """Paused and fair warning: the common keys only."""

    kind: str
    lot: int
    seq: int
    ts: int
    type: str


class _ClosedFrame(_Canonical, kw_only=True, gc=False):
    kind: str
    lot: int
    outcome: str
    price: int | None
    seq: int
    ts: int
    type: str
    winner: str | None


class _WithdrawnFrame(_Canonical, kw_only=True, gc=False):
    kind: str
    lot: int
    reason: str
    seq: int
    ts: int
    type: str


_encode: Final = msgspec.json.Encoder().encode
_TYPE: Final = "event"
"""``EventFrame``'s tag."""


def _frame(e: AnyEvent) -> _Canonical:
    """``event_frame(e)`` with its keys in sorted order (bids first: nearly every event is one)."""
    match e:
        case BidPlaced():
            return _BidFrame(bidder=e.bidder, ends_at=e.ends_at, floor=e.floor, kind="bid", lot=e.lot,
                             price=e.amount, seq=e.seq, ts=e.ts, type=_TYPE)  # fmt: skip
        case Opened():
            return _OpenedFrame(ends_at=e.ends_at, kind="opened", lot=e.lot, seq=e.seq, ts=e.ts, type=_TYPE)
        case Resumed():
            return _OpenedFrame(ends_at=e.ends_at, kind="resumed", lot=e.lot, seq=e.seq, ts=e.ts, type=_TYPE)
        case Extended():
            return _ExtendedFrame(ends_at=e.ends_at, kind="extended", lot=e.lot, seconds=e.seconds, seq=e.seq,
                                  ts=e.ts, type=_TYPE)  # fmt: skip
        case Paused():
            return _PlainFrame(kind="paused", lot=e.lot, seq=e.seq, ts=e.ts, type=_TYPE)
        case FairWarning():
            return _PlainFrame(kind="fair_warning", lot=e.lot, seq=e.seq, ts=e.ts, type=_TYPE)
        case Closed():
            return _ClosedFrame(kind="closed", lot=e.lot, outcome=e.outcome.value, price=e.price, seq=e.seq,
                                ts=e.ts, type=_TYPE, winner=e.winner)  # fmt: skip
        case Withdrawn():
            return _WithdrawnFrame(kind="withdrawn", lot=e.lot, reason=e.reason, seq=e.seq, ts=e.ts, type=_TYPE)
        case _:
            assert_never(e)


def canonical(event: AnyEvent) -> bytes:
    """The bytes the chain hashes for ``event``: its public frame, keys sorted, compact, UTF-8."""
    return _encode(_frame(event))


def link(previous: bytes, event: AnyEvent) -> bytes:
    """The digest after ``event``, given the digest before it."""
    return _chain.links({event.lot: previous}, (event,), BidPlaced, canonical)[0]


def links(heads: dict[int, bytes], events: Sequence[AnyEvent]) -> list[bytes]:
    """The digest after each of ``events`` (in order, lots mixed), each lot's chain going on
    from its digest in ``heads``, which is left holding the digest after each lot's last
    event. The journal's hot path, so one call into C a batch (hall/_chain.c): it writes the
    bids' frames itself, asks ``canonical`` for the other events', and hashes with the GIL
    released."""
    return _chain.links(heads, events, BidPlaced, canonical)


class RecordPage(msgspec.Struct):
    """``GET /api/lots/{id}/record``: the events after ``since`` with the digest after each.
    ``previous`` is the digest at ``since`` (the start of this page's chain), ``digest`` the one
    after the page's last event, which is the lot's final digest when ``next`` is null."""

    lot: int
    previous: str
    events: list[EventFrame]
    digests: list[str]
    digest: str
    next: int | None


class Verdict(msgspec.Struct, omit_defaults=True):
    """What ``verify`` found in one lot's stored chain (one JSON line of ``hall verify``)."""

    lot: int
    ok: bool
    events: int
    """Events checked: all of them when ``ok``, else those before ``seq``."""
    digest: str | None = None
    """The final digest, hex (only when ``ok``)."""
    seq: int | None = None
    """The first event that does not match (only when not ``ok``)."""
    problem: str | None = None
    """Why: ``digest`` (its stored digest is not the recomputed one: the event, the digest or
    one before it was changed), ``missing`` (no event has this seq, a later one does) or
    ``unreadable`` (its stored body does not decode, or names another lot or seq)."""


async def verify(store: Store, lot: int) -> Verdict:
    """Recompute ``lot``'s chain from the store, ``VERIFY_PAGE`` events at a time, and name the
    first event that does not match. A lot whose last events were deleted still verifies: that
    is seen by comparing its final digest with one published before (the notice's, an earlier
    ``/record``)."""
    digest = GENESIS
    expected = 1
    while True:
        rows = await store.chain(lot, expected, VERIFY_PAGE)
        # The page's events up to the first one missing or unreadable, chained in one call.
        events: list[AnyEvent] = []
        broken: Verdict | None = None
        for seq, body, _ in rows:
            at = expected + len(events)
            if seq != at:
                broken = Verdict(lot=lot, ok=False, events=at - 1, seq=at, problem="missing")
                break
            try:
                event: AnyEvent | None = decode(body)
            except msgspec.DecodeError:
                event = None
            if event is None or event.lot != lot or event.seq != seq:
                broken = Verdict(lot=lot, ok=False, events=at - 1, seq=seq, problem="unreadable")
                break
            events.append(event)
        heads = {lot: digest}
        for (seq, _, stored), computed in zip(rows, links(heads, events), strict=False):
            if stored != computed:
                return Verdict(lot=lot, ok=False, events=seq - 1, seq=seq, problem="digest")
        if broken is not None:
            return broken
        digest = heads[lot]
        expected += len(events)
        if len(rows) < VERIFY_PAGE:
            return Verdict(lot=lot, ok=True, events=expected - 1, digest=digest.hex())
