"""What the hall needs from a store, whichever database is behind it.

``write`` and ``hand_over`` are the only ways events reach the store, and their contract is the
hall's durability promise: when ``write`` returns (a batch handed over is settled without
error), every event and snapshot it was given survives a crash; when it raises (is settled
with an error), none of them was written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol

import msgspec

from hall.engine import AnyEvent, LotSpec, LotState, Registrant
from hall.listing import LotDetails

if TYPE_CHECKING:
    from hall.store.writer import Batch


class StoreError(Exception):
    """The store could not do what was asked; nothing of that call was written."""


class StoredLot(msgspec.Struct, kw_only=True):
    """A lot as recovery finds it: the newest snapshot, the events after it, its bidders."""

    id: int
    spec: LotSpec
    title: str
    snapshot: LotState | None
    events: list[AnyEvent]
    bidders: list[tuple[int, Registrant]]
    session: str = ""
    """The industry special session the lot is shown in (AU-1)."""
    details: LotDetails = msgspec.field(default_factory=LotDetails)


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create_lot(
        self, spec: LotSpec, title: str, session: str = "", details: LotDetails | None = None
    ) -> int: ...

    async def add_bidder(self, lot: int, user: int, org: int | None) -> Registrant:
        """Give ``user`` the lot's next bidder number, or return the one it already has."""
        ...

    async def add_bidders(self, admissions: Sequence[tuple[int, int, int | None]]) -> list[Registrant]:
        """``add_bidder`` for each ``(lot, user, org)`` in order, in one transaction: the same
        numbers, without a commit (and its fsync) per admission."""
        ...

    async def write(self, events: Sequence[AnyEvent], snapshots: Sequence[LotState]) -> None:
        """Append events and replace snapshots in one durable transaction."""
        ...

    def hand_over(self, batch: Batch) -> None:
        """``write`` for the journal, without waiting: queue the batch for the store's writer,
        which commits batches in the order handed over (several may share a transaction) and
        calls each one's ``settle`` on the event loop once it is durable, or failed; once one
        fails, so does every batch handed over before the loop has been told
        (hall/store/writer.py)."""
        ...

    def lots(self) -> AsyncIterator[StoredLot]: ...

    async def lot(self, lot: int) -> StoredLot | None: ...

    async def events_since(self, lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        """The lot's events after ``seq`` in order, at most ``limit`` of them (-1: all)."""
        ...

    async def events_at(self, keys: Sequence[tuple[int, int]]) -> list[AnyEvent]:
        """The stored events of these (lot, seq) pairs, in no particular order; a pair with no
        event is left out. Point look-ups (the figures' end times of lots), never a scan."""
        ...

    async def chain(self, lot: int, seq: int, limit: int = -1) -> list[tuple[int, bytes, bytes]]:
        """The lot's stored events from ``seq`` on (``seq`` itself included), in order, at most
        ``limit`` of them, as they are stored: (seq, msgpack body, digest after it), undecoded,
        so that a body that no longer decodes is named by ``hall.record.verify``, not raised."""
        ...

    async def head(self, lot: int) -> tuple[int, bytes]:
        """The lot's last stored seq and the digest after it (0 and ``hall.record.GENESIS``
        before its first event). A lot that is over keeps this for ever: its final digest,
        which its notice and certificate print."""
        ...
