"""The embedded store: one SQLite file in WAL mode with ``synchronous=FULL``.

Two connections: one writer, behind an asyncio lock so that each write transaction is whole
(aiosqlite runs every call on its own thread, so calls of two coroutines could otherwise
interleave inside one transaction), and one reader, which WAL lets run beside the writer.
Events are stored as msgpack in commit order (rowid), with a unique (lot, seq) index: a
lot's events are one range of that index, read back in order without a sort, and appends
land at the end of the table. (Keying the table itself by (lot, seq), WITHOUT ROWID, wrote
a fifth slower here: interleaved lots make every batch touch pages all over the tree.)
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import aiosqlite
import msgspec

from hall.engine import AnyEvent, LotSpec, LotState, Registrant
from hall.engine.events import decode, encode
from hall.listing import LotDetails
from hall.store.base import StoredLot, StoreError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE lots (
        id INTEGER PRIMARY KEY,
        spec BLOB NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (lot, seq)
    );
    CREATE TABLE snapshots (
        lot INTEGER PRIMARY KEY REFERENCES lots(id),
        seq INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE TABLE bidders (
        lot INTEGER NOT NULL REFERENCES lots(id),
        user INTEGER NOT NULL,
        number TEXT NOT NULL,
        org INTEGER,
        PRIMARY KEY (lot, user),
        UNIQUE (lot, number)
    );
    """,
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        org INTEGER REFERENCES orgs(id),
        verified INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE roles (
        user INTEGER NOT NULL REFERENCES users(id),
        role TEXT NOT NULL,
        granted_by INTEGER REFERENCES users(id),
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (user, role)
    );
    CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        user INTEGER NOT NULL REFERENCES users(id),
        label TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        owner INTEGER NOT NULL REFERENCES users(id),
        stored_name TEXT NOT NULL UNIQUE,
        original_name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE verifications (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL,
        real_name TEXT NOT NULL,
        org_name TEXT,
        org_kind TEXT,
        document INTEGER REFERENCES files(id),
        status TEXT NOT NULL,
        reason TEXT,
        reviewer INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        reviewed_at INTEGER
    );
    CREATE TABLE registrations (
        id INTEGER PRIMARY KEY,
        lot INTEGER NOT NULL REFERENCES lots(id),
        user INTEGER NOT NULL REFERENCES users(id),
        letter INTEGER NOT NULL REFERENCES files(id),
        status TEXT NOT NULL,
        reason TEXT,
        reviewer INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        reviewed_at INTEGER,
        UNIQUE (lot, user)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        phone TEXT NOT NULL,
        template TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        user INTEGER NOT NULL REFERENCES users(id),
        outbox INTEGER UNIQUE REFERENCES outbox(id),
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        read_at INTEGER
    );
    ALTER TABLE lots ADD COLUMN session TEXT NOT NULL DEFAULT '';
    """,
    """
    ALTER TABLE lots ADD COLUMN details BLOB;
    """,
)
"""Schema versions in order; ``PRAGMA user_version`` says how many have run. Append only."""

_encoder = msgspec.msgpack.Encoder()
_spec_decoder = msgspec.msgpack.Decoder(LotSpec)
_state_decoder = msgspec.msgpack.Decoder(LotState)
_details_decoder = msgspec.msgpack.Decoder(LotDetails)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Callers see StoreError, whatever the database said."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc


async def _connect(path: str) -> aiosqlite.Connection:
    # IMMEDIATE: the first write of a transaction takes the write lock, so a group commit is
    # two calls on the database thread (executemany, commit), not four.
    db = await aiosqlite.connect(path, isolation_level="IMMEDIATE")
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("PRAGMA busy_timeout=5000")
    await db.execute("PRAGMA cache_size=-65536")  # 64 MiB: the hot end of the (lot, seq) index stays in memory
    await db.execute("PRAGMA foreign_keys=ON")
    return db


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with _errors():
            self._writer = await _connect(self.path)
            # Checkpoints run inside the commit that crosses the threshold; at the default
            # (1,000 pages) they cost group commit about a fifth of its rate here.
            await self._writer.execute("PRAGMA wal_autocheckpoint=10000")
            await self._migrate(self._writer)
            # An in-memory database exists once per connection: there the writer also reads.
            self._reader = self._writer if self.path == ":memory:" else await _connect(self.path)

    async def close(self) -> None:
        for db in {id(db): db for db in (self._reader, self._writer) if db is not None}.values():
            await db.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("store is not open")
        return self._reader

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    # ------------------------------------------------------------------ writes

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer, whole: committed on exit, rolled back on error.

        Every write outside the journal goes through here, so that no two interleave.
        """
        async with self._lock:
            with _errors():
                db = self.writer
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    await db.rollback()
                    raise
                await db.commit()

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        with _errors():
            async with self.reader.execute(sql, params) as cur:
                return await cur.fetchone()

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with _errors():
            async with self.reader.execute(sql, params) as cur:
                return list(await cur.fetchall())

    async def create_lot(self, spec: LotSpec, title: str, session: str = "", details: LotDetails | None = None) -> int:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO lots (spec, title, session, details, created_at) VALUES (?, ?, ?, ?, ?)",
                (_encoder.encode(spec), title, session, _encoder.encode(details or LotDetails()),
                 int(time.time() * 1000)),
            )
            lot_id = cursor.lastrowid
        assert lot_id is not None
        return lot_id

    async def add_bidder(self, lot: int, user: int, org: int | None) -> Registrant:
        async with self.transaction() as db:
            async with db.execute("SELECT number, org FROM bidders WHERE lot = ? AND user = ?", (lot, user)) as cur:
                found = await cur.fetchone()
            if found is not None:
                return Registrant(found[0], found[1])
            async with db.execute("SELECT count(*) FROM bidders WHERE lot = ?", (lot,)) as cur:
                count = await cur.fetchone()
            assert count is not None
            registrant = Registrant(f"{count[0] + 1:04d}", org)
            await db.execute(
                "INSERT INTO bidders (lot, user, number, org) VALUES (?, ?, ?, ?)",
                (lot, user, registrant.number, org),
            )
        return registrant

    async def write(self, events: Sequence[AnyEvent], snapshots: Sequence[LotState]) -> None:
        rows = [(e.lot, e.seq, encode(e)) for e in events]
        snaps = [(s.id, s.seq, _encoder.encode(s)) for s in snapshots]
        async with self._lock:
            with _errors():
                db = self.writer
                try:
                    await db.executemany("INSERT INTO events (lot, seq, body) VALUES (?, ?, ?)", rows)
                    if snaps:
                        await db.executemany(
                            "INSERT OR REPLACE INTO snapshots (lot, seq, body) VALUES (?, ?, ?)", snaps
                        )
                    await db.commit()
                except BaseException:
                    if db.in_transaction:
                        await db.rollback()
                    raise

    # ------------------------------------------------------------------ reads

    async def lots(self) -> AsyncIterator[StoredLot]:
        async with self.reader.execute("SELECT id FROM lots ORDER BY id") as cur:
            ids = [row[0] for row in await cur.fetchall()]
        for lot_id in ids:
            stored = await self.lot(lot_id)
            if stored is not None:
                yield stored

    async def lot(self, lot: int) -> StoredLot | None:
        db = self.reader
        async with db.execute("SELECT spec, title, session, details FROM lots WHERE id = ?", (lot,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        spec, title, session = _spec_decoder.decode(row[0]), row[1], row[2]
        details = _details_decoder.decode(row[3]) if row[3] is not None else LotDetails()
        async with db.execute("SELECT body FROM snapshots WHERE lot = ?", (lot,)) as cur:
            snap_row = await cur.fetchone()
        snapshot = _state_decoder.decode(snap_row[0]) if snap_row else None
        events = await self.events_since(lot, snapshot.seq if snapshot else 0)
        async with db.execute("SELECT user, number, org FROM bidders WHERE lot = ?", (lot,)) as cur:
            bidders = [(u, Registrant(n, o)) for u, n, o in await cur.fetchall()]
        return StoredLot(id=lot, spec=spec, title=title, session=session, details=details, snapshot=snapshot,
                         events=events, bidders=bidders)  # fmt: skip

    async def events_since(self, lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        async with self.reader.execute(
            "SELECT body FROM events WHERE lot = ? AND seq > ? ORDER BY seq LIMIT ?", (lot, seq, limit)
        ) as cur:
            return [decode(row[0]) for row in await cur.fetchall()]
