"""Small reads and writes that every domain's SQL module does inside a caller's transaction.

One copy of each: the first row of a query, and an INSERT of a row given as column → value
(the column names are the caller's own constants, never input; the values are parameters).
``first`` and ``every`` read the same way from either a transaction or the store's reader, for
the reads a domain makes both inside a change and on a page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

import aiosqlite

from hall.store.sqlite import SqliteStore

Reader = SqliteStore | aiosqlite.Connection
"""Where a read may run: the store (its reader) or the caller's transaction."""


async def one(tx: aiosqlite.Connection, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
    """The first row ``sql`` gives, or None."""
    async with tx.execute(sql, params) as cur:
        row: sqlite3.Row | None = await cur.fetchone()
    return row


async def insert(tx: aiosqlite.Connection, table: str, values: Mapping[str, object]) -> int:
    """INSERT one row of ``table``; its rowid."""
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    cur = await tx.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def first(source: Reader, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
    """The first row ``sql`` gives from the store or a transaction, or None."""
    if isinstance(source, SqliteStore):
        return await source.fetchone(sql, params)
    return await one(source, sql, params)


async def every(source: Reader, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
    """Every row ``sql`` gives from the store or a transaction (the query bounds them)."""
    if isinstance(source, SqliteStore):
        return await source.fetchall(sql, params)
    async with source.execute(sql, params) as cur:
        return list(await cur.fetchall())
