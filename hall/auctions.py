"""Auction sessions (AU-1, AU-2, AU-4): the rules and the actions that put listed items into a
session and the session onto the hall.

A session (拍卖专场) is created by staff as a draft: a name, an industry special session, a
day (Wednesdays and Fridays, AU-1; another day is allowed with a warning), a mode (timed, or
run by an assigned auctioneer) and its times. Staff add listed items as its lots with their
terms; adding moves the listing to ``in_session`` (from ``listed``, or ``unsold`` for another
try), so its seller can no longer delist it (``in_auction``), and taking it out of a draft
moves it back to ``listed``. Every move is one of the listing rules' table (``hall.listings``:
``can``/``after``), made as a compare-and-set on the state read. Publishing creates the
session's lots in the engine, in publicity; from then on the terms are frozen (the engine's
``LotSpec`` is fixed once a lot exists; only the auctioneer's commands change a lot, withdrawal
included). When a lot is over its listing becomes ``sold`` or ``unsold`` (a withdrawn lot did
not sell: ``unsold``), by a runtime listener and, for lots that ended while the server was
down, by ``reconcile`` at start; both are idempotent compare-and-sets on the listing's state.

The actions take one lock (``Auctions._lock``): publishing creates lots through the runtime,
which writes the store in transactions of its own, so it cannot run inside one of ours; the
lock keeps every other change to sessions out while it runs. The store's write lock is not
re-entrant, so no action here calls the runtime inside ``transaction()``.

Never here: HTTP, templates, a clock of its own (the runtime's clock is the time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

import msgspec

from hall.auth.roles import Role
from hall.engine import AnyEvent, LotSpec, Mode, Outcome, State
from hall.engine.events import Closed, Withdrawn
from hall.engine.spec import MAX_AMOUNT
from hall.listing import ItemKind, LotDetails, TransactionForm
from hall.listings import ListingAction, ListingDraft, ListingState, after, can
from hall.refusal import Refusal
from hall.registration import SHANGHAI, deadline
from hall.runtime import Runtime
from hall.store import listings
from hall.store.auctions import AuctionStore, LotRow, SessionRow
from hall.store.people import People
from hall.web.i18n import translate

log = logging.getLogger(__name__)

SESSION_DAYS: Final = (2, 4)
"""AU-1: sessions run on Wednesdays and Fridays (``date.weekday()``)."""
OFFERED_WEEKS: Final = 4
"""How far ahead the form offers session days."""
NAME_MAX: Final = 100
STAGGER_MAX: Final = 24 * 60
"""Minutes between consecutive lots' ends, at most a day."""
ANTI_SNIPING_MAX: Final = 3600
"""Seconds of an extension rule's window or extension."""
LOT_END_MAX: Final = 7 * 24 * 3600 * 1000
"""A lot's own end is at most a week after its session's bidding start."""
SESSION_LOTS_MAX: Final = 500
"""Lots one session holds: a publish creates them one by one."""

ENTERABLE: Final = tuple(s for s in ListingState if can(s, ListingAction.ENTER_SESSION))
"""The listing states an item may become a lot from (the staff's form offers these)."""

Yuan = Annotated[int, msgspec.Meta(gt=0, le=MAX_AMOUNT)]
AntiSniping = Annotated[int, msgspec.Meta(ge=0, le=ANTI_SNIPING_MAX)]
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]
"""An instant with its UTC offset (ISO 8601 at the JSON edge; a form's Beijing time made aware)."""
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class Industry(StrEnum):
    """AU-1's industry special sessions; the Chinese labels are those of hall/demo.py's TITLES."""

    NEW_IT = "new_it"
    BIOMEDICINE = "biomedicine"
    MANUFACTURING = "manufacturing"
    ENVIRONMENT = "environment"
    MATERIALS = "materials"
    ENERGY = "energy"

    @property
    def key(self) -> str:
        """Its catalogue key."""
        return f"industry_{self.value}"


_BY_LABEL: Final = {translate(industry.key, "zh"): industry for industry in Industry}


def industry_named(session: str) -> Industry | None:
    """The industry a session name is exactly the Chinese label of: how lots made before
    sessions existed (``hall seed-demo``'s, named by industry) are filed by industry."""
    return _BY_LABEL.get(session)


class SessionState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class AuctionError(Refusal):
    """A refusal: an HTTP status, a stable code, and the catalogue key of its message with the
    key's parameters (put into the asker's language where it is shown)."""


class SessionDraft(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new session: the API's body, and what the staff's form is turned into."""

    name: Annotated[str, msgspec.Meta(max_length=NAME_MAX)]
    industry: Industry
    date: dt.date
    mode: Mode
    publicity_start: Instant
    bidding_start: Instant
    bidding_end: Instant
    auctioneer: RowId | None = None
    low_carbon: bool = False
    stagger: Annotated[int, msgspec.Meta(ge=0, le=STAGGER_MAX)] = 0
    """Minutes between consecutive lots' ends (AU's staggered ends); 0: all end together."""


class Terms(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A lot's terms (the body that edits them): ``start_price`` left out is the listing's;
    ``bidding_end`` is this lot's own end instead of the session's."""

    increment: Yuan
    start_price: Yuan | None = None
    reserve: Yuan | None = None
    window: AntiSniping = 300
    extension: AntiSniping = 300
    bidding_end: Instant | None = None


class LotTerms(Terms, kw_only=True, forbid_unknown_fields=True):
    """A listed item and its terms as a lot: the body that adds it, and the staff's form."""

    listing: RowId


def ms(instant: dt.datetime) -> int:
    """Epoch milliseconds of an aware datetime, exactly (no float)."""
    return (instant - _EPOCH) // dt.timedelta(milliseconds=1)


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def beijing_day(instant_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(instant_ms / 1000, SHANGHAI).date()


def is_session_day(day: dt.date) -> bool:
    return day.weekday() in SESSION_DAYS


def offered_days(today: dt.date, weeks: int = OFFERED_WEEKS) -> list[dt.date]:
    """The session days (AU-1) after ``today`` within ``weeks``: what the form offers. Today
    is never offered: registration for a day closes at 16:00 the day before (AU-3)."""
    return [day for n in range(1, 7 * weeks + 1) if is_session_day(day := today + dt.timedelta(days=n))]


def session_warnings(day: dt.date) -> list[str]:
    """What creating a session on ``day`` is warned about (codes; ``au_warn_<code>`` says it)."""
    return [] if is_session_day(day) else ["not_session_day"]


def check_session(draft: SessionDraft, now: int) -> None:
    """Refuse a session whose fields break a rule; the first broken rule answers."""
    if not draft.name.strip():
        raise AuctionError(400, "bad_name", "au_err_name", max=NAME_MAX)
    publicity, start, end = ms(draft.publicity_start), ms(draft.bidding_start), ms(draft.bidding_end)
    if not publicity < start < end:
        raise AuctionError(400, "bad_times", "au_err_time_order")
    if beijing_day(start) != draft.date:
        raise AuctionError(400, "bad_date", "au_err_date_mismatch")
    if end <= now:
        raise AuctionError(400, "in_the_past", "au_err_past")
    if publicity >= deadline(start):
        raise AuctionError(400, "no_registration", "au_err_no_registration")
    if draft.mode is Mode.LIVE and draft.auctioneer is None:
        raise AuctionError(400, "needs_auctioneer", "au_err_needs_auctioneer")


def check_terms(terms: Terms, start_price: int, session: SessionRow) -> None:
    if terms.reserve is not None and terms.reserve < start_price:
        raise AuctionError(400, "bad_reserve", "au_err_reserve")
    if terms.bidding_end is not None:
        end = ms(terms.bidding_end)
        if not session.bidding_start < end <= session.bidding_start + LOT_END_MAX:
            raise AuctionError(400, "bad_lot_end", "au_err_lot_end")


def lot_end(session: SessionRow, lot: LotRow, index: int) -> int:
    """When a lot is planned to end: its own end, else the session's, staggered by its place."""
    if lot.bidding_end is not None:
        return lot.bidding_end
    return session.bidding_end + index * session.stagger * 1000


def lot_spec(session: SessionRow, lot: LotRow, index: int) -> LotSpec:
    return LotSpec(
        seller_org=lot.org or 0, start_price=lot.start_price, increment=lot.increment, reserve=lot.reserve,
        publicity_start=session.publicity_start, bidding_start=session.bidding_start,
        end=lot_end(session, lot, index), mode=Mode(session.mode), window=lot.window, extension=lot.extension,
    )  # fmt: skip


_draft_msgpack: Final = msgspec.msgpack.Decoder(ListingDraft)
_draft_json: Final = msgspec.json.Decoder(ListingDraft)


def draft_fields(blob: bytes | None) -> ListingDraft | None:
    """A listing's stored draft (the ``ListingDraft`` the listings store validated, as msgpack,
    else JSON), or None when there is none or it does not decode as one."""
    if not blob:
        return None
    for decoder in (_draft_msgpack, _draft_json):
        try:
            return decoder.decode(blob)
        except (msgspec.DecodeError, ValueError):
            continue
    return None


def lot_details(lot: LotRow, draft: ListingDraft | None) -> LotDetails:
    """What the lot carries of its listing for the hall (LotDetails): kind, number, holder, the
    abstract and the first transaction form."""
    return LotDetails(kind=ItemKind(lot.kind) if lot.kind in ItemKind.__members__.values() else ItemKind.PATENT,
                      number=lot.number, holder=lot.holder, abstract=draft.abstract if draft is not None else "",
                      form=draft.forms[0] if draft is not None and draft.forms else TransactionForm.TRANSFER)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Published:
    """A published session as the hall indexes it in memory."""

    id: int
    name: str
    industry: Industry
    low_carbon: bool
    day: dt.date
    mode: Mode
    auctioneer: int | None
    bidding_start: int
    lots: tuple[int, ...]


Announce = Callable[[Sequence[int], Sequence[str]], None]
"""Tells the open hall pages of new lots: (lot ids, topics); see ``hall.hub.Hub.announce``."""


def topics_of(industry: Industry) -> tuple[str, str]:
    """The page-socket topics a new lot of this industry is announced on: the whole hall, and
    the hall filtered by its industry."""
    return ("hall", f"hall:{industry.value}")


HALL_TOPICS: Final = frozenset({"hall", *(topics_of(industry)[1] for industry in Industry)})


class Auctions:
    def __init__(self, store: AuctionStore, runtime: Runtime, people: People) -> None:
        self.store = store
        self.runtime = runtime
        self.people = people
        self.announce: Announce | None = None
        self.on_publish: Callable[[int, list[int]], Awaitable[None]] | None = None
        """Told each session published here, with its lots (the other processes learn of it)."""
        self.published: dict[int, Published] = {}
        self.lot_session: dict[int, int] = {}
        """Published lot → its session (lots from before sessions have none)."""
        self._lock = asyncio.Lock()
        self._settling: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ start

    async def start(self) -> None:
        """Index the published sessions, follow lots as they end, and settle the listings of
        lots that ended while the server was down (after ``Runtime.start``)."""
        lots: dict[int, list[int]] = {}
        unsettled: list[int] = []
        for lot, session, _, listing_state in await self.store.published_lots():
            lots.setdefault(session, []).append(lot)
            if listing_state == ListingState.IN_SESSION:
                unsettled.append(lot)
        for row in await self.store.published():
            self._index(row, lots.get(row.id, []))
        # A lot that closed while this read the store is settled by the listener (its events
        # commit after this line) or by ``reconcile`` (they committed before it; the view says so).
        self.runtime.listen(self._committed)
        await self.reconcile(unsettled)

    def _index(self, row: SessionRow, lots: Iterable[int]) -> Published:
        published = Published(id=row.id, name=row.name, industry=Industry(row.industry), low_carbon=row.low_carbon,
                              day=dt.date.fromisoformat(row.day), mode=Mode(row.mode), auctioneer=row.auctioneer,
                              bidding_start=row.bidding_start, lots=tuple(lots))  # fmt: skip
        self.published[row.id] = published
        for lot in published.lots:
            self.lot_session[lot] = row.id
        return published

    # ------------------------------------------------------------------ what the hall asks

    def session_of(self, lot: int) -> Published | None:
        session = self.lot_session.get(lot)
        return None if session is None else self.published.get(session)

    def industry_of(self, lot: int) -> Industry | None:
        session = self.session_of(lot)
        if session is not None:
            return session.industry
        return industry_named(self.runtime.sessions.get(lot, ""))

    def runs(self, lot: int, user: int) -> bool:
        """Whether this auctioneer may run the lot: any lot of a session without an assigned
        auctioneer (timed sessions, lots from before sessions), else only its own sessions'."""
        session = self.session_of(lot)
        return session is None or session.auctioneer is None or session.auctioneer == user

    def coming(self, first: dt.date, last: dt.date) -> list[Published]:
        found = [s for s in self.published.values() if first <= s.day <= last]
        found.sort(key=lambda s: (s.day, s.bidding_start, s.id))
        return found

    # ------------------------------------------------------------------ staff actions

    async def create(self, draft: SessionDraft, by: int) -> tuple[int, list[str]]:
        """A new draft session; answers its id and its warnings (``session_warnings``)."""
        now = self.runtime.clock()
        check_session(draft, now)
        if draft.auctioneer is not None:
            found = await self.people.identity(draft.auctioneer)
            if found is None or not found.has(Role.AUCTIONEER):
                raise AuctionError(400, "not_auctioneer", "au_err_not_auctioneer")
        async with self._lock, self.store.store.transaction() as tx:
            session = await self.store.insert_session(tx, {
                "name": draft.name.strip(), "industry": draft.industry.value, "low_carbon": int(draft.low_carbon),
                "day": draft.date.isoformat(), "mode": draft.mode.value, "auctioneer": draft.auctioneer,
                "publicity_start": ms(draft.publicity_start), "bidding_start": ms(draft.bidding_start),
                "bidding_end": ms(draft.bidding_end), "stagger": draft.stagger * 60,
                "state": SessionState.DRAFT.value, "created_by": by, "created_at": now,
            })  # fmt: skip
        log.info("session %s created", session, extra={"user": by, "action": "create_session"})
        return session, session_warnings(draft.date)

    async def _draft(self, tx: Any, session: int) -> SessionRow:
        found = await self.store.session_in(tx, session)
        if found is None:
            raise AuctionError(404, "not_found", "au_err_no_session")
        if found.state != SessionState.DRAFT:
            raise AuctionError(409, "session_published", "au_err_published")
        return found

    async def add_lot(self, session: int, terms: LotTerms) -> None:
        """A listed (or unsold) item into a draft session: the listing moves to ``in_session``."""
        now = self.runtime.clock()
        async with self._lock, self.store.store.transaction() as tx:
            row = await self._draft(tx, session)
            listing = await self.store.listing_in(tx, terms.listing)
            if listing is None:
                raise AuctionError(404, "not_found", "au_err_no_listing")
            state = ListingState(listing.state)
            if not can(state, ListingAction.ENTER_SESSION) or await self.store.draft_holding(tx, listing.id) is not None:
                raise AuctionError(409, "not_listed", "au_err_not_listed", state=listing.state)
            count = await tx.execute_fetchall("SELECT count(*) FROM auction_lots WHERE auction = ?", (session,))
            if next(iter(count))[0] >= SESSION_LOTS_MAX:
                raise AuctionError(409, "too_many_lots", "au_err_too_many_lots", max=SESSION_LOTS_MAX)
            start_price = terms.start_price or listing.start_price
            check_terms(terms, start_price, row)
            if not await listings.move(tx, listing.id, state=after(state, ListingAction.ENTER_SESSION), was=state, now=now):
                raise AuctionError(409, "not_listed", "au_err_not_listed", state=listing.state)
            await self.store.insert_lot(tx, session, listing.id, _columns(terms, start_price))

    async def edit_lot(self, session: int, listing: int, terms: Terms) -> None:
        """New terms for a lot of a draft session; refused once published (``session_published``):
        a published lot's spec is fixed in the engine."""
        async with self._lock, self.store.store.transaction() as tx:
            row = await self._draft(tx, session)
            lot = await self.store.lot_in(tx, session, listing)
            if lot is None:
                raise AuctionError(404, "not_found", "au_err_no_lot")
            start_price = terms.start_price or lot.start_price
            check_terms(terms, start_price, row)
            await self.store.update_lot(tx, session, listing, _columns(terms, start_price))

    async def remove_lot(self, session: int, listing: int) -> None:
        """A lot out of a draft session: its listing is ``listed`` again."""
        now = self.runtime.clock()
        async with self._lock, self.store.store.transaction() as tx:
            await self._draft(tx, session)
            if await self.store.lot_in(tx, session, listing) is None:
                raise AuctionError(404, "not_found", "au_err_no_lot")
            await self.store.delete_lot(tx, session, listing)
            state = ListingState.IN_SESSION
            await listings.move(tx, listing, state=after(state, ListingAction.LEAVE_SESSION), was=state, now=now)

    async def publish(self, session: int) -> list[int]:
        """Create the session's lots in the engine, in publicity (AU-2), and publish it; answers
        the lots' ids in the session's order.

        Lots are created one by one (``Runtime.create_lot`` commits each), each recorded in
        ``auction_lots.lot`` as soon as it exists, so a publish cut short (the store failing)
        resumes where it stopped when asked again, creating no lot twice; only a crash between a
        lot's creation and its record leaves that lot without its row (docs/auctions.md)."""
        async with self._lock:
            row = await self.store.session(session)
            if row is None:
                raise AuctionError(404, "not_found", "au_err_no_session")
            if row.state != SessionState.DRAFT:
                raise AuctionError(409, "session_published", "au_err_published")
            lots = await self.store.lots(session)
            if not lots:
                raise AuctionError(409, "no_lots", "au_err_no_lots")
            now = self.runtime.clock()
            if now >= deadline(row.bidding_start):
                raise AuctionError(409, "registration_closed", "au_err_registration_closed")
            specs = [lot_spec(row, lot, index) for index, lot in enumerate(lots)]
            ids: list[int] = []
            for lot, spec in zip(lots, specs, strict=True):
                if lot.lot is not None:
                    ids.append(lot.lot)
                    continue
                details = lot_details(lot, draft_fields(await self.store.draft(lot.listing)))
                created = await self.runtime.create_lot(spec, lot.title, row.name, details)
                async with self.store.store.transaction() as tx:
                    await self.store.set_lot(tx, session, lot.listing, created.id)
                ids.append(created.id)
            async with self.store.store.transaction() as tx:
                await self.store.publish(tx, session, now)
            self._shown(row, ids)
        log.info("session published", extra={"action": "publish_session", "lots": ids})
        if self.on_publish is not None:
            await self.on_publish(session, ids)
        return ids

    async def learn(self, session: int, lots: Sequence[int]) -> None:
        """A session another process of the hall published (hall/cluster.py): index it, with
        its lots, which that process created, and announce them to this process's pages."""
        row = await self.store.session(session)
        if row is None or session in self.published:
            return
        for lot in lots:
            await self.runtime.adopt(lot)
        self._shown(row, lots)

    async def catch_up(self) -> None:
        """Learn the sessions published elsewhere while this process could not hear it (its
        subscription lost, or the message's publish failed): from the store, as ``start``."""
        missed = [row for row in await self.store.published() if row.id not in self.published]
        if not missed:
            return
        lots: dict[int, list[int]] = {}
        for lot, session, _, _ in await self.store.published_lots():
            lots.setdefault(session, []).append(lot)
        for row in missed:
            await self.learn(row.id, lots.get(row.id, []))

    def _shown(self, row: SessionRow, lots: Sequence[int]) -> None:
        """Index a session just published (here or elsewhere) and announce its lots to the pages."""
        published = self._index(row, lots)
        if self.announce is not None:
            self.announce(list(lots), topics_of(published.industry))

    # ------------------------------------------------------------------ lots that end

    def _committed(self, events: Sequence[AnyEvent]) -> None:
        """A runtime listener: a lot of a session that closes or is withdrawn settles its listing."""
        for event in events:
            if isinstance(event, (Closed, Withdrawn)) and event.lot in self.lot_session:
                task = asyncio.get_running_loop().create_task(self.reconcile((event.lot,)))
                self._settling.add(task)
                task.add_done_callback(self._settling.discard)

    async def reconcile(self, lots: Iterable[int]) -> None:
        """Settle the listing of each of these lots that is over: ``sold`` or ``unsold``.
        Idempotent; a failure is logged and left for the next start."""
        views = self.runtime.views
        for lot in lots:
            view = views.get(lot)
            if view is None or view.state not in (State.CLOSED, State.WITHDRAWN):
                continue
            action = ListingAction.SELL if view.outcome is Outcome.SOLD else ListingAction.NO_SALE
            state = ListingState.IN_SESSION
            settled = after(state, action)
            try:
                if await self.store.settle_listing(lot, state, settled, self.runtime.clock()):
                    log.info("listing settled", extra={"lot": lot, "code": settled})
            except Exception:  # noqa: BLE001 - the next start settles it
                log.exception("settling the listing of lot %s failed", lot, extra={"lot": lot})

    async def stop(self) -> None:
        """Let listings being settled finish (before the store closes)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


def _columns(terms: Terms, start_price: int) -> dict[str, object]:
    return {"start_price": start_price, "increment": terms.increment, "reserve": terms.reserve,
            "window": terms.window, "extension": terms.extension,
            "bidding_end": ms(terms.bidding_end) if terms.bidding_end is not None else None}  # fmt: skip
