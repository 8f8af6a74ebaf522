"""The writer thread (hall/store/writer.py) and the SQLite store on it: order, failure, one
wake of the loop per transaction, turns for other transactions, checkpoints off the commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from hall.engine import AnyEvent, BidPlaced, LotSpec, LotState
from hall.store import Journal, SqliteStore, StoreError
from hall.store.writer import Batch, Writer

pytestmark = pytest.mark.anyio

SPEC = LotSpec(seller_org=9, start_price=1_000, increment=100, publicity_start=0, bidding_start=1, end=10**13)


def ev(lot: int, seq: int) -> BidPlaced:
    return BidPlaced(lot=lot, seq=seq, ts=seq, actor=7, req=f"r{lot}-{seq}",
                     amount=1_000 + 100 * seq, bidder="0001", user=7, ends_at=10**13)  # fmt: skip


class Item:
    """A batch that records how it was settled."""

    def __init__(self, name: str, events: int = 1, limit: int = 4) -> None:
        self.name = name
        self.limit = limit
        self.events: list[AnyEvent] = [ev(1, i + 1) for i in range(events)]
        self.snapshots: dict[int, LotState] = {}
        self.settled: list[BaseException | None] = []

    def settle(self, error: BaseException | None) -> None:
        self.settled.append(error)


class Thread:
    """A writer over a commit the test holds (``gate``) and fails (``failures``); records the
    batches of each transaction, on the thread, and each wake of the loop."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.transactions: list[list[str]] = []
        self.failures: list[BaseException] = []
        self.writer = Writer(self.commit)
        self.wakes = 0

    def commit(self, batches: Sequence[Batch]) -> None:
        self.entered.set()
        self.gate.wait()
        self.entered.clear()
        if self.failures:
            raise self.failures.pop(0)
        self.transactions.append([b.name for b in batches if isinstance(b, Item)])

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writer.start(Counting(loop, self))  # type: ignore[arg-type]


class Counting:
    """The loop as the writer sees it, counting the times the thread wakes it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: Thread) -> None:
        self.loop = loop
        self.thread = thread

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: object) -> asyncio.Handle:
        self.thread.wakes += 1
        return self.loop.call_soon_threadsafe(callback, *args)

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()


@pytest.fixture
async def thread() -> AsyncIterator[Thread]:
    t = Thread()
    t.start(asyncio.get_running_loop())
    try:
        yield t
    finally:
        t.gate.set()
        await asyncio.to_thread(t.writer.stop)


async def settled(*items: Item) -> None:
    async def poll() -> None:
        while not all(item.settled for item in items):
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), 2)


async def held(thread: Thread, item: Item) -> None:
    """Hand ``item`` over and return once its commit is in flight and held."""
    thread.gate.clear()
    thread.writer.hand_over(item)
    assert await asyncio.to_thread(thread.entered.wait, 2)


# ---------------------------------------------------------------------- order and wakes


async def test_batches_handed_over_during_a_commit_share_the_next_in_order_up_to_their_limit(
    thread: Thread,
) -> None:
    first = Item("a")
    await held(thread, first)
    later = [Item("b", 2), Item("c", 1), Item("d", 1), Item("e", 3), Item("f", 1)]
    for item in later:
        thread.writer.hand_over(item)
    thread.gate.set()
    await settled(first, *later)
    # Each allows 4 events a transaction: b+c+d fill one, e+f the next; each settled once, durable.
    assert thread.transactions == [["a"], ["b", "c", "d"], ["e", "f"]]
    assert all(item.settled == [None] for item in (first, *later))


async def test_the_loop_is_woken_once_per_transaction(thread: Thread) -> None:
    first = Item("a")
    await held(thread, first)
    order: list[str] = []
    later = [Item(name) for name in "bcd"]
    for item in later:
        item.settle = lambda error, name=item.name: order.append(name)  # type: ignore[method-assign]
        thread.writer.hand_over(item)
    wakes = thread.wakes
    thread.gate.set()

    async def poll() -> None:
        while len(order) < 3:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), 2)
    await settled(first)
    assert thread.transactions == [["a"], ["b", "c", "d"]]
    assert order == ["b", "c", "d"]
    assert thread.wakes - wakes == 2  # one for a's transaction, one for b, c and d's


# ---------------------------------------------------------------------- failure


async def test_a_failed_commit_fails_every_batch_handed_over_before_the_loop_knew(thread: Thread) -> None:
    failing = Item("a")
    await held(thread, failing)
    behind = [Item("b", 4), Item("c", 4)]  # two transactions' worth: the second is taken failed
    for item in behind:
        thread.writer.hand_over(item)
    error = OSError(5, "Input/output error")
    thread.failures.append(error)
    thread.gate.set()
    await settled(failing, *behind)
    assert [item.settled for item in (failing, *behind)] == [[error]] * 3  # each told once, the error itself
    assert thread.transactions == []  # nothing behind the failure was written
    after = Item("d")
    thread.writer.hand_over(after)  # the loop knows now: the thread writes again
    await settled(after)
    assert after.settled == [None]
    assert thread.transactions == [["d"]]


async def test_batches_the_thread_took_while_failed_are_failed_even_after_it_writes_again(thread: Thread) -> None:
    # The thread fails a, then takes b (handed over before the loop heard of a) and fails it
    # too, while the loop, told of a, lets it write again: c, handed over after that, is written.
    failing = Item("a")
    await held(thread, failing)
    b = Item("b")
    thread.writer.hand_over(b)
    thread.failures.append(StoreError("disk full"))
    thread.gate.set()
    await settled(failing, b)
    c = Item("c")
    thread.writer.hand_over(c)
    await settled(c)
    assert [x.settled[0] is None for x in (failing, b, c)] == [False, False, True]
    assert thread.transactions == [["c"]]


# ---------------------------------------------------------------------- turns


async def test_a_turn_waits_for_the_commit_before_it_and_holds_the_commits_after_it(thread: Thread) -> None:
    first = Item("a")
    await held(thread, first)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def transaction() -> None:
        async with thread.writer.turn():
            entered.set()
            await release.wait()

    task = asyncio.ensure_future(transaction())
    await asyncio.sleep(0.01)
    assert not entered.is_set()  # a's commit is still running
    after = Item("b")
    thread.writer.hand_over(after)  # handed over after the turn was asked for
    thread.gate.set()
    await asyncio.wait_for(entered.wait(), 2)
    await settled(first)
    await asyncio.sleep(0.01)
    assert after.settled == [] and thread.transactions == [["a"]]  # b waits for the turn's end
    release.set()
    await asyncio.wait_for(task, 2)
    await settled(after)
    assert thread.transactions == [["a"], ["b"]]


async def test_a_turn_given_up_before_it_came_does_not_hold_the_thread(thread: Thread) -> None:
    first = Item("a")
    await held(thread, first)

    async def transaction() -> None:
        async with thread.writer.turn():
            raise AssertionError("never reached")

    task = asyncio.ensure_future(transaction())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = Item("b")
    thread.writer.hand_over(after)
    thread.gate.set()
    await settled(first, after)
    assert thread.transactions == [["a"], ["b"]]


async def test_a_stopped_writer_refuses_batches_and_turns() -> None:
    t = Thread()
    t.start(asyncio.get_running_loop())
    item = Item("a")
    t.writer.hand_over(item)
    await asyncio.to_thread(t.writer.stop)  # commits what was handed over first
    await settled(item)
    assert item.settled == [None]
    with pytest.raises(StoreError):
        t.writer.hand_over(Item("b"))
    with pytest.raises(StoreError):
        async with t.writer.turn():
            pass


# ---------------------------------------------------------------------- the SQLite store on it


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "hall.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_transactions_and_the_journal_write_side_by_side_without_waiting_on_locks(
    store: SqliteStore,
) -> None:
    lots = [await store.create_lot(SPEC, f"拍品{i}") for i in range(4)]
    journal = Journal(store, max_batch=16)
    journal.start()
    seqs = dict.fromkeys(lots, 0)

    async def bids(lot: int) -> None:
        for _ in range(100):
            seqs[lot] += 1
            await journal.append([ev(lot, seqs[lot])])

    async def admissions(lot: int) -> None:
        for user in range(30):
            async with store.transaction() as tx:  # awaits inside: the journal's commits wait
                await tx.execute("INSERT INTO bidders (lot, user, number) VALUES (?, ?, ?)", (lot, user, f"{user}"))
                await asyncio.sleep(0)
                await tx.execute("UPDATE lots SET title = title || '.' WHERE id = ?", (lot,))

    await asyncio.wait_for(asyncio.gather(*(bids(lot) for lot in lots), *(admissions(lot) for lot in lots)), 30)
    await journal.close()
    for lot in lots:
        assert [e.seq for e in await store.events_since(lot, 0)] == list(range(1, 101))
        row = await store.fetchone("SELECT count(*), (SELECT title FROM lots WHERE id = ?) FROM bidders WHERE lot = ?",
                                   (lot, lot))  # fmt: skip
        assert row is not None and row[0] == 30 and row[1].endswith("." * 30)


async def test_a_journal_commit_waits_for_a_transaction_in_progress(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "拍品")
    journal = Journal(store)
    journal.start()
    async with store.transaction() as tx:
        await tx.execute("UPDATE lots SET title = '改' WHERE id = ?", (lot,))
        durable = journal.append([ev(lot, 1)])
        await asyncio.sleep(0.05)
        assert not durable.done()  # the writer thread is parked for this transaction
    await asyncio.wait_for(durable, 2)
    await journal.close()
    assert [e.seq for e in await store.events_since(lot, 0)] == [1]


async def test_the_writers_never_checkpoint_in_a_commit_and_the_checkpointer_empties_the_wal_when_idle(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hall.db"
    s = SqliteStore(path)
    await s.open()
    try:
        assert s._checkpointer is not None
        s._checkpointer.interval = 0.01
        for db in (s.writer, s.reader):
            async with db.execute("PRAGMA wal_autocheckpoint") as cur:
                assert await cur.fetchone() == (0,)
        lot = await s.create_lot(SPEC, "拍品")
        await s.write([ev(lot, seq) for seq in range(1, 2001)], [])
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 0

        checkpointer = s._checkpointer

        async def emptied() -> None:
            while checkpointer.truncations == 0:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(emptied(), 5)  # idle: checkpointed, then truncated
        assert wal.stat().st_size == 0
    finally:
        await s.close()
    with sqlite3.connect(path) as db:  # and everything is in the database file
        assert db.execute("SELECT count(*) FROM events").fetchone() == (2000,)
