"""Where the event loop stalls, recorded for ``bench/run.py`` (issue 14). Off unless asked.

``HALL_PROFILE_STALLS=<file>`` makes the server record, from its start until it stops:

- **loop lag**: a timer due every millisecond notes how late it fires, and how much CPU time
  the loop's thread used since the last firing; a late timer means the loop was busy that
  long (it ran) or was not running at all (the machine's other processes had the cores);
- **collector pauses**: each collection's start, end and generation (``gc.callbacks``);
- **commits**: for each group commit, when the loop handed it over, when the database thread
  began it, when its inserts were done and ``COMMIT`` began, when ``COMMIT`` (its fsyncs, and
  any WAL checkpoint SQLite ran inside it) returned, whether the main database file changed
  meanwhile (only a checkpoint writes it in WAL mode), and when the loop saw it done;
- **send queue**: each time a socket's sender writes out frames that had to wait in its
  queue because the transport was full (``Watcher.take``), and how many.

Every time is ``time.perf_counter()``, which on Linux is the system's monotonic clock, shared
by every process: the load generator's records line up with the server's without any
translation. The server writes what it recorded to the file (JSON, replacing it atomically)
on SIGUSR1 and when it stops.

Costs, when on: a timer callback a millisecond, a callback per collection, a few clock reads
and two ``stat`` calls per commit. Commit timing wraps today's store from outside
(``_Shim``), so the store's code carries no profiling; a store that commits another way
records through ``Profile.commits`` itself.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

log = logging.getLogger(__name__)

ENV: Final = "HALL_PROFILE_STALLS"
INTERVAL: Final = 0.001
"""The lag probe's period: a millisecond, the resolution of the event loop's timers (libuv)."""

Clock = Callable[[], float]


class LagProbe:
    """A timer re-armed every ``interval`` seconds that records how late each firing is.

    Each sample is (when it fired, seconds late, CPU seconds its thread ran since the firing
    before). The probe measures the loop it runs on, so a stall shows as one late sample as
    long as the stall (the timer cannot fire meanwhile); the CPU time tells a loop busy
    computing from one whose thread was not running (on a shared machine, descheduled)."""

    def __init__(self, interval: float = INTERVAL, clock: Clock = time.perf_counter,
                 cpu: Clock = time.thread_time) -> None:  # fmt: skip
        self.interval = interval
        self.clock = clock
        self.cpu = cpu
        self.at: array[float] = array("d")
        self.lag: array[float] = array("d")
        self.ran: array[float] = array("d")
        self._due = 0.0
        self._ran = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._due = self.clock() + self.interval
        self._ran = self.cpu()
        self._handle = asyncio.get_running_loop().call_later(self.interval, self.fire)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def fire(self) -> None:
        now, ran = self.clock(), self.cpu()
        self.record(now, now - self._due, ran - self._ran)
        self._due, self._ran = now + self.interval, ran
        if self._handle is not None:
            self._handle = asyncio.get_running_loop().call_later(self.interval, self.fire)

    def record(self, at: float, late: float, ran: float) -> None:
        """One sample; early firings (the loop's clock is coarser than ours) count as on time."""
        self.at.append(at)
        self.lag.append(max(0.0, late))
        self.ran.append(ran)


class GcTimer:
    """Each collection's (start, end, generation), through ``gc.callbacks``."""

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self.clock = clock
        self.start: array[float] = array("d")
        self.end: array[float] = array("d")
        self.generation: array[int] = array("b")
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = self.clock()
        else:
            self.start.append(self._began)
            self.end.append(self.clock())
            self.generation.append(info["generation"])

    def install(self) -> None:
        gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


COMMIT_FIELDS: Final = ("handed", "began", "inserted", "committed", "seen", "events", "checkpoint")


class CommitLog:
    """One row per group commit; see the module's docstring for the fields. A commit is
    opened by the loop (``open``), timed on the database thread, closed by the loop (``seen``).
    Commits are one at a time (the journal awaits each), so the open one is ``current``."""

    def __init__(self) -> None:
        self.rows: dict[str, array[float]] = {name: array("d") for name in COMMIT_FIELDS}
        self.current: dict[str, float] | None = None

    def open(self, handed: float, events: int) -> dict[str, float]:
        self.current = {"handed": handed, "events": float(events), "began": 0.0, "inserted": 0.0,
                        "committed": 0.0, "checkpoint": 0.0}  # fmt: skip
        return self.current

    def seen(self, row: dict[str, float], at: float) -> None:
        """The loop learnt the commit is done (or failed: a row the thread never timed is dropped)."""
        if self.current is row:
            self.current = None
        if row["committed"]:
            row["seen"] = at
            for name in COMMIT_FIELDS:
                self.rows[name].append(row[name])


class Profile:
    """What one server process records; ``dump`` writes it as JSON."""

    def __init__(self, path: str, clock: Clock = time.perf_counter) -> None:
        self.path = path
        self.clock = clock
        self.lag = LagProbe(clock=clock)
        self.gc = GcTimer(clock)
        self.commits = CommitLog()
        self.taken_at: array[float] = array("d")
        self.taken_frames: array[int] = array("l")
        self._undo: list[Callable[[], None]] = []

    def start(self) -> None:
        self.lag.start()
        self.gc.install()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self.dump)

        def forget_signal() -> None:
            loop.remove_signal_handler(signal.SIGUSR1)

        self._undo.append(forget_signal)
        self._undo.extend(_Shim(self).install())

    def stop(self) -> None:
        self.lag.stop()
        self.gc.remove()
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        self.dump()

    def taken(self, frames: int) -> None:
        self.taken_at.append(self.clock())
        self.taken_frames.append(frames)

    def data(self) -> dict[str, Any]:
        return {
            "lag": {"at": list(self.lag.at), "lag": list(self.lag.lag), "ran": list(self.lag.ran)},
            "gc": {"start": list(self.gc.start), "end": list(self.gc.end), "generation": list(self.gc.generation)},
            "commits": {name: list(values) for name, values in self.commits.rows.items()},
            "send_queue": {"at": list(self.taken_at), "frames": list(self.taken_frames)},
        }

    def dump(self) -> None:
        """Write everything recorded so far to ``path`` (a reader never sees half a file)."""
        partial = f"{self.path}.partial"
        Path(partial).write_bytes(msgspec.json.encode(self.data()))
        os.replace(partial, self.path)
        log.info("stall profile written to %s", self.path)


class _Shim:
    """Times the group commit of today's ``SqliteStore`` from outside it: wraps its ``write``
    (in the loop) and its ``_write_batch`` (on the database thread), whose connection is
    handed over behind a proxy that times ``COMMIT`` and stats the database file around it."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def install(self) -> list[Callable[[], None]]:
        from hall.hub import Watcher
        from hall.store import sqlite

        profile, clock, commits = self.profile, self.profile.clock, self.profile.commits
        take = Watcher.take

        def timed_take(watcher: Watcher) -> bytes:
            profile.taken(watcher.pending)
            return take(watcher)

        patches: list[tuple[object, str, object, object]] = [(Watcher, "take", timed_take, take)]
        write_batch: Callable[[Any, Any, Any], None] | None = getattr(sqlite, "_write_batch", None)
        if write_batch is not None:  # a store that commits another way records into Profile.commits itself
            batch = write_batch
            write = sqlite.SqliteStore.write
            paths: dict[int, str] = {}

            async def timed_write(store: sqlite.SqliteStore, events: Sequence[Any], snapshots: Sequence[Any]) -> None:
                row = commits.open(clock(), len(events))
                paths[id(row)] = store.path
                try:
                    await write(store, events, snapshots)
                finally:
                    paths.pop(id(row), None)
                    commits.seen(row, clock())

            def timed_batch(db: Any, rows: Any, snaps: Any) -> None:
                row = commits.current
                if row is None:
                    batch(db, rows, snaps)
                    return
                row["began"] = clock()
                proxy: Any = _Db(_TimedConnection(db._conn, row, paths.get(id(row)), clock))
                batch(proxy, rows, snaps)

            patches += [(sqlite.SqliteStore, "write", timed_write, write), (sqlite, "_write_batch", timed_batch, batch)]
        for owner, name, timed, _ in patches:
            setattr(owner, name, timed)

        def undo() -> None:
            for owner, name, _, original in patches:
                setattr(owner, name, original)

        return [undo]


class _Db:
    """Stands for the aiosqlite connection inside ``_write_batch``, which reads only ``_conn``."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn


class _TimedConnection:
    """A sqlite3 connection whose ``commit`` is timed and checked for a checkpoint."""

    def __init__(self, conn: Any, row: dict[str, float], path: str | None, clock: Clock) -> None:
        self._real = conn
        self._row = row
        self._path = path
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def commit(self) -> None:
        row, path = self._row, self._path
        before = _file_state(path)
        row["inserted"] = self._clock()
        self._real.commit()
        row["committed"] = self._clock()
        row["checkpoint"] = float(before != _file_state(path))


def _file_state(path: str | None) -> tuple[int, int] | None:
    """The main database file's (mtime, size): in WAL mode only a checkpoint changes them."""
    if path is None or path == ":memory:":
        return None
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def from_env() -> Profile | None:
    """A started ``Profile`` when ``HALL_PROFILE_STALLS`` names a file, else None (no cost)."""
    path = os.environ.get(ENV)
    if not path:
        return None
    profile = Profile(path)
    profile.start()
    log.info("profiling stalls into %s", path)
    return profile
