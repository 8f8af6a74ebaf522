"""Applications staff review (AC-2 real-name verification, AU-3 bidder registration) and
their decisions, in the SQLite store.

Every decision is one transaction with the SMS that reports it (``hall.notify.enqueue``),
so an applicant is told exactly what was decided. The checks that decide whether an
application may be made or decided are repeated inside the transaction, where no other
writer can interleave, so two staff members deciding at once cannot both win.

Approving a registration also admits the bidder to the lot (``Runtime.register``), which
writes the store in its own transaction; that call must never run inside one of ours (the
store's write lock is not re-entrant). Registration decisions are therefore serialised by a
lock here, and admission comes first: it is idempotent (the same bidder number again), so
if the decision's transaction fails the registration stays pending and approving it again
completes it. A bidder once admitted cannot be rejected.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.engine import State
from hall.notify import enqueue
from hall.registration import beijing
from hall.runtime import Runtime
from hall.store.people import People, org_in, verify_in
from hall.store.sqlite import SqliteStore
from hall.uploads import FileStore, Written

ORG_KINDS: Final = ("university", "institute", "soe", "enterprise", "transfer", "other")
"""University, research institute, state-owned enterprise, enterprise,
technology-transfer organisation, other (AC-2, AC-3)."""
PERSONAL: Final = "personal"
ORGANISATION: Final = "organisation"
RECENT: Final = 50
"""Decisions listed under a staff queue."""


class ReviewError(Exception):
    """An application or decision refused: an HTTP status, a stable code, and the catalogue
    key (hall/web/i18n.py) of its message with the key's parameters, put into words where shown."""

    def __init__(self, status: int, code: str, key: str, **params: object) -> None:
        super().__init__(key)
        self.status = status
        self.code = code
        self.key = key
        self.params = params


def _not_found() -> ReviewError:
    return ReviewError(404, "not_found", "err_no_application")


def _decided() -> ReviewError:
    return ReviewError(409, "already_decided", "err_already_decided")


def _own() -> ReviewError:
    return ReviewError(403, "own_application", "err_own_application")


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


@dataclass(frozen=True, slots=True)
class Registration:
    id: int
    lot: int
    lot_title: str
    user: int
    phone: str
    name: str
    letter: int
    letter_name: str
    status: str
    reason: str | None
    created_at: int
    reviewed_at: int | None
    number: str | None


_VERIFICATION_SQL: Final = """
    SELECT v.id, v.user, u.phone, v.kind, v.real_name, v.org_name, v.org_kind, v.document, f.original_name,
           v.status, v.reason, v.created_at, v.reviewed_at
    FROM verifications v JOIN users u ON u.id = v.user LEFT JOIN files f ON f.id = v.document
"""
_REGISTRATION_SQL: Final = """
    SELECT r.id, r.lot, l.title, r.user, u.phone, u.name, r.letter, f.original_name, r.status, r.reason,
           r.created_at, r.reviewed_at, b.number
    FROM registrations r JOIN users u ON u.id = r.user JOIN lots l ON l.id = r.lot
    JOIN files f ON f.id = r.letter LEFT JOIN bidders b ON b.lot = r.lot AND b.user = r.user
"""


def _verification(row: sqlite3.Row) -> Verification:
    return Verification(*row)


def _registration(row: sqlite3.Row) -> Registration:
    return Registration(*row)


async def _one(tx: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
    async with tx.execute(sql, params) as cur:
        row: sqlite3.Row | None = await cur.fetchone()
    return row


class Reviews:
    def __init__(self, store: SqliteStore, files: FileStore, people: People) -> None:
        self.store = store
        self.files = files
        self.people = people
        self._registration_lock = asyncio.Lock()

    async def _discard(self, written: Written | None) -> None:
        if written is not None:
            await self.files.discard(written)

    # ------------------------------------------------------------------ verification (AC-2)

    async def verifications_of(self, user: int) -> list[Verification]:
        rows = await self.store.fetchall(f"{_VERIFICATION_SQL} WHERE v.user = ? ORDER BY v.id DESC", (user,))
        return [_verification(r) for r in rows]

    async def verification(self, verification_id: int) -> Verification | None:
        row = await self.store.fetchone(f"{_VERIFICATION_SQL} WHERE v.id = ?", (verification_id,))
        return None if row is None else _verification(row)

    async def pending_verifications(self) -> list[Verification]:
        rows = await self.store.fetchall(f"{_VERIFICATION_SQL} WHERE v.status = 'pending' ORDER BY v.id")
        return [_verification(r) for r in rows]

    async def recent_verification_decisions(self) -> list[Verification]:
        rows = await self.store.fetchall(
            f"{_VERIFICATION_SQL} WHERE v.status != 'pending' ORDER BY v.reviewed_at DESC, v.id DESC LIMIT ?",
            (RECENT,),
        )
        return [_verification(r) for r in rows]

    async def apply_verification(
        self, *, user: int, kind: str, real_name: str, org_name: str | None, org_kind: str | None,
        document: Written | None, now: int,
    ) -> int:  # fmt: skip
        """File an application; one pending at a time, none once verified. Consumes
        ``document``: recorded with the application, or removed from disk."""
        try:
            async with self.store.transaction() as tx:
                found = await _one(tx, "SELECT verified FROM users WHERE id = ?", (user,))
                if found is None:
                    raise ReviewError(404, "not_found", "err_no_account")
                if found[0]:
                    raise ReviewError(409, "already_verified", "err_already_verified")
                if await _one(tx, "SELECT 1 FROM verifications WHERE user = ? AND status = 'pending'", (user,)):
                    raise ReviewError(409, "pending", "err_verification_pending")
                file_id = None if document is None else await self.files.record(tx, user, document, now)
                cursor = await tx.execute(
                    "INSERT INTO verifications (user, kind, real_name, org_name, org_kind, document, status,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (user, kind, real_name, org_name, org_kind, file_id, now),
                )
        except BaseException:
            await self._discard(document)
            raise
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def decide_verification(
        self, verification_id: int, *, reviewer: int, approve: bool, reason: str, now: int
    ) -> Verification:
        """Approve (the account becomes verified, in its organisation) or reject with a
        reason; the applicant's SMS is queued in the same transaction (AC-5)."""
        async with self.store.transaction() as tx:
            row = await _one(tx, f"{_VERIFICATION_SQL} WHERE v.id = ?", (verification_id,))
            if row is None:
                raise _not_found()
            found = _verification(row)
            if found.user == reviewer:
                raise _own()
            if found.status != "pending":
                raise _decided()
            if approve:
                org = None
                if found.kind == ORGANISATION and found.org_name:
                    org = await org_in(tx, found.org_name, found.org_kind or "other", now)
                await verify_in(tx, found.user, found.real_name or found.org_name or "", org)
                await tx.execute(
                    "UPDATE verifications SET status = 'approved', reviewer = ?, reviewed_at = ? WHERE id = ?",
                    (reviewer, now, verification_id),
                )
                await enqueue(tx, user=found.user, template="verification_approved")
            else:
                await tx.execute(
                    "UPDATE verifications SET status = 'rejected', reason = ?, reviewer = ?, reviewed_at = ?"
                    " WHERE id = ?",
                    (reason, reviewer, now, verification_id),
                )
                await enqueue(tx, user=found.user, template="verification_rejected", reason=reason)
        decided = await self.verification(verification_id)
        assert decided is not None
        return decided

    # ------------------------------------------------------------------ registration (AU-3)

    async def registration(self, lot: int, user: int) -> Registration | None:
        row = await self.store.fetchone(f"{_REGISTRATION_SQL} WHERE r.lot = ? AND r.user = ?", (lot, user))
        return None if row is None else _registration(row)

    async def registrations_of(self, user: int, limit: int) -> list[Registration]:
        """The account's registrations, newest first, at most ``limit``."""
        rows = await self.store.fetchall(f"{_REGISTRATION_SQL} WHERE r.user = ? ORDER BY r.created_at DESC, r.id DESC"
                                         " LIMIT ?", (user, limit))  # fmt: skip
        return [_registration(r) for r in rows]

    async def registration_by_id(self, registration_id: int) -> Registration | None:
        row = await self.store.fetchone(f"{_REGISTRATION_SQL} WHERE r.id = ?", (registration_id,))
        return None if row is None else _registration(row)

    async def pending_registrations(self) -> list[Registration]:
        rows = await self.store.fetchall(f"{_REGISTRATION_SQL} WHERE r.status = 'pending' ORDER BY r.created_at, r.id")
        return [_registration(r) for r in rows]

    async def recent_registration_decisions(self) -> list[Registration]:
        rows = await self.store.fetchall(
            f"{_REGISTRATION_SQL} WHERE r.status != 'pending' ORDER BY r.reviewed_at DESC, r.id DESC LIMIT ?",
            (RECENT,),
        )
        return [_registration(r) for r in rows]

    async def submit_registration(self, *, lot: int, user: int, letter: Written, now: int) -> int:
        """Hand in a commitment letter: a new registration, or a rejected one again (the
        same row, back to pending). Eligibility (deadline, organisation) is the caller's;
        the registration's own state is checked here. Consumes ``letter``."""
        try:
            async with self.store.transaction() as tx:
                found = await _one(tx, "SELECT id, status FROM registrations WHERE lot = ? AND user = ?", (lot, user))
                if found is not None and found[1] != "rejected":
                    raise ReviewError(409, str(found[1]) if found[1] == "pending" else "registered",
                                      "err_already_registered")  # fmt: skip
                file_id = await self.files.record(tx, user, letter, now)
                if found is None:
                    cursor = await tx.execute(
                        "INSERT INTO registrations (lot, user, letter, status, created_at)"
                        " VALUES (?, ?, ?, 'pending', ?)",
                        (lot, user, file_id, now),
                    )
                    registration_id = cursor.lastrowid
                else:
                    registration_id = int(found[0])
                    await tx.execute(
                        "UPDATE registrations SET letter = ?, status = 'pending', reason = NULL, reviewer = NULL,"
                        " reviewed_at = NULL, created_at = ? WHERE id = ?",
                        (file_id, now, registration_id),
                    )
        except BaseException:
            await self._discard(letter)
            raise
        assert registration_id is not None
        return registration_id

    async def approve_registration(
        self, registration_id: int, *, reviewer: int, runtime: Runtime, now: int
    ) -> Registration:
        """Admit the bidder (a number; it may bid at once, even on a live lot), mark the
        registration approved and queue the SMS with the number."""
        async with self._registration_lock:
            found = await self.registration_by_id(registration_id)
            if found is None:
                raise _not_found()
            if found.user == reviewer:
                raise _own()
            if found.status != "pending":
                raise _decided()
            lot = runtime.lots.get(found.lot)
            if lot is None or lot.state in (State.CLOSED, State.WITHDRAWN):
                raise ReviewError(409, "lot_ended", "err_lot_ended")
            applicant = await self.people.identity(found.user)
            if applicant is None:
                raise _not_found()
            if applicant.org is not None and applicant.org == lot.spec.seller_org:
                raise ReviewError(403, "own_lot", "err_applicant_own_lot")
            registrant = await runtime.register(found.lot, found.user, applicant.org)
            async with self.store.transaction() as tx:
                cursor = await tx.execute(
                    "UPDATE registrations SET status = 'approved', reason = NULL, reviewer = ?, reviewed_at = ?"
                    " WHERE id = ? AND status = 'pending'",
                    (reviewer, now, registration_id),
                )
                if cursor.rowcount != 1:
                    raise _decided()
                await enqueue(tx, user=found.user, template="registration_approved", title=found.lot_title,
                              number=registrant.number, start=beijing(lot.spec.bidding_start)[:16])  # fmt: skip
        decided = await self.registration_by_id(registration_id)
        assert decided is not None
        return decided

    async def reject_registration(self, registration_id: int, *, reviewer: int, reason: str, now: int) -> Registration:
        async with self._registration_lock:
            async with self.store.transaction() as tx:
                row = await _one(tx, f"{_REGISTRATION_SQL} WHERE r.id = ?", (registration_id,))
                if row is None:
                    raise _not_found()
                found = _registration(row)
                if found.user == reviewer:
                    raise _own()
                if found.status != "pending":
                    raise _decided()
                if found.number is not None:
                    raise ReviewError(409, "admitted", "err_admitted", number=found.number)
                await tx.execute(
                    "UPDATE registrations SET status = 'rejected', reason = ?, reviewer = ?, reviewed_at = ?"
                    " WHERE id = ?",
                    (reason, reviewer, now, registration_id),
                )
                await enqueue(tx, user=found.user, template="registration_rejected", title=found.lot_title,
                              reason=reason)  # fmt: skip
        decided = await self.registration_by_id(registration_id)
        assert decided is not None
        return decided

