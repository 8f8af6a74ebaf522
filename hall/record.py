"""A lot's record anyone can check: its events in a SHA-256 hash chain.

Digest 0 is 32 zero bytes; digest n is SHA-256 of digest n-1 followed by event n's canonical
JSON, which is the event exactly as ``GET /api/lots/{id}/events`` serves it (``event_frame``)
with its keys sorted, no spaces, UTF-8. So anyone holding the events of the public API can
recompute every digest with a stock JSON library (Python:
``json.dumps(frame, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, which writes
the same bytes as msgspec's sorted encoder used here for speed: tests/test_record.py pins it),
and a lot's final digest, printed on its notice and certificate, fixes all of its history: a
changed, inserted or removed event changes every digest after it.

The store computes each digest as it journals the event and keeps it beside the event
(docs/durability.md); ``verify`` recomputes a lot's chain from what is stored.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

import msgspec

from hall.engine import AnyEvent
from hall.engine.events import decode
from hall.protocol import EventFrame, event_frame

if TYPE_CHECKING:
    from hall.store.base import Store

GENESIS: Final = bytes(32)
"""Digest 0, before a lot's first event."""
VERIFY_PAGE: Final = 10_000
"""Events ``verify`` reads at a time, so that checking a long lot holds little in memory."""

_canonical: Final = msgspec.json.Encoder(order="sorted")
_empty: Final = hashlib.sha256()
"""Copied for each link: a copy skips OpenSSL's look-up of the algorithm that constructing a
hash object does each time (0.37 µs a link against 0.50 µs here, on the journal's hot path)."""


def canonical(event: AnyEvent) -> bytes:
    """The bytes the chain hashes for ``event``: its public frame, keys sorted, compact, UTF-8."""
    return _canonical.encode(event_frame(event))


def link(previous: bytes, event: AnyEvent) -> bytes:
    """The digest after ``event``, given the digest before it."""
    hasher = _empty.copy()
    hasher.update(previous + _canonical.encode(event_frame(event)))
    return hasher.digest()


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
        for seq, body, stored in rows:
            checked = expected - 1
            if seq != expected:
                return Verdict(lot=lot, ok=False, events=checked, seq=expected, problem="missing")
            try:
                event = decode(body)
            except msgspec.DecodeError:
                event = None
            if event is None or event.lot != lot or event.seq != seq:
                return Verdict(lot=lot, ok=False, events=checked, seq=seq, problem="unreadable")
            digest = link(digest, event)
            if stored != digest:
                return Verdict(lot=lot, ok=False, events=checked, seq=seq, problem="digest")
            expected += 1
        if len(rows) < VERIFY_PAGE:
            return Verdict(lot=lot, ok=True, events=expected - 1, digest=digest.hex())
