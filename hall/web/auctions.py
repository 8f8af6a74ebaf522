"""Auction sessions on the web (AU-1, AU-2, AU-4): the public session page, the staff's pages
that create a session, fill it with listed items and publish it, and the JSON API under
``/api/sessions``.

Thin: parse and validate the edge, call hall/auctions.py's action, render. Forms take Beijing
wall-clock times (``datetime-local``); the API takes ISO 8601 with an offset and answers the
same, in Beijing time. A refusal is ``AuctionError`` turned into ``Refused`` (its code and
catalogue key); on a staff page it is the page again with the message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall.auctions import (
    ANTI_SNIPING_MAX,
    ENTERABLE,
    NAME_MAX,
    STAGGER_MAX,
    AuctionError,
    Auctions,
    Industry,
    LotTerms,
    SessionDraft,
    Terms,
    SessionState,
    beijing_day,
    is_session_day,
    lot_end,
    offered_days,
)
from hall.auth.roles import Identity, Role
from hall.engine import Mode
from hall.engine.view import LotView
from hall.registration import SHANGHAI, deadline
from hall.runtime import Runtime
from hall.store.auctions import LotRow, SessionRow
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of, text, translator
from hall.web.live import PAGE_LOTS
from hall.web.pages import _page_context
from hall.web.reviews import _text
from hall.web.openapi import Api
from hall.web.security import answer, route
from hall.web.templating import render

RECENT_DAYS: Final = 30
"""The staff's list shows sessions from this many days back on."""
_FIELD_AT: Final = re.compile(r"at `\$\.([a-z_]+)")
_LABELS: Final = {
    "name": "au_name", "industry": "au_industry", "date": "au_date", "mode": "mode", "auctioneer": "au_auctioneer",
    "publicity_start": "publicity_start", "bidding_start": "bidding_start", "bidding_end": "au_bidding_end",
    "stagger": "au_stagger", "listing": "au_listing", "start_price": "start_price", "increment": "increment",
    "reserve": "reserve", "window": "au_window", "extension": "au_extension", "low_carbon": "au_low_carbon",
}  # fmt: skip
"""The catalogue label of each form field, to name the one a refusal is about."""


# ---------------------------------------------------------------------- the wire


class LotOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    listing: int
    title: str
    start_price: int
    increment: int
    window: int
    extension: int
    bidding_end: dt.datetime
    """When the lot is planned to end (its own end, or the session's staggered)."""
    lot: int | None = None
    """The engine's lot, once the session is published."""
    reserve: int | None = None
    """Staff only: secret from everyone else."""


class SessionOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    name: str
    industry: Industry
    low_carbon: bool
    date: dt.date
    mode: Mode
    publicity_start: dt.datetime
    bidding_start: dt.datetime
    bidding_end: dt.datetime
    registration_deadline: dt.datetime
    stagger: int
    """Minutes between consecutive lots' planned ends."""
    state: SessionState
    lots: list[LotOut] = []
    auctioneer: int | None = None
    """Staff only: the assigned auctioneer's account id."""


class Created(msgspec.Struct, kw_only=True):
    id: int
    warnings: list[str]
    """``not_session_day`` when the day is neither a Wednesday nor a Friday (AU-1)."""


class PublishedOut(msgspec.Struct, kw_only=True):
    lots: list[int]


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, SHANGHAI)


def _session_out(row: SessionRow, lots: list[LotRow], staff: bool) -> SessionOut:
    return SessionOut(
        id=row.id, name=row.name, industry=Industry(row.industry), low_carbon=row.low_carbon,
        date=dt.date.fromisoformat(row.day), mode=Mode(row.mode), publicity_start=_instant(row.publicity_start),
        bidding_start=_instant(row.bidding_start), bidding_end=_instant(row.bidding_end),
        registration_deadline=_instant(deadline(row.bidding_start)), stagger=row.stagger // 60,
        state=SessionState(row.state), auctioneer=row.auctioneer if staff else None,
        lots=[LotOut(listing=lot.listing, title=lot.title, start_price=lot.start_price, increment=lot.increment,
                     window=lot.window, extension=lot.extension, bidding_end=_instant(lot_end(row, lot, index)),
                     lot=lot.lot, reserve=lot.reserve if staff else None) for index, lot in enumerate(lots)],
    )  # fmt: skip


# ---------------------------------------------------------------------- plumbing


def _auctions(request: Request) -> Auctions:
    auctions: Auctions = request.app.state.auctions
    return auctions


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _me(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


def _staff(request: Request) -> bool:
    me: Identity | None = request.state.identity
    return me is not None and me.has(Role.STAFF)


def _refused(exc: AuctionError) -> Refused:
    return Refused(exc.status, exc.code, exc.key, exc.params)


def _invalid(request: Request, exc: msgspec.ValidationError) -> AuctionError:
    """A field the form or body got wrong, named in the asker's language."""
    found = _FIELD_AT.search(str(exc))
    label = _LABELS.get(found[1], "au_form") if found else "au_form"
    return AuctionError(400, "bad_request", "au_err_field", field=translator(lang_of(request))(label))


async def _visible(request: Request, session: int) -> SessionRow:
    """A session the asker may see: published ones to anyone, drafts to staff; else 404."""
    row = await _auctions(request).store.session(session)
    if row is None or (row.state != SessionState.PUBLISHED and not _staff(request)):
        raise Refused(404, "not_found", "au_err_no_session")
    return row


def _today(request: Request) -> dt.date:
    return beijing_day(_runtime(request).clock())


# ---------------------------------------------------------------------- forms


def _form_time(form: FormData, name: str) -> dt.datetime | str:
    """A ``datetime-local`` field as a Beijing time (its text, for the converter to refuse,
    when it is not one)."""
    value = _text(form, name)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.replace(tzinfo=SHANGHAI) if parsed.tzinfo is None else value


def _form_int(form: FormData, name: str) -> int | str | None:
    value = _text(form, name).replace(",", "")
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 15 else value


def _convert(request: Request, values: Mapping[str, object], kind: type[Any]) -> Any:
    try:
        return msgspec.convert({k: v for k, v in values.items() if v is not None}, kind)
    except msgspec.ValidationError as exc:
        raise _invalid(request, exc) from None


def _draft_of(request: Request, form: FormData) -> SessionDraft:
    day = _text(form, "date")
    if day == "other":
        day = _text(form, "other_date")
    try:
        date: dt.date | str = dt.date.fromisoformat(day)
    except ValueError:
        date = day
    draft: SessionDraft = _convert(request, {
        "name": _text(form, "name"), "industry": _text(form, "industry"), "date": date, "mode": _text(form, "mode"),
        "publicity_start": _form_time(form, "publicity_start"), "bidding_start": _form_time(form, "bidding_start"),
        "bidding_end": _form_time(form, "bidding_end"), "auctioneer": _form_int(form, "auctioneer"),
        "low_carbon": form.get("low_carbon") == "1", "stagger": _form_int(form, "stagger"),
    }, SessionDraft)  # fmt: skip
    return draft


def _terms_of(request: Request, form: FormData, kind: type[Terms] = LotTerms) -> Any:
    """The lot form's terms as ``kind``: ``LotTerms`` (adding: with the listing) or ``Terms``."""
    end = _form_time(form, "bidding_end") if _text(form, "bidding_end") else None
    listing = {"listing": _form_int(form, "listing")} if kind is LotTerms else {}
    return _convert(request, {
        **listing, "start_price": _form_int(form, "start_price"), "increment": _form_int(form, "increment"),
        "reserve": _form_int(form, "reserve"), "window": _form_int(form, "window"),
        "extension": _form_int(form, "extension"), "bidding_end": end,
    }, kind)  # fmt: skip


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=32)


# ---------------------------------------------------------------------- the public session page


async def session_page(request: Request) -> Response:
    """A published session and its lots with their live state (AU-4)."""
    auctions = _auctions(request)
    row = await _visible(request, request.path_params["session_id"])
    runtime = _runtime(request)
    published = auctions.published.get(row.id)
    views: list[LotView] = [runtime.views[lot] for lot in (published.lots if published else ()) if lot in runtime.views]
    return render(request, "auctions/session.html", session=row, industry=Industry(row.industry),
                  day=dt.date.fromisoformat(row.day), views=views, titles=runtime.titles,
                  registration_deadline=deadline(row.bidding_start),
                  live_lots=",".join(str(view.id) for view in views[:PAGE_LOTS]), **_page_context(request))  # fmt: skip


# ---------------------------------------------------------------------- the staff's pages


async def _staff_list(request: Request, status: int = 200, message: str = "", values: Mapping[str, str] | None = None
                      ) -> Response:  # fmt: skip
    auctions = _auctions(request)
    today = _today(request)
    rows = await auctions.store.sessions(since_day=(today - dt.timedelta(days=RECENT_DAYS)).isoformat())
    auctioneers = await auctions.people.with_role(Role.AUCTIONEER)
    return render(request, "auctions/staff_sessions.html", status_code=status, sessions=rows, offered=offered_days(today),
                  industries=list(Industry), modes=list(Mode), auctioneers=auctioneers, message=message,
                  values=values or {}, name_max=NAME_MAX, stagger_max=STAGGER_MAX, is_session_day=is_session_day,
                  date_of=dt.date.fromisoformat)  # fmt: skip


async def staff_sessions(request: Request) -> Response:
    return await _staff_list(request)


async def staff_session_create(request: Request) -> Response:
    form = await _form(request)
    try:
        session, warnings = await _auctions(request).create(_draft_of(request, form), _me(request).id)
    except AuctionError as exc:
        values = {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf"}
        return await _staff_list(request, exc.status, text(exc.key, lang_of(request), exc.params), values)
    return RedirectResponse(f"/staff/sessions/{session}", status_code=303)


async def _staff_page(request: Request, session: int, status: int = 200, message: str = "") -> Response:
    auctions = _auctions(request)
    row = await auctions.store.session(session)
    if row is None:
        raise Refused(404, "not_found", "au_err_no_session")
    lots = await auctions.store.lots(session)
    auctioneer = await auctions.people.identity(row.auctioneer) if row.auctioneer is not None else None
    day = dt.date.fromisoformat(row.day)
    return render(request, "auctions/staff_session.html", status_code=status, session=row, lots=lots,
                  ends=[lot_end(row, lot, index) for index, lot in enumerate(lots)], industry=Industry(row.industry),
                  day=day, regular=is_session_day(day), auctioneer=auctioneer,
                  draft=row.state == SessionState.DRAFT, listed=await auctions.store.listed(ENTERABLE) if row.state ==
                  SessionState.DRAFT else [], registration_deadline=deadline(row.bidding_start), message=message,
                  done=request.query_params.get("done", ""), anti_sniping_max=ANTI_SNIPING_MAX)  # fmt: skip


async def staff_session(request: Request) -> Response:
    return await _staff_page(request, request.path_params["session_id"])


async def _staff_act(request: Request, act: str) -> Response:
    """One change to a session from its staff page; the page again with the refusal, or a 303
    back to it saying what was done."""
    session: int = request.path_params["session_id"]
    auctions = _auctions(request)
    form = await _form(request)
    try:
        if act == "add":
            await auctions.add_lot(session, _terms_of(request, form))
        elif act == "edit":
            await auctions.edit_lot(session, request.path_params["listing_id"], _terms_of(request, form, Terms))
        elif act == "remove":
            await auctions.remove_lot(session, request.path_params["listing_id"])
        else:
            await auctions.publish(session)
    except AuctionError as exc:
        if exc.status == 404 and exc.key == "au_err_no_session":
            raise _refused(exc) from None
        return await _staff_page(request, session, exc.status, text(exc.key, lang_of(request), exc.params))
    return RedirectResponse(f"/staff/sessions/{session}?done={act}", status_code=303)


async def staff_session_lot_add(request: Request) -> Response:
    return await _staff_act(request, "add")


async def staff_session_lot_edit(request: Request) -> Response:
    return await _staff_act(request, "edit")


async def staff_session_lot_remove(request: Request) -> Response:
    return await _staff_act(request, "remove")


async def staff_session_publish(request: Request) -> Response:
    return await _staff_act(request, "publish")


# ---------------------------------------------------------------------- the JSON API


async def api_sessions(request: Request) -> Response:
    """Published sessions from today on (the calendar's), by day."""
    rows = await _auctions(request).store.sessions(published=True, since_day=_today(request).isoformat())
    staff = _staff(request)
    return answer([_session_out(row, [], staff) for row in rows])


async def api_session(request: Request) -> Response:
    row = await _visible(request, request.path_params["session_id"])
    return answer(_session_out(row, await _auctions(request).store.lots(row.id), _staff(request)))


async def _decoded(request: Request, kind: type[Any]) -> Any:
    """The JSON body as ``kind``; a body that fails it names the field it failed at."""
    try:
        return await json_body(request, kind)
    except Refused as refused:
        detail = refused.extra.get("detail")
        found = _FIELD_AT.search(detail) if isinstance(detail, str) else None
        if found is None:
            raise
        label = translator(lang_of(request))(_LABELS.get(found[1], "au_form"))
        raise Refused(400, "bad_request", "au_err_field", {"field": label}, detail=detail) from None


async def _api_act(request: Request, act: str) -> Response:
    auctions = _auctions(request)
    try:
        if act == "create":
            session, warnings = await auctions.create(await _decoded(request, SessionDraft), _me(request).id)
            return answer(Created(id=session, warnings=warnings), 201)
        session = request.path_params["session_id"]
        if await auctions.store.session(session) is None:  # before the body: an unknown session is 404 whatever it says
            raise AuctionError(404, "not_found", "au_err_no_session")
        if act == "publish":
            return answer(PublishedOut(lots=await auctions.publish(session)))
        if act == "remove":
            await auctions.remove_lot(session, request.path_params["listing_id"])
        elif act == "add":
            await auctions.add_lot(session, await _decoded(request, LotTerms))
        else:
            await auctions.edit_lot(session, request.path_params["listing_id"], await _decoded(request, Terms))
    except AuctionError as exc:
        return _refused(exc).answer(request)
    except Refused as refused:
        return refused.answer(request)
    row = await auctions.store.session(session)
    assert row is not None
    return answer(_session_out(row, await auctions.store.lots(session), staff=True), 201 if act == "add" else 200)


async def api_session_create(request: Request) -> Response:
    return await _api_act(request, "create")


async def api_session_lot_add(request: Request) -> Response:
    return await _api_act(request, "add")


async def api_session_lot_edit(request: Request) -> Response:
    return await _api_act(request, "edit")


async def api_session_lot_remove(request: Request) -> Response:
    return await _api_act(request, "remove")


async def api_session_publish(request: Request) -> Response:
    return await _api_act(request, "publish")


routes = [
    route("/sessions/{session_id:id}", session_page, name="session_page"),
    route("/staff/sessions", staff_sessions, name="staff_sessions"),
    route("/staff/sessions", staff_session_create, name="staff_session_create", methods=("POST",)),
    route("/staff/sessions/{session_id:id}", staff_session, name="staff_session"),
    route("/staff/sessions/{session_id:id}/lots", staff_session_lot_add, name="staff_session_lot_add",
          methods=("POST",)),
    route("/staff/sessions/{session_id:id}/lots/{listing_id:id}", staff_session_lot_edit,
          name="staff_session_lot_edit", methods=("POST",)),
    route("/staff/sessions/{session_id:id}/lots/{listing_id:id}/remove", staff_session_lot_remove,
          name="staff_session_lot_remove", methods=("POST",)),
    route("/staff/sessions/{session_id:id}/publish", staff_session_publish, name="staff_session_publish",
          methods=("POST",)),
    route("/api/sessions", api_sessions, name="api_sessions", api=Api(
        tag="sessions", summary="Published sessions from today on", answer=list[SessionOut])),
    route("/api/sessions", api_session_create, name="api_session_create", methods=("POST",), api=Api(
        tag="sessions", summary="Create a draft session", body=SessionDraft, answer=Created, status=201,
        errors={400: ("bad_name", "bad_times", "bad_date", "in_the_past", "no_registration", "needs_auctioneer",
                      "not_auctioneer")})),
    route("/api/sessions/{session_id:id}", api_session, name="api_session", api=Api(
        tag="sessions", summary="One session with its lots", answer=SessionOut, errors={404: ("not_found",)})),
    route("/api/sessions/{session_id:id}/lots", api_session_lot_add, name="api_session_lot_add", methods=("POST",),
          api=Api(tag="sessions", summary="Add a listed item to a draft session as a lot", body=LotTerms,
                  answer=SessionOut, status=201, errors={400: ("bad_reserve", "bad_lot_end"), 404: ("not_found",),
                                                         409: ("not_listed", "session_published", "too_many_lots")})),
    route("/api/sessions/{session_id:id}/lots/{listing_id:id}", api_session_lot_edit, name="api_session_lot_edit",
          methods=("PUT",), api=Api(tag="sessions", summary="Change a draft session's lot's terms", body=Terms,
                                    answer=SessionOut, errors={400: ("bad_reserve", "bad_lot_end"),
                                                               404: ("not_found",), 409: ("session_published",)})),
    route("/api/sessions/{session_id:id}/lots/{listing_id:id}", api_session_lot_remove,
          name="api_session_lot_remove", methods=("DELETE",), api=Api(
              tag="sessions", summary="Take a lot out of a draft session", answer=SessionOut,
              errors={404: ("not_found",), 409: ("session_published",)})),
    route("/api/sessions/{session_id:id}/publish", api_session_publish, name="api_session_publish",
          methods=("POST",), api=Api(tag="sessions", summary="Publish a session: its lots into publicity",
                                     answer=PublishedOut, errors={404: ("not_found",),
                                                                  409: ("session_published", "no_lots",
                                                                        "registration_closed")})),
]  # fmt: skip
