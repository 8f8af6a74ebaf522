"""Solutions, 立即咨询, adoption, the service log, the outcome and reward applications (issue 13,
piece B; CR-5 to CR-9, CR-12), through the API and the pages, on a fake clock.

The demand is published through ``demandkit_b`` (SQL, until piece A's posting and review land).
Its response deadline is 2026-03-20 (Beijing): responses are taken until that day ends, and
selection closes two weeks later, at the end of 2026-04-03.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pytest
from demandkit_b import approved_identity, party, published_demand, restarted
from hallkit import PDF, PNG, Actor, FakeClock, application, bearer_of, beijing_ms, call, hall, rows, runtime, user
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.demands import day_end, selection_closes

DEADLINE: Final = date(2026, 3, 20)
BEFORE: Final = beijing_ms(2026, 3, 2, 10)
"""Well inside the response window."""
CLOSES: Final = day_end(DEADLINE)
"""The first instant after the deadline day."""
SELECTION: Final = selection_closes(DEADLINE)
ENTERPRISE: Final = "恒达科技有限公司"
INVESTMENT: Final = "3000000"


@dataclass
class Scene:
    client: TestClient
    clock: FakeClock
    enterprise: int
    agency: int
    solver: int
    rival: int
    expert: int
    staff: int
    """The demand's enterprise and its transfer organisation's account; two solvers of
    institutions and an expert, each with an approved identity; a staff member."""

    def call(self, uid: int | None, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An API call as ``uid`` (a bearer token; None: anonymous)."""
        headers = bearer_of(self.client, uid) if uid is not None else {}
        self.client.cookies.clear()
        return self.client.request(method, url, headers=headers, **kwargs)

    def respond(self, uid: int, demand: int, summary: str = "基于超声相控阵的叶片内部缺陷检测方案",
                files: int = 1) -> httpx.Response:  # fmt: skip
        data = {"summary": summary, "approach": "采用相控阵超声成像，\n配合深度学习缺陷识别。", "team": "教授2名，博士4名",
                "budget": "800000"}  # fmt: skip
        attachments = [("attachments", (f"方案{n}.pdf", PDF, "application/pdf")) for n in range(files)]
        return self.call(uid, "POST", f"/api/demands/{demand}/responses", data=data, files=attachments or None)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(BEFORE)
        runtime(client).clock = clock
        yield Scene(
            client=client, clock=clock,
            enterprise=party(client, "13800000001", "张经理", ENTERPRISE, "enterprise"),
            agency=party(client, "13800000002", "赵老师", "江苏省技术转移中心", "transfer"),
            solver=party(client, "13800000003", "钱教授", "东南大学", "university"),
            rival=party(client, "13800000004", "孙研究员", "南京工业技术研究院", "institute"),
            expert=_expert(client),
            staff=user(client, "13900000101", "审核员", roles=(Role.STAFF,)),
        )  # fmt: skip


def _expert(client: TestClient) -> int:
    uid = user(client, "13800000005", "周专家", verified=True)
    approved_identity(client, uid, "expert")
    return uid


def _entrusted(s: Scene, **kwargs: Any) -> int:
    return published_demand(s.client, s.enterprise, deadline=DEADLINE, agency=s.agency, **kwargs)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def _inbox_only(s: Scene, uid: int) -> list[str]:
    """The inbox-only notices of an account (no SMS behind them), oldest first."""
    return [b for (b,) in rows(s.client, "SELECT body FROM inbox WHERE user = ? AND outbox IS NULL ORDER BY id", (uid,))]


def _sms(s: Scene, uid: int) -> list[str]:
    return [t for (t,) in rows(s.client, "SELECT template FROM outbox WHERE user = ? ORDER BY id", (uid,))]


# ---------------------------------------------------------------------- responses and who sees them (CR-5, CR-6)


def test_responses_are_seen_by_the_side_its_agency_and_staff_and_a_solver_sees_only_its_own(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    mine = _ok(s.respond(s.solver, demand, files=2), 201)
    assert set(mine) == {"id"}
    rival = _ok(s.respond(s.rival, demand, summary="红外热成像检测方案"), 201)["id"]
    for uid in (s.enterprise, s.agency, s.staff):
        listed = _ok(s.call(uid, "GET", f"/api/demands/{demand}/responses"))
        assert [r["id"] for r in listed] == [rival, mine["id"]]
    [own] = _ok(s.call(s.solver, "GET", f"/api/demands/{demand}/responses"))
    assert own["id"] == mine["id"] and own["state"] == "submitted" and own["budget"] == 800_000
    assert [a["name"] for a in own["attachments"]] == ["方案0.pdf", "方案1.pdf"]
    assert [r["id"] for r in _ok(s.call(s.rival, "GET", f"/api/demands/{demand}/responses"))] == [rival]
    assert _ok(s.call(s.expert, "GET", f"/api/demands/{demand}/responses")) == []
    url = own["attachments"][0]["url"]
    for uid in (s.enterprise, s.agency, s.staff, s.solver):
        assert s.call(uid, "GET", url).content == PDF, uid
    for uid in (s.rival, s.expert):
        assert s.call(uid, "GET", url).status_code == 404, uid
    page = Actor(s.client, s.rival).get(f"/demands/{demand}/responses")
    assert page.status_code == 200 and "红外热成像检测方案" in page.text and "基于超声相控阵" not in page.text
    assert "基于超声相控阵" in Actor(s.client, s.agency).get(f"/demands/{demand}/responses").text
    mine_page = Actor(s.client, s.solver).get("/my/responses")
    assert "基于超声相控阵" in mine_page.text and "红外热成像" not in mine_page.text
    assert [r["id"] for r in _ok(s.call(s.solver, "GET", "/api/me/responses"))] == [mine["id"]]


def test_a_solution_without_attachments_may_be_sent_as_json_and_is_checked_as_the_form_is(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    bad = s.call(s.solver, "POST", f"/api/demands/{demand}/responses", json={"summary": "方案", "approach": "路线",
                                                                              "budget": -5})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    unknown = s.call(s.solver, "POST", f"/api/demands/{demand}/responses", json={"summary": "方案", "extra": 1})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "bad_request"
    made = _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/responses",
                      json={"summary": "激光超声检测方案", "approach": "激光激发超声", "budget": 300_000}), 201)  # fmt: skip
    [own] = _ok(s.call(s.solver, "GET", f"/api/demands/{demand}/responses"))
    assert (own["id"], own["summary"], own["budget"], own["attachments"]) == (made["id"], "激光超声检测方案", 300_000, [])
    again = s.call(s.solver, "POST", f"/api/demands/{demand}/responses", json={"summary": "又一个", "approach": "路线"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "responded"


def test_the_side_and_its_agency_are_told_of_a_response_in_the_inbox_only(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    _ok(s.respond(s.solver, demand), 201)
    for uid in (s.enterprise, s.agency):
        [notice] = _inbox_only(s, uid)
        assert "高温合金叶片的无损检测方法" in notice and "收到新的应答" in notice
        assert _sms(s, uid) == []


def test_responding_needs_an_approved_identity_and_someone_other_than_the_demands_own_side(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    bare = user(s.client, "13800000009", "吴先生", verified=True)
    _refused(s.respond(bare, demand), 403, "no_identity")
    _refused(s.respond(s.enterprise, demand), 403, "own_demand")
    _refused(s.respond(s.agency, demand), 403, "own_demand")
    colleague = party(s.client, "13800000010", "郑工", ENTERPRISE, "enterprise")
    _refused(s.respond(colleague, demand), 403, "own_demand")
    _refused(s.respond(s.staff, demand), 403, "not_party")
    assert s.call(None, "POST", f"/api/demands/{demand}/responses", data={"summary": "x"}).status_code == 401
    _refused(s.respond(s.solver, demand, summary=""), 400, "invalid")
    assert rows(s.client, "SELECT count(*) FROM demand_responses") == [(0,)]
    assert rows(s.client, "SELECT count(*) FROM files") == [(0,)], "a refused response keeps no attachment"
    _ok(s.respond(s.expert, demand), 201)
    _refused(s.respond(s.expert, demand), 409, "responded")


def test_a_commissioned_demand_takes_questions_but_no_responses(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s, mode="commissioned")
    _refused(s.respond(s.solver, demand), 409, "closed")
    _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/messages", json={"body": "请问可以上门检测吗？"}), 201)


def test_a_demand_not_yet_published_does_not_exist_for_solvers(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    _set_state(s, demand, "pending")
    _refused(s.respond(s.solver, demand), 404, "not_found")
    _refused(s.call(s.solver, "GET", f"/api/demands/{demand}/messages"), 404, "not_found")
    assert s.call(s.enterprise, "GET", f"/api/demands/{demand}/responses").status_code == 200
    assert Actor(s.client, s.solver).get(f"/demands/{demand}/respond").status_code == 404


def _set_state(s: Scene, demand: int, state: str) -> None:
    async def run() -> None:
        async with s.client.app.state.store.transaction() as tx:  # type: ignore[attr-defined]
            await tx.execute("UPDATE demands SET state = ? WHERE id = ?", (state, demand))

    call(s.client, run)


# ---------------------------------------------------------------------- adoption (CR-6, CR-7)


def test_the_adopted_solver_gets_an_sms_and_the_others_an_inbox_notice(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    _ok(s.respond(s.rival, demand), 201)
    _ok(s.respond(s.expert, demand), 201)
    _refused(s.call(s.solver, "POST", f"/api/responses/{chosen}/adopt"), 403, "not_party")
    _refused(s.call(s.rival, "POST", f"/api/responses/{chosen}/adopt"), 404, "not_found")
    _refused(s.call(s.staff, "POST", f"/api/responses/{chosen}/adopt"), 403, "not_party")
    status = _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    assert status["adopted"] == chosen and status["takes_responses"] is False and status["may_adopt"] is False
    assert _sms(s, s.solver) == ["crowd_b_adopted"]
    for other in (s.rival, s.expert):
        assert _sms(s, other) == []
        [notice] = _inbox_only(s, other)
        assert "已采纳其他解决方案" in notice
    states = dict(rows(s.client, "SELECT solver, state FROM demand_responses"))
    assert states == {s.solver: "adopted", s.rival: "declined", s.expert: "declined"}
    call(s.client, s.client.app.state.dispatcher.run_once)  # type: ignore[attr-defined]
    inbox = _ok(s.call(s.solver, "GET", "/api/inbox"))
    assert inbox["messages"][0]["sms"] is True and "已被采纳" in inbox["messages"][0]["body"]
    assert _ok(s.call(s.rival, "GET", "/api/inbox"))["messages"][0]["sms"] is False
    _refused(s.call(s.agency, "POST", f"/api/responses/{chosen}/adopt"), 409, "adopted")


def test_no_notice_to_a_solver_names_a_hidden_field(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    _ok(s.respond(s.rival, demand), 201)
    _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/messages", json={"body": "请问检测精度要求？"}), 201)
    _ok(s.call(s.enterprise, "POST", f"/api/demands/{demand}/messages", json={"body": "0.1mm", "solver": s.solver}), 201)
    _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    call(s.client, s.client.app.state.dispatcher.run_once)  # type: ignore[attr-defined]
    said = rows(s.client, "SELECT body FROM inbox WHERE user IN (?, ?) UNION ALL SELECT body FROM outbox"
                          " WHERE user IN (?, ?)", (s.solver, s.rival, s.solver, s.rival))  # fmt: skip
    assert len(said) >= 4
    for (body,) in said:
        assert ENTERPRISE not in body and INVESTMENT not in body and "3,000,000" not in body and "李工" not in body


def test_once_adopted_before_the_deadline_new_responses_are_closed(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    _refused(s.respond(s.rival, demand), 409, "closed")
    why = Actor(s.client, s.rival).get(f"/demands/{demand}/respond")
    assert why.status_code == 200 and 'data-why="closed"' in why.text and 'name="summary"' not in why.text


def test_responses_are_taken_to_the_last_moment_of_the_deadline_day_and_not_after(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    s.clock.now = CLOSES - 1
    _ok(s.respond(s.solver, demand), 201)
    s.clock.now = CLOSES
    _refused(s.respond(s.rival, demand), 409, "closed")


def test_adoption_stays_open_until_two_weeks_after_the_deadline(scene: Scene) -> None:
    s = scene
    late, closed = _entrusted(s), _entrusted(s)
    one = _ok(s.respond(s.solver, late), 201)["id"]
    two = _ok(s.respond(s.solver, closed), 201)["id"]
    s.clock.now = SELECTION - 1
    status = _ok(s.call(s.enterprise, "POST", f"/api/responses/{one}/adopt"))
    assert status["adopted"] == one
    _refused(s.respond(s.rival, late), 409, "closed")  # after the deadline too
    s.clock.now = SELECTION
    _refused(s.call(s.enterprise, "POST", f"/api/responses/{two}/adopt"), 409, "closed")
    assert status["selection_closes"] == "2026-04-04T00:00:00+08:00"


def test_a_page_adopts_and_the_list_shows_it(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    solver = Actor(s.client, s.solver)
    sent = solver.upload(f"/demands/{demand}/respond", "attachments", "方案.png", PNG,
                         {"summary": "页面提交的方案", "approach": "先仿真后试验", "team": "", "budget": ""},
                         declared="image/png")  # fmt: skip
    assert sent.status_code == 303 and sent.headers["location"] == "/my/responses?done=1"
    [(response,)] = rows(s.client, "SELECT id FROM demand_responses")
    side = Actor(s.client, s.enterprise)
    listed = side.get(f"/demands/{demand}/responses")
    assert f"/demands/{demand}/responses/{response}/adopt" in listed.text
    assert side.post(f"/demands/{demand}/responses/{response}/adopt").status_code == 303
    assert rows(s.client, "SELECT adopted FROM demands") == [(response,)]
    again = side.post(f"/demands/{demand}/responses/{response}/adopt")
    assert again.status_code == 409 and "该需求已采纳方案" in again.text
    assert 'data-state="adopted"' in solver.get("/my/responses").text


# ---------------------------------------------------------------------- the outcome (CR-8, CR-12)


def test_unresolved_before_the_deadline_withdraws_the_adoption_and_reopens_responses(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    _refused(s.call(s.enterprise, "POST", f"/api/demands/{demand}/outcome", json={"resolved": False}), 409,
             "nothing_adopted")  # fmt: skip
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    _ok(s.respond(s.rival, demand), 201)
    _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    status = _ok(s.call(s.enterprise, "POST", f"/api/demands/{demand}/outcome", json={"resolved": False}))
    assert (status["state"], status["adopted"], status["takes_responses"], status["may_adopt"]) == (
        "published", None, True, True)
    assert dict(rows(s.client, "SELECT solver, state FROM demand_responses")) == {s.solver: "released",
                                                                                  s.rival: "submitted"}  # fmt: skip
    assert "撤销了对您方案的采纳" in _inbox_only(s, s.solver)[-1]
    _ok(s.respond(s.expert, demand), 201)
    rival = rows(s.client, "SELECT id FROM demand_responses WHERE solver = ?", (s.rival,))[0][0]
    assert _ok(s.call(s.agency, "POST", f"/api/responses/{rival}/adopt"))["adopted"] == rival


def test_unresolved_after_the_deadline_ends_the_round(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    response = _ok(s.respond(s.solver, demand), 201)["id"]
    s.clock.now = CLOSES + 3_600_000
    status = _ok(s.call(s.agency, "POST", f"/api/demands/{demand}/outcome", json={"resolved": False}))
    assert status["state"] == "unresolved" and status["may_adopt"] is False
    assert rows(s.client, "SELECT round, outcome, ended_at FROM demand_rounds") == [(1, "unresolved", s.clock.now)]
    _refused(s.call(s.enterprise, "POST", f"/api/responses/{response}/adopt"), 409, "closed")
    _refused(s.call(s.enterprise, "POST", f"/api/demands/{demand}/outcome", json={"resolved": False}), 409, "bad_state")


def test_an_entrusted_demands_fee_is_entered_by_its_agency_and_qualifies_from_200000_yuan(scene: Scene) -> None:
    s = scene
    big, small = _entrusted(s), _entrusted(s)
    url = f"/api/demands/{big}/outcome"
    _refused(s.call(s.enterprise, "POST", url, json={"resolved": True, "fee": 250_000}), 403, "fee_by_agency")
    _refused(s.call(s.agency, "POST", url, json={"resolved": True}), 400, "invalid")
    _refused(s.call(s.agency, "POST", url, json={"resolved": False, "fee": 1}), 400, "invalid")
    _refused(s.call(s.solver, "POST", url, json={"resolved": True, "fee": 1}), 403, "not_party")
    status = _ok(s.call(s.agency, "POST", url, json={"resolved": True, "fee": 200_000}))
    assert (status["state"], status["fee"], status["qualifying"]) == ("resolved", 200_000, True)
    assert _ok(s.call(s.agency, "POST", f"/api/demands/{small}/outcome", json={"resolved": True, "fee": 199_999}))[
        "qualifying"] is False
    assert rows(s.client, "SELECT outcome FROM demand_rounds ORDER BY demand") == [("resolved",), ("resolved",)]
    _refused(s.call(s.agency, "POST", url, json={"resolved": False}), 409, "bad_state")
    page = Actor(s.client, s.enterprise).get(f"/demands/{big}/outcome")
    assert 'data-qualifying="1"' in page.text and "200,000" in page.text
    assert Actor(s.client, s.solver).get(f"/demands/{big}/outcome").status_code == 403


def test_a_self_posted_demands_enterprise_enters_the_fee_through_the_page(scene: Scene) -> None:
    s = scene
    demand = published_demand(s.client, s.enterprise, deadline=DEADLINE)
    side = Actor(s.client, s.enterprise)
    assert 'data-outcome="resolved"' in side.get(f"/demands/{demand}/outcome").text
    assert side.post(f"/demands/{demand}/outcome", {"resolved": "1", "fee": "300000"}).status_code == 303
    assert rows(s.client, "SELECT state, fee FROM demands") == [("resolved", 300_000)]


# ---------------------------------------------------------------------- 立即咨询 threads


def test_a_thread_is_one_solvers_with_the_side_and_both_sides_are_told(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    url = f"/api/demands/{demand}/messages"
    asked = _ok(s.call(s.solver, "POST", url, json={"body": "请问叶片材质是什么？"}), 201)
    assert asked["by"] == "solver" and asked["solver"] == s.solver
    for uid in (s.enterprise, s.agency):
        assert "收到新的咨询消息" in _inbox_only(s, uid)[-1] and _sms(s, uid) == []
    _ok(s.call(s.rival, "POST", url, json={"body": "是否接受联合开发？"}), 201)
    assert len(_ok(s.call(s.enterprise, "GET", url))) == 2
    assert [m["body"] for m in _ok(s.call(s.agency, "GET", url, params={"solver": s.solver}))] == ["请问叶片材质是什么？"]
    assert [m["body"] for m in _ok(s.call(s.rival, "GET", url))] == ["是否接受联合开发？"]
    _refused(s.call(s.rival, "GET", url, params={"solver": s.solver}), 404, "not_found")
    _refused(s.call(s.rival, "POST", url, json={"body": "插话", "solver": s.solver}), 404, "not_found")
    answered = _ok(s.call(s.agency, "POST", url, json={"body": "镍基高温合金。", "solver": s.solver}), 201)
    assert answered["by"] == "demand_side"
    assert "回复了您的咨询" in _inbox_only(s, s.solver)[-1] and _sms(s, s.solver) == []
    assert [m["by"] for m in _ok(s.call(s.solver, "GET", url))] == ["demand_side", "solver"]
    _refused(s.call(s.enterprise, "POST", url, json={"body": "您好", "solver": s.expert}), 404, "not_found")
    _refused(s.call(s.enterprise, "POST", url, json={"body": "您好"}), 404, "not_found")
    _refused(s.call(s.staff, "POST", url, json={"body": "您好", "solver": s.solver}), 403, "not_party")
    newcomer = user(s.client, "13800000011", "新用户")
    _refused(s.call(newcomer, "POST", url, json={"body": "你好"}), 403, "not_verified")
    _refused(s.call(s.solver, "POST", url, json={"body": " "}), 400, "invalid")
    thread = Actor(s.client, s.enterprise).get(f"/demands/{demand}/messages?solver={s.solver}")
    assert "镍基高温合金" in thread.text and "是否接受联合开发" not in thread.text
    rival_page = Actor(s.client, s.rival).get(f"/demands/{demand}/messages")
    assert "是否接受联合开发" in rival_page.text and "叶片材质" not in rival_page.text
    form = Actor(s.client, s.solver).post(f"/demands/{demand}/messages", {"body": "谢谢！"})
    assert form.status_code == 303
    page = _ok(s.call(s.solver, "GET", url, params={"limit": 1}))
    assert [m["body"] for m in page] == ["谢谢！"]
    older = _ok(s.call(s.solver, "GET", url, params={"limit": 5, "before": page[0]["id"]}))
    assert [m["body"] for m in older] == ["镍基高温合金。", "请问叶片材质是什么？"]


# ---------------------------------------------------------------------- the service log


def test_the_service_log_is_kept_by_the_side_and_read_only_by_the_private_relations(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    url = f"/api/demands/{demand}/log"
    entry = _ok(s.call(s.agency, "POST", url, json={"day": "2026-03-01", "body": "与钱教授团队电话沟通技术指标。"}), 201)
    assert (entry["day"], entry["round"], entry["by"]) == ("2026-03-01", 1, "赵老师")
    _ok(s.call(s.enterprise, "POST", url, json={"day": "2026-03-02", "body": "现场考察。"}), 201)
    _refused(s.call(s.enterprise, "POST", url, json={"day": "2026-03-03", "body": "明天的事"}), 400, "invalid")
    _refused(s.call(s.staff, "POST", url, json={"day": "2026-03-02", "body": "x"}), 403, "not_party")
    _refused(s.call(s.solver, "GET", url), 403, "not_party")
    assert [e["day"] for e in _ok(s.call(s.staff, "GET", url))] == ["2026-03-02", "2026-03-01"]
    assert "现场考察" in Actor(s.client, s.enterprise).get(f"/demands/{demand}/log").text
    assert Actor(s.client, s.solver).get(f"/demands/{demand}/log").status_code == 403
    assert Actor(s.client, s.agency).post(f"/demands/{demand}/log", {"day": "2026-03-02", "body": "签约"}).status_code == 303
    assert rows(s.client, "SELECT count(*) FROM demand_log") == [(3,)]


# ---------------------------------------------------------------------- reward applications (CR-9)


def _apply(s: Scene, uid: int, demand: int) -> httpx.Response:
    return s.call(uid, "POST", f"/api/demands/{demand}/reward",
                  data={"profile": "东南大学无损检测研究团队，从事超声检测二十年。", "declaration": "本单位承诺所报材料真实有效。"},
                  files=[("proofs", ("技术合同.pdf", PDF, "application/pdf"))])  # fmt: skip


def test_a_reward_application_is_for_a_resolved_demand_and_reviewed_by_staff(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    _ok(s.respond(s.rival, demand), 201)
    _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    _refused(_apply(s, s.solver, demand), 409, "not_resolved")
    _ok(s.call(s.agency, "POST", f"/api/demands/{demand}/outcome", json={"resolved": True, "fee": 500_000}))
    _refused(_apply(s, s.rival, demand), 403, "not_party")
    _refused(_apply(s, s.staff, demand), 403, "not_party")
    no_proof = s.call(s.solver, "POST", f"/api/demands/{demand}/reward", data={"profile": "p", "declaration": "d"})
    _refused(no_proof, 400, "missing_file")
    applied = _ok(_apply(s, s.solver, demand), 201)
    assert applied["state"] == "pending" and [p["name"] for p in applied["proofs"]] == ["技术合同.pdf"]
    _refused(_apply(s, s.solver, demand), 409, "pending")
    _ok(_apply(s, s.agency, demand), 201)
    queue = _ok(s.call(s.staff, "GET", "/api/reviews", params={"kind": "reward"}))
    assert [(q["kind"], q["title"]) for q in queue] == [("reward", "高温合金叶片的无损检测方法")] * 2
    staff = Actor(s.client, s.staff)
    queue_page = staff.get("/staff/reviews?kind=reward")
    assert queue_page.status_code == 200 and "高温合金叶片的无损检测方法" in queue_page.text
    reward = applied["id"]
    assert staff.post(f"/staff/reviews/{application(s.client, 'reward', reward)}",
                      {"decision": "reject", "reason": "合同未盖章"}).status_code == 303  # fmt: skip
    assert _sms(s, s.solver)[-1] == "crowd_b_reward_rejected"
    [mine] = _ok(s.call(s.solver, "GET", f"/api/demands/{demand}/reward"))
    assert (mine["state"], mine["reason"]) == ("rejected", "合同未盖章")
    assert _ok(_apply(s, s.solver, demand), 201)["id"] == reward
    assert staff.post(f"/staff/reviews/{application(s.client, 'reward', reward)}",
                      {"decision": "approve"}).status_code == 303  # fmt: skip
    assert _sms(s, s.solver)[-1] == "crowd_b_reward_approved"
    _refused(_apply(s, s.solver, demand), 409, "rewarded")
    assert len(_ok(s.call(s.staff, "GET", f"/api/demands/{demand}/reward"))) == 2
    assert [w["state"] for w in _ok(s.call(s.agency, "GET", f"/api/demands/{demand}/reward"))] == ["pending"]
    page = Actor(s.client, s.solver).get(f"/demands/{demand}/reward")
    assert 'data-state="approved"' in page.text and 'name="profile"' not in page.text


# ---------------------------------------------------------------------- the inbox


def test_the_inbox_api_pages_the_callers_own_messages_newest_first(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    for n in range(5):
        _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/messages", json={"body": f"问题{n}"}), 201)
    first = _ok(s.call(s.enterprise, "GET", "/api/inbox", params={"limit": 2}))
    ids = [m["id"] for m in first["messages"]]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True) and first["unread"] == 5
    assert first["next_before"] == ids[-1]
    second = _ok(s.call(s.enterprise, "GET", "/api/inbox", params={"limit": 2, "before": first["next_before"]}))
    third = _ok(s.call(s.enterprise, "GET", "/api/inbox", params={"limit": 2, "before": second["next_before"]}))
    assert len(third["messages"]) == 1 and third["next_before"] is None
    assert _ok(s.call(s.rival, "GET", "/api/inbox")) == {"messages": [], "unread": 0, "next_before": None}
    _refused(s.call(s.enterprise, "GET", "/api/inbox", params={"limit": 0}), 400, "bad_request")
    assert s.call(None, "GET", "/api/inbox").status_code == 401


def test_what_solvers_and_the_side_type_comes_back_escaped(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    script = "<script>alert(1)</script>"
    _ok(s.respond(s.solver, demand, summary=script), 201)
    _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/messages", json={"body": script}), 201)
    _ok(s.call(s.agency, "POST", f"/api/demands/{demand}/log", json={"day": "2026-03-02", "body": script}), 201)
    for uid, path in ((s.enterprise, f"/demands/{demand}/responses"), (s.solver, "/my/responses"),
                      (s.enterprise, f"/demands/{demand}/messages?solver={s.solver}"),
                      (s.solver, f"/demands/{demand}/messages"), (s.agency, f"/demands/{demand}/log")):  # fmt: skip
        page = Actor(s.client, uid).get(path)
        assert page.status_code == 200 and script not in page.text and "&lt;script&gt;" in page.text, path


def test_no_page_or_answer_of_a_solver_shows_a_hidden_field(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s, hidden=("enterprise", "investment", "contact", "manager", "requirements"))
    _ok(s.respond(s.solver, demand), 201)
    _ok(s.call(s.solver, "POST", f"/api/demands/{demand}/messages", json={"body": "请问？"}), 201)
    _ok(s.call(s.agency, "POST", f"/api/demands/{demand}/messages", json={"body": "请看附件。", "solver": s.solver}), 201)
    hidden = (ENTERPRISE, INVESTMENT, "3,000,000", "李工", "13900000000", "王经理", "检出率不低于95%")
    for uid in (s.solver, s.rival):
        actor = Actor(s.client, uid)
        for path in ("respond", "responses", "messages", "log", "outcome", "reward"):
            page = actor.get(f"/demands/{demand}/{path}")
            assert page.status_code in (200, 403), (path, page.status_code)
            assert not [h for h in hidden if h in page.text], (uid, path)
        shown = [actor.get("/my/responses").text]
        for path in ("responses", "messages"):
            shown.append(s.call(uid, "GET", f"/api/demands/{demand}/{path}").text)
        shown += [s.call(uid, "GET", "/api/me/responses").text, s.call(uid, "GET", "/api/inbox").text]
        assert not [h for text in shown for h in hidden if h in text], uid


def test_two_adoptions_at_once_leave_exactly_one_adopted(scene: Scene) -> None:
    import asyncio

    from hall import responses
    from hall.auth.roles import Identity

    s = scene
    demand = _entrusted(s)
    first = _ok(s.respond(s.solver, demand), 201)["id"]
    second = _ok(s.respond(s.rival, demand), 201)["id"]
    store = s.client.app.state.store  # type: ignore[attr-defined]
    side: Identity = call(s.client, s.client.app.state.people.identity, s.enterprise)  # type: ignore[attr-defined]

    async def race() -> list[object]:
        return await asyncio.gather(*(responses.adopt(store, r, side, s.clock.now) for r in (first, second)),
                                    return_exceptions=True)  # fmt: skip

    results = call(s.client, race)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert [getattr(r, "code", None) for r in results if isinstance(r, BaseException)] == ["adopted"]
    assert rows(s.client, "SELECT count(*) FROM demand_responses WHERE state = 'adopted'") == [(1,)]
    assert len(rows(s.client, "SELECT id FROM outbox WHERE template = 'crowd_b_adopted'")) == 1


def test_the_pages_say_why_one_may_not_respond_and_offer_the_forms_to_whom_they_belong(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    bare = Actor(s.client, user(s.client, "13800000009", "吴先生", verified=True))
    page = bare.get(f"/demands/{demand}/respond")
    assert 'data-why="no_identity"' in page.text and "/account/identity" in page.text
    assert 'data-why="own_demand"' in Actor(s.client, s.agency).get(f"/demands/{demand}/respond").text
    form = Actor(s.client, s.solver).get(f"/demands/{demand}/respond")
    assert 'name="approach"' in form.text and 'name="attachments"' in form.text
    refused = Actor(s.client, s.solver).post(f"/demands/{demand}/respond", {"summary": "", "approach": "x"})
    assert refused.status_code == 400 and 'data-code="invalid"' in refused.text
    side = Actor(s.client, s.enterprise)
    outcome = side.get(f"/demands/{demand}/outcome")
    assert 'data-outcome="unresolved"' in outcome.text and 'data-outcome="resolved"' not in outcome.text
    nothing = side.post(f"/demands/{demand}/outcome", {"resolved": "0"})
    assert nothing.status_code == 409 and 'data-code="nothing_adopted"' in nothing.text
    assert 'data-outcome="resolved"' in Actor(s.client, s.agency).get(f"/demands/{demand}/outcome").text
    agency = Actor(s.client, s.agency)
    assert agency.post(f"/demands/{demand}/outcome", {"resolved": "1", "fee": "120000"}).status_code == 303
    reward = agency.get(f"/demands/{demand}/reward")
    assert 'name="proofs"' in reward.text
    sent = agency.post(f"/demands/{demand}/reward", {"profile": "中心简介", "declaration": "属实"},
                       files={"proofs": ("合同.pdf", PDF, "application/pdf")})  # fmt: skip
    assert sent.status_code == 303, sent.text
    after = agency.get(f"/demands/{demand}/reward")
    assert 'data-state="pending"' in after.text and 'name="proofs"' not in after.text
    assert 'name="proofs"' not in Actor(s.client, s.rival).get(f"/demands/{demand}/reward").text


def test_the_side_sees_its_threads_listed_and_opens_each(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    for uid, body in ((s.solver, "第一个问题"), (s.rival, "第二个问题"), (s.solver, "补充问题")):
        _ok(s.call(uid, "POST", f"/api/demands/{demand}/messages", json={"body": body}), 201)
    listing = Actor(s.client, s.enterprise).get(f"/demands/{demand}/messages")
    assert listing.text.index(f'data-thread="{s.solver}"') < listing.text.index(f'data-thread="{s.rival}"')
    assert "第一个问题" not in listing.text  # the list names the threads; a thread shows its messages


def test_an_adoption_in_the_deadlines_last_moment_closes_responses_at_once(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    chosen = _ok(s.respond(s.solver, demand), 201)["id"]
    s.clock.now = CLOSES - 1
    assert _ok(s.call(s.enterprise, "GET", f"/api/demands/{demand}/outcome"))["takes_responses"] is True
    _ok(s.call(s.enterprise, "POST", f"/api/responses/{chosen}/adopt"))
    _refused(s.respond(s.rival, demand), 409, "closed")


def test_a_restarted_demand_takes_new_responses_and_keeps_the_earlier_rounds(scene: Scene) -> None:
    s = scene
    demand = _entrusted(s)
    first = _ok(s.respond(s.solver, demand), 201)["id"]
    s.clock.now = CLOSES
    _ok(s.call(s.agency, "POST", f"/api/demands/{demand}/outcome", json={"resolved": False}))
    restarted(s.client, demand, deadline=date(2026, 4, 30))
    second = _ok(s.respond(s.solver, demand, summary="第二轮的改进方案"), 201)["id"]
    listed = _ok(s.call(s.enterprise, "GET", f"/api/demands/{demand}/responses"))
    assert [(r["id"], r["round"]) for r in listed] == [(second, 2), (first, 1)]
    _refused(s.call(s.enterprise, "POST", f"/api/responses/{first}/adopt"), 409, "old_round")
    assert _ok(s.call(s.enterprise, "POST", f"/api/responses/{second}/adopt"))["round"] == 2
    assert rows(s.client, "SELECT round, outcome FROM demand_rounds ORDER BY round") == [(1, "unresolved"), (2, None)]
