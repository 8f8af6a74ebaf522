"""Registration to bid (AU-2, AU-3): letters during publicity until 16:00 Beijing time of the
day before the bidding day, never from the seller's organisation, reviewed by staff; approval
admits the bidder to the engine at once, live lot or not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hall.auth.roles import Role
from hall.engine import Accepted, Code, LotSpec, Rejection, State
from hall.registration import deadline, eligibility
from starlette.testclient import TestClient

from hallkit import JPEG, PDF, Actor, FakeClock, anonymous, application, beijing_ms, call, hall, lot, org_id, rows, runtime, user
from hallkit import wake

JSON = {"accept": "application/json"}
SECOND = 1_000
MONDAY_10AM = beijing_ms(2026, 1, 5, 10, 0, 0)
"""A Monday session; registration closes on Sunday 2026-01-04 at 16:00 Beijing time."""
SUNDAY_4PM = beijing_ms(2026, 1, 4, 16, 0, 0)
PUBLICITY = beijing_ms(2025, 12, 29, 9, 0, 0)


# ------------------------------------------------------------------------------- the deadline, pure


@pytest.mark.parametrize(
    ("bidding", "closes"),
    [
        ((2026, 1, 5, 10, 0, 0), (2026, 1, 4, 16, 0, 0)),  # Monday after a weekend: Sunday 16:00
        ((2026, 1, 5, 0, 30, 0), (2026, 1, 4, 16, 0, 0)),  # 00:30 Monday in Beijing is still Sunday in UTC
        ((2026, 1, 5, 23, 59, 0), (2026, 1, 4, 16, 0, 0)),  # 23:59 Monday in Beijing is Monday 15:59 UTC
        ((2026, 1, 7, 9, 30, 0), (2026, 1, 6, 16, 0, 0)),  # a Wednesday session: Tuesday
        ((2026, 1, 9, 14, 0, 0), (2026, 1, 8, 16, 0, 0)),  # a Friday session: Thursday
        ((2026, 1, 1, 9, 0, 0), (2025, 12, 31, 16, 0, 0)),  # across the year
        ((2028, 3, 1, 9, 0, 0), (2028, 2, 29, 16, 0, 0)),  # a leap day
    ],
)
def test_the_deadline_is_16_00_beijing_time_of_the_calendar_day_before_bidding(
    bidding: tuple[int, ...], closes: tuple[int, ...]
) -> None:
    assert deadline(beijing_ms(*bidding)) == beijing_ms(*closes)


def test_the_deadline_does_not_depend_on_the_servers_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = deadline(MONDAY_10AM)
    for zone in ("America/Los_Angeles", "Pacific/Kiritimati", "UTC"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert deadline(MONDAY_10AM) == expected == SUNDAY_4PM
    monkeypatch.undo()
    time.tzset()


def _spec(seller_org: int = 1) -> LotSpec:
    return LotSpec(seller_org=seller_org, start_price=10_000, increment=1_000, publicity_start=PUBLICITY,
                   bidding_start=MONDAY_10AM, end=MONDAY_10AM + 3_600_000)  # fmt: skip


def _code(now: int, **changes: object) -> str | None:
    args: dict[str, object] = {"now": now, "spec": _spec(), "state": State.PUBLICITY, "verified": True, "org": 2,
                               "current": None, **changes}  # fmt: skip
    refusal = eligibility(**args)  # type: ignore[arg-type]
    return None if refusal is None else refusal.code


def test_eligibility_at_the_edges_of_publicity_and_deadline() -> None:
    assert _code(PUBLICITY - 1) == "not_open"
    assert _code(PUBLICITY) is None
    assert _code(SUNDAY_4PM - 1) is None
    assert _code(SUNDAY_4PM) == "deadline_passed"
    assert _code(PUBLICITY, state=State.LIVE) == "not_publicity"


def test_eligibility_refuses_the_unverified_the_seller_and_a_second_letter() -> None:
    assert _code(PUBLICITY, verified=False) == "not_verified"
    assert _code(PUBLICITY, org=1) == "own_lot"
    assert _code(PUBLICITY, org=None) is None
    assert _code(PUBLICITY, current="pending") == "pending"
    assert _code(PUBLICITY, current="approved") == "registered"
    assert _code(PUBLICITY, current="rejected") is None
    assert _code(SUNDAY_4PM, current="rejected") == "deadline_passed"  # a resubmission is a new upload


# ------------------------------------------------------------------------------- over HTTP


def _setup(client: TestClient, now: int, bidding: int = MONDAY_10AM) -> tuple[FakeClock, int]:
    clock = FakeClock(now)
    runtime(client).clock = clock
    user(client, "13900000000", "卖方", org="卖方大学")
    lot_id = lot(client, seller_org=org_id(client, "卖方大学"), publicity_start=PUBLICITY, bidding_start=bidding,
                 title="一种锂电池隔膜专利")  # fmt: skip
    return clock, lot_id


@pytest.mark.parametrize(
    ("bidding", "closes", "label"),
    [
        (MONDAY_10AM, SUNDAY_4PM, "2026-01-04 16:00:00"),  # Monday session, after a weekend
        (beijing_ms(2026, 1, 9, 14, 0, 0), beijing_ms(2026, 1, 8, 16, 0, 0), "2026-01-08 16:00:00"),  # Friday
    ],
)
def test_a_letter_at_15_59_59_is_accepted_and_at_16_00_00_refused_with_the_deadline_shown(
    tmp_path: Path, bidding: int, closes: int, label: str
) -> None:
    with hall(tmp_path) as client:
        clock, lot_id = _setup(client, closes - SECOND, bidding)
        early = Actor(client, user(client, "13800000001", verified=True))
        late = Actor(client, user(client, "13800000002", verified=True))
        accepted = early.upload(f"/lots/{lot_id}/register", "letter", "承诺函.pdf", PDF)
        assert accepted.status_code == 303, accepted.text
        clock.now = closes
        refused = late.upload(f"/lots/{lot_id}/register", "letter", "承诺函.pdf", PDF, headers=JSON)
        assert refused.status_code == 409
        body = refused.json()["error"]
        assert body["code"] == "deadline_passed"
        assert label in body["message"] and "北京时间" in body["message"]
        page = late.upload(f"/lots/{lot_id}/register", "letter", "承诺函.pdf", PDF)
        assert page.status_code == 409 and label in page.text
        assert late.get(f"/lots/{lot_id}/register").text.count('type="file"') == 0
        assert rows(client, "SELECT user, status FROM registrations") == [(early.id, "pending")]
        assert rows(client, "SELECT count(*) FROM files") == [(1,)]


def test_before_publicity_starts_registration_is_not_open(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY - SECOND)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        response = bidder.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF, headers=JSON)
        assert response.status_code == 409 and response.json()["error"]["code"] == "not_open"


def test_the_sellers_own_organisation_cannot_register(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        colleague = Actor(client, user(client, "13800000001", "同事", org="卖方大学"))
        response = colleague.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF, headers=JSON)
        assert response.status_code == 403 and response.json()["error"]["code"] == "own_lot"
        page = colleague.get(f"/lots/{lot_id}/register")
        assert "本机构" in page.text and 'type="file"' not in page.text
        assert rows(client, "SELECT count(*) FROM registrations") == [(0,)]
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]


def test_an_unverified_account_is_refused_with_a_link_to_verification(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        newcomer = Actor(client, user(client, "13800000001"))
        response = newcomer.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF)
        assert response.status_code == 403
        assert 'href="/account/verification"' in response.text and "实名认证" in response.text
        api = newcomer.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF, headers=JSON)
        refusal = api.json()["error"]
        assert refusal["code"] == "not_verified" and refusal["verify"] == "/account/verification"
        assert rows(client, "SELECT count(*) FROM registrations") == [(0,)]


def test_an_unknown_lot_is_404_and_a_missing_letter_is_a_clear_400(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        assert bidder.get(f"/lots/{lot_id + 1}/register").status_code == 404
        assert bidder.upload(f"/lots/{lot_id + 1}/register", "letter", "a.pdf", PDF).status_code == 404
        missing = bidder.post(f"/lots/{lot_id}/register", {})
        assert missing.status_code == 400 and "请上传签字或盖章的《网络竞价承诺函》扫描件" in missing.text


def test_a_second_letter_while_pending_is_refused(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        assert bidder.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF).status_code == 303
        again = bidder.upload(f"/lots/{lot_id}/register", "letter", "b.pdf", PDF, headers=JSON)
        assert again.status_code == 409 and again.json()["error"]["code"] == "pending"
        page = bidder.get(f"/lots/{lot_id}/register")
        assert 'data-status="pending"' in page.text


def _url(actor: Actor, registration: int) -> str:
    """The decision's address: the registration's newest application."""
    return f"/staff/reviews/{application(actor.client, 'registration', registration)}"


def _decide(staff: Actor, registration: int, decision: str, reason: str = "") -> None:
    response = staff.post(_url(staff, registration), {"decision": decision, "reason": reason})
    assert response.status_code == 303, response.text


def test_a_rejection_carries_its_reason_and_sms_and_the_same_row_can_be_resubmitted(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        bidder.upload(f"/lots/{lot_id}/register", "letter", "unsigned.pdf", PDF)
        [(rid, first_letter)] = rows(client, "SELECT id, letter FROM registrations")
        no_reason = staff.post(_url(staff, rid), {"decision": "reject"}, headers=JSON)
        assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "reason_required"
        _decide(staff, rid, "reject", "承诺函未盖章")
        assert rows(client, "SELECT status, reason FROM registrations") == [("rejected", "承诺函未盖章")]
        [(template, body)] = rows(client, "SELECT template, body FROM outbox WHERE user = ?", (bidder.id,))
        assert template == "registration_rejected" and "承诺函未盖章" in body and "一种锂电池隔膜专利" in body
        page = bidder.get(f"/lots/{lot_id}/register")
        assert "承诺函未盖章" in page.text and 'data-status="rejected"' in page.text and 'type="file"' in page.text
        assert bidder.upload(f"/lots/{lot_id}/register", "letter", "stamped.jpg", JPEG).status_code == 303
        [(same_id, letter, status, reason)] = rows(client, "SELECT id, letter, status, reason FROM registrations")
        assert (same_id, status, reason) == (rid, "pending", None) and letter != first_letter
        queue = staff.get("/staff/reviews?kind=registration")
        assert f'href="/files/{letter}"' in queue.text and "stamped.jpg" in queue.text


def test_approval_after_the_lot_went_live_lets_the_bidder_bid_at_once(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        clock, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", "竞买人", verified=True))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        assert bidder.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF).status_code == 303
        [(rid,)] = rows(client, "SELECT id FROM registrations")
        rt = runtime(client)
        clock.now = MONDAY_10AM + 60 * SECOND
        wake(client, lot_id)
        assert rt.lots[lot_id].state is State.LIVE
        refused = call(client, rt.bid, lot_id, bidder.id, None, 10_000, "before")
        assert isinstance(refused, Rejection) and refused.code is Code.NOT_REGISTERED
        _decide(staff, rid, "approve")
        accepted = call(client, rt.bid, lot_id, bidder.id, None, 10_000, "after")
        assert isinstance(accepted, Accepted) and accepted.price == 10_000
        [(number,)] = rows(client, "SELECT number FROM bidders WHERE lot = ? AND user = ?", (lot_id, bidder.id))
        assert rows(client, "SELECT status FROM registrations") == [("approved",)]
        [(template, body)] = rows(client, "SELECT template, body FROM outbox WHERE user = ?", (bidder.id,))
        assert template == "registration_approved" and number in body and "2026-01-05 10:00" in body
        page = bidder.get(f"/lots/{lot_id}/register")
        assert 'data-status="approved"' in page.text and f'data-number="{number}"' in page.text
        again = staff.post(_url(staff, rid), {"decision": "reject", "reason": "x"}, headers=JSON)
        assert again.status_code == 409


def test_a_closed_lot_cannot_be_approved(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        clock, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        bidder.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF)
        [(rid,)] = rows(client, "SELECT id FROM registrations")
        clock.now = MONDAY_10AM + 3 * 3_600_000
        wake(client, lot_id)
        wake(client, lot_id)
        assert runtime(client).lots[lot_id].state is State.CLOSED
        response = staff.post(_url(staff, rid), {"decision": "approve"}, headers=JSON)
        assert response.status_code == 409 and response.json()["error"]["code"] == "lot_ended"
        assert rows(client, "SELECT count(*) FROM bidders") == [(0,)]


def test_a_bidder_cannot_open_another_bidders_letter_but_staff_can(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        a = Actor(client, user(client, "13800000001", verified=True))
        b = Actor(client, user(client, "13800000002", verified=True))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        b.upload(f"/lots/{lot_id}/register", "letter", "b-letter.pdf", PDF)
        [(letter,)] = rows(client, "SELECT letter FROM registrations WHERE user = ?", (b.id,))
        assert a.get(f"/files/{letter}").status_code == 404
        assert b.get(f"/files/{letter}").status_code == 200
        opened = staff.get(f"/files/{letter}")
        assert opened.status_code == 200 and opened.content == PDF
        assert opened.headers["content-disposition"].startswith("attachment;")


def test_non_staff_cannot_decide_registrations(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        _, lot_id = _setup(client, PUBLICITY)
        bidder = Actor(client, user(client, "13800000001", verified=True))
        bidder.upload(f"/lots/{lot_id}/register", "letter", "a.pdf", PDF)
        [(rid,)] = rows(client, "SELECT id FROM registrations")
        assert bidder.get("/staff/reviews?kind=registration").status_code == 403
        assert bidder.post(_url(bidder, rid), {"decision": "approve"}).status_code == 403
        anon = anonymous(client).post(_url(bidder, rid), data={"decision": "approve"},
                                      follow_redirects=False)  # fmt: skip
        assert anon.status_code == 303 and anon.headers["location"].startswith("/login")
        assert rows(client, "SELECT status FROM registrations") == [("pending",)]
        assert rows(client, "SELECT count(*) FROM bidders") == [(0,)]


def test_user_text_is_rendered_escaped_on_the_staff_registration_page(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        clock = FakeClock(PUBLICITY)
        runtime(client).clock = clock
        lot_id = lot(client, seller_org=999, publicity_start=PUBLICITY, bidding_start=MONDAY_10AM,
                     title="<i>标题</i>")  # fmt: skip
        bidder = Actor(client, user(client, "13800000001", "<script>alert('x')</script>", verified=True))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        bidder.upload(f"/lots/{lot_id}/register", "letter", "<img src=x onerror=alert(1)>.pdf", PDF)
        page = staff.get("/staff/reviews?kind=registration")
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
        assert "<i>标题</i>" not in page.text and "&lt;i&gt;标题&lt;/i&gt;" in page.text
        assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;.pdf" in page.text
        [(rid,)] = rows(client, "SELECT id FROM registrations")
        _decide(staff, rid, "reject", "<script>bad()</script>")
        page = staff.get("/staff/reviews?kind=registration")
        assert "<script>bad()" not in page.text and "&lt;script&gt;bad()&lt;/script&gt;" in page.text
