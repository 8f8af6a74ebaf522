"""Auction sessions (hall/auctions.py, hall/web/auctions.py): AU-1 session days and industries,
AU-2 publishing lots into publicity with frozen terms, AU-4 the hall by session and industry
with its calendar and search, the listing's states around a session (LS-9's ``in_auction``
rests on ``in_session``), and the open hall page learning of a new lot over its socket.

Listings are inserted straight into their table (``hallkit.listing``): the listings store is
another part of issue 11.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from datetime import date
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from hallkit import (
    Actor,
    FakeClock,
    anonymous,
    bearer_of,
    beijing_ms,
    call,
    hall,
    listing,
    listing_state,
    org_id,
    people,
    rows,
    runtime,
    user,
    wake,
)
from starlette.testclient import TestClient

from hall.auctions import offered_days, session_warnings
from hall.auth.roles import Role
from hall.engine import Accepted, Action, State

NOW = beijing_ms(2026, 1, 7, 10, 0)
"""A Wednesday, 10:00 Beijing time."""
MINUTE = 60_000
HOUR = 60 * MINUTE


@dataclass
class Scene:
    client: TestClient
    clock: FakeClock
    staff: int
    seller: int
    """The seller's account (its shop holds the listings)."""
    org: int
    auctioneer: int
    other_auctioneer: int
    bidder: int
    bidder_org: int

    def token(self, uid: int) -> dict[str, str]:
        return bearer_of(self.client, uid)

    def api(self, method: str, path: str, body: object = None, uid: int | None = None) -> httpx.Response:
        headers = self.token(self.staff if uid is None else uid)
        return anonymous(self.client).request(method, path, json=body, headers=headers)

    def listing(self, **fields: Any) -> int:
        return listing(self.client, self.seller, **fields)

    def session(self, **fields: Any) -> int:
        answer = self.api("POST", "/api/sessions", {**SESSION, **fields})
        assert answer.status_code == 201, answer.text
        session: int = answer.json()["id"]
        return session

    def published(self, *listings: int, **fields: Any) -> tuple[int, list[int]]:
        session = self.session(**fields)
        for item in listings:
            added = self.api("POST", f"/api/sessions/{session}/lots", {"listing": item, "increment": 1_000})
            assert added.status_code == 201, added.text
        answer = self.api("POST", f"/api/sessions/{session}/publish")
        assert answer.status_code == 200, answer.text
        return session, answer.json()["lots"]


SESSION: dict[str, object] = {
    "name": "新能源专场", "industry": "energy", "date": "2026-01-09", "mode": "timed",
    "publicity_start": "2026-01-07T09:00:00+08:00", "bidding_start": "2026-01-09T10:00:00+08:00",
    "bidding_end": "2026-01-09T12:00:00+08:00",
}  # fmt: skip
"""A timed session on Friday 9 January 2026, in publicity from Wednesday."""


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(NOW)
        runtime(client).clock = clock
        seller = user(client, "13900000301", "示范大学", org="示范大学")
        scene = Scene(
            client=client, clock=clock, staff=user(client, "13900000101", "审核员", roles=(Role.STAFF,)),
            seller=seller, org=org_id(client, "示范大学"),
            auctioneer=user(client, "13900000201", "拍卖师甲", roles=(Role.AUCTIONEER,)),
            other_auctioneer=user(client, "13900000202", "拍卖师乙", roles=(Role.AUCTIONEER,)),
            bidder=user(client, "13800000001", "竞买人", org="恒达科技有限公司"),
            bidder_org=org_id(client, "恒达科技有限公司"),
        )  # fmt: skip
        yield scene


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_session_published_where_this_process_could_not_hear_it_is_learned_when_it_catches_up(scene: Scene) -> None:
    """A process of a hall on several whose subscription was down when another published a
    session (hall/cluster.py ``on_missed``) learns it from the store: indexed, its lots
    announced to this process's pages, and only once."""
    session, lots = scene.published(scene.listing(), scene.listing())
    auctions = scene.client.app.state.auctions  # type: ignore[attr-defined]
    known = auctions.published.pop(session)  # as if it had never heard of it
    for lot in lots:
        del auctions.lot_session[lot]
    announced: list[list[int]] = []
    auctions.announce = lambda ids, topics: announced.append(list(ids))
    call(scene.client, auctions.catch_up)
    assert auctions.published[session] == known
    assert all(auctions.lot_session[lot] == session for lot in lots)
    assert announced == [lots]
    call(scene.client, auctions.catch_up)
    assert announced == [lots]


# ---------------------------------------------------------------------- AU-1: creating a session


def test_au1_the_form_offers_the_coming_wednesdays_and_fridays(scene: Scene) -> None:
    days = offered_days(date(2026, 1, 7))
    assert days[:4] == [date(2026, 1, 9), date(2026, 1, 14), date(2026, 1, 16), date(2026, 1, 21)]
    assert {day.weekday() for day in days} == {2, 4} and len(days) == 8  # four weeks, never today
    page = Actor(scene.client, scene.staff).get("/staff/sessions").text
    offered = re.findall(r'<option value="(\d{4}-\d\d-\d\d)"', page)
    assert offered == [day.isoformat() for day in days]
    assert 'value="other"' in page


def test_au1_another_day_is_allowed_with_a_warning(scene: Scene) -> None:
    assert session_warnings(date(2026, 1, 9)) == [] and session_warnings(date(2026, 1, 12)) == ["not_session_day"]
    answer = scene.api("POST", "/api/sessions", {**SESSION, "date": "2026-01-12",
                                                 "bidding_start": "2026-01-12T10:00:00+08:00",
                                                 "bidding_end": "2026-01-12T12:00:00+08:00"})  # fmt: skip
    assert answer.status_code == 201 and answer.json()["warnings"] == ["not_session_day"]
    page = Actor(scene.client, scene.staff).get(f"/staff/sessions/{answer.json()['id']}").text
    assert "拍卖专场例行安排在每周三、周五" in page and 'class="note warning" role="note"' in page
    regular = scene.api("POST", "/api/sessions", SESSION).json()
    assert regular["warnings"] == []
    assert 'role="note"' not in Actor(scene.client, scene.staff).get(f"/staff/sessions/{regular['id']}").text


@pytest.mark.parametrize(("fields", "code"), [
    ({"publicity_start": "2026-01-09T10:00:00+08:00"}, "bad_times"),
    ({"bidding_end": "2026-01-09T10:00:00+08:00"}, "bad_times"),
    ({"bidding_end": "2026-01-09T09:00:00+08:00"}, "bad_times"),
    ({"date": "2026-01-14"}, "bad_date"),
    ({"bidding_start": "2026-01-09T10:00:00"}, "bad_request"),  # no offset
    ({"publicity_start": "2026-01-08T16:00:00+08:00"}, "no_registration"),  # publicity from registration's close
    ({"mode": "live"}, "needs_auctioneer"),
    ({"industry": "tea"}, "bad_request"),
    ({"name": "  "}, "bad_name"),
    ({"date": "2026-01-06", "publicity_start": "2026-01-05T10:00:00+08:00", "bidding_start": "2026-01-06T10:00:00+08:00",
      "bidding_end": "2026-01-06T12:00:00+08:00"}, "in_the_past"),
])  # fmt: skip
def test_au1_a_session_is_refused_with_its_times_out_of_order_or_a_field_wrong(
    scene: Scene, fields: dict[str, object], code: str
) -> None:
    answer = scene.api("POST", "/api/sessions", {**SESSION, **fields})
    assert answer.status_code == 400 and _error(answer) == code, answer.text
    assert rows(scene.client, "SELECT count(*) FROM auctions") == [(0,)]


def test_au1_an_auctioneer_run_session_needs_an_auctioneer_account(scene: Scene) -> None:
    refused = scene.api("POST", "/api/sessions", {**SESSION, "mode": "live", "auctioneer": scene.bidder})
    assert refused.status_code == 400 and _error(refused) == "not_auctioneer"
    assert scene.api("POST", "/api/sessions", {**SESSION, "mode": "live", "auctioneer": scene.auctioneer}).status_code == 201


def test_au1_the_staff_form_takes_beijing_times(scene: Scene) -> None:
    staff = Actor(scene.client, scene.staff)
    answer = staff.post("/staff/sessions", {
        "name": "智能制造专场", "industry": "manufacturing", "low_carbon": "1", "date": "other", "other_date": "2026-01-13",
        "mode": "live", "auctioneer": str(scene.auctioneer), "publicity_start": "2026-01-07T12:00",
        "bidding_start": "2026-01-13T09:30", "bidding_end": "2026-01-13T11:30", "stagger": "5",
    })  # fmt: skip
    assert answer.status_code == 303, answer.text
    session = int(answer.headers["location"].rsplit("/", 1)[1])
    assert rows(scene.client, "SELECT day, mode, auctioneer, low_carbon, publicity_start, bidding_start, bidding_end, "
                "stagger, state FROM auctions WHERE id = ?", (session,)) == [
        ("2026-01-13", "live", scene.auctioneer, 1, beijing_ms(2026, 1, 7, 12), beijing_ms(2026, 1, 13, 9, 30),
         beijing_ms(2026, 1, 13, 11, 30), 300, "draft")]  # fmt: skip
    refused = staff.post("/staff/sessions", {**{k: str(v) for k, v in SESSION.items()}, "date": "2026-01-09",
                                             "publicity_start": "2026-01-09T10:00", "bidding_start": "2026-01-09T10:00",
                                             "bidding_end": "2026-01-09T12:00"})  # fmt: skip
    assert refused.status_code == 400 and "公示开始早于竞价开始" in refused.text
    assert 'value="新能源专场"' in refused.text  # what was typed is kept
    bad = staff.post("/staff/sessions", {"name": "x", "industry": "energy", "date": "2026-01-09", "mode": "timed",
                                         "publicity_start": "soon", "bidding_start": "2026-01-09T10:00",
                                         "bidding_end": "2026-01-09T12:00"})  # fmt: skip
    assert bad.status_code == 400 and "请检查“公示开始”一项" in bad.text


# ---------------------------------------------------------------------- lots: listed items only


def test_only_a_listed_or_unsold_item_becomes_a_lot_and_it_is_then_in_session(scene: Scene) -> None:
    session = scene.session()
    for state in ("pending", "rejected", "delisted"):  # sold: test_a_lot_that_closes_sells_or_leaves_its_listing_unsold
        item = scene.listing(state=state)
        answer = scene.api("POST", f"/api/sessions/{session}/lots", {"listing": item, "increment": 1_000})
        assert answer.status_code == 409 and _error(answer) == "not_listed", (state, answer.text)
        assert listing_state(scene.client, item) == state
    item = scene.listing(start_price=80_000)
    answer = scene.api("POST", f"/api/sessions/{session}/lots", {"listing": item, "increment": 1_000, "reserve": 90_000})
    assert answer.status_code == 201, answer.text
    (lot,) = answer.json()["lots"]
    assert (lot["listing"], lot["start_price"], lot["reserve"], lot["window"], lot["extension"]) == (item, 80_000, 90_000,
                                                                                                     300, 300)
    assert listing_state(scene.client, item) == "in_session"  # its seller can no longer delist it (LS-9 in_auction)
    other = scene.session(name="另一专场")
    again = scene.api("POST", f"/api/sessions/{other}/lots", {"listing": item, "increment": 1_000})
    assert again.status_code == 409 and _error(again) == "not_listed"  # in_session
    missing = scene.api("POST", f"/api/sessions/{session}/lots", {"listing": 999, "increment": 1_000})
    assert missing.status_code == 404 and _error(missing) == "not_found"
    low = scene.api("POST", f"/api/sessions/{other}/lots", {"listing": scene.listing(), "increment": 1_000, "reserve": 1})
    assert low.status_code == 400 and _error(low) == "bad_reserve"


def test_taking_a_lot_out_of_a_draft_lists_its_item_again(scene: Scene) -> None:
    session = scene.session()
    item = scene.listing()
    assert scene.api("POST", f"/api/sessions/{session}/lots", {"listing": item, "increment": 1_000}).status_code == 201
    assert listing_state(scene.client, item) == "in_session"
    staff = Actor(scene.client, scene.staff)
    assert staff.post(f"/staff/sessions/{session}/lots/{item}/remove").status_code == 303
    assert listing_state(scene.client, item) == "listed"
    assert rows(scene.client, "SELECT count(*) FROM auction_lots") == [(0,)]
    added = staff.post(f"/staff/sessions/{session}/lots", {"listing": str(item), "increment": "2000"})
    assert added.status_code == 303 and listing_state(scene.client, item) == "in_session"
    edited = scene.api("PUT", f"/api/sessions/{session}/lots/{item}", {"increment": 5_000, "start_price": 120_000})
    assert edited.status_code == 200 and edited.json()["lots"][0]["increment"] == 5_000
    removed = scene.api("DELETE", f"/api/sessions/{session}/lots/{item}")
    assert removed.status_code == 200 and "lots" not in removed.json()  # none left
    assert listing_state(scene.client, item) == "listed"


# ---------------------------------------------------------------------- AU-2: publishing


def test_au2_publishing_creates_the_lots_in_publicity_with_the_terms_and_the_listing_details(scene: Scene) -> None:
    first, second = scene.listing(title="一种储能电池管理方法", number="ZL202110123456.7"), scene.listing(title="一种光伏逆变器")
    session = scene.session(stagger=10)
    scene.api("POST", f"/api/sessions/{session}/lots", {"listing": first, "increment": 1_000, "start_price": 50_000,
                                                        "reserve": 60_000, "window": 120, "extension": 60})  # fmt: skip
    scene.api("POST", f"/api/sessions/{session}/lots", {"listing": second, "increment": 2_000,
                                                        "bidding_end": "2026-01-09T15:00:00+08:00"})  # fmt: skip
    answer = scene.api("POST", f"/api/sessions/{session}/publish")
    assert answer.status_code == 200, answer.text
    lots = answer.json()["lots"]
    rt = runtime(scene.client)
    one, two = (rt.lots[lot].spec for lot in lots)
    assert (one.start_price, one.increment, one.reserve, one.window, one.extension, one.seller_org) == (
        50_000, 1_000, 60_000, 120, 60, scene.org)
    assert (one.publicity_start, one.bidding_start, one.end) == (beijing_ms(2026, 1, 7, 9), beijing_ms(2026, 1, 9, 10),
                                                                  beijing_ms(2026, 1, 9, 12))
    assert (two.start_price, two.end) == (100_000, beijing_ms(2026, 1, 9, 15))  # the listing's price; its own end
    assert rt.titles[lots[0]] == "一种储能电池管理方法" and rt.sessions[lots[0]] == "新能源专场"
    details = rt.details[lots[0]]
    assert (details.number, details.holder, details.abstract, details.form.value) == (
        "ZL202110123456.7", "示范大学", "一种储能电池管理方法的摘要", "licence")
    assert rows(scene.client, "SELECT listing, lot FROM auction_lots ORDER BY position") == [(first, lots[0]),
                                                                                              (second, lots[1])]
    public = anonymous(scene.client).get("/api/lots?state=publicity").json()
    assert [(lot["id"], lot["state"], lot["session"]) for lot in public] == [(lot, "publicity", "新能源专场")
                                                                             for lot in lots]
    assert all("reserve" not in lot for lot in public)
    page = anonymous(scene.client).get(f"/lots/{lots[0]}").text
    for shown in ("发明人", "张三、李四", "授权日", "2023-05-06", "G06F 16/00", "有效", "许可", "示范大学",
                  f'href="/sessions/{session}"'):
        assert shown in page, shown


def test_au2_a_published_sessions_terms_are_frozen(scene: Scene) -> None:
    item = scene.listing()
    session, (lot,) = scene.published(item)
    spec = runtime(scene.client).lots[lot].spec
    for method, path, body in (("POST", f"/api/sessions/{session}/lots", {"listing": scene.listing(), "increment": 1}),
                               ("PUT", f"/api/sessions/{session}/lots/{item}", {"increment": 7}),
                               ("DELETE", f"/api/sessions/{session}/lots/{item}", None),
                               ("POST", f"/api/sessions/{session}/publish", None)):  # fmt: skip
        answer = scene.api(method, path, body)
        assert answer.status_code == 409 and _error(answer) == "session_published", (method, path, answer.text)
    staff = Actor(scene.client, scene.staff)
    page = staff.post(f"/staff/sessions/{session}/lots/{item}", {"increment": "7"})
    assert page.status_code == 409 and "拍品条件已冻结" in page.text
    assert runtime(scene.client).lots[lot].spec == spec and listing_state(scene.client, item) == "in_session"
    assert rows(scene.client, "SELECT count(*) FROM lots") == [(1,)]


def test_au2_publishing_needs_lots_and_an_open_registration(scene: Scene) -> None:
    empty = scene.session()
    answer = scene.api("POST", f"/api/sessions/{empty}/publish")
    assert answer.status_code == 409 and _error(answer) == "no_lots"
    session = scene.session()
    scene.api("POST", f"/api/sessions/{session}/lots", {"listing": scene.listing(), "increment": 1_000})
    scene.clock.now = beijing_ms(2026, 1, 8, 16)  # registration for Friday closed at 16:00 on Thursday (AU-3)
    late = scene.api("POST", f"/api/sessions/{session}/publish")
    assert late.status_code == 409 and _error(late) == "registration_closed"
    assert rows(scene.client, "SELECT state FROM auctions WHERE id = ?", (session,)) == [("draft",)]


# ---------------------------------------------------------------------- lots that end


def _settled(scene: Scene, item: int, state: str) -> bool:
    """Whether the listing reached ``state``, letting the app's loop run the listener's task."""
    for _ in range(200):
        if listing_state(scene.client, item) == state:
            return True
        call(scene.client, asyncio.sleep, 0.005)
    return False


def test_a_lot_that_closes_sells_or_leaves_its_listing_unsold(scene: Scene) -> None:
    sold, unsold = scene.listing(), scene.listing()
    _, (sold_lot, unsold_lot) = scene.published(sold, unsold)
    rt = runtime(scene.client)
    scene.clock.now = beijing_ms(2026, 1, 9, 10, 30)
    for lot in (sold_lot, unsold_lot):
        wake(scene.client, lot)
    call(scene.client, rt.register, sold_lot, scene.bidder, scene.bidder_org)
    assert isinstance(call(scene.client, rt.bid, sold_lot, scene.bidder, scene.bidder_org, 100_000, "b1"), Accepted)
    scene.clock.now = beijing_ms(2026, 1, 9, 12)
    for lot in (sold_lot, unsold_lot):
        wake(scene.client, lot)
    assert rt.lots[sold_lot].state is State.CLOSED
    assert _settled(scene, sold, "sold") and _settled(scene, unsold, "unsold")
    again = scene.session(name="再拍专场", date="2026-01-14", publicity_start="2026-01-12T09:00:00+08:00",
                          bidding_start="2026-01-14T10:00:00+08:00", bidding_end="2026-01-14T12:00:00+08:00")  # fmt: skip
    refused = scene.api("POST", f"/api/sessions/{again}/lots", {"listing": sold, "increment": 1_000})
    assert refused.status_code == 409 and _error(refused) == "not_listed"
    # another try (hall.listings: unsold may enter_session)
    assert scene.api("POST", f"/api/sessions/{again}/lots", {"listing": unsold, "increment": 1_000}).status_code == 201
    assert listing_state(scene.client, unsold) == "in_session"


def test_a_withdrawn_lot_leaves_its_listing_unsold(scene: Scene) -> None:
    item = scene.listing()
    _, (lot,) = scene.published(item)
    result = call(scene.client, partial(runtime(scene.client).command, lot, scene.auctioneer, Action.WITHDRAW, "w",
                                        reason="权利人撤回"))  # fmt: skip
    assert isinstance(result, Accepted)
    assert _settled(scene, item, "unsold")


def test_at_start_a_lot_that_ended_while_the_server_was_down_settles_its_listing(tmp_path: Path) -> None:
    """Both ways a close can be missed: the lot closed but the listing was not settled before the
    server stopped (``reconcile`` at start), and the lot's end passed while it was down (its
    clock closes it at start, the listener settles it)."""
    with hall(tmp_path) as client:
        # Real time: the sessions ended long before this test runs; the store is what matters.
        runtime(client).clock = FakeClock(NOW)
        scene = Scene(client=client, clock=FakeClock(NOW), staff=user(client, "13900000101", roles=(Role.STAFF,)),
                      seller=user(client, "13900000301", org="示范大学"), org=org_id(client, "示范大学"),
                      auctioneer=0, other_auctioneer=0, bidder=0, bidder_org=0)  # fmt: skip
        closed_item, later_item = scene.listing(), scene.listing()
        _, (closed_lot,) = scene.published(closed_item)
        _, (later_lot,) = scene.published(later_item, name="周五下午专场",
                                          bidding_start="2026-01-09T14:00:00+08:00",
                                          bidding_end="2026-01-09T16:00:00+08:00")  # fmt: skip
        runtime(client).clock = FakeClock(beijing_ms(2026, 1, 9, 12))
        wake(client, closed_lot)
        assert _settled(scene, closed_item, "unsold")
        # undo the settling, as a crash between the close and the settling would have lost it
        call(client, _sql(client, "UPDATE listings SET state = 'in_session' WHERE id = ?", (closed_item,)))
        assert listing_state(client, later_item) == "in_session"
    with hall(tmp_path) as client:  # the wall clock is long past both ends
        assert runtime(client).views[closed_lot].state is State.CLOSED
        scene.client = client
        assert _settled(scene, closed_item, "unsold") and _settled(scene, later_item, "unsold")


def _sql(client: TestClient, sql: str, params: tuple[object, ...]) -> Any:
    store = client.app.state.store  # type: ignore[attr-defined]

    async def run() -> None:
        async with store.transaction() as tx:
            await tx.execute(sql, params)

    return run


# ---------------------------------------------------------------------- AU-4: the hall


def test_au4_the_hall_filters_by_industry_and_searches_title_number_and_holder(scene: Scene) -> None:
    energy = scene.listing(title="一种储能电池管理方法", number="ZL202110123456.7")
    materials = scene.listing(title="一种石墨烯复合材料", number="ZL202210654328.X", holder="东南大学")
    _, (energy_lot,) = scene.published(energy)
    _, (materials_lot,) = scene.published(materials, name="新材料专场", industry="materials")
    client = anonymous(scene.client)

    def shown(query: str) -> set[int]:
        return {int(n) for n in re.findall(r'<tr id="lot-(\d+)"', client.get(f"/?{query}").text)}

    assert shown("") == {energy_lot, materials_lot}
    assert shown("industry=energy") == {energy_lot} and shown("industry=materials") == {materials_lot}
    assert shown("industry=tea") == {energy_lot, materials_lot}  # an unknown industry filters nothing
    assert shown("q=石墨烯") == {materials_lot}  # title
    assert shown("q=202110123456") == {energy_lot}  # number, without its prefix
    assert shown("q=zl202210654328.x") == {materials_lot}  # any case
    assert shown("q=东南大学") == {materials_lot}  # holder
    assert shown("q=" + "专" * 500) == set()  # bounded: cut to 50 characters, matching nothing
    assert 'value="' + "专" * 50 + '"' in client.get("/?q=" + "专" * 500).text


def test_au4_the_calendar_shows_the_coming_session_days_with_their_sessions(scene: Scene) -> None:
    session, _ = scene.published(scene.listing(), low_carbon=True)
    monday = scene.session(name="周一专场", date="2026-01-12", bidding_start="2026-01-12T10:00:00+08:00",
                           bidding_end="2026-01-12T12:00:00+08:00")  # a draft: not on the calendar  # fmt: skip
    page = anonymous(scene.client).get("/").text
    calendar = page[page.index('class="calendar"'):page.index('class="filters"')]
    days = re.findall(r'<span class="day">(\d{4}-\d\d-\d\d) ', calendar)
    assert days == ["2026-01-07", "2026-01-09", "2026-01-14", "2026-01-16"]  # Wednesdays and Fridays, two weeks
    assert f'<a href="/sessions/{session}" class="data">新能源专场</a> · 新能源 · <strong>低碳</strong>' in calendar
    assert f"/sessions/{monday}" not in calendar
    listed = anonymous(scene.client).get("/api/sessions").json()
    assert [(s["id"], s["low_carbon"], s["registration_deadline"]) for s in listed] == [
        (session, True, "2026-01-08T16:00:00+08:00")]
    assert "auctioneer" not in listed[0]


def test_au4_a_session_page_lists_its_lots_live_and_a_draft_is_not_public(scene: Scene) -> None:
    first, second = scene.listing(title="一种储能方法"), scene.listing(title="一种光伏方法")
    session, lots = scene.published(first, second)
    page = anonymous(scene.client).get(f"/sessions/{session}").text
    assert all(f'<tr id="lot-{lot}"' in page for lot in lots)
    assert f'ws-connect="/ws/page?lots={lots[0]},{lots[1]}&amp;kind=summary"' in page
    draft = scene.session(name="草稿专场")
    assert anonymous(scene.client).get(f"/sessions/{draft}").status_code == 404
    assert anonymous(scene.client).get(f"/api/sessions/{draft}").status_code == 404
    seen = scene.api("GET", f"/api/sessions/{draft}")
    assert seen.status_code == 200 and seen.json()["state"] == "draft"
    public = anonymous(scene.client).get(f"/api/sessions/{session}").json()
    assert [lot["lot"] for lot in public["lots"]] == lots and all("reserve" not in lot for lot in public["lots"])


# ---------------------------------------------------------------------- the open hall page


def test_an_open_hall_page_is_sent_a_newly_published_lot_and_follows_it(scene: Scene) -> None:
    client = anonymous(scene.client)
    page = client.get("/").text
    assert 'ws-connect="/ws/page?lots=&amp;kind=summary&amp;topic=hall&amp;after=0"' in page
    for target in ('<div id="hall-new"></div>', '<meta id="hall-after" data-after="0">', '<p id="hall-empty">'):
        assert target in page  # every element the rows' fragment swaps out of band
    with client.websocket_connect("/ws/page?lots=&kind=summary&topic=hall&after=0") as ws, \
            client.websocket_connect("/ws/page?lots=&kind=summary&topic=hall:materials&after=0") as other:  # fmt: skip
        assert ws.receive_text().startswith('<meta id="hall-clock"')
        assert other.receive_text().startswith('<meta id="hall-clock"')
        _, (lot,) = scene.published(scene.listing(title="一种新发布的储能专利"))
        rows_frame = ws.receive_text()
        assert rows_frame.startswith('<div id="hall-new" hx-swap-oob="beforeend">')
        assert f'<tr id="lot-{lot}" class="lot-row" data-lot="{lot}">' in rows_frame
        assert "一种新发布的储能专利" in rows_frame and f'data-after="{lot}"' in rows_frame
        scene.clock.now = beijing_ms(2026, 1, 9, 10)
        wake(scene.client, lot)  # the lot opens: the page now follows it like the lots it named
        update = ws.receive_text()
        assert f'id="lot-{lot}-state"' in update and 'data-state="live"' in update
        hub = scene.client.app.state.hub  # type: ignore[attr-defined]
        (materials_watcher,) = hub.topics["hall:materials"]
        assert not materials_watcher.queue and lot not in materials_watcher.lots  # another industry's page
    assert not any(hub.topics.values())  # the sockets are gone: no watcher is left on a topic


def test_a_hall_page_connecting_just_after_a_publication_is_sent_what_it_missed(scene: Scene) -> None:
    client = anonymous(scene.client)
    _, (lot,) = scene.published(scene.listing())
    with client.websocket_connect(f"/ws/page?lots=&kind=summary&topic=hall:energy&after={lot - 1}") as ws:
        ws.receive_text()  # the clock
        assert f'<tr id="lot-{lot}"' in ws.receive_text()
    with client.websocket_connect(f"/ws/page?lots={lot}&kind=summary&topic=hall&after={lot}") as ws:
        ws.receive_text()
        assert '<tr id="lot-' not in ws.receive_text()  # the page had it: only its live fragment
    for query in ("topic=bogus", "topic=hall&kind=lot", "topic=hall&after=x"):
        with pytest.raises(Exception), client.websocket_connect(f"/ws/page?lots={lot}&{query}") as ws:  # noqa: B017
            ws.receive_text()


# ---------------------------------------------------------------------- the console and roles


def test_an_auctioneer_sees_and_runs_only_the_sessions_assigned_to_them(scene: Scene) -> None:
    _, (theirs,) = scene.published(scene.listing(), name="乙的现场专场", mode="live", auctioneer=scene.other_auctioneer)
    _, (timed,) = scene.published(scene.listing(), name="限时专场")
    me = Actor(scene.client, scene.auctioneer)
    console = me.get("/console?session=乙的现场专场").text
    assert f'id="lot-{theirs}"' not in console and "乙的现场专场" not in console
    assert f'id="lot-{timed}"' in me.get("/console?session=限时专场").text
    refused = me.post(f"/console/lots/{theirs}/open", {"req": "o1"})
    assert refused.status_code == 403 and runtime(scene.client).views[theirs].state is State.PUBLICITY
    assert f'id="lot-{theirs}"' in Actor(scene.client, scene.other_auctioneer).get("/console?session=乙的现场专场").text


NEW_ROUTES = [("GET", "/staff/sessions"), ("POST", "/staff/sessions"), ("GET", "/staff/sessions/1"),
              ("POST", "/staff/sessions/1/lots"), ("POST", "/staff/sessions/1/lots/1"),
              ("POST", "/staff/sessions/1/lots/1/remove"), ("POST", "/staff/sessions/1/publish"),
              ("POST", "/api/sessions"), ("POST", "/api/sessions/1/lots"), ("PUT", "/api/sessions/1/lots/1"),
              ("DELETE", "/api/sessions/1/lots/1"), ("POST", "/api/sessions/1/publish")]  # fmt: skip
"""Every new route that changes something: staff only (tests/test_permissions.py calls every
route as every kind of account; this names the refusals these routes answer)."""


def test_every_write_of_sessions_is_refused_to_all_but_staff(scene: Scene) -> None:
    call(scene.client, people(scene.client).grant, scene.seller, Role.SELLER, None)
    for method, path in NEW_ROUTES:
        for uid in (scene.bidder, scene.seller, scene.auctioneer):
            answer = scene.api(method, path, {}, uid=uid)
            assert answer.status_code == 403, (method, path, uid, answer.status_code)
            if path.startswith("/api/"):
                assert _error(answer) == "forbidden"
        anonymous_answer = anonymous(scene.client).request(method, path, follow_redirects=False)
        assert anonymous_answer.status_code in ((401,) if path.startswith("/api/") else (303, 403)), (method, path)
    for path in ("/api/sessions", "/sessions/1", "/api/sessions/1"):  # public reads: no refusal, a 404 at most
        assert anonymous(scene.client).get(path).status_code in (200, 404)
