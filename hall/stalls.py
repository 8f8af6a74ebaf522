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
and two ``stat`` calls per commit. Commit timing wraps the store's writer thread from outside
(``_Shim``), so the store's code carries no profiling.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from array import array
from collections.abc import Callable
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
    opened and timed on the writer thread (``open``), closed by the loop (``seen``)."""

    def __init__(self) -> None:
        self.rows: dict[str, array[float]] = {name: array("d") for name in COMMIT_FIELDS}

    def open(self, handed: float, events: int) -> dict[str, float]:
        return {"handed": handed, "events": float(events), "began": 0.0, "inserted": 0.0, "committed": 0.0,
                "checkpoint": 0.0}  # fmt: skip

    def seen(self, row: dict[str, float], at: float) -> None:
        """The loop learnt the commit is done (or failed: a row the thread never timed is dropped)."""
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
    """Times the group commits of ``SqliteStore``'s writer thread (hall/store/writer.py) from
    outside it: ``Writer.hand_over`` (on the loop) notes when each batch was handed over,
    ``Writer._take`` (on the thread) opens a commit's row for the batches it takes, the module's
    ``_write_batch`` gets the connection behind a proxy that times ``COMMIT`` and stats the
    database file around it, and ``Writer._settle`` (back on the loop) closes the row."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def install(self) -> list[Callable[[], None]]:
        from hall.hub import Watcher
        from hall.store import sqlite, writer

        profile, clock, commits = self.profile, self.profile.clock, self.profile.commits
        take, hand_over, take_batches, settle = Watcher.take, writer.Writer.hand_over, writer.Writer._take, writer.Writer._settle
        write_batch = sqlite._write_batch
        handed: dict[int, float] = {}
        """When each batch not yet taken was handed over, by its id."""
        open_rows: dict[int, dict[str, float]] = {}
        """Each transaction's row by its first batch's id, from its taking to its settling."""
        on_thread: dict[str, dict[str, float]] = {}
        """The row of the transaction the writer thread is in (one thread, one at a time)."""
        paths: dict[int, str] = {}
        """The writer connection's database file, looked up once."""

        def timed_take(watcher: Watcher) -> bytes:
            profile.taken(watcher.pending)
            return take(watcher)

        def timed_hand_over(self: writer.Writer, batch: Any) -> None:
            handed[id(batch)] = clock()
            hand_over(self, batch)

        def timed_take_batches(self: writer.Writer) -> list[Any]:
            taken = take_batches(self)
            first = min((handed.pop(id(b), 0.0) for b in taken), default=0.0)
            row = commits.open(first or clock(), sum(len(b.events) for b in taken))
            row["began"] = clock()
            open_rows[id(taken[0])] = on_thread["row"] = row
            return taken

        def timed_write_batch(conn: Any, rows: Any, snaps: Any) -> None:
            row = on_thread.pop("row", None)
            if row is None:
                write_batch(conn, rows, snaps)
                return
            if id(conn) not in paths:
                paths[id(conn)] = str(conn.execute("PRAGMA database_list").fetchone()[2])
            timed: Any = _TimedConnection(conn, row, paths[id(conn)] or None, clock)
            write_batch(timed, rows, snaps)

        def timed_settle(self: writer.Writer, batches: list[Any], failure: Any) -> None:
            row = open_rows.pop(id(batches[0]), None) if batches else None
            settle(self, batches, failure)
            if row is not None:
                commits.seen(row, clock())

        patches: list[tuple[object, str, object, object]] = [
            (Watcher, "take", timed_take, take), (writer.Writer, "hand_over", timed_hand_over, hand_over),
            (writer.Writer, "_take", timed_take_batches, take_batches), (writer.Writer, "_settle", timed_settle, settle),
            (sqlite, "_write_batch", timed_write_batch, write_batch),
        ]  # fmt: skip
        for owner, name, timed, _ in patches:
            setattr(owner, name, timed)

        def undo() -> None:
            for owner, name, _, original in patches:
                setattr(owner, name, original)

        return [undo]


class _TimedConnection:
    """A sqlite3 connection whose ``commit`` is timed and checked for a checkpoint (since the
    writer thread's connection runs with ``wal_autocheckpoint=0``, a change here would mean a
    checkpoint crept back into the commit path)."""

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
