"""Small reads and writes that every domain's SQL module does inside a caller's transaction.

One copy of each: the first row of a query, and an INSERT of a row given as column → value
(the column names are the caller's own constants, never input; the values are parameters).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

import aiosqlite


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
