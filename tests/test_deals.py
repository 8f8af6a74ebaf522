"""Deals (hall/deals.py, hall/web/deals.py): the deal a sold lot gets, its states, who may take
each step (every role refused where it should be), the reminder, the staff's dashboard, a
default relisting the item, the public verification page and the JSON API."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pypdf
import pytest
from hallkit import (
    JPEG,
    PDF,
    PNG,
    Actor,
    FakeClock,
    anonymous,
    bearer_of,
    beijing_ms,
    call,
    deal_of,
    hall,
    listing,
    listing_state,
    org_id,
    people,
    rows,
    runtime,
    sold,
    user,
    wake,
)
from starlette.testclient import TestClient

from hall import workdays
from hall.auctions import Industry, LotTerms, SessionDraft
from hall.auth.roles import Role
from hall.deals import WHO_MAY, Deals, DealState, Side, Step, refusal, remind_at
from hall.engine import Accepted, LotSpec, Mode, State
from hall.registration import SHANGHAI

NOW: Final = beijing_ms(2026, 1, 7, 10, 0)
"""Wednesday 7 January 2026, 10:00 Beijing: the contract is due on Wednesday the 14th."""
HOUR: Final = 3_600_000
DUE: Final = "2026-01-14"


@dataclass
class Scene:
    client: TestClient
    clock: FakeClock
    staff: int
    seller: int
    org: int
    bidder: int
    bidder_org: int
    other: int
    """A verified bidder of another organisation: a stranger to the deals."""

    def deals(self) -> Deals:
        found: Deals = self.client.app.state.deals  # type: ignore[attr-defined]
        return found

    def token(self, uid: int) -> dict[str, str]:
        return bearer_of(self.client, uid)

    def api(self, method: str, path: str, uid: int | None, body: object = None,
            files: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
        headers = {} if uid is None else self.token(uid)
        client = anonymous(self.client)
        if files is not None:
            return client.request(method, path, files=files, headers=headers)
        return client.request(method, path, json=body, headers=headers)

    def upload(self, deal: int, what: str, uid: int, content: bytes = PDF) -> httpx.Response:
        return self.api("POST", f"/api/deals/{deal}/{what}", uid, files={"file": ("签署件.pdf", content, "application/pdf")})

    def sold(self, price: int = 120_000, *, buyer: int | None = None, buyer_org: int | None = None) -> int:
        """A lot of the seller's organisation that the buyer (the scene's bidder by default)
        wins at ``price`` now; its deal's id."""
        buyer, buyer_org = (self.bidder, self.bidder_org) if buyer is None else (buyer, buyer_org)
        return sold(self.client, seller_org=self.org, buyer=buyer, buyer_org=buyer_org, price=price)

    def deal_of(self, lot: int) -> int:
        return deal_of(self.client, lot)

    def deal(self, deal: int, uid: int | None = None) -> dict[str, Any]:
        answer = self.api("GET", f"/api/deals/{deal}", self.staff if uid is None else uid)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def sms(self, template: str) -> list[tuple[int, str]]:
        return [(r[0], r[1]) for r in rows(self.client, "SELECT user, body FROM outbox WHERE template = ? ORDER BY id",
                                           (template,))]  # fmt: skip

    def contracted(self) -> int:
        deal = self.sold()
        for uid in (self.bidder, self.seller):
            assert self.upload(deal, "contract", uid).status_code == 200
        return deal

    def paid(self) -> int:
        deal = self.contracted()
        assert self.upload(deal, "payment", self.bidder, PNG).status_code == 200
        assert self.api("POST", f"/api/deals/{deal}/confirm-payment", self.seller).status_code == 200
        return deal


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(NOW)
        runtime(client).clock = clock
        yield Scene(
            client=client, clock=clock, staff=user(client, "13900000101", "审核员", roles=(Role.STAFF,)),
            seller=user(client, "13900000301", "示范大学", org="示范大学"), org=org_id(client, "示范大学"),
            bidder=user(client, "13800000001", "张三", org="恒达科技有限公司"),
            bidder_org=org_id(client, "恒达科技有限公司"),
            other=user(client, "13800000002", "李四", org="其他科技有限公司"),
        )  # fmt: skip


def _code(answer: httpx.Response) -> str:
    code: str = answer.json()["error"]["code"]
    return code


# ---------------------------------------------------------------------- the deal a sold lot gets


def test_a_sold_lot_gets_one_deal_with_its_notice_and_both_parties_an_sms(scene: Scene) -> None:
    deal = scene.sold(price=120_000)
    found = scene.deal(deal)
    assert found["state"] == "notified" and found["price"] == 120_000
    assert found["buyer"] == "恒达科技有限公司" and found["seller"] == "示范大学" and found["bidder_number"] == "0001"
    assert found["notice_number"] == "TZ202600001" and found["contract_due"] == DUE
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{12}", found["verify_code"])
    assert re.fullmatch(r"[0-9a-f]{64}", found["digest"])
    assert [s["action"] for s in found["steps"]] == ["notified"] and found["steps"][0]["by"] == "exchange"
    told = scene.sms("deal_notified")
    assert {uid for uid, _ in told} == {scene.bidder, scene.seller}
    assert all("一种成交的专利" in body and "120,000" in body and DUE in body for _, body in told)
    # deriving the same close again (the listener and the start both may) makes no second deal
    assert call(scene.client, scene.deals().reconcile) == []
    lot = found["lot"]
    [closed] = call(scene.client, runtime(scene.client).store.events_since, lot, runtime(scene.client).durable[lot] - 1)
    assert call(scene.client, scene.deals().derive, closed) is None
    assert rows(scene.client, "SELECT count(*) FROM deals WHERE lot = ?", (lot,)) == [(1,)]
    assert scene.deal(scene.sold())["notice_number"] == "TZ202600002"  # numbered in sequence within the year


def test_an_unsold_lot_gets_no_deal(scene: Scene) -> None:
    rt = runtime(scene.client)
    spec = LotSpec(seller_org=scene.org, start_price=10_000, increment=1_000, publicity_start=NOW - 48 * HOUR,
                   bidding_start=NOW - HOUR, end=NOW + HOUR, reserve=50_000)  # fmt: skip
    lot = call(scene.client, rt.create_lot, spec, "一种流拍的专利").id
    call(scene.client, rt.register, lot, scene.bidder, scene.bidder_org)
    call(scene.client, rt.bid, lot, scene.bidder, scene.bidder_org, 10_000, "u1")
    scene.clock.now = NOW + HOUR
    wake(scene.client, lot)
    for _ in range(400):  # until the close is durable, and its listeners have run
        if rt.views[lot].state is State.CLOSED:
            break
        call(scene.client, asyncio.sleep, 0.005)
    call(scene.client, scene.deals().drain)
    assert rt.views[lot].state is State.CLOSED
    assert call(scene.client, scene.deals().reconcile) == []
    assert rows(scene.client, "SELECT count(*) FROM deals") == [(0,)]


def test_at_start_a_sold_lot_without_a_deal_gets_one(tmp_path: Path) -> None:
    """The deal is the close's consequence, not a second write: a deal lost with a crash (here
    removed by hand, as if the server had died before the listener wrote) is derived at start."""
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        user(client, "13900000301", org="示范大学")
        deal = sold(client, seller_org=org_id(client, "示范大学"), buyer=user(client, "13800000001", org="恒达科技有限公司"),
                    buyer_org=org_id(client, "恒达科技有限公司"))  # fmt: skip
        lot = rows(client, "SELECT lot FROM deals WHERE id = ?", (deal,))[0][0]

        async def forget() -> None:
            async with client.app.state.store.transaction() as tx:  # type: ignore[attr-defined]
                for table in ("deal_steps", "deal_documents"):
                    await tx.execute(f"DELETE FROM {table} WHERE deal = ?", (deal,))
                await tx.execute("DELETE FROM deals WHERE id = ?", (deal,))

        call(client, forget)
    with hall(tmp_path) as client:
        assert rows(client, "SELECT lot, state FROM deals") == [(lot, "notified")]


# ---------------------------------------------------------------------- the way to the certificate


def test_the_deal_goes_from_the_notice_to_the_certificate_through_the_pages(scene: Scene) -> None:
    deal = scene.sold(price=250_000)
    buyer, seller = Actor(scene.client, scene.bidder), Actor(scene.client, scene.seller)
    page = buyer.get(f"/deals/{deal}")
    assert page.status_code == 200 and 'data-step="contract"' in page.text and "TZ202600001" in page.text
    assert buyer.get("/account/deals").text.count(f'data-deal="{deal}"') == 1
    assert seller.get("/account/deals").text.count(f'data-deal="{deal}"') == 1

    assert buyer.upload(f"/deals/{deal}/contract", "file", "合同.pdf", PDF).status_code == 303
    assert scene.deal(deal)["state"] == "notified"  # the seller's is still missing
    assert seller.upload(f"/deals/{deal}/contract", "file", "合同.jpg", JPEG, declared="image/jpeg").status_code == 303
    assert scene.deal(deal)["state"] == "contracted"
    assert 'data-step="payment"' in buyer.get(f"/deals/{deal}").text
    assert 'data-step="confirm_payment"' not in seller.get(f"/deals/{deal}").text  # no proof to confirm yet

    assert buyer.upload(f"/deals/{deal}/payment", "file", "回单.png", PNG, declared="image/png").status_code == 303
    assert [uid for uid, _ in scene.sms("deal_payment_uploaded")] == [scene.seller]
    proof = [d for d in scene.deal(deal)["documents"] if d["kind"] == "payment"][0]
    assert seller.get(proof["url"]).status_code == 200  # the seller opens the buyer's proof
    assert seller.post(f"/deals/{deal}/confirm-payment", {"decision": "confirm"}).status_code == 303
    assert scene.deal(deal)["state"] == "paid"

    assert buyer.post(f"/deals/{deal}/handover").status_code == 303
    assert scene.deal(deal)["state"] == "paid" and 'data-step="handover"' not in buyer.get(f"/deals/{deal}").text
    assert seller.post(f"/deals/{deal}/handover").status_code == 303
    done = scene.deal(deal)
    assert done["state"] == "certified" and done["certificate_number"] == "PZ202600001"
    assert [s["action"] for s in done["steps"]] == [
        "notified", "contract_uploaded", "contract_uploaded", "contracted", "payment_uploaded", "payment_confirmed",
        "handover_confirmed", "handover_confirmed", "handed_over", "certified"]  # fmt: skip
    assert [s["by"] for s in done["steps"]][1:4] == ["buyer", "seller", "seller"]
    assert {uid for uid, _ in scene.sms("deal_certified")} == {scene.bidder, scene.seller}

    page = buyer.get(f"/deals/{deal}")
    assert 'id="certificate-link"' in page.text
    certificate = buyer.get(f"/api/deals/{deal}/certificate.pdf")
    assert certificate.status_code == 200 and certificate.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(certificate.content)).pages)
    assert "PZ202600001" in text and done["digest"] in text.replace("\n", "").replace(" ", "")
    assert certificate.content == seller.get(f"/api/deals/{deal}/certificate.pdf").content  # made again, the same
    notice = seller.get(f"/api/deals/{deal}/notice.pdf")
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF")
    template = buyer.get(f"/api/deals/{deal}/contract-template")
    assert template.status_code == 200 and template.content.startswith(b"PK")


def test_the_certificate_does_not_exist_before_the_deal_is_certified(scene: Scene) -> None:
    deal = scene.paid()
    assert _code(scene.api("GET", f"/api/deals/{deal}/certificate.pdf", scene.bidder)) == "not_found"


# ---------------------------------------------------------------------- who may do what


ALLOWED: Final[dict[Step, set[tuple[Side, DealState]]]] = {
    Step.CONTRACT: {(Side.BUYER, DealState.NOTIFIED), (Side.SELLER, DealState.NOTIFIED)},
    Step.PAYMENT: {(Side.BUYER, DealState.CONTRACTED)},
    Step.CONFIRM_PAYMENT: {(Side.SELLER, DealState.CONTRACTED)},
    Step.DISPUTE_PAYMENT: {(Side.SELLER, DealState.CONTRACTED)},
    Step.HANDOVER: {(Side.BUYER, DealState.PAID), (Side.SELLER, DealState.PAID)},
    Step.REFUSE: {(Side.STAFF, DealState.NOTIFIED), (Side.STAFF, DealState.CONTRACTED)},
    Step.DEFAULT: {(Side.STAFF, s) for s in (DealState.NOTIFIED, DealState.CONTRACTED, DealState.PAID,
                                             DealState.HANDED_OVER)},
}
"""The rules of the issue written out by hand, to hold ``WHO_MAY`` to."""


def test_every_step_is_refused_to_every_side_and_state_the_rules_leave_out() -> None:
    assert set(WHO_MAY) == set(ALLOWED) == set(Step)
    for step in Step:
        for side in Side:
            for state in DealState:
                found = refusal(step, side, state)
                if (side, state) in ALLOWED[step]:
                    assert found is None, (step, side, state)
                else:
                    assert found is not None, (step, side, state)
                    expected = 409 if any(s == side for s, _ in ALLOWED[step]) else 403
                    assert found.status == expected, (step, side, state)


def test_a_stranger_finds_no_deal_and_the_parties_are_refused_each_others_steps(scene: Scene) -> None:
    deal = scene.sold()
    for method, path in (("GET", ""), ("GET", "/notice.pdf"), ("GET", "/contract-template"), ("POST", "/handover"),
                         ("POST", "/confirm-payment")):  # fmt: skip
        answer = scene.api(method, f"/api/deals/{deal}{path}", scene.other)
        assert answer.status_code == 404 and _code(answer) == "not_found", (method, path)
    assert scene.upload(deal, "contract", scene.other).status_code == 404
    assert scene.api("GET", f"/api/deals/{deal}", None).status_code == 401
    assert Actor(scene.client, scene.other).get(f"/deals/{deal}").status_code == 404
    assert scene.api("GET", "/api/deals?mine=1", scene.other).json() == []
    # parties: each refused the other's step (403), and a step out of its state (409)
    assert _code(scene.upload(deal, "payment", scene.bidder)) == "bad_state"  # the contract comes first
    assert _code(scene.api("POST", f"/api/deals/{deal}/handover", scene.bidder)) == "bad_state"
    assert scene.api("POST", f"/api/deals/{deal}/default", scene.bidder, {"reason": "x"}).status_code == 403
    assert _code(scene.upload(deal, "contract", scene.staff)) == "not_your_step"  # staff hand in nothing
    contracted = scene.contracted()
    assert _code(scene.upload(contracted, "payment", scene.seller)) == "not_your_step"
    assert _code(scene.api("POST", f"/api/deals/{contracted}/confirm-payment", scene.bidder)) == "not_your_step"
    assert _code(scene.api("POST", f"/api/deals/{contracted}/confirm-payment", scene.seller)) == "no_payment_proof"
    assert _code(scene.upload(contracted, "contract", scene.bidder)) == "bad_state"  # the contract is complete
    paid = scene.paid()
    assert _code(scene.api("POST", f"/api/deals/{paid}/confirm-payment", scene.seller)) == "bad_state"
    assert scene.api("POST", f"/api/deals/{paid}/handover", scene.bidder).status_code == 200
    assert _code(scene.api("POST", f"/api/deals/{paid}/handover", scene.bidder)) == "already_confirmed"
    assert scene.api("GET", f"/api/deals/{paid}", scene.staff).json()["role"] == "staff"


def test_a_staff_member_who_is_a_party_acts_on_the_deal_only_as_that_party(scene: Scene) -> None:
    call(scene.client, people(scene.client).grant, scene.bidder, Role.STAFF, None)
    deal = scene.sold()
    assert scene.deal(deal, scene.bidder)["role"] == "buyer"
    answer = scene.api("POST", f"/api/deals/{deal}/default", scene.bidder, {"reason": "本人交易"})
    assert answer.status_code == 403 and _code(answer) == "not_your_step"


def test_an_upload_is_checked_as_every_upload_is(scene: Scene) -> None:
    deal = scene.sold()
    answer = scene.api("POST", f"/api/deals/{deal}/contract", scene.bidder,
                       files={"file": ("合同.exe", b"MZ\x90\x00", "application/pdf")})  # fmt: skip
    assert answer.status_code == 400 and _code(answer) == "bad_file"
    page = Actor(scene.client, scene.bidder).upload(f"/deals/{deal}/contract", "file", "x.txt", b"hello")
    assert page.status_code == 400 and 'class="message"' in page.text
    assert scene.deal(deal)["documents"] == []


# ---------------------------------------------------------------------- staff: refusals, disputes, default


def test_staff_refuse_a_contract_with_a_reason_and_its_uploader_hands_in_another(scene: Scene) -> None:
    deal = scene.contracted()
    seller_contract = [d for d in scene.deal(deal)["documents"] if d["party"] == "seller"][0]
    path = f"/api/deals/{deal}/documents/{seller_contract['id']}/refuse"
    assert _code(scene.api("POST", path, scene.staff, {"reason": " "})) == "reason_required"
    assert scene.api("POST", path, scene.bidder, {"reason": "x"}).status_code == 403
    refused = scene.api("POST", path, scene.staff, {"reason": "缺少公章"})
    assert refused.status_code == 200 and refused.json()["state"] == "notified"  # the contract is incomplete again
    assert [(uid, "缺少公章" in body) for uid, body in scene.sms("deal_contract_refused")] == [(scene.seller, True)]
    assert _code(scene.api("POST", path, scene.staff, {"reason": "again"})) == "not_refusable"
    assert scene.upload(deal, "contract", scene.seller).json()["state"] == "contracted"
    assert "document_refused" in [s["action"] for s in scene.deal(deal)["steps"]]


def test_the_seller_disputes_a_payment_proof_and_it_goes_to_staff(scene: Scene) -> None:
    deal, calm = scene.contracted(), scene.contracted()
    assert scene.upload(deal, "payment", scene.bidder).status_code == 200
    path = f"/api/deals/{deal}/confirm-payment"
    assert scene.api("POST", path, scene.seller, {"dispute": ""}).status_code == 400
    disputed = scene.api("POST", path, scene.seller, {"dispute": "未收到款项"})
    assert disputed.status_code == 200 and disputed.json()["disputed"] and disputed.json()["state"] == "contracted"
    assert [uid for uid, _ in scene.sms("deal_payment_disputed")] == [scene.bidder]
    assert _code(scene.api("POST", path, scene.seller, {"dispute": "再次"})) == "already_disputed"
    board = Actor(scene.client, scene.staff).get("/staff/deals")
    assert board.text.index(f'data-deal="{deal}"') < board.text.index(f'data-deal="{calm}"')
    assert re.search(rf'data-deal="{deal}"[^>]*data-disputed="1"', board.text)
    # staff refuse the proof; the buyer hands in another, which the seller confirms
    proof = [d for d in scene.deal(deal)["documents"] if d["kind"] == "payment"][0]
    assert scene.api("POST", f"/api/deals/{deal}/documents/{proof['id']}/refuse", scene.staff,
                     {"reason": "凭证与合同金额不符"}).status_code == 200  # fmt: skip
    assert not scene.deal(deal)["disputed"]
    assert scene.upload(deal, "payment", scene.bidder).status_code == 200
    assert scene.api("POST", path, scene.seller).json()["state"] == "paid"


def test_a_default_ends_the_deal_and_the_item_can_be_listed_again(scene: Scene) -> None:
    item = listing(scene.client, scene.seller, title="一种违约后重新挂牌的专利", state="listed")
    auctions = scene.client.app.state.auctions  # type: ignore[attr-defined]

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 1, day, hour, tzinfo=SHANGHAI)

    session, _ = call(scene.client, auctions.create, SessionDraft(
        name="新能源专场", industry=Industry.ENERGY, date=date(2026, 1, 9), mode=Mode.TIMED,
        publicity_start=at(7, 9), bidding_start=at(9, 10), bidding_end=at(9, 12)), scene.staff)  # fmt: skip
    call(scene.client, auctions.add_lot, session, LotTerms(listing=item, increment=1_000))
    (lot,) = call(scene.client, auctions.publish, session)
    rt = runtime(scene.client)
    scene.clock.now = beijing_ms(2026, 1, 9, 10, 30)
    wake(scene.client, lot)
    call(scene.client, rt.register, lot, scene.bidder, scene.bidder_org)
    assert isinstance(call(scene.client, rt.bid, lot, scene.bidder, scene.bidder_org, 100_000, "d1"), Accepted)
    scene.clock.now = beijing_ms(2026, 1, 9, 12)
    wake(scene.client, lot)
    deal = scene.deal_of(lot)
    for _ in range(200):
        if listing_state(scene.client, item) == "sold":
            break
        call(scene.client, asyncio.sleep, 0.005)
    found = scene.deal(deal)
    assert found["listing"] == item and found["seller"] == "示范大学" and found["form"] == "licence"
    assert rows(scene.client, "SELECT seller FROM deals WHERE id = ?", (deal,)) == [(scene.seller,)]  # the shop's owner

    assert _code(scene.api("POST", f"/api/deals/{deal}/default", scene.staff, {"reason": ""})) == "reason_required"
    defaulted = scene.api("POST", f"/api/deals/{deal}/default", scene.staff, {"reason": "买方逾期未签署合同"})
    assert defaulted.status_code == 200 and defaulted.json()["state"] == "defaulted"
    assert defaulted.json()["default_reason"] == "买方逾期未签署合同"
    assert listing_state(scene.client, item) == "listed"  # staff may put it in a session again
    assert {uid for uid, _ in scene.sms("deal_defaulted")} == {scene.bidder, scene.seller}
    assert _code(scene.upload(deal, "contract", scene.bidder)) == "bad_state"
    assert _code(scene.api("POST", f"/api/deals/{deal}/default", scene.staff, {"reason": "x"})) == "bad_state"


def test_a_certified_deal_cannot_be_defaulted(scene: Scene) -> None:
    deal = scene.paid()
    for uid in (scene.bidder, scene.seller):
        assert scene.api("POST", f"/api/deals/{deal}/handover", uid).status_code == 200
    assert _code(scene.api("POST", f"/api/deals/{deal}/default", scene.staff, {"reason": "太晚"})) == "bad_state"


# ---------------------------------------------------------------------- AU-8: reminder and overdue


def test_the_reminder_goes_once_to_both_the_working_day_before_the_deadline(scene: Scene) -> None:
    waiting, done = scene.sold(), scene.contracted()
    deals = scene.deals()
    assert remind_at(date(2026, 1, 14)) == beijing_ms(2026, 1, 13, 9)
    scene.clock.now = beijing_ms(2026, 1, 13, 8, 59)
    assert call(scene.client, deals.remind) == 0
    scene.clock.now = beijing_ms(2026, 1, 13, 9, 0)
    assert call(scene.client, deals.remind) == 1  # the contracted deal needs no reminder
    assert call(scene.client, deals.remind) == 0  # never twice
    told = scene.sms("deal_contract_reminder")
    assert {uid for uid, _ in told} == {scene.bidder, scene.seller} and all(DUE in body for _, body in told)
    assert "reminded" in [s["action"] for s in scene.deal(waiting)["steps"]]
    assert "reminded" not in [s["action"] for s in scene.deal(done)["steps"]]


def test_a_deal_past_its_deadline_is_not_reminded_and_stands_out_first_for_staff(scene: Scene) -> None:
    late = scene.sold()
    scene.clock.now = beijing_ms(2026, 1, 12, 10)
    fresh = scene.sold()  # due on 2026-01-19
    scene.clock.now = beijing_ms(2026, 1, 15, 0, 0)  # the 14th's 24:00: the first deal is overdue
    assert call(scene.client, scene.deals().remind) == 0
    assert scene.deal(late)["overdue"] and not scene.deal(fresh)["overdue"]
    board = Actor(scene.client, scene.staff).get("/staff/deals")
    assert board.status_code == 200
    assert board.text.index(f'data-deal="{late}"') < board.text.index(f'data-deal="{fresh}"')
    assert re.search(rf'data-deal="{late}"[^>]*data-overdue="1"', board.text)
    assert not re.search(rf'data-deal="{fresh}"[^>]*data-overdue', board.text)
    assert f'data-deal="{late}"' not in Actor(scene.client, scene.staff).get("/staff/deals?state=certified").text
    assert Actor(scene.client, scene.staff).get("/staff/deals?state=bogus").status_code == 400
    assert Actor(scene.client, scene.bidder).get("/staff/deals").status_code == 403


def test_a_sale_whose_due_date_the_calendar_cannot_give_makes_a_deal_dated_once_the_calendar_knows(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Sold on Mon 2026-12-28: the fifth working day falls in 2027, a year the calendar does not
    know (pinned here, whatever ``chinese-calendar`` is installed). The sale stands: the deal is
    made with no due date, flagged to staff, never reminded nor overdue; once the calendar knows
    2027 (a weekday-only stand-in for an upgraded package) the tick dates it, once."""
    monkeypatch.setattr(workdays, "LAST_YEAR", 2026)
    scene.clock.now = beijing_ms(2026, 12, 28, 10)
    deal = scene.sold()
    found = scene.deal(deal)
    assert found["state"] == "notified" and found["contract_due"] is None and not found["overdue"]
    assert {uid for uid, _ in scene.sms("deal_notified_undated")} == {scene.bidder, scene.seller}
    assert scene.sms("deal_notified") == []
    unknown = "截止日未定：工作日日历尚未收录 2027 年的节假日安排"
    board = Actor(scene.client, scene.staff).get("/staff/deals")
    assert re.search(rf'data-deal="{deal}"[^>]*data-due-unknown="1"', board.text) and unknown in board.text
    assert unknown in Actor(scene.client, scene.bidder).get(f"/deals/{deal}").text
    notice = Actor(scene.client, scene.bidder).get(f"/api/deals/{deal}/notice.pdf")
    assert notice.status_code == 200
    printed = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(notice.content)).pages)
    assert unknown.replace(" ", "") in printed.replace("\n", "").replace(" ", "")
    assert Actor(scene.client, scene.bidder).get(f"/api/deals/{deal}/contract-template").status_code == 200
    scene.clock.now = beijing_ms(2027, 1, 20, 10)  # long past any fifth working day
    assert call(scene.client, scene.deals().remind) == 0
    assert not scene.deal(deal)["overdue"] and scene.deal(deal)["contract_due"] is None
    assert scene.sms("deal_contract_reminder") == []

    monkeypatch.setattr(workdays, "LAST_YEAR", 2027)
    monkeypatch.setattr(workdays, "is_working_day", lambda day: day.weekday() < 5)
    scene.clock.now = beijing_ms(2026, 12, 30, 10)
    assert call(scene.client, scene.deals().remind) == 0  # dated, but its reminder is not due yet
    assert call(scene.client, scene.deals().remind) == 0
    dated = scene.deal(deal)
    assert dated["contract_due"] == "2027-01-04"  # Tue 29 .. Fri 1 January, Mon 4 January
    assert [s["action"] for s in dated["steps"]] == ["notified", "contract_due_set"]  # once
    told = scene.sms("deal_contract_due_set")
    assert {uid for uid, _ in told} == {scene.bidder, scene.seller} and all("2027-01-04" in b for _, b in told)
    assert unknown not in Actor(scene.client, scene.staff).get("/staff/deals").text
    scene.clock.now = beijing_ms(2027, 1, 1, 9)  # 09:00 on the working day before
    assert call(scene.client, scene.deals().remind) == 1
    assert all("2027-01-04" in body for _, body in scene.sms("deal_contract_reminder"))


# ---------------------------------------------------------------------- /verify


def test_verify_shows_the_key_facts_without_personal_data(scene: Scene) -> None:
    person = user(scene.client, "13700000009", "王五", verified=True)  # a personal buyer: no organisation
    deal = scene.sold(price=88_000, buyer=person, buyer_org=None)
    found = scene.deal(deal)
    code = found["verify_code"]
    page = anonymous(scene.client).get(f"/verify/{code}")
    assert page.status_code == 200
    for shown in (found["notice_number"], "88,000", found["digest"], "示范大学", "一种成交的专利"):
        assert shown in page.text, shown
    for hidden in ("王五", "13700000009", "13900000301", "审核员"):
        assert hidden not in page.text, hidden
    public = anonymous(scene.client).get(f"/api/verify/{code}").json()
    assert public["buyer"] is None and public["seller"] == "示范大学" and public["state"] == "notified"
    assert public["price"] == 88_000 and public["digest"] == found["digest"]
    record = anonymous(scene.client).get(f"/api/lots/{found['lot']}/record").json()
    assert record["digest"] == public["digest"] != "0" * 64  # the lot record's final digest, recomputable
    assert not {"buyer_name", "bidder_number", "phone", "verify_code"} & set(public)
    assert "13700000009" not in str(public) and "王五" not in str(public)
    organisation = scene.deal(scene.sold())["verify_code"]
    assert anonymous(scene.client).get(f"/api/verify/{organisation}").json()["buyer"] == "恒达科技有限公司"
    # typed as printed (groups, any case) it is found; anything else is not
    typed = "-".join(code[i:i + 4] for i in range(0, 12, 4)).lower()
    answer = anonymous(scene.client).get(f"/verify?code={typed}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/verify/{code}"
    assert anonymous(scene.client).get("/verify?code=not-a-code").status_code == 400
    assert anonymous(scene.client).get("/verify/222222222222").status_code == 404
    assert anonymous(scene.client).get("/api/verify/xyz").status_code == 404


# ---------------------------------------------------------------------- the JSON API


DEAL_KEYS: Final = {"id", "lot", "state", "price", "buyer", "seller", "notified_at", "contract_due", "digest",
                    "verify_code", "notice_number", "role", "next", "documents", "steps", "overdue"}  # fmt: skip


def test_the_json_api_lists_a_partys_deals_and_shows_one(scene: Scene) -> None:
    deal = scene.sold()
    other = scene.sold(buyer=scene.other, buyer_org=org_id(scene.client, "其他科技有限公司"))
    mine = scene.api("GET", "/api/deals?mine=1", scene.bidder).json()
    assert [d["id"] for d in mine] == [deal] and DEAL_KEYS <= set(mine[0])
    assert mine[0]["role"] == "buyer" and mine[0]["next"] == ["contract"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", mine[0]["contract_due"])
    assert re.fullmatch(r"2026-01-07T10:0\d:00\+08:00", mine[0]["notified_at"])
    assert [d["id"] for d in scene.api("GET", "/api/deals", scene.seller).json()] == [other, deal]
    assert scene.api("GET", "/api/deals?mine=1", scene.seller).json()[0]["role"] == "seller"
    assert {d["id"] for d in scene.api("GET", "/api/deals", scene.staff).json()} == {deal, other}
    assert scene.api("GET", "/api/deals?mine=1", scene.staff).json() == []
    assert scene.api("GET", "/api/deals?mine=2", scene.bidder).status_code == 400
    assert scene.api("GET", "/api/deals?state=nope", scene.staff).status_code == 400
    assert scene.api("GET", "/api/deals/999", scene.staff).status_code == 404
    step = scene.deal(deal)["steps"][0]
    assert set(step) == {"action", "by", "state", "at", "reason"}
    assert scene.api("POST", f"/api/deals/{deal}/confirm-payment", scene.seller, {"bogus": 1}).status_code == 400
