"""Registration to bid (AU-2, AU-3) as a kind of application: the commitment letter of a
verified account for a lot in publicity. The ``registrations`` table keeps one row per lot and
account (its current letter and a status the review mechanism drives); each letter handed in
is an application of its own.

Approval admits the bidder to the lot (``Runtime.register``) in ``prepare``, before the
decision's transaction (see ``hall.reviews``): admission is idempotent, so if the transaction
fails the registration stays pending and approving it again completes it. A bidder once
admitted cannot be rejected.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.engine import State
from hall.registration import beijing
from hall.reviews import Application, Fact, Kind, ReviewError, Reviews, Summary, not_found, register, submit
from hall.uploads import Written
from hall.store.rows import one

KIND: Final = "registration"


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


_SQL: Final = """
    SELECT r.id, r.lot, l.title, r.user, u.phone, u.name, r.letter, f.original_name, r.status, r.reason,
           r.created_at, r.reviewed_at, b.number
    FROM registrations r JOIN users u ON u.id = r.user JOIN lots l ON l.id = r.lot
    JOIN files f ON f.id = r.letter LEFT JOIN bidders b ON b.lot = r.lot AND b.user = r.user
"""


@dataclass(frozen=True, slots=True)
class _Admitted:
    """What ``prepare`` did: the bidder's number, for the approval's SMS."""

    title: str
    number: str
    start: str


def _registration(row: sqlite3.Row) -> Registration:
    return Registration(*row)



async def registration(reviews: Reviews, lot: int, user: int) -> Registration | None:
    row = await reviews.store.fetchone(f"{_SQL} WHERE r.lot = ? AND r.user = ?", (lot, user))
    return None if row is None else _registration(row)


async def registrations_of(reviews: Reviews, user: int, limit: int) -> list[Registration]:
    """The account's registrations, newest first, at most ``limit``."""
    rows = await reviews.store.fetchall(f"{_SQL} WHERE r.user = ? ORDER BY r.created_at DESC, r.id DESC LIMIT ?",
                                        (user, limit))  # fmt: skip
    return [_registration(r) for r in rows]


async def submit_letter(reviews: Reviews, *, lot: int, user: int, letter: Written, now: int) -> int:
    """Hand in a commitment letter: a new registration, or a rejected one again (the same row,
    back to pending, a new application). Eligibility (deadline, organisation) is the caller's;
    the registration's own state is checked here. Consumes ``letter``."""
    try:
        async with reviews.store.transaction() as tx:
            found = await one(tx, "SELECT id, status FROM registrations WHERE lot = ? AND user = ?", (lot, user))
            if found is not None and found[1] != "rejected":
                raise ReviewError(409, str(found[1]) if found[1] == "pending" else "registered",
                                  "err_already_registered")  # fmt: skip
            (file_id,) = await reviews.record(tx, user, [letter], now)
            if found is None:
                cursor = await tx.execute(
                    "INSERT INTO registrations (lot, user, letter, status, created_at) VALUES (?, ?, ?, 'pending', ?)",
                    (lot, user, file_id, now),
                )
                registration_id = cursor.lastrowid
                assert registration_id is not None
            else:
                registration_id = int(found[0])
                await tx.execute(
                    "UPDATE registrations SET letter = ?, status = 'pending', reason = NULL, reviewer = NULL,"
                    " reviewed_at = NULL, created_at = ? WHERE id = ?",
                    (file_id, now, registration_id),
                )
            await submit(tx, kind=KIND, subject=registration_id, applicant=user, now=now, documents=[file_id])
    except BaseException:
        await reviews.discard([letter])
        raise
    return registration_id


class RegistrationKind(Kind):
    kind = KIND
    label = "registration_kind"
    approved_sms = "registration_approved"
    rejected_sms = "registration_rejected"

    async def prepare(self, reviews: Reviews, application: Application) -> object:
        """Admit the bidder (a number; it may bid at once, even on a live lot)."""
        row = await reviews.store.fetchone(f"{_SQL} WHERE r.id = ?", (application.subject,))
        if row is None:
            raise not_found()
        found = _registration(row)
        lot = reviews.runtime.lots.get(found.lot)
        if lot is None or lot.state in (State.CLOSED, State.WITHDRAWN):
            raise ReviewError(409, "lot_ended", "err_lot_ended")
        applicant = await reviews.people.identity(found.user)
        if applicant is None:
            raise not_found()
        if applicant.org is not None and applicant.org == lot.spec.seller_org:
            raise ReviewError(403, "own_lot", "err_applicant_own_lot")
        registrant = await reviews.runtime.register(found.lot, found.user, applicant.org)
        return _Admitted(found.lot_title, registrant.number, beijing(lot.spec.bidding_start)[:16])

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        assert isinstance(prepared, _Admitted)
        await tx.execute("UPDATE registrations SET status = 'approved', reason = NULL, reviewer = ?, reviewed_at = ?"
                         " WHERE id = ?", (reviewer, now, application.subject))  # fmt: skip
        return {"title": prepared.title, "number": prepared.number, "start": prepared.start}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        row = await one(tx, f"{_SQL} WHERE r.id = ?", (application.subject,))
        assert row is not None
        found = _registration(row)
        if found.number is not None:
            raise ReviewError(409, "admitted", "err_admitted", number=found.number)
        await tx.execute("UPDATE registrations SET status = 'rejected', reason = ?, reviewer = ?, reviewed_at = ?"
                         " WHERE id = ?", (reason, reviewer, now, application.subject))  # fmt: skip
        return {"title": found.lot_title}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        subjects: dict[int, list[int]] = {}
        for a in applications:
            subjects.setdefault(a.subject, []).append(a.id)
        marks = ",".join("?" * len(subjects))
        rows = await reviews.store.fetchall(f"{_SQL} WHERE r.id IN ({marks})", tuple(subjects))
        found = {}
        for row in rows:
            r = _registration(row)
            view = reviews.runtime.views.get(r.lot)
            facts = [Fact("lot", f"#{r.lot}")]
            if view is not None:
                facts += [Fact("state", f"state_{view.state.value}", key=True),
                          Fact("bidding_start", beijing(view.spec.bidding_start)[:16])]  # fmt: skip
            if r.number is not None:
                facts.append(Fact("bidder_number", r.number))
            for application in subjects[r.id]:
                found[application] = Summary(title=r.lot_title, link=f"/lots/{r.lot}", facts=tuple(facts))
        return found


register(RegistrationKind())
