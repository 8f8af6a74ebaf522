"""A published demand for the tests of piece B (responses) before piece A's posting and review
land: ONE helper that writes it through SQL as A's approval leaves it (every NOT NULL column of
migration 14, its number, its round 1 in ``demand_rounds``), and the parties around it. The
lead points ``published_demand`` at A's real flow (post, then approve as staff) once merged.
"""

from __future__ import annotations

import json
from datetime import date

from hallkit import call, identity, runtime, user
from starlette.testclient import TestClient

from hall.demands import beijing_year, number
from hall.store.sqlite import SqliteStore


def approved_identity(client: TestClient, uid: int, kind: str) -> None:
    """An approved identity of ``kind`` for account ``uid``, as staff's approval leaves it."""

    org = None if kind == "expert" else identity(client, uid).org

    async def run() -> None:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        now = runtime(client).clock()
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO identities (user, org, kind, state, created_at, updated_at)"
                             " VALUES (?, ?, ?, 'approved', ?, ?)", (uid, org, kind, now, now))  # fmt: skip

    call(client, run)


def party(client: TestClient, phone: str, name: str, org: str, kind: str) -> int:
    """A verified account of the organisation ``org`` with an approved identity of ``kind``."""
    uid = user(client, phone, name, org=org)
    approved_identity(client, uid, kind)
    return uid


def published_demand(client: TestClient, enterprise: int, *, deadline: date, title: str = "高温合金叶片的无损检测方法",
                     agency: int | None = None, mode: str = "cooperation",
                     hidden: tuple[str, ...] = ("enterprise", "investment")) -> int:  # fmt: skip
    """A demand of ``enterprise``'s account (posted by ``agency``'s account on its behalf when
    given: an entrusted demand worked by that account's organisation), published now with the
    response deadline ``deadline`` and the year's next ZB number (from ``demand_numbers``, as
    the approval takes it, so that demands made here and by piece A's flow never collide)."""

    enterprise_org = identity(client, enterprise).org
    agency_org = identity(client, agency).org if agency is not None else None

    async def run() -> int:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        now = runtime(client).clock()
        year = beijing_year(now)
        async with store.transaction() as tx:
            cursor = await tx.execute("INSERT INTO demand_numbers (year, last) VALUES (?, 1)"
                                      " ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last", (year,))  # fmt: skip
            sequence = await cursor.fetchone()
            assert sequence is not None
            cursor = await tx.execute(
                "INSERT INTO demands (number, enterprise, enterprise_org, agency_org, title, industry, description,"
                " requirements, manager, service_mode, investment, cooperation, contact_name, contact_phone,"
                " valid_until, response_deadline, hidden, state, round, created_by, created_at, updated_at,"
                " published_at) VALUES (?, ?, ?, ?, ?, 'materials', '需要一种可在线检测叶片内部缺陷的方法。',"
                " '检出率不低于95%', '王经理', ?, 3000000, 'joint_development', '李工', '13900000000', ?, ?, ?,"
                " 'published', 1, ?, ?, ?, ?)",
                (number(year, sequence[0]), enterprise, enterprise_org, agency_org, title, mode,
                 date(deadline.year + 1, 12, 31).isoformat(), deadline.isoformat(), json.dumps(list(hidden)),
                 agency or enterprise, now, now, now))  # fmt: skip
            demand = cursor.lastrowid
            assert demand is not None
            await tx.execute("INSERT INTO demand_rounds (demand, round, valid_until, response_deadline, started_at)"
                             " VALUES (?, 1, ?, ?, ?)",
                             (demand, date(deadline.year + 1, 12, 31).isoformat(), deadline.isoformat(), now))  # fmt: skip
            return demand

    return call(client, run)


def restarted(client: TestClient, demand: int, *, deadline: date) -> None:
    """The demand edited and restarted after an unresolved round, as piece A's approval of a
    restart leaves it: published again under the same number, round + 1 with its new dates."""

    async def run() -> None:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        now = runtime(client).clock()
        async with store.transaction() as tx:
            await tx.execute("UPDATE demands SET state = 'published', round = round + 1, response_deadline = ?,"
                             " adopted = NULL, adopted_at = NULL, updated_at = ? WHERE id = ?",
                             (deadline.isoformat(), now, demand))  # fmt: skip
            await tx.execute("INSERT INTO demand_rounds (demand, round, valid_until, response_deadline, started_at)"
                             " SELECT id, round, valid_until, response_deadline, ? FROM demands WHERE id = ?",
                             (now, demand))  # fmt: skip

    call(client, run)
