"""Deals reached outside the hall (AU-11): an item listed on the exchange but sold offline or by
negotiation (协议成交), which staff record so that it counts in the exchange's figures.

Staff name the listing, the buyer (an organisation's name, or one of the hall's accounts, whose
organisation or verified name is then recorded), the price in whole yuan, the deal's date
(Beijing; never in the future), the transaction form (one the listing offers, LS-5) and upload
the signed contract (checked as every upload). The industry special session it counts under is
the one of the last published session that offered the item, unless staff choose another; an
item no session offered needs one chosen.

Recording moves the listing to ``sold`` through the listing rules' table (``hall.listings``:
``sell``, allowed from ``listed`` and ``unsold``, never from ``in_session``: a lot in a session
is sold by its hammer or withdrawn first), as a compare-and-set in the same transaction as the
deal's row and its contract's file row; a listing sold meanwhile is refused, never sold twice.

Never here: HTTP, templates, a clock of its own (the runtime's clock is the time).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Annotated, Final

import msgspec
from starlette.datastructures import UploadFile

from hall.auctions import Industry, RowId, Yuan, draft_fields
from hall.auth.roles import Identity
from hall.listing import TransactionForm
from hall.listings import ListingAction, ListingState, after, can
from hall.runtime import Runtime
from hall.store import listings as listings_sql
from hall.store.figures import FigureStore, ItemForSale, OfflineRow
from hall.store.sqlite import SqliteStore
from hall.uploads import FileStore
from hall.web.errors import Refused
from hall.workdays import beijing_date

log = logging.getLogger(__name__)

BUYER_MAX: Final = 100
"""Characters of a buyer organisation's name."""
CHOICES: Final = 200
"""Listings the staff's form offers (the newest)."""
SELLABLE: Final = (ListingState.LISTED, ListingState.UNSOLD)
"""The states an offline deal may be recorded from: listed, or left unsold by a session."""
assert all(can(state, ListingAction.SELL) for state in SELLABLE)

class OfflineDealForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An offline deal as staff record it: the multipart fields of ``POST /api/offline-deals``
    and of the staff's form, beside the contract's file. ``buyer_name`` (an organisation) or
    ``buyer`` (an account's id), exactly one; ``industry`` left out is the last session's."""

    listing: RowId
    price: Yuan
    """Whole yuan."""
    date: dt.date
    """The deal's date, Beijing, YYYY-MM-DD."""
    form: TransactionForm
    buyer_name: Annotated[str, msgspec.Meta(max_length=BUYER_MAX)] = ""
    buyer: RowId | None = None
    industry: Industry | None = None


FIELDS: Final = frozenset(OfflineDealForm.__struct_fields__)


def form_of(fields: Mapping[str, object]) -> OfflineDealForm:
    """The form's text fields as an ``OfflineDealForm`` (an empty field is one left out), or 400
    ``bad_request`` naming the field. Other fields (the CSRF token, the file) are not read here."""
    given = {k: " ".join(v.split()) for k, v in fields.items() if k in FIELDS and isinstance(v, str) and v.strip()}
    try:
        return msgspec.convert(given, OfflineDealForm, strict=False)
    except msgspec.ValidationError as exc:
        raise Refused(400, "bad_request", "offline_err_fields", detail=str(exc)) from None


class OfflineDealItem(msgspec.Struct, kw_only=True):
    """A recorded offline deal, as staff see it (``POST /api/offline-deals`` answers it)."""

    id: int
    listing: int
    title: str
    item_number: str
    industry: Industry
    session: int | None
    """The last published session that offered the item, null when none did."""
    buyer: str
    buyer_account: int | None
    seller: str
    price: int
    start_price: int
    """The listing's start price when the deal was recorded."""
    date: str
    form: TransactionForm
    qualifying: bool
    """CR-12: 200,000 yuan or more."""
    contract: str
    """``/staff/offline-deals/{id}/contract``: staff only, always a download."""
    recorded_at: str


class OfflineDeals:
    def __init__(self, store: SqliteStore, runtime: Runtime, files: FileStore) -> None:
        self.store = store
        self.sql = FigureStore(store)
        self.runtime = runtime
        self.files = files

    async def choices(self) -> list[ItemForSale]:
        """The listings the staff's form offers: those an offline deal may be recorded for."""
        return await self.sql.listings_for_sale([s.value for s in SELLABLE], CHOICES)

    async def record(self, form: OfflineDealForm, contract: UploadFile | str | None, who: Identity) -> OfflineRow:
        """Record the deal: checks, the contract written, then one transaction that re-reads the
        listing, moves it to ``sold`` and inserts the deal and the contract's file row."""
        now = self.runtime.clock()
        if bool(form.buyer_name) == (form.buyer is not None):
            raise Refused(400, "buyer_required", "offline_err_buyer")
        if form.date > beijing_date(now):
            raise Refused(400, "bad_date", "offline_err_future")
        written = await self.files.accept(contract, who.id, now)
        try:
            async with self.store.transaction() as tx:
                item = await self.sql.item_in(tx, form.listing)
                if item is None:
                    raise Refused(404, "not_found", "offline_err_no_listing")
                state = ListingState(item.state)
                if state not in SELLABLE:
                    raise Refused(409, "not_for_sale", "offline_err_not_for_sale")
                draft = draft_fields(item.draft)
                if draft is not None and draft.forms and form.form not in draft.forms:
                    raise Refused(400, "bad_form", "offline_err_form")
                last = await self.sql.last_session_in(tx, item.id)
                industry = form.industry or (Industry(last[1]) if last is not None else None)
                if industry is None:
                    raise Refused(400, "industry_required", "offline_err_industry")
                buyer_name = form.buyer_name
                if form.buyer is not None:
                    named = await self.sql.buyer_name_in(tx, form.buyer)
                    if named is None:
                        raise Refused(400, "unknown_buyer", "offline_err_unknown_buyer")
                    buyer_name = named
                moved = await listings_sql.move(tx, item.id, state=after(state, ListingAction.SELL), was=state, now=now)
                assert moved, "the listing's state was read in this transaction"
                file_id = await self.files.record(tx, who.id, written, now)
                deal = await self.sql.insert_offline(tx, {
                    "listing": item.id, "industry": industry.value, "session": None if last is None else last[0],
                    "buyer": form.buyer, "buyer_name": buyer_name, "seller_name": item.seller_name,
                    "title": item.title, "item_number": item.number, "start_price": item.start_price,
                    "price": form.price, "day": form.date.isoformat(), "form": form.form.value, "contract": file_id,
                    "recorded_by": who.id, "recorded_at": now,
                })  # fmt: skip
        except BaseException:
            await self.files.discard(written)
            raise
        log.info("offline deal %s recorded", deal, extra={"action": "offline_deal"})
        found = await self.sql.offline(deal)
        assert found is not None
        return found
