"""What only the SQLite store has: schema and migrations, its pragmas, rows as blobs, foreign
keys, the mapped reads of recovery, an in-memory database. The Store contract both stores
hold is tests/test_store.py's."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from storekit import SPEC, bid, history, state_after

from hall.engine.events import encode
from hall.record import GENESIS, link
from hall.store import SqliteStore, StoreError
from hall.store import sqlite as sqlite_module

pytestmark = pytest.mark.anyio


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


# ---------------------------------------------------------------------- write


async def test_a_batch_of_several_lots_is_stored_in_its_order_with_each_lots_chain(store: SqliteStore) -> None:
    """Rows in the batch's order (ids ascending), each with its body and the digest after it in
    its lot's chain, both stored as blobs (the store binds them as bytearrays). What every store
    gives back of it is tests/test_store.py's."""
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


# ---------------------------------------------------------------------- snapshots and lot()


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
