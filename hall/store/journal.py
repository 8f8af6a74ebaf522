"""Group commit: one writer task turns a stream of appends into few, large transactions.

While one batch is being committed, new events collect in the next one (up to ``max_batch``
events, then a further one), so under load the cost of a durable commit is shared by every
event that arrived during the previous commit, and with no load an event waits for no one.
Every append returns its batch's future, which resolves only after the batch is durable.

A commit that fails fails its batch and every batch queued behind it (their events may
depend on the failed ones), and reports the lots involved, so that the caller can throw away
their in-memory state and reload them from what is durable.
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
    __slots__ = ("events", "snapshots", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events: list[AnyEvent] = []
        self.snapshots: dict[int, LotState] = {}
        self.future: asyncio.Future[None] = loop.create_future()


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
        self._queue: deque[_Batch] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="journal")

    def append(self, events: Sequence[AnyEvent], snapshot: LotState | None = None) -> asyncio.Future[None]:
        """Queue events (and a snapshot taken after them); the future resolves once durable."""
        if self._task is None or self._closing:
            raise StoreError("journal is not running")
        queue = self._queue
        if not queue or len(queue[-1].events) >= self.max_batch:
            queue.append(_Batch(asyncio.get_running_loop()))
            # Only a new batch can find the writer waiting (it waits only on an empty queue),
            # so the appends that join a batch skip this call: one a bid, on the hot path.
            self._wake.set()
        batch = queue[-1]
        batch.events.extend(events)
        if snapshot is not None:
            batch.snapshots[snapshot.id] = snapshot
        return batch.future

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # Off the queue before the commit starts, so that appends made while it is being
            # written start the next batch instead of joining this one.
            batch = queue.popleft()
            try:
                await self.store.write(batch.events, list(batch.snapshots.values()))
            except Exception as exc:  # noqa: BLE001 - any failure must fail the batch, never be lost
                self._fail(batch, exc)
                continue
            batch.future.set_result(None)
            if self.on_commit is not None:
                self.on_commit(batch.events)

    def _fail(self, batch: _Batch, exc: Exception) -> None:
        log.error("commit of %d events failed: %s", len(batch.events), exc)
        failed = [batch, *self._queue]
        self._queue.clear()
        lots: set[int] = set()
        error = exc if isinstance(exc, StoreError) else StoreError(str(exc))
        for b in failed:
            lots.update(e.lot for e in b.events)
            lots.update(b.snapshots)
            b.future.set_exception(error)
            b.future.exception()  # retrieved: a batch nobody awaited must not log a warning
        if self.on_failure is not None:
            self.on_failure(lots, exc)
