"""Roadshows and picks on the web (issue 13, piece D): the staff's pages that schedule a
roadshow, record the experts' scores and mark the winners; the demand's roadshows as each
party may see them (``/demands/{id}/roadshows``); the staff's picks for the hot lists; and the
JSON twins of docs/api.md#crowdsourcing.

Thin: parse and validate the edge, call the action of ``hall/roadshows.py`` (which decides who
sees what through its ``Seat``), render. Forms take Beijing wall-clock times
(``datetime-local``); the API takes ISO 8601 with an offset and answers in Beijing time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Final

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import roadshows as rs
from hall.auctions import Industry, ms
from hall.roadshows import (
    AwardBody,
    DemandRoadshows,
    PickBody,
    PickOut,
    RoadshowDraft,
    RoadshowError,
    RoadshowOut,
    ScoreBody,
)
from hall.store import demands
from hall.store.demands import DemandRow
from hall.store import roadshows as sql
from hall.store.sqlite import SqliteStore
from hall.web.auctions import _form_time
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of, text, translator
from hall.web.openapi import Api
from hall.web.params import whole
from hall.web.reviews import _me, _now, _text
from hall.web.security import answer, route
from hall.web.templating import render

_FIELD_AT: Final = re.compile(r"at `\$\.([a-z_]+)")
_LABELS: Final = {
    "demand": "crowd_d_demand", "title": "crowd_d_title", "starts_at": "crowd_d_starts_at", "place": "crowd_d_place",
    "responses": "crowd_d_invited", "response": "crowd_d_response", "expert": "crowd_d_expert",
    "score": "crowd_d_score", "comment": "crowd_d_comment", "winners": "crowd_d_winners", "pick": "crowd_d_pick",
}  # fmt: skip
"""The catalogue label of each form field, to name the one a refusal is about."""
PAGE_MAX: Final = 1000


def _store(request: Request) -> SqliteStore:
    store: SqliteStore = request.app.state.store
    return store


def _refused(exc: RoadshowError) -> Refused:
    return Refused(exc.status, exc.code, exc.key, exc.params)


def _page(request: Request) -> int:
    return whole(request.query_params.get("page"), "page", default=1, low=1, high=PAGE_MAX)


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=64)


def _convert(request: Request, values: Mapping[str, object], kind: type[Any]) -> Any:
    """A form's fields as ``kind``; refused (400) naming the field in the asker's language."""
    try:
        return msgspec.convert({k: v for k, v in values.items() if v is not None}, kind)
    except msgspec.ValidationError as exc:
        found = _FIELD_AT.search(str(exc))
        label = translator(lang_of(request))(_LABELS.get(found[1], "crowd_d_form") if found else "crowd_d_form")
        raise RoadshowError(400, "bad_request", "crowd_d_err_field", field=label) from None


def _number(form: FormData, name: str) -> int | str | None:
    value = _text(form, name)
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else value


def _numbers(form: FormData, name: str) -> list[int | str]:
    return [int(v) if v.isascii() and v.isdigit() and len(v) <= 18 else v
            for v in form.getlist(name) if isinstance(v, str)][: rs.INVITES_MAX + 1]  # fmt: skip


# ---------------------------------------------------------------------- the staff's pages


async def _staff_list(request: Request, status: int = 200, message: str = "",
                      form: FormData | None = None) -> Response:  # fmt: skip
    """Every roadshow, newest first, and the form that schedules one: first a published demand,
    then (``?demand=``, or the refused form's) its current round's responses to invite."""
    store = _store(request)
    page = _page(request)
    chosen_id = whole((form or request.query_params).get("demand"), "demand", default=0)
    chosen = await demands.demand(store, chosen_id) if chosen_id else None
    values = {k: _text(form, k) for k in ("title", "place", "starts_at")} if form is not None else {}
    choices = await sql.round_responses(store, chosen.id, chosen.round, rs.CHOICES_MAX) if chosen else []
    return render(request, "roadshows/staff_list.html", status_code=status, message=message, values=values,
                  roadshows=await rs.listed(store, demand_id=None, page=page), page=page, per_page=rs.PAGE,
                  demands=await demands.published(store, order=sql.NEWEST_FIRST, limit=200), chosen=chosen,
                  choices=choices,
                  title_max=rs.TITLE_MAX, place_max=rs.PLACE_MAX, invites_max=rs.INVITES_MAX)  # fmt: skip


async def roadshow_staff(request: Request) -> Response:
    return await _staff_list(request)


async def roadshow_schedule(request: Request) -> Response:
    form = await _form(request)
    values = {"demand": _number(form, "demand"), "title": _text(form, "title"), "place": _text(form, "place"),
              "starts_at": _form_time(form, "starts_at"), "responses": _numbers(form, "responses")}  # fmt: skip
    try:
        draft: RoadshowDraft = _convert(request, values, RoadshowDraft)
        roadshow_id = await rs.schedule(_store(request), draft, staff=_me(request).id, now=_now(request))
    except RoadshowError as exc:
        return await _staff_list(request, exc.status, text(exc.key, lang_of(request), exc.params), form)
    return RedirectResponse(f"/staff/roadshows/{roadshow_id}?done=schedule", status_code=303)


async def _staff_page(request: Request, status: int = 200, message: str = "") -> Response:
    _, roadshow = await _visible(request)
    return render(request, "roadshows/staff_roadshow.html", status_code=status, message=message, r=roadshow,
                  done=request.query_params.get("done", ""), score_max=rs.SCORE_MAX, expert_max=rs.EXPERT_MAX,
                  comment_max=rs.COMMENT_MAX, started=_now(request) >= _starts(roadshow))  # fmt: skip


def _starts(roadshow: RoadshowOut) -> int:
    return ms(dt.datetime.fromisoformat(roadshow.starts_at))


async def roadshow_staff_page(request: Request) -> Response:
    return await _staff_page(request)


Act = Callable[[Request, FormData], Awaitable[object]]


def _staff_action(act: Act, done: str) -> Callable[[Request], Awaitable[Response]]:
    """A form of the staff's roadshow page: the action, then back to the page (303); refused,
    the page again with the refusal and its status (an unknown roadshow stays a 404)."""

    async def endpoint(request: Request) -> Response:
        await _visible(request)
        try:
            await act(request, await _form(request))
        except RoadshowError as exc:
            return await _staff_page(request, exc.status, text(exc.key, lang_of(request), exc.params))
        return RedirectResponse(f"/staff/roadshows/{request.path_params['roadshow_id']}?done={done}", status_code=303)

    return endpoint


async def _score(request: Request, form: FormData) -> object:
    body: ScoreBody = _convert(request, {"response": _number(form, "response"), "expert": _text(form, "expert"),
                                         "score": _number(form, "score"), "comment": _text(form, "comment")},
                               ScoreBody)  # fmt: skip
    return await rs.record_score(_store(request), request.path_params["roadshow_id"], body, staff=_me(request).id,
                                 now=_now(request))  # fmt: skip


async def _award(request: Request, form: FormData) -> object:
    body: AwardBody = _convert(request, {"winners": _numbers(form, "winners")}, AwardBody)
    await rs.award(_store(request), request.path_params["roadshow_id"], body.winners, now=_now(request))
    return None


async def _visible(request: Request) -> tuple[rs.Seat, RoadshowOut]:
    try:
        return await rs.roadshow_of(_store(request), request.path_params["roadshow_id"], request.state.identity)
    except RoadshowError as exc:
        raise _refused(exc) from None


# ---------------------------------------------------------------------- the parties' page


async def roadshow_demand(request: Request) -> Response:
    """The demand's roadshows as the caller may see them: everything for staff, side and agency;
    an invited solver's own invitations; for anyone else, only whether the demand was awarded."""
    try:
        seat, found = await rs.of_demand(_store(request), request.path_params["demand_id"], request.state.identity)
    except RoadshowError as exc:
        raise _refused(exc) from None
    return render(request, "roadshows/demand.html", seat=seat, demand=seat.brief(), found=found, full=seat.full)


# ---------------------------------------------------------------------- picks


async def _pickable(request: Request, page: int) -> list[DemandRow]:
    """One page of the published demands, the staff's picks first."""
    return await demands.published(_store(request), order=sql.PICKED_FIRST, limit=rs.PAGE, offset=(page - 1) * rs.PAGE)


async def _picks_page(request: Request, status: int = 200, message: str = "") -> Response:
    page = _page(request)
    rows = await _pickable(request, page)
    return render(request, "roadshows/picks.html", status_code=status, message=message, rows=rows, page=page,
                  per_page=rs.PAGE, pick_max=rs.PICK_MAX, done=request.query_params.get("done", ""),
                  industry=lambda value: Industry(value).key)  # fmt: skip


async def roadshow_picks(request: Request) -> Response:
    return await _picks_page(request)


async def roadshow_pick(request: Request) -> Response:
    form = await _form(request)
    try:
        body: PickBody = _convert(request, {"pick": _number(form, "pick") or 0}, PickBody)
        await rs.pick(_store(request), request.path_params["demand_id"], body.pick, now=_now(request))
    except RoadshowError as exc:
        if exc.status == 404:
            raise _refused(exc) from None
        return await _picks_page(request, exc.status, text(exc.key, lang_of(request), exc.params))
    return RedirectResponse("/staff/picks?done=1", status_code=303)


# ---------------------------------------------------------------------- JSON


class RoadshowsQuery(msgspec.Struct):
    """The filters of ``GET /api/roadshows``, for /openapi.json (read with ``params.whole``)."""

    demand: Annotated[int, msgspec.Meta(ge=1, description="only this demand's roadshows")] | None = None
    page: Annotated[int, msgspec.Meta(ge=1, le=PAGE_MAX, description="20 roadshows a page, newest first")] = 1


class PicksQuery(msgspec.Struct):
    page: Annotated[int, msgspec.Meta(ge=1, le=PAGE_MAX, description="20 demands a page, the picks first")] = 1


async def _api(request: Request, call: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await call()
    except RoadshowError as exc:
        return _refused(exc).answer(request)


async def api_roadshows(request: Request) -> Response:
    demand = whole(request.query_params.get("demand"), "demand", default=0, low=0)
    return answer(await rs.listed(_store(request), demand_id=demand or None, page=_page(request)))


async def api_roadshow_schedule(request: Request) -> Response:
    async def run() -> Response:
        draft = await json_body(request, RoadshowDraft)
        roadshow_id = await rs.schedule(_store(request), draft, staff=_me(request).id, now=_now(request))
        _, found = await rs.roadshow_of(_store(request), roadshow_id, _me(request))
        return answer(found, 201)

    return await _api(request, run)


async def api_roadshow(request: Request) -> Response:
    return answer((await _visible(request))[1])


async def api_roadshow_score(request: Request) -> Response:
    async def run() -> Response:
        await _visible(request)
        body = await json_body(request, ScoreBody)
        await rs.record_score(_store(request), request.path_params["roadshow_id"], body, staff=_me(request).id,
                              now=_now(request))  # fmt: skip
        return answer((await _visible(request))[1], 201)

    return await _api(request, run)


async def api_roadshow_award(request: Request) -> Response:
    async def run() -> Response:
        await _visible(request)
        body = await json_body(request, AwardBody)
        await rs.award(_store(request), request.path_params["roadshow_id"], body.winners, now=_now(request))
        return answer((await _visible(request))[1])

    return await _api(request, run)


async def api_roadshow_demand(request: Request) -> Response:
    async def run() -> Response:
        _, found = await rs.of_demand(_store(request), request.path_params["demand_id"], request.state.identity)
        return answer(found)

    return await _api(request, run)


async def api_roadshow_picks(request: Request) -> Response:
    page = _page(request)
    rows = await _pickable(request, page)
    return answer([rs.pick_out(d) for d in rows])


async def api_roadshow_pick(request: Request) -> Response:
    async def run() -> Response:
        body = await json_body(request, PickBody)
        return answer(rs.pick_out(await rs.pick(_store(request), request.path_params["demand_id"], body.pick,
                                                now=_now(request))))  # fmt: skip

    return await _api(request, run)


R = "/staff/roadshows/{roadshow_id:id}"
A = "/api/roadshows/{roadshow_id:id}"
TAG: Final = "crowdsourcing"
CHANGE: Final = {404: ("not_found",), 409: ("awarded", "not_started")}
routes = [
    route("/staff/roadshows", roadshow_staff, name="roadshow_staff"),
    route("/staff/roadshows", roadshow_schedule, name="roadshow_schedule", methods=("POST",)),
    route(R, roadshow_staff_page, name="roadshow_staff_page"),
    route(R + "/scores", _staff_action(_score, "score"), name="roadshow_score", methods=("POST",)),
    route(R + "/award", _staff_action(_award, "award"), name="roadshow_award", methods=("POST",)),
    route("/demands/{demand_id:id}/roadshows", roadshow_demand, name="roadshow_demand"),
    route("/staff/picks", roadshow_picks, name="roadshow_picks"),
    route("/staff/picks/{demand_id:id}", roadshow_pick, name="roadshow_pick", methods=("POST",)),
    route("/api/roadshows", api_roadshows, name="api_roadshows", api=Api(
        tag=TAG, summary="Every roadshow, newest first (staff)", query=RoadshowsQuery, answer=list[RoadshowOut])),
    route("/api/roadshows", api_roadshow_schedule, name="api_roadshow_schedule", methods=("POST",), api=Api(
        tag=TAG, summary="Schedule a roadshow for a published demand, inviting responses", body=RoadshowDraft,
        answer=RoadshowOut, status=201, errors={
            400: ("in_the_past", "duplicate_response", "not_invitable"), 404: ("not_found",),
            409: ("not_published", "already_awarded")})),
    route(A, api_roadshow, name="api_roadshow", api=Api(
        tag=TAG, summary="One roadshow, as the caller may see it", answer=RoadshowOut, errors={404: ("not_found",)})),
    route(A + "/scores", api_roadshow_score, name="api_roadshow_score", methods=("POST",), api=Api(
        tag=TAG, summary="Record an expert's score and comment of an invited response", body=ScoreBody,
        answer=RoadshowOut, status=201, errors={**CHANGE, 400: ("not_invited",),
                                                409: ("awarded", "not_started", "too_many_scores")})),
    route(A + "/award", api_roadshow_award, name="api_roadshow_award", methods=("POST",), api=Api(
        tag=TAG, summary="Mark the winners: the award, final", body=AwardBody, answer=RoadshowOut,
        errors={**CHANGE, 400: ("not_invited",)})),
    route("/api/demands/{demand_id:id}/roadshows", api_roadshow_demand, name="api_roadshow_demand", api=Api(
        tag=TAG, summary="A demand's roadshows as the caller may see them", answer=DemandRoadshows,
        errors={404: ("not_found",)})),
    route("/api/picks", api_roadshow_picks, name="api_roadshow_picks", api=Api(
        tag=TAG, summary="Published demands, the staff's picks first", query=PicksQuery, answer=list[PickOut])),
    route("/api/demands/{demand_id:id}/pick", api_roadshow_pick, name="api_roadshow_pick", methods=("PUT",), api=Api(
        tag=TAG, summary="Pick a demand for the hot lists, or clear its pick", body=PickBody, answer=PickOut,
        errors={404: ("not_found",), 409: ("not_published",)})),
]  # fmt: skip
