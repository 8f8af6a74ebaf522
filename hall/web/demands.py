"""Demands at the edge (CR-1 to CR-4, CR-11): the crowdsourcing home (published demands, by
state, industry and words), a demand's page, the posting form, its edit (resubmit, restart), the
account's demands (科研众包需求管理), the batch upload of the 《需求征集表》, entrustments, and
their JSON twins (docs/api.md, "Crowdsourcing").

Thin: each route bounds its input, asks ``hall.store.demands.demand_access`` where the asker
stands, calls one action of ``hall.demand_posting`` and renders or answers. What a relation may
not see is never handed to a template or an answer: ``demand_out`` leaves a hidden field out of
the JSON (absent, not null), and the pages are given ``withheld`` and show none of it.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Final

import msgspec
from msgspec import UNSET, UnsetType
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import batch as sheets
from hall import demand_posting as posting
from hall.auctions import Industry
from hall.auth.roles import Identity
from hall.demand_posting import DemandDraft, DemandRowReport, EntrustmentAction, Hideable
from hall.demands import (
    Cooperation,
    DemandState,
    Relation,
    ServiceMode,
    sees_private,
    selection_closes,
    takes_responses,
)
from hall.listing_actions import DraftInvalid
from hall.listings import FieldError
from hall.store import demands as sql
from hall.store.demands import PUBLIC_STATES, DemandRow
from hall.store.matching import hot_lists
from hall.web import params
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of
from hall.web.listings import XLSX, BatchRow, CellProblem
from hall.web.openapi import Api
from hall.web.reviews import _me, _now, _reviews
from hall.web.security import answer, route
from hall.web.templating import iso, render

TAG: Final = "crowdsourcing"
Q_MAX: Final = 100
"""Characters of a search read at all."""
MAX_FIELD: Final = 5000
"""Characters of one form field read at all (the rules bound each far below)."""
HOME_HOT: Final = 3
"""Demands of each industry's hot list the home page shows (``/demands/hot`` shows more)."""


# ---------------------------------------------------------------------- wire shapes


class DemandStatus(msgspec.Struct):
    """A demand's id and the state a change left it in (posted: ``pending``; withdrawn)."""

    id: int
    state: DemandState


class DemandOut(msgspec.Struct, kw_only=True):
    """A demand as the API gives it to one asker. A field the demand side hid (CR-4) is ABSENT
    for anyone but staff, the side and its transfer organisation; so are the fields that only
    they see (``hidden``, ``reason``, ``next_actions``, the agency, the rounds)."""

    id: int
    number: str | None
    """``ZB`` + year + 4 digits, once published (CR-3)."""
    state: DemandState
    round: int
    title: str
    industry: Industry
    description: str
    service_mode: ServiceMode
    cooperation: Cooperation
    valid_until: date
    response_deadline: date
    published_at: str | None
    takes_responses: bool
    """Whether solvers may respond now (CR-5, CR-7)."""
    selection_closes: str
    """When adoption closes: 2 weeks after the response deadline (CR-7)."""
    enterprise: str | UnsetType = UNSET
    """The demand side's organisation (hideable)."""
    investment: int | UnsetType = UNSET
    """Intended investment, whole yuan (hideable)."""
    requirements: str | UnsetType = UNSET
    manager: str | UnsetType = UNSET
    contact_name: str | UnsetType = UNSET
    contact_phone: str | UnsetType = UNSET
    hidden: list[str] | UnsetType = UNSET
    """The fields hidden from the public (private relations only)."""
    agency: str | None | UnsetType = UNSET
    """The entrusted transfer organisation (private relations only)."""
    entrustment: int | None | UnsetType = UNSET
    reason: str | None | UnsetType = UNSET
    """Why staff rejected it, while it is rejected (private relations only)."""
    next_actions: list[str] | UnsetType = UNSET
    """What the asker can do now: ``edit``, ``restart``, ``withdraw``."""
    relation: Relation | UnsetType = UNSET
    """Where the asker stands (private relations only: ``staff``, ``side``, ``agency``)."""


class DemandsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    state: DemandState | None = None
    """Public list: ``published`` (default: every published state), ``resolved``, ``unresolved``;
    with ``mine=1`` any state."""
    industry: Industry | None = None
    q: Annotated[str, msgspec.Meta(max_length=Q_MAX)] = ""
    """Words the demand's public text must all contain."""
    page: Annotated[int, msgspec.Meta(ge=1, le=sql.MAX_PAGE)] = 1
    mine: Annotated[int, msgspec.Meta(ge=0, le=1)] = 0
    """1: the demands you stand on the side of or work as their agency, every state."""


class DemandPage(msgspec.Struct):
    demands: list[DemandOut]
    page: int
    pages: int
    total: int


class DemandBatchAnswer(msgspec.Struct):
    rows: list[BatchRow]
    demands: list[int]
    """The demands posted (pending review): empty when any row is bad (nothing is posted)."""


class EntrustBody(msgspec.Struct, forbid_unknown_fields=True):
    agency_org: Annotated[int, msgspec.Meta(ge=1, le=params.ID_MAX)]
    """One of ``GET /api/agencies``."""
    note: Annotated[str, msgspec.Meta(max_length=posting.NOTE_MAX)] = ""


class EntrustmentDecision(msgspec.Struct, forbid_unknown_fields=True):
    action: EntrustmentAction


class EntrustmentOut(msgspec.Struct, kw_only=True):
    id: int
    enterprise: str
    agency_org: int
    agency: str
    note: str
    state: str
    """``pending``, ``accepted``, ``declined``, ``withdrawn``."""
    created_at: str
    decided_at: str | None
    role: str
    """Yours as ``enterprise`` (you gave it) or ``agency`` (your organisation received it)."""


class Agency(msgspec.Struct):
    id: int
    name: str


# ---------------------------------------------------------------------- plumbing


def _viewer(request: Request) -> Identity | None:
    """The caller, signed in or not (the public pages are open to all)."""
    identity: Identity | None = request.state.identity
    return identity


async def _reason(request: Request, found: DemandRow) -> str | None:
    """The latest rejection's reason while the demand is rejected (the review mechanism keeps it)."""
    if found.state is not DemandState.REJECTED:
        return None
    latest = await _reviews(request).latest(posting.KIND, [found.id])
    application = latest.get(found.id)
    return application.reason if application else None


def demand_out(found: DemandRow, who: Relation, *, now: int, reason: str | None = None) -> DemandOut:
    """The demand as ``who`` may see it: the hidden fields left out for the public (CR-4)."""
    withheld = found.withheld(who)
    out = DemandOut(
        id=found.id, number=found.number, state=found.state, round=found.round, title=found.title,
        industry=found.industry, description=found.description, service_mode=found.service_mode,
        cooperation=found.cooperation, valid_until=found.valid_until, response_deadline=found.response_deadline,
        published_at=iso(found.published_at),
        takes_responses=takes_responses(found.state, found.service_mode, found.response_deadline,
                                        adopted_at=found.adopted_at, now=now),
        selection_closes=iso(selection_closes(found.response_deadline)) or "",
    )  # fmt: skip
    if "enterprise" not in withheld:
        out.enterprise = found.enterprise_name
    if "investment" not in withheld:
        out.investment = found.investment
    if "requirements" not in withheld:
        out.requirements = found.requirements
    if "manager" not in withheld:
        out.manager = found.manager
    if "contact" not in withheld:
        out.contact_name, out.contact_phone = found.contact_name, found.contact_phone
    if sees_private(who):
        out.hidden, out.agency, out.entrustment = list(found.hidden), found.agency_name, found.entrustment
        out.reason, out.next_actions, out.relation = reason, posting.next_actions(found, who), who
    return out


def _query(request: Request) -> DemandsQuery:
    try:
        given = {k: v for k, v in request.query_params.items() if v != ""}  # a filter left at "all"
        return msgspec.convert(given, DemandsQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Refused(400, "bad_request", "code_bad_request", detail=str(exc)) from None


async def _found(request: Request, query: DemandsQuery) -> tuple[list[DemandRow], int]:
    """The demands a list asks for: the asker's own (``mine``), or the public ones."""
    store = request.app.state.store
    if query.mine:
        me = _viewer(request)
        if me is None:
            raise Refused(401, "unauthenticated", "err_sign_in")
        return await sql.of_account(store, me, state=query.state, page=query.page)
    if query.state is not None and query.state not in PUBLIC_STATES:
        raise Refused(400, "bad_request", "crowd_a_public_states")
    states = (DemandState.PUBLISHED,) if query.state is None else (query.state,)
    return await sql.search(store, states=states, industry=query.industry, q=query.q, page=query.page)


def _pages(total: int) -> int:
    return max(1, min(sql.MAX_PAGE, -(-total // sql.PAGE_SIZE)))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def form_draft(form: FormData) -> tuple[DemandDraft, list[FieldError]]:
    """The demand form as a draft, and the fields that did not even read (a date that is not
    one, an amount that is not a whole number, a value off its list)."""
    errors: list[FieldError] = []
    values: dict[str, object] = {name: _field(form, name) for name in ("title", "description", "requirements",
                                                                       "manager", "contact_name", "contact_phone")}  # fmt: skip
    for name, enum in (("industry", Industry), ("cooperation", Cooperation), ("service_mode", ServiceMode)):
        raw = _field(form, name).strip()
        if raw:
            try:
                values[name] = enum(raw)
            except ValueError:
                errors.append(FieldError(name, "bad_choice", "batch_bad_choice"))
    for name in ("valid_until", "response_deadline"):
        raw = _field(form, name).strip()
        if raw:
            try:
                values[name] = date.fromisoformat(raw)
            except ValueError:
                errors.append(FieldError(name, "bad_date", "listing_bad_date"))
    amount = _field(form, "investment").strip().replace(",", "")
    if amount.isascii() and amount.isdigit() and len(amount) <= 15:
        values["investment"] = int(amount)
    elif amount:
        errors.append(FieldError("investment", "bad_integer", "batch_bad_integer"))
    values["hidden"] = [str(h) for h in form.getlist("hidden")[: len(Hideable) + 1]]
    if _field(form, "entrustment"):
        values["entrustment"] = params.whole(_field(form, "entrustment"), "entrustment", low=1)
    return msgspec.convert(values, DemandDraft), errors


def _form_values(draft: DemandDraft, form: FormData | None) -> dict[str, object]:
    """What the form shows again: the asker's own text when it came from a form."""
    names = ("title", "industry", "description", "requirements", "manager", "service_mode", "investment",
             "cooperation", "contact_name", "contact_phone", "valid_until", "response_deadline", "entrustment")  # fmt: skip
    if form is not None:
        return {name: _field(form, name) for name in names} | {"hidden": [str(h) for h in form.getlist("hidden")]}
    values = {name: getattr(draft, name) for name in names}
    return {k: "" if v is None or v == 0 else (v.value if isinstance(v, (Industry, Cooperation, ServiceMode)) else v)
            for k, v in values.items()} | {"hidden": list(draft.hidden)}  # fmt: skip


async def _form_page(request: Request, *, values: dict[str, object], errors: list[FieldError],
                     found: DemandRow | None = None, refused: Refused | None = None, status: int = 200) -> Response:  # fmt: skip
    me = _me(request)
    store = request.app.state.store
    lang = lang_of(request)
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.message(lang))
    entrustments = [e for e in await sql.entrustments_of(store, me) if e.state == "accepted" and e.agency_org == me.org]
    return render(request, "demands/form.html", status_code=status, values=values, errors=by_field, found=found,
                  refused=refused.message(request) if refused else None, refused_code=refused.code if refused else None,
                  enterprise=await posting.is_enterprise(store, me.id), entrustments=entrustments,
                  industries=tuple(Industry), cooperations=tuple(Cooperation), modes=tuple(ServiceMode),
                  hideable=tuple(Hideable), choice=posting.choice_key)  # fmt: skip


async def _visible(request: Request) -> tuple[DemandRow, Relation]:
    return await sql.demand_access(request.app.state.store, request.path_params["demand_id"], _viewer(request))


# ---------------------------------------------------------------------- pages


async def demands_home(request: Request) -> Response:
    """The crowdsourcing home: each industry's hot list (CR-10, the industries that have one),
    then the published demands, filtered and paginated; hidden fields never shown."""
    query = _query(request)
    found, total = await _found(request, msgspec.structs.replace(query, mine=0))
    hot = {industry: cards for industry, cards in (await hot_lists(request.app.state.store, HOME_HOT)).items() if cards}
    return render(request, "demands/home.html", demands=found, total=total, query=query, pages=_pages(total), hot=hot,
                  industries=tuple(Industry), states=PUBLIC_STATES, q_max=Q_MAX, public=Relation.PUBLIC,
                  choice=posting.choice_key)  # fmt: skip


async def demand_page(request: Request) -> Response:
    found, who = await _visible(request)
    now = _now(request)
    if who is Relation.PUBLIC:  # the views the hot lists rank by (CR-10): the public's, not the parties'
        async with request.app.state.store.transaction() as tx:
            await tx.execute("UPDATE demands SET views = views + 1 WHERE id = ?", (found.id,))
    private = sees_private(who)
    return render(request, "demands/demand.html", d=found, who=who.value, private=private,
                  withheld=found.withheld(who), reason=await _reason(request, found) if private else None,
                  actions=posting.next_actions(found, who),
                  rounds=await sql.rounds(request.app.state.store, found.id) if private else [],
                  open=takes_responses(found.state, found.service_mode, found.response_deadline,
                                       adopted_at=found.adopted_at, now=now),
                  closes=selection_closes(found.response_deadline), choice=posting.choice_key)  # fmt: skip


async def demand_new(request: Request) -> Response:
    """The empty form; ``?entrustment=`` preselects the entrustment an organisation posts under."""
    values = _form_values(DemandDraft(), None) | {"entrustment": request.query_params.get("entrustment", "")[:20]}
    return await _form_page(request, values=values, errors=[])


async def _submitted(request: Request, found: DemandRow | None) -> Response:
    """The form posted: create (``found`` None) or resubmit/restart; the form again on any refusal."""
    form = await request.form(max_files=0, max_fields=64)
    draft, unread = form_draft(form)
    if unread:
        return await _form_page(request, values=_form_values(draft, form), errors=unread, found=found, status=400)
    store, me, now = request.app.state.store, _me(request), _now(request)
    try:
        if found is None:
            demand_id = await posting.create(store, me, draft, now=now)
        else:
            demand_id = found.id
            await posting.resubmit(store, me, found.id, draft, now=now)
    except DraftInvalid as exc:
        return await _form_page(request, values=_form_values(draft, form), errors=exc.errors, found=found, status=400)
    except Refused as exc:
        if exc.status == 404:
            raise
        return await _form_page(request, values=_form_values(draft, form), errors=[], found=found, refused=exc,
                                status=exc.status)  # fmt: skip
    return RedirectResponse(f"/demands/{demand_id}", status_code=303)


async def demand_create(request: Request) -> Response:
    return await _submitted(request, None)


async def _worked(request: Request) -> DemandRow:
    found, who = await _visible(request)
    if not posting.works(who, found):
        raise Refused(403, "not_yours", "crowd_a_not_yours")
    return found


async def demand_edit(request: Request) -> Response:
    found = await _worked(request)
    if found.state not in posting.EDITABLE:
        raise Refused(409, "bad_state", "crowd_a_bad_state")
    return await _form_page(request, values=_form_values(posting.draft_of(found), None), errors=[], found=found)


async def demand_update(request: Request) -> Response:
    return await _submitted(request, await _worked(request))


async def demand_withdraw(request: Request) -> Response:
    demand_id: int = request.path_params["demand_id"]
    await posting.withdraw(request.app.state.store, _me(request), demand_id, now=_now(request))
    return RedirectResponse(f"/demands/{demand_id}", status_code=303)


async def demand_mine(request: Request) -> Response:
    """科研众包需求管理: every demand the account stands on the side of or works as agency."""
    query = _query(request)
    me = _me(request)
    found, total = await sql.of_account(request.app.state.store, me, state=query.state, page=query.page)
    return render(request, "demands/mine.html", demands=found, total=total, query=query, pages=_pages(total),
                  states=tuple(DemandState), me_id=me.id, relation=lambda d: d.relation(me),
                  next_actions=posting.next_actions)  # fmt: skip


def _report_rows(reports: list[DemandRowReport], lang: str) -> list[BatchRow]:
    return [BatchRow(r.row, r.ok, [CellProblem(**e.json(lang)) for e in r.errors]) for r in reports]


async def _upload(request: Request) -> bytes:
    """The batch form's file: at most ``batch.MAX_BYTES`` + 1 bytes are read."""
    form = await request.form(max_files=2, max_fields=8)
    field = form.get("file")
    if not isinstance(field, UploadFile) or not field.filename:
        raise Refused(400, "missing_file", "upload_missing")
    await field.seek(0)
    return await field.read(sheets.MAX_BYTES + 1)


async def demand_batch_page(request: Request) -> Response:
    return render(request, "demands/batch.html", rows=None, posted=[], refused=None)


async def demand_batch_upload(request: Request) -> Response:
    try:
        data = await _upload(request)
        reports, posted = await posting.upload(request.app.state.store, _me(request), data, now=_now(request))
    except Refused as exc:
        return render(request, "demands/batch.html", status_code=exc.status, rows=None, posted=[],
                      refused=exc.message(request))  # fmt: skip
    return render(request, "demands/batch.html", status_code=200 if posted else 400,
                  rows=_report_rows(reports, lang_of(request)), posted=posted, refused=None)  # fmt: skip


async def demand_entrustments(request: Request) -> Response:
    me = _me(request)
    store = request.app.state.store
    return render(request, "demands/entrustments.html", entrustments=await sql.entrustments_of(store, me),
                  agencies=await sql.agencies(store), enterprise=await posting.is_enterprise(store, me.id),
                  me_id=me.id, refused=None)  # fmt: skip


async def demand_entrust(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=8)
    agency = params.whole(_field(form, "agency_org"), "agency_org", low=1)
    await posting.entrust(request.app.state.store, _me(request), agency_org=agency, note=_field(form, "note"),
                          now=_now(request))  # fmt: skip
    return RedirectResponse("/entrustments", status_code=303)


async def demand_entrustment_answer(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=8)
    try:
        action = EntrustmentAction(_field(form, "action"))
    except ValueError:
        raise Refused(400, "bad_request", "code_bad_request") from None
    await posting.answer_entrustment(request.app.state.store, _me(request), request.path_params["entrustment_id"],
                                     action, now=_now(request))  # fmt: skip
    return RedirectResponse("/entrustments", status_code=303)


# ---------------------------------------------------------------------- JSON


async def api_demand_create(request: Request) -> Response:
    draft = await json_body(request, DemandDraft)
    demand_id = await posting.create(request.app.state.store, _me(request), draft, now=_now(request))
    return answer(DemandStatus(demand_id, DemandState.PENDING), status=201)


async def api_demands(request: Request) -> Response:
    query = _query(request)
    found, total = await _found(request, query)
    me, now = _viewer(request), _now(request)
    out = [demand_out(d, d.relation(me) if query.mine else Relation.PUBLIC, now=now) for d in found]
    return answer(DemandPage(out, query.page, _pages(total), total))


async def api_demand(request: Request) -> Response:
    found, who = await _visible(request)
    reason = await _reason(request, found) if sees_private(who) else None
    return answer(demand_out(found, who, now=_now(request), reason=reason))


async def api_demand_update(request: Request) -> Response:
    draft = await json_body(request, DemandDraft)
    demand_id: int = request.path_params["demand_id"]
    me = _me(request)
    await posting.resubmit(request.app.state.store, me, demand_id, draft, now=_now(request))
    found, who = await _visible(request)
    return answer(demand_out(found, who, now=_now(request)))


async def api_demand_withdraw(request: Request) -> Response:
    demand_id: int = request.path_params["demand_id"]
    await posting.withdraw(request.app.state.store, _me(request), demand_id, now=_now(request))
    return answer(DemandStatus(demand_id, DemandState.WITHDRAWN))


async def api_demand_batch(request: Request) -> Response:
    data = await _upload(request)
    reports, posted = await posting.upload(request.app.state.store, _me(request), data, now=_now(request))
    return answer(DemandBatchAnswer(_report_rows(reports, lang_of(request)), posted))


async def api_demand_template(request: Request) -> Response:
    data = await asyncio.to_thread(posting.template, lang_of(request))
    return Response(data, media_type=XLSX, headers={"content-disposition": 'attachment; filename="demands.xlsx"'})


def _entrustment_out(e: sql.Entrustment, me: Identity) -> EntrustmentOut:
    return EntrustmentOut(id=e.id, enterprise=e.enterprise_name, agency_org=e.agency_org, agency=e.agency_name,
                          note=e.note, state=e.state, created_at=iso(e.created_at) or "", decided_at=iso(e.decided_at),
                          role="agency" if me.org is not None and me.org == e.agency_org else "enterprise")  # fmt: skip


async def api_demand_entrustments(request: Request) -> Response:
    me = _me(request)
    return answer([_entrustment_out(e, me) for e in await sql.entrustments_of(request.app.state.store, me)])


async def api_demand_entrust(request: Request) -> Response:
    body = await json_body(request, EntrustBody)
    me = _me(request)
    store = request.app.state.store
    entrustment = await posting.entrust(store, me, agency_org=body.agency_org, note=body.note, now=_now(request))
    found = await sql.entrustment(store, entrustment)
    assert found is not None
    return answer(_entrustment_out(found, me), status=201)


async def api_demand_entrustment_answer(request: Request) -> Response:
    body = await json_body(request, EntrustmentDecision)
    me = _me(request)
    decided = await posting.answer_entrustment(request.app.state.store, me, request.path_params["entrustment_id"],
                                               body.action, now=_now(request))  # fmt: skip
    return answer(_entrustment_out(decided, me))


async def api_demand_agencies(request: Request) -> Response:
    return answer([Agency(i, name) for i, name in await sql.agencies(request.app.state.store)])


_POST_ERRORS: Final = {400: ("invalid",), 403: ("not_enterprise", "not_entrusted")}
_EDIT_ERRORS: Final = {400: ("invalid",), 403: ("not_yours",), 404: ("not_found",), 409: ("bad_state", "pending")}
_ENTRUST_ERRORS: Final = {400: ("invalid", "not_agency"), 403: ("not_enterprise",), 409: ("entrusted",)}
_ANSWER_ERRORS: Final = {403: ("not_yours",), 404: ("not_found",), 409: ("bad_state",)}

routes = [
    route("/demands", demands_home, name="demand_home"),
    route("/demands", demand_create, name="demand_create", methods=("POST",)),
    route("/demands/new", demand_new, name="demand_new"),
    route("/demands/batch", demand_batch_page, name="demand_batch_page"),
    route("/demands/batch", demand_batch_upload, name="demand_batch_upload", methods=("POST",)),
    route("/demands/{demand_id:id}", demand_page, name="demand_page"),
    route("/demands/{demand_id:id}/edit", demand_edit, name="demand_edit"),
    route("/demands/{demand_id:id}/edit", demand_update, name="demand_update", methods=("POST",)),
    route("/demands/{demand_id:id}/withdraw", demand_withdraw, name="demand_withdraw", methods=("POST",)),
    route("/my/demands", demand_mine, name="demand_mine"),
    route("/entrustments", demand_entrustments, name="demand_entrustments"),
    route("/entrustments", demand_entrust, name="demand_entrust", methods=("POST",)),
    route("/entrustments/{entrustment_id:id}", demand_entrustment_answer, name="demand_entrustment_answer",
          methods=("POST",)),
    route("/api/demands", api_demand_create, name="api_demand_create", methods=("POST",),
          api=Api(tag=TAG, summary="Post a demand (CR-2, CR-3): pending until staff approve it (kind demand)",
                  body=DemandDraft, answer=DemandStatus, status=201,
                  errors={**_POST_ERRORS, 415: ("unsupported_media_type",)})),
    route("/api/demands", api_demands, name="api_demands",
          api=Api(tag=TAG, summary="Published demands by state, industry and words; with mine=1 your own",
                  query=DemandsQuery, answer=DemandPage, errors={400: ("bad_request",)})),
    route("/api/demands/batch", api_demand_batch, name="api_demand_batch", methods=("POST",),
          api=Api(tag=TAG, summary="Upload a filled 需求征集表 (CR-11): its per-row report, every row posted or none",
                  upload="file", answer=DemandBatchAnswer,
                  errors={400: ("missing_file", "not_xlsx", "zip_bomb", "formula", "too_many_rows", "bad_headers",
                                "empty"), 413: ("too_large",)})),
    route("/api/demands/{demand_id:id}", api_demand, name="api_demand",
          api=Api(tag=TAG, summary="One demand, its hidden fields absent for those who may not see them",
                  answer=DemandOut, errors={404: ("not_found",)})),
    route("/api/demands/{demand_id:id}", api_demand_update, name="api_demand_update", methods=("PUT",),
          api=Api(tag=TAG, summary="Edit a rejected demand, or restart an unresolved one, and submit it again",
                  body=DemandDraft, answer=DemandOut, errors={**_EDIT_ERRORS, 415: ("unsupported_media_type",)})),
    route("/api/demands/{demand_id:id}/withdraw", api_demand_withdraw, name="api_demand_withdraw", methods=("POST",),
          api=Api(tag=TAG, summary="Withdraw a demand while it is pending review", answer=DemandStatus,
                  errors={403: ("not_yours",), 404: ("not_found",), 409: ("bad_state",)})),
    route("/api/templates/demands.xlsx", api_demand_template, name="api_demand_template",
          api=Api(tag=TAG, summary="The 需求征集表 template (CR-11)", media=XLSX)),
    route("/api/agencies", api_demand_agencies, name="api_demand_agencies",
          api=Api(tag=TAG, summary="The transfer organisations an enterprise may entrust", answer=list[Agency])),
    route("/api/entrustments", api_demand_entrustments, name="api_demand_entrustments",
          api=Api(tag=TAG, summary="Entrustments you gave or your organisation received", answer=list[EntrustmentOut])),
    route("/api/entrustments", api_demand_entrust, name="api_demand_entrust", methods=("POST",),
          api=Api(tag=TAG, summary="Entrust a transfer organisation with your demands (CR-2)", body=EntrustBody,
                  answer=EntrustmentOut, status=201, errors={**_ENTRUST_ERRORS, 415: ("unsupported_media_type",)})),
    route("/api/entrustments/{entrustment_id:id}", api_demand_entrustment_answer, name="api_demand_entrustment_answer",
          methods=("POST",),
          api=Api(tag=TAG, summary="Accept or decline an entrustment (the organisation), or withdraw it (the enterprise)",
                  body=EntrustmentDecision, answer=EntrustmentOut,
                  errors={**_ANSWER_ERRORS, 400: ("bad_request",), 415: ("unsupported_media_type",)})),
]
