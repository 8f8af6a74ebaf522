"""What a seller does with listings, and what a staff decision does to them (LS-2 to LS-9): each
change one function that checks it, writes it in one transaction with its review application
(``hall.reviews.submit``, which keeps the audit row) and, for a decision, the SMS.

The rules themselves are ``hall.listings`` (pure); the SQL is ``hall.store.listings``. No HTTP
here: a refusal is a ``Refused`` (hall/web/errors.py) with a catalogue key, which the routes
answer as it is, or ``DraftInvalid`` with every field that is wrong.

Decisions the seeds leave open:

- Only an open shop lists (AC-4); the listing belongs to the shop and its organisation.
- The season a listing enters is the one of the year it is submitted in (Beijing); its rules are
  the stored ``seasons`` row of that year, else ``SeasonRules.for_year``. A rejected or delisted
  item stops counting towards its organisation's 50 and counts again when resubmitted; the count
  is made inside the transaction that adds the item, so two submissions cannot both be the 50th.
- An ``agent`` item needs the holders' authorisation document, handed in with the listing (a
  file of the application, one click away for staff). A batch row that is ``agent`` is reported
  as such: it is listed on its own page, with its document.
- A change of ownership status (LS-4) is its own application (kind ``ownership``): the seller
  names the status asked for and why, with the authorisation when asking for ``agent``; on
  approval the listing's ownership changes, and an item that becomes ``agent`` leaves the season.
- A batch upload's report is kept for ``BATCH_TTL_MS`` (owner-bound); listing its good rows is
  all or nothing, each row checked again as it is written (a day may have passed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

import aiosqlite
import msgspec
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from hall import batch as sheets
from hall.batch import CellError, Report
from hall.listing import ItemKind
from hall.listings import (
    FieldError,
    ListingAction,
    ListingDraft,
    ListingState,
    Ownership,
    choice_key,
    eligible,
    needs_authorisation,
    normalise,
    ownership,
    refusal,
    validate,
)
from hall.registration import SHANGHAI
from hall.reviews import Application, Fact, Kind, ReviewError, Reviews, Summary, register, submit
from hall.shops import open_shop_of
from hall.store import listings as sql
from hall.store.listings import Listing
from hall.store.sqlite import SqliteStore
from hall.uploads import Written
from hall.web.errors import Refused, error
from hall.web.i18n import lang_of, translate

AGREEMENT_VERSION: Final = "2026-01"
"""The listing agreement (《商品发布协议》) in force; its text is ``agreement_key(version)`` in the
catalogue. A new version is a new key, so the text a seller accepted stays readable."""
LISTING: Final = "listing"
OWNERSHIP: Final = "ownership"
"""The review kinds this module registers."""
BATCH_TTL_MS: Final = 24 * 3600 * 1000
"""How long an upload's report waits for its good rows to be listed."""
NOTE_MAX: Final = 200
"""Characters of the reason given for an ownership change."""
CHANGEABLE: Final = (ListingState.PENDING, ListingState.REJECTED, ListingState.LISTED, ListingState.DELISTED)
"""States in which an item's ownership status may be changed: not once a session holds it."""


def agreement_key(version: str) -> str:
    """The catalogue key of the listing agreement's text of ``version``."""
    return "listing_agreement_" + version.replace("-", "_")


def beijing_day(now: int) -> date:
    """The calendar day in Beijing of an instant (epoch ms): the day dates are checked against."""
    return datetime.fromtimestamp(now / 1000, SHANGHAI).date()


class DraftInvalid(Refused):
    """A draft refused field by field (400 ``invalid``): every ``FieldError`` is in ``errors``,
    and the JSON error lists them as ``fields`` (``field``, ``code``, ``message``)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(400, "invalid", "listing_invalid", {"n": len(errors)})
        self.errors = list(errors)

    def answer(self, conn: HTTPConnection) -> JSONResponse:
        lang = lang_of(conn)
        fields = [{"field": e.field, "code": e.code, "message": e.message(lang)} for e in self.errors]
        return error(self.status, self.code, self.message(conn), fields=fields)


def _not_found() -> Refused:
    return Refused(404, "not_found", "listing_not_found")


@dataclass(frozen=True, slots=True)
class Seller:
    """Who lists: an account with an open shop (AC-4), the shop's organisation, its kind (an
    identity's kind: the season is for some kinds only) and the name ownership is computed
    against (LS-4)."""

    user: int
    shop: int
    org: int | None
    org_kind: str
    org_name: str


async def seller_of(store: SqliteStore, user: int) -> Seller:
    """The account as a seller, or 403 ``no_shop`` when it has no open shop (AC-4)."""
    shop = await open_shop_of(store, user)
    if shop is None:
        raise Refused(403, "no_shop", "listing_no_shop")
    name = shop.name  # an organisation's shop is named as the organisation (AC-4)
    if shop.org is not None and (row := await store.fetchone("SELECT name FROM orgs WHERE id = ?", (shop.org,))):
        name = str(row[0])
    return Seller(user, shop.id, shop.org, shop.identity_kind, name)


def _mine(seller: Seller, found: Listing | None) -> Listing:
    """The listing when it is the seller's shop's; 404 otherwise (another shop's is not said to exist)."""
    if found is None or found.shop != seller.shop:
        raise _not_found()
    return found


def checked_draft(seller: Seller, draft: ListingDraft, *, now: int, authorised: bool) -> tuple[ListingDraft, Ownership]:
    """The draft normalised and its ownership (LS-4), or ``DraftInvalid`` with every field that
    is wrong, the missing authorisation of an ``agent`` item among them."""
    draft = normalise(draft)
    errors = validate(draft, on=beijing_day(now))
    owned = ownership(draft.holders, seller.org_name)
    if needs_authorisation(owned) and not authorised:
        errors.append(FieldError("authorisation", "authorisation_required", "listing_authorisation_required"))
    if errors:
        raise DraftInvalid(errors)
    return draft, owned


async def _season(tx: aiosqlite.Connection, seller: Seller, draft: ListingDraft, owned: Ownership, *, now: int,
                  listing: int | None) -> int | None:  # fmt: skip
    """The season's year the draft enters, None when it does not ask to; ``not_eligible`` or
    ``org_limit`` (409) when it may not (LS-6, LS-10)."""
    if not draft.season:
        return None
    year = beijing_day(now).year
    rules = await sql.season_rules(tx, year)
    entered = 0 if seller.org is None else await sql.season_entered(tx, year=year, org=seller.org,
                                                                         excluding=listing)  # fmt: skip
    refused = eligible(draft, owned, seller.org_kind, rules, entered)
    if refused is not None:
        raise refused
    return year


async def create(reviews: Reviews, seller: Seller, draft: ListingDraft, *, authorisation: Written | None,
                 now: int) -> int:  # fmt: skip
    """LS-2: a new listing, pending, with its review application (the authorisation of an
    ``agent`` item among the application's documents); its id. Consumes ``authorisation``."""
    try:
        draft, owned = checked_draft(seller, draft, now=now, authorised=authorisation is not None)
        kept = authorisation if needs_authorisation(owned) else None
        async with reviews.store.transaction() as tx:
            season = await _season(tx, seller, draft, owned, now=now, listing=None)
            files = await reviews.record(tx, seller.user, [kept] if kept else [], now)
            listing = await sql.insert(tx, shop=seller.shop, org=seller.org, draft=draft, ownership=owned,
                                       authorisation=files[0] if files else None, season=season,
                                       agreement_version=AGREEMENT_VERSION, user=seller.user, now=now)  # fmt: skip
            await submit(tx, kind=LISTING, subject=listing, applicant=seller.user, now=now, documents=files)
        if authorisation is not None and kept is None:  # an own item needs none: not kept
            await reviews.discard([authorisation])
    except BaseException:
        await reviews.discard([authorisation] if authorisation else [])
        raise
    return listing


async def resubmit(reviews: Reviews, seller: Seller, listing_id: int, draft: ListingDraft, *,
                   authorisation: Written | None, now: int) -> None:  # fmt: skip
    """LS-7, LS-9: a rejected or delisted item edited and submitted again (pending, a new
    application). An ``agent`` item keeps its authorisation unless a new one is handed in."""
    try:
        found = _mine(seller, await sql.listing(reviews.store, listing_id))
        authorised = authorisation is not None or found.authorisation is not None
        draft, owned = checked_draft(seller, draft, now=now, authorised=authorised)
        kept = authorisation if needs_authorisation(owned) else None
        async with reviews.store.transaction() as tx:
            found = _mine(seller, await sql.listing_in(tx, listing_id))
            if (refused := refusal(found.state, ListingAction.RESUBMIT)) is not None:
                raise refused
            season = await _season(tx, seller, draft, owned, now=now, listing=listing_id)
            files = await reviews.record(tx, seller.user, [kept] if kept else [], now)
            held = None if not needs_authorisation(owned) else (files[0] if files else found.authorisation)
            await sql.resubmitted(tx, listing_id, draft=draft, ownership=owned, authorisation=held, season=season,
                                  agreement_version=AGREEMENT_VERSION, now=now)  # fmt: skip
            await submit(tx, kind=LISTING, subject=listing_id, applicant=seller.user, now=now,
                         documents=[held] if held else [])  # fmt: skip
        if authorisation is not None and kept is None:
            await reviews.discard([authorisation])
    except BaseException:
        await reviews.discard([authorisation] if authorisation else [])
        raise


async def delist(store: SqliteStore, seller: Seller, listing_id: int, *, now: int) -> None:
    """LS-9: take a listed (or unsold) item off the shelf; 409 ``in_auction`` once a session
    holds it."""
    async with store.transaction() as tx:
        found = _mine(seller, await sql.listing_in(tx, listing_id))
        if (refused := refusal(found.state, ListingAction.DELIST)) is not None:
            raise refused
        moved = await sql.move(tx, listing_id, state=ListingState.DELISTED, was=found.state, now=now)
        assert moved  # the write lock is held since the read


async def request_ownership(reviews: Reviews, seller: Seller, listing_id: int, *, wanted: Ownership, note: str,
                            document: Written | None, now: int) -> int:  # fmt: skip
    """LS-4: ask staff to change an item's ownership status; the application's subject is the
    ``ownership_changes`` row (its id is returned). Consumes ``document``."""
    try:
        note = " ".join(note.split())
        if not note:
            raise Refused(400, "invalid", "listing_ownership_note_required")
        if len(note) > NOTE_MAX:
            raise Refused(400, "invalid", "listing_too_long", {"max": NOTE_MAX})
        if needs_authorisation(wanted) and document is None:
            raise Refused(400, "authorisation_required", "listing_authorisation_required")
        async with reviews.store.transaction() as tx:
            found = _mine(seller, await sql.listing_in(tx, listing_id))
            if found.state not in CHANGEABLE:
                raise Refused(409, "in_auction" if found.state is ListingState.IN_SESSION else "bad_state",
                              "listing_in_auction" if found.state is ListingState.IN_SESSION else "listing_bad_state")
            if found.ownership is wanted:
                raise Refused(409, "same_ownership", "listing_same_ownership")
            kept = document if needs_authorisation(wanted) else None
            files = await reviews.record(tx, seller.user, [kept] if kept else [], now)
            change = await sql.insert_change(tx, listing=listing_id, ownership=wanted, note=note,
                                             document=files[0] if files else None, user=seller.user, now=now)  # fmt: skip
            pending = await tx.execute_fetchall(
                "SELECT 1 FROM ownership_changes WHERE listing = ? AND state = 'pending' AND id != ?",
                (listing_id, change))  # fmt: skip
            if list(pending):
                raise Refused(409, "pending", "listing_ownership_pending")
            await submit(tx, kind=OWNERSHIP, subject=change, applicant=seller.user, now=now, documents=files)
        if document is not None and kept is None:
            await reviews.discard([document])
    except BaseException:
        await reviews.discard([document] if document else [])
        raise
    return change


# ---------------------------------------------------------------------- batches (LS-8)


def _parse(kind: ItemKind | None, data: bytes, on: date) -> Report:
    """The upload read as the ``kind`` template, or, with None, as whichever template's headers
    it has."""
    if kind is not None:
        return sheets.parse(kind, data, on=on)
    try:
        return sheets.parse(ItemKind.PATENT, data, on=on)
    except sheets.BatchRefused as exc:
        if exc.code != "bad_headers":
            raise
    return sheets.parse(ItemKind.ACHIEVEMENT, data, on=on)


async def upload_batch(store: SqliteStore, seller: Seller, kind: ItemKind | None, data: bytes, *,
                       now: int) -> tuple[int, Report]:  # fmt: skip
    """Read an upload (off the event loop: it is CPU work) into its per-row report, with what
    only the seller's shop decides added to each row (an ``agent`` row, the season), and keep
    it until its good rows are listed; ``BatchRefused`` for a file refused whole."""
    report = await asyncio.to_thread(_parse, kind, data, beijing_day(now))
    kind = report.kind
    headers = {c.field: c.header for c in sheets.FORMS[kind].columns}
    async with store.transaction() as tx:
        year = beijing_day(now).year
        rules = await sql.season_rules(tx, year)
        entered = 0 if seller.org is None else await sql.season_entered(tx, year=year, org=seller.org,
                                                                             excluding=None)  # fmt: skip
        rows = []
        for row in report.rows:
            errors = list(row.errors)
            if row.ok and row.draft is not None:
                owned = ownership(row.draft.holders, seller.org_name)
                if needs_authorisation(owned):
                    errors.append(CellError(headers["holders"], "agent_row", "batch_agent_row"))
                elif row.draft.season:
                    refused = eligible(row.draft, owned, seller.org_kind, rules, entered)
                    if refused is not None:
                        errors.append(CellError(headers["season"], refused.code, refused.key,
                                                {k: v for k, v in refused.params.items() if isinstance(v, (str, int))}))  # fmt: skip
                    else:
                        entered += 1
            rows.append(msgspec.structs.replace(row, errors=errors))
        report = msgspec.structs.replace(report, rows=rows)
        batch = await sql.insert_batch(tx, owner=seller.user, shop=seller.shop, report=report, now=now,
                                       expires_at=now + BATCH_TTL_MS)  # fmt: skip
    return batch, report


async def batch_of(store: SqliteStore, seller: Seller, batch_id: int) -> sql.Batch:
    """The seller's own upload, 404 for anyone else's."""
    found = await sql.batch(store, batch_id)
    if found is None or found.owner != seller.user or found.shop != seller.shop:
        raise Refused(404, "not_found", "batch_not_found")
    return found


async def submit_batch(reviews: Reviews, seller: Seller, batch_id: int, *, agreement: bool, now: int) -> list[int]:
    """List an upload's good rows in one action (LS-8): each a pending listing with its
    application, the agreement's acceptance recorded with each; all or none. Their ids."""
    if not agreement:
        raise DraftInvalid([FieldError("agreement", "agreement_required", "listing_agreement_required")])
    listings: list[int] = []
    async with reviews.store.transaction() as tx:
        found = await sql.batch_in(tx, batch_id)
        if found is None or found.owner != seller.user or found.shop != seller.shop:
            raise Refused(404, "not_found", "batch_not_found")
        if found.submitted_at is not None:
            raise Refused(409, "batch_submitted", "batch_already_submitted")
        if found.expires_at <= now:
            raise Refused(410, "batch_expired", "batch_expired")
        good = found.report.good()
        if not good:
            raise Refused(409, "batch_nothing", "batch_nothing_good")
        for draft in good:
            draft, owned = checked_draft(seller, draft, now=now, authorised=False)
            season = await _season(tx, seller, draft, owned, now=now, listing=None)
            listing = await sql.insert(tx, shop=seller.shop, org=seller.org, draft=draft, ownership=owned,
                                       authorisation=None, season=season, agreement_version=AGREEMENT_VERSION,
                                       user=seller.user, now=now, batch=batch_id)  # fmt: skip
            await submit(tx, kind=LISTING, subject=listing, applicant=seller.user, now=now)
            listings.append(listing)
        await sql.batch_submitted(tx, batch_id, now)
    return listings


# ---------------------------------------------------------------------- review kinds (LS-7, LS-4)


def _decided_elsewhere() -> ReviewError:
    return ReviewError(409, "bad_state", "listing_bad_state")


class ListingKind(Kind):
    """LS-7: approval publishes the item (``listed``); rejection sends it back with the reason,
    which the seller centre shows from the application."""

    kind = LISTING
    label = "review_kind_listing"
    approved_sms = "listing_approved"
    rejected_sms = "listing_rejected"

    async def _move(self, tx: aiosqlite.Connection, application: Application, action: ListingAction,
                    now: int) -> Mapping[str, object]:  # fmt: skip
        found = await sql.listing_in(tx, application.subject)
        if found is None or refusal(found.state, action) is not None:
            raise _decided_elsewhere()
        to = ListingState.LISTED if action is ListingAction.APPROVE else ListingState.REJECTED
        await sql.move(tx, found.id, state=to, was=found.state, now=now)
        return {"title": found.title}

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        return await self._move(tx, application, ListingAction.APPROVE, now)

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        return await self._move(tx, application, ListingAction.REJECT, now)

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        found = await sql.by_ids(reviews.store, [a.subject for a in applications])
        summaries = {}
        for application in applications:
            item = found.get(application.subject)
            if item is not None:
                summaries[application.id] = Summary(title=item.title, link=f"/listings/{item.id}", facts=_facts(item))
        return summaries


def _facts(item: Listing) -> tuple[Fact, ...]:
    facts = [Fact("item_kind", choice_key(item.kind), key=True), Fact("holder", "、".join(item.draft.holders)),
             Fact("listing_ownership", choice_key(item.ownership), key=True),
             Fact("start_price", str(item.start_price)),
             Fact("listing_f_season", "yes" if item.season else "no", key=True)]  # fmt: skip
    if item.number:
        facts.insert(1, Fact(f"listing_f_number_{item.kind.value}", item.number))
    return tuple(facts)


class OwnershipKind(Kind):
    """LS-4: a change of an item's ownership status, decided like every application."""

    kind = OWNERSHIP
    label = "review_kind_ownership"
    approved_sms = "ownership_approved"
    rejected_sms = "ownership_rejected"

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        change = await sql.change_in(tx, application.subject)
        assert change is not None
        item = await sql.listing_in(tx, change.listing)
        assert item is not None
        if item.state not in CHANGEABLE:
            raise ReviewError(409, "in_auction", "listing_in_auction")
        agent = needs_authorisation(change.ownership)
        await sql.set_ownership(tx, item.id, ownership=change.ownership, authorisation=change.document if agent else None,
                                leave_season=agent, now=now)  # fmt: skip
        await sql.change_decided(tx, change.id, "approved")
        return {"title": item.title, "ownership": translate(choice_key(change.ownership), "zh")}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        change = await sql.change_in(tx, application.subject)
        assert change is not None
        item = await sql.listing_in(tx, change.listing)
        assert item is not None
        await sql.change_decided(tx, change.id, "rejected")
        return {"title": item.title}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        found = await sql.changes(reviews.store, [a.subject for a in applications])
        items = await sql.by_ids(reviews.store, sorted({c.listing for c in found.values()}))
        summaries = {}
        for application in applications:
            change = found.get(application.subject)
            item = items.get(change.listing) if change else None
            if change is not None and item is not None:
                summaries[application.id] = Summary(title=item.title, link=f"/listings/{item.id}", facts=(
                    Fact("listing_ownership_now", choice_key(item.ownership), key=True),
                    Fact("listing_ownership_wanted", choice_key(change.ownership), key=True),
                    Fact("listing_ownership_note", change.note)))  # fmt: skip
        return summaries


register(ListingKind())
register(OwnershipKind())
