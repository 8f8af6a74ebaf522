"""Listings at the edge (LS-1 to LS-10): the seller's pages (the single listing form with the
patent lookup, the batch upload and its report, the seller centre), a listing's own page, and the
JSON API (docs/api.md, "Listings").

Thin: each route parses and bounds its input, finds the seller (an account with an open shop),
calls one action of ``hall.listing_actions`` and renders or answers. A refusal is a ``Refused``
with a catalogue key; a draft refused field by field is ``DraftInvalid``, answered 400 with every
field's message (``fields``) or the form again with each message beside its field.

Who sees a listing: its shop's owner, the accounts of its organisation and staff, always; anyone
once it is public (listed, in a session, sold, unsold), as the hall shows it. Anyone else is told
it does not exist (404), like a listing that does not.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Final

import msgspec
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import batch as sheets
from hall import listing_actions as actions
from hall.auth.roles import Identity, Role
from hall.listing import ItemKind, TransactionForm
from hall.listing_actions import DraftInvalid, Seller
from hall.listings import (
    FieldError,
    ListingAction,
    ListingDraft,
    ListingState,
    Maturity,
    Ownership,
    field_key,
    next_actions,
)
from hall.patents import LegalStatus
from hall.reviews import Reviews
from hall.runtime import Runtime
from hall.store import listings as sql
from hall.store.listings import Listing
from hall.uploads import UploadRefused, Written
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of
from hall.web.openapi import Api
from hall.web.reviews import _reviews
from hall.web.security import Endpoint, answer, route
from hall.web.templating import iso, render

PUBLIC: Final = (ListingState.LISTED, ListingState.IN_SESSION, ListingState.SOLD, ListingState.UNSOLD)
"""States in which a listing is the hall's to show."""
MAX_LIST: Final = 200
"""Listings one page or answer lists."""
SELLER_STATES: Final = tuple(ListingState)
_NAMES: Final = re.compile(r"[、,，;；\n\r]+")
"""How a form's list of names is separated (the batch sheet's and the patent service's ways)."""
MAX_FIELD: Final = 5000
"""Characters of one form field read at all (the rules bound each field far below)."""
TAG: Final = "listings"


# ---------------------------------------------------------------------- wire shapes


class ListingOut(msgspec.Struct, kw_only=True):
    """A listing as the API gives it: the fields submitted, and what the hall made of them."""

    id: int
    state: ListingState
    ownership: Ownership
    """LS-4: ``own`` when the shop's organisation is the only right holder, else ``agent``."""
    reason: str | None
    """Why staff rejected it (the latest rejection), while it is rejected."""
    next_actions: list[ListingAction]
    """What its seller can do now (``resubmit``, ``delist``)."""
    shop: int
    kind: ItemKind
    title: str
    number: str
    holder: str
    co_holders: list[str]
    inventors: list[str]
    application_date: date | None
    grant_date: date | None
    ipc: str
    legal_status: LegalStatus | None
    field: str
    maturity: Maturity | None
    abstract: str
    forms: list[TransactionForm]
    start_price: int
    """Whole yuan."""
    season: bool
    season_year: int | None
    """The auction season it entered (LS-6), by year."""
    agreement_version: str
    agreement_at: str
    """When the listing agreement of ``agreement_version`` was accepted (ISO 8601)."""
    created_at: str
    updated_at: str


class ListingsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mine: Annotated[int, msgspec.Meta(ge=0, le=1)] = 0
    """1: the caller's shop's listings, in every state; 0: the public ones."""
    state: ListingState | None = None


class CellProblem(msgspec.Struct):
    column: str
    message: str


class BatchRow(msgspec.Struct):
    row: int
    ok: bool
    errors: list[CellProblem]


class BatchAnswer(msgspec.Struct):
    batch: int
    rows: list[BatchRow]


class BatchSubmit(msgspec.Struct, forbid_unknown_fields=True):
    agreement: bool
    """The listing agreement accepted for every listed row (LS-2)."""


class BatchListed(msgspec.Struct):
    listings: list[int]


def listing_out(item: Listing, reason: str | None) -> ListingOut:
    d = item.draft
    return ListingOut(
        id=item.id, state=item.state, ownership=item.ownership,
        reason=reason if item.state is ListingState.REJECTED else None, next_actions=next_actions(item.state),
        shop=item.shop, kind=item.kind, title=d.title, number=d.number, holder=d.holder, co_holders=d.co_holders,
        inventors=d.inventors, application_date=d.application_date, grant_date=d.grant_date, ipc=d.ipc,
        legal_status=d.legal_status, field=d.field, maturity=d.maturity, abstract=d.abstract, forms=d.forms,
        start_price=item.start_price, season=item.season is not None, season_year=item.season,
        agreement_version=item.agreement_version, agreement_at=iso(item.agreement_at) or "",
        created_at=iso(item.created_at) or "", updated_at=iso(item.updated_at) or "",
    )  # fmt: skip


def report_rows(report: sheets.Report, lang: str) -> list[BatchRow]:
    """An upload's report as the API and the page give it, in the asker's language."""
    return [BatchRow(r.row, r.ok, [CellProblem(**e.json(lang)) for e in r.errors]) for r in report.rows]


# ---------------------------------------------------------------------- plumbing


def _me(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


def _now(request: Request) -> int:
    runtime: Runtime = request.app.state.runtime
    return runtime.clock()


async def _seller(request: Request) -> Seller:
    return await actions.seller_of(request.app.state.store, _me(request).id)


async def _reasons(reviews: Reviews, items: list[Listing]) -> dict[int, str | None]:
    """The latest rejection's reason of each rejected item (the review mechanism keeps it)."""
    rejected = [item.id for item in items if item.state is ListingState.REJECTED]
    latest = await reviews.latest(actions.LISTING, rejected) if rejected else {}
    return {subject: application.reason for subject, application in latest.items()}


async def _visible(request: Request, listing_id: int) -> Listing:
    """The listing if the asker may see it (see the module's docstring); 404 otherwise."""
    item = await sql.listing(request.app.state.store, listing_id)
    if item is None:
        raise Refused(404, "not_found", "listing_not_found")
    if item.state in PUBLIC:
        return item
    me: Identity | None = request.state.identity
    if me is not None and (me.has(Role.STAFF) or (item.org is not None and me.org == item.org)):
        return item
    if me is not None and await request.app.state.store.fetchone(
            "SELECT 1 FROM shops WHERE id = ? AND owner = ?", (item.shop, me.id)) is not None:  # fmt: skip
        return item
    raise Refused(404, "not_found", "listing_not_found")


def _upload_refused(exc: UploadRefused) -> Refused:
    return Refused(exc.status, exc.code, exc.key, exc.params)


async def _authorisation(request: Request, form: FormData) -> Written | None:
    """The form's authorisation document, checked and written, or None when none is given."""
    field = form.get("authorisation")
    if not isinstance(field, UploadFile) or not field.filename:
        return None
    reviews = _reviews(request)
    try:
        return await reviews.files.accept(field, _me(request).id, _now(request))
    except UploadRefused as exc:
        raise _upload_refused(exc) from None


# ---------------------------------------------------------------------- the form as a draft


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _names(value: str) -> list[str]:
    return [part.strip() for part in _NAMES.split(value) if part.strip()]


def _kind(value: str | None) -> ItemKind:
    try:
        return ItemKind(value or ItemKind.PATENT.value)
    except ValueError:
        raise Refused(400, "bad_request", "listing_bad_kind") from None


def form_draft(form: FormData) -> tuple[ListingDraft, list[FieldError]]:
    """The listing form's fields as a draft, and the fields that did not even read (a date that
    is not one, a price that is not a whole number, a value off its list). The holders are one
    field, separated like a list; the first is the holder. Only the kind's own fields are read."""
    kind = _kind(_field(form, "kind"))
    errors: list[FieldError] = []
    values: dict[str, object] = {"kind": kind}
    for name in ("title", "number", "abstract"):
        values[name] = _field(form, name)
    holders = _names(_field(form, "holder"))
    values["holder"] = holders[0] if holders else ""
    values["co_holders"] = holders[1:]

    def choice(name: str, enum: type[LegalStatus] | type[Maturity]) -> None:
        raw = _field(form, name).strip()
        if raw:
            try:
                values[name] = enum(raw)
            except ValueError:
                errors.append(FieldError(name, "bad_choice", "batch_bad_choice"))

    if kind is ItemKind.PATENT:
        values["inventors"] = _names(_field(form, "inventors"))
        values["ipc"] = _field(form, "ipc")
        choice("legal_status", LegalStatus)
        for name in ("application_date", "grant_date"):
            raw = _field(form, name).strip()
            if raw:
                try:
                    values[name] = date.fromisoformat(raw)
                except ValueError:
                    errors.append(FieldError(name, "bad_date", "listing_bad_date"))
    else:
        values["field"] = _field(form, "field")
        choice("maturity", Maturity)
    forms = []
    for chosen in form.getlist("forms")[: len(TransactionForm) + 1]:
        try:
            forms.append(TransactionForm(str(chosen)))
        except ValueError:
            errors.append(FieldError("forms", "bad_choice", "batch_bad_choice"))
    values["forms"] = forms
    price = _field(form, "start_price").strip().replace(",", "")
    if price.isascii() and price.isdigit() and len(price) <= 15:
        values["start_price"] = int(price)
    elif price:
        errors.append(FieldError("start_price", "bad_integer", "batch_bad_integer"))
    values["season"] = _field(form, "season") == "1"
    values["agreement"] = _field(form, "agreement") == "1"
    return msgspec.convert(values, ListingDraft), errors


def _form_values(draft: ListingDraft, form: FormData | None) -> dict[str, object]:
    """What the form shows again: the seller's own text when it came from a form."""
    if form is not None:
        return {name: _field(form, name) for name in ("title", "number", "holder", "inventors", "application_date",
                                                      "grant_date", "ipc", "legal_status", "abstract", "field",
                                                      "maturity", "start_price")} | {
            "forms": [str(f) for f in form.getlist("forms")], "season": _field(form, "season") == "1"}  # fmt: skip
    return {
        "title": draft.title, "number": draft.number, "holder": "；".join(draft.holders) if draft.holder else "",
        "inventors": "、".join(draft.inventors), "application_date": draft.application_date or "",
        "grant_date": draft.grant_date or "", "ipc": draft.ipc, "legal_status": draft.legal_status or "",
        "abstract": draft.abstract, "field": draft.field, "maturity": draft.maturity or "",
        "start_price": draft.start_price or "", "forms": [f.value for f in draft.forms], "season": draft.season,
    }  # fmt: skip


def _form_page(request: Request, kind: ItemKind, *, values: dict[str, object], errors: list[FieldError],
               item: Listing | None = None, refused: Refused | None = None, status: int = 200) -> Response:  # fmt: skip
    lang = lang_of(request)
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.message(lang))
    return render(request, "listings/form.html", status_code=status, kind=kind, kinds=tuple(ItemKind), values=values,
                  errors=by_field, item=item, refused=refused.message(request) if refused else None,
                  refused_code=refused.code if refused else None, agreement=actions.agreement_key(actions.AGREEMENT_VERSION),
                  agreement_version=actions.AGREEMENT_VERSION, field_key=field_key, legal_statuses=tuple(LegalStatus),
                  maturities=tuple(Maturity), transaction_forms=tuple(TransactionForm))  # fmt: skip


# ---------------------------------------------------------------------- pages


async def listing_new(request: Request) -> Response:
    await _seller(request)
    kind = _kind(request.query_params.get("kind"))
    return _form_page(request, kind, values=_form_values(ListingDraft(kind=kind), None), errors=[])


async def _submitted(request: Request, item: Listing | None) -> Response:
    """The form posted: create (``item`` None) or resubmit; the form again on any refusal."""
    seller = await _seller(request)
    form = await request.form(max_files=4, max_fields=64)
    try:
        draft, unread = form_draft(form)
    except Refused:
        raise
    if unread:
        return _form_page(request, draft.kind, values=_form_values(draft, form), errors=unread, item=item, status=400)
    reviews = _reviews(request)
    try:
        written = await _authorisation(request, form)
        if item is None:
            listing_id = await actions.create(reviews, seller, draft, authorisation=written, now=_now(request))
        else:
            listing_id = item.id
            await actions.resubmit(reviews, seller, item.id, draft, authorisation=written, now=_now(request))
    except DraftInvalid as exc:
        return _form_page(request, draft.kind, values=_form_values(draft, form), errors=exc.errors, item=item,
                          status=400)  # fmt: skip
    except Refused as exc:
        if exc.status == 404:
            raise
        return _form_page(request, draft.kind, values=_form_values(draft, form), errors=[], item=item, refused=exc,
                          status=exc.status)  # fmt: skip
    return RedirectResponse(f"/listings/{listing_id}", status_code=303)


async def listing_create(request: Request) -> Response:
    return await _submitted(request, None)


async def _own_item(request: Request) -> Listing:
    seller = await _seller(request)
    item = await sql.listing(request.app.state.store, request.path_params["listing_id"])
    if item is None or item.shop != seller.shop:
        raise Refused(404, "not_found", "listing_not_found")
    return item


async def listing_edit(request: Request) -> Response:
    item = await _own_item(request)
    if ListingAction.RESUBMIT not in next_actions(item.state):
        raise Refused(409, "bad_state", "listing_bad_state")
    return _form_page(request, item.kind, values=_form_values(item.draft, None), errors=[], item=item)


async def listing_update(request: Request) -> Response:
    return await _submitted(request, await _own_item(request))


async def listing_delist(request: Request) -> Response:
    item = await _own_item(request)
    seller = await _seller(request)
    await actions.delist(request.app.state.store, seller, item.id, now=_now(request))
    return RedirectResponse(f"/listings/{item.id}", status_code=303)


async def listing_ownership(request: Request) -> Response:
    item = await _own_item(request)
    seller = await _seller(request)
    form = await request.form(max_files=4, max_fields=64)
    try:
        wanted = Ownership(_field(form, "ownership"))
    except ValueError:
        raise Refused(400, "bad_request", "listing_bad_ownership") from None
    written = await _authorisation(request, form)
    await actions.request_ownership(_reviews(request), seller, item.id, wanted=wanted, note=_field(form, "note"),
                                    document=written, now=_now(request))  # fmt: skip
    return RedirectResponse(f"/listings/{item.id}", status_code=303)


async def listing_page(request: Request) -> Response:
    item = await _visible(request, request.path_params["listing_id"])
    me: Identity | None = request.state.identity
    reviews = _reviews(request)
    mine = False
    if me is not None:
        shop = await request.app.state.store.fetchone("SELECT 1 FROM shops WHERE id = ? AND owner = ?", (item.shop, me.id))
        mine = shop is not None
    insider = mine or (me is not None and (me.has(Role.STAFF) or (item.org is not None and me.org == item.org)))
    reason = (await _reasons(reviews, [item])).get(item.id)
    changes = await sql.changes_of(request.app.state.store, item.id) if insider else []
    return render(request, "listings/listing.html", item=item, draft=item.draft, reason=reason, mine=mine,
                  insider=insider, actions=next_actions(item.state) if mine else [], changes=changes,
                  field_key=field_key)  # fmt: skip


async def seller_centre(request: Request) -> Response:
    """The seller centre: the shop, its items by state with what can be done next, its lots live."""
    seller = await _seller(request)
    store = request.app.state.store
    items = await sql.of_shop(store, seller.shop, state=None, limit=MAX_LIST)
    reasons = await _reasons(_reviews(request), items)
    by_state = {state: [i for i in items if i.state is state] for state in SELLER_STATES}
    runtime: Runtime = request.app.state.runtime
    lots = []
    for listing_id, lot_id, session, start_price in await sql.lots_of_shop(store, seller.shop, limit=MAX_LIST):
        view = runtime.views.get(lot_id)
        lots.append({"listing": listing_id, "lot": lot_id, "session": session, "start_price": start_price,
                     "state": view.state.value if view else None, "price": view.price if view else None})  # fmt: skip
    return render(request, "listings/seller.html", seller=seller, by_state=by_state, reasons=reasons, lots=lots,
                  next_actions=next_actions, kinds=tuple(ItemKind))  # fmt: skip


async def batch_page(request: Request) -> Response:
    await _seller(request)
    return render(request, "listings/batch.html", kinds=tuple(ItemKind), report=None, batch=None, kind=None,
                  agreement=actions.agreement_key(actions.AGREEMENT_VERSION), refused=None)  # fmt: skip


async def _upload(request: Request) -> tuple[ItemKind | None, bytes]:
    """The batch form's kind (None: told by the sheet's headers) and file: at most
    ``batch.MAX_BYTES`` + 1 bytes are read."""
    form = await request.form(max_files=2, max_fields=8)
    kind = _kind(_field(form, "kind")) if _field(form, "kind") else None
    field = form.get("file")
    if not isinstance(field, UploadFile) or not field.filename:
        raise Refused(400, "missing_file", "upload_missing")
    await field.seek(0)
    return kind, await field.read(sheets.MAX_BYTES + 1)


async def batch_upload(request: Request) -> Response:
    seller = await _seller(request)
    try:
        kind, data = await _upload(request)
        batch, report = await actions.upload_batch(request.app.state.store, seller, kind, data, now=_now(request))
    except Refused as exc:
        return render(request, "listings/batch.html", status_code=exc.status, kinds=tuple(ItemKind), report=None,
                      batch=None, kind=None, agreement=actions.agreement_key(actions.AGREEMENT_VERSION),
                      refused=exc.message(request))  # fmt: skip
    return RedirectResponse(f"/seller/batches/{batch}", status_code=303)


async def batch_report(request: Request) -> Response:
    seller = await _seller(request)
    found = await actions.batch_of(request.app.state.store, seller, request.path_params["batch_id"])
    return render(request, "listings/batch.html", kinds=tuple(ItemKind), report=found.report, batch=found,
                  kind=found.kind, agreement=actions.agreement_key(actions.AGREEMENT_VERSION), refused=None,
                  rows=report_rows(found.report, lang_of(request)))  # fmt: skip


async def batch_submit(request: Request) -> Response:
    seller = await _seller(request)
    form = await request.form(max_files=0, max_fields=8)
    await actions.submit_batch(_reviews(request), seller, request.path_params["batch_id"],
                               agreement=_field(form, "agreement") == "1", now=_now(request))  # fmt: skip
    return RedirectResponse("/seller", status_code=303)


# ---------------------------------------------------------------------- JSON


async def _api_draft(request: Request) -> tuple[ListingDraft, Written | None]:
    """The body: JSON (a ``ListingDraft``), or multipart with the JSON in ``listing`` and the
    authorisation document of an ``agent`` item in ``authorisation``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=8)
        raw = form.get("listing")
        try:
            draft = msgspec.json.decode(raw if isinstance(raw, str) else b"", type=ListingDraft)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise Refused(400, "bad_request", "code_bad_request", detail=str(exc)) from None
        return draft, await _authorisation(request, form)
    return await json_body(request, ListingDraft), None


async def api_listing_create(request: Request) -> Response:
    seller = await _seller(request)
    draft, written = await _api_draft(request)
    listing_id = await actions.create(_reviews(request), seller, draft, authorisation=written, now=_now(request))
    item = await sql.listing(request.app.state.store, listing_id)
    assert item is not None
    return answer(listing_out(item, None), status=201)


async def api_listings(request: Request) -> Response:
    try:
        query = msgspec.convert(dict(request.query_params), ListingsQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Refused(400, "bad_request", "code_bad_request", detail=str(exc)) from None
    store = request.app.state.store
    if query.mine:
        if request.state.identity is None:
            raise Refused(403, "no_shop", "listing_no_shop")
        seller = await _seller(request)
        items = await sql.of_shop(store, seller.shop, state=query.state, limit=MAX_LIST)
    else:
        states = PUBLIC if query.state is None else (query.state,)
        if query.state is not None and query.state not in PUBLIC:
            raise Refused(400, "bad_request", "listing_public_states")
        items = await sql.in_states(store, states, limit=MAX_LIST)
    reasons = await _reasons(_reviews(request), items)
    return answer([listing_out(item, reasons.get(item.id)) for item in items])


async def api_listing(request: Request) -> Response:
    item = await _visible(request, request.path_params["listing_id"])
    reasons = await _reasons(_reviews(request), [item])
    return answer(listing_out(item, reasons.get(item.id)))


async def api_listing_update(request: Request) -> Response:
    seller = await _seller(request)
    draft, written = await _api_draft(request)
    listing_id: int = request.path_params["listing_id"]
    await actions.resubmit(_reviews(request), seller, listing_id, draft, authorisation=written, now=_now(request))
    item = await sql.listing(request.app.state.store, listing_id)
    assert item is not None
    return answer(listing_out(item, None))


async def api_listing_delist(request: Request) -> Response:
    seller = await _seller(request)
    listing_id: int = request.path_params["listing_id"]
    await actions.delist(request.app.state.store, seller, listing_id, now=_now(request))
    item = await sql.listing(request.app.state.store, listing_id)
    assert item is not None
    return answer(listing_out(item, None))


XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _template(kind: ItemKind) -> Endpoint:
    """The download of ``kind``'s batch template, in the asker's language (LS-8)."""
    name = {ItemKind.PATENT: "patents.xlsx", ItemKind.ACHIEVEMENT: "achievements.xlsx"}[kind]

    async def download(request: Request) -> Response:
        data = await asyncio.to_thread(sheets.template, kind, lang_of(request))
        return Response(data, media_type=XLSX, headers={"content-disposition": f'attachment; filename="{name}"'})

    return download


async def api_listing_batch(request: Request) -> Response:
    seller = await _seller(request)
    kind, data = await _upload(request)
    batch, report = await actions.upload_batch(request.app.state.store, seller, kind, data, now=_now(request))
    return answer(BatchAnswer(batch, report_rows(report, lang_of(request))), status=201)


async def api_listing_batch_submit(request: Request) -> Response:
    seller = await _seller(request)
    body = await json_body(request, BatchSubmit)
    listed = await actions.submit_batch(_reviews(request), seller, request.path_params["batch_id"],
                                        agreement=body.agreement, now=_now(request))  # fmt: skip
    return answer(BatchListed(listed), status=201)


_WRITE_ERRORS: Final = {400: ("invalid",), 403: ("no_shop",), 409: ("not_eligible", "org_limit", "pending"),
                        413: ("too_large",), 415: ("unsupported_media_type",)}  # fmt: skip

routes = [
    route("/seller", seller_centre, name="seller_centre"),
    route("/seller/listings/new", listing_new, name="listing_new"),
    route("/seller/listings", listing_create, name="listing_create", methods=("POST",)),
    route("/seller/listings/{listing_id:id}/edit", listing_edit, name="listing_edit"),
    route("/seller/listings/{listing_id:id}", listing_update, name="listing_update", methods=("POST",)),
    route("/seller/listings/{listing_id:id}/delist", listing_delist, name="listing_delist", methods=("POST",)),
    route("/seller/listings/{listing_id:id}/ownership", listing_ownership, name="listing_ownership", methods=("POST",)),
    route("/seller/batches", batch_page, name="batch_page"),
    route("/seller/batches", batch_upload, name="batch_upload", methods=("POST",)),
    route("/seller/batches/{batch_id:id}", batch_report, name="batch_report"),
    route("/seller/batches/{batch_id:id}/submit", batch_submit, name="batch_submit", methods=("POST",)),
    route("/listings/{listing_id:id}", listing_page, name="listing_page"),
    route("/api/listings", api_listing_create, name="api_listing_create", methods=("POST",),
          api=Api(tag=TAG, summary="List an item (LS-2): pending until staff approve it", body=ListingDraft,
                  answer=ListingOut, status=201, errors=_WRITE_ERRORS,
                  description="An `agent` item's authorisation document: send multipart/form-data instead, the "
                              "JSON in the field `listing` and the document in `authorisation`.")),
    route("/api/listings", api_listings, name="api_listings",
          api=Api(tag=TAG, summary="Listings: the public ones, or with mine=1 your shop's", query=ListingsQuery,
                  answer=list[ListingOut], errors={400: ("bad_request",), 403: ("no_shop",)})),
    route("/api/listings/{listing_id:id}", api_listing, name="api_listing",
          api=Api(tag=TAG, summary="One listing, with its state and the reason of a rejection", answer=ListingOut,
                  errors={404: ("not_found",)})),
    route("/api/listings/{listing_id:id}", api_listing_update, name="api_listing_update", methods=("PUT",),
          api=Api(tag=TAG, summary="Edit a rejected or delisted item and submit it again", body=ListingDraft,
                  answer=ListingOut, errors={**_WRITE_ERRORS, 404: ("not_found",),
                                             409: ("bad_state", "not_eligible", "org_limit", "pending")})),
    route("/api/listings/{listing_id:id}/delist", api_listing_delist, name="api_listing_delist", methods=("POST",),
          api=Api(tag=TAG, summary="Delist an item no session holds (LS-9)", answer=ListingOut,
                  errors={403: ("no_shop",), 404: ("not_found",), 409: ("in_auction", "bad_state")})),
    route("/api/templates/patents.xlsx", _template(ItemKind.PATENT), name="api_template_patents",
          api=Api(tag=TAG, summary="The batch template for invention patents (LS-8)", media=XLSX)),
    route("/api/templates/achievements.xlsx", _template(ItemKind.ACHIEVEMENT), name="api_template_achievements",
          api=Api(tag=TAG, summary="The batch template for technology achievements (LS-8)", media=XLSX)),
    route("/api/listings/batch", api_listing_batch, name="api_listing_batch", methods=("POST",),
          api=Api(tag=TAG, summary="Upload a filled template: its per-row report (LS-8)", upload="file",
                  answer=BatchAnswer, status=201,
                  errors={400: ("missing_file", "not_xlsx", "zip_bomb", "formula", "too_many_rows", "bad_headers",
                                "empty"), 403: ("no_shop",), 413: ("too_large",)})),
    route("/api/listings/batch/{batch_id:id}/submit", api_listing_batch_submit, name="api_listing_batch_submit",
          methods=("POST",),
          api=Api(tag=TAG, summary="List an upload's good rows in one action", body=BatchSubmit, answer=BatchListed,
                  status=201, errors={400: ("invalid",), 403: ("no_shop",), 404: ("not_found",),
                                      409: ("batch_submitted", "batch_nothing", "not_eligible", "org_limit"),
                                      410: ("batch_expired",), 415: ("unsupported_media_type",)})),
]
