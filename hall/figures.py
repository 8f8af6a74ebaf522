"""The exchange's figures (AU-11, CR-12): deals and their value, sell-through and premium per
industry special session, per session, per month and per year.

What counts, precisely (docs/figures.md says the same for people):

- A **deal** is an online deal (table ``deals``: a lot hammered sold) that is not ``defaulted``
  (staff declared the buyer's default: no sale took place, the item is listed again), or an
  offline deal staff recorded (hall/offline_deals.py). Its **date** is the hammer's (the
  ``closed`` event's time) for an online deal, the recorded day for an offline one; months and
  years are Beijing's.
- **Value** is the sum of the deals' prices, in whole yuan; online and offline are also given
  apart.
- **Sell-through** is sold lots ÷ lots offered, of the hall's auctions only: the lots offered in
  a period are the published lots that ended in it, closed (sold or not) or withdrawn (a lot
  still in publicity or bidding is not counted yet); the sold ones are those that closed sold
  and whose deal is not defaulted. A lot's period is that of its end (its last event's time), so
  a lot and its deal always fall in the same month. Offline deals are not lots and do not enter
  it. None when nothing was offered.
- **Premium** is the mean of each deal's price ÷ its starting price − 1: the lot's start price
  for an online deal, the listing's (as recorded) for an offline one. Also given apart. None
  when there is no deal.
- **Qualifying** (CR-12): deals of 200,000 yuan or more (``QUALIFYING``).
- Grouping: by the industry special session (``hall.auctions.Industry``; a lot from before
  sessions by the industry its session name is the label of, else ``other``); by session (a
  published session's id; a lot made without one, such as ``hall seed-demo``'s, by the name it
  was made with, ``named:<name>``; an offline deal no session offered, ``none``); by month
  (``2026-01``); by year (``2026``). Optionally only one Beijing year.

Pure rules first (``Sale``, ``Offer``, ``tabulate``), then ``Figures``, which gathers them from
the store, the runtime (every lot's state and start price are in memory) and the sessions.

Never here: HTTP, templates, a clock of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal

import msgspec

from hall.auctions import Auctions, Industry
from hall.deals import DealState
from hall.engine import Outcome, State
from hall.runtime import Runtime
from hall.store.figures import FigureStore
from hall.store.sqlite import SqliteStore
from hall.web.i18n import translate
from hall.workdays import beijing_date

OTHER: Final = "other"
"""The industry of a lot that belongs to no industry special session."""
NO_SESSION: Final = "none"
NAMED: Final = "named:"
QUALIFYING: Final = 200_000
"""CR-12: a deal of this many yuan or more qualifies for project support."""
PLACES: Final = 4
"""Decimal places of a ratio in an answer (sell-through, premium): 0.1235 is 12.35 %."""


class By(StrEnum):
    INDUSTRY = "industry"
    SESSION = "session"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a lot or a deal is filed: its industry and its session (key and shown name)."""

    industry: str
    session: str
    session_name: str


@dataclass(frozen=True, slots=True)
class Sale:
    """A deal that counts (see the module's docstring)."""

    kind: Literal["online", "offline"]
    id: int
    reference: str
    """The online deal's notice number; ``XY`` and the offline deal's id."""
    day: dt.date
    place: Place
    title: str
    item_number: str
    buyer: str
    seller: str
    price: int
    start_price: int | None
    """None when the start price is unknown (its lot is not loaded): no premium then."""

    @property
    def premium(self) -> Fraction | None:
        return None if not self.start_price else Fraction(self.price, self.start_price) - 1

    @property
    def qualifying(self) -> bool:
        return qualifies(self.price)


@dataclass(frozen=True, slots=True)
class Offer:
    """A lot of the hall that ended: offered, and sold or not."""

    lot: int
    day: dt.date
    place: Place
    sold: bool


class Figure(msgspec.Struct, kw_only=True):
    """One group's figures (``GET /api/stats``). Money in whole yuan; ratios as fractions of 1
    to four places (0.25 is 25 %), null when there is nothing to divide by."""

    key: str
    """The group: an industry (``energy``, ``other``), a session's id (``named:<name>`` for a lot
    made without one, ``none`` for an offline deal no session offered), ``YYYY-MM``, ``YYYY``."""
    label: str
    """The group as people read it, in the caller's language."""
    count: int
    value: int
    online_count: int
    online_value: int
    offline_count: int
    offline_value: int
    offered: int
    """Lots of the hall that ended in the group (closed or withdrawn)."""
    sold: int
    """Of those, the ones that closed sold, their deal not defaulted."""
    sell_through: float | None
    premium: float | None
    online_premium: float | None
    offline_premium: float | None
    qualifying_count: int
    """CR-12: deals of 200,000 yuan or more."""
    qualifying_value: int


class SaleItem(msgspec.Struct, kw_only=True):
    """A deal as the figures' list shows it (and its exports)."""

    kind: Literal["online", "offline"]
    id: int
    reference: str
    date: str
    industry: str
    session: str
    title: str
    item_number: str
    buyer: str
    seller: str
    price: int
    start_price: int | None
    premium: float | None
    qualifying: bool


def qualifies(price: int) -> bool:
    """CR-12, for every deal the hall lists, online or offline."""
    return price >= QUALIFYING


def offline_reference(deal: int) -> str:
    """How an offline deal is named in lists and exports (an online one by its notice number)."""
    return f"XY{deal:06d}"


def ratio(value: Fraction | None) -> float | None:
    return None if value is None else float(round(value, PLACES))


def _mean(values: Iterable[Fraction | None]) -> Fraction | None:
    known = [v for v in values if v is not None]
    return sum(known, Fraction(0)) / len(known) if known else None


def key_of(by: By, place: Place, day: dt.date) -> str:
    match by:
        case By.INDUSTRY:
            return place.industry
        case By.SESSION:
            return place.session
        case By.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        case By.YEAR:
            return f"{day.year:04d}"


def industry_label(key: str, lang: str) -> str:
    return translate("industry_other" if key == OTHER else Industry(key).key, lang)


def _order(by: By, key: str, first: dt.date) -> tuple[object, ...]:
    """Industries in the catalogue's order, then ``other``; sessions by their first day; months
    and years in time."""
    if by is By.INDUSTRY:
        return (list(Industry).index(Industry(key)) if key != OTHER else len(Industry), key)
    if by is By.SESSION:
        return (first, key)
    return (key,)


def tabulate(by: By, sales: Sequence[Sale], offers: Sequence[Offer], lang: str = "zh") -> list[Figure]:
    """The figures of each group that has a deal or an offered lot, in the group's order."""
    groups: dict[str, tuple[list[Sale], list[Offer], list[dt.date], list[str]]] = {}
    for sale in sales:
        group = groups.setdefault(key_of(by, sale.place, sale.day), ([], [], [], []))
        group[0].append(sale)
        group[2].append(sale.day)
        group[3].append(sale.place.session_name)
    for offer in offers:
        group = groups.setdefault(key_of(by, offer.place, offer.day), ([], [], [], []))
        group[1].append(offer)
        group[2].append(offer.day)
        group[3].append(offer.place.session_name)
    figures = []
    for key, (group_sales, group_offers, days, names) in groups.items():
        online = [s for s in group_sales if s.kind == "online"]
        offline = [s for s in group_sales if s.kind == "offline"]
        qualifying = [s for s in group_sales if s.qualifying]
        sold = sum(1 for o in group_offers if o.sold)
        label = industry_label(key, lang) if by is By.INDUSTRY else key
        if by is By.SESSION:
            label = next((n for n in names if n), "") or translate("figures_no_session", lang)
        figures.append((_order(by, key, min(days)), Figure(
            key=key, label=label, count=len(group_sales), value=sum(s.price for s in group_sales),
            online_count=len(online), online_value=sum(s.price for s in online),
            offline_count=len(offline), offline_value=sum(s.price for s in offline),
            offered=len(group_offers), sold=sold,
            sell_through=ratio(Fraction(sold, len(group_offers))) if group_offers else None,
            premium=ratio(_mean(s.premium for s in group_sales)),
            online_premium=ratio(_mean(s.premium for s in online)),
            offline_premium=ratio(_mean(s.premium for s in offline)),
            qualifying_count=len(qualifying), qualifying_value=sum(s.price for s in qualifying),
        )))  # fmt: skip
    figures.sort(key=lambda pair: pair[0])
    return [figure for _, figure in figures]


def sale_item(sale: Sale, lang: str) -> SaleItem:
    return SaleItem(kind=sale.kind, id=sale.id, reference=sale.reference, date=sale.day.isoformat(),
                    industry=industry_label(sale.place.industry, lang),
                    session=sale.place.session_name or translate("figures_no_session", lang), title=sale.title,
                    item_number=sale.item_number, buyer=sale.buyer, seller=sale.seller, price=sale.price,
                    start_price=sale.start_price, premium=ratio(sale.premium), qualifying=sale.qualifying)  # fmt: skip


def in_year(year: int | None) -> Callable[[dt.date], bool]:
    return lambda day: year is None or day.year == year


class Figures:
    """Gathers the deals and the ended lots; ``tabulate`` does the arithmetic."""

    def __init__(self, store: SqliteStore, runtime: Runtime, auctions: Auctions) -> None:
        self.sql = FigureStore(store)
        self.runtime = runtime
        self.auctions = auctions
        self._ended: dict[int, int] = {}
        """Lot → when it ended: a lot that ended never ends again, so it is read once."""

    def place_of(self, lot: int) -> Place:
        session = self.auctions.session_of(lot)
        if session is not None:
            return Place(industry=session.industry.value, session=str(session.id),
                         session_name=f"{session.name} {session.day.isoformat()}")  # fmt: skip
        industry = self.auctions.industry_of(lot)
        name = self.runtime.sessions.get(lot, "")
        return Place(industry=OTHER if industry is None else industry.value, session=f"{NAMED}{name}",
                     session_name=name)  # fmt: skip

    async def gather(self, year: int | None = None) -> tuple[list[Sale], list[Offer]]:
        """The deals that count and the lots that ended, of ``year`` (Beijing) or of all years."""
        wanted = in_year(year)
        defaulted: set[int] = set()
        sales: list[Sale] = []
        views = self.runtime.views
        for deal in await self.sql.online_deals():
            if deal.state == DealState.DEFAULTED:
                defaulted.add(deal.lot)
                continue
            day = beijing_date(deal.closed_at)
            if not wanted(day):
                continue
            view = views.get(deal.lot)
            sales.append(Sale(kind="online", id=deal.id, reference=deal.notice_number, day=day,
                              place=self.place_of(deal.lot), title=deal.title, item_number=deal.item_number,
                              buyer=deal.buyer_name, seller=deal.seller_name, price=deal.price,
                              start_price=None if view is None else view.spec.start_price))  # fmt: skip
        for row in await self.sql.offline_deals():
            day = dt.date.fromisoformat(row.day)
            if not wanted(day):
                continue
            session = None if row.session is None else self.auctions.published.get(row.session)
            place = Place(industry=row.industry, session=NO_SESSION if row.session is None else str(row.session),
                          session_name="" if session is None else f"{session.name} {session.day.isoformat()}")  # fmt: skip
            sales.append(Sale(kind="offline", id=row.id, reference=offline_reference(row.id), day=day, place=place,
                              title=row.title, item_number=row.item_number, buyer=row.buyer_name,
                              seller=row.seller_name, price=row.price, start_price=row.start_price))  # fmt: skip
        ended = [v for v in views.values() if v.state in (State.CLOSED, State.WITHDRAWN)]
        unknown = [(v.id, v.seq) for v in ended if v.id not in self._ended]
        if unknown:
            self._ended.update(await self.sql.ended_at(unknown))
        offers = []
        for view in ended:
            at = self._ended.get(view.id)
            if at is None or not wanted(day := beijing_date(at)):
                continue
            sold = view.outcome is Outcome.SOLD and view.id not in defaulted
            offers.append(Offer(lot=view.id, day=day, place=self.place_of(view.id), sold=sold))
        sales.sort(key=lambda s: (s.day, s.kind, s.id), reverse=True)
        return sales, offers
