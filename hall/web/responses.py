"""Solutions, 立即咨询, adoption, the service log, the outcome and reward applications as pages and
JSON (issue 13, piece B), and the signed-in account's inbox as JSON.

Thin: parse, call the action of ``hall/responses.py`` (which checks who may do what, and when),
render. A demand the caller may not see is 404; a response or thread that is not the caller's
is 404 too, so another solver learns nothing. Time is the runtime's clock, so that tests drive
the response deadline and the selection window with a fake one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import responses
from hall.demands import DemandState, Relation, day_end, sees_private
from hall.responses import (
    MAX_FILES,
    PAGE,
    Attachment,
    Created,
    DemandStatus,
    LogBody,
    LogItem,
    MessageBody,
    MessageItem,
    OutcomeBody,
    ResponseItem,
    RewardItem,
    SolutionBody,
)
from hall.engine.spec import MAX_AMOUNT
from hall.reviews import Reviews
from hall.store import responses as sql
from hall.store.demands import DemandRow, demand_access
from hall.uploads import UploadRefused, Written
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of, text
from hall.web.openapi import Api
from hall.web.params import ID_MAX, whole
from hall.web.reviews import _form, _me, _now, _reviews, attachment, written_uploads
from hall.web.security import answer, route
from hall.web.templating import iso, render
from hall.workdays import beijing_date

D: Final = "/demands/{demand_id:id}"
A: Final = "/api/demands/{demand_id:id}"
SOLUTION_FIELDS: Final = ("summary", "approach", "team", "budget")
INBOX_PAGE: Final = 50
INBOX_MAX: Final = 100


# ---------------------------------------------------------------------- the API's queries and answers


class PageQuery(msgspec.Struct):
    """A list's page (read with ``params.whole``)."""

    page: Annotated[int, msgspec.Meta(ge=1, le=10_000, description=f"{PAGE} rows a page, newest first")] = 1


class MessagesQuery(msgspec.Struct):
    solver: Annotated[int | None, msgspec.Meta(description="one thread, by its solver's id (the demand side)")] = None
    before: Annotated[int | None, msgspec.Meta(description="messages with ids below this one")] = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=INBOX_MAX)] = INBOX_PAGE


class InboxQuery(msgspec.Struct):
    before: Annotated[int | None, msgspec.Meta(description="messages with ids below this one: the last page's next_before")] = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=INBOX_MAX)] = INBOX_PAGE


class InboxItem(msgspec.Struct):
    id: int
    body: str
    at: str
    read: bool
    sms: bool
    """Sent as an SMS too; false for an inbox-only notice."""


class InboxPage(msgspec.Struct):
    messages: list[InboxItem]
    unread: int
    next_before: int | None
    """The ``before`` of the next (older) page; null on the last."""


# ---------------------------------------------------------------------- plumbing


async def _access(request: Request) -> tuple[DemandRow, Relation]:
    return await demand_access(_reviews(request).store, request.path_params["demand_id"], request.state.identity)


def _page_number(request: Request) -> int:
    return whole(request.query_params.get("page"), "page", default=1, low=1, high=10_000)


def _text(form: FormData, key: str) -> str:
    """A form field as typed: ``hall.responses.clean`` checks it, keeping its line breaks."""
    value = form.get(key)
    return value if isinstance(value, str) else ""


async def _uploads(request: Request, form: FormData, field: str) -> list[Written]:
    return await written_uploads(request, form, field, MAX_FILES,
                                 Refused(400, "too_many_files", "crowd_b_err_too_many_files", {"n": MAX_FILES}))


def _said(request: Request, exc: Refused | UploadRefused) -> tuple[int, str, str]:
    """A refusal's status, code and message in the asker's language."""
    if isinstance(exc, Refused):
        return exc.status, exc.code, exc.message(request)
    return exc.status, exc.code, text(exc.key, lang_of(request), exc.params)


def _api(act: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An API call whose upload refusals answer as the JSON error."""

    async def endpoint(request: Request) -> Response:
        try:
            return await act(request)
        except UploadRefused as exc:
            raise Refused(exc.status, exc.code, exc.key, exc.params) from None

    return endpoint


async def response_items(reviews: Reviews, rows: list[sql.ResponseRow]) -> list[ResponseItem]:
    files: dict[int, list[sql.FileRow]] = {}
    for f in await sql.files_of(reviews.store, [r.id for r in rows]):
        files.setdefault(f.response, []).append(f)
    return [ResponseItem(
        id=r.id, demand=r.demand, number=r.demand_number, title=r.demand_title, round=r.round, solver=r.solver_name,
        organisation=r.solver_org_name, summary=r.summary, approach=r.approach, team=r.team, budget=r.budget,
        state=r.state,  # type: ignore[arg-type]
        submitted_at=iso(r.created_at) or "",
        attachments=[Attachment(id=f.id, name=f.name, url=f"/demands/{r.demand}/responses/{r.id}/files/{f.id}")
                     for f in files.get(r.id, [])],
    ) for r in rows]  # fmt: skip


def message_item(row: sql.MessageRow) -> MessageItem:
    return MessageItem(id=row.id, solver=row.solver, solver_name=row.solver_name,
                       by="solver" if row.author == row.solver else "demand_side", body=row.body,
                       at=iso(row.created_at) or "")  # fmt: skip


def log_item(row: sql.LogRow) -> LogItem:
    return LogItem(id=row.id, round=row.round, day=row.day, body=row.body, by=row.author_name,
                   at=iso(row.created_at) or "")  # fmt: skip


async def reward_items(reviews: Reviews, rows: list[sql.RewardRow]) -> list[RewardItem]:
    latest = await reviews.latest(responses.REWARD, [r.id for r in rows])
    items = []
    for r in rows:
        application = latest.get(r.id)
        proofs = [Attachment(id=i, name=n, url=f"/files/{i}") for i, n in await sql.reward_files(reviews.store, r.id)]
        items.append(RewardItem(
            id=r.id, demand=r.demand, title=r.demand_title, applicant=r.applicant_name, organisation=r.org_name,
            profile=r.profile, declaration=r.declaration, state=r.state,  # type: ignore[arg-type]
            reason=application.reason if application is not None and application.state == "rejected" else None,
            submitted_at=iso(application.submitted_at if application else r.updated_at) or "", proofs=proofs))  # fmt: skip
    return items


async def _responses_for(request: Request, demand: DemandRow, who: Relation, page: int) -> list[ResponseItem]:
    """提交给我的应答: every response for the private relations, one's own for a solver."""
    reviews = _reviews(request)
    solver = None if sees_private(who) else _me(request).id
    rows = await sql.responses(reviews.store, demand.id, solver=solver, limit=PAGE, offset=(page - 1) * PAGE)
    return await response_items(reviews, rows)


def _page(request: Request, template: str, demand: DemandRow, who: Relation, status: int = 200,
          message: str = "", code: str = "", **context: object) -> Response:  # fmt: skip
    return render(request, f"responses/{template}", status_code=status, demand=demand, who=who.value,
                  private=sees_private(who), message=message, code=code,
                  status=responses.status(demand, _now(request)), **context)  # fmt: skip


# ---------------------------------------------------------------------- responding (立即应答)


async def _respond(request: Request, form: FormData) -> int:
    answer_ = responses.solution(_text(form, "summary"), _text(form, "approach"), _text(form, "team"),
                                 _text(form, "budget"))  # fmt: skip
    written = await _uploads(request, form, "attachments")
    return await responses.respond(_reviews(request), request.path_params["demand_id"], _me(request), answer_, written,
                                   _now(request))  # fmt: skip


async def respond_page(request: Request) -> Response:
    demand, who = await _access(request)
    values = dict.fromkeys(SOLUTION_FIELDS, "")
    if request.method == "POST":
        form = await _form(request)
        values = {k: _text(form, k) for k in SOLUTION_FIELDS}
        try:
            await _respond(request, form)
        except (Refused, UploadRefused) as exc:
            if exc.status == 404:
                raise
            status, code, message = _said(request, exc)
            return _page(request, "respond.html", demand, who, status, message, code, why=None, values=values)
        return RedirectResponse("/my/responses?done=1", status_code=303)
    why = await responses.why_not(_reviews(request).store.reader, demand, who, _me(request), _now(request))
    return _page(request, "respond.html", demand, who, why=why, values=values)


async def api_respond(request: Request) -> Response:
    """A solution as multipart (with its attachments) or, without attachments, as JSON."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return answer(Created(id=await _respond(request, await _form(request))), 201)
    body = await json_body(request, SolutionBody)
    found = responses.solution(body.summary, body.approach, body.team, "" if body.budget is None else str(body.budget))
    made = await responses.respond(_reviews(request), request.path_params["demand_id"], _me(request), found, [],
                                   _now(request))  # fmt: skip
    return answer(Created(id=made), 201)


# ---------------------------------------------------------------------- 提交给我的应答 and adoption


async def responses_page(request: Request) -> Response:
    demand, who = await _access(request)
    page = _page_number(request)
    return _page(request, "responses.html", demand, who, items=await _responses_for(request, demand, who, page),
                 page=page, page_size=PAGE, acting=who in (Relation.SIDE, Relation.AGENCY))  # fmt: skip


async def api_responses(request: Request) -> Response:
    demand, who = await _access(request)
    return answer(await _responses_for(request, demand, who, _page_number(request)))


async def adopt_page(request: Request) -> Response:
    demand, who = await _access(request)
    response_id: int = request.path_params["response_id"]
    found = await sql.response(_reviews(request).store, response_id)
    if found is None or found.demand != demand.id:
        raise Refused(404, "not_found", "crowd_b_err_no_response")
    try:
        await responses.adopt(_reviews(request).store, response_id, _me(request), _now(request))
    except Refused as exc:
        if exc.status == 404:
            raise
        page = _page_number(request)
        return _page(request, "responses.html", demand, who, exc.status, exc.message(request), exc.code,
                     items=await _responses_for(request, demand, who, page), page=page, page_size=PAGE,
                     acting=who in (Relation.SIDE, Relation.AGENCY))  # fmt: skip
    return RedirectResponse(f"/demands/{demand.id}/responses", status_code=303)


async def api_adopt(request: Request) -> Response:
    demand = await responses.adopt(_reviews(request).store, request.path_params["response_id"], _me(request),
                                   _now(request))  # fmt: skip
    return answer(responses.status(demand, _now(request)))


async def response_file(request: Request) -> Response:
    """An attachment of a response, to those who may see the response; 404 to anyone else."""
    demand, _ = await _access(request)
    reviews = _reviews(request)
    found, _, _ = await responses.visible_response(reviews.store, request.path_params["response_id"], _me(request))
    file_id: int = request.path_params["file_id"]
    listed = found.demand == demand.id and any(f.id == file_id for f in await sql.files_of(reviews.store, [found.id]))
    stored = await reviews.files.get(file_id) if listed else None
    if stored is None:
        raise Refused(404, "not_found", "err_no_file")
    return await attachment(reviews.files, stored)


async def _mine(request: Request, page: int) -> list[ResponseItem]:
    """A solver's own responses and their states, newest first."""
    reviews = _reviews(request)
    rows = await sql.responses_of_solver(reviews.store, _me(request).id, limit=PAGE, offset=(page - 1) * PAGE)
    return await response_items(reviews, rows)


async def my_responses(request: Request) -> Response:
    page = _page_number(request)
    return render(request, "responses/mine.html", items=await _mine(request, page), page=page, page_size=PAGE,
                  done=request.query_params.get("done") == "1")  # fmt: skip


async def api_my_responses(request: Request) -> Response:
    return answer(await _mine(request, _page_number(request)))


# ---------------------------------------------------------------------- 立即咨询


def _thread_query(request: Request) -> tuple[int | None, int, int]:
    params = request.query_params
    solver = whole(params.get("solver"), "solver", default=0, low=0)
    before = whole(params.get("before"), "before", default=ID_MAX, low=1)
    limit = whole(params.get("limit"), "limit", default=INBOX_PAGE, low=1, high=INBOX_MAX)
    return solver or None, before, limit


async def messages_page(request: Request) -> Response:
    demand, who = await _access(request)
    me = _me(request)
    solver, before, limit = _thread_query(request)
    message, code, status = "", "", 200
    if request.method == "POST":
        form = await _form(request)
        chosen = whole(_text(form, "solver"), "solver", default=0, low=0) or None
        try:
            await responses.send_message(_reviews(request).store, demand.id, me, _text(form, "body"), chosen,
                                         _now(request))  # fmt: skip
        except Refused as exc:
            if exc.status == 404:
                raise
            status, code, message = exc.status, exc.code, exc.message(request)
        else:
            target = f"/demands/{demand.id}/messages" + (f"?solver={chosen}" if chosen and sees_private(who) else "")
            return RedirectResponse(target, status_code=303)
        solver = chosen
    store = _reviews(request).store
    if sees_private(who) and solver is None:  # the list of threads; one of them is opened by its solver
        page = _page_number(request)
        threads = await sql.threads(store, demand.id, limit=PAGE, offset=(page - 1) * PAGE)
        return _page(request, "messages.html", demand, who, status, message, code, items=[], solver=None,
                     threads=threads, page=page, page_size=PAGE, acting=False, consulting=False)  # fmt: skip
    rows = await responses.thread_messages(store, demand, who, me, solver=solver, before=before, limit=limit)
    return _page(request, "messages.html", demand, who, status, message, code,
                 items=[message_item(r) for r in reversed(rows)], solver=solver, threads=[], page=1, page_size=PAGE,
                 acting=who in (Relation.SIDE, Relation.AGENCY), consulting=who is Relation.PUBLIC)  # fmt: skip


async def api_messages(request: Request) -> Response:
    demand, who = await _access(request)
    solver, before, limit = _thread_query(request)
    rows = await responses.thread_messages(_reviews(request).store, demand, who, _me(request), solver=solver,
                                           before=before, limit=limit)  # fmt: skip
    return answer([message_item(r) for r in rows])


async def api_message(request: Request) -> Response:
    body = await json_body(request, MessageBody)
    store = _reviews(request).store
    message_id = await responses.send_message(store, request.path_params["demand_id"], _me(request), body.body,
                                              body.solver, _now(request))  # fmt: skip
    found = await sql.message(store, message_id)
    assert found is not None
    return answer(message_item(found), 201)


# ---------------------------------------------------------------------- the service log


async def _log_items(request: Request, demand: DemandRow) -> list[LogItem]:
    """The page of the demand's service log the request asks for (``page``), newest first."""
    offset = (_page_number(request) - 1) * PAGE
    return [log_item(r) for r in await sql.log(_reviews(request).store, demand.id, limit=PAGE, offset=offset)]


async def _log_page(request: Request, status: int = 200, message: str = "", code: str = "") -> Response:
    demand, who = await _access(request)
    responses.private(who)
    page = _page_number(request)
    today = beijing_date(_now(request)).isoformat()
    return _page(request, "log.html", demand, who, status, message, code, items=await _log_items(request, demand), page=page,
                 page_size=PAGE, today=today, acting=who in (Relation.SIDE, Relation.AGENCY))  # fmt: skip


async def log_page(request: Request) -> Response:
    if request.method == "GET":
        return await _log_page(request)
    form = await _form(request)
    try:
        day = dt.date.fromisoformat(_text(form, "day"))
    except ValueError:
        return await _log_page(request, 400, text("crowd_b_err_log_day", lang_of(request)), "invalid")
    try:
        await responses.add_log(_reviews(request).store, request.path_params["demand_id"], _me(request), day,
                                _text(form, "body"), _now(request))  # fmt: skip
    except Refused as exc:
        if exc.status == 404:
            raise
        return await _log_page(request, exc.status, exc.message(request), exc.code)
    return RedirectResponse(f"/demands/{request.path_params['demand_id']}/log", status_code=303)


async def api_log(request: Request) -> Response:
    demand, who = await _access(request)
    responses.private(who)
    return answer(await _log_items(request, demand))


async def api_log_add(request: Request) -> Response:
    body = await json_body(request, LogBody)
    store = _reviews(request).store
    entry = await responses.add_log(store, request.path_params["demand_id"], _me(request), body.day, body.body,
                                    _now(request))  # fmt: skip
    found = await sql.log_entry(store, entry)
    assert found is not None
    return answer(log_item(found), 201)


# ---------------------------------------------------------------------- the outcome


async def _outcome_page(request: Request, status: int = 200, message: str = "", code: str = "") -> Response:
    demand, who = await _access(request)
    responses.private(who)
    enters_fee = who is (Relation.AGENCY if demand.agency_org is not None else Relation.SIDE)
    return _page(request, "outcome.html", demand, who, status, message, code, enters_fee=enters_fee,
                 acting=who in (Relation.SIDE, Relation.AGENCY), published=demand.state is DemandState.PUBLISHED,
                 before_deadline=_now(request) < day_end(demand.response_deadline))  # fmt: skip


async def outcome_page(request: Request) -> Response:
    if request.method == "GET":
        return await _outcome_page(request)
    form = await _form(request)
    resolved = _text(form, "resolved") == "1"
    typed = _text(form, "fee").strip()
    try:
        fee = whole(typed, "fee", high=MAX_AMOUNT) if resolved and typed else None
        await responses.set_outcome(_reviews(request).store, request.path_params["demand_id"], _me(request),
                                    OutcomeBody(resolved=resolved, fee=fee), _now(request))  # fmt: skip
    except Refused as exc:
        if exc.status == 404:
            raise
        return await _outcome_page(request, exc.status, exc.message(request), exc.code)
    return RedirectResponse(f"/demands/{request.path_params['demand_id']}/outcome", status_code=303)


async def api_outcome(request: Request) -> Response:
    demand, who = await _access(request)
    responses.private(who)
    return answer(responses.status(demand, _now(request)))


async def api_outcome_set(request: Request) -> Response:
    body = await json_body(request, OutcomeBody)
    demand = await responses.set_outcome(_reviews(request).store, request.path_params["demand_id"], _me(request), body,
                                         _now(request))  # fmt: skip
    return answer(responses.status(demand, _now(request)))


# ---------------------------------------------------------------------- reward applications (CR-9)


async def _rewards(request: Request, demand: DemandRow, who: Relation) -> list[RewardItem]:
    reviews = _reviews(request)
    applicant = None if who is Relation.STAFF else _me(request).id
    return await reward_items(reviews, await sql.rewards(reviews.store, demand.id, applicant=applicant, limit=PAGE))


async def _apply(request: Request) -> int:
    form = await _form(request)
    written = await _uploads(request, form, "proofs")
    return await responses.apply_reward(_reviews(request), request.path_params["demand_id"], _me(request),
                                        profile=_text(form, "profile"), declaration=_text(form, "declaration"),
                                        proofs=written, now=_now(request))  # fmt: skip


async def reward_page(request: Request) -> Response:
    demand, who = await _access(request)
    status, message, code = 200, "", ""
    if request.method == "POST":
        try:
            await _apply(request)
        except (Refused, UploadRefused) as exc:
            if exc.status == 404:
                raise
            status, code, message = _said(request, exc)
        else:
            return RedirectResponse(f"/demands/{demand.id}/reward", status_code=303)
    items = await _rewards(request, demand, who)
    standing = any(i.state in ("pending", "approved") for i in items if who is not Relation.STAFF)
    eligible = await responses.may_apply(_reviews(request).store, demand, who, _me(request)) and not standing
    return _page(request, "reward.html", demand, who, status, message, code, items=items, eligible=eligible,
                 max_files=MAX_FILES)  # fmt: skip


async def api_reward_apply(request: Request) -> Response:
    reward = await _apply(request)
    demand, who = await _access(request)
    [item] = [i for i in await _rewards(request, demand, who) if i.id == reward]
    return answer(item, 201)


async def api_rewards(request: Request) -> Response:
    demand, who = await _access(request)
    return answer(await _rewards(request, demand, who))


# ---------------------------------------------------------------------- the inbox


async def api_inbox(request: Request) -> Response:
    """The signed-in account's inbox, newest first, a page at a time (``before`` the previous
    page's ``next_before``): SMS it was sent and inbox-only notices alike."""
    params = request.query_params
    before = whole(params.get("before"), "before", default=ID_MAX, low=1)
    limit = whole(params.get("limit"), "limit", default=INBOX_PAGE, low=1, high=INBOX_MAX)
    store = _reviews(request).store
    me = _me(request)
    rows = await sql.inbox(store, me.id, before=before, limit=limit + 1)
    shown = rows[:limit]
    return answer(InboxPage(
        messages=[InboxItem(id=r.id, body=r.body, at=iso(r.created_at) or "", read=r.read_at is not None, sms=r.sms)
                  for r in shown],
        unread=await sql.unread(store, me.id), next_before=shown[-1].id if len(rows) > limit else None))  # fmt: skip


NOT_FOUND: Final = {404: ("not_found",)}
PARTY: Final = {403: ("not_party",), 404: ("not_found",)}
UPLOAD: Final = ("missing_file", "bad_file", "pdf_inflate_limit", "pdf_time_limit", "pdf_undecodable", "too_many_files")
routes = [
    route(D + "/respond", respond_page, name="response_respond", methods=("GET", "POST")),
    route(D + "/responses", responses_page, name="response_list"),
    route(D + "/responses/{response_id:id}/adopt", adopt_page, name="response_adopt", methods=("POST",)),
    route(D + "/responses/{response_id:id}/files/{file_id:id}", response_file, name="response_file"),
    route(D + "/messages", messages_page, name="response_messages", methods=("GET", "POST")),
    route(D + "/log", log_page, name="response_log", methods=("GET", "POST")),
    route(D + "/outcome", outcome_page, name="response_outcome", methods=("GET", "POST")),
    route(D + "/reward", reward_page, name="response_reward", methods=("GET", "POST")),
    route("/my/responses", my_responses, name="response_mine"),
    route(A + "/responses", _api(api_respond), name="api_response_create", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Respond to a demand with a solution and its attachments", upload="attachments",
        answer=Created, status=201,
        description="multipart/form-data: `summary`, `approach`, `team`, `budget` and 0 to 4 files `attachments`;"
                    " or, without attachments, application/json `{\"summary\", \"approach\", \"team\", \"budget\"}`.",
        errors={400: ("invalid", *UPLOAD), 403: ("own_demand", "not_party", "no_identity"), 404: ("not_found",),
                409: ("closed", "responded"), 429: ("upload_quota",), 503: ("unavailable",)})),
    route(A + "/responses", api_responses, name="api_response_list", api=Api(
        tag="crowdsourcing", summary="提交给我的应答: a demand's responses (a solver: its own)", query=PageQuery,
        answer=list[ResponseItem], errors=NOT_FOUND)),
    route("/api/responses/{response_id:id}/adopt", api_adopt, name="api_response_adopt", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Adopt a response (the demand side)", answer=DemandStatus,
        errors={403: ("not_party",), 404: ("not_found",), 409: ("adopted", "closed", "old_round")})),
    route(A + "/messages", api_message, name="api_response_message", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Write in a 立即咨询 thread", body=MessageBody, answer=MessageItem, status=201,
        errors={400: ("invalid",), 403: ("not_verified", "not_party"), 404: ("not_found",), 409: ("closed",)})),
    route(A + "/messages", api_messages, name="api_response_messages", api=Api(
        tag="crowdsourcing", summary="Read 立即咨询 threads (a solver: its own), newest first", query=MessagesQuery,
        answer=list[MessageItem], errors=NOT_FOUND)),
    route(A + "/log", api_log_add, name="api_response_log_add", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Add a dated entry to the service log", body=LogBody, answer=LogItem, status=201,
        errors={400: ("invalid",), **PARTY, 409: ("bad_state",)})),
    route(A + "/log", api_log, name="api_response_log", api=Api(
        tag="crowdsourcing", summary="The service log, newest day first", query=PageQuery, answer=list[LogItem],
        errors=PARTY)),
    route(A + "/outcome", api_outcome_set, name="api_response_outcome_set", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Set the outcome: resolved with the service fee, or unresolved", body=OutcomeBody,
        answer=DemandStatus,
        errors={400: ("invalid",), 403: ("not_party", "fee_by_agency"), 404: ("not_found",),
                409: ("bad_state", "nothing_adopted")})),
    route(A + "/outcome", api_outcome, name="api_response_outcome", api=Api(
        tag="crowdsourcing", summary="Where the demand's round stands", answer=DemandStatus, errors=PARTY)),
    route(A + "/reward", _api(api_reward_apply), name="api_response_reward_apply", methods=("POST",), api=Api(
        tag="crowdsourcing", summary="Apply for a reward for a resolved demand (CR-9)", upload="proofs",
        answer=RewardItem, status=201,
        description="multipart/form-data: `profile`, `declaration` and 1 to 4 files `proofs`.",
        errors={400: ("invalid", *UPLOAD), 403: ("not_party",), 404: ("not_found",),
                409: ("not_resolved", "pending", "rewarded"), 429: ("upload_quota",), 503: ("unavailable",)})),
    route(A + "/reward", api_rewards, name="api_response_rewards", api=Api(
        tag="crowdsourcing", summary="Reward applications for a demand: one's own (staff: all)",
        answer=list[RewardItem], errors=NOT_FOUND)),
    route("/api/me/responses", api_my_responses, name="api_response_mine", api=Api(
        tag="crowdsourcing", summary="The caller's own responses and their states, newest first", query=PageQuery,
        answer=list[ResponseItem])),
    route("/api/inbox", api_inbox, name="api_inbox", api=Api(
        tag="crowdsourcing", summary="The caller's inbox, newest first", query=InboxQuery, answer=InboxPage)),
]  # fmt: skip
