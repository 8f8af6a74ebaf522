"""Group commit: appends collect in batches that the store's writer thread commits back to back.

While one batch is being committed, new events collect in the next one (up to ``max_batch``
events, then a further one), so under load the cost of a durable commit is shared by every
event that arrived during the previous commit, and with no load an event waits for no one.
Every append returns its batch's future, which resolves only after the batch is durable.

A batch is handed to the store (``Store.hand_over``) at the end of the event loop's turn in
which it was opened, or as soon as it is full: the loop never waits for a commit, and the
store's writer takes whatever was handed over when its previous commit ends (hall/store/
writer.py). The store settles each batch on the loop once it is durable; in that same call the
batch's future resolves, the listeners (``on_commit``) get its events, and then whoever asked
with ``then`` (the sockets' acks), so acks go out in the loop turn that learns of the commit.

A commit that fails fails its batch and every batch handed over or opened behind it (their
events may depend on the failed ones), and reports the lots involved, so that the caller can
throw away their in-memory state and reload them from what is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from hall.engine import AnyEvent, LotState
from hall.store.base import Store, StoreError

log = logging.getLogger(__name__)

Committed = Callable[[Sequence[AnyEvent]], None]
"""Told each durable batch's events, batch after batch, in order."""
Failed = Callable[[set[int], BaseException], None]


class _Batch:
    __slots__ = ("journal", "events", "snapshots", "future", "after")

    def __init__(self, journal: Journal, loop: asyncio.AbstractEventLoop) -> None:
        self.journal = journal
        self.events: list[AnyEvent] = []
        self.snapshots: dict[int, LotState] = {}
        self.future: asyncio.Future[None] = loop.create_future()
        self.after: list[Callable[[asyncio.Future[None]], None]] = []

    @property
    def limit(self) -> int:
        return self.journal.max_batch

    def settle(self, error: BaseException | None) -> None:
        self.journal._settled(self, error)


class Journal:
    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 4096,
        on_commit: Committed | None = None,
        on_failure: Failed | None = None,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.on_failure = on_failure
        self._open: _Batch | None = None
        """The batch appends go to, until it is handed over."""
        self._inflight: deque[_Batch] = deque()
        """Batches handed over and not yet settled, in the order handed over."""
        self._sealing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drained: asyncio.Future[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def append(self, events: Sequence[AnyEvent], snapshot: LotState | None = None) -> asyncio.Future[None]:
        """Queue events (and a snapshot taken after them); the future resolves once durable."""
        loop = self._loop
        if loop is None or self._closing:
            raise StoreError("journal is not running")
        batch = self._open
        if batch is None or len(batch.events) >= self.max_batch:
            if batch is not None:
                self._hand_over()
            batch = self._open = _Batch(self, loop)
            if not self._sealing:
                self._sealing = True
                loop.call_soon(self._seal)
        batch.events.extend(events)
        if snapshot is not None:
            batch.snapshots[snapshot.id] = snapshot
        return batch.future

    def then(self, future: asyncio.Future[None], callback: Callable[[asyncio.Future[None]], None]) -> None:
        """Call ``callback(future)`` (an append's future) in the call that settles its batch,
        right after the listeners, instead of in a later loop turn as a done-callback runs."""
        batch = self._open
        if batch is None or batch.future is not future:
            batch = next((b for b in reversed(self._inflight) if b.future is future), None)
        if batch is None:  # settled already (or not this journal's): as a done-callback
            future.add_done_callback(callback)
        else:
            batch.after.append(callback)

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        if self._loop is None:
            return
        self._seal()
        if self._inflight:
            self._drained = self._loop.create_future()
            await self._drained
        self._loop = None

    def _seal(self) -> None:
        """End of the loop turn in which the open batch was opened: hand it over."""
        self._sealing = False
        if self._open is not None:
            self._hand_over()

    def _hand_over(self) -> None:
        batch = self._open
        assert batch is not None
        self._open = None
        self._inflight.append(batch)
        try:
            self.store.hand_over(batch)
        except Exception as exc:  # noqa: BLE001 - the store is closed: the batch fails, never lost
            self._fail(exc)

    def _settled(self, batch: _Batch, error: BaseException | None) -> None:
        if batch.future.done():
            return  # failed already, with the batch before it
        if error is not None:
            self._fail(error)
            return
        assert self._inflight[0] is batch, "the store settles batches in the order handed over"
        self._inflight.popleft()
        batch.future.set_result(None)
        if self.on_commit is not None:
            self.on_commit(batch.events)
        for callback in batch.after:
            callback(batch.future)
        self._check_drained()

    def _fail(self, exc: BaseException) -> None:
        failed = list(self._inflight)
        self._inflight.clear()
        if self._open is not None:
            failed.append(self._open)
            self._open = None
        log.error("commit failed (%d batches, %d events fail with it): %s",
                  len(failed), sum(len(b.events) for b in failed), exc)  # fmt: skip
        lots: set[int] = set()
        error = exc if isinstance(exc, StoreError) else StoreError(str(exc))
        for b in failed:
            lots.update(e.lot for e in b.events)
            lots.update(b.snapshots)
            b.future.set_exception(error)
            b.future.exception()  # retrieved: a batch nobody awaited must not log a warning
        if self.on_failure is not None:
            self.on_failure(lots, exc)
        for b in failed:
            for callback in b.after:
                callback(b.future)
        self._check_drained()

    def _check_drained(self) -> None:
        if self._drained is not None and not self._inflight and not self._drained.done():
            self._drained.set_result(None)
