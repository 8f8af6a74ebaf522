"""SIGKILL a bidding process 20 times: every acknowledged bid survives, with no gap, and the
lot's hash chain (hall/record.py) stays whole across the kills and restarts. On both stores;
on Redis, SIGKILL redis-server itself too, in the middle of the bidding."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rediskit import RedisServer, redis_server

from hall.engine import AnyEvent, BidPlaced, Lot
from hall.record import Verdict, verify
from hall.store import open_store

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = CHILD.parent.parent
RUNS = 20
MIN_ACKS = 5
MAX_EXTRA_DELAY = 0.3


class Child:
    """One run of crash_child.py, its stdout read line by line on a thread."""

    def __init__(self, db: Path, stderr: Path, url: str = "") -> None:
        self.lines: list[str] = []
        self.acks = threading.Semaphore(0)
        self._stderr = stderr.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(db), url],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode()
            if not line.endswith("\n"):
                break  # cut off by the kill: not a complete acknowledgement
            self.lines.append(line.rstrip("\n"))
            if not line.startswith("start"):
                self.acks.release()

    def wait_for_acks(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(n):
            if not self.acks.acquire(timeout=max(deadline - time.monotonic(), 0)):
                return False
        return True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()


async def read_back(db: Path, url: str) -> tuple[list[AnyEvent], Lot, str, Verdict]:
    store = open_store(str(db), url)
    await store.open()
    try:
        async with store.reader.execute("PRAGMA integrity_check") as cur:
            rows = await cur.fetchall()
        integrity = "\n".join(str(row[0]) for row in rows)
        ids = [s.id async for s in store.lots()]
        assert len(ids) == 1, ids
        events = await store.events_since(ids[0], 0)
        stored = await store.lot(ids[0])
        assert stored is not None
        recovered = Lot.restore(stored.snapshot) if stored.snapshot else Lot(stored.id, stored.spec)
        for event in stored.events:
            recovered.apply(event)
        return events, recovered, integrity, await verify(store, ids[0])
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's URL: none (SQLite alone), or a Redis of the test's own."""
    if request.param == "sqlite":
        yield ""
        return
    with redis_server(tmp_path / "redis") as server:
        yield server.url


class Runs:
    """What the runs so far left durable, and the checks after each kill."""

    def __init__(self, db: Path, url: str, seed: int) -> None:
        self.db = db
        self.url = url
        self.seed = seed
        self.durable = 0
        self.acked_total = 0

    def check(self, run: int, child: Child, stderr: Path, started: bool, alive: bool) -> None:
        where = f"run {run} (seed {self.seed})"
        assert started and alive, f"{where}: the child stopped or never bid:\n{stderr.read_text(errors='replace')}"
        head, *acks_text = child.lines
        assert head.startswith("start "), (where, head)
        if run > 0:  # the restarted child recovered exactly what the last run left durable
            assert int(head.split()[1]) == self.durable, where
        acks = [int(line) for line in acks_text]
        assert len(acks) >= MIN_ACKS, where

        events, recovered, integrity, verdict = asyncio.run(read_back(self.db, self.url))
        assert integrity == "ok", where
        seqs = [e.seq for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"{where}: a gap in the journal"
        assert verdict.ok and verdict.events == len(seqs), f"{where}: the chain is broken: {verdict}"
        missing = sorted(set(acks) - set(seqs))
        assert missing == [], f"{where}: acknowledged but lost: {missing[:10]}"
        assert min(acks) > self.durable, f"{where}: seq did not continue from the recovered lot"
        # The snapshot and the events after it rebuild the lot the whole journal describes.
        replayed = Lot(recovered.id, recovered.spec)
        for event in events:
            replayed.apply(event)
        assert recovered.snapshot() == replayed.snapshot(), where
        last = events[-1]
        assert isinstance(last, BidPlaced) and recovered.price == last.amount, where
        self.durable = len(seqs)
        self.acked_total += len(acks)


@pytest.mark.slow
def test_every_acknowledged_bid_survives_sigkill_with_no_gap(tmp_path: Path, url: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    runs = Runs(tmp_path / "crash.db", url, seed)
    for run in range(RUNS):
        stderr = tmp_path / f"stderr-{run}.txt"
        child = Child(runs.db, stderr, url)
        try:
            started = child.wait_for_acks(MIN_ACKS, timeout=30)
            if started:
                time.sleep(rng.uniform(0, MAX_EXTRA_DELAY))
            alive = child.proc.poll() is None
        finally:
            child.kill()
        runs.check(run, child, stderr, started, alive)
    assert runs.durable >= runs.acked_total  # every run added what it acknowledged, and maybe a little more


REDIS_RUNS = 6


@pytest.mark.slow
@pytest.mark.redis
def test_every_acknowledged_bid_survives_a_sigkill_of_redis_in_the_middle_of_bidding(tmp_path: Path) -> None:
    """Redis is SIGKILLed while the hall bids, and started again on its append-only file; the
    hall's lot reloads and bids on; then the hall is killed and restarted too. Every bid it
    acknowledged, before Redis died and after it came back, is stored, with no gap."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    with redis_server(tmp_path / "redis") as server:
        runs = Runs(tmp_path / "crash.db", server.url, seed)
        for run in range(REDIS_RUNS):
            stderr = tmp_path / f"stderr-{run}.txt"
            child = Child(runs.db, stderr, server.url)
            try:
                started = child.wait_for_acks(MIN_ACKS, timeout=30)
                if started:
                    time.sleep(rng.uniform(0, MAX_EXTRA_DELAY))
                    _restart(server)
                    while child.acks.acquire(blocking=False):
                        pass  # acknowledged before the restart
                    # Bidding goes on once the lot has reloaded from the restarted Redis.
                    started = child.wait_for_acks(MIN_ACKS, timeout=30)
                alive = child.proc.poll() is None
            finally:
                child.kill()
            runs.check(run, child, stderr, started, alive)


def _restart(server: RedisServer) -> None:
    server.kill()
    server.start()
