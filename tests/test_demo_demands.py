"""``hall.demo.seed_demands``: the demo's demands in every state, played through the actions of
pieces A and B (``CrowdHands``) and this piece's roadshows and picks.

A and B are built at the same time as this piece; until the lead binds ``CrowdHands`` to their
functions, these tests play it with ``SqlHands``, which writes each step's effect straight in the
store (a solver's response through piece B's action, ``demandkit.response``) and records the calls, so that what the demo asks for, in
which order and at which instant, is pinned now and the real hands can replace the fake later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

import anyio.to_thread
from demandkit import approved, response, stored_demand
from hallkit import SHANGHAI, FakeClock, beijing_ms, call, identity, rows, runtime, user
from starlette.testclient import TestClient

from hall.auth.roles import Identity, Role
from hall.demands import DemandState, day_end, number
from hall.demo import DEMANDS, DEMO_FEE, DemandSpec, seed_demands

NOW: Final = beijing_ms(2026, 3, 4, 10)


class SqlHands:
    """``CrowdHands`` as straight writes to the store; every call recorded as (action, now)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.calls: list[tuple[str, int]] = []

    def _sql(self, sql: str, params: tuple[object, ...]) -> None:
        store = self.client.app.state.store  # type: ignore[attr-defined]

        async def run() -> None:
            async with store.transaction() as tx:
                await tx.execute(sql, params)

        call(self.client, run)

    async def post(self, me: Identity, spec: DemandSpec, *, now: int) -> int:
        self.calls.append(("post", now))
        assert spec.response_deadline >= datetime.fromtimestamp(now / 1000, SHANGHAI).date() and spec.valid_until > spec.response_deadline
        store = self.client.app.state.store  # type: ignore[attr-defined]
        async with store.transaction() as tx:
            found: int = await stored_demand(tx, enterprise=me.id, now=now, state=DemandState.PENDING, title=spec.title,
                                             industry=spec.industry, hidden=list(spec.hidden),
                                             response_deadline=spec.response_deadline, valid_until=spec.valid_until)  # fmt: skip
        return found

    async def decide(self, demand: int, *, approve: bool, reason: str, now: int) -> None:
        self.calls.append(("approve" if approve else "reject", now))
        if approve:
            await _in_thread(self._sql, "UPDATE demands SET state = 'published', number = ?, published_at = ?"
                             " WHERE id = ?", (number(2026, demand), now, demand))  # fmt: skip
        else:
            assert reason
            await _in_thread(self._sql, "UPDATE demands SET state = 'rejected' WHERE id = ?", (demand,))

    async def withdraw(self, me: Identity, demand: int, *, now: int) -> None:
        self.calls.append(("withdraw", now))
        await _in_thread(self._sql, "UPDATE demands SET state = 'withdrawn' WHERE id = ?", (demand,))

    async def respond(self, me: Identity, demand: int, summary: str, *, now: int) -> int:
        self.calls.append(("respond", now))
        runtime(self.client).clock = FakeClock(now)
        found: int = await _in_thread(response, self.client, demand, me.id, summary=summary)
        return found

    async def adopt(self, me: Identity, response: int, *, now: int) -> None:
        self.calls.append(("adopt", now))
        await _in_thread(self._sql, "UPDATE demands SET adopted = ?, adopted_at = ? WHERE id ="
                         " (SELECT demand FROM demand_responses WHERE id = ?)", (response, now, response))  # fmt: skip

    async def outcome(self, me: Identity, demand: int, *, fee: int | None, now: int) -> None:
        self.calls.append(("resolve" if fee is not None else "unresolve", now))
        [(deadline,)] = await _in_thread(rows, self.client, "SELECT response_deadline FROM demands WHERE id = ?",
                                         (demand,))  # fmt: skip
        if fee is None:
            assert now >= day_end(date.fromisoformat(deadline)), "unresolved before the deadline only reopens it"
        await _in_thread(self._sql, "UPDATE demands SET state = ?, fee = ? WHERE id = ?",
                         ("resolved" if fee is not None else "unresolved", fee, demand))  # fmt: skip


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The kit's helpers block on the app's portal: run them off its loop."""
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


def _seed(client: TestClient) -> tuple[SqlHands, dict[str, list[int]], list[int]]:
    runtime(client).clock = FakeClock(NOW)
    staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
    enterprise = user(client, "13900010001", "恒达储能科技有限公司", org="恒达储能科技有限公司")
    solvers = [user(client, phone, name, org=name) for phone, name in (("13900000301", "南京大学"),
                                                                       ("13900000302", "东南大学"))]  # fmt: skip
    for solver in solvers:
        approved(client, solver, "university")
    hands = SqlHands(client)
    store = client.app.state.store  # type: ignore[attr-defined]
    side, solving = identity(client, enterprise), [identity(client, s) for s in solvers]
    made = call(client, lambda: seed_demands(hands, store, enterprise=side, solvers=solving, staff=staff, now=NOW))
    return hands, made, solvers


def test_the_demo_has_a_demand_in_every_state_a_demand_side_meets(client: TestClient) -> None:
    _, made, _ = _seed(client)
    assert list(made) == [state for state, *_ in DEMANDS]
    states = {state: rows(client, "SELECT state, adopted IS NOT NULL, fee FROM demands WHERE id = ?", (ids[0],))[0]
              for state, ids in made.items()}  # fmt: skip
    assert states == {"pending": ("pending", 0, None), "rejected": ("rejected", 0, None),
                      "withdrawn": ("withdrawn", 0, None), "published": ("published", 0, None),
                      "adopted": ("published", 1, None), "resolved": ("resolved", 1, DEMO_FEE),
                      "unresolved": ("unresolved", 0, None)}  # fmt: skip


def test_the_demo_plays_each_demands_history_in_order_and_in_the_past(client: TestClient) -> None:
    hands, _, _ = _seed(client)
    assert all(at <= NOW for _, at in hands.calls)
    assert [action for action, _ in hands.calls] == [
        "post", "post", "reject", "post", "withdraw", "post", "approve", "respond", "respond",
        "post", "approve", "respond", "respond", "adopt", "post", "approve", "respond", "respond", "adopt", "resolve",
        "post", "approve", "respond", "unresolve"]  # fmt: skip


def test_the_demo_roadshows_one_scheduled_ahead_and_one_awarded_to_the_adopted_solver_and_a_pick(
    client: TestClient,
) -> None:  # fmt: skip
    _, made, solvers = _seed(client)
    shows = rows(client, "SELECT demand, state, starts_at > ? FROM roadshows ORDER BY id", (NOW,))
    assert shows == [(made["published"][0], "scheduled", 1), (made["resolved"][0], "awarded", 0)]
    [(winner, adopted)] = rows(client, "SELECT i.response, d.adopted FROM roadshow_invites i JOIN roadshows r ON"
                                       " r.id = i.roadshow JOIN demands d ON d.id = r.demand WHERE i.winner = 1")  # fmt: skip
    assert winner == adopted
    assert rows(client, "SELECT count(*), min(score) >= 0, max(score) <= 100 FROM roadshow_scores") == [(4, 1, 1)]
    assert rows(client, "SELECT id FROM demands WHERE pick > 0") == [(made["published"][0],)]
    invited = rows(client, "SELECT DISTINCT user FROM outbox WHERE template = 'roadshow_invited' ORDER BY user")
    assert invited == [(s,) for s in solvers]
