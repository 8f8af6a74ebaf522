"""SIGKILL a bidding process 20 times: every acknowledged bid survives, with no gap, and the
lot's hash chain (hall/record.py) stays whole across the kills and restarts."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hall.engine import AnyEvent, BidPlaced, Lot
from hall.record import Verdict, verify
from hall.store import SqliteStore

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = CHILD.parent.parent
RUNS = 20
MIN_ACKS = 5
MAX_EXTRA_DELAY = 0.3


class Child:
    """One run of crash_child.py, its stdout read line by line on a thread."""

    def __init__(self, db: Path, stderr: Path) -> None:
        self.lines: list[str] = []
        self.acks = threading.Semaphore(0)
        self._stderr = stderr.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(db)],
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


async def read_back(db: Path) -> tuple[list[AnyEvent], Lot, str, Verdict]:
    store = SqliteStore(db)
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


@pytest.mark.slow
def test_every_acknowledged_bid_survives_sigkill_with_no_gap(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    durable = 0
    acked_total = 0
    for run in range(RUNS):
        where = f"run {run} (seed {seed})"
        child = Child(db, tmp_path / f"stderr-{run}.txt")
        try:
            started = child.wait_for_acks(MIN_ACKS, timeout=30)
            if started:
                time.sleep(rng.uniform(0, MAX_EXTRA_DELAY))
            alive = child.proc.poll() is None
        finally:
            child.kill()
        stderr = (tmp_path / f"stderr-{run}.txt").read_text(errors="replace")
        assert started and alive, f"{where}: the child stopped or never bid:\n{stderr}"

        head, *acks_text = child.lines
        assert head.startswith("start "), (where, head)
        if run > 0:  # the restarted child recovered exactly what the last run left durable
            assert int(head.split()[1]) == durable, where
        acks = [int(line) for line in acks_text]
        assert len(acks) >= MIN_ACKS, where

        events, recovered, integrity, verdict = asyncio.run(read_back(db))
        assert integrity == "ok", where
        seqs = [e.seq for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"{where}: a gap in the journal"
        assert verdict.ok and verdict.events == len(seqs), f"{where}: the chain is broken: {verdict}"
        missing = sorted(set(acks) - set(seqs))
        assert missing == [], f"{where}: acknowledged but lost: {missing[:10]}"
        assert min(acks) > durable, f"{where}: seq did not continue from the recovered lot"
        # The snapshot and the events after it rebuild the lot the whole journal describes.
        replayed = Lot(recovered.id, recovered.spec)
        for event in events:
            replayed.apply(event)
        assert recovered.snapshot() == replayed.snapshot(), where
        last = events[-1]
        assert isinstance(last, BidPlaced) and recovered.price == last.amount, where
        durable = len(seqs)
        acked_total += len(acks)
    assert durable >= acked_total  # every run added what it acknowledged, and maybe a little more
