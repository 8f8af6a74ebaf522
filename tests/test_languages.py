"""Every page in both languages, and nothing of the other language outside data.

The routes come from the app itself: a GET route added later is rendered here as every kind of
visitor, in Chinese and in English, or the test fails naming the path parameter it does not know
how to fill. User data (lot titles, names, organisations, reasons, SMS bodies) is marked in the
templates with ``class="data"`` (or carries its own ``lang``) and is left out of the check.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import httpx2 as httpx
import openpyxl
import pytest
from demandkit import approved, demand, entrustment, party, response
from hallkit import (
    SHANGHAI,
    Actor,
    FakeClock,
    anonymous,
    beijing_ms,
    bearer_of,
    call,
    deal_of,
    hall,
    listing,
    org_id,
    page_csrf,
    rows,
    runtime,
    send_code,
    user,
)
from starlette.routing import Route
from starlette.testclient import TestClient

from hall import roadshows
from hall.auctions import Auctions, Industry, LotTerms, SessionDraft
from hall.auth.roles import Role
from hall.engine import Accepted, Action, LotSpec, Mode
from hall.roadshows import RoadshowDraft, ScoreBody
from hall.shops import SHOP_TERMS_VERSION
from hall.web.i18n import COOKIE, LANGS, MESSAGES

NOW: Final = beijing_ms(2026, 1, 7, 10, 0)
HOUR: Final = 3_600_000
DAY: Final = 24 * HOUR
PDF: Final = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

CJK: Final = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e]")
"""Chinese characters and Chinese (full-width) punctuation."""
WORD: Final = re.compile(r"[A-Za-z]{2,}")
PROPER: Final = frozenset({"PDF", "JPEG", "PNG", "MiB", "SMS", "JavaScript", "IPC", "CSV", "xlsx", "ZL", "Excel"})
"""ASCII words a Chinese page may hold outside data: names of formats and technologies."""
CHECKED_ATTRIBUTES: Final = ("aria-label", "title", "placeholder", "alt")
VOID: Final = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                         "track", "wbr"})  # fmt: skip
SKIPPED: Final = frozenset({"head", "script", "style", "code"})


class Interface(HTMLParser):
    """The text of a page a visitor reads as the interface: element text and the readable
    attributes, without data (``class="data"``, an element with its own ``lang``), code, the
    head (its title names the lot) and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        skip = (bool(self.stack) and self.stack[-1]) or tag in SKIPPED or "lang" in found and tag != "html" \
            or "data" in (found.get("class") or "").split()  # fmt: skip
        if not skip:
            self.parts.extend(value for name in CHECKED_ATTRIBUTES if (value := found.get(name)))
        if tag not in VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def interface_text(html: str) -> str:
    parser = Interface()
    parser.feed(html)
    return " ".join(parser.parts)


def foreign(html: str, lang: str) -> list[str]:
    """What of the other language the interface of a page shows."""
    text = interface_text(html)
    if lang == "en":
        return [text[max(0, m.start() - 15):m.end() + 15] for m in CJK.finditer(text)]
    return [m[0] for m in WORD.finditer(text) if m[0] not in PROPER]


@dataclass
class Scene:
    client: TestClient
    actors: dict[str, Actor | None]
    params: dict[str, object]
    more: list[str]
    """Pages beyond one per route: a lot page in every state the hall has, the console's result."""


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """One of everything a page can show: timed lots in publicity and running with a bid;
    auctioneer-run lots in publicity, warned, paused, sold, unsold and withdrawn; pending and
    decided verifications and registrations; an SMS in an inbox; every role."""
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        seller_id = user(client, "13900000301", "示范大学", org="示范大学")
        seller = org_id(client, "示范大学")

        def lot(title: str, bidding_start: int, mode: Mode = Mode.TIMED) -> int:
            spec = LotSpec(seller_org=seller, start_price=10_000, increment=1_000, publicity_start=NOW - 7 * DAY,
                           bidding_start=bidding_start, end=bidding_start + HOUR, reserve=12_000, mode=mode)  # fmt: skip
            return call(client, runtime(client).create_lot, spec, title, "新能源").id

        publicity = lot("一种公示中的专利", NOW + 2 * DAY)
        running = lot("一种竞价中的专利", NOW - HOUR // 2)
        bidder = user(client, "13800000001", "竞买人", org="恒达科技有限公司")
        call(client, runtime(client).register, running, bidder, org_id(client, "恒达科技有限公司"))
        rt = runtime(client)
        call(client, rt.bid, running, bidder, org_id(client, "恒达科技有限公司"), 10_000, "r1")
        staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
        admin = user(client, "13900000001", "管理员", roles=(Role.ADMIN,))
        auctioneer = user(client, "13900000201", "拍卖师", roles=(Role.AUCTIONEER,))
        applicant = user(client, "13800000002", "申请人")
        floor = _floor_lots(client, lambda title: lot(title, NOW - HOUR // 2, Mode.LIVE), bidder, auctioneer)
        actors: dict[str, Actor | None] = {"anonymous": None}
        for name, uid in (("bidder", bidder), ("staff", staff), ("admin", admin), ("auctioneer", auctioneer),
                          ("applicant", applicant), ("seller", seller_id)):  # fmt: skip
            actors[name] = Actor(client, uid)
        bidder_actor, staff_actor, applicant_actor = actors["bidder"], actors["staff"], actors["applicant"]
        assert bidder_actor and staff_actor and applicant_actor
        assert bidder_actor.upload(f"/lots/{publicity}/register", "letter", "承诺函.pdf", PDF).status_code == 303
        assert applicant_actor.post("/account/verification", {"kind": "personal", "real_name": "申请人"}).status_code == 303
        verification = call(client, client.app.state.store.fetchone,  # type: ignore[attr-defined]
                            "SELECT max(id) FROM applications WHERE kind = 'verification'")[0]
        decided = staff_actor.post(f"/staff/reviews/{verification}", {"decision": "reject", "reason": "姓名与证件不符"})
        assert decided.status_code == 303
        assert applicant_actor.post("/account/verification", {"kind": "personal", "real_name": "申请人"}).status_code == 303
        shop = _open_shop(client, actors, staff_actor)
        rejected, listed, batch = _listings(client, actors, staff_actor)
        call(client, client.app.state.dispatcher.run_once)  # type: ignore[attr-defined]
        file_id = call(client, client.app.state.store.fetchone, "SELECT min(id) FROM files")[0]  # type: ignore[attr-defined]
        sessions = _sessions(client, seller_id, seller, staff, auctioneer)
        deal, document, verify_code = _deal(client, bidder_actor, floor[3])
        offline = _offline_deal(client, staff_actor, seller_id)
        demands = _demands(client, bidder, seller_id)
        crowd, response = _crowd(client, bidder, seller_id)
        unanswered = demand(client, bidder, response_deadline=date(2026, 1, 20))  # the seller sees the form
        shown, roadshow_id, awarded = _roadshows(client, staff, bidder)
        params = {"lot": running, "lot_id": publicity, "file_id": file_id, "code": "en", "name": "site.css",
                  "application_id": verification, "shop_id": shop, "listing_id": rejected, "batch_id": batch,
                  "session_id": sessions[0], "deal_id": deal, "document_id": document, "verify_code": verify_code,
                  "offline_id": offline, "demand_id": crowd, "response_id": response,
                  "roadshow_id": roadshow_id}  # fmt: skip
        more = [*(f"/lots/{lot_id}" for lot_id in floor), f"/lots/{floor[-1]}/register",
                "/staff/reviews?kind=all&state=all", "/staff/reviews/1", "/staff/reviews?kind=shop",
                "/staff/reviews?kind=identity&state=approved", "/staff/reviews?kind=verification&state=rejected",
                "/staff/reviews?kind=listing&state=all", "/staff/reviews?kind=ownership", f"/listings/{listed}",
                "/seller/listings/new?kind=achievement",
                *(f"/demands/{d}" for d in demands.values()), f"/demands/{demands['rejected']}/edit",
                f"/demands/{demands['unresolved']}/edit", "/demands?state=unresolved", "/demands?q=%E6%A8%A1%E5%85%B7",
                "/my/demands?state=rejected", "/staff/reviews?kind=demand&state=all",
                f"/console?session=%E6%96%B0%E8%83%BD%E6%BA%90&lot={floor[0]}&result=bad_state",
                f"/console?session=%E6%96%B0%E8%83%BD%E6%BA%90&lot={floor[0]}&result=accepted",
                f"/lots/{sessions[1]}", f"/staff/sessions/{sessions[2]}", f"/staff/sessions/{sessions[2]}?done=add",
                "/?industry=energy", "/?q=%E4%B8%93%E5%88%A9", "/?industry=materials&state=live",
                "/staff/deals?state=notified", "/verify?code=bad", f"/verify/{verify_code[:-1]}2",
                f"/deals/{deal}9", f"/api/deals/{deal}9", "/staff/figures?year=all", "/staff/figures?year=1999",
                "/staff/offline-deals?done=1", f"/staff/offline-deals/{offline}9/contract", "/api/stats?by=session",
                "/api/stats?by=week", "/demands/hot?industry=energy", "/demands/hot?industry=steel",
                f"/demands/{crowd}/messages?solver={seller_id}",
                f"/demands/{unanswered}/respond", f"/demands/{unanswered}/outcome",
                f"/staff/roadshows?demand={shown}", f"/staff/roadshows/{awarded}?done=award",
                f"/staff/roadshows/{roadshow_id}?done=schedule", f"/api/roadshows/{awarded}", "/staff/picks?done=1",
                f"/api/demands/{shown}9/roadshows", f"/demands/{shown}9/roadshows"]  # fmt: skip
        yield Scene(client, actors, params, more)


def _sessions(client: TestClient, seller_id: int, seller: int, staff: int, auctioneer: int) -> tuple[int, int, int]:
    """A published low-carbon session with one lot (its listing with every detail), and a draft
    run by the auctioneer on a Monday (warned) with one lot: (published, its lot, the draft)."""
    auctions: Auctions = client.app.state.auctions  # type: ignore[attr-defined]

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 1, day, hour, tzinfo=SHANGHAI)

    published, _ = call(client, auctions.create, SessionDraft(
        name="新能源低碳专场", industry=Industry.ENERGY, date=date(2026, 1, 9), mode=Mode.TIMED, low_carbon=True,
        publicity_start=at(7, 9), bidding_start=at(9, 10), bidding_end=at(9, 12), stagger=5), staff)  # fmt: skip
    item = listing(client, seller_id, title="一种专场中的储能专利")
    call(client, auctions.add_lot, published, LotTerms(listing=item, increment=1_000, reserve=150_000))
    (lot,) = call(client, auctions.publish, published)
    draft, _ = call(client, auctions.create, SessionDraft(
        name="周一现场专场", industry=Industry.MATERIALS, date=date(2026, 1, 12), mode=Mode.LIVE,
        auctioneer=auctioneer, publicity_start=at(7, 9), bidding_start=at(12, 10), bidding_end=at(12, 12)), staff)  # fmt: skip
    call(client, auctions.add_lot, draft, LotTerms(listing=listing(client, seller_id), increment=500))
    listing(client, seller_id, title="一种已上架的专利")  # offered by the draft's add form
    return published, lot, draft


def _roadshows(client: TestClient, staff: int, bidder: int) -> tuple[int, int, int]:
    """A published demand whose enterprise is hidden, with two roadshows: one scheduled, and one
    that ran, was scored and awarded, the bidder's response invited to both (so the bidder sees
    its own invitation): (the demand, the scheduled roadshow, the awarded one)."""
    side = party(client, "13800000010", "恒达储能科技有限公司", "enterprise", "企业联系人")
    solver = party(client, "13800000011", "东南大学", "university", "应答方")
    demand_id = demand(client, side, title="一种锂电池快充热管理方案征集", hidden=["enterprise"])
    invited = [response(client, demand_id, uid) for uid in (bidder, solver)]
    store = client.app.state.store  # type: ignore[attr-defined]

    def draft(day: int) -> RoadshowDraft:
        return RoadshowDraft(demand=demand_id, title="储能专场路演", starts_at=datetime(2026, 1, day, 14, tzinfo=SHANGHAI),
                             place="科技会堂", responses=invited)  # fmt: skip

    ran = call(client, partial(roadshows.schedule, store, draft(8), staff=staff, now=NOW))
    scheduled = call(client, partial(roadshows.schedule, store, draft(20), staff=staff, now=NOW))
    later = NOW + 2 * DAY
    for invite, score in zip(invited, (90, 70)):
        call(client, partial(roadshows.record_score, store, ran, ScoreBody(response=invite, expert="张教授",
                                                                            score=score, comment="方案成熟"),
                             staff=staff, now=later))  # fmt: skip
    call(client, partial(roadshows.award, store, ran, invited[:1], now=later))
    return demand_id, scheduled, ran


def _deal(client: TestClient, buyer: Actor, sold: int) -> tuple[int, int, str]:
    """The deal the sold auctioneer-run lot got (its listener made it), with the buyer's signed
    contract handed in: (deal, the contract's document, the verification code)."""
    deal = deal_of(client, sold)
    assert buyer.upload(f"/deals/{deal}/contract", "file", "合同.pdf", PDF).status_code == 303
    [(document, code)] = rows(client, "SELECT max(d.id), verify_code FROM deal_documents d JOIN deals ON deals.id = d.deal")
    return deal, document, code


def _offline_deal(client: TestClient, staff: Actor, seller_id: int) -> int:
    """A deal reached outside the hall, recorded through the staff's form (it qualifies for
    project support), and a listing left for the form to offer: the recorded deal's id."""
    item = listing(client, seller_id, title="一种协议成交的专利")
    listing(client, seller_id, title="一种待登记成交的专利")
    fields = {"listing": str(item), "buyer_name": "远景能源有限公司", "price": "300000", "date": "2026-01-06",
              "form": "licence", "industry": "energy"}  # fmt: skip
    assert staff.upload("/staff/offline-deals", "contract", "合同.pdf", PDF, fields).status_code == 303
    found: int = call(client, client.app.state.store.fetchone, "SELECT max(id) FROM offline_deals")[0]  # type: ignore[attr-defined]
    return found


def _demands(client: TestClient, bidder: int, seller: int) -> dict[str, int]:
    """Issue 13's demands: the bidder's organisation as an enterprise (published with hidden
    fields, rejected with a reason, unresolved after a round), and the seller's organisation also
    a transfer organisation that accepted the bidder's entrustment and posted one pending review."""
    approved(client, bidder, "enterprise")
    approved(client, seller, "transfer")
    made = {state: demand(client, bidder, state, title=f"一种{state}的需求", hidden=["investment", "contact"])
            for state in ("published", "rejected", "unresolved")}  # fmt: skip
    given = entrustment(client, bidder, seller)
    made["pending"] = demand(client, seller, "pending", entrustment=given, manager="王经理", title="一种代发的需求")
    return made


def _crowd(client: TestClient, enterprise: int, solver: int) -> tuple[int, int]:
    """A published demand of the bidder's enterprise to which the seller (an
    approved university) responded with an attachment and asked a question that was answered,
    with a log entry: (the demand, the response)."""
    demand_id = demand(client, enterprise, response_deadline=date(2026, 1, 20), title="锂电池健康状态估计")
    sent = client.post(f"/api/demands/{demand_id}/responses", headers=bearer_of(client, solver),
                       data={"summary": "一种检测方案", "approach": "相控阵超声", "team": "", "budget": "100000"},
                       files=[("attachments", ("方案.pdf", PDF, "application/pdf"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    for uid, body in ((solver, {"body": "请问材质？"}), (enterprise, {"body": "镍基合金", "solver": solver})):
        assert client.post(f"/api/demands/{demand_id}/messages", headers=bearer_of(client, uid), json=body).status_code == 201
    logged = client.post(f"/api/demands/{demand_id}/log", headers=bearer_of(client, enterprise),
                         json={"day": "2026-01-06", "body": "电话沟通"})  # fmt: skip
    assert logged.status_code == 201, logged.text
    client.cookies.clear()
    return demand_id, int(sent.json()["id"])


def _open_shop(client: TestClient, actors: dict[str, Actor | None], staff: Actor) -> int:
    """The seller's identity, rejected once and approved on its resubmission, and its shop,
    rejected (with its reason on the seller's pages) and then resubmitted and approved."""
    seller = actors["seller"]
    assert seller is not None
    store = client.app.state.store  # type: ignore[attr-defined]

    def decide(kind: str, decision: str, reason: str = "") -> None:
        [application] = call(client, store.fetchone, "SELECT max(id) FROM applications WHERE kind = ?", (kind,))
        answer = staff.post(f"/staff/reviews/{application}", {"decision": decision, "reason": reason})
        assert answer.status_code == 303, answer.text

    for decision in ("reject", "approve"):
        assert seller.upload("/account/identity", "documents", "法人证书.pdf", PDF, {"kind": "university"}).status_code == 303
        decide("identity", decision, "证书不清晰")
    form = {"name": "示范大学", "contact_name": "王老师", "contact_phone": "13800138000", "intro": "技术转移中心",
            "terms_version": SHOP_TERMS_VERSION}  # fmt: skip
    for decision in ("reject", "approve"):
        assert seller.post("/account/shop", form).status_code == 303
        decide("shop", decision, "简介不完整")
    shop: int = call(client, store.fetchone, "SELECT id FROM shops")[0]
    return shop


def _listings(client: TestClient, actors: dict[str, Actor | None], staff: Actor) -> tuple[int, int, int]:
    """The seller's listings: one rejected with its reason (and an ownership change asked for),
    one listed, one agent item pending with its authorisation; and a batch upload with a good
    and a bad row. The rejected one's id, the listed one's and the batch's."""
    seller = actors["seller"]
    assert seller is not None
    store = client.app.state.store  # type: ignore[attr-defined]
    base = {"kind": "patent", "title": "一种锂电池健康状态的估计方法", "holder": "示范大学", "inventors": "张三",
            "application_date": "2021-01-15", "grant_date": "2023-06-20", "ipc": "H01M 10/48", "legal_status": "valid",
            "abstract": "本发明公开了一种估计方法。", "forms": "transfer", "start_price": "100000", "agreement": "1"}  # fmt: skip
    made = []
    for number in ("ZL202110123456.7", "ZL202110000001.6"):
        assert seller.post("/seller/listings", {**base, "number": number}).status_code == 303
        made.append(call(client, store.fetchone, "SELECT max(id) FROM listings")[0])
    for listing, decision in zip(made, ("reject", "approve")):
        [application] = call(client, store.fetchone, "SELECT max(id) FROM applications WHERE kind = 'listing'"
                             " AND subject = ?", (listing,))  # fmt: skip
        answer = staff.post(f"/staff/reviews/{application}", {"decision": decision, "reason": "摘要过于简单"})
        assert answer.status_code == 303, answer.text
    agent = {**base, "number": "ZL202110000002.0", "holder": "东南大学"}
    assert seller.upload("/seller/listings", "authorisation", "授权书.pdf", PDF, agent).status_code == 303
    asked = seller.upload(f"/seller/listings/{made[0]}/ownership", "authorisation", "授权书.pdf", PDF,
                          {"ownership": "agent", "note": "实为代理"})  # fmt: skip
    assert asked.status_code == 303, asked.text
    template = anonymous(client).get("/api/templates/patents.xlsx").content
    sent = seller.upload("/seller/batches", "file", "批量.xlsx", template, {"kind": "patent"},
                         declared="application/octet-stream")  # fmt: skip
    assert sent.status_code == 400  # only the untouched example row: nothing to import
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    ws.cell(3, 1, "ZL202110123456.8")  # a bad check digit
    ws.cell(2, 2, "一种改过的示例专利")
    out = io.BytesIO()
    wb.save(out)
    sent = seller.upload("/seller/batches", "file", "批量.xlsx", out.getvalue(), {"kind": "patent"},
                         declared="application/octet-stream")  # fmt: skip
    assert sent.status_code == 303, sent.text
    batch: int = call(client, store.fetchone, "SELECT max(id) FROM listing_batches")[0]
    return made[0], made[1], batch


FLOOR: Final[dict[str, tuple[tuple[Action | int, dict[str, str]], ...]]] = {
    "publicity": (),
    "warned": ((Action.OPEN, {}), (10_000, {}), (Action.FAIR_WARNING, {})),
    "paused": ((Action.OPEN, {}), (Action.PAUSE, {})),
    "sold": ((Action.OPEN, {}), (20_000, {}), (Action.HAMMER, {})),
    "unsold": ((Action.OPEN, {}), (10_000, {}), (Action.HAMMER, {})),  # below the ¥12,000 reserve
    "withdrawn": ((Action.WITHDRAW, {"reason": "权利人申请撤回"}),),
}
"""Auctioneer-run lots brought to each state: the commands, and the bidder's bids (amounts)."""


def _floor_lots(client: TestClient, make: Callable[[str], int], bidder: int, auctioneer: int) -> list[int]:
    """A live-mode lot in each state of ``FLOOR``, the bidder admitted to each, in that order."""
    rt = runtime(client)
    bidder_org = org_id(client, "恒达科技有限公司")
    made = []
    for n, (state, steps) in enumerate(FLOOR.items()):
        lot_id = make(f"一种现场拍卖的专利之{n + 1}")
        call(client, rt.register, lot_id, bidder, bidder_org)
        for step, (what, fields) in enumerate(steps):
            req = f"floor-{lot_id}-{step}"
            if isinstance(what, int):
                result = call(client, rt.bid, lot_id, bidder, bidder_org, what, req)
            else:
                result = call(client, partial(rt.command, lot_id, auctioneer, what, req, **fields))
            assert isinstance(result, Accepted), (state, what, result)
        made.append(lot_id)
    states = [rt.views[lot_id].state.value for lot_id in made]
    assert states == ["publicity", "live", "paused", "closed", "closed", "withdrawn"], states
    return made


def _client(scene: Scene, actor: str, lang: str) -> TestClient:
    """The scene's client as ``actor`` (a name of ``scene.actors``) reading ``lang``."""
    who = scene.actors[actor]
    client = anonymous(scene.client)
    if who is not None:
        client.cookies.set("hall_session", who.cookie)
    client.cookies.set(COOKIE, lang)
    return client


def _get(scene: Scene, actor: str, lang: str, path: str) -> tuple[int, str, str]:
    response = _client(scene, actor, lang).get(path, follow_redirects=False)
    return response.status_code, response.headers.get("content-type", ""), response.text


def _said_in(message: str, lang: str) -> bool:
    """Whether an API error's message is in ``lang``: English without Chinese; Chinese (it may
    name a parameter or a format, such as ``since`` or JSON, in ASCII)."""
    return not CJK.search(message) if lang == "en" else bool(CJK.search(message))


def _pages(scene: Scene) -> list[str]:
    """Every GET route's path, its parameters filled from the scene; fails on one it cannot fill."""
    paths = []
    for found in scene.client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(found, Route) or "GET" not in (found.methods or ()):
            continue
        missing = set(found.param_convertors) - set(scene.params)
        assert not missing, f"{found.path} needs {missing}: add them to the scene in tests/test_languages.py"
        paths.append(found.url_path_for(found.name, **{k: scene.params[k] for k in found.param_convertors}))
    return paths


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_speaks_only_its_language_outside_data(scene: Scene, lang: str) -> None:
    lot = scene.params["lot"]
    errors = ["/no-such-page", f"/lots/{lot}9", f"/lots/{lot}9/register",
              f"/api/lots/{lot}9", f"/api/lots/{lot}9/events", f"/api/lots/{lot}/events?since=%C2%B2",
              "/api/lots?state=bogus", "/api/me"]  # fmt: skip
    rendered = 0
    problems: dict[str, list[str]] = {}
    for path in [*_pages(scene), *scene.more, *errors]:
        for actor in scene.actors:
            status, kind, body = _get(scene, actor, lang, path)
            assert status < 500, (path, actor, status)
            if kind.startswith("application/json") and status >= 400:
                message = json.loads(body)["error"]["message"]
                if not _said_in(message, lang):
                    problems[f"{path} as {actor} ({status})"] = [message]
            if not kind.startswith("text/html"):
                continue
            rendered += 1
            if found := foreign(body, lang):
                problems[f"{path} as {actor} ({status})"] = found[:5]
    assert not problems, problems
    assert rendered > 40  # the routes were found and rendered as several visitors


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_what_a_form_answers_speaks_only_its_language_outside_data(scene: Scene, lang: str) -> None:
    """The pages only a post shows: each sign-in page's second step and its refusals, a refused
    login, a registration refused, the console's confirmation, a listing form refused field by
    field and by the season's rules, a batch upload refused."""
    client = _client(scene, "anonymous", lang)
    answers: dict[str, httpx.Response] = {}
    for n, path in enumerate(("/signup", "/login/code", "/password-reset")):
        phone = f"137{list(LANGS).index(lang)}{n:07d}"  # a number of its own: one code a minute each
        answers[f"{path}: code sent"] = send_code(client, path, phone)
        answers[f"{path}: bad phone"] = send_code(client, path, "12345")
        answers[f"{path}: bad code"] = client.post(path, data={"phone": phone, "code": "000000", "password": "x" * 9,
                                                                "csrf": page_csrf(client, path)})  # fmt: skip
    answers["/signup: short password"] = client.post("/signup", data={"phone": "13700000000", "code": "000000",
                                                                      "password": "short", "csrf": page_csrf(client, "/signup")})  # fmt: skip
    answers["/login: wrong password"] = client.post("/login", data={"phone": "13800000001", "password": "wrong one",
                                                                    "csrf": page_csrf(client, "/login")})  # fmt: skip
    auctioneer, bidder = scene.actors["auctioneer"], scene.actors["bidder"]
    assert auctioneer and bidder
    lot = scene.params["lot"]
    answers["console: confirm a withdrawal"] = _client(scene, "auctioneer", lang).post(
        f"/console/lots/{lot}/withdraw", data={"csrf": auctioneer.csrf, "req": "w1", "reason": "权利人申请撤回"})
    answers["register: refused without a letter"] = _client(scene, "bidder", lang).post(
        f"/lots/{scene.params['lot_id']}/register", data={"csrf": bidder.csrf})
    seller = scene.actors["seller"]
    assert seller
    answers["listing: every field wrong"] = _client(scene, "seller", lang).post("/seller/listings", data={
        "csrf": seller.csrf, "kind": "patent", "title": "某专利", "number": "ZL202110123456.8", "grant_date": "2023-02-30",
        "start_price": "十万", "holder": "东南大学", "season": "1"})  # fmt: skip
    answers["listing: not eligible for the season"] = _client(scene, "seller", lang).post("/seller/listings", data={
        "csrf": seller.csrf, "kind": "patent", "title": "一种旧专利", "number": "ZL201810000001.4", "holder": "示范大学",
        "inventors": "张三", "application_date": "2018-01-15", "grant_date": "2019-06-20", "ipc": "H01M 10/48",
        "legal_status": "valid", "abstract": "摘要。", "forms": "transfer", "start_price": "100000", "agreement": "1",
        "season": "1"})  # fmt: skip
    answers["batch: not a workbook"] = _client(scene, "seller", lang).post(
        "/seller/batches", data={"csrf": seller.csrf, "kind": "patent"},
        files={"file": ("a.xlsx", b"hello", "application/octet-stream")})
    staff = scene.actors["staff"]
    assert staff
    answers["offline deal: refused without a buyer"] = _client(scene, "staff", lang).post(
        "/staff/offline-deals", data={"csrf": staff.csrf, "listing": "1", "price": "1", "date": "2026-01-06",
                                      "form": "licence"})  # fmt: skip
    answers["demand: every field wrong"] = _client(scene, "bidder", lang).post("/demands", data={
        "csrf": bidder.csrf, "title": "某需求", "investment": "十万", "response_deadline": "2026-02-30",
        "valid_until": "2020-01-01", "service_mode": "commissioned", "hidden": "investment"})  # fmt: skip
    answers["demand batch: not a workbook"] = _client(scene, "bidder", lang).post(
        "/demands/batch", data={"csrf": bidder.csrf}, files={"file": ("a.xlsx", b"hello", "application/octet-stream")})
    problems: dict[str, list[str]] = {}
    for name, response in answers.items():
        assert response.status_code < 500 and response.headers["content-type"].startswith("text/html"), name
        assert 'class="message"' in response.text or "alertdialog" in response.text, name  # it says something
        if found := foreign(response.text, lang):
            problems[f"{name} ({response.status_code})"] = found[:5]
    assert not problems, problems


def test_the_check_sees_the_other_language_and_leaves_data_alone() -> None:
    assert len(foreign('<p>竞价中 <span class="data">一种专利</span></p>', "en")) == 3
    assert foreign('<p>Bidding <span class="data">一种专利</span> <a lang="zh-CN">中文</a></p>', "en") == []
    assert foreign('<p>竞价中 live <input aria-label="state"><br>PDF</p>', "zh") == ["live", "state"]
    assert foreign('<p>竞价中 <b class="x data">Acme Robotics</b><code>bidder</code></p>', "zh") == []


def test_every_catalogue_message_has_both_languages_and_no_bracketed_english() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert zh and en, key
        assert not re.search(r"\([a-z][a-z ,;']+\)", zh), (key, zh)
        assert not CJK.search(en), (key, en)
