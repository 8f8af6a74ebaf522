"""Listings end to end (LS-2 to LS-9): the seller's pages and the JSON API, through the review
mechanism, with the season's quota counted in the store and the batch upload over HTTP."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import openpyxl
import pytest
from hallkit import Actor, FakeClock, anonymous, application, beijing_ms, call, hall, open_shop, rows, runtime, user
from starlette.testclient import TestClient

from hall import listing_actions
from hall.auth.roles import PERMISSIONS, Role
from hall.batch import write_cell
from hall.store.patents import PatentCatalogue
from hall.web.listings import routes as listing_routes

NOW: Final = beijing_ms(2026, 3, 2, 10, 0)
PDF: Final = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ORG: Final = "示范大学"


def patent(**changes: Any) -> dict[str, Any]:
    """A valid own patent of ``ORG`` as the API's body."""
    body: dict[str, Any] = {
        "kind": "patent", "title": "一种锂电池健康状态的估计方法", "number": "ZL202110123456.7", "holder": ORG,
        "inventors": ["张三"], "application_date": "2021-01-15", "grant_date": "2023-06-20", "ipc": "H01M 10/48",
        "legal_status": "valid", "abstract": "本发明公开了一种估计方法。", "forms": ["transfer"],
        "start_price": 100000, "season": False, "agreement": True,
    }  # fmt: skip
    body.update(changes)
    return body


def valid_number(year: int, serial: int) -> str:
    """A check-digit-valid invention patent number of ``year`` (the office's ISO 7064 mod 11-2)."""
    digits = f"{year}1{serial:07d}"
    total = sum(int(d) * w for d, w in zip(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
    check = total % 11
    return f"ZL{digits}.{'X' if check == 10 else check}"


@dataclass
class Hall:
    client: TestClient
    seller: Actor
    staff: Actor
    token: str
    """The seller's API token."""
    shop: int

    def api(self, method: str, url: str, token: str | None = None, **kwargs: Any) -> Any:
        anonymous(self.client)
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Hall]:
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        owner = user(client, "13900000301", ORG, org=ORG)
        shop = open_shop(client, owner, ORG, "university")
        staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
        _, token = call(client, client.app.state.people.new_token, owner)  # type: ignore[attr-defined]
        yield Hall(client, Actor(client, owner), Actor(client, staff), token, shop)


def decide(h: Hall, kind: str, subject: int, decision: str, reason: str = "") -> None:
    found = application(h.client, kind, subject)
    answer = h.staff.post(f"/staff/reviews/{found}", {"decision": decision, "reason": reason})
    assert answer.status_code == 303, answer.text


def sms(h: Hall, template: str) -> list[str]:
    return [body for (body,) in rows(h.client, "SELECT body FROM outbox WHERE template = ? ORDER BY id", (template,))]


# ---------------------------------------------------------------------- the JSON API


def test_api_listing_is_created_pending_with_its_ownership_and_agreement_recorded_ls2(h: Hall) -> None:
    created = h.api("POST", "/api/listings", json=patent())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "pending" and body["ownership"] == "own" and body["reason"] is None
    assert body["agreement_version"] == listing_actions.AGREEMENT_VERSION
    assert body["agreement_at"] == "2026-03-02T10:00:00+08:00"
    [(version, at, state)] = rows(h.client, "SELECT agreement_version, agreement_at, state FROM listings")
    assert (version, at, state) == (listing_actions.AGREEMENT_VERSION, NOW, "pending")
    [(kind, subject, app_state)] = rows(h.client, "SELECT kind, subject, state FROM applications")
    assert (kind, subject, app_state) == ("listing", body["id"], "pending")


def test_api_without_the_agreement_is_400_with_field_errors_ls2(h: Hall) -> None:
    refused = h.api("POST", "/api/listings", json=patent(agreement=False, start_price=0, number="ZL202110123456.8"))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid"
    assert {f["field"]: f["code"] for f in error["fields"]} == {
        "agreement": "agreement_required", "start_price": "price_range", "number": "bad_number"}
    assert all(f["message"] for f in error["fields"])
    assert rows(h.client, "SELECT count(*) FROM listings") == [(0,)]


def test_api_body_of_the_wrong_shape_is_400_bad_request(h: Hall) -> None:
    assert h.api("POST", "/api/listings", json={**patent(), "colour": "red"}).json()["error"]["code"] == "bad_request"
    assert h.api("POST", "/api/listings", content=b"kind=patent",
                 headers={"content-type": "text/plain"}).status_code == 415


def test_agent_listing_needs_the_holders_authorisation_ls4(h: Hall) -> None:
    other = patent(holder="东南大学")
    refused = h.api("POST", "/api/listings", json=other)
    assert refused.status_code == 400
    assert [f["code"] for f in refused.json()["error"]["fields"]] == ["authorisation_required"]
    co_owned = patent(co_holders=["东南大学"])
    assert h.api("POST", "/api/listings", json=co_owned).status_code == 400  # a co-owner cannot sell alone
    import json

    sent = h.api("POST", "/api/listings", data={"listing": json.dumps(other)},
                 files={"authorisation": ("授权书.pdf", PDF, "application/pdf")})  # fmt: skip
    assert sent.status_code == 201, sent.text
    assert sent.json()["ownership"] == "agent"
    [(file_id,)] = rows(h.client, "SELECT authorisation FROM listings")
    assert file_id is not None
    assert rows(h.client, "SELECT file FROM application_documents") == [(file_id,)]  # one click away for staff


def test_own_is_computed_from_the_shops_organisation_whatever_the_spacing_ls4(h: Hall) -> None:
    sent = h.api("POST", "/api/listings", json=patent(holder=" 示范 大学 "))
    assert sent.status_code == 201 and sent.json()["ownership"] == "own"


def test_ownership_change_is_an_application_staff_decide_ls4(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    no_document = h.seller.post(f"/seller/listings/{item}/ownership", {"ownership": "agent", "note": "实为代理"})
    assert no_document.status_code == 400
    asked = h.seller.upload(f"/seller/listings/{item}/ownership", "authorisation", "授权书.pdf", PDF,
                            {"ownership": "agent", "note": "该专利已转让给校办企业，由本校代理"})  # fmt: skip
    assert asked.status_code == 303, asked.text
    [(change, wanted, state)] = rows(h.client, "SELECT id, ownership, state FROM ownership_changes")
    assert (wanted, state) == ("agent", "pending")
    queue = h.staff.get("/staff/reviews?kind=ownership&state=pending")
    assert queue.status_code == 200 and "一种锂电池健康状态的估计方法" in queue.text
    decide(h, "ownership", change, "approve")
    assert h.api("GET", f"/api/listings/{item}").json()["ownership"] == "agent"
    assert rows(h.client, "SELECT state FROM ownership_changes") == [("approved",)]
    assert sms(h, "ownership_approved") and "代理" in sms(h, "ownership_approved")[0]


def test_listing_approved_by_staff_is_listed_and_the_seller_gets_an_sms_ls7(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    assert h.seller.get(f"/staff/reviews?kind=listing").status_code == 403
    decide(h, "listing", item, "approve")
    assert h.api("GET", f"/api/listings/{item}").json()["state"] == "listed"
    assert sms(h, "listing_approved") == ["【技术产权交易所】您发布的商品《一种锂电池健康状态的估计方法》已审核通过，已上架。"]
    public = anonymous(h.client).get("/api/listings").json()
    assert [p["id"] for p in public] == [item]  # the hall shows it


def test_rejected_listing_shows_the_reason_then_is_edited_and_resubmitted_ls7(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    decide(h, "listing", item, "reject", "摘要过于简单")
    found = h.api("GET", f"/api/listings/{item}").json()
    assert (found["state"], found["reason"], found["next_actions"]) == ("rejected", "摘要过于简单", ["resubmit"])
    assert "摘要过于简单" in sms(h, "listing_rejected")[0]
    centre = h.seller.get("/seller")
    assert centre.status_code == 200 and "摘要过于简单" in centre.text
    assert h.seller.get(f"/seller/listings/{item}/edit").status_code == 200
    again = h.api("PUT", f"/api/listings/{item}", json=patent(abstract="本发明公开了一种基于等效电路模型的估计方法。"))
    assert again.status_code == 200, again.text
    assert (again.json()["state"], again.json()["reason"]) == ("pending", None)
    assert rows(h.client, "SELECT state FROM applications WHERE kind = 'listing' ORDER BY id") == [
        ("rejected",), ("pending",)]
    assert h.api("PUT", f"/api/listings/{item}", json=patent()).json()["error"]["code"] == "bad_state"


def test_delist_a_listed_item_then_edit_it_and_in_auction_once_a_session_holds_it_ls9(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    assert h.api("POST", f"/api/listings/{item}/delist").json()["error"]["code"] == "bad_state"  # pending
    decide(h, "listing", item, "approve")
    delisted = h.api("POST", f"/api/listings/{item}/delist")
    assert delisted.status_code == 200 and delisted.json()["state"] == "delisted"
    assert h.api("PUT", f"/api/listings/{item}", json=patent(start_price=90000)).json()["state"] == "pending"
    decide(h, "listing", item, "approve")
    call(h.client, _in_session, h, item)  # what the auction sessions do when staff add it as a lot
    refused = h.api("POST", f"/api/listings/{item}/delist")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "in_auction"
    page = h.seller.post(f"/seller/listings/{item}/delist")
    assert page.status_code == 409


async def _in_session(h: Hall, item: int) -> None:
    async with h.client.app.state.store.transaction() as tx:  # type: ignore[attr-defined]
        await tx.execute("UPDATE listings SET state = 'in_session' WHERE id = ?", (item,))


def test_another_shops_item_is_not_found_and_a_pending_item_is_not_public(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    other = user(h.client, "13900000302", "东南大学", org="东南大学")
    open_shop(h.client, other, "东南大学", "university")
    _, token = call(h.client, h.client.app.state.people.new_token, other)  # type: ignore[attr-defined]
    assert h.api("GET", f"/api/listings/{item}", token=token).status_code == 404
    assert h.api("POST", f"/api/listings/{item}/delist", token=token).status_code == 404
    assert h.api("PUT", f"/api/listings/{item}", token=token, json=patent(holder="东南大学")).status_code == 404
    assert anonymous(h.client).get(f"/api/listings/{item}").status_code == 404
    assert anonymous(h.client).get(f"/listings/{item}").status_code == 404
    assert h.staff.get(f"/listings/{item}").status_code == 200
    assert h.api("GET", "/api/listings?mine=1&state=pending").json()[0]["id"] == item
    assert h.api("GET", "/api/listings?mine=1&state=listed").json() == []
    assert anonymous(h.client).get("/api/listings?state=pending").status_code == 400
    assert anonymous(h.client).get("/api/listings?mine=1").json()["error"]["code"] == "no_shop"


def test_an_account_with_the_role_but_no_open_shop_is_refused_no_shop(h: Hall) -> None:
    lone = user(h.client, "13900000303", "某企业", org="某企业", roles=(Role.SELLER,))
    _, token = call(h.client, h.client.app.state.people.new_token, lone)  # type: ignore[attr-defined]
    refused = h.api("POST", "/api/listings", token=token, json=patent())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_shop"


# ---------------------------------------------------------------------- the season (LS-6, LS-10)


def test_season_grant_date_boundary_is_1_january_three_years_before_ls10(h: Hall) -> None:
    on_the_day = h.api("POST", "/api/listings", json=patent(season=True, grant_date="2023-01-01"))
    assert on_the_day.status_code == 201, on_the_day.text
    assert on_the_day.json()["season_year"] == 2026
    day_before = h.api("POST", "/api/listings", json=patent(season=True, grant_date="2022-12-31",
                                                           number=valid_number(2021, 2), application_date="2021-02-01"))
    assert day_before.status_code == 409
    assert day_before.json()["error"]["code"] == "not_eligible" and "2023-01-01" in day_before.json()["error"]["message"]


def test_season_rules_are_data_per_season_year_ls6(h: Hall) -> None:
    from hall.listings import SeasonRules
    from hall.store import listings as sql

    async def set_rules() -> None:
        async with h.client.app.state.store.transaction() as tx:  # type: ignore[attr-defined]
            rules = SeasonRules.for_year(2026)
            await sql.set_season_rules(tx, SeasonRules(year=2026, granted_from=rules.granted_from, max_per_org=1), NOW)

    call(h.client, set_rules)
    assert h.api("POST", "/api/listings", json=patent(season=True)).status_code == 201
    second = h.api("POST", "/api/listings", json=patent(season=True, number=valid_number(2021, 3)))
    assert second.json()["error"]["code"] == "org_limit"


def test_season_is_for_own_items_of_universities_institutes_and_soes_ls6(h: Hall) -> None:
    firm = user(h.client, "13900000304", "某科技有限公司", org="某科技有限公司")
    open_shop(h.client, firm, "某科技有限公司", "enterprise")
    _, token = call(h.client, h.client.app.state.people.new_token, firm)  # type: ignore[attr-defined]
    refused = h.api("POST", "/api/listings", token=token, json=patent(season=True, holder="某科技有限公司"))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_eligible"
    assert h.api("POST", "/api/listings", token=token, json=patent(holder="某科技有限公司")).status_code == 201


def test_season_org_limit_the_50th_is_entered_the_51st_refused_ls10(h: Hall) -> None:
    for serial in range(1, 50):
        call(h.client, _listed_in_season, h, serial)
    fiftieth = h.api("POST", "/api/listings", json=patent(season=True, number=valid_number(2021, 50)))
    assert fiftieth.status_code == 201, fiftieth.text
    fifty_first = h.api("POST", "/api/listings", json=patent(season=True, number=valid_number(2021, 51)))
    assert fifty_first.status_code == 409 and fifty_first.json()["error"]["code"] == "org_limit"
    assert h.api("POST", "/api/listings", json=patent(number=valid_number(2021, 51))).status_code == 201  # not in the season
    # a delisted one no longer counts
    assert h.api("POST", f"/api/listings/{fiftieth.json()['id']}/delist").status_code == 409  # pending: not delistable
    decide(h, "listing", fiftieth.json()["id"], "reject", "重复")
    assert h.api("POST", "/api/listings", json=patent(season=True, number=valid_number(2021, 52))).status_code == 201


async def _listed_in_season(h: Hall, serial: int) -> None:
    from hall.listings import ListingDraft, Ownership
    from hall.store import listings as sql
    import msgspec

    draft = msgspec.convert(patent(season=True, number=valid_number(2021, serial)), ListingDraft)
    org = h.client.app.state.store  # type: ignore[attr-defined]
    async with org.transaction() as tx:
        [(org_id,)] = list(await tx.execute_fetchall("SELECT org FROM shops WHERE id = ?", (h.shop,)))
        await sql.insert(tx, shop=h.shop, org=org_id, draft=draft, ownership=Ownership.OWN, authorisation=None,
                         season=2026, agreement_version="2026-01", user=h.seller.id, now=NOW)  # fmt: skip


# ---------------------------------------------------------------------- the pages (LS-2, LS-3)


def test_single_listing_page_shows_the_agreement_and_the_lookup_wiring_ls2_ls3(h: Hall) -> None:
    page = h.seller.get("/seller/listings/new?kind=patent")
    assert page.status_code == 200
    assert "商品发布协议（2026-01 版）" in page.text
    assert 'hx-get="/patents/lookup"' in page.text and "/static/patents.js" in page.text
    for name in ("title", "number", "holder", "grant_date", "ipc", "legal_status", "abstract", "application_date",
                 "inventors"):
        assert f'name="{name}"' in page.text, name
    achievement = h.seller.get("/seller/listings/new?kind=achievement")
    assert 'name="maturity"' in achievement.text and 'name="ipc"' not in achievement.text


def test_lookup_fills_the_form_each_key_of_a_pick_is_a_field_of_the_form_ls3(h: Hall) -> None:
    import json
    import re

    from hall.patents import Patent

    catalogue = PatentCatalogue(h.client.app.state.store)  # type: ignore[attr-defined]
    call(h.client, catalogue.upsert, [Patent(number="ZL202110123456.7", title="一种锂电池健康状态的估计方法", holder=ORG,
                                              grant_date="2023-06-20", ipc="H01M 10/48", legal_status="valid",
                                              abstract="本发明公开了一种估计方法。", application_date="2021-01-15",
                                              inventors="张三、李四")], NOW)  # fmt: skip
    fragment = h.seller.get("/patents/lookup?title=锂电池")
    picks = re.findall(r'data-patent="([^"]+)"', fragment.text)
    assert picks, fragment.text
    import html

    patent_json = json.loads(html.unescape(picks[0]))
    form = h.seller.get("/seller/listings/new?kind=patent").text
    names = set(re.findall(r'name="([a-z_]+)"', form))
    assert set(patent_json) <= names  # patents.js sets every field named like a key
    # the form as patents.js leaves it, submitted
    data = {k: str(v) for k, v in patent_json.items()} | {"kind": "patent", "forms": "transfer", "start_price": "100000",
                                                           "agreement": "1"}  # fmt: skip
    sent = h.seller.post("/seller/listings", data)
    assert sent.status_code == 303, sent.text
    [(title, holder, number)] = rows(h.client, "SELECT title, holder, number FROM listings")
    assert (title, holder, number) == ("一种锂电池健康状态的估计方法", ORG, "ZL202110123456.7")


def test_page_form_with_errors_comes_back_with_each_message_beside_its_field(h: Hall) -> None:
    sent = h.seller.post("/seller/listings", {"kind": "patent", "title": "某专利", "grant_date": "2023-02-30",
                                              "start_price": "十万"})  # fmt: skip
    assert sent.status_code == 400
    assert 'data-field="grant_date"' in sent.text and 'data-field="start_price"' in sent.text
    assert 'value="某专利"' in sent.text
    full = h.seller.post("/seller/listings", {"kind": "patent", "title": "某专利", "start_price": "1"})
    assert full.status_code == 400 and 'data-field="agreement"' in full.text and 'data-field="number"' in full.text


def test_seller_centre_lists_items_by_state_with_next_actions(h: Hall) -> None:
    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    decide(h, "listing", item, "approve")
    centre = h.seller.get("/seller")
    assert centre.status_code == 200
    section = centre.text.split('id="state-listed"')[1].split("</section>")[0]
    assert f'action="/seller/listings/{item}/delist"' in section
    assert f'href="/shops/{h.shop}"' in centre.text


# ---------------------------------------------------------------------- batch (LS-8)


def _sheet(h: Hall, rows_: list[list[object]]) -> bytes:
    """The patent template as downloaded, its example replaced by ``rows_``."""
    template = anonymous(h.client).get("/api/templates/patents.xlsx").content
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    ws.delete_rows(2, ws.max_row)
    for r, values in enumerate(rows_, start=2):
        for c, value in enumerate(values, start=1):
            if isinstance(value, str) and value.startswith("="):
                ws.cell(row=r, column=c, value=value)  # a real formula
            else:
                write_cell(ws, r, c, value)  # type: ignore[arg-type]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _row(number: str, title: str = "一种专利", holders: str = ORG, price: object = 100000) -> list[object]:
    return [number, title, holders, "张三", "2021-01-15", "2023-06-20", "H01M 10/48", "有效", "摘要。", "转让", price, "否"]


def test_batch_templates_download_with_headers_and_an_example_row_ls8(h: Hall) -> None:
    for kind in ("patents", "achievements"):
        got = anonymous(h.client).get(f"/api/templates/{kind}.xlsx")
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/vnd.openxml")
        ws = openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0]
        assert ws.cell(1, 1).value and ws.cell(2, 1).value is not None


def test_batch_round_trip_bad_row_fixed_then_good_rows_listed_ls8(h: Hall) -> None:
    first = _sheet(h, [_row(valid_number(2021, 7)), _row("ZL202110123456.8", "坏号码"), _row(valid_number(2021, 8), "代理", "东南大学")])
    sent = h.api("POST", "/api/listings/batch", files={"file": ("批量.xlsx", first, "application/octet-stream")})
    assert sent.status_code == 201, sent.text
    report = sent.json()
    assert [(r["row"], r["ok"]) for r in report["rows"]] == [(2, True), (3, False), (4, False)]
    assert report["rows"][1]["errors"][0]["column"] == "专利号" and report["rows"][1]["errors"][0]["message"]
    assert report["rows"][2]["errors"][0]["message"].startswith("代理标的")
    page = h.seller.get(f"/seller/batches/{report['batch']}")
    assert page.status_code == 200 and 'data-row="3"' in page.text
    fixed = _sheet(h, [_row(valid_number(2021, 7)), _row(valid_number(2021, 9), "好号码")])
    again = h.api("POST", "/api/listings/batch", files={"file": ("批量.xlsx", fixed, "application/octet-stream")}).json()
    assert all(r["ok"] for r in again["rows"])
    assert h.api("POST", f"/api/listings/batch/{again['batch']}/submit", json={"agreement": False}).status_code == 400
    listed = h.api("POST", f"/api/listings/batch/{again['batch']}/submit", json={"agreement": True})
    assert listed.status_code == 201, listed.text
    assert len(listed.json()["listings"]) == 2
    assert rows(h.client, "SELECT count(*) FROM applications WHERE kind = 'listing' AND state = 'pending'") == [(2,)]
    assert rows(h.client, "SELECT DISTINCT agreement_version, batch FROM listings") == [
        (listing_actions.AGREEMENT_VERSION, again["batch"])]
    assert h.api("POST", f"/api/listings/batch/{again['batch']}/submit", json={"agreement": True}).json()["error"][
        "code"] == "batch_submitted"
    other = user(h.client, "13900000305", "东南大学", org="东南大学")
    open_shop(h.client, other, "东南大学", "university")
    _, token = call(h.client, h.client.app.state.people.new_token, other)  # type: ignore[attr-defined]
    assert h.api("POST", f"/api/listings/batch/{report['batch']}/submit", token=token,
                 json={"agreement": True}).status_code == 404  # owner-bound


def test_batch_with_a_formula_cell_is_refused_clearly_ls8(h: Hall) -> None:
    data = _sheet(h, [_row(valid_number(2021, 7), price="=1+1")])
    refused = h.api("POST", "/api/listings/batch", files={"file": ("f.xlsx", data, "application/octet-stream")})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "formula"
    page = h.seller.post("/seller/batches", {"kind": "patent"}, files={"file": ("f.xlsx", data, "application/octet-stream")})
    assert page.status_code == 400 and "公式" in page.text


def test_batch_text_that_looks_like_a_formula_is_stored_as_text_ls8(h: Hall) -> None:
    data = _sheet(h, [_row(valid_number(2021, 7), title="=HYPERLINK(\"x\")")])
    assert h.api("POST", "/api/listings/batch", files={"file": ("f.xlsx", data, "application/octet-stream")}).status_code == 400
    text_cell = _sheet(h, [_row(valid_number(2021, 7), title="@一种专利")])
    sent = h.api("POST", "/api/listings/batch", files={"file": ("f.xlsx", text_cell, "application/octet-stream")}).json()
    assert sent["rows"][0]["ok"]


def test_batch_oversized_file_is_413_ls8(h: Hall) -> None:
    big = b"PK\x03\x04" + bytes(5 * 1024 * 1024 + 10)
    refused = h.api("POST", "/api/listings/batch", files={"file": ("big.xlsx", big, "application/octet-stream")})
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large"
    not_xlsx = h.api("POST", "/api/listings/batch", files={"file": ("a.xlsx", b"hello", "application/octet-stream")})
    assert not_xlsx.status_code == 400 and not_xlsx.json()["error"]["code"] == "not_xlsx"


def test_batch_report_expires(h: Hall) -> None:
    data = _sheet(h, [_row(valid_number(2021, 7))])
    batch = h.api("POST", "/api/listings/batch", files={"file": ("f.xlsx", data, "application/octet-stream")}).json()["batch"]
    runtime(h.client).clock = FakeClock(NOW + listing_actions.BATCH_TTL_MS)
    assert h.api("POST", f"/api/listings/batch/{batch}/submit", json={"agreement": True}).status_code == 410


# ---------------------------------------------------------------------- who may


SELLER_ROUTES: Final = [r for r in listing_routes if PERMISSIONS[r.name] == frozenset({Role.SELLER})]  # type: ignore[attr-defined]


def test_every_seller_route_refuses_anonymous_and_accounts_without_the_role(h: Hall) -> None:
    bidder = Actor(h.client, user(h.client, "13800000001", "竞买人", org="恒达科技有限公司"))
    assert len(SELLER_ROUTES) >= 15
    for route in SELLER_ROUTES:
        path = re.sub(r"{[^}]+}", "1", route.path)  # type: ignore[attr-defined]
        method = sorted(route.methods - {"HEAD"})[0]  # type: ignore[attr-defined]
        anon = anonymous(h.client).request(method, path, headers={"accept": "application/json"})
        assert anon.status_code in (401, 403), (route.name, anon.status_code)
        bidder._wear()
        headers = {"accept": "application/json", "x-csrf-token": bidder.csrf}
        refused = h.client.request(method, path, headers=headers)
        assert refused.status_code == 403, (route.name, refused.status_code)


def test_seller_centre_shows_its_lots_with_their_live_state(h: Hall) -> None:
    from hallkit import lot

    item = h.api("POST", "/api/listings", json=patent()).json()["id"]
    decide(h, "listing", item, "approve")
    [(org,)] = rows(h.client, "SELECT org FROM shops WHERE id = ?", (h.shop,))
    lot_id = lot(h.client, seller_org=org, publicity_start=NOW - 3_600_000, bidding_start=NOW + 3_600_000)

    async def in_session() -> None:  # what the auction sessions write when they publish the lot
        async with h.client.app.state.store.transaction() as tx:  # type: ignore[attr-defined]
            cursor = await tx.execute(
                "INSERT INTO auctions (name, industry, day, mode, publicity_start, bidding_start, bidding_end, state,"
                " created_by, created_at) VALUES ('新能源专场', 'new_energy', '2026-03-04', 'timed', ?, ?, ?, 'published',"
                " ?, ?)", (NOW, NOW, NOW, h.staff.id, NOW))  # fmt: skip
            await tx.execute("INSERT INTO auction_lots (auction, listing, position, start_price, increment, window,"
                             " extension, lot) VALUES (?, ?, 1, 100000, 1000, 300, 300, ?)",
                             (cursor.lastrowid, item, lot_id))  # fmt: skip
            await tx.execute("UPDATE listings SET state = 'in_session' WHERE id = ?", (item,))

    call(h.client, in_session)
    centre = h.seller.get("/seller")
    lots = centre.text.split("我的拍品")[1]
    assert f'href="/lots/{lot_id}"' in lots and "新能源专场" in lots and "公示中" in lots
    section = centre.text.split('id="state-in_session"')[1].split("</section>")[0]
    assert "一种锂电池健康状态的估计方法" in section and "delist" not in section
