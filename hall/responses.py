"""What happens to a published demand (CR-5 to CR-9): solvers respond with solutions or consult
through a message thread, the demand side reads 提交给我的应答 and adopts one, keeps a service
log and sets the outcome, and the parties of a resolved demand apply for a reward.

Every action here checks who may do it and when, writes its change, and queues its notices in
one transaction (where the checks are made again, so that two adoptions, or an adoption and a
response at the deadline, cannot both win). The windows are ``hall.demands``'s pure rules
(``takes_responses``, ``may_adopt``), never restated; the clock is the caller's ``now``.

Who does what:
- a solver is a signed-in account with an approved identity (any kind) that is not the
  demand's side, its agency or staff; any verified account may consult;
- the side and its agency read every response and thread, adopt, log and set the outcome; a
  resolution's service fee is entered by the agency of an entrusted demand, else by the side;
- staff see everything and act on nothing here (they decide reward applications in the review
  queue, kind ``reward``);
- a solver sees its own responses and its own thread only.

Notices: the adopted solver gets an SMS (what matters); everything else (the others not
adopted, a new response, a new message, an adoption withdrawn) is an inbox-only notice. No
notice to a solver names a hidden field: they carry the demand's title and number only.

Never here: HTTP, templates, a clock of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Final, Literal

import aiosqlite
import msgspec

from hall.auth.roles import Identity
from hall.demands import (
    DemandState,
    Relation,
    day_end,
    may_adopt,
    qualifies,
    selection_closes,
    sees_private,
    takes_responses,
)
from hall.engine.spec import MAX_AMOUNT
from hall.notify import TEMPLATES, enqueue
from hall.reviews import Application, Fact, Kind, Reviews, Summary, register, submit
from hall.store import responses as sql
from hall.store.demands import PUBLIC_STATES, DemandRow, demand_access
from hall.store.responses import current, parties
from hall.store.sqlite import SqliteStore
from hall.uploads import Written
from hall.web.errors import Refused
from hall.web.templating import iso
from hall.workdays import beijing_date

REWARD: Final = "reward"
"""The review kind of a reward application (CR-9)."""
MAX_FILES: Final = 4
"""Attachments one response, or proofs one reward application, hands in."""
SUMMARY_MAX: Final = 200
APPROACH_MAX: Final = 5000
TEAM_MAX: Final = 2000
MESSAGE_MAX: Final = 2000
LOG_MAX: Final = 2000
PROFILE_MAX: Final = 3000
DECLARATION_MAX: Final = 3000
PAGE: Final = 50
"""Rows one page of a list holds."""
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ---------------------------------------------------------------------- the API's bodies and answers


class Created(msgspec.Struct):
    id: int


class Attachment(msgspec.Struct):
    id: int
    name: str
    url: str
    """Where the demand's side, its agency, staff and the response's solver download it."""


class ResponseItem(msgspec.Struct):
    """A response as those who may see it read it: the demand's side, its agency, staff, and
    the solver who sent it."""

    id: int
    demand: int
    number: str | None
    title: str
    round: int
    solver: str
    """The solver's name."""
    organisation: str | None
    summary: str
    approach: str
    team: str
    budget: int | None
    state: Literal["submitted", "adopted", "declined", "released"]
    submitted_at: str
    attachments: list[Attachment]


class SolutionBody(msgspec.Struct, forbid_unknown_fields=True):
    """A solution sent as JSON (``POST /api/demands/{id}/responses`` without attachments); the
    same fields as the multipart form, checked by ``solution`` alike."""

    summary: str
    approach: str
    team: str = ""
    budget: int | None = None
    """Whole yuan; out of range is the same ``invalid`` as on the form."""


class MessageBody(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    solver: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Whose thread the side answers in; a solver leaves it out (its own thread)."""


class MessageItem(msgspec.Struct):
    id: int
    solver: int
    """The thread: the solver's account id."""
    solver_name: str
    by: Literal["solver", "demand_side"]
    """Who wrote it: the solver, or the demand's side (its enterprise or agency)."""
    body: str
    at: str


class LogBody(msgspec.Struct, forbid_unknown_fields=True):
    day: dt.date
    body: str


class LogItem(msgspec.Struct):
    id: int
    round: int
    day: str
    body: str
    by: str
    at: str


class OutcomeBody(msgspec.Struct, forbid_unknown_fields=True):
    resolved: bool
    fee: Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)] | None = None
    """The service fee in whole yuan: required with ``resolved: true``, refused without."""


class DemandStatus(msgspec.Struct):
    """Where a demand's round stands: what its side acts on."""

    id: int
    state: DemandState
    round: int
    adopted: int | None
    adopted_at: str | None
    takes_responses: bool
    may_adopt: bool
    response_deadline: str
    selection_closes: str
    fee: int | None
    qualifying: bool
    """CR-12: resolved with a service fee of 200,000 yuan or more."""
    resolved_at: str | None


class RewardItem(msgspec.Struct):
    id: int
    demand: int
    title: str
    applicant: str
    organisation: str | None
    profile: str
    declaration: str
    state: Literal["pending", "approved", "rejected"]
    reason: str | None
    submitted_at: str
    proofs: list[Attachment]


# ---------------------------------------------------------------------- checks


def _refused(status: int, code: str, key: str, **params: object) -> Refused:
    return Refused(status, code, f"crowd_b_err_{key}", params)


def _invalid(field: str, limit: int) -> Refused:
    return Refused(400, "invalid", f"crowd_b_err_{field}", {"max": limit}, field=field)


def clean(field: str, value: str, limit: int, *, required: bool = True) -> str:
    """A text a person typed: stripped, within ``limit`` characters, no control characters but
    line breaks and tabs; refused (400 ``invalid``, naming the field) otherwise."""
    value = value.replace("\r\n", "\n").strip()
    if (required and not value) or len(value) > limit or _CONTROL.search(value):
        raise _invalid(field, limit)
    return value


def _acting(who: Relation) -> None:
    """Only the demand's side and its agency act on its responses, log and outcome; staff see
    them (403 ``not_party``), the public are refused the same."""
    if who not in (Relation.SIDE, Relation.AGENCY):
        raise _refused(403, "not_party", "not_party")


def private(who: Relation) -> None:
    """The responses' log and outcome are read by the side, its agency and staff only."""
    if not sees_private(who):
        raise _refused(403, "not_party", "not_party")


def status(demand: DemandRow, now: int) -> DemandStatus:
    return DemandStatus(
        id=demand.id, state=demand.state, round=demand.round, adopted=demand.adopted,
        adopted_at=iso(demand.adopted_at),
        takes_responses=takes_responses(demand.state, demand.service_mode, demand.response_deadline,
                                        adopted_at=demand.adopted_at, now=now),
        may_adopt=may_adopt(demand.state, demand.response_deadline, adopted_at=demand.adopted_at, now=now),
        response_deadline=demand.response_deadline.isoformat(),
        selection_closes=iso(selection_closes(demand.response_deadline)) or "",
        fee=demand.fee, qualifying=demand.state is DemandState.RESOLVED and qualifies(demand.fee),
        resolved_at=iso(demand.resolved_at),
    )  # fmt: skip


def _said(template: str, demand: DemandRow, **params: object) -> str:
    return TEMPLATES[template].format(title=demand.title, number=demand.number or "", **params)


# ---------------------------------------------------------------------- responses (CR-5, CR-7)


class Solution(msgspec.Struct, frozen=True):
    """What a solver hands in, read from the form and checked by ``solution``."""

    summary: str
    approach: str
    team: str
    budget: int | None


def solution(summary: str, approach: str, team: str, budget: str) -> Solution:
    budget = budget.strip()
    if budget and not (budget.isascii() and budget.isdigit() and len(budget) <= 13 and int(budget) <= MAX_AMOUNT):
        raise _invalid("budget", MAX_AMOUNT)
    return Solution(summary=clean("summary", summary, SUMMARY_MAX), approach=clean("approach", approach, APPROACH_MAX),
                    team=clean("team", team, TEAM_MAX, required=False), budget=int(budget) if budget else None)  # fmt: skip


REFUSALS: Final = {"own_demand": 403, "not_party": 403, "no_identity": 403, "closed": 409, "responded": 409}
"""Why a response is refused, with its status."""


async def why_not(db: aiosqlite.Connection, demand: DemandRow, who: Relation, me: Identity, now: int) -> str | None:
    """Why ``me`` may not respond to ``demand`` now (a key of ``REFUSALS``), or None. The page
    asks on the reader before offering the form; ``respond`` asks again in its transaction."""
    if who is not Relation.PUBLIC:
        return "own_demand" if who in (Relation.SIDE, Relation.AGENCY) else "not_party"
    if not await sql.has_approved_identity(db, me.id):
        return "no_identity"
    if not takes_responses(demand.state, demand.service_mode, demand.response_deadline, adopted_at=demand.adopted_at,
                           now=now):  # fmt: skip
        return "closed"
    if await sql.responded(db, demand.id, demand.round, me.id):
        return "responded"
    return None


async def respond(reviews: Reviews, demand_id: int, me: Identity, answer: Solution, attachments: Sequence[Written],
                  now: int) -> int:  # fmt: skip
    """Record a solver's response with its attachments (CR-5), or refuse it: 409 ``closed``
    once the deadline passed or a solution was adopted (CR-7). The side is told in its inbox.
    Consumes ``attachments``: recorded with the response, or removed from disk."""
    try:
        if len(attachments) > MAX_FILES:
            raise _refused(400, "too_many_files", "too_many_files", n=MAX_FILES)
        await demand_access(reviews.store, demand_id, me)  # 404 for a demand the caller may not see
        async with reviews.store.transaction() as tx:
            demand = await current(tx, demand_id)
            why = await why_not(tx, demand, demand.relation(me), me, now)
            if why is not None:
                raise _refused(REFUSALS[why], why, why)
            files = await reviews.record(tx, me.id, attachments, now)
            response_id = await sql.add_response(tx, demand=demand, solver=me.id, solver_org=me.org,
                                                 summary=answer.summary, approach=answer.approach, team=answer.team,
                                                 budget=answer.budget, files=files, now=now)  # fmt: skip
            for user in parties(demand):
                await sql.notice(tx, user, _said("crowd_b_response", demand), now)
    except BaseException:
        await reviews.discard(attachments)
        raise
    return response_id


async def visible_response(store: SqliteStore, response_id: int, me: Identity) -> tuple[sql.ResponseRow, DemandRow,
                                                                                          Relation]:  # fmt: skip
    """A response, to its demand's side, agency and staff and to its own solver; 404 to
    anyone else (another solver learns nothing, not even that it exists)."""
    found = await sql.response(store, response_id)
    if found is None:
        raise _refused(404, "not_found", "no_response")
    demand, who = await demand_access(store, found.demand, me)
    if not sees_private(who) and found.solver != me.id:
        raise _refused(404, "not_found", "no_response")
    return found, demand, who


async def adopt(store: SqliteStore, response_id: int, me: Identity, now: int) -> DemandRow:
    """The side (or its agency) adopts a response of the current round, at any time until
    selection closes (CR-7): its solver gets an SMS (CR-6), the round's other responders an
    inbox notice. Once adopted, no new response is taken."""
    found, _, who = await visible_response(store, response_id, me)
    _acting(who)
    async with store.transaction() as tx:
        demand = await current(tx, found.demand)
        if not may_adopt(demand.state, demand.response_deadline, adopted_at=demand.adopted_at, now=now):
            if demand.adopted_at is not None and demand.state is DemandState.PUBLISHED:
                raise _refused(409, "adopted", "adopted")
            raise _refused(409, "closed", "selection_closed")
        if found.round != demand.round:
            raise _refused(409, "old_round", "old_round")
        others = await sql.adopt(tx, demand, response_id, now)
        await enqueue(tx, user=found.solver, template="crowd_b_adopted", title=demand.title, number=demand.number or "")
        for solver in others:
            if solver != found.solver:
                await sql.notice(tx, solver, _said("crowd_b_not_adopted", demand), now)
        return await current(tx, demand.id)


# ---------------------------------------------------------------------- 立即咨询 (CR-5, CR-6)


async def send_message(store: SqliteStore, demand_id: int, me: Identity, body: str, solver: int | None,
                       now: int) -> int:  # fmt: skip
    """A message in the thread of (demand, solver). A verified solver writes in its own thread
    (which its first message opens) while the demand is published; the side or its agency
    answers in a thread a solver opened. The other side is told in its inbox."""
    text = clean("body", body, MESSAGE_MAX)
    demand, who = await demand_access(store, demand_id, me)
    async with store.transaction() as tx:
        demand = await current(tx, demand.id)
        if who is Relation.PUBLIC:
            if solver not in (None, me.id):
                raise _refused(404, "not_found", "no_thread")
            if not await sql.verified(tx, me.id):
                raise _refused(403, "not_verified", "not_verified")
            if demand.state is not DemandState.PUBLISHED:
                raise _refused(409, "closed", "consult_closed")
            message = await sql.add_message(tx, demand=demand.id, solver=me.id, author=me.id, body=text, now=now)
            for user in parties(demand):
                await sql.notice(tx, user, _said("crowd_b_message_to_side", demand), now)
            return message
        _acting(who)
        if solver is None or not await sql.thread_exists(tx, demand.id, solver):
            raise _refused(404, "not_found", "no_thread")
        message = await sql.add_message(tx, demand=demand.id, solver=solver, author=me.id, body=text, now=now)
        await sql.notice(tx, solver, _said("crowd_b_message_to_solver", demand), now)
        return message


async def thread_messages(store: SqliteStore, demand: DemandRow, who: Relation, me: Identity, *, solver: int | None,
                          before: int, limit: int) -> list[sql.MessageRow]:  # fmt: skip
    """The messages ``me`` may read: every thread (or the one of ``solver``) for the private
    relations, only its own for anyone else."""
    if not sees_private(who):
        if solver not in (None, me.id):
            raise _refused(404, "not_found", "no_thread")
        solver = me.id
    return await sql.messages(store, demand.id, solver=solver, before=before, limit=limit)


# ---------------------------------------------------------------------- the service log and the outcome (CR-8)


async def add_log(store: SqliteStore, demand_id: int, me: Identity, day: dt.date, body: str, now: int) -> int:
    """A dated entry of the service log, by the side or its agency, once the demand was
    published; the day is not after today (Beijing)."""
    text = clean("log", body, LOG_MAX)
    if day > beijing_date(now) or day.year < 2000:
        raise _refused(400, "invalid", "log_day")
    demand, who = await demand_access(store, demand_id, me)
    _acting(who)
    async with store.transaction() as tx:
        demand = await current(tx, demand.id)
        if demand.state not in PUBLIC_STATES:
            raise _refused(409, "bad_state", "not_published")
        return await sql.add_log(tx, demand=demand, day=day, body=text, author=me.id, now=now)


async def set_outcome(store: SqliteStore, demand_id: int, me: Identity, body: OutcomeBody, now: int) -> DemandRow:
    """Resolved: the service fee entered by the agency of an entrusted demand, else by the
    side; the flow ends, ``qualifying`` from 200,000 yuan (CR-12). Unresolved before the
    deadline: the adoption is withdrawn (its solver told in the inbox) and responses reopen;
    after it: the round ends ``unresolved`` and the side edits and restarts the demand."""
    if body.resolved and body.fee is None:
        raise Refused(400, "invalid", "crowd_b_err_fee_required", field="fee")
    if not body.resolved and body.fee is not None:
        raise Refused(400, "invalid", "crowd_b_err_fee_unresolved", field="fee")
    demand, who = await demand_access(store, demand_id, me)
    _acting(who)
    async with store.transaction() as tx:
        demand = await current(tx, demand.id)
        if demand.state is not DemandState.PUBLISHED:
            raise _refused(409, "bad_state", "outcome_state")
        if body.resolved:
            entering = Relation.AGENCY if demand.agency_org is not None else Relation.SIDE
            if who is not entering:
                raise _refused(403, "fee_by_agency" if entering is Relation.AGENCY else "not_party",
                               "fee_by_agency" if entering is Relation.AGENCY else "not_party")  # fmt: skip
            assert body.fee is not None
            await sql.resolve(tx, demand, body.fee, now)
        elif now < day_end(demand.response_deadline):
            if demand.adopted is None:
                raise _refused(409, "nothing_adopted", "nothing_adopted")
            adopted = await sql.response_in(tx, demand.adopted)
            await sql.clear_adoption(tx, demand, now)
            if adopted is not None:
                await sql.notice(tx, adopted.solver, _said("crowd_b_released", demand), now)
        else:
            await sql.end_unresolved(tx, demand, now)
        return await current(tx, demand.id)


# ---------------------------------------------------------------------- reward applications (CR-9)


async def may_apply(store: SqliteStore, demand: DemandRow, who: Relation, me: Identity) -> bool:
    """CR-9: a resolved demand's side or agency, or the solver whose response was adopted."""
    if demand.state is not DemandState.RESOLVED:
        return False
    if who in (Relation.SIDE, Relation.AGENCY):
        return True
    if who is not Relation.PUBLIC or demand.adopted is None:
        return False
    adopted = await sql.response(store, demand.adopted)
    return adopted is not None and adopted.solver == me.id


async def apply_reward(reviews: Reviews, demand_id: int, me: Identity, *, profile: str, declaration: str,
                       proofs: Sequence[Written], now: int) -> int:  # fmt: skip
    """File (or, after a rejection, refile) a reward application with the organisation's
    profile, a declaration and proof of the deal; staff review it as kind ``reward``.
    Consumes ``proofs``: recorded with the application, or removed from disk."""
    try:
        profile = clean("profile", profile, PROFILE_MAX)
        declaration = clean("declaration", declaration, DECLARATION_MAX)
        if not 1 <= len(proofs) <= MAX_FILES:
            raise Refused(400, "missing_file", "crowd_b_err_proofs", {"n": MAX_FILES}, field="proofs")
        demand, who = await demand_access(reviews.store, demand_id, me)
        if not await may_apply(reviews.store, demand, who, me):
            if demand.state is not DemandState.RESOLVED:
                raise _refused(409, "not_resolved", "not_resolved")
            raise _refused(403, "not_party", "reward_party")
        async with reviews.store.transaction() as tx:
            found = await sql.reward_of(tx, demand.id, me.id)
            if found is not None and found[1] == "pending":
                raise Refused(409, "pending", "err_application_pending")
            if found is not None and found[1] == "approved":
                raise _refused(409, "rewarded", "rewarded")
            files = await reviews.record(tx, me.id, proofs, now)
            reward = await sql.save_reward(tx, found=None if found is None else found[0], demand=demand.id,
                                           applicant=me.id, org=me.org, profile=profile, declaration=declaration,
                                           files=files, now=now)  # fmt: skip
            await submit(tx, kind=REWARD, subject=reward, applicant=me.id, now=now, documents=files)
    except BaseException:
        await reviews.discard(proofs)
        raise
    return reward


class RewardKind(Kind):
    """CR-9 through the one review mechanism: approval and rejection set the application's
    state; the applicant gets the SMS."""

    kind = REWARD
    label = "crowd_b_reward_application"
    approved_sms = "crowd_b_reward_approved"
    rejected_sms = "crowd_b_reward_rejected"

    async def _title(self, tx: aiosqlite.Connection, application: Application) -> str:
        found = await tx.execute("SELECT d.title FROM reward_applications w JOIN demands d ON d.id = w.demand"
                                 " WHERE w.id = ?", (application.subject,))  # fmt: skip
        row = await found.fetchone()
        await found.close()
        return str(row[0]) if row else ""

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        await sql.set_reward_state(tx, application.subject, "approved", now)
        return {"title": await self._title(tx, application)}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        await sql.set_reward_state(tx, application.subject, "rejected", now)
        return {"title": await self._title(tx, application)}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        found = {r.id: r for r in await sql.rewards_by_ids(reviews.store, list({a.subject for a in applications}))}
        summaries = {}
        for a in applications:
            row = found.get(a.subject)
            if row is not None:
                facts = [Fact("crowd_b_reward_demand", row.demand_number or "")]
                if row.fee is not None:
                    facts.append(Fact("crowd_b_fee", f"{row.fee:,}"))
                summaries[a.id] = Summary(title=row.demand_title, link=f"/demands/{row.demand}/reward",
                                          facts=tuple(facts))  # fmt: skip
        return summaries


register(RewardKind())
