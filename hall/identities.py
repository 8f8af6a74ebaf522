"""Identities (AC-3): after real-name verification an account applies to act as a university,
a research institute, a state-owned enterprise, an enterprise, a technology-transfer
organisation or an expert, with its documents; staff review it (kind ``identity`` of the review
mechanism, ``hall/reviews``). An approved identity may open a shop (``hall/shops.py``).

The organisation kinds need an organisational verification: the identity is the account's
organisation's (``users.org``). Expert is personal: no organisation.

An account holds at most one identity of each kind. While it is pending or approved a second
application of that kind is refused; a rejected one is edited and resubmitted (the same row, a
new application with the new documents).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.reviews import Application, Document, Fact, Invalid, Kind, ReviewError, Reviews, Summary, register, submit
from hall.store import identities as sql
from hall.store.sqlite import SqliteStore
from hall.uploads import Written
from hall.store.rows import one

KIND: Final = "identity"
ORG_KINDS: Final = ("university", "institute", "soe", "enterprise", "transfer")
EXPERT: Final = "expert"
KINDS: Final = (*ORG_KINDS, EXPERT)
"""University, research institute, state-owned enterprise, enterprise, technology-transfer
organisation, expert (AC-3)."""
MAX_DOCUMENTS: Final = 4
"""Documents one application hands in (together within the upload body limit, 10 MiB)."""


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    user: int
    org: int | None
    org_name: str | None
    kind: str
    state: str
    """``pending``, ``approved`` or ``rejected``: driven by its applications' decisions."""
    created_at: int
    updated_at: int
    holder: str
    """The organisation's name, or the expert's (the account's verified name)."""
    documents: tuple[Document, ...] = ()


async def _with_documents(store: SqliteStore, rows: Sequence[sqlite3.Row]) -> list[Identity]:
    documents: dict[int, list[Document]] = {}
    for identity, file_id, name in await sql.identity_documents(store, [r[0] for r in rows]):
        documents.setdefault(identity, []).append(Document(file_id, name))
    return [Identity(id=r[0], user=r[1], org=r[2], org_name=r[3], kind=r[4], state=r[5], created_at=r[6],
                     updated_at=r[7], holder=r[3] or r[8], documents=tuple(documents.get(r[0], ()))) for r in rows]


async def identities_of(store: SqliteStore, user: int) -> list[Identity]:
    """The account's identities, newest first."""
    return await _with_documents(store, await store.fetchall(f"{sql.IDENTITY_COLUMNS} WHERE i.user = ?"
                                                             " ORDER BY i.id DESC", (user,)))  # fmt: skip


async def identity(store: SqliteStore, identity_id: int) -> Identity | None:
    found = await _with_documents(store, await store.fetchall(f"{sql.IDENTITY_COLUMNS} WHERE i.id = ?", (identity_id,)))
    return found[0] if found else None


async def apply(reviews: Reviews, *, user: int, kind: str, documents: Sequence[Written], now: int) -> int:
    """Apply for (or, after a rejection, resubmit) the identity ``kind`` with its documents: its
    id. Consumes ``documents``: recorded with the application, or removed from disk."""
    try:
        if kind not in KINDS:
            raise Invalid("kind", "err_identity_kind")
        if not 1 <= len(documents) <= MAX_DOCUMENTS:
            raise Invalid("documents", "err_identity_documents", code="missing_file", n=MAX_DOCUMENTS)
        async with reviews.store.transaction() as tx:
            account = await one(tx, "SELECT verified, org FROM users WHERE id = ?", (user,))
            if account is None or not account[0]:
                raise ReviewError(403, "not_verified", "err_identity_not_verified")
            org = account[1] if kind != EXPERT else None
            if kind != EXPERT and org is None:
                raise ReviewError(403, "org_required", "err_identity_org_required")
            found = await one(tx, "SELECT id, state FROM identities WHERE user = ? AND kind = ?", (user, kind))
            if found is not None and found[1] == "pending":
                raise ReviewError(409, "pending", "err_application_pending")
            if found is not None and found[1] == "approved":
                raise ReviewError(409, "identity_exists", "err_identity_exists")
            files = await reviews.record(tx, user, documents, now)
            if found is None:
                cursor = await tx.execute(
                    "INSERT INTO identities (user, org, kind, state, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'pending', ?, ?)",
                    (user, org, kind, now, now),
                )
                identity_id = cursor.lastrowid
                assert identity_id is not None
            else:
                identity_id = int(found[0])
                await tx.execute("UPDATE identities SET org = ?, state = 'pending', updated_at = ? WHERE id = ?",
                                 (org, now, identity_id))  # fmt: skip
            await sql.set_identity_documents(tx, identity_id, files)
            await submit(tx, kind=KIND, subject=identity_id, applicant=user, now=now, documents=files)
    except BaseException:
        await reviews.discard(documents)
        raise
    return identity_id


class IdentityKind(Kind):
    kind = KIND
    label = "identity_application"
    approved_sms = "identity_approved"
    rejected_sms = "identity_rejected"

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        await sql.set_state(tx, "identities", application.subject, "approved", now)
        return {}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        await sql.set_state(tx, "identities", application.subject, "rejected", now)
        return {}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        subjects = {a.subject for a in applications}
        marks = ",".join("?" * len(subjects))
        rows = await reviews.store.fetchall(f"{sql.IDENTITY_COLUMNS} WHERE i.id IN ({marks})", tuple(subjects))
        found = {r[0]: r for r in rows}
        summaries = {}
        for a in applications:
            row = found.get(a.subject)
            if row is not None:
                kind = str(row[4])
                summaries[a.id] = Summary(title=str(row[3] or row[8]), facts=(
                    Fact("identity_kind", f"identity_kind_{kind}", key=True),
                    Fact("identity_holder", "personal" if kind == EXPERT else "organisation", key=True)))  # fmt: skip
        return summaries


register(IdentityKind())
