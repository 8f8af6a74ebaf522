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

Research crowdsourcing (issue 13): the first bidders are enterprises with approved identities,
and the first of them has demands in every situation (``DEMANDS``, ``seed_demands``), played
through the same functions as the pages from the day each was posted, matched to the sellers'
listings and patents (which respond, are pushed the demands and find them in 推荐给我); one is
entrusted to the demo's transfer organisation, which posts and resolves it.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from hall import demand_posting, identities, responses, roadshows, shops
from hall import listing_actions as actions
from hall.auctions import SESSION_LOTS_MAX, Auctions, Industry, LotTerms, SessionDraft, industry_named
from hall.auth.passwords import hash_password
from hall.auth.roles import Identity, Role
from hall.demand_posting import DemandDraft
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
    demands: dict[str, list[int]] = {}
    """The first enterprise's demands by the situation they show (``DEMANDS``): ``pending``,
    ``rejected``, ``withdrawn``, ``published``, ``adopted``, ``resolved`` (entrusted to the first
    agency), ``unresolved``, ``restarted``. Empty when there is no enterprise (``--bidders 0``)."""


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


async def _identity(people: People, account: Account) -> Identity:
    found = await people.find(account.phone)
    assert found is not None, "made above"
    return found


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

    Then the first enterprise's demands (``seed_demands``), when there is a bidder.

    Accounts are found by phone, so a second run on the same database reuses them (resetting
    their passwords to the ones it prints) and adds a fresh set of lots and demands. Meant for demo
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
    demands: dict[str, list[int]] = {}
    if bidder_accounts and agencies:
        side, agent, *solvers = [await _identity(people, a) for a in (bidder_accounts[0], agencies[0], *sellers)]
        demands = await seed_demands(reviews, enterprise=side, agency=agent, staff=made["staff"],
                                     solvers={a.name: s for a, s in zip(sellers, solvers, strict=True)},
                                     now=runtime.clock())  # fmt: skip
    return Seeded(lots=ids, bidders=bidder_accounts, sellers=sellers, admins=staff_accounts["admins"],
                  staff=staff_accounts["staff"], auctioneers=staff_accounts["auctioneers"],
                  live_mode_lots=shown["live"], publicity_lots=shown["publicity"], sold_lots=shown["sold"],
                  unsold_lots=shown["unsold"], enterprises=bidder_accounts[:ENTERPRISES_MAX],
                  agencies=agencies, demands=demands)  # fmt: skip


# ---------------------------------------------------------------------- research crowdsourcing (issue 13)


@dataclass(frozen=True, slots=True)
class DemoDemand:
    """A demand the demo's enterprise posts and the situation it is left in (``key``, a key of
    the seed's ``demands``); ``solvers`` name the demo sellers (``SELLER_ORGS``) that respond,
    the first the one adopted or awarded; ``started`` how many days ago it was posted."""

    key: str
    industry: Industry
    title: str
    description: str
    requirements: str
    investment: int
    cooperation: Cooperation
    started: int
    hidden: tuple[str, ...] = ()
    solvers: tuple[str, ...] = ()


DEMANDS: tuple[DemoDemand, ...] = (
    DemoDemand(
        "pending", Industry.MATERIALS, "电机控制器功率模块用高导热绝缘灌封材料",
        "我公司为新能源汽车配套生产电机控制器，功率模块灌封用的高导热绝缘材料目前依赖进口，价格高、供货周期长。"
        "现征集氮化硼等高导热填料改性环氧树脂复合材料的配方与制备工艺，要求能在现有灌封产线上批量使用。",
        "导热系数不低于 5 W/(m·K)；击穿强度不低于 20 kV/mm；适用期不少于 2 小时", 800_000,
        Cooperation.COMMISSIONED_DEVELOPMENT, 0, hidden=("investment",)),
    DemoDemand(
        "rejected", Industry.ENVIRONMENT, "印染废水处理技术", "我公司的印染废水处理后难以回用，希望找到合适的技术。",
        "", 300_000, Cooperation.TRANSFER, 3),
    DemoDemand(
        "withdrawn", Industry.NEW_IT, "注塑件表面缺陷的机器视觉检测算法",
        "我公司注塑车间目前依靠人工目检划痕、缩痕和缺料等表面缺陷，漏检多、效率低，拟引入基于深度学习的机器视觉检测。",
        "漏检率低于 0.1%；单件检测时间低于 200 毫秒", 500_000, Cooperation.JOINT_DEVELOPMENT, 1),
    DemoDemand(
        "published", Industry.ENVIRONMENT, "工业园区污水处理厂低碳脱氮除磷提标改造",
        "我公司运营的工业园区污水处理厂需执行更严格的地方排放标准，现有 A²/O 工艺碳源投加量大、运行成本高。"
        "现征集城市污水低碳脱氮除磷工艺及其工程化方案，在不新增用地的前提下完成提标改造。",
        "出水总氮低于 10 mg/L、总磷低于 0.3 mg/L；吨水药剂成本降低 20% 以上", 2_000_000,
        Cooperation.JOINT_DEVELOPMENT, 2, hidden=("enterprise", "contact"),
        solvers=("中国科学院南京土壤研究所", "江苏省农业科学院")),
    DemoDemand(
        "published", Industry.NEW_IT, "高分遥感影像的耕地与违建变化自动识别",
        "我公司承接自然资源监测业务，需要对季度高分辨率遥感影像做变化检测，自动发现耕地占用和违法建设图斑，"
        "替代目前的人工判读。欢迎掌握基于深度学习的遥感影像变化检测技术的高校和科研院所应答。",
        "图斑识别准确率不低于 90%；单景影像处理时间不超过 30 分钟", 1_200_000, Cooperation.LICENCE, 1),
    DemoDemand(
        "adopted", Industry.MANUFACTURING, "数控机床主轴热误差在线补偿",
        "我公司生产的立式加工中心连续加工 2 小时后主轴热伸长导致零件尺寸超差，现征集主轴热误差建模与在线补偿方法，"
        "可集成到现有数控系统。",
        "补偿后主轴轴向热漂移不超过 5 μm；不增加停机预热时间", 600_000, Cooperation.TRANSFER, 6,
        hidden=("contact",), solvers=("东南大学", "南京航空航天大学")),
    DemoDemand(
        "resolved", Industry.BIOMEDICINE, "中药复方提取物的缓释制剂工艺开发",
        "我公司拟将一款中药复方颗粒剂改为每日一次的缓释制剂，需要中药复方提取物缓释制剂的处方筛选和中试放大工艺，"
        "由技术转移机构代为对接。",
        "12 小时体外释放度符合药典要求；中试批量不低于 10 kg", 1_500_000, Cooperation.TRANSFER, 30,
        hidden=("enterprise", "investment"), solvers=("江苏省农业科学院", "南京大学")),
    DemoDemand(
        "unresolved", Industry.ENERGY, "风光储微电网的能量调度优化",
        "我公司园区建有光伏、风机和储能组成的微电网，弃风弃光较多，储能充放电策略依赖人工设定，"
        "现征集风光储微电网能量管理优化方法及调度软件。",
        "弃风弃光率降低 10 个百分点以上；调度周期不超过 15 分钟", 500_000, Cooperation.JOINT_DEVELOPMENT, 40,
        solvers=("东南大学",)),
    DemoDemand(
        "restarted", Industry.ENERGY, "储能电站锂离子电池健康状态在线估计",
        "我公司运营的储能电站缺少电池健康状态的在线评估手段，只能定期离线容量测试。现征集锂离子电池健康状态在线估计"
        "与寿命预测方法，第一轮征集未能解决，调整指标后重新发布。",
        "健康状态估计误差不超过 3%；无需中断储能电站运行", 900_000, Cooperation.JOINT_DEVELOPMENT, 60,
        solvers=("南京航空航天大学",)),
)  # fmt: skip
"""The demo's demands: one in every situation a demand side meets, each answered by the demo
sellers whose listings and patents it matches (so that their 推荐给我 lists it and its
可能解决的专利 finds theirs). ``adopted`` is published with a response adopted (closed to new
responses); ``resolved`` is entrusted to the demo's transfer organisation, which posts and works
it; ``restarted`` went unresolved and is published again as its second round."""
DEMAND_REJECTION = "需求描述过于笼统：请补充现有工艺、技术指标和应用场景后重新提交"
"""Why the demo staff sent one demo demand back."""
DEMO_FEE = 300_000
"""The service fee of the resolved demo demand: qualifying for project support (CR-12)."""
ROADSHOW_PLACE = "南京市鼓楼区科技会堂三楼路演厅"
MANAGER = "陈经理"
"""The technology manager the transfer organisation names for the demand it posts."""


def _day(ms_: int) -> date:
    return datetime.fromtimestamp(ms_ / 1000, SHANGHAI).date()


def _draft(spec: DemoDemand, posted: int, *, deadline_days: int = 20, entrustment: int | None = None) -> DemandDraft:
    deadline = _day(posted) + timedelta(days=deadline_days)
    return DemandDraft(title=spec.title, industry=spec.industry, description=spec.description,
                       requirements=spec.requirements, investment=spec.investment, cooperation=spec.cooperation,
                       contact_name="周工", contact_phone="025-83590000", response_deadline=deadline,
                       valid_until=deadline + timedelta(days=90), hidden=list(spec.hidden), entrustment=entrustment,
                       manager=MANAGER if entrustment is not None else "")  # fmt: skip


class Crowd:
    """The parties of the demo's demands doing what they do on the pages, through the same
    functions, each at the instant it is given (a demand's whole history is played in the
    past): the enterprise posts (``hall.demand_posting``), staff decide in the review queue,
    solvers respond and ask, the side adopts and enters the outcome (``hall.responses``), staff
    run roadshows and picks (``hall.roadshows``)."""

    def __init__(self, reviews: Reviews, *, staff: int) -> None:
        self.reviews = reviews
        self.store = reviews.store
        self.staff = staff

    async def decide(self, demand: int, *, reason: str = "", now: int) -> None:
        """Staff approve the demand's pending application (which numbers and publishes it, and
        pushes it to the best-matched solvers), or reject it with ``reason``."""
        (application,) = (await self.reviews.latest(demand_posting.KIND, [demand])).values()
        await self.reviews.decide(application.id, reviewer=self.staff, approve=not reason, reason=reason, now=now)

    async def entrustment(self, enterprise: Identity, agency: Identity, *, now: int) -> int:
        """The enterprise's accepted entrustment of the agency: asked for and accepted now, or
        (on a second run) the one it already has."""
        assert agency.org is not None
        found = await self.store.fetchone("SELECT id FROM entrustments WHERE enterprise = ? AND agency_org = ?"
                                          " AND state = 'accepted' ORDER BY id DESC LIMIT 1",
                                          (enterprise.id, agency.org))  # fmt: skip
        if found is not None:
            return int(found[0])
        asked = await demand_posting.entrust(self.store, enterprise, agency_org=agency.org, now=now,
                                             note="委托贵中心代为发布和对接我公司的技术需求。")  # fmt: skip
        await demand_posting.answer_entrustment(self.store, agency, asked, demand_posting.EntrustmentAction.ACCEPT,
                                                now=now + HOUR)  # fmt: skip
        return asked

    async def respond(self, solver: Identity, demand: int, spec: DemoDemand, *, now: int) -> int:
        subject = spec.title.removesuffix("开发").removesuffix("提标改造")
        answer = responses.Solution(
            summary=f"{solver.name}关于“{subject}”的解决方案",
            approach=f"我单位在{industry_label(spec.industry)}领域有多项授权专利和中试经验，拟针对“{spec.requirements or subject}”"
                     "分三个阶段实施：实验室验证、中试放大和现场应用，每阶段提交阶段报告。",
            team="项目负责人：教授 1 名；骨干：副教授 2 名、博士后 1 名、研究生 4 名",
            budget=spec.investment * 4 // 5)  # fmt: skip
        return await responses.respond(self.reviews, demand, solver, answer, [], now)


async def seed_demands(reviews: Reviews, *, enterprise: Identity, agency: Identity,
                       solvers: Mapping[str, Identity], staff: int, now: int) -> dict[str, list[int]]:  # fmt: skip
    """The demo enterprise's demands (``DEMANDS``), each played from the day it was posted: the
    published ones taking responses, the first with two, a question, a roadshow three days ahead
    and the staff's first pick; the adopted one with the first of its responses adopted; the
    resolved one posted by the transfer organisation the enterprise entrusted, roadshown, scored
    and awarded, its winner adopted, a service log, the fee entered and a reward application
    pending in the staff's queue; the unresolved one past its deadline with nothing adopted; the
    restarted one unresolved, edited and published again as round 2. ``solvers`` are the demo
    sellers by organisation name. The demands' ids by ``DemoDemand.key``."""
    crowd = Crowd(reviews, staff=staff)
    store = reviews.store
    made: dict[str, list[int]] = {key: [] for key in dict.fromkeys(spec.key for spec in DEMANDS)}
    for spec in sorted(DEMANDS, key=lambda spec: -spec.started):  # the oldest first: numbered as approved
        start = now - spec.started * DAY - 6 * HOUR
        if spec.key == "resolved":
            entrustment = await crowd.entrustment(enterprise, agency, now=start - DAY)
            poster = agency
            demand = await demand_posting.create(store, agency, _draft(spec, start, entrustment=entrustment), now=start)
        else:
            poster = enterprise
            demand = await demand_posting.create(store, enterprise, _draft(spec, start), now=start)
        made[spec.key].append(demand)
        if spec.key == "withdrawn":
            await demand_posting.withdraw(store, enterprise, demand, now=start + 2 * HOUR)
        elif spec.key == "rejected":
            await crowd.decide(demand, reason=DEMAND_REJECTION, now=start + DAY)
        if spec.key in ("pending", "withdrawn", "rejected"):
            continue
        await crowd.decide(demand, now=start + 3 * HOUR)
        answered = [await crowd.respond(solvers[name], demand, spec, now=start + DAY + n * HOUR)
                    for n, name in enumerate(spec.solvers)]  # fmt: skip
        if spec.key == "published" and answered:
            await responses.send_message(store, demand, solvers["南京大学"], "请问现有工艺的进水水质和处理规模是多少？"
                                         "是否允许对现有生化池分区改造？", None, start + DAY + 4 * HOUR)  # fmt: skip
            draft = roadshows.RoadshowDraft(demand=demand, title=f"{industry_label(spec.industry)}需求路演",
                                            starts_at=_instant(_days_ahead_at(now, 3, 14)), place=ROADSHOW_PLACE,
                                            responses=answered)  # fmt: skip
            await roadshows.schedule(store, draft, staff=staff, now=now - HOUR)
            await roadshows.pick(store, demand, 1, now=now - HOUR)
        elif spec.key == "adopted":
            await responses.adopt(store, answered[0], enterprise, now - DAY)
        elif spec.key == "resolved":
            await _resolve(crowd, demand, answered, agency=agency, enterprise=enterprise, start=start)
        elif spec.key in ("unresolved", "restarted"):
            ended = start + 25 * DAY  # past the deadline, 20 days after posting
            await responses.set_outcome(store, demand, poster, responses.OutcomeBody(resolved=False), ended)
            if spec.key == "restarted":
                again = replace(spec, requirements=spec.requirements.replace("3%", "2%"))
                await demand_posting.resubmit(store, enterprise, demand, _draft(again, now - 3 * DAY, deadline_days=30),
                                              now=now - 3 * DAY)  # fmt: skip
                await crowd.decide(demand, now=now - 2 * DAY)
    return made


async def _resolve(crowd: Crowd, demand: int, answered: Sequence[int], *, agency: Identity, enterprise: Identity,
                   start: int) -> None:  # fmt: skip
    """The entrusted demand's way to its end: a roadshow of its two responses scored by two
    experts and awarded to the first, which the enterprise adopts; the agency's service log;
    the fee it enters (qualifying, CR-12); its reward application (CR-9), pending."""
    store = crowd.store
    shows_at = _days_ahead_at(start, 5, 14)
    draft = roadshows.RoadshowDraft(demand=demand, title="中药缓释制剂需求路演", starts_at=_instant(shows_at),
                                    place=ROADSHOW_PLACE, responses=list(answered))  # fmt: skip
    roadshow = await roadshows.schedule(store, draft, staff=crowd.staff, now=start + 2 * DAY)
    for expert, marks in (("王教授", (92, 78)), ("李研究员", (88, 81))):
        for response, mark in zip(answered, marks, strict=True):
            body = roadshows.ScoreBody(response=response, expert=expert, score=mark,
                                       comment="处方设计合理，中试放大路线可行" if mark > 85 else "技术路线可行，中试数据不足")  # fmt: skip
            await roadshows.record_score(store, roadshow, body, staff=crowd.staff, now=shows_at + HOUR)
    await roadshows.award(store, roadshow, answered[:1], now=shows_at + 2 * HOUR)
    await responses.adopt(store, answered[0], enterprise, start + 6 * DAY)
    for days, entry in ((8, "组织双方召开技术对接会，确定缓释处方筛选方案和中试时间表。"),
                        (15, "完成三批中试放大，体外释放度符合要求；协助双方起草技术转让合同。")):  # fmt: skip
        await responses.add_log(store, demand, agency, _day(start + days * DAY), entry, start + days * DAY)
    await responses.set_outcome(store, demand, agency, responses.OutcomeBody(resolved=True, fee=DEMO_FEE),
                                start + 18 * DAY)  # fmt: skip
    proof = await crowd.reviews.files.write(check(DEMO_CERTIFICATE, "技术转让合同.pdf"))
    await responses.apply_reward(crowd.reviews, demand, agency, profile="江苏省技术转移中心是省级技术转移示范机构，"
                                 "长期为企业提供技术需求挖掘、成果对接和技术经纪服务。",
                                 declaration="本中心受企业委托发布并对接该需求，促成技术转让合同一份，服务费 30 万元。",
                                 proofs=[proof], now=start + 19 * DAY)  # fmt: skip


def industry_label(industry: Industry) -> str:
    """The industry's Chinese label (a demo text is Chinese)."""
    return translate(industry.key, "zh")
