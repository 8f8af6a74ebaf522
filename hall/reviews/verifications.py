"""Real-name verification (AC-2) as a kind of application: personal, or organisational with
its certificate. The ``verifications`` table keeps each application's details and a status
the review mechanism drives; approval verifies the account (in its organisation)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.reviews import Application, Fact, Kind, ReviewError, Reviews, Summary, register, submit
from hall.store.people import org_in, verify_in
from hall.uploads import Written
from hall.store.rows import one

ORG_KINDS: Final = ("university", "institute", "soe", "enterprise", "transfer", "other")
"""University, research institute, state-owned enterprise, enterprise,
technology-transfer organisation, other (AC-2, AC-3)."""
PERSONAL: Final = "personal"
ORGANISATION: Final = "organisation"
KIND: Final = "verification"
UNVERIFIED: Final = "none"
"""The state of an account that is not verified and never applied (``/api/me`` says it too)."""


@dataclass(frozen=True, slots=True)
class Verification:
    id: int
    user: int
    phone: str
    kind: str
    real_name: str
    org_name: str | None
    org_kind: str | None
    document: int | None
    document_name: str | None
    status: str
    reason: str | None
    created_at: int
    reviewed_at: int | None


_SQL: Final = """
    SELECT v.id, v.user, u.phone, v.kind, v.real_name, v.org_name, v.org_kind, v.document, f.original_name,
           v.status, v.reason, v.created_at, v.reviewed_at
    FROM verifications v JOIN users u ON u.id = v.user LEFT JOIN files f ON f.id = v.document
"""


def _verification(row: sqlite3.Row) -> Verification:
    return Verification(*row)



async def verifications_of(reviews: Reviews, user: int) -> list[Verification]:
    rows = await reviews.store.fetchall(f"{_SQL} WHERE v.user = ? ORDER BY v.id DESC", (user,))
    return [_verification(r) for r in rows]


def state_of(verified: bool, latest: str | None) -> str:
    """An account's verification state: ``approved`` once verified (whatever verified it), else
    its latest application's status (``pending``, ``rejected``), else ``none``."""
    return "approved" if verified else latest or UNVERIFIED


async def apply(
    reviews: Reviews, *, user: int, kind: str, real_name: str, org_name: str | None, org_kind: str | None,
    document: Written | None, now: int,
) -> int:  # fmt: skip
    """File an application; one pending at a time, none once verified. Consumes ``document``:
    recorded with the application, or removed from disk. Its verification's id."""
    try:
        async with reviews.store.transaction() as tx:
            found = await one(tx, "SELECT verified FROM users WHERE id = ?", (user,))
            if found is None:
                raise ReviewError(404, "not_found", "err_no_account")
            if found[0]:
                raise ReviewError(409, "already_verified", "err_already_verified")
            if await one(tx, "SELECT 1 FROM verifications WHERE user = ? AND status = 'pending'", (user,)):
                raise ReviewError(409, "pending", "err_verification_pending")
            files = await reviews.record(tx, user, [document] if document else [], now)
            cursor = await tx.execute(
                "INSERT INTO verifications (user, kind, real_name, org_name, org_kind, document, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                (user, kind, real_name, org_name, org_kind, files[0] if files else None, now),
            )
            verification = cursor.lastrowid
            assert verification is not None
            await submit(tx, kind=KIND, subject=verification, applicant=user, now=now, documents=files)
    except BaseException:
        await reviews.discard([document] if document else [])
        raise
    return verification


async def _decided(tx: aiosqlite.Connection, application: Application, status: str, reason: str | None,
                   reviewer: int, now: int) -> None:  # fmt: skip
    await tx.execute("UPDATE verifications SET status = ?, reason = ?, reviewer = ?, reviewed_at = ? WHERE id = ?",
                     (status, reason, reviewer, now, application.subject))  # fmt: skip


class VerificationKind(Kind):
    kind = KIND
    label = "verification"
    approved_sms = "verification_approved"
    rejected_sms = "verification_rejected"

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        row = await one(tx, f"{_SQL} WHERE v.id = ?", (application.subject,))
        assert row is not None
        found = _verification(row)
        org = None
        if found.kind == ORGANISATION and found.org_name:
            org = await org_in(tx, found.org_name, found.org_kind or "other", now)
        await verify_in(tx, found.user, found.real_name or found.org_name or "", org)
        await _decided(tx, application, "approved", None, reviewer, now)
        return {}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        await _decided(tx, application, "rejected", reason, reviewer, now)
        return {}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        subjects = {a.subject: a.id for a in applications}
        marks = ",".join("?" * len(subjects))
        rows = await reviews.store.fetchall(f"{_SQL} WHERE v.id IN ({marks})", tuple(subjects))
        found = {}
        for row in rows:
            v = _verification(row)
            facts = [Fact("verification_kind", v.kind, key=True), Fact("real_name", v.real_name)]
            if v.org_kind:
                facts.append(Fact("org_kind", f"org_kind_{v.org_kind}", key=True))
            found[subjects[v.id]] = Summary(title=v.org_name or v.real_name, facts=tuple(facts))
        return found


register(VerificationKind())
