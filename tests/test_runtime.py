"""The runtime over the real stores: concurrency, durable-only acks, failure, recovery. The
recovery tests run on both stores (``place``: SQLite alone, and Redis beside it); the others
hold and fail the SQLite writer thread's commits, where they run."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from rediskit import redis_server

from hall.engine import Accepted, AnyEvent, BidPlaced, Closed, Code, LotSpec, Mode, Outcome
from hall.engine import Action, Rejection, State
from hall.engine.events import Opened
from hall import runtime as runtime_module
from hall.runtime import Clock, Runtime, wall_clock
from hall.store import SqliteStore, StoredLot, StoreError, open_store
from hall.store import redis as redis_module
from hall.store import sqlite as sqlite_module
from hall.store.writer import Batch

if TYPE_CHECKING:
    from conftest import FakeClock

pytestmark = pytest.mark.anyio

SELLER = 9
AUCTIONEER = 1
START = 10_000
INC = 1_000
MINUTE = 60_000
HOUR = 60 * MINUTE


def timed(now: int, **changes: Any) -> LotSpec:
    """A timed lot that opened a minute ago and ends in an hour."""
    fields: dict[str, Any] = dict(seller_org=SELLER, start_price=START, increment=INC,
                                  publicity_start=now - 24 * HOUR, bidding_start=now - MINUTE, end=now + HOUR)  # fmt: skip
    return LotSpec(**{**fields, **changes})


def live(now: int, **changes: Any) -> LotSpec:
    return timed(now, mode=Mode.LIVE, **changes)


def keys(events: Sequence[AnyEvent]) -> list[tuple[int, int]]:
    return [(e.lot, e.seq) for e in events]


class InstrumentedStore(SqliteStore):
    """The real store, with commits and reads the test can hold or make fail, and a log.

    Commits are held and failed on the writer thread, where they run (``gate`` is a
    threading.Event); what the thread sees is logged on the loop, in order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.read_gate = asyncio.Event()
        self.read_gate.set()
        self.after_read = asyncio.Event()
        self.after_read.set()
        self.reads = 0
        self.broken_reads = 0
        """Reads of a lot still to come back with an event stored twice (a damaged journal)."""
        self.in_write = asyncio.Event()
        self.failures: list[BaseException] = []
        self.log: list[tuple[str, Any]] = []
        self.durable: set[tuple[int, int]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        await super().open()

    def _commit(self, batches: Sequence[Batch]) -> None:
        assert self.loop is not None
        events = keys([e for b in batches for e in b.events])
        self.loop.call_soon_threadsafe(self._writing, events)
        self.gate.wait()
        self.loop.call_soon_threadsafe(self.in_write.clear)
        if self.failures:
            raise self.failures.pop(0)
        super()._commit(batches)
        self.durable.update(events)
        self.loop.call_soon_threadsafe(self.log.append, ("returned", events))

    def _writing(self, events: list[tuple[int, int]]) -> None:
        self.log.append(("write", events))
        self.in_write.set()

    async def lot(self, lot: int) -> StoredLot | None:
        await self.read_gate.wait()
        stored = await super().lot(lot)
        if stored is not None and self.broken_reads:
            self.broken_reads -= 1
            stored = msgspec.structs.replace(stored, events=[*stored.events, stored.events[-1]])
        self.reads += 1
        await self.after_read.wait()
        return stored


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "hall.db"


class Place:
    """Where a test's hall keeps its lots: the SQLite file, and the Redis beside it (``url``)."""

    def __init__(self, db: Path, url: str = "") -> None:
        self.db = db
        self.url = url


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    if request.param == "sqlite":
        yield Place(tmp_path / "hall.db")
        return
    with redis_server(tmp_path / "redis") as server:
        yield Place(tmp_path / "hall.db", server.url)


@asynccontextmanager
async def _started(store: SqliteStore, clock: Clock, options: dict[str, Any]) -> AsyncIterator[Runtime]:
    await store.open()
    runtime = Runtime(store, clock=clock, **options)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()
        await store.close()


@asynccontextmanager
async def running(db: Path, clock: Clock, **options: Any) -> AsyncIterator[tuple[Runtime, InstrumentedStore]]:
    store = InstrumentedStore(db)
    async with _started(store, clock, options) as runtime:
        try:
            yield runtime, store
        finally:
            store.gate.set()
            store.read_gate.set()
            store.after_read.set()


@asynccontextmanager
async def running_on(place: Place, clock: Clock, **options: Any) -> AsyncIterator[tuple[Runtime, SqliteStore]]:
    """A runtime on the plain store of ``place`` (nothing held or failed)."""
    store = open_store(str(place.db), place.url)
    async with _started(store, clock, options) as runtime:
        yield runtime, store


async def stored_events(place: Place, lot: int) -> list[AnyEvent]:
    store = open_store(str(place.db), place.url)
    await store.open()
    try:
        return await store.events_since(lot, 0)
    finally:
        await store.close()


async def until(condition: Any, timeout: float = 2.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), timeout)


async def registered(runtime: Runtime, lot: int, users: Sequence[int]) -> None:
    for user in users:
        await runtime.register(lot, user, None)


# ---------------------------------------------------------------------- concurrency


async def test_of_100_concurrent_equal_bids_exactly_one_is_accepted(db: Path, clock: FakeClock) -> None:
    async with running(db, clock) as (runtime, store):
        lot = (await runtime.create_lot(timed(clock.now))).id
        users = list(range(1000, 1100))
        await registered(runtime, lot, users)
        results = await asyncio.gather(*(runtime.bid(lot, u, None, START + INC, f"r{u}") for u in users))
        accepted = [r for r in results if isinstance(r, Accepted)]
        assert len(accepted) == 1
        assert sorted({r.code for r in results if isinstance(r, Rejection)}) == [Code.TOO_LOW]
        events = await store.events_since(lot, 0)
    assert [type(e) for e in events] == [Opened, BidPlaced]
    assert events[1].seq == accepted[0].seq


async def test_100_concurrent_repeats_of_one_request_make_one_bid_and_one_answer(db: Path, clock: FakeClock) -> None:
    async with running(db, clock) as (runtime, store):
        lot = (await runtime.create_lot(timed(clock.now))).id
        await runtime.register(lot, 500, None)
        results = await asyncio.gather(*(runtime.bid(lot, 500, None, START, "same") for _ in range(100)))
        assert results == [Accepted(2, START)] * 100
        assert runtime.lots[lot].bid_count == 1
        events = await store.events_since(lot, 0)
    assert [type(e) for e in events] == [Opened, BidPlaced]


async def test_an_unknown_lot_is_refused_as_unknown_lot(db: Path, clock: FakeClock) -> None:
    async with running(db, clock) as (runtime, _):
        lot = (await runtime.create_lot(timed(clock.now))).id
        bid = await runtime.bid(lot + 1, 500, None, START, "r")
        command = await runtime.command(lot + 1, AUCTIONEER, Action.PAUSE, "r")
        assert isinstance(bid, Rejection) and bid.code is Code.UNKNOWN_LOT
        assert isinstance(command, Rejection) and command.code is Code.UNKNOWN_LOT
        with pytest.raises(KeyError):
            await runtime.register(lot + 1, 500, None)


async def test_a_bidder_registered_while_the_lot_is_live_can_bid_at_once(db: Path, clock: FakeClock) -> None:
    async with running(db, clock) as (runtime, _):
        lot = (await runtime.create_lot(timed(clock.now))).id
        refused = await runtime.bid(lot, 500, None, START, "before")
        assert isinstance(refused, Rejection) and refused.code is Code.NOT_REGISTERED
        assert (await runtime.register(lot, 500, 3)).number == "0001"
        assert await runtime.bid(lot, 500, 3, START, "after") == Accepted(2, START)
        assert (await runtime.register(lot, 501, None)).number == "0002"
        assert await runtime.bid(lot, 501, None, START + INC, "after") == Accepted(3, START + INC)
        assert (await runtime.register(lot, 500, 3)).number == "0001"  # again: same number
        assert runtime.lots[lot].leader_number == "0002"


# ---------------------------------------------------------------------- durable-only acks


async def test_no_acknowledgement_precedes_the_commit_of_its_event(db: Path, clock: FakeClock) -> None:
    async with running(db, clock, max_batch=8) as (runtime, store):
        lots = [(await runtime.create_lot(timed(clock.now))).id for _ in range(2)]
        users = list(range(1000, 1040))
        for lot in lots:
            await registered(runtime, lot, users)
        store.log.clear()

        async def bid(lot: int, user: int, amount: int, req: str) -> None:
            result = await runtime.bid(lot, user, None, amount, req)
            assert isinstance(result, Accepted), result
            store.log.append(("acked", (lot, result.seq)))

        async def pause_resume(lot: int) -> None:
            for action in (Action.PAUSE, Action.RESUME):
                result = await runtime.command(lot, AUCTIONEER, action, f"{action}-{lot}")
                assert isinstance(result, Accepted), result
                store.log.append(("acked", (lot, result.seq)))

        store.gate.clear()  # the first commit is held while everything else queues behind it
        tasks = [asyncio.ensure_future(bid(lots[i % 2], u, START + INC * i, f"r{u}")) for i, u in enumerate(users)]
        tasks += [asyncio.ensure_future(bid(lots[0], users[0], START, f"r{users[0]}")) for _ in range(5)]  # repeats
        await asyncio.wait_for(store.in_write.wait(), 1)
        tasks.append(asyncio.ensure_future(pause_resume(lots[1])))
        await asyncio.sleep(0.01)
        assert not any(what == "acked" for what, _ in store.log)
        store.gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    returned = {}
    for i, (what, payload) in enumerate(store.log):
        if what == "returned":
            returned.update({key: i for key in payload})
    acks = [(i, key) for i, (what, key) in enumerate(store.log) if what == "acked"]
    assert len(acks) == 40 + 5 + 2
    for i, key in acks:
        assert key in returned and returned[key] < i, key


async def test_a_failing_commit_acknowledges_nothing_and_the_lot_resumes_from_the_store(
    db: Path, clock: FakeClock
) -> None:
    async with running(db, clock) as (runtime, store):
        heard: list[AnyEvent] = []
        runtime.listen(heard.extend)
        lot = (await runtime.create_lot(timed(clock.now))).id
        other = (await runtime.create_lot(timed(clock.now))).id
        await registered(runtime, lot, [500, 501, 502])
        await registered(runtime, other, [500])
        assert await runtime.bid(lot, 500, None, START, "a") == Accepted(2, START)
        before = runtime.lots[lot]
        durable_state = before.snapshot()

        store.failures.append(StoreError("disk I/O error"))
        store.read_gate.clear()  # hold the reload, to see the lot halted meanwhile
        store.gate.clear()
        first = asyncio.ensure_future(runtime.bid(lot, 501, None, START + INC, "b"))
        await asyncio.wait_for(store.in_write.wait(), 1)  # this commit is the one that fails
        behind = [  # queued behind it, in the next batch
            asyncio.ensure_future(runtime.bid(lot, 502, None, START + 2 * INC, "c")),
            asyncio.ensure_future(runtime.command(lot, AUCTIONEER, Action.PAUSE, "p")),
            asyncio.ensure_future(runtime.bid(other, 500, None, START, "d")),
        ]
        await asyncio.sleep(0)
        store.gate.set()
        results = await asyncio.wait_for(asyncio.gather(first, *behind), 2)
        assert [r.code for r in results if isinstance(r, Rejection)] == [Code.UNAVAILABLE] * 4

        halted = await runtime.bid(lot, 501, None, START + 5 * INC, "while-halted")
        assert isinstance(halted, Rejection) and halted.code is Code.UNAVAILABLE
        store.read_gate.set()
        await until(lambda: runtime.lots[lot] is not before)
        await until(lambda: other in runtime.lots and runtime.lots[other].seq == 1)

        reloaded = runtime.lots[lot]
        assert reloaded.snapshot() == durable_state
        assert runtime.durable[lot] == 2
        # A retry of a request answered `unavailable` is judged anew, at the next durable seq.
        assert await runtime.bid(lot, 501, None, START + INC, "b") == Accepted(3, START + INC)
        assert await runtime.bid(other, 500, None, START, "d") == Accepted(2, START)
        lot_events = await store.events_since(lot, 0)
        other_events = await store.events_since(other, 0)

    assert [e.seq for e in lot_events] == [1, 2, 3]
    assert isinstance(lot_events[2], BidPlaced) and (lot_events[2].user, lot_events[2].req) == (501, "b")
    assert [e.seq for e in other_events] == [1, 2]
    # No listener heard of the failed events: what they heard is exactly what is stored.
    assert [e for e in heard if e.lot == lot] == lot_events
    assert [e for e in heard if e.lot == other] == other_events


async def test_a_bidder_registered_while_its_lot_reloads_can_bid_once_the_reload_is_done(
    db: Path, clock: FakeClock
) -> None:
    async with running(db, clock) as (runtime, store):
        lot = (await runtime.create_lot(timed(clock.now))).id
        await runtime.register(lot, 500, None)
        before = runtime.lots[lot]
        store.failures.append(StoreError("disk I/O error"))
        failed = await runtime.bid(lot, 500, None, START, "a")
        assert isinstance(failed, Rejection) and failed.code is Code.UNAVAILABLE
        store.after_read.clear()
        await until(lambda: store.reads == 1)  # the reload has read the lot, not yet installed it
        # An approved bidder is admitted meanwhile; register() promises it may bid once it returns.
        assert (await runtime.register(lot, 501, None)).number == "0002"
        store.after_read.set()
        await until(lambda: runtime.lots[lot] is not before)
        result = await runtime.bid(lot, 501, None, START, "b")
        assert result == Accepted(2, START), result


async def test_a_reload_that_reads_events_that_do_not_make_a_lot_keeps_it_halted_and_reads_again(
    db: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "_RELOAD_BACKOFF", (0.01,))
    async with running(db, clock) as (runtime, store):
        lot = (await runtime.create_lot(timed(clock.now))).id
        await registered(runtime, lot, [500, 501])
        assert await runtime.bid(lot, 500, None, START, "a") == Accepted(2, START)
        before = runtime.lots[lot]
        store.broken_reads = 3
        store.failures.append(StoreError("disk I/O error"))
        failed = await runtime.bid(lot, 501, None, START + INC, "b")
        assert isinstance(failed, Rejection) and failed.code is Code.UNAVAILABLE
        await until(lambda: store.reads >= 2)
        halted = await runtime.bid(lot, 501, None, START + INC, "while-broken")
        assert isinstance(halted, Rejection) and halted.code is Code.UNAVAILABLE and runtime.lots[lot] is before
        await until(lambda: runtime.lots[lot] is not before)
        assert store.reads == 4 and runtime.durable[lot] == 2
        assert await runtime.bid(lot, 501, None, START + INC, "b") == Accepted(3, START + INC)


# ---------------------------------------------------------------------- listeners and snapshots


async def test_listeners_get_only_durable_events_in_order_without_gaps(db: Path, clock: FakeClock) -> None:
    async with running(db, clock) as (runtime, store):
        heard: list[AnyEvent] = []
        not_yet_durable: list[tuple[int, int]] = []

        def listener(events: Sequence[AnyEvent]) -> None:
            not_yet_durable.extend(k for k in keys(events) if k not in store.durable)
            heard.extend(events)

        runtime.listen(listener)
        lots = [(await runtime.create_lot(timed(clock.now))).id for _ in range(3)]
        users = list(range(1000, 1030))
        for lot in lots:
            await registered(runtime, lot, users)

        async def bidder(user: int) -> None:
            for round_ in range(10):
                lot = lots[(user + round_) % 3]
                price = runtime.lots[lot].price
                await runtime.bid(lot, user, None, START if price is None else price + INC, f"{user}-{round_}")

        await asyncio.wait_for(asyncio.gather(*(bidder(u) for u in users)), 10)
        assert not_yet_durable == []
        for lot in lots:
            mine = [e for e in heard if e.lot == lot]
            assert [e.seq for e in mine] == list(range(1, runtime.lots[lot].seq + 1))
            assert mine == await store.events_since(lot, 0)
        assert sum(runtime.lots[lot].bid_count for lot in lots) > 100


async def test_snapshots_bound_what_a_lot_replays(place: Place, clock: FakeClock) -> None:
    every = 10
    async with running_on(place, clock, snapshot_every=every) as (runtime, store):
        lot = (await runtime.create_lot(timed(clock.now))).id
        users = list(range(1000, 1010))
        await registered(runtime, lot, users)
        results = await asyncio.gather(
            *(runtime.bid(lot, users[i % 10], None, START + INC * i, f"r{i}") for i in range(95))
        )
        assert all(isinstance(r, Accepted) for r in results)
        stored = await store.lot(lot)
        seq = runtime.lots[lot].seq
    assert seq == 96
    assert stored is not None and stored.snapshot is not None
    assert len(stored.events) < every
    assert stored.snapshot.seq + len(stored.events) == seq
    assert [e.seq for e in stored.events] == list(range(stored.snapshot.seq + 1, seq + 1))


# ---------------------------------------------------------------------- recovery


async def play_a_session(runtime: Runtime, clock: FakeClock) -> list[int]:
    """Lots in every state, with bids, floor bids, commands and registrations."""
    now = clock.now
    users = list(range(1000, 1006))
    a = (await runtime.create_lot(timed(now, reserve=START + 3 * INC), "a")).id  # timed, live
    b = (await runtime.create_lot(timed(now), "b")).id  # timed, paused then hammered
    c = (await runtime.create_lot(live(now), "c")).id  # live mode, open, floor and online bids
    d = (await runtime.create_lot(live(now), "d")).id  # withdrawn
    e = (await runtime.create_lot(timed(now, bidding_start=now + HOUR, end=now + 2 * HOUR), "e")).id  # publicity
    for lot in (a, b, c, d):
        await registered(runtime, lot, users)
    await runtime.register(e, users[0], None)

    async def bids(lot: int, n: int, tag: str) -> None:
        for i in range(n):
            price = runtime.lots[lot].price
            user = users[i % len(users)]
            result = await runtime.bid(lot, user, None, START if price is None else price + INC, f"{tag}{i}")
            assert isinstance(result, Accepted), result
            clock.advance(1_000)

    async def command(lot: int, action: Action, req: str, **kw: Any) -> None:
        result = await runtime.command(lot, AUCTIONEER, action, req, **kw)
        assert isinstance(result, Accepted), result
        clock.advance(500)

    await bids(a, 7, "a")
    await command(a, Action.PAUSE, "a-p")
    clock.advance(30_000)
    await command(a, Action.RESUME, "a-r")
    await command(a, Action.EXTEND, "a-x", seconds=120)
    await bids(a, 6, "a2")
    await bids(b, 4, "b")
    await command(b, Action.PAUSE, "b-p")
    await command(b, Action.HAMMER, "b-h")
    await command(c, Action.OPEN, "c-o")
    await bids(c, 3, "c")
    await command(c, Action.FLOOR_BID, "c-f", amount=(runtime.lots[c].price or 0) + 5 * INC, bidder="0004")
    await bids(c, 2, "c2")
    await command(c, Action.FAIR_WARNING, "c-w")
    await command(d, Action.OPEN, "d-o")
    await bids(d, 2, "d")
    await command(d, Action.WITHDRAW, "d-w", reason="权属争议")
    return [a, b, c, d, e]


@pytest.mark.parametrize("snapshot_every", [1000, 3, 1])
async def test_a_restart_rebuilds_every_lot_exactly(place: Place, clock: FakeClock, snapshot_every: int) -> None:
    async with running_on(place, clock, snapshot_every=snapshot_every) as (runtime, store):
        ids = await play_a_session(runtime, clock)
        before = {i: runtime.lots[i].snapshot() for i in ids}
        registrants = {i: dict(runtime.lots[i].registrants) for i in ids}
        titles = dict(runtime.titles)
        snapshots = [(await store.lot(i)) for i in ids]
    assert all(before[i].seq > 0 for i in ids[:4])
    with_snapshot = [s.id for s in snapshots if s is not None and s.snapshot is not None]
    if snapshot_every == 1000:
        assert with_snapshot == ids[1:2] + ids[3:4]  # only the lots that ended (b closed, d withdrawn)
    else:
        assert with_snapshot == ids[:4]

    async with running_on(place, clock, snapshot_every=snapshot_every) as (recovered, _):
        assert sorted(recovered.lots) == sorted(ids)
        assert {i: recovered.lots[i].snapshot() for i in ids} == before
        assert {i: recovered.lots[i].registrants for i in ids} == registrants
        assert recovered.titles == titles
        assert {i: recovered.durable[i] for i in ids} == {i: before[i].seq for i in ids}
        # The request memory came back too: a retried bid gets its original answer, no new bid.
        first_bid = next(e for e in await recovered.store.events_since(ids[0], 0) if isinstance(e, BidPlaced))
        assert first_bid.req is not None
        again = await recovered.bid(ids[0], first_bid.user, None, first_bid.amount, first_bid.req)
        assert again == Accepted(first_bid.seq, first_bid.amount)
        assert recovered.lots[ids[0]].seq == before[ids[0]].seq


async def test_a_restart_rebuilds_many_interleaved_lots_read_in_several_parts(
    place: Place, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (sqlite_module, redis_module):
        monkeypatch.setattr(module, "_LOTS_PER_READ", 4)  # the store reads the tails of 4 lots at a time
    users = [1000, 1001, 1002]
    async with running_on(place, clock, snapshot_every=5) as (runtime, _):
        ids = [(await runtime.create_lot(timed(clock.now), f"l{i}")).id for i in range(17)]
        for lot in ids:
            await registered(runtime, lot, users)
        pending = None
        for k in range(300):  # bids interleaved across lots, as many bidders make them
            lot = ids[(k * 7) % 17 if k % 5 else 3]  # one lot busier than the rest
            price = runtime.lots[lot].price
            result, pending = runtime.judge_bid(lot, users[k % 3], None, START if price is None else price + INC, f"k{k}")
            assert isinstance(result, Accepted), result
        await Runtime.settled(Accepted(0, None), pending)
        clock.advance(1_000)
        await runtime.command(ids[8], AUCTIONEER, Action.PAUSE, "p")
        before = {i: runtime.lots[i].snapshot() for i in ids}
        views = {i: (v.seq, v.price, v.leader, v.bid_count, list(v.recent)) for i, v in runtime.views.items()}
        registrants = {i: dict(runtime.lots[i].registrants) for i in ids}
    assert len({s.seq % 5 for s in before.values()}) > 1  # lots stopped at various places past a snapshot

    async with running_on(place, clock, snapshot_every=5) as (recovered, _):
        assert {i: recovered.lots[i].snapshot() for i in ids} == before
        assert {i: (v.seq, v.price, v.leader, v.bid_count, list(v.recent)) for i, v in recovered.views.items()} == views
        assert {i: recovered.lots[i].registrants for i in ids} == registrants


@pytest.mark.parametrize("enabled", [True, False])
async def test_start_leaves_the_garbage_collector_as_it_found_it(db: Path, clock: FakeClock, enabled: bool) -> None:
    async with running(db, clock) as (runtime, _):
        await runtime.create_lot(timed(clock.now), "a")
    was = gc.isenabled()
    if not enabled:
        gc.disable()
    try:
        async with running(db, clock) as (recovered, _):
            assert gc.isenabled() is enabled
            assert len(recovered.lots) == 1
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize(
    ("reserve", "outcome"), [(None, Outcome.SOLD), (START + 2 * INC, Outcome.SOLD), (START + 9 * INC, Outcome.UNSOLD)]
)
async def test_a_lot_whose_end_passed_while_down_closes_at_recovery_with_its_bids(
    place: Place, clock: FakeClock, reserve: int | None, outcome: Outcome
) -> None:
    async with running_on(place, clock) as (runtime, _):
        lot = (await runtime.create_lot(timed(clock.now, reserve=reserve))).id
        await registered(runtime, lot, [500, 501, 502])
        for i, user in enumerate([500, 501, 502, 501]):
            assert isinstance(await runtime.bid(lot, user, None, START + i * INC, f"r{i}"), Accepted)
        seq = runtime.lots[lot].seq
    end = runtime.lots[lot].ends_at
    assert end is not None
    clock.now = end + 10 * MINUTE  # the server was down across the end

    async with running_on(place, clock) as (recovered, _):
        assert recovered.lots[lot].state is State.CLOSED
    events = await stored_events(place, lot)
    assert len(events) == seq + 1
    closed = events[-1]
    assert isinstance(closed, Closed)
    assert closed.outcome is outcome
    assert closed.price == START + 3 * INC
    assert (closed.winner, closed.user) == (("0002", 501) if outcome is Outcome.SOLD else (None, None))

    async with running_on(place, clock) as (again, store):  # closed once, and for good
        assert again.lots[lot].state is State.CLOSED
        assert again.lots[lot].outcome is outcome
        stored = await store.lot(lot)
    assert stored is not None and stored.snapshot is not None and stored.snapshot.state is State.CLOSED
    assert len(await stored_events(place, lot)) == seq + 1


async def test_a_lot_whose_whole_session_passed_while_down_opens_and_closes_unsold(
    place: Place, clock: FakeClock
) -> None:
    async with running_on(place, clock) as (runtime, _):
        lot = (await runtime.create_lot(timed(clock.now, bidding_start=clock.now + HOUR, end=clock.now + 2 * HOUR))).id
        assert runtime.lots[lot].state is State.PUBLICITY
    clock.advance(3 * HOUR)
    async with running_on(place, clock) as (recovered, _):
        assert recovered.lots[lot].state is State.CLOSED
    events = await stored_events(place, lot)
    assert [type(e) for e in events] == [Opened, Closed]
    assert isinstance(events[1], Closed) and events[1].outcome is Outcome.UNSOLD


async def test_a_timed_lot_opens_and_closes_by_its_own_timer(place: Place) -> None:
    now = wall_clock()
    # Wall-clock margins wide enough for a loaded machine: the lot must still be in publicity
    # once created and registered, and the bid must land before the end.
    spec = timed(now, publicity_start=now, bidding_start=now + 1500, end=now + 2500, window=0)
    async with running_on(place, wall_clock) as (runtime, _):
        opened, closed = asyncio.Event(), asyncio.Event()
        heard: list[AnyEvent] = []

        def listener(events: Sequence[AnyEvent]) -> None:
            heard.extend(events)
            if any(isinstance(e, Opened) for e in events):
                opened.set()
            if any(isinstance(e, Closed) for e in events):
                closed.set()

        runtime.listen(listener)
        lot = (await runtime.create_lot(spec)).id
        await runtime.register(lot, 500, None)
        assert runtime.lots[lot].state is State.PUBLICITY
        await asyncio.wait_for(opened.wait(), 10)
        assert runtime.lots[lot].state is State.LIVE
        assert await runtime.bid(lot, 500, None, START, "r") == Accepted(2, START)
        await asyncio.wait_for(closed.wait(), 10)
        assert runtime.lots[lot].state is State.CLOSED
    assert [type(e) for e in heard] == [Opened, BidPlaced, Closed]
    assert heard[0].ts >= spec.bidding_start
    assert heard[2].ts >= spec.end
    assert isinstance(heard[2], Closed)
    assert (heard[2].outcome, heard[2].price, heard[2].winner) == (Outcome.SOLD, START, "0001")
    assert await stored_events(place, lot) == heard


async def test_a_recovered_lot_closes_by_the_timer_armed_at_recovery(place: Place) -> None:
    now = wall_clock()
    spec = timed(now, bidding_start=now - 1_000, end=now + 400, window=0)
    async with running_on(place, wall_clock) as (runtime, _):
        lot = (await runtime.create_lot(spec)).id
        await runtime.register(lot, 500, None)
        assert await runtime.bid(lot, 500, None, START, "r") == Accepted(2, START)
    async with running_on(place, wall_clock) as (recovered, _):
        closed = asyncio.Event()

        def listener(events: Sequence[AnyEvent]) -> None:
            if any(isinstance(e, Closed) for e in events):
                closed.set()

        recovered.listen(listener)
        assert recovered.lots[lot].state is State.LIVE
        await asyncio.wait_for(closed.wait(), 2)
    events = await stored_events(place, lot)
    assert [type(e) for e in events] == [Opened, BidPlaced, Closed]
    assert isinstance(events[2], Closed) and events[2].ts >= spec.end and events[2].winner == "0001"


async def test_a_paused_lot_stays_paused_across_a_restart_past_its_end(place: Place, clock: FakeClock) -> None:
    async with running_on(place, clock) as (runtime, _):
        lot = (await runtime.create_lot(timed(clock.now))).id
        assert isinstance(await runtime.command(lot, AUCTIONEER, Action.PAUSE, "p"), Accepted)
        paused = runtime.lots[lot].snapshot()
    clock.advance(2 * HOUR)
    async with running_on(place, clock) as (recovered, _):
        assert recovered.lots[lot].snapshot() == paused
        result = await recovered.command(lot, AUCTIONEER, Action.RESUME, "r")
        assert isinstance(result, Accepted)
        assert paused.ends_at is not None
        assert recovered.lots[lot].ends_at == paused.ends_at + 2 * HOUR
