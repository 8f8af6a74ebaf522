"""Roadshows (CR-10's compete and award stages) and the staff's picks, through the JSON API and
the pages: scheduling with invitations and their SMS, scores bounded 0–100 and recorded once the
roadshow has begun, an award that is final with an SMS to winners and an inbox-only notice to
the others, and what each party sees (a solver never another solver's invitation or scores;
the public only that the demand was awarded; a hidden enterprise name never to a solver). The
demands and responses come through pieces A's and B's own flows (``demandkit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import pytest
from demandkit import approved, demand, entrustment, response, restart
from hallkit import Actor, FakeClock, anonymous, beijing_ms, bearer_of, rows, runtime, user
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.demands import day_end

NOW: Final = beijing_ms(2026, 1, 7, 10)
STARTS: Final = "2026-01-20T14:00:00+08:00"
STARTS_MS: Final = beijing_ms(2026, 1, 20, 14)
PLACE: Final = "南京市鼓楼区汉口路 22 号科技会堂"
ENTERPRISE: Final = "恒达储能科技有限公司"


@dataclass
class World:
    client: TestClient
    clock: FakeClock
    staff: int
    side: int
    agency: int
    solver_a: int
    solver_b: int
    solver_c: int
    outsider: int
    demand: int
    a: int
    b: int
    c: int

    def headers(self, uid: int | None) -> dict[str, str]:
        return {} if uid is None else bearer_of(self.client, uid)

    def get(self, path: str, uid: int | None) -> Any:
        client = anonymous(self.client)
        return client.get(path, headers=self.headers(uid))

    def post(self, path: str, body: object, uid: int | None = None, method: str = "POST") -> Any:
        client = anonymous(self.client)
        return client.request(method, path, json=body, headers=self.headers(self.staff if uid is None else uid))

    def schedule(self, responses: list[int] | None = None, **fields: object) -> Any:
        body = {"demand": self.demand, "title": "储能专场路演", "starts_at": STARTS, "place": PLACE,
                "responses": responses if responses is not None else [self.a, self.b], **fields}  # fmt: skip
        return self.post("/api/roadshows", body)


@pytest.fixture
def world(client: TestClient) -> World:
    clock = FakeClock(NOW)
    runtime(client).clock = clock
    staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
    side = user(client, "13800000001", "企业联系人", org=ENTERPRISE)
    agency = user(client, "13800000002", "技术经理人", org="江苏省技术转移中心")
    solver_a = user(client, "13800000003", "甲", org="南京大学")
    solver_b = user(client, "13800000004", "乙", org="东南大学")
    solver_c = user(client, "13800000005", "丙", org="河海大学")
    outsider = user(client, "13800000006", "路人", verified=True)
    for uid, kind in ((side, "enterprise"), (agency, "transfer"), (solver_a, "university"), (solver_b, "university"),
                      (solver_c, "university")):  # fmt: skip
        approved(client, uid, kind)
    demand_id = demand(client, agency, title="一种锂电池快充热管理方案征集", hidden=["enterprise"], manager="王经理",
                       entrustment=entrustment(client, side, agency))  # fmt: skip
    a = response(client, demand_id, solver_a, summary="甲的相变材料方案")
    b = response(client, demand_id, solver_b, summary="乙的液冷板方案")
    c = response(client, demand_id, solver_c, summary="丙的热管方案")
    return World(client, clock, staff, side, agency, solver_a, solver_b, solver_c, outsider, demand_id, a, b, c)


def _sms(world: World, user_id: int, template: str) -> list[str]:
    return [r[0] for r in rows(world.client, "SELECT body FROM outbox WHERE user = ? AND template = ?",
                               (user_id, template))]  # fmt: skip


def _scheduled(world: World) -> int:
    answered = world.schedule()
    assert answered.status_code == 201, answered.text
    roadshow: int = answered.json()["id"]
    return roadshow


def _begun(world: World) -> int:
    roadshow = _scheduled(world)
    world.clock.now = STARTS_MS + 3_600_000
    return roadshow


def _score(world: World, roadshow: int, response_id: int, score: int, expert: str = "张教授") -> Any:
    return world.post(f"/api/roadshows/{roadshow}/scores",
                      {"response": response_id, "expert": expert, "score": score, "comment": f"{expert}的点评"})  # fmt: skip


# ---------------------------------------------------------------------- schedule, invite


def test_scheduling_invites_responses_and_texts_each_invited_solver_the_time_and_place(world: World) -> None:
    answered = world.schedule()
    assert answered.status_code == 201, answered.text
    body = answered.json()
    assert body["state"] == "scheduled" and body["starts_at"] == STARTS and body["place"] == PLACE
    assert [i["response"] for i in body["invites"]] == [world.a, world.b]
    assert body["demand"]["enterprise"] == ENTERPRISE  # staff see the hidden field
    for solver in (world.solver_a, world.solver_b):
        [sms] = _sms(world, solver, "roadshow_invited")
        assert "2026-01-20 14:00" in sms and PLACE in sms and "储能专场路演" in sms
        assert ENTERPRISE not in sms  # hidden from solvers (CR-4)
    assert _sms(world, world.solver_c, "roadshow_invited") == []


def test_scheduling_refuses_a_past_time_foreign_responses_duplicates_and_an_unpublished_demand(world: World) -> None:
    assert world.schedule(starts_at="2026-01-07T09:00:00+08:00").json()["error"]["code"] == "in_the_past"
    other = demand(world.client, world.side, title="另一项需求")
    foreign = response(world.client, other, world.solver_a)
    for responses, code in (([world.a, foreign], "not_invitable"), ([world.a, world.a], "duplicate_response")):
        answered = world.schedule(responses)
        assert (answered.status_code, answered.json()["error"]["code"]) == (400, code), responses
    pending = demand(world.client, world.side, state="pending")
    answered = world.post("/api/roadshows", {"demand": pending, "title": "路演", "starts_at": STARTS, "place": PLACE,
                                             "responses": [world.a]})  # fmt: skip
    assert (answered.status_code, answered.json()["error"]["code"]) == (409, "not_published")
    assert world.schedule([]).status_code == 400  # at least one invited
    world.clock.now = day_end(date(2026, 12, 31))  # the other demand ends unresolved and restarts: round 2
    ended = world.post(f"/api/demands/{other}/outcome", {"resolved": False}, world.side)
    assert ended.status_code == 200, ended.text
    restart(world.client, world.side, other, response_deadline=date(2027, 3, 31))  # ``foreign`` is round 1's
    answered = world.post("/api/roadshows", {"demand": other, "title": "路演", "starts_at": "2027-02-01T14:00:00+08:00",
                                             "place": PLACE, "responses": [foreign]})  # fmt: skip
    assert (answered.status_code, answered.json()["error"]["code"]) == (400, "not_invitable")
    assert rows(world.client, "SELECT count(*) FROM roadshows") == [(0,)]
    assert rows(world.client, "SELECT count(*) FROM outbox WHERE template LIKE 'roadshow%'") == [(0,)]


def test_only_staff_schedule_score_and_award(world: World) -> None:
    roadshow = _begun(world)
    for uid in (world.side, world.agency, world.solver_a):
        assert world.post("/api/roadshows", {"demand": world.demand}, uid).status_code == 403
        assert _score_as(world, roadshow, uid).status_code == 403
        assert world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.a]}, uid).status_code == 403


def _score_as(world: World, roadshow: int, uid: int) -> Any:
    return world.post(f"/api/roadshows/{roadshow}/scores", {"response": world.a, "expert": "专家", "score": 90}, uid)


# ---------------------------------------------------------------------- scores


def test_scores_wait_for_the_roadshow_to_begin(world: World) -> None:
    roadshow = _scheduled(world)
    answered = _score(world, roadshow, world.a, 90)
    assert (answered.status_code, answered.json()["error"]["code"]) == (409, "not_started")
    world.clock.now = STARTS_MS
    assert _score(world, roadshow, world.a, 90).status_code == 201


@pytest.mark.parametrize(("score", "status"), [(-1, 400), (0, 201), (100, 201), (101, 400)])
def test_a_score_is_a_whole_number_from_0_to_100(world: World, score: int, status: int) -> None:
    roadshow = _begun(world)
    answered = _score(world, roadshow, world.a, score)
    assert answered.status_code == status, answered.text
    assert rows(world.client, "SELECT score FROM roadshow_scores") == ([(score,)] if status == 201 else [])


def test_experts_scores_and_comments_are_recorded_per_invited_response_and_an_expert_may_correct_his(
    world: World,
) -> None:  # fmt: skip
    roadshow = _begun(world)
    for expert, mark_a, mark_b in (("张教授", 88, 70), ("李研究员", 92, 75)):
        assert _score(world, roadshow, world.a, mark_a, expert).status_code == 201
        assert _score(world, roadshow, world.b, mark_b, expert).status_code == 201
    answered = _score(world, roadshow, world.b, 80, "李研究员")  # corrected, not added
    invites = {i["response"]: i for i in answered.json()["invites"]}
    assert [(s["expert"], s["score"]) for s in invites[world.b]["scores"]] == [("张教授", 70), ("李研究员", 80)]
    assert invites[world.a]["average"] == 90.0 and invites[world.b]["average"] == 75.0
    assert invites[world.a]["scores"][0]["comment"] == "张教授的点评"
    refused = _score(world, roadshow, world.c, 60)  # responded, but not invited
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "not_invited")


# ---------------------------------------------------------------------- award


def test_the_award_texts_winners_and_leaves_the_others_an_inbox_notice_only(world: World) -> None:
    roadshow = _begun(world)
    answered = world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.a]})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["state"] == "awarded" and body["awarded_at"] is not None
    assert {i["response"]: i["winner"] for i in body["invites"]} == {world.a: True, world.b: False}
    [won] = _sms(world, world.solver_a, "roadshow_won")
    assert "储能专场路演" in won and ENTERPRISE not in won
    assert _sms(world, world.solver_b, "roadshow_won") == [] and _sms(world, world.solver_b, "roadshow_not_won") == []
    [(notice, outbox)] = rows(world.client, "SELECT body, outbox FROM inbox WHERE user = ?", (world.solver_b,))
    assert outbox is None and "未获评优胜" in notice and ENTERPRISE not in notice
    assert rows(world.client, "SELECT count(*) FROM inbox WHERE user = ?", (world.solver_c,)) == [(0,)]


def test_an_awarded_roadshow_is_final(world: World) -> None:
    roadshow = _begun(world)
    assert _score(world, roadshow, world.a, 90).status_code == 201
    assert world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.a]}).status_code == 200
    for answered in (_score(world, roadshow, world.b, 99),
                     world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.b]})):  # fmt: skip
        assert (answered.status_code, answered.json()["error"]["code"]) == (409, "awarded")
    again = world.schedule(starts_at="2026-02-20T14:00:00+08:00")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_awarded")
    assert rows(world.client, "SELECT response, winner FROM roadshow_invites ORDER BY response") == \
        [(world.a, 1), (world.b, 0)]  # fmt: skip
    assert rows(world.client, "SELECT count(*) FROM roadshow_scores") == [(1,)]


def test_winners_must_be_invited(world: World) -> None:
    roadshow = _begun(world)
    answered = world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.c]})
    assert (answered.status_code, answered.json()["error"]["code"]) == (400, "not_invited")
    assert world.post(f"/api/roadshows/{roadshow}/award", {"winners": []}).status_code == 400
    assert rows(world.client, "SELECT state FROM roadshows") == [("scheduled",)]


# ---------------------------------------------------------------------- who sees what


def _scored_and_awarded(world: World) -> int:
    roadshow = _begun(world)
    assert _score(world, roadshow, world.a, 91, "张教授").status_code == 201
    assert _score(world, roadshow, world.b, 67, "王教授").status_code == 201
    assert world.post(f"/api/roadshows/{roadshow}/award", {"winners": [world.a]}).status_code == 200
    return roadshow


def test_the_demand_side_and_its_agency_see_every_invitation_score_and_winner(world: World) -> None:
    roadshow = _scored_and_awarded(world)
    for uid in (world.side, world.agency, world.staff):
        found = world.get(f"/api/demands/{world.demand}/roadshows", uid).json()
        [shown] = found["roadshows"]
        assert shown["id"] == roadshow and shown["demand"]["enterprise"] == ENTERPRISE
        assert [(i["solver"], i["winner"], [s["score"] for s in i["scores"]]) for i in shown["invites"]] == \
            [("南京大学", True, [91]), ("东南大学", False, [67])]  # fmt: skip
        assert world.get(f"/api/roadshows/{roadshow}", uid).json() == shown
        page = world.get(f"/demands/{world.demand}/roadshows", uid).text
        assert "南京大学" in page and "东南大学" in page and "王教授" in page


def test_an_invited_solver_sees_its_own_invitation_scores_and_result_and_nothing_of_the_others(world: World) -> None:
    roadshow = _scored_and_awarded(world)
    for uid, mine, theirs in ((world.solver_a, ("南京大学", 91, "张教授"), ("东南大学", "王教授", "乙的液冷板方案")),
                              (world.solver_b, ("东南大学", 67, "王教授"), ("南京大学", "张教授", "甲的相变材料方案"))):  # fmt: skip
        answered = world.get(f"/api/roadshows/{roadshow}", uid)
        assert answered.status_code == 200
        [invite] = answered.json()["invites"]
        assert (invite["solver"], invite["scores"][0]["score"], invite["scores"][0]["expert"]) == mine
        assert invite["winner"] is (uid == world.solver_a)
        assert "enterprise" not in answered.json()["demand"]  # hidden from the public (CR-4)
        listed = world.get(f"/api/demands/{world.demand}/roadshows", uid)
        page = world.get(f"/demands/{world.demand}/roadshows", uid)
        assert page.status_code == 200 and PLACE in page.text
        assert ("获评优胜" if uid == world.solver_a else "未获评优胜") in page.text
        for text in (answered.text, listed.text, page.text):
            assert ENTERPRISE not in text
            assert not any(other in text for other in theirs), (uid, theirs)


def test_a_solver_not_invited_and_any_other_account_see_nothing_of_a_roadshow(world: World) -> None:
    roadshow = _scheduled(world)
    for uid in (world.solver_c, world.outsider):
        assert world.get(f"/api/roadshows/{roadshow}", uid).status_code == 404
        found = world.get(f"/api/demands/{world.demand}/roadshows", uid).json()
        assert found == {"demand": world.demand, "awarded": False, "awarded_at": None, "roadshows": []}
        page = world.get(f"/demands/{world.demand}/roadshows", uid).text
        assert "储能专场路演" not in page and PLACE not in page and "南京大学" not in page


def test_the_public_learns_only_that_the_demand_was_awarded(world: World) -> None:
    roadshow = _scored_and_awarded(world)
    found = world.get(f"/api/demands/{world.demand}/roadshows", None).json()
    assert found["awarded"] is True and found["roadshows"] == [] and found["awarded_at"].startswith("2026-01-20T15:00")
    page = world.get(f"/demands/{world.demand}/roadshows", None)
    assert page.status_code == 200 and 'data-awarded="1"' in page.text
    for secret in ("储能专场路演", PLACE, "南京大学", "东南大学", "张教授", ENTERPRISE):
        assert secret not in page.text and secret not in str(found)
    assert world.get(f"/api/roadshows/{roadshow}", None).status_code == 401


def test_roadshows_of_a_demand_never_published_are_its_side_and_staffs_only(world: World) -> None:
    pending = demand(world.client, world.side, state="pending")
    assert world.get(f"/api/demands/{pending}/roadshows", world.outsider).status_code == 404
    assert world.get(f"/demands/{pending}/roadshows", None).status_code == 404
    assert world.get(f"/api/demands/{pending}/roadshows", world.side).status_code == 200
    assert world.get("/api/demands/999/roadshows", world.staff).status_code == 404


# ---------------------------------------------------------------------- the staff's pages


def test_staff_schedule_score_and_award_from_the_pages(world: World) -> None:
    staff = Actor(world.client, world.staff)
    assert staff.get("/staff/roadshows").status_code == 200
    form = staff.get(f"/staff/roadshows?demand={world.demand}")
    assert form.status_code == 200 and f'value="{world.a}"' in form.text and "丙的热管方案" in form.text
    refused = staff.post("/staff/roadshows", {"demand": str(world.demand), "title": "储能专场路演", "place": PLACE,
                                              "starts_at": "2026-01-20T14:00", "responses": []})  # fmt: skip
    assert refused.status_code == 400 and 'class="message"' in refused.text
    assert f'value="{world.b}"' in refused.text and 'value="储能专场路演"' in refused.text  # the form again, as typed
    made = staff.post("/staff/roadshows", {"demand": str(world.demand), "title": "储能专场路演", "place": PLACE,
                                           "starts_at": "2026-01-20T14:00", "responses": [str(world.a), str(world.b)]})  # fmt: skip
    assert made.status_code == 303, made.text
    page_path = made.headers["location"].split("?")[0]
    roadshow = int(page_path.rsplit("/", 1)[1])
    assert rows(world.client, "SELECT starts_at, place FROM roadshows") == [(STARTS_MS, PLACE)]
    early = staff.post(f"{page_path}/scores", {"response": str(world.a), "expert": "张教授", "score": "90"})
    assert early.status_code == 409 and 'class="message"' in early.text
    world.clock.now = STARTS_MS + 60_000
    bad = staff.post(f"{page_path}/scores", {"response": str(world.a), "expert": "张教授", "score": "120"})
    assert bad.status_code == 400 and "0–100" in bad.text
    assert staff.post(f"{page_path}/scores", {"response": str(world.a), "expert": "张教授", "score": "90",
                                              "comment": "方案成熟"}).status_code == 303  # fmt: skip
    assert staff.post(f"{page_path}/award", {"winners": [str(world.a)]}).status_code == 303
    shown = staff.get(page_path)
    assert "方案成熟" in shown.text and 'data-winner="1"' in shown.text and f'action="{page_path}/award"' not in shown.text
    assert f"/staff/roadshows/{roadshow}" in staff.get("/staff/roadshows").text
    assert len(_sms(world, world.solver_a, "roadshow_won")) == 1


# ---------------------------------------------------------------------- picks


def test_picks_put_picked_demands_first_lowest_rank_first_and_0_clears_a_pick(world: World) -> None:
    later = []
    for title in ("需求乙", "需求丙"):
        world.clock.now += 60_000
        later.append(demand(world.client, world.side, title=title))
    second, third = later  # published after the fixture's, so newer

    def order() -> list[tuple[int, int]]:
        return [(d["demand"], d["pick"]) for d in world.get("/api/picks", world.staff).json()]

    assert order() == [(third, 0), (second, 0), (world.demand, 0)]  # newest first
    for demand_id, rank in ((world.demand, 2), (second, 1)):
        answered = world.post(f"/api/demands/{demand_id}/pick", {"pick": rank}, method="PUT")
        assert answered.status_code == 200 and answered.json()["pick"] == rank
    assert order() == [(second, 1), (world.demand, 2), (third, 0)]
    assert world.post(f"/api/demands/{second}/pick", {"pick": 0}, method="PUT").json()["pick"] == 0
    assert order() == [(world.demand, 2), (third, 0), (second, 0)]
    pending = demand(world.client, world.side, state="pending")
    refused = world.post(f"/api/demands/{pending}/pick", {"pick": 1}, method="PUT")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_published")
    assert world.post(f"/api/demands/{world.demand}/pick", {"pick": 1000}, method="PUT").status_code == 400
    assert world.post(f"/api/demands/{world.demand}/pick", {"pick": 1}, world.side, method="PUT").status_code == 403


def test_staff_pick_a_demand_from_the_picks_page(world: World) -> None:
    staff = Actor(world.client, world.staff)
    page = staff.get("/staff/picks")
    assert page.status_code == 200 and f'action="/staff/picks/{world.demand}"' in page.text
    assert staff.post(f"/staff/picks/{world.demand}", {"pick": "3"}).status_code == 303
    assert rows(world.client, "SELECT pick FROM demands WHERE id = ?", (world.demand,)) == [(3,)]
    assert 'data-pick="3"' in staff.get("/staff/picks?done=1").text
    assert staff.post(f"/staff/picks/{world.demand}", {"pick": "abc"}).status_code == 400
