"""Demo data: the people of an exchange and sessions of lots of the kind a university patent
auction lists, built through the same services as the pages use.

Used by ``hall seed-demo`` (``make run``, load tools, browser tests). Each seller's identity and
shop are applied for and approved by the demo's staff member (``hall.reviews``); each lot starts
as its seller's listing (``hall.listing_actions``), approved by staff in the review queue, added
by staff to a session they created and published (``hall.auctions``). A session is published
when its publicity began, a week before its bidding, with the runtime's clock set back to then:
publishing closes at the registration deadline (AU-3), which a session bidding now is past. The
lots are deterministic for a given seed, so that two runs describe the same sessions; the
passwords are made fresh on every run and printed (see ``seed``).

Bidders are admitted to every demo lot straight through ``Runtime.register_many`` (the
``bidders`` table, which gives their bidder numbers), not through the ``registrations`` table
of AU-3: a registration row needs a stored commitment-letter file, and inventing rows that
point at files nobody uploaded would leave the review pages showing letters that do not exist.
So the demo's bidders are approved registrants as far as bidding is concerned, and the
registration review has nothing pending for them.

Beside the timed lots that load tools bid on (``lots``), every seed adds a showcase, so that a
newcomer meets every state a lot can be in (``showcase``): auctioneer-run lots waiting for the
auctioneer to open them, lots in publicity whose registration is open and to which nobody is
admitted (a newcomer registers there; the auctioneer may open one of them, auctioneer-run, at
once), and closed lots, one sold and one unsold, which are really run through the runtime:
opened, bid on and closed by their own clock, their listings settled by the sessions' listener.
The first seller's centre also shows items in the states a session does not bring: one pending
in the staff's queue, one rejected with its reason, one listed and in no session.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Iterator, Sequence
from typing import Protocol
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from hall import identities, roadshows, shops
from hall import listing_actions as actions
from hall.auctions import SESSION_LOTS_MAX, Auctions, Industry, LotTerms, SessionDraft, industry_named
from hall.auth.passwords import hash_password
from hall.auth.roles import Identity, Role
from hall.demands import Cooperation
from hall.demo_patents import demo_patents, seed_patents
from hall.engine import Accepted, Mode, Outcome, Rejection
from hall.listing import ItemKind, TransactionForm
from hall.listings import ListingDraft, Maturity
from hall.patents import LegalStatus, check_digit
from hall.registration import SHANGHAI
from hall.reviews import PENDING, Reviews
from hall.runtime import Clock, Runtime
from hall.shops import SHOP_TERMS_VERSION, ShopForm
from hall.store.auctions import AuctionStore
from hall.store.patents import PatentCatalogue
from hall.store.people import People
from hall.store.sqlite import SqliteStore
from hall.uploads import FileStore, check
from hall.web.i18n import translate

TITLES: tuple[tuple[str, str], ...] = (
    ("新一代信息技术", "一种基于深度学习的遥感影像变化检测方法"),
    ("新一代信息技术", "一种面向边缘计算的任务卸载与资源调度方法"),
    ("新一代信息技术", "一种低功耗广域物联网终端的自适应组网方法"),
    ("新一代信息技术", "一种基于联邦学习的隐私保护数据共享系统"),
    ("生物医药", "一种靶向肿瘤微环境的纳米药物递送载体及其制备方法"),
    ("生物医药", "一种新型冠状病毒中和抗体及其应用"),
    ("生物医药", "一种基于CRISPR的核酸快速检测试剂盒"),
    ("智能制造", "一种工业机器人焊缝轨迹视觉跟踪方法"),
    ("智能制造", "一种数控机床主轴热误差补偿方法及装置"),
    ("智能制造", "一种基于数字孪生的产线故障预测系统"),
    ("节能环保", "一种城市污水低碳脱氮除磷工艺"),
    ("节能环保", "一种燃煤烟气多污染物协同脱除装置"),
    ("新材料", "一种高导热氮化硼/环氧树脂复合材料及其制备方法"),
    ("新材料", "一种可降解聚乳酸基医用缝合线材料"),
    ("新能源", "一种锂离子电池健康状态在线估计方法"),
    ("新能源", "一种钙钛矿太阳能电池的界面钝化方法"),
    ("新能源", "一种风光储微电网能量管理优化方法"),
)

SELLER_ORGS: tuple[tuple[str, str], ...] = (
    ("南京大学", "university"),
    ("东南大学", "university"),
    ("南京航空航天大学", "university"),
    ("江苏省农业科学院", "institute"),
    ("中国科学院南京土壤研究所", "institute"),
)
"""The sellers (LS-6: universities and research institutes), one seller account each."""

_CITIES = ("南京", "苏州", "无锡", "常州", "南通", "扬州", "镇江", "徐州", "盐城", "泰州")
_BRANDS = ("恒达", "华信", "瑞丰", "博远", "鼎新", "汇智", "天正", "新源", "联创", "中瑞")
_TRADES = ("科技", "智能装备", "生物医药", "新材料", "新能源", "环保科技", "信息技术", "电子")

# Phone numbers by role (AC-1: mainland mobile numbers), 1390000xxxx for the exchange's own
# people and the sellers, 1390001xxxx for the bidders.
ADMIN_PHONES = "139000000{:02d}"  # 13900000001
STAFF_PHONES = "139000001{:02d}"  # 13900000101
AUCTIONEER_PHONES = "139000002{:02d}"  # 13900000201
SELLER_PHONES = "139000003{:02d}"  # 13900000301 …
BIDDER_PHONES = "1390001{:04d}"  # 13900010001 … 13900019999
MAX_BIDDERS = 9999
AGENCY_PHONES = "139000004{:02d}"  # 13900000401
AGENCY_ORGS: tuple[str, ...] = ("江苏省技术转移中心",)
"""The technology-transfer organisations (CR-1, CR-2) enterprises may entrust, one account each."""
ENTERPRISES_MAX = 20
"""Bidders (the first ones) whose enterprise identity the demo has staff approve, so that they can
post demands and respond (issue 13): every bidder of a default seed; load seeds with a thousand
bidders need no crowdsourcing and skip a thousand reviews."""

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

LIVE_SESSION = "拍卖师主持现场竞价专场"
"""The showcase's session for the auctioneer-run lots: the console lists lots by session."""
SHOWCASE: tuple[tuple[str, str, str], ...] = (
    ("live", LIVE_SESSION, "一种高精度光纤光栅温度传感器及其封装方法"),
    ("live", LIVE_SESSION, "一种耐盐碱水稻新品种选育方法"),
    ("publicity", "新材料", "一种石墨烯增强铝基复合材料的制备方法"),
    ("publicity", "生物医药", "一种中药复方提取物的缓释制剂"),
    ("sold", "新一代信息技术", "一种基于区块链的科技成果确权存证系统"),
    ("unsold", "智能制造", "一种柔性电子皮肤触觉传感阵列"),
    ("publicity", LIVE_SESSION, "一种农作物病虫害无人机智能巡检系统"),
)
"""The showcase lots, by what they show: (kind, session, title). ``live``: auctioneer-run
(live mode), in publicity, every demo bidder admitted, for the auctioneer to open; the second
has a reserve. ``publicity``: registration open, nobody admitted; timed, but for the last, which
is auctioneer-run (its session's mode), so that a newcomer who registers can bid as soon as the
auctioneer opens it, days before its planned start. ``sold``/``unsold``: timed lots that opened,
took bids and closed today (``unsold`` below its reserve). New lots go last: the README's walk
through the demo names the others by id."""


class Account(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    phone: str
    password: str
    name: str
    org: int | None = None


class Seeded(msgspec.Struct, frozen=True, kw_only=True):
    """What ``hall seed-demo`` prints, as one JSON object. ``lots`` are the running (``--live``)
    or upcoming timed lots with every bidder admitted, which load tools bid on; the other lot
    lists are the showcase (see the module's docstring), never in ``lots``."""

    lots: list[int]
    bidders: list[Account]
    auctioneers: list[Account]
    staff: list[Account]
    sellers: list[Account]
    admins: list[Account]
    live_mode_lots: list[int] = []
    """Auctioneer-run lots in publicity, every bidder admitted: open, floor bids, fair warning, hammer."""
    publicity_lots: list[int] = []
    """Lots whose registration is open (bidding two days ahead) and to which nobody is admitted:
    timed ones, then one auctioneer-run (session ``LIVE_SESSION``)."""
    sold_lots: list[int] = []
    """Closed today, sold: the first bidder won, the second was outbid."""
    unsold_lots: list[int] = []
    """Closed today below the reserve: every bidder on it did not win."""
    enterprises: list[Account] = []
    """Bidders (the first ``ENTERPRISES_MAX``) holding an approved ``enterprise`` identity: they
    post demands and respond to others' (research crowdsourcing). The same accounts as in
    ``bidders``, with the same password."""
    agencies: list[Account] = []
    """Technology-transfer organisations' accounts, each with an approved ``transfer`` identity:
    enterprises entrust them with their demands."""


def bidder_org_name(n: int) -> str:
    """A distinct enterprise name for the ``n``-th bidder (0-based), never a seller's."""
    per_round = len(_CITIES) * len(_BRANDS) * len(_TRADES)
    k = n % per_round
    city, brand, trade = _CITIES[k % len(_CITIES)], _BRANDS[k // len(_CITIES) % len(_BRANDS)], \
        _TRADES[k // (len(_CITIES) * len(_BRANDS))]  # fmt: skip
    suffix = f"（{n // per_round + 1}）" if n >= per_round else ""
    return f"{city}{brand}{trade}有限公司{suffix}"


DEMO_IPC: dict[Industry, str] = {
    Industry.NEW_IT: "G06N 3/08", Industry.BIOMEDICINE: "A61K 9/51", Industry.MANUFACTURING: "B25J 9/16",
    Industry.ENVIRONMENT: "C02F 3/30", Industry.MATERIALS: "C08K 3/38", Industry.ENERGY: "H01M 10/48",
}  # fmt: skip
"""The main IPC class a demo patent of each industry carries."""
LIVE_INDUSTRY = Industry.MANUFACTURING
"""The industry the auctioneer-run sessions (``LIVE_SESSION``) are filed under."""
_INVENTORS = ("王建国", "李晓明", "张丽华", "陈志强", "刘洋", "赵敏", "孙浩然", "周静")
_MATURITIES = (Maturity.BENCH, Maturity.PILOT, Maturity.PILOT, Maturity.INDUSTRIAL)


def industry_of(session: str) -> Industry:
    """The industry of a demo session name: an industry label names itself (``TITLES``)."""
    found = industry_named(session)
    if found is not None:
        return found
    if session == LIVE_SESSION:
        return LIVE_INDUSTRY
    raise ValueError(f"no industry for the demo session {session!r}")


def demo_draft(rng: random.Random, title: str, holder: str, industry: Industry, start_price: int) -> ListingDraft:
    """What a demo seller submits for one item (LS-2): mostly invention patents with a CN
    number (ZL + year + 8 digits + check digit, as CNIPA computes it), filed 2019-2022 and
    granted 18 to 30 months later, sometimes a technology achievement; the seller's
    organisation as the only right holder (LS-4 ``own``), the agreement accepted."""
    form = rng.choice((TransactionForm.TRANSFER, TransactionForm.TRANSFER, TransactionForm.LICENCE))
    if rng.random() >= 0.8:
        return ListingDraft(
            kind=ItemKind.ACHIEVEMENT, title=title, holder=holder, field=translate(industry.key, "zh"),
            maturity=rng.choice(_MATURITIES), forms=[form], start_price=start_price, agreement=True,
            abstract=f"本成果涉及{title.removeprefix('一种')}，具有实施成本低、适用范围广的特点，"
                     "已完成中试验证，适合企业转化实施。",
        )  # fmt: skip
    filed = date(rng.randrange(2019, 2023), 1, 1) + timedelta(days=rng.randrange(300))
    digits = f"{filed.year}1{rng.randrange(10**7):07d}"
    return ListingDraft(
        kind=ItemKind.PATENT, title=title, number=f"ZL{digits}.{check_digit(digits)}", holder=holder,
        inventors=rng.sample(_INVENTORS, 2), application_date=filed,
        grant_date=filed + timedelta(days=rng.randrange(540, 900)), ipc=DEMO_IPC[industry],
        legal_status=LegalStatus.VALID, forms=[form], start_price=start_price, agreement=True,
        abstract=f"本发明涉及{title.removeprefix('一种')}，具有实施成本低、适用范围广的特点，"
                 "已完成实验室验证，适合企业转化实施。",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Item:
    """One demo item: the seller organisation that lists it, its title and its terms as a lot."""

    org: int
    title: str
    start_price: int
    increment: int
    reserve: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A session the demo staff create, fill and publish when its publicity starts."""

    name: str
    mode: Mode
    publicity_start: int
    bidding_start: int
    bidding_end: int
    items: tuple[Item, ...]

    @property
    def industry(self) -> Industry:
        return industry_of(self.name)


def demo_plans(
    now: int, *, lots: int, live: bool, duration: int, seller_orgs: Sequence[int], seed: int = 2026
) -> list[Plan]:
    """``lots`` timed items, sold in turn by ``seller_orgs`` (org ids), in one session per
    industry (named by its label, ``TITLES``; more than ``SESSION_LOTS_MAX`` items of an industry
    go on in a second session, 新能源（2）…): bidding from a minute ago when ``live``, else from a
    day on; publicity from a week before."""
    if not seller_orgs:
        raise ValueError("demo lots need at least one seller organisation")
    rng = random.Random(seed)
    bidding_start = now - MINUTE if live else now + DAY
    end = bidding_start + MINUTE + duration * 1000 if live else bidding_start + duration * 1000
    by_industry: dict[str, list[Item]] = {}
    for i in range(lots):
        session, title = TITLES[i % len(TITLES)]
        increment = rng.choice((1_000, 2_000, 5_000, 10_000))
        start = increment * rng.randrange(20, 400)
        reserve = start + increment * rng.randrange(0, 10) if rng.random() < 0.3 else None
        suffix = f"（{i // len(TITLES) + 1}）" if lots > len(TITLES) else ""
        by_industry.setdefault(session, []).append(Item(seller_orgs[i % len(seller_orgs)], title + suffix, start,
                                                        increment, reserve))  # fmt: skip
    return [Plan(name=session if n == 0 else f"{session}（{n + 1}）", mode=Mode.TIMED,
                 publicity_start=bidding_start - 7 * DAY, bidding_start=bidding_start, bidding_end=end,
                 items=tuple(items[k:k + SESSION_LOTS_MAX]))
            for session, items in by_industry.items()
            for n, k in enumerate(range(0, len(items), SESSION_LOTS_MAX))]  # fmt: skip


def _days_ahead_at(now: int, days: int, hour: int) -> int:
    """Epoch ms of ``hour``:00 Beijing time, ``days`` calendar days after ``now``'s Beijing day."""
    day = datetime.fromtimestamp(now / 1000, SHANGHAI).date() + timedelta(days=days)
    return int(datetime.combine(day, time(hour), tzinfo=SHANGHAI).timestamp()) * 1000


def showcase_plans(now: int, seller_orgs: Sequence[int], seed: int = 2027) -> list[tuple[str, Plan]]:
    """The showcase's sessions as of ``now``: (kind, plan), their lots in ``SHOWCASE`` order; the
    ``live`` lots share one auctioneer-run session, every other lot has a session of its own.

    Publicity lots bid at 10:00 two days ahead, so their registration (open until 16:00 Beijing
    the day before bidding, AU-3) is open whenever the demo is seeded. The ``live`` lots plan to
    start ten minutes from now. The auctioneer may open any auctioneer-run lot at once, whatever
    its planned start (the engine checks only its state). Closed lots ran from 50 to 20 minutes
    ago. Every session's publicity started a week before its bidding.
    """
    if not seller_orgs:
        raise ValueError("demo lots need at least one seller organisation")
    rng = random.Random(seed)
    plans: list[tuple[str, Plan]] = []
    for i, (kind, session, title) in enumerate(SHOWCASE):
        increment = rng.choice((1_000, 2_000, 5_000))
        start = increment * rng.randrange(20, 200)
        with_reserve = kind == "unsold" or (kind == "live" and i % 2 == 1)
        item = Item(seller_orgs[i % len(seller_orgs)], title, start, increment,
                    start + 10 * increment if with_reserve else None)  # fmt: skip
        if plans and kind == "live" and plans[-1][0] == "live":
            plans[-1] = (kind, replace(plans[-1][1], items=(*plans[-1][1].items, item)))
            continue
        if kind == "live":
            bidding_start, end = now + 10 * MINUTE, now + 3 * HOUR
        elif kind == "publicity":
            bidding_start = _days_ahead_at(now, 2, 10)
            end = bidding_start + 2 * HOUR
        else:
            bidding_start, end = now - 50 * MINUTE, now - 20 * MINUTE
        plans.append((kind, Plan(name=session, mode=Mode.LIVE if session == LIVE_SESSION else Mode.TIMED,
                                 publicity_start=bidding_start - 7 * DAY, bidding_start=bidding_start,
                                 bidding_end=end, items=(item,))))  # fmt: skip
    return plans


@contextlib.contextmanager
def _clock_at(runtime: Runtime, start: int) -> Iterator[list[int]]:
    """Run ``runtime`` on a clock that stands at ``start`` and moves only when the block sets
    the list's one item: how the demo's sessions are published when their publicity began and
    the showcase's closed lots run through the real runtime in the past. Only for a runtime
    nothing else uses meanwhile (``hall seed-demo``'s own)."""
    now = [start]
    real: Clock = runtime.clock
    runtime.clock = lambda: now[0]
    try:
        yield now
    finally:
        runtime.clock = real


def _instant(ms: int) -> datetime:
    """An epoch-ms instant as the aware Beijing time a session's form gives, exactly."""
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(SHANGHAI)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Supply:
    """The demo's sellers and staff doing what they do on the pages, through the same services:
    a seller lists an item (``hall.listing_actions``), staff approve it in the review queue
    (``Reviews.decide``), then create a session, add the items as lots and publish it
    (``hall.auctions``)."""

    def __init__(self, reviews: Reviews, auctions: Auctions, *, staff: int, auctioneer: int,
                 sellers: dict[int, int], holders: dict[int, str]) -> None:  # fmt: skip
        self.reviews = reviews
        self.auctions = auctions
        self.staff = staff
        self.auctioneer = auctioneer
        self.sellers = sellers
        """Organisation → its seller's account."""
        self.holders = holders
        """Organisation → its name (the right holder of its own items)."""
        self.rng = random.Random(len(auctions.runtime.lots))
        self._as_seller: dict[int, actions.Seller] = {}

    async def seller(self, org: int) -> actions.Seller:
        if org not in self._as_seller:
            self._as_seller[org] = await actions.seller_of(self.reviews.store, self.sellers[org])
        return self._as_seller[org]

    async def submit(self, org: int, draft: ListingDraft) -> int:
        """The organisation's seller lists ``draft``: pending, its application in the queue."""
        now = self.reviews.runtime.clock()
        return await actions.create(self.reviews, await self.seller(org), draft, authorisation=None, now=now)

    async def decide(self, listing: int, *, reason: str = "") -> None:
        """Staff approve the listing's application, or reject it with ``reason``."""
        (application,) = (await self.reviews.latest(actions.LISTING, [listing])).values()
        await self.reviews.decide(application.id, reviewer=self.staff, approve=not reason, reason=reason,
                                  now=self.reviews.runtime.clock())  # fmt: skip

    async def publish(self, plan: Plan) -> list[int]:
        """The plan's items listed and approved an hour before its publicity starts, then its
        session created, filled and published when it starts (the runtime's clock is set back
        meanwhile: publishing closes at the registration deadline, which a session bidding now
        is past); the lots' ids, in the plan's order."""
        runtime = self.auctions.runtime
        with _clock_at(runtime, plan.publicity_start - HOUR) as now:
            listings = []
            for item in plan.items:
                draft = demo_draft(self.rng, item.title, self.holders[item.org], plan.industry, item.start_price)
                listings.append(await self.submit(item.org, draft))
                await self.decide(listings[-1])
            now[0] = plan.publicity_start
            session, _ = await self.auctions.create(SessionDraft(
                name=plan.name, industry=plan.industry, date=_instant(plan.bidding_start).date(), mode=plan.mode,
                publicity_start=_instant(plan.publicity_start), bidding_start=_instant(plan.bidding_start),
                bidding_end=_instant(plan.bidding_end), auctioneer=self.auctioneer if plan.mode is Mode.LIVE else None,
            ), self.staff)  # fmt: skip
            for listing, item in zip(listings, plan.items, strict=True):
                await self.auctions.add_lot(session, LotTerms(listing=listing, increment=item.increment,
                                                              reserve=item.reserve))  # fmt: skip
            return await self.auctions.publish(session)


async def _run_closed(runtime: Runtime, lot_id: int, bidders: Sequence[tuple[int, int | None]]) -> None:
    """Run a published showcase lot that bid from 50 to 20 minutes ago as it would have run:
    its clock opens it, the bidders bid (on a lot without reserve the first outbids the second
    and wins; the one with a reserve stays under it), and its clock closes it at its end. A
    last, late bid is refused, and its answer waits until the close is durable."""
    spec = runtime.lots[lot_id].spec
    with _clock_at(runtime, spec.bidding_start) as now:
        runtime.wake(lot_id)  # its clock opens it
        await runtime.register_many([(lot_id, user, org) for user, org in bidders])
        order = [0, 1, 0] if spec.reserve is None else [1, 0]
        for n, who in enumerate(order if len(bidders) > 1 else order[: len(bidders)]):
            user, org = bidders[who % len(bidders)]
            now[0] = spec.bidding_start + (3 + 5 * n) * MINUTE
            result = await runtime.bid(lot_id, user, org, spec.start_price + n * spec.increment, f"demo-{n}")
            if not isinstance(result, Accepted):
                raise RuntimeError(f"demo bid on lot {lot_id} refused: {result.message}")
        now[0] = spec.end
        runtime.wake(lot_id)  # its clock closes it
        if bidders:
            user, org = bidders[0]
            late = await runtime.bid(lot_id, user, org, spec.start_price + 10 * spec.increment, "demo-late")
            if not isinstance(late, Rejection):
                raise RuntimeError(f"demo lot {lot_id} took a bid after its end")


REJECTION_REASON = "摘要过于简略：请补充技术方案、实施例和应用场景后重新提交"
"""Why the demo staff sent one demo listing back (the seller centre shows it)."""


async def _seller_centre(supply: Supply, org: int) -> None:
    """Items of the organisation's seller in the states a session does not bring, for the seller
    centre: one pending (in the staff's queue), one rejected with its reason, one listed and in
    no session; the seller's own patents from the demo catalogue, as patent lookup fills them."""
    own = [p for p in demo_patents() if p.holder == supply.holders[org] and p.legal_status is LegalStatus.VALID]
    _, rejected, listed = [await supply.submit(org, ListingDraft(
        kind=ItemKind.PATENT, title=p.title, number=p.number, holder=p.holder, inventors=p.inventors.split("；"),
        application_date=p.application_date, grant_date=p.grant_date, ipc=p.ipc, legal_status=p.legal_status,
        abstract=p.abstract, forms=[TransactionForm.TRANSFER, TransactionForm.LICENCE], start_price=200_000,
        agreement=True)) for p in own[:3]]  # fmt: skip  # the first stays pending, for staff to decide
    await supply.decide(rejected, reason=REJECTION_REASON)
    await supply.decide(listed)


DEMO_CERTIFICATE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
"""The certificate a demo seller hands in with its identity application: a real (empty) PDF,
stored like any upload, so the review pages open a file that exists."""


async def _approve_latest(reviews: Reviews, kind: str, subject: int, staff: int) -> None:
    """Staff approve the subject's application if one is pending (a run cut short may leave one)."""
    latest = (await reviews.latest(kind, [subject])).get(subject)
    if latest is not None and latest.state == PENDING:
        await reviews.decide(latest.id, reviewer=staff, approve=True, reason="", now=reviews.runtime.clock())


async def _approved_identity(reviews: Reviews, *, user: int, kind: str, staff: int, certificate: str) -> None:
    """The account's identity of ``kind`` (AC-3) as anyone gets one: applied for with a
    certificate, approved by staff in the review queue. A second run finds it and leaves it."""
    held = {i.kind: i for i in await identities.identities_of(reviews.store, user)}
    identity = held.get(kind)
    if identity is None or identity.state == "rejected":
        written = await reviews.files.write(check(DEMO_CERTIFICATE, certificate))
        identity_id = await identities.apply(reviews, user=user, kind=kind, documents=[written],
                                             now=reviews.runtime.clock())  # fmt: skip
    else:
        identity_id = identity.id
    await _approve_latest(reviews, identities.KIND, identity_id, staff)


async def _open_shop(reviews: Reviews, *, seller: int, staff: int, org_name: str, kind: str, phone: str) -> None:
    """The seller's identity and open shop (AC-3, AC-4), through the same services and staff
    decisions as anyone's: apply with a certificate, staff approve; open the shop, staff approve
    (which makes the account a seller). A second run finds them open and leaves them."""
    if await shops.open_shop_of(reviews.store, seller) is not None:
        return
    now = reviews.runtime.clock()
    await _approved_identity(reviews, user=seller, kind=kind, staff=staff, certificate="事业单位法人证书.pdf")
    shop = await shops.shop_of(reviews.store, seller)
    if shop is None or shop.state in shops.RESUBMITTABLE:
        form = ShopForm(name=org_name, contact_name="技术转移中心", contact_phone=phone,
                        intro=f"{org_name}技术转移中心：专利与科技成果转让、许可和作价入股。",
                        terms_version=SHOP_TERMS_VERSION)  # fmt: skip
        shop_id = await shops.apply(reviews, user=seller, form=form, now=now)
    else:
        shop_id = shop.id
    await _approve_latest(reviews, shops.KIND, shop_id, staff)


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


async def _account(
    people: People, phone: str, password_hash: str, name: str, org: int | None, *, verified: bool,
    roles: Sequence[Role] = (),
) -> int:  # fmt: skip
    """The account with this phone, created or (on a second run) reused and brought back to
    what the demo says: its password becomes the one printed now."""
    found = await people.credentials(phone)
    if found is None:
        user = await people.create_user(phone, password_hash, name, org)
    else:
        user = found[0]
        await people.set_password_hash(user, password_hash)
    if verified:
        await people.verify(user, name, org)
    for role in roles:
        await people.grant(user, role, by=None)
    return user


async def seed(runtime: Runtime, people: People, files: FileStore, *, lots: int, live: bool, duration: int,
               bidders: int = 20) -> Seeded:  # fmt: skip
    """Create the exchange's people and ``lots`` timed lots, admit every bidder to every lot,
    then add the showcase (auctioneer-run, publicity and closed lots; see the module's docstring).
    Each seller's identity and shop are applied for and approved by the demo's staff member
    through the review mechanism, which is what makes it a seller.

    Accounts are found by phone, so a second run on the same database reuses them (resetting
    their passwords to the ones it prints) and adds a fresh set of lots. Meant for demo
    databases only: it grants staff and admin rights to the demo numbers.
    """
    if not 0 <= bidders <= MAX_BIDDERS:
        raise ValueError(f"0 ≤ bidders ≤ {MAX_BIDDERS}")
    staff_accounts: dict[str, list[Account]] = {"admins": [], "staff": [], "auctioneers": []}
    made: dict[str, int] = {}
    for key, pattern, role, name in (
        ("admins", ADMIN_PHONES, Role.ADMIN, "系统管理员"),
        ("staff", STAFF_PHONES, Role.STAFF, "交易所审核员"),
        ("auctioneers", AUCTIONEER_PHONES, Role.AUCTIONEER, "拍卖师"),
    ):
        phone, password = pattern.format(1), _password()
        made[key] = await _account(people, phone, hash_password(password), name, None, verified=False, roles=(role,))
        staff_accounts[key].append(Account(phone=phone, password=password, name=name))

    reviews = Reviews(people.db, files, people, runtime)
    sellers: list[Account] = []
    seller_ids: list[int] = []
    for i, (org_name, kind) in enumerate(SELLER_ORGS, start=1):
        org = await people.org(org_name, kind)
        phone, password = SELLER_PHONES.format(i), _password()
        seller = await _account(people, phone, hash_password(password), org_name, org, verified=True)
        await _open_shop(reviews, seller=seller, staff=made["staff"], org_name=org_name, kind=kind, phone=phone)
        sellers.append(Account(phone=phone, password=password, name=org_name, org=org))
        seller_ids.append(seller)

    agencies: list[Account] = []
    for i, org_name in enumerate(AGENCY_ORGS, start=1):
        org = await people.org(org_name, "transfer")
        phone, password = AGENCY_PHONES.format(i), _password()
        agency = await _account(people, phone, hash_password(password), org_name, org, verified=True)
        await _approved_identity(reviews, user=agency, kind="transfer", staff=made["staff"],
                                 certificate="事业单位法人证书.pdf")  # fmt: skip
        agencies.append(Account(phone=phone, password=password, name=org_name, org=org))

    seller_orgs = [account.org for account in sellers if account.org is not None]
    auctions = Auctions(AuctionStore(people.db), runtime, people)
    await auctions.start()  # its listener settles the listings of the closed showcase lots
    supply = Supply(reviews, auctions, staff=made["staff"], auctioneer=made["auctioneers"],
                    sellers={account.org: seller for account, seller in zip(sellers, seller_ids, strict=True)
                             if account.org is not None},
                    holders={account.org: account.name for account in sellers if account.org is not None})  # fmt: skip
    try:
        ids = [lot for plan in demo_plans(runtime.clock(), lots=lots, live=live, duration=duration,
                                          seller_orgs=seller_orgs) for lot in await supply.publish(plan)]  # fmt: skip
        for lot_id in ids:
            runtime.wake(lot_id)  # on the real clock again: a live lot opens

        # One password and ONE argon2 hash for all the bidders: hashing each costs ~50 ms, a minute
        # for a thousand. The hash embeds its salt, so the accounts share a salt too, which gives
        # away that their passwords are equal: acceptable for demo accounts, never for real ones.
        bidder_password = _password()
        bidder_hash = hash_password(bidder_password)
        bidder_accounts: list[Account] = []
        admitted: list[tuple[int, int | None]] = []
        for n in range(bidders):
            org_name = bidder_org_name(n)
            org = await people.org(org_name, "enterprise")
            phone = BIDDER_PHONES.format(n + 1)
            user = await _account(people, phone, bidder_hash, org_name, org, verified=True)
            admitted.append((user, org))
            bidder_accounts.append(Account(phone=phone, password=bidder_password, name=org_name))
            if n < ENTERPRISES_MAX:
                await _approved_identity(reviews, user=user, kind="enterprise", staff=made["staff"],
                                         certificate="营业执照.pdf")  # fmt: skip
        # All admissions in one transaction: one commit each (an fsync) made 100 lots × 1,000
        # bidders take minutes. Each lot numbers its bidders in the order of this list.
        await runtime.register_many([(lot_id, user, org) for lot_id in ids for user, org in admitted])

        shown: dict[str, list[int]] = {"live": [], "publicity": [], "sold": [], "unsold": []}
        for kind, plan in showcase_plans(runtime.clock(), seller_orgs):
            published = await supply.publish(plan)
            if kind in ("sold", "unsold"):
                (lot_id,) = published
                await _run_closed(runtime, lot_id, admitted)
                kind = "sold" if runtime.lots[lot_id].outcome is Outcome.SOLD else "unsold"  # no bidders: nothing sells
            elif kind == "live":
                await runtime.register_many([(lot_id, user, org) for lot_id in published for user, org in admitted])
            shown[kind].extend(published)
        await _seller_centre(supply, seller_orgs[0])
    finally:
        await auctions.stop()

    await seed_patents(PatentCatalogue(people.db), runtime.clock())  # what patent lookup finds (LS-3)
    return Seeded(lots=ids, bidders=bidder_accounts, sellers=sellers, admins=staff_accounts["admins"],
                  staff=staff_accounts["staff"], auctioneers=staff_accounts["auctioneers"],
                  live_mode_lots=shown["live"], publicity_lots=shown["publicity"], sold_lots=shown["sold"],
                  unsold_lots=shown["unsold"], enterprises=bidder_accounts[:ENTERPRISES_MAX],
                  agencies=agencies)  # fmt: skip


# ---------------------------------------------------------------------- research crowdsourcing (issue 13)


@dataclass(frozen=True, slots=True)
class DemandSpec:
    """What a demo enterprise posts: the fields of piece A's demand draft
    (``hall.demand_posting.DemandDraft``) that the demo fills."""

    title: str
    industry: Industry
    description: str
    requirements: str
    investment: int
    cooperation: Cooperation
    response_deadline: date
    valid_until: date
    hidden: tuple[str, ...] = ()


class CrowdHands(Protocol):
    """The actions of pieces A (posting, review) and B (responses, adoption, outcome) as the
    demo calls them, each at the instant ``now`` it is given (so that a demand's whole history
    can be played in the past). The lead binds them to the real functions once A and B are
    merged: ``post`` to ``hall.demand_posting.create`` with a ``DemandDraft`` of the spec's
    fields, ``decide`` to ``Reviews.decide`` of the demand's pending ``demand`` application,
    ``withdraw`` to ``hall.demand_posting.withdraw``, ``respond`` to ``hall.responses.respond``
    (no attachments), ``adopt`` to ``hall.responses.adopt`` and ``outcome`` to
    ``hall.responses.set_outcome`` (``fee`` None: unresolved)."""

    async def post(self, me: Identity, spec: DemandSpec, *, now: int) -> int: ...

    async def decide(self, demand: int, *, approve: bool, reason: str, now: int) -> None: ...

    async def withdraw(self, me: Identity, demand: int, *, now: int) -> None: ...

    async def respond(self, me: Identity, demand: int, summary: str, *, now: int) -> int: ...

    async def adopt(self, me: Identity, response: int, *, now: int) -> None: ...

    async def outcome(self, me: Identity, demand: int, *, fee: int | None, now: int) -> None: ...


DEMANDS: tuple[tuple[str, Industry, str, str], ...] = (
    ("pending", Industry.MATERIALS, "高导热绝缘封装材料的国产化替代", "导热系数不低于 5 W/(m·K)，击穿强度不低于 20 kV/mm"),
    ("rejected", Industry.ENVIRONMENT, "印染废水深度处理与回用技术", "出水 COD 低于 50 mg/L，回用率不低于 60%"),
    ("withdrawn", Industry.NEW_IT, "工业视觉缺陷检测算法", "漏检率低于 0.1%，单件检测时间低于 200 毫秒"),
    ("published", Industry.ENERGY, "锂电池快充条件下的热管理方案", "4C 快充时电芯温差不超过 5 ℃，循环寿命不低于 3000 次"),
    ("adopted", Industry.MANUFACTURING, "数控机床主轴热误差在线补偿", "补偿后主轴热漂移不超过 5 μm"),
    ("resolved", Industry.BIOMEDICINE, "中药复方制剂的缓释工艺开发", "12 小时体外释放度符合药典要求，中试批量不低于 10 kg"),
    ("unresolved", Industry.ENERGY, "风光储微电网的能量调度优化", "弃风弃光率降低 10 个百分点以上"),
)
"""The demo's demands, one in each state a demand's side meets: (state, industry, title,
requirements). ``adopted`` is published with a response adopted (closed to new responses)."""
DEMAND_REJECTION = "需求描述过于笼统：请补充现有工艺、技术指标和应用场景后重新提交"
"""Why the demo staff sent one demo demand back."""
DEMO_FEE = 300_000
"""The service fee of the resolved demo demand: qualifying for project support (CR-12)."""
ROADSHOW_PLACE = "南京市鼓楼区科技会堂三楼路演厅"


def _day(ms_: int) -> date:
    return datetime.fromtimestamp(ms_ / 1000, SHANGHAI).date()


async def seed_demands(hands: CrowdHands, store: SqliteStore, *, enterprise: Identity, solvers: Sequence[Identity],
                       staff: int, now: int) -> dict[str, list[int]]:  # fmt: skip
    """A demand of ``enterprise`` in every state (``DEMANDS``), played through pieces A's and B's
    actions (``hands``) and this piece's roadshows, each step at the instant it would have
    happened: the published one with two responses, a roadshow three days ahead and the staff's
    first pick; the adopted one with two responses and the first adopted; the resolved one with
    a roadshow that was scored and awarded, its winner adopted and the fee entered; the
    unresolved one posted forty days ago, past its deadline with nothing adopted. Solvers are
    accounts with an approved identity (two at least). The demands' ids by state."""
    if len(solvers) < 2:
        raise ValueError("the demo's demands need two solvers")
    made: dict[str, list[int]] = {}
    for state, industry, title, requirements in DEMANDS:
        start = {"published": now - 2 * DAY, "adopted": now - 3 * DAY, "resolved": now - 10 * DAY,
                 "unresolved": now - 40 * DAY}.get(state, now)  # fmt: skip
        deadline = _day(start) + timedelta(days=20)
        spec = DemandSpec(title=title, industry=industry, requirements=requirements, investment=500_000,
                          cooperation=Cooperation.JOINT_DEVELOPMENT, response_deadline=deadline,
                          valid_until=deadline + timedelta(days=60), hidden=("enterprise", "contact"),
                          description=f"我公司在{title.removesuffix('方案')}方面存在技术瓶颈，现公开征集解决方案，"
                                      "欢迎高校、科研院所和企业应答。")  # fmt: skip
        demand = await hands.post(enterprise, spec, now=start)
        made[state] = [demand]
        if state in ("pending", "withdrawn", "rejected"):
            if state == "withdrawn":
                await hands.withdraw(enterprise, demand, now=start)
            elif state == "rejected":
                await hands.decide(demand, approve=False, reason=DEMAND_REJECTION, now=start)
            continue
        await hands.decide(demand, approve=True, reason="", now=start)
        answered = [await hands.respond(solver, demand, f"{title.removesuffix('方案')}的解决方案", now=start + HOUR)
                    for solver in (solvers[:1] if state == "unresolved" else solvers[:2])]  # fmt: skip
        if state == "published":
            draft = roadshows.RoadshowDraft(demand=demand, title=f"{industry_label(industry)}需求路演",
                                            starts_at=_instant(_days_ahead_at(now, 3, 14)), place=ROADSHOW_PLACE,
                                            responses=answered)  # fmt: skip
            await roadshows.schedule(store, draft, staff=staff, now=now)
            await roadshows.pick(store, demand, 1, now=now)
        elif state == "adopted":
            await hands.adopt(enterprise, answered[0], now=now - DAY)
        elif state == "resolved":
            shows_at = _days_ahead_at(start, 2, 14)
            draft = roadshows.RoadshowDraft(demand=demand, title=f"{industry_label(industry)}需求路演",
                                            starts_at=_instant(shows_at), place=ROADSHOW_PLACE, responses=answered)  # fmt: skip
            roadshow = await roadshows.schedule(store, draft, staff=staff, now=start + DAY)
            for expert, marks in (("王教授", (92, 78)), ("李研究员", (88, 81))):
                for response, mark in zip(answered, marks, strict=True):
                    body = roadshows.ScoreBody(response=response, expert=expert, score=mark, comment="技术路线可行")
                    await roadshows.record_score(store, roadshow, body, staff=staff, now=shows_at + HOUR)
            await roadshows.award(store, roadshow, answered[:1], now=shows_at + 2 * HOUR)
            await hands.adopt(enterprise, answered[0], now=start + 3 * DAY)
            await hands.outcome(enterprise, demand, fee=DEMO_FEE, now=start + 4 * DAY)
        elif state == "unresolved":
            await hands.outcome(enterprise, demand, fee=None, now=now)
    return made


def industry_label(industry: Industry) -> str:
    """The industry's Chinese label (a demo text is Chinese)."""
    return translate(industry.key, "zh")
