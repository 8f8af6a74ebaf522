"""The writer thread: commits the batches the event loop hands over, back to back, off the loop.

Before, every group commit was a call queued to aiosqlite's thread whose completion came back
through the event loop, and the next batch could start only once a busy loop had run the
journal's task again: under load the commit cycle waited on the loop for milliseconds, and
every ack waits for a commit cycle (docs/performance.md). Here the loop hands each batch over
with one append to a deque and one notify, and goes on; the thread takes everything handed
over since its last commit (up to the batches' ``limit`` of events) into one transaction, commits it, and
wakes the loop ONCE for it, with a callback that settles all of that transaction's batches.
Batches form on the loop while the previous one is on disk, as before, but the disk no longer
waits for the loop in between.

Failure: a commit that raises fails its batches, and every batch handed over after them fails
too, unwritten (their events were made after, and may depend on, the failed ones), until the
loop has been told: the callback that reports the failure also fails the batches still queued
at that moment, and only batches handed over after it are written again. So "a failed commit
fails everything queued behind it" holds although the thread does not wait for the loop.

Turns: other code writes through its own connection (``SqliteStore.transaction``). SQLite
takes one writer at a time, and two connections contending for it would meet in SQLite's busy
handler, which sleeps (1, 2, 5, 10 ms ...) and, against a thread that commits back to back,
may starve. Instead such a transaction takes a turn in this queue: when the thread reaches the
turn it parks until the transaction is over, so the two never contend, and the turn comes in
the order it was asked for, behind the batches handed over before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from hall.engine import AnyEvent, LotState
from hall.store.base import StoreError

log = logging.getLogger(__name__)


class Batch(Protocol):
    """What the thread commits: events (in order, lots mixed) and the newest snapshot per lot."""

    events: list[AnyEvent]
    snapshots: dict[int, LotState]

    @property
    def limit(self) -> int:
        """The most events a transaction holding this batch may have (the journal's
        ``max_batch``): several batches share a transaction only within it."""
        ...

    def settle(self, error: BaseException | None) -> None:
        """On the event loop: durable (``error`` None) or failed, nothing of it written."""
        ...


Commit = Callable[[Sequence[Batch]], None]
"""Writes batches in one durable transaction, on the writer thread; raises if it did not."""


class _Turn:
    """Another connection's write transaction: the thread parks from ``granted`` to ``released``."""

    __slots__ = ("granted", "released")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.granted: asyncio.Future[None] = loop.create_future()
        self.released = threading.Event()


class _Failure:
    """A commit's failure, while batches handed over after it are failed unwritten."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Writer:
    def __init__(self, commit: Commit, *, name: str = "hall-writer") -> None:
        self._commit = commit
        self._name = name
        self._ready = threading.Condition(threading.Lock())
        self._queue: deque[Batch | _Turn] = deque()
        self._failure: _Failure | None = None
        """Set by the thread when a commit fails; cleared on the loop by ``_recover``."""
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopping = False
        self._thread = threading.Thread(target=self._run, args=(loop,), name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Commit what was handed over, then end the thread (blocks until it has)."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    def hand_over(self, batch: Batch) -> None:
        """Queue ``batch`` (on the loop); it is settled on the loop once committed or failed."""
        if not self.running:
            raise StoreError("store is not open")
        with self._ready:
            self._queue.append(batch)
            self._ready.notify()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the thread, between batches, for the duration (see the module's docstring)."""
        if self._loop is None or not self.running:
            raise StoreError("store is not open")
        turn = _Turn(self._loop)
        with self._ready:
            self._queue.append(turn)
            self._ready.notify()
        try:
            await turn.granted  # a cancelled wait leaves ``released`` set below: the thread goes on
            yield
        finally:
            turn.released.set()

    # ------------------------------------------------------------------ the thread

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        queue, ready = self._queue, self._ready
        while True:
            with ready:
                while not queue:
                    if self._stopping:
                        return
                    ready.wait()
                if isinstance(queue[0], _Turn):
                    turn = queue.popleft()
                    assert isinstance(turn, _Turn)
                    taken: list[Batch] = []
                else:
                    turn = None
                    taken = self._take()
                failure = self._failure
            if turn is not None:
                loop.call_soon_threadsafe(_grant, turn.granted)
                turn.released.wait()
                continue
            if failure is None:
                try:
                    self._commit(taken)
                except BaseException as exc:  # noqa: BLE001 - any failure fails the batches, never lost
                    log.error("commit of %d events failed: %s", sum(len(b.events) for b in taken), exc)
                    failure = _Failure(exc)
                    with ready:
                        self._failure = failure
            loop.call_soon_threadsafe(self._settle, taken, failure)

    def _take(self) -> list[Batch]:
        """``take`` of the queue; called holding the lock."""
        return take(self._queue)

    # ------------------------------------------------------------------ back on the loop

    def _settle(self, batches: list[Batch], failure: _Failure | None) -> None:
        """The one callback per transaction: settle its batches; after a failure, fail those
        still queued behind it and let the thread write again."""
        error = None if failure is None else failure.error
        for batch in batches:
            batch.settle(error)
        if failure is not None:
            self._recover(failure)

    def _recover(self, failure: _Failure) -> None:
        with self._ready:
            if self._failure is not failure:
                return  # a batch taken while failed: the failure was already dealt with
            self._failure = None
            behind = [b for b in self._queue if not isinstance(b, _Turn)]
            turns = [t for t in self._queue if isinstance(t, _Turn)]
            self._queue.clear()
            self._queue.extend(turns)
        for batch in behind:
            batch.settle(failure.error)


def merged(batches: Sequence[Batch]) -> tuple[list[AnyEvent], dict[int, LotState]]:
    """The events of batches committed together, in order, and the newest snapshot of each lot."""
    if len(batches) == 1:
        return batches[0].events, batches[0].snapshots
    snapshots: dict[int, LotState] = {}
    for b in batches:
        snapshots.update(b.snapshots)
    return [e for b in batches for e in b.events], snapshots


def take(queue: deque[Batch] | deque[Batch | _Turn]) -> list[Batch]:
    """The batches at the head of ``queue``, up to the next turn and as many events as they
    all allow (at least one batch), taken off it. Shared by the stores' committers (this
    thread, and ``RedisStore``'s task), so that a group commit is cut the same way in both."""
    first = queue.popleft()
    assert not isinstance(first, _Turn)
    taken = [first]
    count, limit = len(first.events), first.limit
    while queue:
        head = queue[0]
        if isinstance(head, _Turn) or count + len(head.events) > min(limit, head.limit):
            break
        queue.popleft()
        taken.append(head)
        count += len(head.events)
        limit = min(limit, head.limit)
    return taken


def _grant(granted: asyncio.Future[None]) -> None:
    if not granted.done():  # not if the transaction stopped waiting for its turn
        granted.set_result(None)


class Checkpointer:
    """WAL checkpoints on a connection and a thread of their own, never inside a commit.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so the
    bids waiting on that commit waited for the checkpoint too (at the default of 1,000 pages it
    cost group commit about a fifth of its rate here). The writers run with
    ``wal_autocheckpoint=0``. This thread looks every ``interval`` seconds at how many rows the
    writer thread has committed (``wrote``): past ``every`` rows since its last checkpoint it
    runs a PASSIVE one, which copies the WAL's pages to the database beside the writers,
    blocking none of them. It bounds the WAL's file: in a round with no rows written it
    checkpoints, and TRUNCATEs the file once all of it is in the database; and when the WAL
    holds more than ``limit`` frames (readers kept a PASSIVE one from finishing) it tries a
    RESTART. Its connection has no busy timeout, so these happen only when no reader or writer
    is in the way, and never keep a writer waiting for them.
    """

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, interval: float = 0.1, every: int = 20_000,
        limit: int = 16_384,
    ) -> None:  # fmt: skip
        self._connect = connect
        self.interval = interval
        self.every = every
        self.limit = limit
        self.written = 0
        """Rows committed by the writer thread (only that thread adds to it)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        self.truncations = 0

    def wrote(self, rows: int) -> None:
        """On the writer thread, after each commit."""
        self.written += rows

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hall-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        db = self._connect()
        db.execute("PRAGMA busy_timeout=0")
        checkpointed = seen = 0
        empty = False
        try:
            while not self._stop.wait(self.interval):
                written = self.written
                try:
                    if written - checkpointed >= self.every:
                        frames = self._checkpoint(db, "PASSIVE")[1]
                        checkpointed = written
                        empty = False
                        if frames > self.limit:
                            self._checkpoint(db, "RESTART")
                    elif written == seen and not empty:
                        # Idle: all of it to the database, then empty the file. (Other writes than
                        # the journal's are not counted: the idle rounds take them.)
                        busy, frames, done = self._checkpoint(db, "PASSIVE")
                        checkpointed = written
                        if not busy and frames == done and self._checkpoint(db, "TRUNCATE")[0] == 0:
                            self.truncations += 1
                            empty = True
                except sqlite3.Error as exc:
                    log.warning("checkpoint failed: %s", exc)
                if written != seen:
                    empty = False
                seen = written
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
        busy, frames, done = db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        self.checkpoints += 1
        return busy, frames, done
