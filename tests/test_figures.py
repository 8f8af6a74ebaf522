"""The exchange's figures (hall/figures.py) and the deals reached outside the hall
(hall/offline_deals.py), through the app: the figures of a known set of deals worked out by hand
(online and offline, two months either side of a Beijing midnight, two industries, a default, a
deal of 200,000 and one of 199,999), the offline deal that moves its listing to sold, its
refusals, the exports read back, the charts, and every new route refused to all but staff."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import openpyxl
import pytest
from hallkit import (
    PDF,
    SHANGHAI,
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
    rows,
    runtime,
    user,
    wake,
)
from starlette.testclient import TestClient

from hall.auctions import Auctions, Industry, LotTerms, SessionDraft
from hall.auth.roles import Role
from hall.charts import bars, line
from hall.engine import Accepted, LotSpec, Mode
from hall.runtime import Action

HOUR: Final = 3_600_000
DAY: Final = 24 * HOUR
RECORDED: Final = beijing_ms(2026, 3, 2, 10, 0)
"""When the offline deals are recorded: after every deal's date."""


@dataclass
class Scene:
    client: TestClient
    clock: FakeClock
    staff: int
    seller: int
    org: int
    bidder: int
    bidder_org: int
    auctioneer: int

    def token(self, uid: int) -> dict[str, str]:
        return bearer_of(self.client, uid)

    def get(self, path: str, uid: int | None = None) -> httpx.Response:
        return anonymous(self.client).get(path, headers=self.token(self.staff if uid is None else uid))

    def record(self, uid: int | None = None, contract: bytes | None = PDF, **fields: object) -> httpx.Response:
        """``POST /api/offline-deals`` with these fields and the contract as a PDF."""
        files = {} if contract is None else {"contract": ("合同.pdf", contract, "application/pdf")}
        data = {k: str(v) for k, v in fields.items()}
        return anonymous(self.client).post("/api/offline-deals", data=data, files=files or None,
                                           headers=self.token(self.staff if uid is None else uid))  # fmt: skip

    def lot(self, closes: int, start_price: int, session: str, price: int | None = None) -> int:
        """A timed lot of ``session`` (an industry's label) ending at ``closes``, won by the
        bidder at ``price`` (or with no bid, unsold); it has ended when this returns."""
        rt = runtime(self.client)
        self.clock.now = closes - HOUR // 2
        spec = LotSpec(seller_org=self.org, start_price=start_price, increment=1, publicity_start=closes - 3 * DAY,
                       bidding_start=closes - HOUR, end=closes)  # fmt: skip
        lot = call(self.client, rt.create_lot, spec, f"{session}的专利", session).id
        if price is not None:
            call(self.client, rt.register, lot, self.bidder, self.bidder_org)
            assert isinstance(call(self.client, rt.bid, lot, self.bidder, self.bidder_org, price, f"b{lot}"), Accepted)
        self.clock.now = closes
        wake(self.client, lot)
        return lot

    def withdrawn(self, at: int, session: str) -> int:
        rt = runtime(self.client)
        self.clock.now = at
        spec = LotSpec(seller_org=self.org, start_price=10_000, increment=1_000, publicity_start=at - DAY,
                       bidding_start=at + DAY, end=at + 2 * DAY)  # fmt: skip
        lot = call(self.client, rt.create_lot, spec, "撤拍的专利", session).id
        result = call(self.client, partial(rt.command, lot, self.auctioneer, Action.WITHDRAW, f"w{lot}",
                                           reason="权利人撤回"))  # fmt: skip
        assert isinstance(result, Accepted)
        return lot

    def auctioned(self, *items: int, won: dict[int, int] | None = None, publish: bool = True) -> int:
        """A timed materials session on Friday 9 January 2026 (10:00 to 12:00 Beijing) offering
        ``items``, published and run to its end, the bidder winning those ``won`` names at their
        price: the others end unsold. Unpublished, its items stay ``in_session``. The session's id."""
        auctions: Auctions = self.client.app.state.auctions  # type: ignore[attr-defined]

        def at(day: int, hour: int) -> datetime:
            return datetime(2026, 1, day, hour, tzinfo=SHANGHAI)

        session, _ = call(self.client, auctions.create, SessionDraft(
            name="新材料专场", industry=Industry.MATERIALS, date=date(2026, 1, 9), mode=Mode.TIMED,
            publicity_start=at(7, 12), bidding_start=at(9, 10), bidding_end=at(9, 12)), self.staff)  # fmt: skip
        for item in items:
            call(self.client, auctions.add_lot, session, LotTerms(listing=item, increment=1_000))
        if not publish:
            return session
        lots = dict(zip(items, call(self.client, auctions.publish, session), strict=True))
        rt = runtime(self.client)
        self.clock.now = beijing_ms(2026, 1, 9, 10, 30)
        for item, price in (won or {}).items():
            wake(self.client, lots[item])
            call(self.client, rt.register, lots[item], self.bidder, self.bidder_org)
            bid = call(self.client, rt.bid, lots[item], self.bidder, self.bidder_org, price, f"w{item}")
            assert isinstance(bid, Accepted)
        self.clock.now = beijing_ms(2026, 1, 9, 12)
        for lot in lots.values():
            wake(self.client, lot)
        for item in items:  # the listings move when the close reaches the auctions' listener
            for _ in range(200):
                if listing_state(self.client, item) != "in_session":
                    break
                call(self.client, asyncio.sleep, 0.005)
        return session

    def stats(self, by: str, **query: str) -> dict[str, dict[str, Any]]:
        answer = anonymous(self.client).get("/api/stats", params={"by": by, **query}, headers=self.token(self.staff))
        assert answer.status_code == 200, answer.text
        return {f["key"]: f for f in answer.json()}


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(beijing_ms(2026, 1, 7, 10))
        runtime(client).clock = clock
        yield Scene(
            client=client, clock=clock, staff=user(client, "13900000101", "审核员", roles=(Role.STAFF,)),
            seller=user(client, "13900000301", "示范大学", org="示范大学"), org=org_id(client, "示范大学"),
            bidder=user(client, "13800000001", "张三", org="恒达科技有限公司"),
            bidder_org=org_id(client, "恒达科技有限公司"),
            auctioneer=user(client, "13900000201", "拍卖师", roles=(Role.AUCTIONEER,)),
        )  # fmt: skip


ENERGY, MATERIALS = "新能源", "新材料"
"""Lots made without a session, named as an industry's label: filed under that industry."""


@pytest.fixture
def known(scene: Scene) -> Scene:
    """The known set of deals (Beijing times):

    - A, energy: start 100,000, sold 120,000, hammered 20 January → January; premium 0.2.
    - B, energy: start 150,000, sold 200,000 (qualifies), hammered 1 February 00:30 Beijing
      (31 January 16:30 UTC) → February; premium 1/3.
    - C, materials: start 150,000, sold 199,999 (does not qualify), hammered 31 January 23:30
      Beijing → January; premium 49,999/150,000 = 0.33333 (to 4 places 0.3333).
    - D, materials: start 50,000, sold 60,000 on 10 February, then defaulted: no deal, offered
      and not sold.
    - E, energy: start 80,000, no bid, closed unsold on 10 February: offered, not sold.
    - F, materials: withdrawn on 15 January: offered, not sold.
    - G, a lot still in publicity: not offered yet.
    - O, offline, energy: a listed item of start price 250,000 sold by negotiation for 300,000
      (qualifies) on 15 February; premium 0.2.
    """
    scene.lot(beijing_ms(2026, 1, 20, 11), 100_000, ENERGY, 120_000)
    scene.lot(beijing_ms(2026, 2, 1, 0, 30), 150_000, ENERGY, 200_000)
    scene.lot(beijing_ms(2026, 1, 31, 23, 30), 150_000, MATERIALS, 199_999)
    defaulted = deal_of(scene.client, scene.lot(beijing_ms(2026, 2, 10, 11), 50_000, MATERIALS, 60_000))
    scene.lot(beijing_ms(2026, 2, 10, 12), 80_000, ENERGY)
    scene.withdrawn(beijing_ms(2026, 1, 15, 9), MATERIALS)
    scene.clock.now = RECORDED
    call(scene.client, runtime(scene.client).create_lot, LotSpec(
        seller_org=scene.org, start_price=10_000, increment=1_000, publicity_start=RECORDED,
        bidding_start=RECORDED + 2 * DAY, end=RECORDED + 3 * DAY), "公示中的专利", ENERGY)  # fmt: skip
    answer = anonymous(scene.client).post(f"/api/deals/{defaulted}/default", json={"reason": "买方未签约"},
                                          headers=scene.token(scene.staff))  # fmt: skip
    assert answer.status_code == 200, answer.text
    item = listing(scene.client, scene.seller, start_price=250_000, title="一种协议成交的专利")
    recorded = scene.record(listing=item, buyer_name="远景能源有限公司", price=300_000, date="2026-02-15",
                            form="licence", industry="energy")  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    for lot in (1, 2, 3):
        deal_of(scene.client, lot)
    return scene


# ---------------------------------------------------------------------- the figures, by hand


def test_figures_per_industry_count_online_and_offline_deals_and_leave_the_default_out(known: Scene) -> None:
    figures = known.stats("industry")
    assert list(figures) == ["materials", "energy"]  # the catalogue's order of industries
    energy, materials = figures["energy"], figures["materials"]
    assert (energy["count"], energy["value"]) == (3, 120_000 + 200_000 + 300_000)
    assert (energy["online_count"], energy["online_value"], energy["offline_count"], energy["offline_value"]) == (
        2, 320_000, 1, 300_000)
    assert (energy["offered"], energy["sold"], energy["sell_through"]) == (3, 2, 0.6667)  # A, B sold; E not
    assert energy["premium"] == 0.2444  # (0.2 + 1/3 + 0.2) / 3 = 0.24444
    assert (energy["online_premium"], energy["offline_premium"]) == (0.2667, 0.2)  # (0.2 + 1/3) / 2
    assert (energy["qualifying_count"], energy["qualifying_value"]) == (2, 500_000)  # B and O
    assert (materials["count"], materials["value"], materials["offline_count"]) == (1, 199_999, 0)  # D defaulted
    assert (materials["offered"], materials["sold"], materials["sell_through"]) == (3, 1, 0.3333)  # C; D, F not
    assert (materials["premium"], materials["offline_premium"]) == (0.3333, None)
    assert (materials["qualifying_count"], materials["qualifying_value"]) == (0, 0)  # 199,999 is below the line
    assert energy["label"] == "新能源" and materials["label"] == "新材料"


def test_figures_per_month_follow_beijing_midnight(known: Scene) -> None:
    months = known.stats("month")
    assert list(months) == ["2026-01", "2026-02"]
    january, february = months["2026-01"], months["2026-02"]
    # January: A and C (hammered at 23:30 Beijing on the 31st); F withdrawn
    assert (january["count"], january["value"], january["offered"], january["sold"]) == (2, 319_999, 3, 2)
    assert january["sell_through"] == 0.6667 and january["qualifying_count"] == 0
    # February: B (00:30 Beijing on the 1st, still 31 January in UTC) and O; D defaulted, E unsold
    assert (february["count"], february["value"], february["offered"], february["sold"]) == (2, 500_000, 3, 1)
    assert (february["online_count"], february["offline_count"]) == (1, 1)
    assert february["sell_through"] == 0.3333
    assert (february["qualifying_count"], february["qualifying_value"]) == (2, 500_000)
    assert february["premium"] == 0.2667  # (1/3 + 0.2) / 2


def test_figures_per_year_add_every_deal_of_the_year(known: Scene) -> None:
    (year,) = known.stats("year").values()
    assert (year["key"], year["count"], year["value"]) == ("2026", 4, 819_999)
    assert (year["offered"], year["sold"], year["sell_through"]) == (6, 3, 0.5)
    assert year["premium"] == 0.2667  # (0.2 + 1/3 + 0.33333 + 0.2) / 4 = 0.266665
    assert (year["qualifying_count"], year["qualifying_value"]) == (2, 500_000)
    assert known.stats("year", year="2025") == {}
    assert known.stats("month", year="2026").keys() == {"2026-01", "2026-02"}


def test_figures_per_session_file_lots_by_their_session_and_an_offline_deal_outside_any(known: Scene) -> None:
    sessions = known.stats("session")
    assert set(sessions) == {"named:新能源", "named:新材料", "none"}
    assert sessions["none"]["offline_count"] == 1 and sessions["none"]["offered"] == 0
    assert sessions["none"]["sell_through"] is None and sessions["none"]["label"] == "不属于拍卖专场"
    assert (sessions["named:新能源"]["online_count"], sessions["named:新能源"]["offered"]) == (2, 3)


def test_an_offline_deal_of_an_item_a_session_left_unsold_counts_under_that_session(scene: Scene) -> None:
    item = listing(scene.client, scene.seller, start_price=100_000)
    session = scene.auctioned(item)
    assert listing_state(scene.client, item) == "unsold"
    answer = scene.record(listing=item, buyer_name="某材料公司", price=90_000, date="2026-01-09", form="transfer")
    assert answer.status_code == 201, answer.text
    assert (answer.json()["industry"], answer.json()["session"]) == ("materials", session)
    figure = scene.stats("session")[str(session)]
    assert figure["label"] == "新材料专场 2026-01-09"
    assert (figure["offline_count"], figure["offline_value"], figure["offered"], figure["sold"]) == (1, 90_000, 1, 0)
    assert figure["premium"] == -0.1  # sold below its start price
    assert listing_state(scene.client, item) == "sold"


# ---------------------------------------------------------------------- recording an offline deal


def test_an_offline_deal_moves_its_listing_to_sold_and_keeps_its_contract(scene: Scene) -> None:
    item = listing(scene.client, scene.seller, start_price=200_000)
    answer = scene.record(listing=item, buyer=scene.bidder, price=200_000, date="2026-01-07", form="transfer",
                          industry="new_it")  # fmt: skip
    assert answer.status_code == 201, answer.text
    deal = answer.json()
    assert deal["buyer"] == "恒达科技有限公司" and deal["buyer_account"] == scene.bidder  # the account's organisation
    assert (deal["seller"], deal["price"], deal["start_price"], deal["qualifying"]) == ("示范大学", 200_000, 200_000, True)
    assert deal["date"] == "2026-01-07" and deal["session"] is None
    assert listing_state(scene.client, item) == "sold"
    contract = scene.get(deal["contract"])
    assert contract.status_code == 200 and contract.content == PDF
    assert contract.headers["content-disposition"].startswith("attachment")
    again = scene.record(listing=item, buyer_name="另一家公司", price=1, date="2026-01-07", form="transfer",
                         industry="new_it")  # fmt: skip
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_for_sale")


@pytest.mark.parametrize(("fields", "status", "code"), [
    ({"buyer_name": ""}, 400, "buyer_required"),
    ({"buyer": "1"}, 400, "buyer_required"),  # a name and an account
    ({"buyer_name": "", "buyer": "999"}, 400, "unknown_buyer"),
    ({"date": "2026-01-08"}, 400, "bad_date"),  # tomorrow in Beijing
    ({"form": "equity"}, 400, "bad_form"),  # the listing offers licence and transfer
    ({"industry": ""}, 400, "industry_required"),  # no session ever offered it
    ({"price": "0"}, 400, "bad_request"),
    ({"price": "12.5"}, 400, "bad_request"),
    ({"industry": "space"}, 400, "bad_request"),
    ({"listing": "999"}, 404, "not_found"),
])  # fmt: skip
def test_an_offline_deal_is_refused_with_a_field_wrong_and_nothing_is_kept(
    scene: Scene, fields: dict[str, str], status: int, code: str
) -> None:
    item = listing(scene.client, scene.seller)
    good = {"listing": str(item), "buyer_name": "远景能源有限公司", "price": "150000", "date": "2026-01-07",
            "form": "licence", "industry": "energy"}  # fmt: skip
    answer = scene.record(**{**good, **fields})
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    assert listing_state(scene.client, item) == "listed"
    assert rows(scene.client, "SELECT count(*) FROM offline_deals") == [(0,)]
    assert rows(scene.client, "SELECT count(*) FROM files") == [(0,)]


def test_an_offline_deal_needs_its_contract_and_an_item_listed_or_unsold(scene: Scene) -> None:
    fields = {"buyer_name": "远景能源有限公司", "price": 150_000, "date": "2026-01-07", "form": "licence",
              "industry": "energy"}  # fmt: skip
    item = listing(scene.client, scene.seller)
    missing = scene.record(contract=None, listing=item, **fields)
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "missing_file")
    held, sold, unsold = (listing(scene.client, scene.seller) for _ in range(3))
    scene.auctioned(held, publish=False)
    scene.auctioned(sold, unsold, won={sold: 120_000})
    others = {"pending": listing(scene.client, scene.seller, state="pending"), "sold": sold, "in_session": held,
              "delisted": listing(scene.client, scene.seller, state="delisted")}  # fmt: skip
    for state, other in others.items():
        assert listing_state(scene.client, other) == state
        answer = scene.record(listing=other, **fields)
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "not_for_sale"), state
        assert listing_state(scene.client, other) == state
    assert listing_state(scene.client, unsold) == "unsold"
    assert scene.record(listing=unsold, **fields).status_code == 201
    assert listing_state(scene.client, unsold) == "sold"


def test_the_staff_form_records_a_deal_and_lists_it_and_says_why_it_refuses(scene: Scene) -> None:
    from hallkit import Actor

    staff = Actor(scene.client, scene.staff)
    item = listing(scene.client, scene.seller, title="一种表单登记的专利")
    page = staff.get("/staff/offline-deals")
    assert page.status_code == 200 and "一种表单登记的专利" in page.text
    fields = {"listing": str(item), "buyer_name": "远景能源有限公司", "price": "250000", "date": "2026-01-07",
              "form": "licence", "industry": ""}  # fmt: skip
    refused = staff.upload("/staff/offline-deals", "contract", "合同.pdf", PDF, fields)
    assert refused.status_code == 400 and 'data-code="industry_required"' in refused.text
    assert 'value="远景能源有限公司"' in refused.text  # what was typed stays
    done = staff.upload("/staff/offline-deals", "contract", "合同.pdf", PDF, {**fields, "industry": "energy"})
    assert done.status_code == 303 and done.headers["location"] == "/staff/offline-deals?done=1"
    listed = staff.get("/staff/offline-deals?done=1").text
    assert "data-offline=" in listed and 'data-qualifying="1"' in listed and "XY000001" in listed


# ---------------------------------------------------------------------- the page and the exports


def test_the_figures_page_draws_each_grouping_with_its_table_and_flags_qualifying_deals(known: Scene) -> None:
    page = known.get("/staff/figures?year=2026")
    assert page.status_code == 200
    html = page.text
    for by in ("industry", "session", "month", "year"):
        assert f'id="figures-{by}"' in html
    assert html.count("<svg") == 2 * 4 + 2  # value and count for each grouping, sell-through by month and year
    assert html.count('role="img"') == html.count("<svg") and "<script" not in html.split("<main", 1)[1]
    assert html.count('data-qualifying="1"') == 2  # B (200,000) and O (300,000); C (199,999) not
    assert html.count('data-kind="online"') == 3 and html.count('data-kind="offline"') == 1  # D defaulted
    assert known.get("/staff/figures?year=2025").status_code == 200
    assert known.get("/staff/figures?year=all").status_code == 200
    assert known.get("/staff/figures?year=20x6").status_code == 400


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf") and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_exports_are_utf8_with_a_bom_and_hold_the_figures_and_the_deals(known: Scene) -> None:
    figures = _csv(known.get("/staff/figures/export.csv?year=2026&table=figures"))
    assert figures[0][:4] == ["统计口径", "分组", "成交笔数", "成交金额（元）"]
    energy = next(r for r in figures if r[1] == "新能源")
    assert energy[:4] == ["行业专场", "新能源", "3", "620000"]
    assert [r[1] for r in figures if r[0] == "月份"] == ["2026-01", "2026-02"]
    deals = _csv(known.get("/staff/figures/export.csv?year=2026&table=deals"))
    assert len(deals) == 1 + 4
    flags = {r[deals[0].index("成交价（元）")]: r[deals[0].index("项目支持")] for r in deals[1:]}
    assert flags == {"300000": "是", "200000": "是", "199999": "否", "120000": "否"}
    assert known.get("/staff/figures/export.csv?table=bogus").status_code == 400


def test_no_export_cell_is_a_formula_even_for_a_title_that_starts_with_equals(scene: Scene) -> None:
    title = '=HYPERLINK("http://evil.example","点击")'
    item = listing(scene.client, scene.seller, title=title)
    assert scene.record(listing=item, buyer_name="+cmd|' /C calc'!A0", price=100_000, date="2026-01-07",
                        form="licence", industry="energy").status_code == 201  # fmt: skip
    deals = _csv(scene.get("/staff/figures/export.csv?year=2026&table=deals"))
    header, row = deals
    assert row[header.index("标的名称")] == "'" + title  # a spreadsheet shows it as text
    assert row[header.index("买方")].startswith("'+cmd")
    for table in ("deals", "figures"):
        answer = scene.get(f"/staff/figures/export.xlsx?year=2026&table={table}")
        assert answer.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(answer.content))
        cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r if c.value is not None]
        assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
        if table == "deals":
            titles = [c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
            assert [c.value for c in titles] == [title] and titles[0].data_type == "s"
        else:
            assert [ws.title for ws in book.worksheets] == ["行业专场", "拍卖专场", "月份", "年度"]
            assert book["年度"]["B2"].value == 1 and book["年度"]["C2"].value == 100_000  # numbers stay numbers


def test_the_exports_and_the_api_speak_english_when_asked(known: Scene) -> None:
    client = anonymous(known.client)
    client.cookies.set("hall_lang", "en")
    figures = _csv(client.get("/staff/figures/export.csv?year=2026", headers=known.token(known.staff)))
    assert figures[0][:3] == ["Grouping", "Group", "Deals"]
    answer = client.get("/api/stats?by=industry", headers=known.token(known.staff))
    assert {f["label"] for f in answer.json()} == {"New energy", "New materials"}


def test_stats_refuse_an_unknown_grouping_or_year(scene: Scene) -> None:
    for query in ("", "?by=week", "?by=month&year=1999", "?by=month&year=x"):
        answer = scene.get(f"/api/stats{query}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_request"), query
    assert scene.get("/api/stats?by=month").json() == []


# ---------------------------------------------------------------------- who may


@pytest.mark.parametrize("kind", ["anonymous", "bidder", "seller", "auctioneer"])
def test_every_figures_route_is_refused_to_all_but_staff(scene: Scene, kind: str) -> None:
    uid = {"anonymous": None, "bidder": scene.bidder, "seller": scene.seller, "auctioneer": scene.auctioneer}[kind]
    headers = {} if uid is None else scene.token(uid)
    client = anonymous(scene.client)
    item = listing(scene.client, scene.seller)
    calls = [("GET", "/staff/figures"), ("GET", "/staff/figures/export.csv"), ("GET", "/staff/figures/export.xlsx"),
             ("GET", "/staff/offline-deals"), ("POST", "/staff/offline-deals"),
             ("GET", "/staff/offline-deals/1/contract"), ("GET", "/api/stats?by=year"), ("POST", "/api/offline-deals")]  # fmt: skip
    for method, path in calls:
        answer = client.request(method, path, headers={**headers, "accept": "application/json"},
                                data={"listing": str(item), "buyer_name": "某公司", "price": "1", "date": "2026-01-07",
                                      "form": "licence", "industry": "energy"} if method == "POST" else None)  # fmt: skip
        assert answer.status_code == (401 if uid is None else 403), (kind, method, path, answer.status_code)
    assert listing_state(scene.client, item) == "listed"


# ---------------------------------------------------------------------- the charts


def test_a_bar_chart_stacks_its_series_to_scale_and_escapes_its_labels() -> None:
    svg = str(bars("c", "成交金额", ["网络竞价", "线下及协议"], [("<b>专场</b>", (300, 100)), ("其他", (200, 0))],
                   lambda v: f"¥{v:,}", data_labels=True))  # fmt: skip
    assert "<b>" not in svg and "&lt;b&gt;专场&lt;/b&gt;" in svg
    assert svg.count("<rect") == 2 + 3  # the legend's two, then 300 and 100 stacked, and 200 (no bar for 0)
    # the largest total (400) spans 320 - 96 - 78 = 146: 300 is 109.5 wide, 100 is 36.5 after it, 200 is 73
    assert all(w in svg for w in ('width="109.5"', 'x="205.5" y="40" width="36.5"', 'width="73.0"'))
    assert 'class="data"' in svg and '¥400' in svg and 'aria-labelledby="c-title"' in svg


def test_a_line_chart_breaks_where_a_rate_is_unknown() -> None:
    svg = str(line("s", "成交率", [("2026-01", 0.5), ("2026-02", 1.0), ("2026-03", None), ("2026-04", 0.0),
                                   ("2026-05", 0.25)]))  # fmt: skip
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4
    assert "50.0%" in svg and "100%" in svg
