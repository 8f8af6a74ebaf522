"""Two processes of one hall in one event loop: each its own RedisStore, Runtime and Cluster on
the same SQLite file and Redis, as two ``hall serve`` would be (hall/cluster.py). What a
client sees of several real processes is tests/test_cluster.py's; here each mechanism alone:
replicas, admissions, forwarding, takeover and fencing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rediskit import RedisServer, redis_server

from hall.cluster import Cluster
from hall.engine import Accepted, BidPlaced, LotSpec
from hall.runtime import Runtime, wall_clock
from hall.store.redis import Fenced, RedisStore

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

LEASE_MS = 600
START = 10_000
INC = 1_000
HOUR = 3_600_000


def live_spec() -> LotSpec:
    now = wall_clock()
    return LotSpec(seller_org=9, start_price=START, increment=INC, publicity_start=now - 24 * HOUR,
                   bidding_start=now - 60_000, end=now + HOUR)  # fmt: skip


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server


@asynccontextmanager
async def process(db: Path, redis: RedisServer, name: str) -> AsyncIterator[tuple[Runtime, Cluster]]:
    store = RedisStore(db, redis.url)
    await store.open()
    runtime = Runtime(store)
    cluster = Cluster(store, runtime, lease_ms=LEASE_MS, name=name)
    runtime.peers = cluster
    try:
        await cluster.open()
        await runtime.start()
        await cluster.start()
        yield runtime, cluster
    finally:
        cluster.stop_claiming()
        await runtime.stop()
        await cluster.stop()
        await store.close()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_lot_created_on_one_process_is_owned_there_and_bids_through_the_other_are_forwarded(
    tmp_path: Path, redis: RedisServer
) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        lot = (await a.create_lot(live_spec(), "一种专利")).id
        assert ca.owns(lot) and not cb.owns(lot)
        await until(lambda: lot in b.lots)
        await a.register(lot, 100, None)
        await until(lambda: 100 in b.lots[lot].registrants)
        result = await b.bid(lot, 100, None, START, "r1")
        assert isinstance(result, Accepted) and result.price == START
        # The owner judged and wrote it; the other process's replica follows from the bus.
        assert a.lots[lot].price == START
        await until(lambda: b.views[lot].seq == result.seq)
        assert b.views[lot].price == START
        # The same request again, through either process, is the same bid, not a second one.
        assert await a.bid(lot, 100, None, START, "r1") == result
        assert await b.bid(lot, 100, None, START, "r1") == result
        events = await a.store.events_since(lot, 0)
        assert sum(isinstance(e, BidPlaced) for e in events) == 1


async def test_a_lot_whose_owner_stops_renewing_is_taken_over_and_the_old_owner_cannot_write_it(
    tmp_path: Path, redis: RedisServer
) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        lot = (await a.create_lot(live_spec())).id
        await a.register(lot, 100, None)
        first = await a.bid(lot, 100, None, START, "r1")
        assert isinstance(first, Accepted)
        stale = ca.owned[lot]
        ca.stop_claiming()  # a paused process: no more renewals
        await until(lambda: cb.owns(lot), timeout=LEASE_MS / 1000 * 10)
        assert cb.owned[lot] > stale
        assert not ca.owns(lot), "the old owner still judges past its lease"
        # Whatever the old owner still tries to write with its old token is refused, unwritten.
        seq = b.lots[lot].seq
        ghost = BidPlaced(lot=lot, seq=seq + 1, ts=wall_clock(), bidder="0001", user=100, amount=START + 50 * INC,
                          ends_at=None)  # fmt: skip
        with pytest.raises(Fenced):
            await a.store.write([ghost], [])
        # The new owner goes on from the record, and a bid through the old owner is forwarded to it.
        second = await a.bid(lot, 100, None, START + INC, "r2")
        assert isinstance(second, Accepted) and second.seq == seq + 1
        events = await b.store.events_since(lot, 0)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.amount for e in events if isinstance(e, BidPlaced)] == [START, START + INC]


async def test_a_process_that_joins_later_is_handed_its_share_of_the_lots(tmp_path: Path, redis: RedisServer) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca):
        lots = [(await a.create_lot(live_spec())).id for _ in range(12)]
        assert all(ca.owns(lot) for lot in lots)
        async with process(db, redis, "b") as (b, cb):
            await until(lambda: len(cb.owned) > 0 and len(ca.owned) + len(cb.owned) == len(lots))
            assert not set(ca.owned) & set(cb.owned)
        # b gave its lots back when it stopped; a takes them again.
        await until(lambda: len(ca.owned) == len(lots))


async def test_a_forwarded_bid_that_finds_no_owner_in_time_is_unavailable(
    tmp_path: Path, redis: RedisServer
) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        cb.patience = 0.3
        lot = (await a.create_lot(live_spec())).id
        await a.register(lot, 100, None)
        await until(lambda: lot in b.lots and 100 in b.lots[lot].registrants)
        ca.stop_claiming()
        cb.stop_claiming()  # nobody renews or takes the lease: once it runs out, no one owns the lot
        await asyncio.sleep(LEASE_MS / 1000 * 1.2)
        assert not ca.owns(lot) and not cb.owns(lot)
        result = await b.bid(lot, 100, None, START, "r1")
        assert not isinstance(result, Accepted) and result.code.value == "unavailable"


async def test_forwarding_works_again_after_redis_was_killed_and_restarted(tmp_path: Path, redis: RedisServer) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        lot = (await a.create_lot(live_spec())).id
        await a.register(lot, 100, None)
        await until(lambda: lot in b.lots and 100 in b.lots[lot].registrants)
        assert isinstance(await b.bid(lot, 100, None, START, "r1"), Accepted)
        redis.kill()
        await asyncio.sleep(LEASE_MS / 1000 * 2)
        redis.start()
        price, n = START, 1
        deadline = time.monotonic() + 20
        while True:  # unavailable until the lot is owned and reloaded again, then accepted
            assert time.monotonic() < deadline, "bids through the other process never went through again"
            n += 1
            result = await b.bid(lot, 100, None, price + INC, f"r{n}")
            if isinstance(result, Accepted):
                break
            await asyncio.sleep(0.1)
        events = await a.store.events_since(lot, 0)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_a_lot_taken_over_closes_by_its_new_owners_timer_once(tmp_path: Path, redis: RedisServer) -> None:
    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        spec = live_spec()
        spec = LotSpec(**{**{f: getattr(spec, f) for f in spec.__struct_fields__}, "end": wall_clock() + 2_500})
        lot = (await a.create_lot(spec)).id  # no bid: a late bid would move its end (anti-sniping)
        ca.stop_claiming()  # its clock would still fire, but it no longer owns the lot when it does
        await until(lambda: cb.owns(lot), timeout=10)
        await until(lambda: b.views[lot].state.value == "closed", timeout=10)
        await until(lambda: a.views[lot].state.value == "closed", timeout=10)
        events = await b.store.events_since(lot, 0)
        assert [type(e).__name__ for e in events].count("Closed") == 1
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_a_finished_lot_is_let_go_and_every_process_answers_it_from_its_own_copy(
    tmp_path: Path, redis: RedisServer
) -> None:
    import hall.cluster

    db = tmp_path / "hall.db"
    async with process(db, redis, "a") as (a, ca), process(db, redis, "b") as (b, cb):
        spec = live_spec()
        spec = LotSpec(**{**{f: getattr(spec, f) for f in spec.__struct_fields__}, "end": wall_clock() + 1_000})
        lot = (await a.create_lot(spec)).id
        await a.register(lot, 100, None)
        await until(lambda: lot in b.lots and b.views[lot].state.value == "closed")
        await until(lambda: lot not in ca.owned and lot not in cb.owned)
        assert await a.store.redis.get(hall.cluster.key(lot, "lease")) is None
        await asyncio.sleep(LEASE_MS / 1000)  # some ticks: nobody takes it again
        assert lot not in ca.owned and lot not in cb.owned
        for runtime in (a, b):
            result = await runtime.bid(lot, 100, None, START, "late")
            assert not isinstance(result, Accepted) and result.code.value == "closed"


async def test_after_a_lost_subscription_the_cluster_asks_for_what_its_messages_said_meanwhile(
    tmp_path: Path, redis: RedisServer
) -> None:
    """Messages published while a process's subscription was down are gone: once it subscribes
    again, ``on_missed`` (``Auctions.catch_up`` in the app) reads what they said from the store."""
    async with process(tmp_path / "hall.db", redis, "a") as (_, ca):
        asked: list[float] = []

        async def missed() -> None:
            asked.append(time.monotonic())

        ca.on_missed = missed
        await asyncio.sleep(0.3)
        assert asked == []  # subscribed, nothing lost
        redis.kill()
        await asyncio.sleep(LEASE_MS / 1000 * 2)
        redis.start()
        await until(lambda: len(asked) == 1)
        await asyncio.sleep(0.3)
        assert len(asked) == 1

