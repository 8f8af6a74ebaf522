"""SIGKILL between the close and the deal: a sold lot still ends with exactly one deal.

The deal is derived from the journal's ``closed`` event (hall/deals.py): a runtime listener
derives it once the close is durable, and the next start derives the deals the listener never
wrote. tests/deal_crash_child.py sells lots through the real store and runtime and is killed,
once exactly in that window (from a listener, right after the first close is durable), and then
at random moments of many runs; after each, a start must leave every sold lot with one deal.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hall.deals import Deals
from hall.engine import Outcome, State
from hall.runtime import Runtime
from hall.store import SqliteStore

CHILD = Path(__file__).with_name("deal_crash_child.py")
ROOT = CHILD.parent.parent
RUNS = 8
MAX_DELAY = 1.5


def _child(db: Path, stderr: Path, **env: str) -> subprocess.Popen[bytes]:
    with stderr.open("wb") as errors:  # the child has its own copy of the descriptor
        return subprocess.Popen([sys.executable, str(CHILD), str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=errors, env={**os.environ, "PYTHONPATH": str(ROOT), **env})  # fmt: skip


async def _deals_by_lot(db: Path, *, start: bool) -> tuple[dict[int, int], set[int]]:
    """(deals per lot, the lots closed sold) in the store; with ``start``, after a start of the
    runtime and the deals' service, as the server's start does."""
    store = SqliteStore(db)
    await store.open()
    runtime = Runtime(store)
    try:
        await runtime.start()
        if start:
            deals = Deals(store, runtime)
            await deals.start(remind_every=None)
            await deals.stop()
        sold = {lot for lot, view in runtime.views.items()
                if view.state is State.CLOSED and view.outcome is Outcome.SOLD}  # fmt: skip
        rows = await store.fetchall("SELECT lot, count(*) FROM deals GROUP BY lot")
        return {int(r[0]): int(r[1]) for r in rows}, sold
    finally:
        await runtime.stop()
        await store.close()


@pytest.mark.slow
def test_a_kill_right_after_the_close_is_durable_still_ends_with_one_deal(tmp_path: Path) -> None:
    db = tmp_path / "deals.db"
    child = _child(db, tmp_path / "stderr.txt", HALL_KILL_AFTER_CLOSE="1")
    assert child.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()
    assert child.stdout is not None
    child.stdout.close()
    deals, sold = asyncio.run(_deals_by_lot(db, start=False))
    assert len(sold) == 1 and deals == {}  # killed in the window: the close durable, no deal written
    deals, sold = asyncio.run(_deals_by_lot(db, start=True))
    assert deals == {lot: 1 for lot in sold} and len(sold) == 1
    deals, _ = asyncio.run(_deals_by_lot(db, start=True))  # a second start changes nothing
    assert deals == {lot: 1 for lot in sold}


@pytest.mark.slow
def test_kills_at_random_moments_leave_every_sold_lot_exactly_one_deal(tmp_path: Path) -> None:
    db = tmp_path / "deals.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    closed_total = 0
    for run in range(RUNS):
        where = f"run {run} (seed {seed})"
        stderr = tmp_path / f"stderr-{run}.txt"
        child = _child(db, stderr)
        assert child.stdout is not None
        first = child.stdout.readline()  # the first close acknowledged: the child is selling
        time.sleep(rng.uniform(0, MAX_DELAY))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        acknowledged = [first, *child.stdout.read().splitlines(keepends=True)]
        child.stdout.close()
        assert first.startswith(b"closed "), f"{where}: {stderr.read_text(errors='replace')}"
        deals, sold = asyncio.run(_deals_by_lot(db, start=False))
        assert all(count == 1 for count in deals.values()), where  # never two, even before a start
        closed = {int(line.split()[1]) for line in acknowledged if line.endswith(b"\n")}
        assert closed <= sold, where  # every acknowledged hammer is durable
        closed_total += len(closed)
        deals, sold = asyncio.run(_deals_by_lot(db, start=True))
        assert deals == {lot: 1 for lot in sold}, where
    assert closed_total >= RUNS
