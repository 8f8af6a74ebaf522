"""The live pages (hall/web/pages.py): the hall, a lot's page with its bid form, the auctioneer's
console, and the files they load. Rendered through the whole app; bids and commands go through
the forms as a browser without JavaScript sends them (and with htmx's header where the answer
differs); the live fragments are read from the page socket itself, to check that every element
they replace is on the page that subscribes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hallkit import (
    PDF,
    Actor,
    FakeClock,
    anonymous,
    beijing_ms,
    call,
    hall,
    org_id,
    runtime,
    user,
    wake,
)
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.engine import Accepted, Action, Lot, LotSpec, Mode, Registrant, Rejection, Result, State
from hall.engine.view import LotView
from hall.listing import ItemKind, LotDetails, TransactionForm
from hall.runtime import Runtime
from hall.web.pages import COMMANDS, JS_TEXT, NEEDS_BID

NOW = beijing_ms(2026, 1, 7, 10, 0, 0)
"""A Wednesday session (AU-1), 10:00 Beijing time."""
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
HTMX = {"hx-request": "true"}
SCRIPT = "<script>alert(1)</script>"
IDS = re.compile(r'\bid="([^"]+)"')


@dataclass
class Scene:
    """One hall: a seller's four lots (one live, one tomorrow, one run by the auctioneer, one
    over yesterday), an approved bidder on two of them, another verified account, an auctioneer."""

    client: TestClient
    clock: FakeClock
    live: int
    """Timed, live since a minute ago, reserve ¥50,000, the bidder admitted."""
    soon: int
    """Timed, bidding tomorrow; in publicity."""
    floor: int
    """Live mode (the auctioneer opens and hammers), reserve ¥20,000, the bidder admitted."""
    old: int
    """Timed, over yesterday."""
    seller: int
    bidder: int
    other: int
    auctioneer: int

    @property
    def runtime(self) -> Runtime:
        return runtime(self.client)

    def view(self, lot: int) -> LotView:
        return self.runtime.views[lot]

    def actor(self, uid: int) -> Actor:
        return Actor(self.client, uid)


def _create(client: TestClient, title: str, session: str, *, seller_org: int, start: int, hours: float = 1,
            mode: Mode = Mode.TIMED, reserve: int | None = None) -> int:  # fmt: skip
    spec = LotSpec(seller_org=seller_org, start_price=10_000, increment=1_000, publicity_start=start - 7 * DAY,
                   bidding_start=start, end=start + int(hours * HOUR), mode=mode, reserve=reserve)  # fmt: skip
    details = LotDetails(kind=ItemKind.PATENT, number="ZL202310123456.7", holder="示范大学",
                         abstract="本发明涉及一种电池健康状态估计方法。", form=TransactionForm.LICENCE)  # fmt: skip
    return call(client, runtime(client).create_lot, spec, title, session, details).id


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(NOW)
        runtime(client).clock = clock
        seller = user(client, "13900000301", "示范大学", org="示范大学")
        seller_org = org_id(client, "示范大学")
        live = _create(client, "一种锂电池健康状态在线估计方法", "新能源", seller_org=seller_org, start=NOW - MINUTE,
                       reserve=50_000)  # fmt: skip
        soon = _create(client, "一种靶向纳米药物递送载体", "生物医药", seller_org=seller_org, start=NOW + DAY)
        floor = _create(client, "一种风光储微电网能量管理方法", "新能源", seller_org=seller_org, start=NOW + 30 * MINUTE,
                        hours=2, mode=Mode.LIVE, reserve=20_000)  # fmt: skip
        old = _create(client, "一种昨日已结束的专利", "新能源", seller_org=seller_org, start=NOW - DAY)
        bidder = user(client, "13800000001", "竞买人", org="恒达科技有限公司")
        for lot in (live, floor):
            call(client, runtime(client).register, lot, bidder, org_id(client, "恒达科技有限公司"))
        other = user(client, "13800000002", "旁观者", verified=True)
        auctioneer = user(client, "13900000201", "拍卖师", roles=(Role.AUCTIONEER,))
        yield Scene(client, clock, live, soon, floor, old, seller, bidder, other, auctioneer)


def _ids(html: str) -> set[str]:
    return set(IDS.findall(html))


def _form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert found is not None, f"no {name} field"
    return found[1]


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


# ---------------------------------------------------------------------- the hall


def test_the_hall_lists_todays_and_later_lots_by_day_and_session_and_follows_them(scene: Scene) -> None:
    page = anonymous(scene.client).get("/")
    assert page.status_code == 200
    html = page.text
    assert "2026-01-07 星期三 · 今天" in html and "2026-01-08 星期四" in html
    assert html.index("2026-01-07") < html.index("一种锂电池健康状态在线估计方法") < html.index("2026-01-08")
    assert html.index("2026-01-08") < html.index("一种靶向纳米药物递送载体")
    assert '<h3 class="session data">新能源</h3>' in html and '<h3 class="session data">生物医药</h3>' in html
    assert "一种昨日已结束的专利" not in html  # yesterday's, and over
    for lot in (scene.live, scene.soon, scene.floor):
        assert f'href="/lots/{lot}"' in html
    socket = re.search(r'ws-connect="/ws/page\?lots=([0-9,]+)&amp;kind=summary&amp;topic=hall&amp;after=[0-9]+"', html)
    assert socket is not None
    assert sorted(int(lot) for lot in socket[1].split(",")) == sorted((scene.live, scene.soon, scene.floor))
    assert f'id="lot-{scene.live}-state" class="state state-live"' in html


def test_the_hall_filters_by_special_session_and_by_state(scene: Scene) -> None:
    client = anonymous(scene.client)
    biomedicine = client.get("/", params={"session": "生物医药"}).text
    assert "一种靶向纳米药物递送载体" in biomedicine and "一种锂电池健康状态在线估计方法" not in biomedicine
    assert 'option value="生物医药" selected' in biomedicine
    publicity = client.get("/", params={"state": "publicity"}).text
    assert "一种靶向纳米药物递送载体" in publicity and "一种风光储微电网能量管理方法" in publicity
    assert "一种锂电池健康状态在线估计方法" not in publicity
    assert f"lots={scene.live}" not in publicity  # the socket follows only what is shown
    both = client.get("/", params={"session": "新能源", "state": "live"}).text
    assert "一种锂电池健康状态在线估计方法" in both and "一种风光储微电网能量管理方法" not in both
    nothing = client.get("/", params={"session": "没有这个专场"}).text
    assert "今天及以后暂无符合条件的拍品" in nothing and "ws-connect" not in nothing
    unknown_state = client.get("/", params={"state": "bogus"}).text  # ignored, not an error
    assert "一种锂电池健康状态在线估计方法" in unknown_state


def test_a_lot_row_shows_the_durable_price_leader_count_and_end(scene: Scene) -> None:
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 12_000, "r1")
    html = anonymous(scene.client).get("/").text
    view = scene.view(scene.live)
    assert view.price == 12_000
    assert f'<span id="lot-{scene.live}-price" class="price" data-price="12000">¥12,000</span>' in html
    assert f'<span id="lot-{scene.live}-leader" class="leader" data-leader="0001">0001</span>' in html
    assert f'<span id="lot-{scene.live}-count" class="count">1</span>' in html
    assert f'data-ends-at="{view.ends_at}"' in html and "2026-01-07 10:59" in html  # Beijing time


def test_countdowns_carry_the_servers_clock_not_the_browsers(scene: Scene) -> None:
    scene.clock.now = NOW + 5 * MINUTE
    html = anonymous(scene.client).get(f"/lots/{scene.live}").text
    assert f'<meta id="hall-clock" data-now="{NOW + 5 * MINUTE}">' in html
    countdown = re.search(rf'<span id="lot-{scene.live}-ends"[^>]*>', html)
    assert countdown is not None
    assert f'data-now="{NOW + 5 * MINUTE}"' in countdown[0]
    assert f'data-ends-at="{NOW - MINUTE + HOUR}"' in countdown[0] and 'data-state="live"' in countdown[0]


# ---------------------------------------------------------------------- a lot's page


def test_an_anonymous_visitor_sees_the_item_the_rules_and_the_record_but_no_form(scene: Scene) -> None:
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 10_000, "r1")
    page = anonymous(scene.client).get(f"/lots/{scene.live}")
    assert page.status_code == 200
    html = page.text
    for shown in ("一种锂电池健康状态在线估计方法", "发明专利", "ZL202310123456.7", "示范大学", "许可",
                  "本发明涉及一种电池健康状态估计方法。", "¥10,000", "¥1,000", "结束前 5 分钟内有人出价，结束时间延至该出价后 5 分钟",
                  "2026-01-06 16:00",  # the registration deadline: 16:00 the day before bidding (AU-3)
                  "2026-01-07 09:59", "2026-01-07 10:59"):  # fmt: skip
        assert shown in html, shown
    record = re.search(rf'<ol id="lot-{scene.live}-record"[^>]*>(.*?)</ol>', html, re.DOTALL)
    assert record is not None and 'data-bidder="0001"' in record[1] and "¥10,000" in record[1]
    assert f'action="/lots/{scene.live}/bid"' not in html
    assert f'href="/login?next=%2Flots%2F{scene.live}"' in html  # log in first, then back here
    assert "50,000" not in html and "50000" not in html  # the reserve is secret
    assert f'ws-connect="/ws/page?lots={scene.live}&amp;kind=lot"' in html


def test_a_signed_in_account_that_is_not_registered_sees_no_form(scene: Scene) -> None:
    html = scene.actor(scene.other).get(f"/lots/{scene.live}").text
    assert "您尚未获准参加本拍品竞价。" in html
    assert f'action="/lots/{scene.live}/bid"' not in html
    soon = scene.actor(scene.other).get(f"/lots/{scene.soon}").text  # in publicity: it may still register
    assert f'href="/lots/{scene.soon}/register"' in soon


def test_an_approved_registrant_gets_the_bid_form_with_quick_buttons_and_their_number(scene: Scene) -> None:
    html = scene.actor(scene.bidder).get(f"/lots/{scene.live}").text
    assert f'<form method="post" action="/lots/{scene.live}/bid" hx-post="/lots/{scene.live}/bid"' in html
    assert re.search(r'name="csrf" value="[^"]+"', html) and len(_form_value(html, "req")) >= 16
    assert [int(v) for v in re.findall(r'name="steps" value="(\d+)"', html)] == [1, 2, 5, 10]
    assert 'data-number="0001"' in html and "<strong>0001</strong>" in html
    assert 'data-status="status_none"' in html and "尚未出价" in html
    assert 'name="amount" id="bid-amount" value="10000"' in html  # the first bid: the start price


def test_the_registrants_status_says_leading_then_outbid(scene: Scene, tmp_path: Path) -> None:
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 10_000, "r1")
    assert 'data-status="status_leading">您当前领先' in scene.actor(scene.bidder).get(f"/lots/{scene.live}").text
    rival = user(scene.client, "13800000003", "对手", verified=True)
    call(scene.client, scene.runtime.register, scene.live, rival, None)
    call(scene.client, scene.runtime.bid, scene.live, rival, None, 11_000, "r2")
    assert 'data-status="status_outbid">您的出价已被超越' in scene.actor(scene.bidder).get(f"/lots/{scene.live}").text


def test_the_sellers_organisation_sees_its_lot_without_a_form(scene: Scene) -> None:
    html = scene.actor(scene.seller).get(f"/lots/{scene.live}").text
    assert "本拍品由您所在机构挂牌，不能出价。" in html
    assert f'action="/lots/{scene.live}/bid"' not in html


def test_an_unknown_lot_is_404(scene: Scene) -> None:
    assert anonymous(scene.client).get("/lots/999").status_code == 404


# ---------------------------------------------------------------------- bidding through the form


def test_a_bid_is_confirmed_first_then_placed_once_however_often_it_is_submitted(scene: Scene) -> None:
    bidder = scene.actor(scene.bidder)
    req = _form_value(bidder.get(f"/lots/{scene.live}").text, "req")
    confirm = bidder.post(f"/lots/{scene.live}/bid", {"amount": "12,000", "req": req})
    assert confirm.status_code == 200
    assert "确认以 ¥12,000 出价？" in confirm.text
    assert _form_value(confirm.text, "req") == req and _form_value(confirm.text, "confirm") == "1"
    assert _form_value(confirm.text, "amount") == "12000"
    assert scene.view(scene.live).bid_count == 0  # nothing placed before the confirmation
    for _ in range(2):  # a double submit of the confirmation
        placed = bidder.post(f"/lots/{scene.live}/bid", {"amount": "12000", "req": req, "confirm": "1"})
        assert placed.status_code == 303
        assert placed.headers["location"] == f"/lots/{scene.live}?result=accepted#bid"
    view = scene.view(scene.live)
    assert (view.price, view.leader, view.bid_count) == (12_000, "0001", 1)
    after = bidder.get(placed.headers["location"]).text
    assert "出价成功" in after and _form_value(after, "req") != req  # the next bid is a new request


def test_a_quick_button_bids_that_many_increments_over_the_current_price(scene: Scene) -> None:
    bidder = scene.actor(scene.bidder)
    first = bidder.post(f"/lots/{scene.live}/bid", {"steps": "1", "amount": "", "req": "q1"})
    assert "确认以 ¥10,000 出价？" in first.text  # no bid yet: +1 is the start price
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 15_000, "r1")
    five = bidder.post(f"/lots/{scene.live}/bid", {"steps": "5", "amount": "1", "req": "q2"})
    assert "确认以 ¥20,000 出价？" in five.text


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("10500", "bad_increment", "加价须为加价幅度的整数倍"),
        ("9000", "too_low", "出价过低"),
        ("abc", "bad_request", "请求无效"),
    ],
)
def test_a_refused_bid_comes_back_with_its_codes_message(scene: Scene, amount: str, code: str, text: str) -> None:
    bidder = scene.actor(scene.bidder)
    refused = bidder.post(f"/lots/{scene.live}/bid", {"amount": amount, "req": "x1", "confirm": "1"})
    assert refused.status_code == 303 and _query(refused.headers["location"])["result"] == [code]
    page = bidder.get(refused.headers["location"]).text
    assert f'data-code="{code}">{text}' in page
    assert scene.view(scene.live).bid_count == 0


def test_an_account_that_is_not_registered_is_refused_by_the_lot(scene: Scene) -> None:
    refused = scene.actor(scene.other).post(f"/lots/{scene.live}/bid", {"amount": "10000", "req": "n1", "confirm": "1"})
    assert _query(refused.headers["location"])["result"] == ["not_registered"]
    assert scene.view(scene.live).bid_count == 0


def test_a_bid_needs_the_csrf_token_and_a_signed_in_account(scene: Scene) -> None:
    bidder = scene.actor(scene.bidder)
    forged = bidder.post(f"/lots/{scene.live}/bid", {"amount": "10000", "req": "c1", "confirm": "1", "csrf": "wrong"})
    assert forged.status_code == 403
    client = anonymous(scene.client)
    client.get("/")
    nobody = client.post(f"/lots/{scene.live}/bid", data={"amount": "10000", "req": "c2", "confirm": "1",
                                                          "csrf": client.cookies["hall_csrf"]},
                         follow_redirects=False)  # fmt: skip
    assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login")
    assert scene.view(scene.live).bid_count == 0


def test_with_htmx_the_bid_answers_a_confirmation_panel_then_the_outcome_and_a_fresh_request_id(scene: Scene) -> None:
    bidder = scene.actor(scene.bidder)
    panel = bidder.post(f"/lots/{scene.live}/bid", {"amount": "11000", "req": "h1"}, headers=HTMX)
    assert panel.status_code == 200 and "<html" not in panel.text
    assert 'hx-post="/lots/' in panel.text and "确认以 ¥11,000 出价？" in panel.text
    done = bidder.post(f"/lots/{scene.live}/bid", {"amount": "11000", "req": "h1", "confirm": "1"}, headers=HTMX)
    assert done.status_code == 200 and "<html" not in done.text
    assert 'data-code="accepted">出价成功' in done.text
    fresh = re.search(r'<input type="hidden" name="req" id="bid-req" value="([^"]+)" hx-swap-oob="true">', done.text)
    assert fresh is not None and fresh[1] != "h1"
    assert scene.view(scene.live).price == 11_000


# ---------------------------------------------------------------------- the console


def test_the_console_shows_a_sessions_lots_with_reserve_and_registration_counts(scene: Scene) -> None:
    scene.actor(scene.other).upload(f"/lots/{scene.soon}/register", "letter", "承诺函.pdf", PDF)  # pending
    auctioneer = scene.actor(scene.auctioneer)
    page = auctioneer.get("/console", params={"session": "新能源"})
    assert page.status_code == 200
    html = page.text
    assert f'id="lot-{scene.live}"' in html and f'id="lot-{scene.floor}"' in html
    assert f'id="lot-{scene.soon}"' not in html
    tile = html[html.index(f'<section class="tile" id="lot-{scene.live}"'):]
    tile = tile[: tile.index("</section>")]
    assert 'data-reserve="50000"' in tile and "¥50,000" in tile
    assert '<span class="below-reserve">低于保留价</span>' in tile  # no bid yet
    assert 'data-approved="1"' in tile and 'data-pending="0"' in tile
    for action in ("pause", "resume", "extend", "hammer", "withdraw"):
        assert f'action="/console/lots/{scene.live}/{action}"' in tile
    assert f'action="/console/lots/{scene.live}/floor_bid"' not in tile  # a timed lot has no floor
    floor = html[html.index(f'<section class="tile" id="lot-{scene.floor}"'):]
    assert f'action="/console/lots/{scene.floor}/floor_bid"' in floor[: floor.index("</section>")]
    reqs = re.findall(r'name="req" value="([^"]+)"', html)
    assert len(reqs) == len(set(reqs))  # one request id per form
    biomedicine = auctioneer.get("/console", params={"session": "生物医药"}).text
    assert 'data-approved="0"' in biomedicine and 'data-pending="1"' in biomedicine


def test_the_console_is_for_auctioneers_only(scene: Scene) -> None:
    assert scene.actor(scene.bidder).get("/console").status_code == 403
    anonymous_answer = anonymous(scene.client).get("/console", follow_redirects=False)
    assert anonymous_answer.status_code == 303 and anonymous_answer.headers["location"].startswith("/login")
    refused = scene.actor(scene.bidder).post(f"/console/lots/{scene.floor}/open", {"req": "o1"})
    assert refused.status_code == 403 and scene.view(scene.floor).state is State.PUBLICITY


_REQS = itertools.count(1)


def _command(auctioneer: Actor, lot: int, action: str, **fields: str) -> str:
    """Post a console command; the outcome code from the redirect."""
    answer = auctioneer.post(f"/console/lots/{lot}/{action}", {"req": f"{action}-{next(_REQS)}", **fields})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith(f"#lot-{lot}")
    return _query(answer.headers["location"])["result"][0]


def test_the_console_runs_a_live_lot_from_open_to_an_unsold_hammer_after_confirmation(scene: Scene) -> None:
    auctioneer = scene.actor(scene.auctioneer)
    lot = scene.floor
    assert _command(auctioneer, lot, "open") == "accepted"
    assert scene.view(lot).state is State.LIVE
    assert _command(auctioneer, lot, "floor_bid", bidder="0001", amount="12000") == "accepted"
    assert (scene.view(lot).price, scene.view(lot).leader) == (12_000, "0001")
    assert _command(auctioneer, lot, "floor_bid", bidder="0099", amount="13000") == "not_registered"
    assert _command(auctioneer, lot, "fair_warning") == "accepted" and scene.view(lot).warned
    assert _command(auctioneer, lot, "pause") == "accepted" and scene.view(lot).state is State.PAUSED
    assert _command(auctioneer, lot, "resume") == "accepted" and scene.view(lot).state is State.LIVE
    # ¥12,000 is below the ¥20,000 reserve: the hammer asks first, and nothing happens yet
    asked = auctioneer.post(f"/console/lots/{lot}/hammer", {"req": "hammer-1"})
    assert asked.status_code == 200 and "当前价低于保留价或无人出价" in asked.text
    assert _form_value(asked.text, "confirm") == "1" and _form_value(asked.text, "req") == "hammer-1"
    assert scene.view(lot).state is State.LIVE
    confirmed = auctioneer.post(f"/console/lots/{lot}/hammer", {"req": "hammer-1", "confirm": "1"})
    assert _query(confirmed.headers["location"])["result"] == ["accepted"]
    view = scene.view(lot)
    assert view.state is State.CLOSED and view.outcome is not None and view.outcome.value == "unsold"
    page = auctioneer.get(confirmed.headers["location"]).text
    assert 'data-code="accepted">操作成功' in page


def test_a_hammer_at_or_above_the_reserve_needs_no_confirmation(scene: Scene) -> None:
    auctioneer = scene.actor(scene.auctioneer)
    lot = scene.floor
    _command(auctioneer, lot, "open")
    _command(auctioneer, lot, "floor_bid", bidder="0001", amount="20000")
    assert _command(auctioneer, lot, "hammer") == "accepted"
    assert scene.view(lot).winner == "0001"


def test_a_withdrawal_is_confirmed_first_and_its_reason_shown_publicly(scene: Scene) -> None:
    auctioneer = scene.actor(scene.auctioneer)
    asked = auctioneer.post(f"/console/lots/{scene.soon}/withdraw", {"req": "w1", "reason": "权利人申请撤回"})
    assert asked.status_code == 200 and "撤拍后不可恢复" in asked.text
    assert _form_value(asked.text, "reason") == "权利人申请撤回"
    assert scene.view(scene.soon).state is State.PUBLICITY
    assert _command(auctioneer, scene.soon, "withdraw", reason="权利人申请撤回", confirm="1") == "accepted"
    assert scene.view(scene.soon).state is State.WITHDRAWN
    assert '已撤拍 · <span class="data">权利人申请撤回</span>' in anonymous(scene.client).get(f"/lots/{scene.soon}").text
    # without a reason there is nothing to confirm: the lot refuses it
    assert _command(auctioneer, scene.live, "withdraw", reason="  ") == "bad_request"
    assert scene.view(scene.live).state is State.LIVE


def test_extend_moves_a_timed_lots_end_and_a_command_the_lot_does_not_take_says_why(scene: Scene) -> None:
    auctioneer = scene.actor(scene.auctioneer)
    before = scene.view(scene.live).ends_at
    assert before is not None
    assert _command(auctioneer, scene.live, "extend", seconds="600") == "accepted"
    assert scene.view(scene.live).ends_at == before + 600_000
    assert _command(auctioneer, scene.live, "open") == "bad_state"  # a timed lot opens by its clock
    page = auctioneer.get(f"/console?session=新能源&lot={scene.live}&result=bad_state").text
    assert 'data-code="bad_state">拍品当前的状态或竞价方式不允许此操作' in page
    assert auctioneer.post(f"/console/lots/{scene.live}/explode", {"req": "e1"}).status_code == 404


def test_with_htmx_a_command_answers_its_outcome_and_fresh_request_ids_for_the_tile(scene: Scene) -> None:
    auctioneer = scene.actor(scene.auctioneer)
    done = auctioneer.post(f"/console/lots/{scene.live}/pause", {"req": "p1"}, headers=HTMX)
    assert done.status_code == 200 and "<html" not in done.text
    assert 'data-code="accepted">操作成功' in done.text
    assert f'<div id="lot-{scene.live}-controls" class="controls" data-lot="{scene.live}" hx-swap-oob="true">' in done.text
    assert _shown_commands(done.text, scene.live) == ["resume", "extend", "hammer", "withdraw"]  # as paused
    assert "p1" not in re.findall(r'name="req" value="([^"]+)"', done.text)
    panel = auctioneer.post(f"/console/lots/{scene.live}/hammer", {"req": "h1"}, headers=HTMX)  # no bid: unsold
    assert "<html" not in panel.text and "当前价低于保留价或无人出价" in panel.text
    assert scene.view(scene.live).state is State.PAUSED


# ---------------------------------------------------------------------- the live fragments fit the pages


def _fragments(client: TestClient, query: str, count: int) -> list[str]:
    """The first ``count`` frames after the clock on the page socket."""
    with client.websocket_connect(f"/ws/page?{query}") as ws:
        clock = ws.receive_text()
        assert clock.startswith('<meta id="hall-clock" hx-swap-oob="true" data-now="')
        return [ws.receive_text() for _ in range(count)]


def test_every_element_a_fragment_replaces_is_on_the_page_that_subscribes(scene: Scene) -> None:
    client = anonymous(scene.client)
    call(client, scene.runtime.bid, scene.live, scene.bidder, None, 10_000, "r1")
    lots = f"{scene.live},{scene.soon},{scene.floor}"
    hall_ids = _ids(client.get("/").text)
    for fragment in _fragments(client, f"lots={lots}&kind=summary", 3):
        assert _ids(fragment) and _ids(fragment) <= hall_ids, _ids(fragment) - hall_ids
    lot_ids = _ids(client.get(f"/lots/{scene.live}").text)
    (whole,) = _fragments(client, f"lots={scene.live}&kind=lot", 1)
    assert f"lot-{scene.live}-record" in _ids(whole) and _ids(whole) <= lot_ids
    # htmx parses a fragment inside a <template>, where table parts after other elements are dropped
    assert not re.search(r"<(table|tbody|thead|tfoot|tr|td|th)\b", whole)
    console_ids = _ids(scene.actor(scene.auctioneer).get("/console?session=新能源").text)
    client = anonymous(scene.client)
    for fragment in _fragments(client, f"lots={scene.live},{scene.floor}&kind=summary", 2):
        assert _ids(fragment) <= console_ids, _ids(fragment) - console_ids
    assert {"hall-clock"} <= hall_ids & lot_ids & console_ids


def test_a_lot_page_resumes_from_its_seq_and_gets_only_new_bids(scene: Scene) -> None:
    client = anonymous(scene.client)
    call(client, scene.runtime.bid, scene.live, scene.bidder, None, 10_000, "r1")
    html = client.get(f"/lots/{scene.live}").text
    seen = re.search(rf'<meta id="lot-{scene.live}-seq" data-seq="(\d+)">', html)
    assert seen is not None and int(seen[1]) == scene.view(scene.live).seq
    with client.websocket_connect(f"/ws/page?lots={scene.live}&kind=lot&since={seen[1]}") as ws:
        ws.receive_text()  # the clock; the page has everything else
        call(client, scene.runtime.bid, scene.live, scene.bidder, None, 11_000, "r2")
        update = ws.receive_text()
    assert f'<ol id="lot-{scene.live}-record" class="record" hx-swap-oob="afterbegin">' in update
    assert update.count("<li ") == 1 and "¥11,000" in update and "¥10,000" not in update
    assert _ids(update) <= _ids(html)


# ---------------------------------------------------------------------- language and escaping


def test_the_pages_and_their_fragments_switch_to_english(scene: Scene) -> None:
    client = anonymous(scene.client)
    client.cookies.set("hall_lang", "en")
    hall_page = client.get("/").text
    assert "Auction hall" in hall_page and "2026-01-07 Wednesday · today" in hall_page
    lot_page = client.get(f"/lots/{scene.live}").text
    for text in ("Bidding rules", "Current price", "Invention patent", "Licence", "Log in to register and bid",
                 "a bid within 5 min of the end moves the end to 5 min after that bid"):  # fmt: skip
        assert text in lot_page, text
    assert '"remaining": "Ends in"' in lot_page  # hall.js's text, in the page's language
    (fragment,) = _fragments(client, f"lots={scene.live}&kind=summary", 1)
    assert ">Bidding</span>" in fragment


def test_hall_js_gets_every_text_it_writes() -> None:
    script = (Path(__file__).resolve().parent.parent / "hall" / "web" / "static" / "hall.js").read_text()
    written = set(re.findall(r'\b(?:t|format)\("([a-z_]+)"', script))
    through_variables = {"status_none", "status_leading", "status_outbid", "status_won", "status_lost",  # t(status)
                         "online", "offline", "connecting", "conn_over"}  # badge(state)  # fmt: skip
    assert through_variables <= set(re.findall(r'"([a-z_]+)"', script))
    used = written | through_variables
    assert used <= set(JS_TEXT)


def test_titles_and_texts_from_sellers_and_auctioneers_are_escaped(scene: Scene) -> None:
    client = scene.client
    seller_org = org_id(client, "示范大学")
    lot = _create(client, SCRIPT, SCRIPT, seller_org=seller_org, start=NOW - MINUTE)
    auctioneer = scene.actor(scene.auctioneer)
    assert _command(auctioneer, lot, "withdraw", reason=SCRIPT, confirm="1") == "accepted"
    pages = [anonymous(client).get("/").text, anonymous(client).get(f"/lots/{lot}").text,
             scene.actor(scene.auctioneer).get("/console", params={"session": SCRIPT}).text]  # fmt: skip
    for html in pages:
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    (fragment,) = _fragments(anonymous(client), f"lots={lot}&kind=lot", 1)
    assert SCRIPT not in fragment and "&lt;script&gt;" in fragment  # the withdrawal's reason


# ---------------------------------------------------------------------- the files the pages load


def test_the_pinned_htmx_and_its_websocket_extension_are_served_and_nothing_else(scene: Scene) -> None:
    client = anonymous(scene.client)
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and htmx.headers["content-type"].startswith("text/javascript")
    assert 'version:"2.0.11"' in htmx.text
    ws = client.get("/static/vendor/ws.min.js")
    assert ws.status_code == 200 and 'defineExtension("ws"' in ws.text
    again = client.get("/static/vendor/htmx.min.js", headers={"if-none-match": htmx.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for path in ("/static/vendor/htmx.js", "/static/vendor/..%2F..%2Fpackage.json", "/static/vendor/ws.js",
                 "/static/pages.py", "/static/..%2Fpages.py"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    own = client.get("/static/hall.js")
    assert own.status_code == 200 and "createWebSocket" in own.text
    assert client.get("/static/hall.css").headers["content-type"].startswith("text/css")
    page = client.get("/").text
    for src in ("/static/vendor/htmx.min.js", "/static/vendor/ws.min.js", "/static/hall.js"):
        assert f'<script src="{src}" defer></script>' in page


# ---------------------------------------------------------------------- issue 10: what each state allows, as a newcomer meets it

COMMAND_FORM = re.compile(r'<form [^>]*class="command command-(\w+)"[^>]*>')


def _shown_commands(html: str, lot: int) -> list[str]:
    """The commands a lot's console tile shows (its forms without the hidden attribute), in order."""
    block = re.search(rf'<div id="lot-{lot}-controls".*?</div>', html, re.DOTALL)
    assert block is not None, f"no controls for lot {lot}"
    return [m[1] for m in COMMAND_FORM.finditer(block[0]) if " hidden" not in m[0]]


def _all_commands(html: str, lot: int) -> list[str]:
    block = re.search(rf'<div id="lot-{lot}-controls".*?</div>', html, re.DOTALL)
    assert block is not None
    return COMMAND_FORM.findall(block[0])


def _to_state(scene: Scene, lot: int, steps: str) -> None:
    """Bring a scene lot to a state through the console: o(pen), b(id), p(ause), h(ammer), w(ithdraw)."""
    auctioneer = scene.actor(scene.auctioneer)
    for step in steps:
        if step == "o":
            assert _command(auctioneer, lot, "open") == "accepted"
        elif step == "b":
            call(scene.client, scene.runtime.bid, lot, scene.bidder, None, 20_000, f"b{lot}")
        elif step == "p":
            assert _command(auctioneer, lot, "pause") == "accepted"
        elif step == "h":
            assert _command(auctioneer, lot, "hammer", confirm="1") == "accepted"
        elif step == "w":
            assert _command(auctioneer, lot, "withdraw", reason="权利人申请撤回", confirm="1") == "accepted"


@pytest.mark.parametrize(
    ("which", "steps", "state", "shown"),
    [
        ("soon", "", State.PUBLICITY, ["withdraw"]),
        ("live", "", State.LIVE, ["pause", "extend", "withdraw"]),
        ("live", "b", State.LIVE, ["pause", "extend", "fair_warning", "withdraw"]),
        ("live", "bp", State.PAUSED, ["resume", "extend", "hammer", "withdraw"]),
        ("old", "", State.CLOSED, []),
        ("soon", "w", State.WITHDRAWN, []),
        ("floor", "", State.PUBLICITY, ["open", "withdraw"]),
        ("floor", "o", State.LIVE, ["pause", "floor_bid", "hammer", "withdraw"]),
        ("floor", "ob", State.LIVE, ["pause", "fair_warning", "floor_bid", "hammer", "withdraw"]),
        ("floor", "obp", State.PAUSED, ["resume", "hammer", "withdraw"]),
        ("floor", "obh", State.CLOSED, []),
    ],
    ids=["timed-publicity", "timed-live", "timed-live-bid", "timed-paused", "timed-closed", "timed-withdrawn",
         "live-publicity", "live-live", "live-live-bid", "live-paused", "live-closed"],  # fmt: skip
)
def test_the_console_shows_only_the_commands_the_lots_mode_and_state_take(
    scene: Scene, which: str, steps: str, state: State, shown: list[str]
) -> None:
    lot = getattr(scene, which)
    _to_state(scene, lot, steps)
    assert scene.view(lot).state is state
    session = scene.runtime.sessions[lot]
    html = scene.actor(scene.auctioneer).get("/console", params={"session": session}).text
    assert _shown_commands(html, lot) == shown
    mode = scene.view(lot).spec.mode
    assert _all_commands(html, lot) == [action.value for action in COMMANDS[mode]]  # hall.js shows the rest later
    assert f'data-mode="{mode.value}"' in html
    if mode is Mode.TIMED:
        assert "command-open" not in _all_commands(html, lot) and "floor_bid" not in _all_commands(html, lot)


def _engine_lot(mode: Mode, steps: str) -> tuple[Lot, int]:
    """An engine lot brought to a state (o: open or let open, b: a bid, p: pause, c: close, w: withdraw)."""
    spec = LotSpec(seller_org=1, start_price=10_000, increment=1_000, publicity_start=0, bidding_start=10 * HOUR,
                   end=20 * HOUR, mode=mode)  # fmt: skip
    lot = Lot(1, spec)
    lot.register(7, Registrant("0001"))
    now = 10 * HOUR - MINUTE  # in publicity, before the bidding start (a timed lot's clock opens it then)
    for n, step in enumerate(steps):
        req = f"setup-{n}"
        if step == "o":
            now = 10 * HOUR + MINUTE
            lot.advance(now) if mode is Mode.TIMED else lot.open(99, req, now)
        elif step == "b":
            assert isinstance(lot.bid(7, None, 10_000, req, now), Accepted)
        elif step == "p":
            assert isinstance(lot.pause(99, req, now), Accepted)
        elif step == "c":
            now = 21 * HOUR
            lot.advance(now) if mode is Mode.TIMED else lot.hammer(99, req, now)
        elif step == "w":
            assert isinstance(lot.withdraw(99, req, now, "原因"), Accepted)
    return lot, now


def _run(lot: Lot, action: Action, now: int) -> Result:
    actor, req = 99, "try"
    match action:
        case Action.OPEN:
            return lot.open(actor, req, now)
        case Action.PAUSE:
            return lot.pause(actor, req, now)
        case Action.RESUME:
            return lot.resume(actor, req, now)
        case Action.EXTEND:
            return lot.extend(actor, req, now, 60)
        case Action.FAIR_WARNING:
            return lot.fair_warning(actor, req, now)
        case Action.HAMMER:
            return lot.hammer(actor, req, now)
        case Action.WITHDRAW:
            return lot.withdraw(actor, req, now, "原因")
        case Action.FLOOR_BID:
            return lot.floor_bid(actor, "0001", 10_000 if lot.price is None else lot.price + 1_000, req, now)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("steps", ["", "o", "ob", "obp", "op", "obc", "w", "obw"])
def test_the_consoles_command_table_is_what_the_engine_takes_in_each_mode_and_state(mode: Mode, steps: str) -> None:
    for action in Action:
        lot, now = _engine_lot(mode, steps)
        allowed = lot.state in COMMANDS[mode].get(action, ()) and (action not in NEEDS_BID or lot.price is not None)
        result = _run(lot, action, now)
        assert isinstance(result, Accepted) is allowed, (mode, steps, lot.state, action, result)


def _bid_form_tag(html: str) -> str:
    found = re.search(r'<form [^>]*class="bid-form"[^>]*>', html)
    assert found is not None, "no bid form"
    return found[0]


def _shown_notes(html: str) -> list[str]:
    """The texts of the bid panel's state notes that are not hidden."""
    notes = re.finditer(r'<p class="note" data-states="[^"]+"([^>]*)>([^<]*)</p>', html)
    return [note[2] for note in notes if " hidden" not in note[1]]


def test_before_bidding_starts_and_while_paused_the_bidder_sees_a_note_and_no_bid_form(scene: Scene) -> None:
    bidder = scene.actor(scene.bidder)
    waiting = bidder.get(f"/lots/{scene.floor}").text  # live mode, in publicity, the bidder admitted
    assert " hidden" in _bid_form_tag(waiting) and 'data-states="live"' in _bid_form_tag(waiting)
    assert _shown_notes(waiting) == ["竞价尚未开始：开始后即可在此出价，开始时间见上方倒计时。"]
    _to_state(scene, scene.floor, "o")
    open_page = bidder.get(f"/lots/{scene.floor}").text
    assert " hidden" not in _bid_form_tag(open_page) and _shown_notes(open_page) == []
    _to_state(scene, scene.floor, "p")
    paused = bidder.get(f"/lots/{scene.floor}").text
    assert " hidden" in _bid_form_tag(paused)
    assert _shown_notes(paused) == ["拍卖已暂停：恢复后即可继续出价。"]
    _to_state(scene, scene.floor, "h")
    over = bidder.get(f"/lots/{scene.floor}").text
    assert 'class="bid-form"' not in over and "竞价已结束。" in over


def test_after_the_close_the_loser_did_not_win_and_the_price_is_the_hammer_price(scene: Scene) -> None:
    rival = user(scene.client, "13800000009", "对手", verified=True)
    call(scene.client, scene.runtime.register, scene.floor, rival, None)  # bidder number 0002
    auctioneer = scene.actor(scene.auctioneer)
    _to_state(scene, scene.floor, "o")
    assert _command(auctioneer, scene.floor, "floor_bid", bidder="0001", amount="20000") == "accepted"
    assert _command(auctioneer, scene.floor, "floor_bid", bidder="0002", amount="21000") == "accepted"
    live = scene.actor(scene.bidder).get(f"/lots/{scene.floor}").text
    assert f'<span id="lot-{scene.floor}-price-label" data-label="price_current">当前价</span>' in live
    assert _command(auctioneer, scene.floor, "hammer") == "accepted"
    loser = scene.actor(scene.bidder).get(f"/lots/{scene.floor}").text
    assert 'data-status="status_lost">未竞得' in loser and "您的出价已被超越" not in loser
    assert f'data-label="price_sold">成交价</span>' in loser and "¥21,000" in loser
    assert "当前价" not in loser
    winner = scene.actor(rival).get(f"/lots/{scene.floor}").text
    assert 'data-status="status_won">您已竞得本拍品' in winner
    (fragment,) = _fragments(anonymous(scene.client), f"lots={scene.floor}&kind=lot", 1)
    assert f'id="lot-{scene.floor}-price-label" data-label="price_sold" hx-swap-oob="true">成交价' in fragment


def test_an_unsold_lot_says_so_and_its_last_leader_did_not_win_either(scene: Scene) -> None:
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 10_000, "r1")  # under the ¥50,000 reserve
    scene.clock.now = NOW + 2 * HOUR
    wake(scene.client, scene.live)
    late = call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 60_000, "r2")  # answered once durable
    assert isinstance(late, Rejection) and late.code.value == "closed"
    assert scene.view(scene.live).state is State.CLOSED
    html = scene.actor(scene.bidder).get(f"/lots/{scene.live}").text
    assert 'data-status="status_lost">未竞得' in html and "您当前领先" not in html
    assert 'data-label="price_unsold">流拍，最高出价</span>' in html and "已结束 · 流拍" in html


def test_a_signed_in_account_not_admitted_is_sent_to_register_only_while_registration_is_open(scene: Scene) -> None:
    other = scene.actor(scene.other)
    running = other.get(f"/lots/{scene.live}").text
    assert f'href="/lots/{scene.live}/register"' not in running
    assert "本拍品报名已于 2026-01-06 16:00（北京时间）截止，只有已获准的竞买人可以出价。" in running
    soon = other.get(f"/lots/{scene.soon}").text
    assert f'href="/lots/{scene.soon}/register"' in soon and "报名截止：2026-01-07 16:00" in soon
    register = other.get(f"/lots/{scene.soon}/register").text
    assert f'<a href="/lots/{scene.soon}">← 返回拍品页</a>' in register


def test_a_lot_that_is_over_invites_nobody_to_log_in_or_register(scene: Scene) -> None:
    scene.clock.now = NOW + 2 * HOUR
    wake(scene.client, scene.live)
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 60_000, "late")  # answered once durable
    assert scene.view(scene.live).state is State.CLOSED
    for client in (anonymous(scene.client), scene.actor(scene.other)):
        html = client.get(f"/lots/{scene.live}").text
        assert "竞价已结束。" in html
        assert "登录后报名参与竞价" not in html and f"/lots/{scene.live}/register" not in html
        assert "只有已获准的竞买人可以出价" not in html


def test_login_with_next_comes_back_to_the_lot(scene: Scene) -> None:
    client = anonymous(scene.client)
    form = client.get(f"/login?next=/lots/{scene.live}").text
    assert f'name="next" value="/lots/{scene.live}"' in form
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', form)
    assert token is not None
    answer = client.post("/login", data={"phone": "13800000001", "password": "correct horse battery",
                                         "next": f"/lots/{scene.live}", "csrf": token[1]},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == f"/lots/{scene.live}"
    assert 'id="my-status"' in client.get(answer.headers["location"]).text  # signed in, back on the lot


def test_the_bid_form_carries_the_live_lowest_bid_and_quick_amounts(scene: Scene) -> None:
    call(scene.client, scene.runtime.bid, scene.live, scene.bidder, None, 15_000, "r1")
    html = scene.actor(scene.bidder).get(f"/lots/{scene.live}").text
    assert 'name="amount" id="bid-amount" value="16000" min="16000" step="1000"' in html
    assert re.findall(r'name="steps" value="\d+" formnovalidate title="[^"]*">([^<]*)</button>', html) == [
        "¥16,000", "¥17,000", "¥20,000", "¥25,000"]  # fmt: skip
    assert 'data-absurd="100"' in _bid_form_tag(html) and " novalidate" in _bid_form_tag(html)


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("10500", "bad_increment", "加价须为加价幅度 ¥1,000 的整数倍：可出 ¥10,000 或 ¥11,000。"),
        ("9000", "too_low", "出价过低：目前最低可出价 ¥10,000。"),
        ("1001000", "too_high", "出价超过 ¥1,000,000（当前价或起拍价的 100 倍），请检查是否多输了位数。"),
        ("1234567890123456", "bad_request", "请输入不超过 15 位的整数金额（元）。"),
    ],
    ids=["increment", "too-low", "absurd", "sixteen-digits"],
)
def test_a_wrong_amount_is_stopped_before_the_confirmation_with_what_to_type(
    scene: Scene, amount: str, code: str, text: str
) -> None:
    bidder = scene.actor(scene.bidder)
    page = bidder.post(f"/lots/{scene.live}/bid", {"amount": amount, "req": "w1"})
    assert page.status_code == 400
    assert f'data-code="{code}">{text}' in page.text and "确认以" not in page.text
    assert 'class="bid-form"' in page.text  # the form again, to correct the amount
    panel = bidder.post(f"/lots/{scene.live}/bid", {"amount": amount, "req": "w2"}, headers=HTMX)
    assert panel.status_code == 200 and "<html" not in panel.text
    assert f'data-code="{code}">{text}' in panel.text and "确认以" not in panel.text
    assert scene.view(scene.live).bid_count == 0
