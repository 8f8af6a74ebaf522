"""The SQL of the one review mechanism (``hall/reviews``): applications, the documents handed in
with each, and the audit rows of every step.

Writes take the caller's transaction (``tx``): an application is filed in the same transaction
as what it asks for, and decided in the same transaction as the decision's effects and SMS.
Reads go through the store's reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

import aiosqlite

from hall.store.sqlite import SqliteStore
from hall.store.rows import one

COLUMNS: Final = "a.id, a.kind, a.subject, a.applicant, a.state, a.submitted_at, a.decided_at, a.decided_by, a.reason"
"""An application's columns, in the order of ``hall.reviews.Application``'s fields."""



async def has_pending(tx: aiosqlite.Connection, kind: str, subject: int) -> bool:
    return await one(tx, "SELECT 1 FROM applications WHERE kind = ? AND subject = ? AND state = 'pending'",
                      (kind, subject)) is not None  # fmt: skip


async def has_any(tx: aiosqlite.Connection, kind: str, subject: int) -> bool:
    return await one(tx, "SELECT 1 FROM applications WHERE kind = ? AND subject = ?", (kind, subject)) is not None


async def insert(
    tx: aiosqlite.Connection, *, kind: str, subject: int, applicant: int, now: int, documents: Sequence[int]
) -> int:
    cursor = await tx.execute(
        "INSERT INTO applications (kind, subject, applicant, state, submitted_at) VALUES (?, ?, ?, 'pending', ?)",
        (kind, subject, applicant, now),
    )
    application = cursor.lastrowid
    assert application is not None
    await tx.executemany("INSERT INTO application_documents (application, file) VALUES (?, ?)",
                         [(application, file) for file in dict.fromkeys(documents)])  # fmt: skip
    return application


async def audit(tx: aiosqlite.Connection, application: int, *, actor: int, action: str, reason: str | None,
                now: int) -> None:  # fmt: skip
    await tx.execute("INSERT INTO application_audit (application, actor, action, reason, at) VALUES (?, ?, ?, ?, ?)",
                     (application, actor, action, reason, now))  # fmt: skip


async def application_in(tx: aiosqlite.Connection, application: int) -> sqlite3.Row | None:
    return await one(tx, f"SELECT {COLUMNS} FROM applications a WHERE a.id = ?", (application,))


async def decide(tx: aiosqlite.Connection, application: int, *, state: str, reviewer: int, reason: str | None,
                 now: int) -> bool:  # fmt: skip
    """Record a decision on a pending application; False when it is no longer pending."""
    cursor = await tx.execute(
        "UPDATE applications SET state = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND state = 'pending'",
        (state, reviewer, now, reason, application),
    )
    return cursor.rowcount == 1


_LISTED: Final = f"""
    SELECT {COLUMNS}, u.name, u.phone FROM applications a JOIN users u ON u.id = a.applicant
"""


async def listed(store: SqliteStore, *, kind: str | None, states: Sequence[str] | None, limit: int,
                 newest_first: bool = False) -> list[sqlite3.Row]:  # fmt: skip
    """Applications of a kind (any, with None) in one of ``states`` (any, with None) with their
    applicant's name and phone, oldest submitted first (the queue's order) or latest decided
    first, at most ``limit``."""
    where: list[str] = []
    params: list[object] = []
    if kind is not None:
        where.append("a.kind = ?")
        params.append(kind)
    if states is not None:
        where.append(f"a.state IN ({','.join('?' * len(states))})")
        params.extend(states)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "a.decided_at DESC, a.id DESC" if newest_first else "a.submitted_at, a.id"
    return await store.fetchall(f"{_LISTED} {clause} ORDER BY {order} LIMIT ?", (*params, limit))


async def by_ids(store: SqliteStore, ids: Sequence[int]) -> list[sqlite3.Row]:
    marks = ",".join("?" * len(ids))
    return await store.fetchall(f"{_LISTED} WHERE a.id IN ({marks}) ORDER BY a.id DESC", tuple(ids)) if ids else []


async def of_subject(store: SqliteStore, kind: str, subjects: Sequence[int]) -> list[sqlite3.Row]:
    """Every application for these subjects of a kind, newest first."""
    if not subjects:
        return []
    marks = ",".join("?" * len(subjects))
    return await store.fetchall(f"{_LISTED} WHERE a.kind = ? AND a.subject IN ({marks}) ORDER BY a.id DESC",
                                (kind, *subjects))  # fmt: skip


async def documents(store: SqliteStore, applications: Sequence[int]) -> list[sqlite3.Row]:
    """(application, file id, original name) of the documents handed in with each."""
    if not applications:
        return []
    marks = ",".join("?" * len(applications))
    return await store.fetchall(
        f"SELECT d.application, f.id, f.original_name FROM application_documents d JOIN files f ON f.id = d.file"
        f" WHERE d.application IN ({marks}) ORDER BY d.application, f.id",
        tuple(applications),
    )


async def audit_rows(store: SqliteStore, applications: Sequence[int]) -> list[sqlite3.Row]:
    """(application, actor, actor's name, actor's phone, action, reason, at), in order."""
    if not applications:
        return []
    marks = ",".join("?" * len(applications))
    return await store.fetchall(
        f"SELECT t.application, t.actor, u.name, u.phone, t.action, t.reason, t.at FROM application_audit t"
        f" JOIN users u ON u.id = t.actor WHERE t.application IN ({marks}) ORDER BY t.at, t.id",
        tuple(applications),
    )
