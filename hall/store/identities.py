"""The SQL of identities (AC-3) and shops (AC-4): the ``identities``, ``identity_documents`` and
``shops`` tables of schema 5. Writes take the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

import aiosqlite

from hall.store.sqlite import SqliteStore

IDENTITY_COLUMNS: Final = """
    SELECT i.id, i.user, i.org, o.name, i.kind, i.state, i.created_at, i.updated_at, u.name
    FROM identities i JOIN users u ON u.id = i.user LEFT JOIN orgs o ON o.id = i.org
"""
"""In the order of ``hall.identities.Identity``'s fields (its documents apart)."""
SHOP_COLUMNS: Final = """
    SELECT s.id, s.owner, s.identity, i.kind, s.org, s.name, s.contact_name, s.contact_phone, s.contact_email,
           s.intro, s.terms_version, s.terms_accepted_at, s.state, s.created_at, s.updated_at
    FROM shops s JOIN identities i ON i.id = s.identity
"""
"""In the order of ``hall.shops.Shop``'s fields."""



async def identity_documents(store: SqliteStore, identities: Sequence[int]) -> list[sqlite3.Row]:
    """(identity, file id, original name) of each identity's current documents."""
    if not identities:
        return []
    marks = ",".join("?" * len(identities))
    return await store.fetchall(
        f"SELECT d.identity, f.id, f.original_name FROM identity_documents d JOIN files f ON f.id = d.file"
        f" WHERE d.identity IN ({marks}) ORDER BY d.identity, f.id",
        tuple(identities),
    )


async def set_identity_documents(tx: aiosqlite.Connection, identity: int, files: Sequence[int]) -> None:
    """The identity's documents become ``files`` (a resubmission hands in a new set; the old
    ones stay with the earlier application, ``application_documents``)."""
    await tx.execute("DELETE FROM identity_documents WHERE identity = ?", (identity,))
    await tx.executemany("INSERT INTO identity_documents (identity, file) VALUES (?, ?)",
                         [(identity, f) for f in files])  # fmt: skip


async def set_state(tx: aiosqlite.Connection, table: str, row: int, state: str, now: int) -> None:
    assert table in ("identities", "shops")
    await tx.execute(f"UPDATE {table} SET state = ?, updated_at = ? WHERE id = ?", (state, now, row))


async def grant_seller(tx: aiosqlite.Connection, user: int, by: int, now: int) -> None:
    await tx.execute("INSERT OR IGNORE INTO roles (user, role, granted_by, granted_at) VALUES (?, 'seller', ?, ?)",
                     (user, by, now))  # fmt: skip


async def revoke_seller(tx: aiosqlite.Connection, user: int) -> None:
    await tx.execute("DELETE FROM roles WHERE user = ? AND role = 'seller'", (user,))
