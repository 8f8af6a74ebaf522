"""The SQLite store: schema and migrations, durability settings, atomic writes, reads back."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite
import pytest

from hall.engine import AnyEvent, BidPlaced, Lot, LotSpec, LotState, Registrant
from hall.engine.events import Opened, encode
from hall.record import GENESIS, link
from hall.store import SqliteStore, StoreError
from hall.store import sqlite as sqlite_module

pytestmark = pytest.mark.anyio

SPEC = LotSpec(seller_org=9, start_price=1_000, increment=100, publicity_start=0, bidding_start=1, end=10**13)


def bid(lot: int, seq: int) -> BidPlaced:
    return BidPlaced(lot=lot, seq=seq, ts=seq, actor=7, req=f"r{lot}-{seq}",
                     amount=1_000 + 100 * seq, bidder="0001", user=7, ends_at=10**13)  # fmt: skip


def history(lot: int, upto: int) -> list[AnyEvent]:
    """An opened lot and bids after it: seqs 1..upto."""
    return [Opened(lot=lot, seq=1, ts=1, ends_at=10**13), *(bid(lot, s) for s in range(2, upto + 1))]


def state_after(lot: int, events: Sequence[AnyEvent]) -> LotState:
    engine = Lot(lot, SPEC)
    for event in events:
        engine.apply(event)
    return engine.snapshot()


async def pragma(db: aiosqlite.Connection, name: str) -> object:
    async with db.execute(f"PRAGMA {name}") as cur:
        row = await cur.fetchone()
    assert row is not None
    return row[0]


async def tables(db: aiosqlite.Connection) -> set[str]:
    async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        return {row[0] for row in await cur.fetchall()}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hall.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(db_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def reopened(path: Path) -> SqliteStore:
    s = SqliteStore(path)
    await s.open()
    return s


# ---------------------------------------------------------------------- schema


async def test_a_new_database_gets_every_migration_and_its_user_version(store: SqliteStore) -> None:
    assert await pragma(store.writer, "user_version") == len(sqlite_module.MIGRATIONS)
    assert {"lots", "events", "snapshots", "bidders"} <= await tables(store.writer)


async def test_reopening_runs_no_migration_twice_and_keeps_the_data(db_path: Path) -> None:
    first = await reopened(db_path)
    try:
        lot = await first.create_lot(SPEC, "专利")
        await first.write(history(lot, 3), [])
    finally:
        await first.close()
    second = await reopened(db_path)  # re-running migration 1 would fail: its tables exist
    try:
        assert await pragma(second.writer, "user_version") == len(sqlite_module.MIGRATIONS)
        assert [e.seq for e in await second.events_since(lot, 0)] == [1, 2, 3]
    finally:
        await second.close()


async def test_an_older_database_runs_only_the_migrations_it_lacks(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await reopened(db_path)
    try:
        lot = await old.create_lot(SPEC, "旧")
    finally:
        await old.close()
    version = len(sqlite_module.MIGRATIONS)
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", (*sqlite_module.MIGRATIONS, "ALTER TABLE lots ADD COLUMN note TEXT;"))
    new = await reopened(db_path)
    try:
        assert await pragma(new.writer, "user_version") == version + 1
        async with new.writer.execute("SELECT id, title, note FROM lots") as cur:
            assert [tuple(row) for row in await cur.fetchall()] == [(lot, "旧", None)]
    finally:
        await new.close()


async def test_a_failing_migration_leaves_schema_and_version_as_they_were(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await reopened(db_path)
    await first.close()
    version = len(sqlite_module.MIGRATIONS)
    broken = "CREATE TABLE extra (x INTEGER);\nCREATE TABLE lots (x INTEGER);"  # second one fails
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", (*sqlite_module.MIGRATIONS, broken))
    failing = SqliteStore(db_path)
    try:
        with pytest.raises((sqlite3.Error, StoreError)):
            await failing.open()
    finally:
        await failing.close()
    monkeypatch.undo()
    again = await reopened(db_path)
    try:
        assert await pragma(again.writer, "user_version") == version
        assert "extra" not in await tables(again.writer)
    finally:
        await again.close()


async def test_the_codes_migration_keeps_every_sms_and_inbox_row_and_their_links(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 4 rebuilds the outbox (its user becomes optional, for a code to a phone with no
    account): a database of version 3 keeps its messages, their ids and the inbox's links."""
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", sqlite_module.MIGRATIONS[:3])
    old = await reopened(db_path)
    try:
        async with old.transaction() as tx:
            await tx.execute("INSERT INTO users (id, phone, password_hash, created_at) VALUES (1, '13800138000', 'h', 0)")
            await tx.execute("INSERT INTO outbox (id, user, phone, template, body, status, next_attempt_at, created_at)"
                             " VALUES (7, 1, '13800138000', 'verification_approved', '已通过', 'sent', 0, 0)")
            await tx.execute("INSERT INTO inbox (user, outbox, body, created_at) VALUES (1, 7, '已通过', 0)")
    finally:
        await old.close()
    monkeypatch.undo()
    new = await reopened(db_path)
    try:
        assert await pragma(new.writer, "user_version") == len(sqlite_module.MIGRATIONS)
        assert await pragma(new.writer, "foreign_keys") == 1  # on again after the migration
        async with new.writer.execute("SELECT o.id, o.user, o.body, i.body FROM outbox o JOIN inbox i ON i.outbox = o.id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(7, 1, "已通过", "已通过")]
        async with new.transaction() as tx:  # a message to a phone with no account
            await tx.execute("INSERT INTO outbox (user, phone, template, body, status, next_attempt_at, created_at)"
                             " VALUES (NULL, '13900139000', 'code_signup', 'x', 'pending', 0, 0)")
        with pytest.raises(StoreError):  # and the inbox's foreign key still holds
            async with new.transaction() as tx:
                await tx.execute("INSERT INTO inbox (user, outbox, body, created_at) VALUES (1, 999, 'x', 0)")
        assert "codes" in await tables(new.writer)
    finally:
        await new.close()


async def test_both_connections_use_wal_and_synchronous_full(store: SqliteStore, db_path: Path) -> None:
    for db in (store.writer, store.reader):
        assert await pragma(db, "journal_mode") == "wal"
        assert await pragma(db, "synchronous") == 2  # FULL
        assert await pragma(db, "foreign_keys") == 1
    assert db_path.with_name(db_path.name + "-wal").exists()


async def test_a_closed_store_refuses_with_store_error(db_path: Path) -> None:
    s = await reopened(db_path)
    await s.close()
    with pytest.raises(StoreError):
        await s.write([bid(1, 1)], [])
    with pytest.raises(StoreError):
        await s.events_since(1, 0)


# ---------------------------------------------------------------------- write


async def test_write_is_durable_for_a_second_connection(store: SqliteStore, db_path: Path) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 4), [])
    other = await reopened(db_path)
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
    # The failure left no transaction open: the next write commits normally.
    await store.write([bid(lot, 3)], [])
    assert [e.seq for e in await store.events_since(lot, 0)] == [1, 2, 3]


async def test_a_batch_with_a_duplicate_inside_it_writes_nothing(store: SqliteStore, db_path: Path) -> None:
    lot = await store.create_lot(SPEC, "")
    other_lot = await store.create_lot(SPEC, "")
    with pytest.raises(StoreError):
        await store.write([*history(other_lot, 2), *history(lot, 3), bid(lot, 3)], [])
    assert await store.events_since(lot, 0) == []
    assert await store.events_since(other_lot, 0) == []
    fresh = await reopened(db_path)  # nothing reached the file either
    try:
        async with fresh.reader.execute("SELECT count(*) FROM events") as cur:
            assert await cur.fetchone() == (0,)
    finally:
        await fresh.close()


async def test_a_batch_of_several_lots_is_stored_in_its_order_with_each_lots_chain(store: SqliteStore) -> None:
    """Rows in the batch's order (ids ascending), each with its body and the digest after it in
    its lot's chain, both stored as blobs (the store binds them as bytearrays)."""
    lots = [await store.create_lot(SPEC, "") for _ in range(3)]
    batch = [bid(lots[i % 3], i // 3 + 1) for i in range(500)]
    await store.write(batch, [])
    async with store.reader.execute(
        "SELECT lot, seq, body, digest, typeof(body), typeof(digest) FROM events ORDER BY id"
    ) as cur:
        rows = await cur.fetchall()
    assert [(lot, seq) for lot, seq, *_ in rows] == [(e.lot, e.seq) for e in batch]
    assert [row[2] for row in rows] == [encode(e) for e in batch]
    heads = dict.fromkeys(lots, GENESIS)
    for row, event in zip(rows, batch, strict=True):
        heads[event.lot] = link(heads[event.lot], event)
        assert row[3] == heads[event.lot]
    assert {(row[4], row[5]) for row in rows} == {("blob", "blob")}


async def test_a_batch_whose_snapshot_fails_writes_none_of_its_events(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "")
    ghost = state_after(lot + 100, history(lot + 100, 2))  # no such lot: the foreign key refuses it
    with pytest.raises(StoreError):
        await store.write(history(lot, 3), [ghost])
    assert await store.events_since(lot, 0) == []


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
    assert await store.events_since(a, 9) == []
    assert await store.events_since(a + b + 1, 0) == []


# ---------------------------------------------------------------------- snapshots and lot()


async def test_a_new_snapshot_replaces_the_old_one(store: SqliteStore) -> None:
    lot = await store.create_lot(SPEC, "")
    events = history(lot, 7)
    await store.write(events[:3], [state_after(lot, events[:3])])
    await store.write(events[3:5], [state_after(lot, events[:5])])
    await store.write(events[5:], [])
    async with store.reader.execute("SELECT lot, seq FROM snapshots") as cur:
        assert [tuple(row) for row in await cur.fetchall()] == [(lot, 5)]
    stored = await store.lot(lot)
    assert stored is not None
    assert stored.snapshot == state_after(lot, events[:5])


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
    monkeypatch.setattr(sqlite_module, "_LOTS_PER_READ", lots_per_read)
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
    # Recovery reads many bodies end to end through SQLite's text type: bytes that are no
    # text (NUL, 0xff, a lone UTF-8 continuation byte) must come back exactly.
    lot = await store.create_lot(SPEC, "")
    odd = [Opened(lot=lot, seq=1, ts=0, ends_at=None),
           BidPlaced(lot=lot, seq=2, ts=255, actor=0, req="\x00\uffff é", amount=0xFF_00_FF,
                     bidder="\x00", user=2**63 - 1, ends_at=-1, floor=True)]  # fmt: skip
    await store.write(odd, [])
    assert b"\x00" in sqlite_module.encode(odd[1]) and b"\xff" in sqlite_module.encode(odd[1])
    [stored] = [s async for s in store.lots()]
    assert stored.events == odd


async def test_lots_left_part_way_leaves_the_store_usable(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_LOTS_PER_READ", 1)
    ids = [await store.create_lot(SPEC, "") for _ in range(3)]
    await store.write([e for lot in ids for e in history(lot, 2)], [])
    lots = store.lots()
    assert (await anext(lots)).id == ids[0]  # the read of the next lot is in flight
    assert await pragma(store.reader, "mmap_size") > 0  # mapped while recovery reads
    await lots.aclose()
    assert await pragma(store.reader, "mmap_size") == 0  # and no longer
    assert await store.lot(ids[2]) is not None
    assert [s.id async for s in store.lots()] == ids
    assert await pragma(store.reader, "mmap_size") == 0


# ---------------------------------------------------------------------- bidders


async def test_add_bidder_numbers_bidders_per_lot_and_keeps_a_users_number(store: SqliteStore, db_path: Path) -> None:
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
    other = await reopened(db_path)
    try:
        assert await other.add_bidder(a, 502, None) == Registrant("0002", None)
        assert await other.add_bidder(a, 504, None) == Registrant("0004", None)
    finally:
        await other.close()


async def test_an_in_memory_store_reads_what_it_wrote() -> None:
    # open() accepts ":memory:" (it skips making a directory for it), so the store must work
    # there too: its reader has to see the writer's database, not a second, empty one.
    s = SqliteStore(":memory:")
    await s.open()
    try:
        lot = await s.create_lot(SPEC, "内存")
        await s.write(history(lot, 2), [])
        stored = await s.lot(lot)
        assert stored is not None
        assert stored.events == history(lot, 2)
    finally:
        await s.close()
