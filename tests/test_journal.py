"""The group-commit journal, against a store whose commits the test holds and releases."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from hall.engine import AnyEvent, BidPlaced, Lot, LotSpec, LotState, Registrant
from hall.store import Journal, StoredLot, StoreError
from hall.store.writer import Batch, Writer

pytestmark = pytest.mark.anyio

SPEC = LotSpec(seller_org=9, start_price=1_000, increment=100, publicity_start=0, bidding_start=1, end=10**13)


def ev(lot: int, seq: int) -> BidPlaced:
    return BidPlaced(lot=lot, seq=seq, ts=seq, actor=7, req=f"r{lot}-{seq}",
                     amount=1_000 + 100 * seq, bidder="0001", user=7, ends_at=10**13)  # fmt: skip


def snap(lot: int, seq: int) -> LotState:
    engine = Lot(lot, SPEC)
    for s in range(1, seq + 1):
        engine.apply(ev(lot, s))
    return engine.snapshot()


def keys(events: Sequence[AnyEvent]) -> list[tuple[int, int]]:
    return [(e.lot, e.seq) for e in events]


class SlowStore:
    """Implements the Store protocol on a real writer thread (hall/store/writer.py), whose
    commits wait on ``gate`` (held on that thread) and may be told to fail. What the thread
    does is logged on the loop, in the order it did it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.in_write = asyncio.Event()
        self.calls: list[tuple[list[AnyEvent], list[LotState]]] = []
        """Every transaction begun, as it was asked for."""
        self.committed: list[list[AnyEvent]] = []
        """The transactions that returned, in order."""
        self.failures: list[BaseException] = []
        """Exceptions the next commits raise, one each."""
        self.log: list[tuple[str, Any]] = []
        self.before_return: Callable[[Sequence[AnyEvent]], None] | None = None
        self.writer = Writer(self._commit)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _commit(self, batches: Sequence[Batch]) -> None:
        assert self.loop is not None
        events = [e for b in batches for e in b.events]
        snapshots = [s for b in batches for s in b.snapshots.values()]
        self.loop.call_soon_threadsafe(self._writing, events, snapshots)
        self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        if self.before_return is not None:
            self.loop.call_soon_threadsafe(self.before_return, events)
        self.loop.call_soon_threadsafe(self._returned, events)

    def _writing(self, events: list[AnyEvent], snapshots: list[LotState]) -> None:
        self.calls.append((events, snapshots))
        self.log.append(("write", keys(events)))
        self.in_write.set()

    def _returned(self, events: list[AnyEvent]) -> None:
        self.in_write.clear()
        self.committed.append(events)
        self.log.append(("returned", keys(events)))

    def hand_over(self, batch: Batch) -> None:
        self.writer.hand_over(batch)

    async def write(self, events: Sequence[AnyEvent], snapshots: Sequence[LotState]) -> None:
        raise NotImplementedError

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.writer.start(self.loop)

    async def close(self) -> None:
        self.gate.set()
        await asyncio.to_thread(self.writer.stop)

    async def create_lot(self, spec: LotSpec, title: str, session: str = "", details: object = None) -> int:
        raise NotImplementedError

    async def add_bidder(self, lot: int, user: int, org: int | None) -> Registrant:
        raise NotImplementedError

    async def lots(self) -> AsyncIterator[StoredLot]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def lot(self, lot: int) -> StoredLot | None:
        raise NotImplementedError

    async def events_since(self, lot: int, seq: int) -> list[AnyEvent]:
        raise NotImplementedError


class Recorder:
    def __init__(self, store: SlowStore) -> None:
        self.store = store
        self.commits: list[list[AnyEvent]] = []
        self.failures: list[tuple[set[int], BaseException]] = []

    def on_commit(self, events: Sequence[AnyEvent]) -> None:
        self.commits.append(list(events))
        self.store.log.append(("on_commit", keys(events)))

    def on_failure(self, lots: set[int], exc: BaseException) -> None:
        self.failures.append((set(lots), exc))


@pytest.fixture
async def store() -> AsyncIterator[SlowStore]:
    s = SlowStore()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def recorder(store: SlowStore) -> Recorder:
    return Recorder(store)


@pytest.fixture
def max_batch() -> int:
    return 4096


@pytest.fixture
async def journal(store: SlowStore, recorder: Recorder, max_batch: int) -> AsyncIterator[Journal]:
    j = Journal(store, max_batch=max_batch, on_commit=recorder.on_commit, on_failure=recorder.on_failure)
    j.start()
    try:
        yield j
    finally:
        store.gate.set()
        await j.close()


async def hold_first_commit(journal: Journal, store: SlowStore, event: AnyEvent) -> asyncio.Future[None]:
    """Append ``event`` and return once its commit is in flight and held."""
    store.gate.clear()
    future = journal.append([event])
    await asyncio.wait_for(store.in_write.wait(), 1)
    return future


# ---------------------------------------------------------------------- group commit


async def test_an_append_without_load_is_committed_alone_at_once(journal: Journal, store: SlowStore) -> None:
    await asyncio.wait_for(journal.append([ev(1, 1)]), 1)
    assert [keys(events) for events, _ in store.calls] == [[(1, 1)]]


async def test_appends_made_during_a_commit_share_one_next_transaction(journal: Journal, store: SlowStore) -> None:
    first = await hold_first_commit(journal, store, ev(1, 1))
    later = [journal.append([ev(1 + s % 2, s)]) for s in range(2, 12)]
    assert len(store.calls) == 1  # nothing else is written while the first commit is in flight
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 1)
    assert [len(events) for events, _ in store.calls] == [1, 10]
    assert keys(store.calls[1][0]) == [(1 + s % 2, s) for s in range(2, 12)]


async def test_one_appends_events_stay_together_in_one_transaction(journal: Journal, store: SlowStore) -> None:
    first = await hold_first_commit(journal, store, ev(1, 1))
    second = journal.append([ev(1, 2), ev(1, 3), ev(1, 4)])
    third = journal.append([ev(2, 1)])
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second, third), 1)
    assert second is third  # same batch, same future
    assert [keys(events) for events, _ in store.calls] == [[(1, 1)], [(1, 2), (1, 3), (1, 4), (2, 1)]]


@pytest.mark.parametrize("max_batch", [4])
async def test_max_batch_splits_what_queues_during_a_commit(journal: Journal, store: SlowStore) -> None:
    first = await hold_first_commit(journal, store, ev(1, 1))
    later = [journal.append([ev(1, s)]) for s in range(2, 12)]
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 1)
    assert [len(events) for events, _ in store.calls] == [1, 4, 4, 2]
    assert [k for events, _ in store.calls for k in keys(events)] == [(1, s) for s in range(1, 12)]


async def test_the_newest_snapshot_of_each_lot_goes_in_the_transaction_of_its_events(
    journal: Journal, store: SlowStore
) -> None:
    first = await hold_first_commit(journal, store, ev(1, 1))
    journal.append([ev(1, 2)], snap(1, 2))
    journal.append([ev(2, 1)], snap(2, 1))
    last = journal.append([ev(1, 3)], snap(1, 3))
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, last), 1)
    assert store.calls[0][1] == []
    events, snapshots = store.calls[1]
    assert keys(events) == [(1, 2), (2, 1), (1, 3)]
    assert sorted((s.id, s.seq) for s in snapshots) == [(1, 3), (2, 1)]


# ---------------------------------------------------------------------- ordering


async def test_no_append_resolves_before_the_write_containing_it_has_returned(
    journal: Journal, store: SlowStore
) -> None:
    futures: dict[tuple[int, int], asyncio.Future[None]] = {}
    early: list[tuple[int, int]] = []

    def about_to_return(events: Sequence[AnyEvent]) -> None:
        early.extend(k for k in keys(events) if futures[k].done())

    async def acker(key: tuple[int, int]) -> None:
        await futures[key]
        store.log.append(("acked", key))

    async def returned_after(count: int) -> None:
        """Until one more commit has returned and the loop has heard of it."""
        while len(store.committed) == count:
            await asyncio.sleep(0.001)

    store.before_return = about_to_return
    futures[(1, 1)] = await hold_first_commit(journal, store, ev(1, 1))
    tasks = [asyncio.ensure_future(acker((1, 1)))]
    for s in range(2, 30):
        futures[(1, s)] = journal.append([ev(1, s)])
        tasks.append(asyncio.ensure_future(acker((1, s))))
        if s % 7 == 0:  # let the held commit return now and then, and hold a later one
            store.gate.set()
            await asyncio.wait_for(returned_after(len(store.committed)), 1)
            store.gate.clear()
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert len(store.calls) > 2
    assert early == []  # no future was resolved while its write was still running

    position: dict[tuple[str, tuple[int, int]], int] = {}
    for i, (what, payload) in enumerate(store.log):
        if what == "returned":
            position.update({(what, key): i for key in payload})
        elif what == "acked":
            position[(what, payload)] = i
    for s in range(1, 30):
        assert position[("returned", (1, s))] < position[("acked", (1, s))], s


@pytest.mark.parametrize("max_batch", [3])
async def test_on_commit_sees_every_batch_once_in_commit_order(
    journal: Journal, store: SlowStore, recorder: Recorder
) -> None:
    seqs = {1: 1, 2: 0, 3: 0}
    futures = [await hold_first_commit(journal, store, ev(1, 1))]
    for i in range(20):
        lot = 1 + i % 3
        seqs[lot] += 1
        futures.append(journal.append([ev(lot, seqs[lot])]))
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(*futures), 2)
    assert len(store.committed) == 1 + 7
    assert recorder.commits == store.committed
    # Each commit is reported right after its write returned, before the next write starts.
    steps = [what for what, _ in store.log]
    assert steps == ["write", "returned", "on_commit"] * len(store.committed)
    flat = [k for batch in recorder.commits for k in keys(batch)]
    for lot in seqs:
        assert [s for lt, s in flat if lt == lot] == list(range(1, seqs[lot] + 1))


# ---------------------------------------------------------------------- failure


@pytest.mark.parametrize("max_batch", [2])
@pytest.mark.parametrize("error", [StoreError("disk full"), OSError(5, "Input/output error")])
async def test_a_failing_write_fails_its_batch_and_every_batch_queued_behind_it(
    journal: Journal, store: SlowStore, recorder: Recorder, error: BaseException
) -> None:
    await asyncio.wait_for(journal.append([ev(1, 1)]), 1)  # durable before the failure
    failing = await hold_first_commit(journal, store, ev(1, 2))
    behind = [journal.append([ev(2, 1)]), journal.append([ev(1, 3)]), journal.append([ev(3, 1)])]
    assert behind[0] is behind[1] and behind[1] is not behind[2]  # two batches queued behind
    store.failures.append(error)
    store.gate.set()
    for future in (failing, *behind):
        with pytest.raises(StoreError):
            await asyncio.wait_for(future, 1)
    # Nothing of the failed batches was reported as committed, nor even written.
    assert recorder.commits == [[ev(1, 1)]]
    assert store.committed == [[ev(1, 1)]]
    assert len(store.calls) == 2
    assert len(recorder.failures) == 1
    lots, exc = recorder.failures[0]
    assert lots == {1, 2, 3}
    assert exc is error
    # The journal keeps going: the next append commits and is reported.
    await asyncio.wait_for(journal.append([ev(1, 2)]), 1)
    assert recorder.commits == [[ev(1, 1)], [ev(1, 2)]]


# ---------------------------------------------------------------------- life cycle


async def test_close_commits_what_is_queued_then_refuses_appends(store: SlowStore, recorder: Recorder) -> None:
    journal = Journal(store, on_commit=recorder.on_commit)
    with pytest.raises(StoreError):
        journal.append([ev(1, 1)])  # not started
    journal.start()
    store.gate.clear()
    futures = [journal.append([ev(1, s)]) for s in range(1, 6)]
    closing = asyncio.ensure_future(journal.close())
    await asyncio.sleep(0)
    with pytest.raises(StoreError):
        journal.append([ev(1, 6)])  # closing
    store.gate.set()
    await asyncio.wait_for(closing, 1)
    assert all(f.done() and f.exception() is None for f in futures)
    assert [k for batch in store.committed for k in keys(batch)] == [(1, s) for s in range(1, 6)]
    with pytest.raises(StoreError):
        journal.append([ev(1, 6)])  # closed
