"""Demands end to end (CR-1 to CR-4, CR-11): posting, review and numbering, hidden fields,
edit/resubmit, restart, withdrawal, entrustments and the batch upload, through the JSON API and
the pages, as every kind of party."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import openpyxl
import pytest
from demandkit import demand, demand_state, entrustment, party
from hallkit import (Actor, FakeClock, anonymous, application, beijing_ms, call, hall, listing, people, rows, runtime,
                     user)
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.batch import write_cell

NOW: Final = beijing_ms(2026, 3, 2, 10, 0)
ENTERPRISE: Final = "甲精密制造有限公司"
OTHER: Final = "丙新材料有限公司"
AGENCY: Final = "乙技术转移中心"
SECRETS: Final = {"enterprise": ENTERPRISE, "investment": "876543", "contact": "保密联系人", "manager": "保密经理",
                  "requirements": "保密指标八百纳米"}  # fmt: skip
"""What a demand hiding every field holds in them: none may reach the public."""


def body(**changes: Any) -> dict[str, Any]:
    """A valid demand as the API's body."""
    fields: dict[str, Any] = {
        "title": "锂电池极片缺陷在线检测技术", "industry": "energy", "description": "需要在涂布后在线识别极片表面的微小缺陷。",
        "investment": 800000, "cooperation": "joint_development", "valid_until": "2027-06-30",
        "response_deadline": "2026-12-31", "hidden": [],
    }  # fmt: skip
    fields.update(changes)
    return fields


@dataclass
class Crowd:
    client: TestClient
    ids: dict[str, int]
    """Accounts by role: enterprise, other (another enterprise), agency, solver, staff, plain."""

    def api(self, method: str, url: str, who: str | None, **kwargs: Any) -> Any:
        """Call the API as ``who`` (a bearer token of that account) or anonymously (None)."""
        anonymous(self.client)
        headers = {}
        if who is not None:
            _, secret = call(self.client, people(self.client).new_token, self.ids[who], "t")
            headers["Authorization"] = f"Bearer {secret}"
        return self.client.request(method, url, headers=headers, **kwargs)

    def actor(self, who: str) -> Actor:
        return Actor(self.client, self.ids[who])

    def page(self, who: str | None, url: str) -> Any:
        return self.actor(who).get(url) if who else anonymous(self.client).get(url)

    def decide(self, demand_id: int, approve: bool = True, reason: str = "") -> None:
        found = application(self.client, "demand", demand_id)
        answer = self.actor("staff").post(f"/staff/reviews/{found}", {"decision": "approve" if approve else "reject",
                                                                      "reason": reason})  # fmt: skip
        assert answer.status_code == 303, answer.text


@pytest.fixture
def crowd(tmp_path: Path) -> Iterator[Crowd]:
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        yield Crowd(client, _parties(client))


def _parties(client: TestClient) -> dict[str, int]:
    return {
        "enterprise": party(client, "13900000401", ENTERPRISE, "enterprise"),
        "colleague": user(client, "13900000402", "同事", org=ENTERPRISE),
        "other": party(client, "13900000403", OTHER, "soe"),
        "agency": party(client, "13900000404", AGENCY, "transfer"),
        "solver": party(client, "13900000405", "示范大学", "university"),
        "plain": user(client, "13900000406", "普通用户", verified=True),
        "staff": user(client, "13900000101", "审核员", roles=(Role.STAFF,)),
    }


# ---------------------------------------------------------------------- posting and review (CR-2, CR-3)


def test_an_enterprise_posts_a_demand_that_only_staff_approval_numbers_and_publishes(crowd: Crowd) -> None:
    posted = crowd.api("POST", "/api/demands", "enterprise", json=body())
    assert posted.status_code == 201, posted.text
    assert set(posted.json()) == {"id", "state"} and posted.json()["state"] == "pending"
    demand_id = posted.json()["id"]
    assert crowd.api("GET", f"/api/demands/{demand_id}", None).status_code == 404
    assert crowd.api("GET", f"/api/demands/{demand_id}", "solver").status_code == 404
    mine = crowd.api("GET", f"/api/demands/{demand_id}", "colleague").json()  # the same organisation: the side
    assert mine["number"] is None and mine["relation"] == "side" and mine["next_actions"] == ["withdraw"]
    assert crowd.api("GET", "/api/demands", None).json()["total"] == 0

    queue = crowd.actor("staff").get("/staff/reviews?kind=demand").text
    assert f'href="/demands/{demand_id}"' in queue and "锂电池极片缺陷在线检测技术" in queue
    crowd.decide(demand_id)
    public = crowd.api("GET", f"/api/demands/{demand_id}", None).json()
    assert public["number"] == "ZB20260001" and public["state"] == "published" and public["takes_responses"]
    assert public["published_at"].startswith("2026-03-02T10:00")
    assert [d["id"] for d in crowd.api("GET", "/api/demands", None).json()["demands"]] == [demand_id]
    assert rows(crowd.client, "SELECT round, valid_until, response_deadline, ended_at FROM demand_rounds") == [
        (1, "2027-06-30", "2026-12-31", None)]
    [(sms,)] = rows(crowd.client, "SELECT body FROM outbox WHERE template = 'demand_approved'")
    assert "ZB20260001" in sms


def test_only_an_account_with_an_approved_enterprise_identity_posts_itself(crowd: Crowd) -> None:
    for who in ("solver", "plain", "agency"):
        refused = crowd.api("POST", "/api/demands", who, json=body())
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_enterprise", who
    assert crowd.api("POST", "/api/demands", None, json=body()).status_code == 401
    assert crowd.api("POST", "/api/demands", "other", json=body()).status_code == 201  # soe counts as an enterprise


def test_a_draft_is_refused_field_by_field_with_stable_codes(crowd: Crowd) -> None:
    refused = crowd.api("POST", "/api/demands", "enterprise", json=body(
        title=" ", investment=0, response_deadline="2026-03-01", valid_until="2026-02-01", hidden=["title"],
        service_mode="commissioned", contact_phone="call me"))  # fmt: skip
    assert refused.status_code == 400
    codes = {f["field"]: f["code"] for f in refused.json()["error"]["fields"]}
    assert codes == {"title": "required", "investment": "investment_range", "response_deadline": "past_date",
                     "valid_until": "valid_before_deadline", "hidden": "bad_hidden",
                     "service_mode": "commissioned_needs_agency", "contact_phone": "bad_phone"}  # fmt: skip
    too_long = crowd.api("POST", "/api/demands", "enterprise", json=body(valid_until="2030-01-01"))
    assert [f["code"] for f in too_long.json()["error"]["fields"]] == ["valid_too_long"]
    missing = crowd.api("POST", "/api/demands", "enterprise", json={"title": "只有名称"})
    assert {f["field"] for f in missing.json()["error"]["fields"]} == {
        "industry", "description", "investment", "cooperation", "response_deadline", "valid_until"}
    assert crowd.api("POST", "/api/demands", "enterprise", json=body(cooperation="gift")).status_code == 400
    assert rows(crowd.client, "SELECT count(*) FROM demands") == [(0,)]


def test_the_deadline_may_be_today_in_beijing_but_not_yesterday(crowd: Crowd) -> None:
    assert crowd.api("POST", "/api/demands", "enterprise", json=body(response_deadline="2026-03-02")).status_code == 201


# ---------------------------------------------------------------------- numbers (CR-3)


def test_numbers_run_per_year_skip_what_never_published_and_survive_a_restart(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        ids = _parties(client)
        first = demand(client, ids["enterprise"])
        demand(client, ids["enterprise"], "rejected")
        demand(client, ids["enterprise"], "withdrawn")
        pending = demand(client, ids["enterprise"], "pending")
        second = demand(client, ids["other"])
        restarted = demand(client, ids["enterprise"], "unresolved")  # numbered, then ended without a solution
    with hall(tmp_path) as client:  # the server restarted on the same database
        runtime(client).clock = FakeClock(NOW + 3600_000)
        crowd = Crowd(client, ids)
        crowd.decide(pending)
        runtime(client).clock = FakeClock(beijing_ms(2027, 1, 1, 0, 5))
        assert crowd.api("PUT", f"/api/demands/{restarted}", "enterprise",
                         json=body(response_deadline="2027-03-31", valid_until="2027-12-31")).status_code == 200
        crowd.decide(restarted)
        next_year = demand(client, ids["other"], response_deadline=date(2027, 3, 1))
        numbers = dict(rows(client, "SELECT id, number FROM demands WHERE number IS NOT NULL"))
    assert numbers == {first: "ZB20260001", second: "ZB20260002", restarted: "ZB20260003", pending: "ZB20260004",
                       next_year: "ZB20270001"}  # fmt: skip


# ---------------------------------------------------------------------- hidden fields (CR-4)


def _secret_demand(crowd: Crowd) -> int:
    """A published demand posted by the agency for the enterprise, hiding every hideable field."""
    made = entrustment(crowd.client, crowd.ids["enterprise"], crowd.ids["agency"])
    posted = crowd.api("POST", "/api/demands", "agency", json=body(
        title="高速冲压模具寿命提升", description="冲压模具寿命短，需要表面处理方案。", entrustment=made,
        investment=int(SECRETS["investment"]), contact_name=SECRETS["contact"], contact_phone="13912345678",
        manager=SECRETS["manager"], requirements=SECRETS["requirements"], hidden=list(SECRETS)))  # fmt: skip
    assert posted.status_code == 201, posted.text
    crowd.decide(posted.json()["id"])
    return int(posted.json()["id"])


HIDDEN_KEYS: Final = ("enterprise", "investment", "contact_name", "contact_phone", "manager", "requirements", "hidden",
                      "agency", "reason", "next_actions", "relation")  # fmt: skip


@pytest.mark.parametrize("who", [None, "other", "solver", "plain"])
def test_a_hidden_field_reaches_no_page_answer_or_search_of_those_who_may_not_see_it(crowd: Crowd,
                                                                                    who: str | None) -> None:  # fmt: skip
    demand_id = _secret_demand(crowd)
    one = crowd.api("GET", f"/api/demands/{demand_id}", who)
    assert one.status_code == 200
    assert not set(HIDDEN_KEYS) & set(one.json()), one.json()
    listed = crowd.api("GET", "/api/demands", who).json()["demands"]
    assert [d["id"] for d in listed] == [demand_id] and not set(HIDDEN_KEYS) & set(listed[0])
    answers = [one.text, crowd.api("GET", "/api/demands?q=模具", who).text]
    for secret in SECRETS.values():
        found = crowd.api("GET", "/api/demands", who, params={"q": secret}).json()
        assert found["total"] == 0, secret  # the index holds no hidden text
        assert "data-demand=" not in crowd.page(who, f"/demands?q={secret}").text, secret
    answers += [crowd.page(who, f"/demands/{demand_id}").text, crowd.page(who, "/demands").text,
                crowd.page(who, "/demands?q=模具").text]  # fmt: skip
    for text in answers:
        for secret in (*SECRETS.values(), "13912345678", "876,543", AGENCY):
            assert secret not in text, secret
    assert "模具" in crowd.page(who, "/demands?q=模具").text  # the public text is searchable


@pytest.mark.parametrize("who, relation", [("enterprise", "side"), ("colleague", "side"), ("agency", "agency"),
                                           ("staff", "staff")])  # fmt: skip
def test_the_side_its_agency_and_staff_see_every_hidden_field(crowd: Crowd, who: str, relation: str) -> None:
    demand_id = _secret_demand(crowd)
    seen = crowd.api("GET", f"/api/demands/{demand_id}", who).json()
    assert seen["relation"] == relation and seen["enterprise"] == ENTERPRISE and seen["agency"] == AGENCY
    assert seen["investment"] == 876543 and seen["contact_name"] == SECRETS["contact"]
    assert seen["manager"] == SECRETS["manager"] and seen["requirements"] == SECRETS["requirements"]
    assert seen["hidden"] == ["enterprise", "investment", "contact", "manager", "requirements"]
    page = crowd.page(who, f"/demands/{demand_id}").text
    for secret in (ENTERPRISE, SECRETS["contact"], SECRETS["manager"], SECRETS["requirements"], "876,543"):
        assert secret in page, secret
    for link in ("responses", "log", "outcome", "patents"):
        assert f'href="/demands/{demand_id}/{link}"' in page
    assert f'href="/demands/{demand_id}/respond"' not in page


def test_an_approved_demand_is_pushed_to_a_matching_solver_by_sms_naming_no_hidden_field(crowd: Crowd) -> None:
    """CR-10 across pieces A and C: staff's approval in the review queue publishes the demand
    and, in the same transaction (``DemandKind.approve``), pushes it to the solvers whose
    listings match its public text; the SMS names the title and number only (CR-4)."""
    matching = user(crowd.client, "13900000407", "模具研究所", org="模具表面工程研究所")
    listing(crowd.client, matching, title="一种冲压模具表面强化处理方法", number="ZL202110123456.7")
    unrelated = user(crowd.client, "13900000408", "语音实验室", org="方言语音实验室")
    listing(crowd.client, unrelated, title="一种方言声学模型训练方法", number="ZL202210654321.8")
    demand_id = _secret_demand(crowd)
    [(number,)] = rows(crowd.client, "SELECT number FROM demands WHERE id = ?", (demand_id,))
    pushed = "SELECT body FROM outbox WHERE user = ? AND template = 'demand_pushed'"
    [(text,)] = rows(crowd.client, pushed, (matching,))
    assert "高速冲压模具寿命提升" in text and number in text
    for secret in (*SECRETS.values(), "13912345678", "876,543", AGENCY):
        assert secret not in text, secret
    assert rows(crowd.client, pushed, (unrelated,)) == []
    assert rows(crowd.client, "SELECT solver, demand FROM demand_pushes") == [(matching, demand_id)]


def test_the_public_page_links_to_respond_while_responses_are_taken_and_to_consult(crowd: Crowd) -> None:
    demand_id = demand(crowd.client, crowd.ids["enterprise"], response_deadline=date(2026, 3, 5))
    page = crowd.page("solver", f"/demands/{demand_id}").text
    assert f'href="/demands/{demand_id}/respond"' in page and f'href="/demands/{demand_id}/messages"' in page
    assert f'href="/demands/{demand_id}/responses"' not in page
    runtime(crowd.client).clock = FakeClock(beijing_ms(2026, 3, 6, 0, 0))  # the deadline day has ended
    page = crowd.page("solver", f"/demands/{demand_id}").text
    assert f'href="/demands/{demand_id}/respond"' not in page and 'data-open="0"' in page
    assert crowd.api("GET", f"/api/demands/{demand_id}", None).json()["takes_responses"] is False
    assert rows(crowd.client, "SELECT views FROM demands") == [(2,)]  # the public's views, for the hot lists


# ---------------------------------------------------------------------- edit, restart, withdraw


def test_a_rejected_demand_shows_its_reason_and_is_edited_and_resubmitted(crowd: Crowd) -> None:
    demand_id = crowd.api("POST", "/api/demands", "enterprise", json=body()).json()["id"]
    crowd.decide(demand_id, approve=False, reason="请补充技术指标")
    seen = crowd.api("GET", f"/api/demands/{demand_id}", "enterprise").json()
    assert seen["state"] == "rejected" and seen["reason"] == "请补充技术指标" and seen["next_actions"] == ["edit"]
    assert "请补充技术指标" in crowd.page("enterprise", f"/demands/{demand_id}").text
    assert crowd.api("GET", f"/api/demands/{demand_id}", "solver").status_code == 404
    refused = crowd.api("PUT", f"/api/demands/{demand_id}", "other", json=body())
    assert refused.status_code == 404
    edited = crowd.api("PUT", f"/api/demands/{demand_id}", "enterprise", json=body(requirements="检出率不低于99%"))
    assert edited.status_code == 200 and edited.json()["state"] == "pending"
    assert rows(crowd.client, "SELECT count(*) FROM applications WHERE kind = 'demand' AND subject = ?",
                (demand_id,)) == [(2,)]  # fmt: skip
    again = crowd.api("PUT", f"/api/demands/{demand_id}", "enterprise", json=body())
    assert again.status_code == 409 and again.json()["error"]["code"] == "bad_state"
    crowd.decide(demand_id)
    assert crowd.api("GET", f"/api/demands/{demand_id}", None).json()["number"] == "ZB20260001"


def test_an_unresolved_demand_restarts_as_a_new_round_under_its_number_with_its_history(crowd: Crowd) -> None:
    demand_id = demand(crowd.client, crowd.ids["enterprise"], "unresolved")
    published = demand(crowd.client, crowd.ids["enterprise"])
    refused = crowd.api("PUT", f"/api/demands/{published}", "enterprise", json=body())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "bad_state"
    assert crowd.api("GET", f"/api/demands/{demand_id}", "enterprise").json()["next_actions"] == ["restart"]
    runtime(crowd.client).clock = FakeClock(beijing_ms(2027, 1, 5, 9, 0))
    restarted = crowd.api("PUT", f"/api/demands/{demand_id}", "enterprise",
                          json=body(title="极片缺陷检测（第二轮）", response_deadline="2027-04-30", valid_until="2027-10-31"))
    assert restarted.status_code == 200 and restarted.json()["state"] == "pending", restarted.text
    assert restarted.json()["number"] == "ZB20260001"
    crowd.decide(demand_id)
    seen = crowd.api("GET", f"/api/demands/{demand_id}", None).json()
    assert (seen["number"], seen["round"], seen["state"], seen["takes_responses"]) == ("ZB20260001", 2, "published", True)
    history = rows(crowd.client, "SELECT round, response_deadline, outcome, ended_at IS NOT NULL FROM demand_rounds"
                                 " WHERE demand = ? ORDER BY round", (demand_id,))  # fmt: skip
    assert history == [(1, "2026-12-31", "unresolved", 1), (2, "2027-04-30", None, 0)]
    page = crowd.page("enterprise", f"/demands/{demand_id}").text
    assert 'data-round="1"' in page and 'data-round="2"' in page
    assert "极片缺陷检测（第二轮）" in crowd.page(None, "/demands?q=第二轮").text


def test_a_demand_is_withdrawn_while_pending_and_only_then(crowd: Crowd) -> None:
    demand_id = crowd.api("POST", "/api/demands", "enterprise", json=body()).json()["id"]
    assert crowd.api("POST", f"/api/demands/{demand_id}/withdraw", "other").status_code == 404
    withdrawn = crowd.api("POST", f"/api/demands/{demand_id}/withdraw", "enterprise")
    assert withdrawn.status_code == 200 and withdrawn.json() == {"id": demand_id, "state": "withdrawn"}
    assert rows(crowd.client, "SELECT state FROM applications WHERE kind = 'demand'") == [("withdrawn",)]
    assert crowd.api("POST", f"/api/demands/{demand_id}/withdraw", "enterprise").json()["error"]["code"] == "bad_state"
    published = demand(crowd.client, crowd.ids["enterprise"])
    assert crowd.api("POST", f"/api/demands/{published}/withdraw", "enterprise").status_code == 409
    assert crowd.api("POST", f"/api/demands/{published}/withdraw", "solver").status_code == 403


# ---------------------------------------------------------------------- entrustments (CR-2)


def test_an_entrusted_organisation_posts_and_works_the_demand_and_the_enterprise_sees_it(crowd: Crowd) -> None:
    agencies = crowd.api("GET", "/api/agencies", None).json()
    assert [a["name"] for a in agencies] == [AGENCY]
    agency_org = agencies[0]["id"]
    asked = crowd.api("POST", "/api/entrustments", "enterprise", json={"agency_org": agency_org, "note": "请代为发布"})
    assert asked.status_code == 201 and asked.json()["state"] == "pending" and asked.json()["role"] == "enterprise"
    made = asked.json()["id"]
    again = crowd.api("POST", "/api/entrustments", "enterprise", json={"agency_org": agency_org})
    assert again.status_code == 409 and again.json()["error"]["code"] == "entrusted"
    assert crowd.api("POST", "/api/entrustments", "solver", json={"agency_org": agency_org}).status_code == 403
    not_agency = crowd.api("POST", "/api/entrustments", "other", json={"agency_org": agency_org + 100})
    assert not_agency.json()["error"]["code"] == "not_agency"
    [(notice,)] = rows(crowd.client, "SELECT body FROM inbox WHERE user = ? AND outbox IS NULL", (crowd.ids["agency"],))
    assert ENTERPRISE in notice

    early = crowd.api("POST", "/api/demands", "agency", json=body(entrustment=made, manager="王经理"))
    assert early.status_code == 403 and early.json()["error"]["code"] == "not_entrusted"
    assert crowd.api("POST", f"/api/entrustments/{made}", "solver", json={"action": "accept"}).status_code == 404
    assert crowd.api("POST", f"/api/entrustments/{made}", "enterprise", json={"action": "accept"}).status_code == 403
    accepted = crowd.api("POST", f"/api/entrustments/{made}", "agency", json={"action": "accept"})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted" and accepted.json()["role"] == "agency"
    no_manager = crowd.api("POST", "/api/demands", "agency", json=body(entrustment=made))
    assert [f["field"] for f in no_manager.json()["error"]["fields"]] == ["manager"]
    posted = crowd.api("POST", "/api/demands", "agency", json=body(entrustment=made, manager="王经理",
                                                                    service_mode="commissioned"))  # fmt: skip
    assert posted.status_code == 201, posted.text
    demand_id = posted.json()["id"]
    assert crowd.api("POST", "/api/demands", "solver", json=body(entrustment=made, manager="王经理")).status_code == 403

    seen = crowd.api("GET", f"/api/demands/{demand_id}", "enterprise").json()
    assert (seen["relation"], seen["enterprise"], seen["agency"], seen["next_actions"]) == ("side", ENTERPRISE, AGENCY, [])
    assert crowd.api("GET", f"/api/demands/{demand_id}", "agency").json()["next_actions"] == ["withdraw"]
    for who in ("enterprise", "agency"):
        assert [d["id"] for d in crowd.api("GET", "/api/demands?mine=1", who).json()["demands"]] == [demand_id]
        assert f'data-demand="{demand_id}"' in crowd.page(who, "/my/demands").text
    assert crowd.api("GET", "/api/demands?mine=1", "other").json()["total"] == 0
    crowd.decide(demand_id, approve=False, reason="请补充")
    assert crowd.api("PUT", f"/api/demands/{demand_id}", "enterprise", json=body()).status_code == 403  # the agency works it
    assert crowd.api("PUT", f"/api/demands/{demand_id}", "agency", json=body(manager="王经理")).status_code == 200
    crowd.decide(demand_id)
    notices = [b for (b,) in rows(crowd.client, "SELECT body FROM inbox WHERE user = ? ORDER BY id", (crowd.ids["enterprise"],))]
    assert any("请补充" in b for b in notices) and any("ZB20260001" in b for b in notices)
    [(applicant_sms,)] = rows(crowd.client, "SELECT user FROM outbox WHERE template = 'demand_approved'")
    assert applicant_sms == crowd.ids["agency"]
    page = crowd.page("enterprise", "/entrustments").text
    assert f'data-entrustment="{made}" data-state="accepted"' in page


def test_an_organisation_declines_and_an_enterprise_withdraws_a_pending_entrustment(crowd: Crowd) -> None:
    declined = entrustment(crowd.client, crowd.ids["enterprise"], crowd.ids["agency"], "declined")
    assert rows(crowd.client, "SELECT state FROM entrustments WHERE id = ?", (declined,)) == [("declined",)]
    refused = crowd.api("POST", f"/api/entrustments/{declined}", "agency", json={"action": "accept"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "bad_state"
    pending = entrustment(crowd.client, crowd.ids["enterprise"], crowd.ids["agency"], "pending")
    page = crowd.actor("agency").get("/entrustments").text
    assert f'action="/entrustments/{pending}"' in page
    taken = crowd.actor("enterprise").post(f"/entrustments/{pending}", {"action": "withdraw"})
    assert taken.status_code == 303
    assert rows(crowd.client, "SELECT state FROM entrustments WHERE id = ?", (pending,)) == [("withdrawn",)]


# ---------------------------------------------------------------------- the batch (CR-11)


def _sheet(rows_: list[dict[str, Any]]) -> bytes:
    """The downloaded template with the example overwritten by ``rows_`` (by header)."""
    wb = openpyxl.load_workbook(io.BytesIO(_template))
    ws = wb.worksheets[0]
    headers = {ws.cell(1, c).value: c for c in range(1, ws.max_column + 1)}
    for r in range(2, 4):
        for c in range(1, ws.max_column + 1):
            ws.cell(r, c).value = None
    for n, values in enumerate(rows_, start=2):
        for header, value in values.items():
            write_cell(ws, n, headers[header], value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_template = b""
GOOD: Final = {"需求名称": "高效光伏组件清洗机器人", "所属行业": "新能源", "需求描述": "光伏电站组件清洗耗水量大。",
               "服务方式": "合作服务", "合作方式": "技术许可", "意向投入金额（元）": 300000,
               "应答截止日": date(2026, 6, 30), "有效期至": date(2026, 12, 31), "不公开的信息": "意向投入金额（元）、联系人及电话"}  # fmt: skip


def test_a_batch_posts_every_row_when_all_are_good_and_none_when_one_is_bad(crowd: Crowd) -> None:
    global _template
    template = crowd.api("GET", "/api/templates/demands.xlsx", None)
    assert template.status_code == 200 and template.content.startswith(b"PK")
    _template = template.content
    untouched = crowd.api("POST", "/api/demands/batch", "enterprise", files={"file": ("a.xlsx", _template)})
    assert untouched.status_code == 400 and untouched.json()["error"]["code"] == "empty"
    bad = _sheet([GOOD, {**GOOD, "需求名称": "另一个需求", "意向投入金额（元）": "三十万", "应答截止日": date(2026, 1, 1)},
                  {**GOOD}])  # fmt: skip
    report = crowd.api("POST", "/api/demands/batch", "enterprise", files={"file": ("a.xlsx", bad)})
    assert report.status_code == 200 and report.json()["demands"] == []
    by_row = {r["row"]: r for r in report.json()["rows"]}
    assert by_row[2]["ok"] and not by_row[3]["ok"] and not by_row[4]["ok"]
    assert {e["column"] for e in by_row[3]["errors"]} == {"意向投入金额（元）", "应答截止日"}
    assert [e["column"] for e in by_row[4]["errors"]] == ["需求名称"]  # the same title as row 2
    assert rows(crowd.client, "SELECT count(*) FROM demands") == [(0,)]

    good = _sheet([GOOD, {**GOOD, "需求名称": "光伏组件热斑检测", "所属行业": "new_it", "不公开的信息": None}])
    posted = crowd.api("POST", "/api/demands/batch", "enterprise", files={"file": ("a.xlsx", good)})
    assert posted.status_code == 200 and len(posted.json()["demands"]) == 2, posted.text
    made = rows(crowd.client, "SELECT title, industry, hidden, state, batch FROM demands ORDER BY id")
    first = posted.json()["demands"][0]
    assert made == [("高效光伏组件清洗机器人", "energy", '["investment","contact"]', "pending", first),
                    ("光伏组件热斑检测", "new_it", "[]", "pending", first)]
    assert rows(crowd.client, "SELECT count(*) FROM applications WHERE kind = 'demand'") == [(2,)]
    refused = crowd.api("POST", "/api/demands/batch", "solver", files={"file": ("a.xlsx", good)})
    assert {e["column"] for r in refused.json()["rows"] for e in r["errors"]} == {"委托编号"}


def test_an_agency_uploads_rows_under_its_entrustments_and_the_page_shows_the_report(crowd: Crowd) -> None:
    global _template
    _template = crowd.api("GET", "/api/templates/demands.xlsx", None).content
    made = entrustment(crowd.client, crowd.ids["enterprise"], crowd.ids["agency"])
    sheet = _sheet([{**GOOD, "委托编号": made, "技术经理人": "王经理"}, {**GOOD, "需求名称": "无委托", "技术经理人": "王经理"}])
    page = crowd.actor("agency").upload("/demands/batch", "file", "a.xlsx", sheet, declared="application/octet-stream")
    assert page.status_code == 400 and 'data-row="3" data-ok="0"' in page.text and 'data-row="2" data-ok="1"' in page.text
    sheet = _sheet([{**GOOD, "委托编号": made, "技术经理人": "王经理"}])
    page = crowd.actor("agency").upload("/demands/batch", "file", "a.xlsx", sheet, declared="application/octet-stream")
    assert page.status_code == 200 and 'data-posted="1"' in page.text
    assert rows(crowd.client, "SELECT enterprise, agency_org IS NOT NULL, entrustment FROM demands") == [
        (crowd.ids["enterprise"], 1, made)]
    refused = crowd.actor("agency").upload("/demands/batch", "file", "a.xlsx", b"not a workbook")
    assert refused.status_code == 400 and 'role="alert"' in refused.text


# ---------------------------------------------------------------------- pages


def test_the_form_posts_a_demand_and_says_what_is_wrong_beside_each_field(crowd: Crowd) -> None:
    enterprise = crowd.actor("enterprise")
    form = {"title": "新型储能材料", "industry": "materials", "description": "需要高能量密度材料。", "investment": "1,000,000",
            "cooperation": "equity", "service_mode": "cooperation", "response_deadline": "2026-09-30",
            "valid_until": "2026-12-31", "contact_name": "赵工", "contact_phone": "13800001111"}  # fmt: skip
    wrong = enterprise.post("/demands", {**form, "investment": "一百万", "response_deadline": "2026-02-30"})
    assert wrong.status_code == 400
    assert 'data-field="investment"' in wrong.text and 'data-field="response_deadline"' in wrong.text
    refused = enterprise.post("/demands", {**form, "valid_until": "2026-06-30"})
    assert refused.status_code == 400 and 'data-field="valid_until"' in refused.text
    posted = enterprise.client.post("/demands", data={"csrf": enterprise.csrf, **form, "hidden": ["investment", "contact"]},
                                    follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303, posted.text
    demand_id = int(posted.headers["location"].rsplit("/", 1)[1])
    assert rows(crowd.client, "SELECT investment, hidden FROM demands") == [(1_000_000, '["investment","contact"]')]
    page = enterprise.get(f"/demands/{demand_id}").text
    assert 'data-state="pending"' in page and f'action="/demands/{demand_id}/withdraw"' in page
    assert crowd.actor("solver").get("/demands/new").text.count('data-code="cannot_post"') == 1
    assert crowd.actor("solver").post("/demands", form).status_code == 403
    assert enterprise.post(f"/demands/{demand_id}/withdraw").status_code == 303
    assert demand_state(crowd.client, demand_id) == "withdrawn"


def test_the_home_filters_by_state_industry_and_words_and_pages_through(crowd: Crowd) -> None:
    for n in range(22):
        demand(crowd.client, crowd.ids["enterprise"], title=f"储能需求{n}")
    demand(crowd.client, crowd.ids["other"], title="生物医药检测需求", industry="biomedicine")
    demand(crowd.client, crowd.ids["other"], "unresolved", title="未解决的旧需求")
    first = crowd.api("GET", "/api/demands", None).json()
    assert (first["total"], first["pages"], len(first["demands"])) == (23, 2, 20)
    second = crowd.api("GET", "/api/demands?page=2", None).json()
    assert len(second["demands"]) == 3 and not {d["id"] for d in second["demands"]} & {d["id"] for d in first["demands"]}
    assert [d["title"] for d in crowd.api("GET", "/api/demands?industry=biomedicine", None).json()["demands"]] == [
        "生物医药检测需求"]
    assert [d["title"] for d in crowd.api("GET", "/api/demands?state=unresolved", None).json()["demands"]] == [
        "未解决的旧需求"]
    assert crowd.api("GET", "/api/demands?q=储能需求1", None).json()["total"] >= 1
    assert crowd.api("GET", "/api/demands?state=pending", None).status_code == 400
    assert crowd.api("GET", "/api/demands?page=0", None).status_code == 400
    page = crowd.page(None, "/demands?industry=&state=&q=&page=2").text
    assert page.count("data-demand=") == 3 and 'rel="prev"' in page
    assert crowd.page(None, "/demands?industry=biomedicine").text.count("data-demand=") == 1
