"""The Store contract (hall/store/base.py), held by both stores: SQLite alone, and Redis for the
lots beside SQLite. Every test runs on each (ids ``sqlite`` and ``redis``); what only one store
has (SQLite's migrations and pragmas, Redis's durability check, fences and bus) is tested in
tests/test_store_sqlite.py and tests/test_store_redis.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from rediskit import redis_server
from storekit import SPEC, bid, history, state_after

from hall.engine import BidPlaced, Lot, Registrant
from hall.engine.events import Opened, encode
from hall.record import GENESIS, link, verify
from hall.store import SqliteStore, StoreError
from hall.store import redis as redis_module
from hall.store import sqlite as sqlite_module

pytestmark = pytest.mark.anyio


Opener = Callable[[], SqliteStore]
"""A new, unopened store on the test's database (and Redis): a second connection, or a restart."""


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    db = tmp_path / "hall.db"
    if request.param == "sqlite":
        yield lambda: SqliteStore(db)
        return
    with redis_server(tmp_path / "redis") as server:
        yield lambda: redis_module.RedisStore(db, server.url)


async def reopened(opener: Opener) -> SqliteStore:
    s = opener()
    await s.open()
    return s


@pytest.fixture
async def store(opener: Opener) -> AsyncIterator[SqliteStore]:
    s = await reopened(opener)
    try:
        yield s
    finally:
        await s.close()


async def test_a_closed_store_refuses_with_store_error(opener: Opener) -> None:
    s = await reopened(opener)
    await s.close()
    with pytest.raises(StoreError):
        await s.write([bid(1, 1)], [])
    with pytest.raises(StoreError):
        await s.events_since(1, 0)


# ---------------------------------------------------------------------- write


async def test_write_is_durable_for_a_second_connection(store: SqliteStore, opener: Opener) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 4), [])
    other = await reopened(opener)
    try:
        assert await other.events_since(lot, 0) == history(lot, 4)
    finally:
        await other.close()


async def test_a_batch_repeating_a_stored_seq_raises_and_writes_none_of_its_rows(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 2), [])
    before = await store.lot(lot)
    batch = [bid(lot, 3), bid(lot, 4), bid(lot, 2), bid(lot, 5)]  # seq 2 is already stored
    with pytest.raises(StoreError):
        await store.write(batch, [state_after(lot, [*history(lot, 2), bid(lot, 3), bid(lot, 4)])])
    assert [e.seq for e in await store.events_since(lot, 0)] == [1, 2]
    assert await store.lot(lot) == before  # and no snapshot either
    # The failure left the store writing: the next write commits normally, chained on.
    await store.write([bid(lot, 3)], [])
    assert [e.seq for e in await store.events_since(lot, 0)] == [1, 2, 3]
    assert (await verify(store, lot)).ok


async def test_a_batch_with_a_duplicate_inside_it_writes_nothing(store: SqliteStore, opener: Opener) -> None:
    lot = await store.create_lot(SPEC, "")
    other_lot = await store.create_lot(SPEC, "")
    with pytest.raises(StoreError):
        await store.write([*history(other_lot, 2), *history(lot, 3), bid(lot, 3)], [])
    assert await store.events_since(lot, 0) == []
    assert await store.events_since(other_lot, 0) == []
    fresh = await reopened(opener)  # nothing reached the disk either
    try:
        assert await fresh.head(lot) == await fresh.head(other_lot) == (0, GENESIS)
    finally:
        await fresh.close()


async def test_a_batch_of_several_lots_is_stored_with_each_lots_chain(store: SqliteStore) -> None:
    """Each event stored as its body with the digest after it in its lot's chain, whatever the
    batch interleaves; ``chain`` gives them as stored and ``head`` the last."""
    lots = [await store.create_lot(SPEC, "") for _ in range(3)]
    batch = [bid(lots[i % 3], i // 3 + 1) for i in range(500)]
    await store.write(batch, [])
    for lot in lots:
        mine = [e for e in batch if e.lot == lot]
        rows = await store.chain(lot, 1)
        assert [(seq, body) for seq, body, _ in rows] == [(e.seq, encode(e)) for e in mine]
        digest = GENESIS
        for (_, _, stored), event in zip(rows, mine, strict=True):
            digest = link(digest, event)
            assert stored == digest
        assert await store.head(lot) == (len(mine), digest)
        assert await store.chain(lot, 100, 3) == rows[99:102]


async def test_the_chain_goes_on_across_a_restart(store: SqliteStore, opener: Opener) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 3), [])
    await store.close()
    again = await reopened(opener)
    try:
        await again.write([bid(lot, 4), bid(lot, 5)], [])
        verdict = await verify(again, lot)
        assert verdict.ok and verdict.events == 5
        assert await again.head(lot) == (5, bytes.fromhex(verdict.digest or ""))
    finally:
        await again.close()


async def test_events_since_returns_one_lots_events_after_seq_in_seq_order(store: SqliteStore) -> None:
    a = await store.create_lot(SPEC, "a")
    b = await store.create_lot(SPEC, "b")
    ea, eb = history(a, 9), history(b, 9)
    # Interleaved lots, several batches, and seqs out of order within a batch.
    await store.write([eb[0], ea[1], ea[0], eb[2], eb[1]], [])
    await store.write([ea[4], eb[3], ea[2], ea[3]], [])
    await store.write([*reversed(ea[5:]), *eb[4:]], [])
    assert await store.events_since(a, 0) == ea
    assert await store.events_since(b, 0) == eb
    assert await store.events_since(a, 6) == ea[6:]
    assert await store.events_since(a, 2, 3) == ea[2:5]
    assert await store.events_since(a, 9) == []
    assert await store.events_since(a + b + 1, 0) == []


async def test_events_at_finds_the_events_of_lot_and_seq_pairs(store: SqliteStore) -> None:
    a = await store.create_lot(SPEC, "a")
    b = await store.create_lot(SPEC, "b")
    await store.write([*history(a, 4), *history(b, 2)], [])
    found = await store.events_at([(a, 4), (b, 1), (b, 7), (a + b, 1)])  # the last two: no such event
    assert sorted(found, key=lambda e: (e.lot, e.seq)) == [history(a, 4)[3], history(b, 1)[0]]
    assert await store.events_at([]) == []


# ---------------------------------------------------------------------- snapshots and lot()


async def test_a_new_snapshot_replaces_the_old_one(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "")
    events = history(lot, 7)
    await store.write(events[:3], [state_after(lot, events[:3])])
    await store.write(events[3:5], [state_after(lot, events[:5])])
    await store.write(events[5:], [])
    stored = await store.lot(lot)
    assert stored is not None
    assert stored.snapshot == state_after(lot, events[:5])
    assert stored.events == events[5:]


async def test_lot_returns_the_snapshot_and_only_the_events_after_it(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "遥感影像")
    events = history(lot, 10)
    await store.write(events[:6], [state_after(lot, events[:6])])
    await store.write(events[6:], [])
    stored = await store.lot(lot)
    assert stored is not None
    assert (stored.id, stored.spec, stored.title) == (lot, SPEC, "遥感影像")
    assert stored.snapshot is not None and stored.snapshot.seq == 6
    assert stored.events == events[6:]
    rebuilt = Lot.restore(stored.snapshot)
    for event in stored.events:
        rebuilt.apply(event)
    assert rebuilt.snapshot() == state_after(lot, events)


async def test_lot_without_a_snapshot_returns_every_event(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 4), [])
    stored = await store.lot(lot)
    assert stored is not None
    assert stored.snapshot is None
    assert stored.events == history(lot, 4)


async def test_lot_of_an_unknown_id_is_none(store: SqliteStore) -> None:
    assert await store.lot(12345) is None


async def test_lots_yields_every_lot_in_id_order(store: SqliteStore) -> None:
    ids = [await store.create_lot(SPEC, f"t{i}") for i in range(3)]
    await store.write(history(ids[1], 2), [])
    found = [stored async for stored in store.lots()]
    assert [s.id for s in found] == ids
    assert [s.title for s in found] == ["t0", "t1", "t2"]
    assert [len(s.events) for s in found] == [0, 2, 0]


@pytest.mark.parametrize("lots_per_read", [1, 4, 64])
async def test_lots_gives_each_lot_what_lot_gives_whatever_the_reads_are_cut_into(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, lots_per_read: int
) -> None:
    for module in (sqlite_module, redis_module):
        monkeypatch.setattr(module, "_LOTS_PER_READ", lots_per_read)
    ids = [await store.create_lot(SPEC, f"t{i}") for i in range(11)]
    histories = {lot: history(lot, 3 + 2 * i) if i else [] for i, lot in enumerate(ids)}  # the first: no event
    # Lots interleaved in every batch, as the journal writes them, and snapshots at various seqs.
    for upto in range(1, 24, 5):
        batch = [e for lot in ids for e in histories[lot] if upto <= e.seq < upto + 5]
        snaps = [state_after(lot, histories[lot][:upto]) for lot in ids[1::3] if len(histories[lot]) >= upto]
        await store.write(batch, snaps)
    await store.write([], [state_after(ids[5], histories[ids[5]])])  # nothing after this one
    await store.add_bidder(ids[2], 501, 3)
    await store.add_bidder(ids[2], 502, None)
    found = [stored async for stored in store.lots()]
    assert found == [await store.lot(lot) for lot in ids]
    for stored in found:
        first = stored.snapshot.seq if stored.snapshot else 0
        assert stored.events == histories[stored.id][first:]
        if stored.snapshot is not None:
            assert stored.snapshot == state_after(stored.id, histories[stored.id][:first])
    assert [s.snapshot is not None for s in found] == [i % 3 == 1 or i == 5 for i in range(11)]
    assert found[5].events == [] and found[0].events == []
    assert found[2].bidders == [(501, Registrant("0001", 3)), (502, Registrant("0002", None))]


async def test_lots_reads_event_bodies_byte_for_byte(store: SqliteStore) -> None:
    # Recovery reads many bodies end to end: bytes that are no text (NUL, 0xff, a lone UTF-8
    # continuation byte) must come back exactly.
    lot = await store.create_lot(SPEC, "")
    odd = [Opened(lot=lot, seq=1, ts=0, ends_at=None),
           BidPlaced(lot=lot, seq=2, ts=255, actor=0, req="\x00\uffff é", amount=0xFF_00_FF,
                     bidder="\x00", user=2**63 - 1, ends_at=-1, floor=True)]  # fmt: skip
    await store.write(odd, [])
    assert b"\x00" in encode(odd[1]) and b"\xff" in encode(odd[1])
    [stored] = [s async for s in store.lots()]
    assert stored.events == odd


# ---------------------------------------------------------------------- bidders


async def test_add_bidder_numbers_bidders_per_lot_and_keeps_a_users_number(store: SqliteStore, opener: Opener) -> None:
    a = await store.create_lot(SPEC, "")
    b = await store.create_lot(SPEC, "")
    assert await store.add_bidder(a, 501, 3) == Registrant("0001", 3)
    assert await store.add_bidder(a, 502, None) == Registrant("0002", None)
    assert await store.add_bidder(a, 501, 3) == Registrant("0001", 3)  # same user, same number
    assert await store.add_bidder(b, 502, None) == Registrant("0001", None)  # numbering is per lot
    assert await store.add_bidder(a, 503, 4) == Registrant("0003", 4)
    stored = await store.lot(a)
    assert stored is not None
    assert sorted(stored.bidders) == [(501, Registrant("0001", 3)), (502, Registrant("0002", None)),
                                      (503, Registrant("0003", 4))]  # fmt: skip
    other = await reopened(opener)
    try:
        assert await other.add_bidder(a, 502, None) == Registrant("0002", None)
        assert await other.add_bidder(a, 504, None) == Registrant("0004", None)
    finally:
        await other.close()


async def test_add_bidders_numbers_as_add_bidder_does_and_the_relational_table_has_them(store: SqliteStore) -> None:
    a = await store.create_lot(SPEC, "")
    b = await store.create_lot(SPEC, "")
    await store.add_bidder(a, 500, None)
    found = await store.add_bidders([(a, 501, 3), (b, 501, 3), (a, 500, None), (a, 502, None), (a, 501, 3)])
    assert found == [Registrant("0002", 3), Registrant("0001", 3), Registrant("0001", None),
                     Registrant("0003", None), Registrant("0002", 3)]  # fmt: skip
    # Pages, registrations and deals JOIN SQLite's bidders, whichever store keeps the lots.
    rows = await store.fetchall("SELECT lot, user, number, org FROM bidders ORDER BY lot, user")
    assert [tuple(r) for r in rows] == [(a, 500, "0001", None), (a, 501, "0002", 3), (a, 502, "0003", None),
                                        (b, 501, "0001", 3)]  # fmt: skip
