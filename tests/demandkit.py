"""Helpers for the crowdsourcing tests (issue 13): the parties as AC-3 leaves them (an approved
identity of their kind) and a demand brought to a state the way its side and staff bring it there,
through ``hall.demand_posting`` and the review mechanism (``Reviews.decide``), never through SQL,
except the states another piece's flow brings (``unresolved``, set here as piece B's outcome
sets it after the deadline).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from hallkit import call, identity, reviewer, rows, runtime, user
from starlette.testclient import TestClient

from hall import demand_posting as posting
from hall.demand_posting import DemandDraft
from hall.demands import Cooperation, DemandState
from hall.auctions import Industry
from hall.store.sqlite import SqliteStore
from hall.web.reviews import reviews_of


def approved(client: TestClient, uid: int, kind: str) -> None:
    """An approved identity of ``kind`` for the account (in its organisation, if it has one), as
    the identity review leaves it (AC-3)."""
    org = identity(client, uid).org

    async def run() -> None:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        now = runtime(client).clock()
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO identities (user, org, kind, state, created_at, updated_at)"
                             " VALUES (?, ?, ?, 'approved', ?, ?)", (uid, org, kind, now, now))  # fmt: skip

    call(client, run)


def party(client: TestClient, phone: str, org: str, kind: str) -> int:
    """A verified account of the organisation ``org`` holding an approved identity ``kind``
    (``enterprise``, ``soe``, ``transfer``, ``university``…)."""
    uid = user(client, phone, f"{org}的经办人", org=org)
    approved(client, uid, kind)
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


def demand(client: TestClient, poster: int, state: str = "published", **changes: Any) -> int:
    """A demand posted by ``poster`` (an enterprise, or a transfer organisation's account with
    ``entrustment=``) brought to ``state``: ``pending`` as posted, ``published`` approved by
    staff, ``rejected`` with a reason, ``withdrawn`` by its poster, ``unresolved`` published
    and then ended without a solution (as piece B's outcome ends a round after its deadline)."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    reviews = reviews_of(client.app.state)  # type: ignore[attr-defined]
    staff = reviewer(client)
    me = identity(client, poster)

    async def run() -> int:
        now = reviews.runtime.clock()
        made = await posting.create(store, me, draft(**changes), now=now)
        if state in ("published", "rejected", "unresolved"):
            (application,) = (await reviews.latest(posting.KIND, [made])).values()
            await reviews.decide(application.id, reviewer=staff, approve=state != "rejected",
                                 reason="需求描述不够具体" if state == "rejected" else "", now=now)  # fmt: skip
        if state == "withdrawn":
            await posting.withdraw(store, me, made, now=now)
        if state == "unresolved":
            async with store.transaction() as tx:
                await tx.execute("UPDATE demands SET state = 'unresolved' WHERE id = ?", (made,))
                await tx.execute("UPDATE demand_rounds SET outcome = 'unresolved', ended_at = ? WHERE demand = ?"
                                 " AND ended_at IS NULL", (now, made))  # fmt: skip
        return made

    made = call(client, run)
    assert demand_state(client, made) == state, (made, state)
    return made


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

