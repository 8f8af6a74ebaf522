"""Demands and responses for piece D's tests (roadshows, picks), made straight in the store.

Piece A's posting and review flow and piece B's responses are built at the same time as this
piece; until they land, this is the ONE place D's tests get a demand or a response from: every
NOT NULL column of migration 14 filled, a published demand with its number, ``published_at``
and its round-1 row in ``demand_rounds``. The lead points these two functions at A's and B's
real flows once they are merged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hallkit import call, rows
from starlette.testclient import TestClient

from hall.demands import number
from hall.store.rows import insert
from hall.store.sqlite import SqliteStore


def demand(client: TestClient, enterprise: int, *, title: str = "一种锂电池快充热管理方案征集", state: str = "published",
           hidden: Sequence[str] = (), agency_org: int | None = None, industry: str = "energy",
           round_: int = 1) -> int:  # fmt: skip
    """A demand of ``enterprise``'s account (and its organisation) in ``state``; published ones
    (and those past publication) get the next ZB number of 2026. Its id."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    now = client.app.state.runtime.clock()  # type: ignore[attr-defined]
    [(org,)] = rows(client, "SELECT org FROM users WHERE id = ?", (enterprise,))
    numbered = state not in ("pending", "rejected", "withdrawn")

    async def run() -> int:
        async with store.transaction() as tx:
            given = None
            if numbered:
                await tx.execute("INSERT INTO demand_numbers (year, last) VALUES (2026, 1)"
                                 " ON CONFLICT (year) DO UPDATE SET last = last + 1")  # fmt: skip
                [(last,)] = list(await tx.execute_fetchall("SELECT last FROM demand_numbers WHERE year = 2026"))
                given = number(2026, last)
            demand_id = await insert(tx, "demands", {
                "number": given, "enterprise": enterprise, "enterprise_org": org, "agency_org": agency_org,
                "title": title, "industry": industry, "description": f"{title}：需求描述。",
                "requirements": "循环寿命不低于 3000 次", "manager": "王经理", "service_mode": "cooperation",
                "investment": 500_000, "cooperation": "joint_development", "contact_name": "李联系",
                "contact_phone": "13912345678", "valid_until": "2026-12-31", "response_deadline": "2026-06-30",
                "hidden": json.dumps(list(hidden)), "state": state, "round": round_, "created_by": enterprise,
                "created_at": now, "updated_at": now, "published_at": now if numbered else None})  # fmt: skip
            if numbered:
                await insert(tx, "demand_rounds", {"demand": demand_id, "round": round_, "valid_until": "2026-12-31",
                                                   "response_deadline": "2026-06-30", "started_at": now})  # fmt: skip
            return demand_id

    return call(client, run)


def response(client: TestClient, demand_id: int, solver: int, *, summary: str = "基于相变材料的电池热管理方案",
             round_: int | None = None) -> int:  # fmt: skip
    """A submitted response of ``solver`` to the demand (its current round unless ``round_``). Its id."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    now = client.app.state.runtime.clock()  # type: ignore[attr-defined]
    [(org,)] = rows(client, "SELECT org FROM users WHERE id = ?", (solver,))
    [(current,)] = rows(client, "SELECT round FROM demands WHERE id = ?", (demand_id,))

    async def run() -> int:
        async with store.transaction() as tx:
            return await insert(tx, "demand_responses", {
                "demand": demand_id, "round": current if round_ is None else round_, "solver": solver, "solver_org": org,
                "summary": summary, "approach": "技术路线说明", "team": "课题组 5 人", "budget": 300_000,
                "state": "submitted", "created_at": now, "updated_at": now})  # fmt: skip

    return call(client, run)
