"""Helpers for the crowdsourcing tests (issue 13): the parties as AC-3 leaves them (an approved
identity of their kind), a demand brought to a state the way its side and staff bring it there
(``hall.demand_posting`` and the review mechanism, ``Reviews.decide``), and a solver's response
through piece B's own action (``hall.responses.respond``).

One helper writes around the flow, ``stored_demand``: for tests on a bare store (no app, no
review queue) and for states the flow can't reach quickly. It still numbers, opens round 1 and
indexes with piece A's own store functions (``hall.store.demands.publish``), so that what the
index holds is what a real publication writes. ``demand(..., "unresolved")`` likewise ends the
round as piece B's outcome ends it after the deadline, without moving the clock past it.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import aiosqlite
import msgspec

from hallkit import call, identity, reviewer, rows, runtime, user
from starlette.testclient import TestClient

from hall import demand_posting as posting
from hall import responses
from hall.auctions import Industry
from hall.demand_posting import DemandDraft
from hall.demands import Cooperation, DemandState
from hall.store import demands as sql
from hall.store.rows import insert, one
from hall.store.sqlite import SqliteStore
from hall.web.reviews import reviews_of


async def approved_in(tx: aiosqlite.Connection, uid: int, kind: str, now: int) -> None:
    """An approved identity of ``kind`` for the account, as the identity review leaves it (AC-3):
    in the account's organisation, except an expert's, which is personal."""
    found = await one(tx, "SELECT org FROM users WHERE id = ?", (uid,))
    org = None if kind == "expert" or found is None else found[0]
    await insert(tx, "identities", {"user": uid, "org": org, "kind": kind, "state": "approved", "created_at": now,
                                    "updated_at": now})  # fmt: skip


def approved(client: TestClient, uid: int, kind: str) -> None:
    """``approved_in`` for an account of the app under test."""

    async def run() -> None:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        async with store.transaction() as tx:
            await approved_in(tx, uid, kind, runtime(client).clock())

    call(client, run)


def party(client: TestClient, phone: str, org: str, kind: str, name: str = "") -> int:
    """A verified account of the organisation ``org`` holding an approved identity ``kind``
    (``enterprise``, ``soe``, ``transfer``, ``university``…)."""
    uid = user(client, phone, name or f"{org}的经办人", org=org)
    approved(client, uid, kind)
    return uid


async def account(tx: aiosqlite.Connection, phone: str, name: str, now: int, *, org: str | None = None,
                  identity: str | None = None) -> int:  # fmt: skip
    """For tests on a bare store: a verified account (in organisation ``org``, made if new), with
    an approved identity of kind ``identity`` when given (a solver); its id."""
    org_id = None
    if org is not None:
        found = await one(tx, "SELECT id FROM orgs WHERE name = ?", (org,))
        org_id = found[0] if found else await insert(tx, "orgs", {"name": org, "kind": identity or "enterprise",
                                                                   "created_at": now})  # fmt: skip
    uid = await insert(tx, "users", {"phone": phone, "password_hash": "x", "name": name, "org": org_id, "verified": 1,
                                     "created_at": now})  # fmt: skip
    if identity is not None:
        await approved_in(tx, uid, identity, now)
    return uid


def draft(**changes: Any) -> DemandDraft:
    """A valid demand, due well after the tests' clocks, changed as asked."""
    fields: dict[str, Any] = {
        "title": "锂电池极片缺陷在线检测技术", "industry": Industry.ENERGY,
        "description": "需要在涂布后在线识别极片表面的微小缺陷。", "requirements": "检出率不低于百分之九十九",
        "investment": 800_000, "cooperation": Cooperation.JOINT_DEVELOPMENT, "contact_name": "李联系",
        "contact_phone": "025-80000000", "valid_until": date(2027, 6, 30), "response_deadline": date(2026, 12, 31),
    }  # fmt: skip
    fields.update(changes)
    return msgspec.convert(fields, DemandDraft)


def _decide(client: TestClient, demand_id: int, *, approve: bool) -> None:
    """Staff decide the demand's latest application through the review mechanism."""
    reviews = reviews_of(client.app.state)  # type: ignore[attr-defined]
    staff = reviewer(client)

    async def run() -> None:
        (application,) = (await reviews.latest(posting.KIND, [demand_id])).values()
        await reviews.decide(application.id, reviewer=staff, approve=approve,
                             reason="" if approve else "需求描述不够具体", now=reviews.runtime.clock())  # fmt: skip

    call(client, run)


def demand(client: TestClient, poster: int, state: str = "published", **changes: Any) -> int:
    """A demand posted by ``poster`` (an enterprise, or a transfer organisation's account with
    ``entrustment=``) brought to ``state``: ``pending`` as posted, ``published`` approved by
    staff, ``rejected`` with a reason, ``withdrawn`` by its poster, ``unresolved`` published
    and then ended without a solution (as piece B's outcome ends a round after its deadline)."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    me = identity(client, poster)
    made = call(client, functools.partial(posting.create, store, me, draft(**changes), now=runtime(client).clock()))
    if state in ("published", "rejected", "unresolved"):
        _decide(client, made, approve=state != "rejected")
    if state == "withdrawn":
        call(client, functools.partial(posting.withdraw, store, me, made, now=runtime(client).clock()))
    if state == "unresolved":

        async def run() -> None:
            now = runtime(client).clock()
            async with store.transaction() as tx:
                await tx.execute("UPDATE demands SET state = 'unresolved' WHERE id = ?", (made,))
                await tx.execute("UPDATE demand_rounds SET outcome = 'unresolved', ended_at = ? WHERE demand = ?"
                                 " AND ended_at IS NULL", (now, made))  # fmt: skip

        call(client, run)
    assert demand_state(client, made) == state, (made, state)
    return made


def restart(client: TestClient, worker: int, demand_id: int, **changes: Any) -> None:
    """An unresolved demand edited (``changes`` to the draft it was) and submitted again by the
    account that works it, then approved by staff: its next round under the same number."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    found = call(client, sql.demand, store, demand_id)
    assert found is not None
    edited = msgspec.structs.replace(posting.draft_of(found), **changes)
    call(client, functools.partial(posting.resubmit, store, identity(client, worker), demand_id, edited,
                                   now=runtime(client).clock()))  # fmt: skip
    _decide(client, demand_id, approve=True)


def demand_state(client: TestClient, demand_id: int) -> str:
    [(state,)] = rows(client, "SELECT state FROM demands WHERE id = ?", (demand_id,))
    return str(DemandState(state).value)


def entrustment(client: TestClient, enterprise: int, agency: int, state: str = "accepted") -> int:
    """An entrustment from the enterprise's account to the agency account's organisation,
    answered ``state`` (``accepted``, ``declined``) or left ``pending``."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    giver, taker = identity(client, enterprise), identity(client, agency)
    agency_org = taker.org
    assert agency_org is not None

    async def run() -> int:
        now = runtime(client).clock()
        made = await posting.entrust(store, giver, agency_org=agency_org, note="请代为挖掘需求",
                                     now=now)  # fmt: skip
        if state != "pending":
            action = posting.EntrustmentAction.ACCEPT if state == "accepted" else posting.EntrustmentAction.DECLINE
            await posting.answer_entrustment(store, taker, made, action, now=now)
        return made

    return call(client, run)


def response(client: TestClient, demand_id: int, solver: int, *, summary: str = "基于相变材料的电池热管理方案") -> int:
    """A response of ``solver`` (an account with an approved identity) to the published demand,
    through piece B's action (``hall.responses.respond``), without attachments. Its id."""
    reviews = reviews_of(client.app.state)  # type: ignore[attr-defined]
    answer = responses.solution(summary, "技术路线说明", "课题组 5 人", "300000")
    return call(client, responses.respond, reviews, demand_id, identity(client, solver), answer, [],
                runtime(client).clock())  # fmt: skip


async def stored_demand(tx: aiosqlite.Connection, *, enterprise: int, now: int,
                        state: DemandState = DemandState.PUBLISHED, enterprise_org: int | None = None,
                        agency_org: int | None = None, pick: int = 0, views: int = 0, **changes: Any) -> int:  # fmt: skip
    """A demand of ``enterprise`` (``draft(**changes)``, not checked) written in the caller's
    transaction without the posting's checks and staff's review: pending, or published now as
    the approval publishes it (number, round 1, the public index) and then left in ``state``,
    with staff's ``pick`` and ``views``. For tests on a bare store, and for what the flow can't
    reach quickly (a deadline already past, many demands in one go). Its id. The enterprise's
    organisation is its account's, as when it posts itself, unless given."""
    if enterprise_org is None:
        found_org = await one(tx, "SELECT org FROM users WHERE id = ?", (enterprise,))
        enterprise_org = None if found_org is None else found_org[0]
    made = await sql.insert_demand(tx, posting.columns_of(draft(**changes)), enterprise=enterprise,
                                   enterprise_org=enterprise_org, agency_org=agency_org, entrustment=None,
                                   user=enterprise, now=now)  # fmt: skip
    if state is not DemandState.PENDING:
        found = await sql.demand_in(tx, made)
        assert found is not None
        await sql.publish(tx, found, now=now)
    await tx.execute("UPDATE demands SET state = ?, pick = ?, views = ? WHERE id = ?", (state.value, pick, views, made))
    return made
