"""The hall's JSON wire protocol (``/ws`` and ``/api/lots``): one msgspec Struct per message.

These Structs are the protocol's only definition; docs/protocol.md describes them for people
and the tests hold the two together. Every frame is one JSON object whose ``type`` tags it.
Times are epoch milliseconds UTC, money whole yuan. The codes in ``ack``/``error`` frames are
the engine's (``hall.engine.Code``) plus the ones in ``Wire``; add codes, never rename them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, get_args

import msgspec
from msgspec import UNSET, UnsetType

from hall.engine import Action, AnyEvent, BidPlaced, Closed, Rejection, Result
from hall.engine.events import Extended, Opened, Resumed, Withdrawn
from hall.engine.view import LotView

MAX_FRAME: Final = 64 * 1024
"""A client frame larger than this closes the socket with 1009 (message too big)."""

LotId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
RequestId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Wire(StrEnum):
    """Codes the socket adds to the engine's."""

    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    TOO_FAR_BEHIND = "too_far_behind"
    """A resume that missed more events than a socket's queue holds: take a snapshot instead."""
    TOO_SLOW = "too_slow"
    """Sent as the close reason when a watcher falls too far behind and is dropped."""


# ---------------------------------------------------------------------- client → server


class Subscribe(msgspec.Struct, tag="subscribe", tag_field="type", forbid_unknown_fields=True):
    lot: LotId
    since: Seq | None = None
    """Without it: a snapshot. With it: every event after ``since``, then live ones."""


class Unsubscribe(msgspec.Struct, tag="unsubscribe", tag_field="type", forbid_unknown_fields=True):
    lot: LotId


class Bid(msgspec.Struct, tag="bid", tag_field="type", forbid_unknown_fields=True):
    lot: LotId
    amount: int
    """Range and increment are the engine's to judge (it answers with its codes)."""
    req: RequestId


class Command(msgspec.Struct, tag="command", tag_field="type", forbid_unknown_fields=True):
    lot: LotId
    action: Action
    req: RequestId
    seconds: int | None = None
    reason: str | None = None
    amount: int | None = None
    bidder: str | None = None


ClientMessage = Subscribe | Unsubscribe | Bid | Command


class _Req(msgspec.Struct):
    """What is read from a frame that failed to decode, so its error can name its request."""

    req: str | None = None


# ---------------------------------------------------------------------- server → client


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    user: dict[str, object] | None
    now: int


class BidRecord(msgspec.Struct, array_like=False):
    seq: int
    amount: int
    bidder: str
    ts: int


class Snapshot(msgspec.Struct, tag="snapshot", tag_field="type", omit_defaults=True):
    lot: int
    seq: int
    state: str
    mode: str
    start_price: int
    increment: int
    price: int | None
    leader: str | None
    ends_at: int | None
    now: int
    bids: list[BidRecord]
    """The newest bids, oldest first (at most ``hall.engine.lot.RECENT_BIDS``)."""
    bid_count: int
    warned: bool
    bidding_start: int
    window: int
    extension: int
    title: str = ""
    session: str = ""
    outcome: str | UnsetType = UNSET
    winner: str | None | UnsetType = UNSET
    reason: str | UnsetType = UNSET


class EventFrame(msgspec.Struct, tag="event", tag_field="type", omit_defaults=True):
    """One durable event, as its own fields say it: a pure function of the journal's event, so
    the live stream, a resumed one and ``/api/lots/{id}/events`` carry identical objects, and
    the hash chain of each lot's record (hall/record.py) hashes them."""

    lot: int
    seq: int
    kind: str
    ts: int
    price: int | None | UnsetType = UNSET
    bidder: str | None | UnsetType = UNSET
    ends_at: int | None | UnsetType = UNSET
    floor: bool | UnsetType = UNSET
    seconds: int | UnsetType = UNSET
    outcome: str | UnsetType = UNSET
    winner: str | None | UnsetType = UNSET
    reason: str | UnsetType = UNSET


class Ack(msgspec.Struct, tag="ack", tag_field="type", omit_defaults=True):
    req: str
    ok: bool
    lot: int | UnsetType = UNSET
    seq: int | UnsetType = UNSET
    price: int | None | UnsetType = UNSET
    code: str | UnsetType = UNSET
    message: str | UnsetType = UNSET


class Error(msgspec.Struct, tag="error", tag_field="type", omit_defaults=True):
    code: str
    message: str
    req: str | UnsetType = UNSET
    lot: int | UnsetType = UNSET
    """The lot a refused subscribe named (the socket is then not subscribed to it)."""


class LotSummary(msgspec.Struct):
    """A lot in ``GET /api/lots``."""

    id: int
    title: str
    session: str
    state: str
    mode: str
    seq: int
    start_price: int
    increment: int
    price: int | None
    leader: str | None
    bid_count: int
    bidding_start: int
    ends_at: int | None


class EventPage(msgspec.Struct):
    """``GET /api/lots/{id}/events``: events after ``since``; ``next`` is the ``since`` that
    fetches the following page, or null when these reach the lot's durable end."""

    lot: int
    events: list[EventFrame]
    next: int | None


# ---------------------------------------------------------------------- conversions


_KIND: Final[dict[type, str]] = {cls: str(cls.__struct_config__.tag) for cls in get_args(AnyEvent)}


def event_frame(event: AnyEvent) -> EventFrame:
    frame = EventFrame(lot=event.lot, seq=event.seq, kind=_KIND[type(event)], ts=event.ts)
    match event:
        case BidPlaced():
            frame.price, frame.bidder, frame.ends_at = event.amount, event.bidder, event.ends_at
            if event.floor:
                frame.floor = True
        case Opened() | Resumed():
            frame.ends_at = event.ends_at
        case Extended():
            frame.ends_at, frame.seconds = event.ends_at, event.seconds
        case Closed():
            frame.outcome, frame.price, frame.winner = event.outcome.value, event.price, event.winner
        case Withdrawn():
            frame.reason = event.reason
    return frame


def snapshot(view: LotView, now: int, title: str = "", session: str = "") -> Snapshot:
    spec = view.spec
    frame = Snapshot(
        lot=view.id, seq=view.seq, state=view.state.value, mode=spec.mode.value,
        start_price=spec.start_price, increment=spec.increment, price=view.price,
        leader=view.leader, ends_at=view.ends_at, now=now,
        bids=[BidRecord(b.seq, b.amount, b.bidder, b.ts) for b in view.recent],
        bid_count=view.bid_count, warned=view.warned, bidding_start=spec.bidding_start,
        window=spec.window, extension=spec.extension, title=title, session=session,
    )  # fmt: skip
    if view.outcome is not None:
        frame.outcome, frame.winner = view.outcome.value, view.winner
    if view.reason is not None:
        frame.reason = view.reason
    return frame


def summary(view: LotView, title: str, session: str) -> LotSummary:
    spec = view.spec
    return LotSummary(
        id=view.id, title=title, session=session, state=view.state.value, mode=spec.mode.value,
        seq=view.seq, start_price=spec.start_price, increment=spec.increment, price=view.price,
        leader=view.leader, bid_count=view.bid_count, bidding_start=spec.bidding_start,
        ends_at=view.ends_at,
    )  # fmt: skip


def ack(req: str, lot: int, result: Result) -> Ack:
    """The answer to a bid or command, from the engine's result."""
    if isinstance(result, Rejection):
        return Ack(req=req, ok=False, lot=lot, code=result.code.value, message=result.message)
    return Ack(req=req, ok=True, lot=lot, seq=result.seq, price=result.price)


def refusal(req: str, lot: int, code: Wire, message: str) -> Ack:
    return Ack(req=req, ok=False, lot=lot, code=code.value, message=message)


encoder: Final = msgspec.json.Encoder()
client_decoder: Final = msgspec.json.Decoder(ClientMessage)
req_decoder: Final = msgspec.json.Decoder(_Req)


# ---------------------------------------------------------------------- framing


def framed(payload: bytes | str) -> bytes:
    """``payload`` as one unfragmented, unmasked WebSocket text frame (RFC 6455 §5.2).

    Server frames are never masked, so a message's frame is the same bytes for every socket:
    the hub frames each event once and every watcher's queue holds that one object, and a
    socket's sender writes all it has queued with one ``transport.write``."""
    data = payload.encode() if isinstance(payload, str) else payload
    return _header(0x1, len(data), masked=False) + data


def client_framed(payload: bytes, opcode: int = 0x1, mask: bytes = b"\0\0\0\0") -> bytes:
    """A client's frame: masked with ``mask`` (RFC 6455 §5.3), as a server requires. For load
    tools and tests; the all-zero default leaves the payload as it is, which a server must
    accept and which costs it the same."""
    if any(mask):
        n = len(payload)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        payload = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return _header(opcode, len(payload), masked=True) + mask + payload


def _header(opcode: int, n: int, *, masked: bool) -> bytes:
    """A final frame's first bytes: FIN and ``opcode``, the mask bit, the payload length."""
    bit = 0x80 if masked else 0
    if n < 126:
        return bytes((0x80 | opcode, bit | n))
    if n < 65536:
        return bytes((0x80 | opcode, bit | 126)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode, bit | 127)) + n.to_bytes(8, "big")


def unframed(frames: bytes) -> list[bytes]:
    """The payloads of frames made by ``framed`` and joined (for servers without the raw
    writer, such as the test client, which send each payload through ASGI)."""
    payloads = []
    pos = 0
    while pos < len(frames):
        n, pos = frames[pos + 1], pos + 2
        if n >= 126:
            width = 2 if n == 126 else 8
            n, pos = int.from_bytes(frames[pos : pos + width], "big"), pos + width
        payloads.append(frames[pos : pos + n])
        pos += n
    return payloads
