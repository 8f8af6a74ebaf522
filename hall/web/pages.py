"""The live pages: the hall (``/``), a lot's page with its bid form, and the auctioneer's console.

What a page shows of a lot comes from ``Runtime.views``, the durable projection, never from
``Runtime.lots``, which runs ahead of the store by the events being committed: nobody may see a
bid that a crash could take back. A lot is read only for what does not change with bidding (its
spec, its registrants). After loading, a page follows its lots over the page socket
(``/ws/page``, hall/web/live.py), whose fragments are rendered once for every watcher, so
anything about the person looking (their bidder number, leading or outbid, the reserve on the
console) is in the page and in hall/web/static/hall.js, never in a fragment.

Every form posts normally and works without JavaScript: a bid, a hammer that would leave the lot
unsold and a withdrawal first answer a confirmation page, then the confirmed post acts and
redirects back (303) with the outcome in the query string. A typed amount that cannot be the bid
meant (not whole, too low, off the increment, absurdly high: ``amount_problem``) is answered with
what to type instead of a confirmation, as hall.js does before posting. With htmx (``HX-Request``) the same
endpoints answer a fragment instead: the confirmation panel, then the outcome. Each form carries
a fresh request id, so a double submit is answered once by the lot (its request ids are
idempotent) and the next bid or command never reuses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall.auctions import Auctions, Industry, draft_fields, is_session_day, topics_of
from hall.auth.roles import Identity, Role
from hall.engine import Action, Code, Mode, Outcome, State
from hall.engine.view import LotView
from hall.listing import LotDetails
from hall.listings import choice_key
from hall.metrics import result_label
from hall.registration import deadline, eligibility
from hall.runtime import Runtime
from hall.store import StoreError
from hall.web import assets
from hall.web.errors import Refused
from hall.web.i18n import lang_of, translator
from hall.web.live import PAGE_LOTS
from hall.web.reviews import _text
from hall.web.security import route
from hall.web.templating import SHANGHAI, render

QUICK_STEPS: Final = (1, 2, 5, 10)
"""The bid form's quick buttons: that many increments over the current price."""
RUNNING: Final = (State.LIVE, State.PAUSED)
OVER: Final = (State.CLOSED, State.WITHDRAWN)
MAX_REQ: Final = 64
EXTEND_DEFAULT: Final = 300
CODES: Final = frozenset(code.value for code in Code)
STATES: Final = frozenset(state.value for state in State)
ACTIONS: Final = {action.value: action for action in Action}
ACCEPTED: Final = "accepted"
JS_TEXT: Final = ("remaining", "starts_in", "closing", "opening", "days_short", "online", "offline", "connecting",
                  "request_failed", "status_leading", "status_outbid", "status_won", "status_none", "status_lost",
                  "conn_over", "bid_not_whole", "bid_below_lowest", "bid_wrong_increment", "bid_too_high")  # fmt: skip
"""The interface text hall.js writes into a page, handed to it in the page's language."""
Q_MAX: Final = 50
"""Characters of a search of the hall."""
SEARCH_MAX: Final = 200
"""Lots a search shows at most (the newest)."""
CALENDAR_DAYS: Final = 14
"""The hall's calendar: the session days (AU-1) of the next two weeks, today included."""
ABSURD: Final = 100
"""A bid above this many times the current price (the start price before any bid) is taken for a
typo and stopped before the confirmation (the lot itself takes anything up to 10^12)."""
_RUN: Final = (State.LIVE, State.PAUSED)
_ANY: Final = (State.PUBLICITY, State.LIVE, State.PAUSED)
COMMANDS: Final[dict[Mode, dict[Action, tuple[State, ...]]]] = {
    Mode.TIMED: {Action.PAUSE: (State.LIVE,), Action.RESUME: (State.PAUSED,), Action.EXTEND: _RUN,
                 Action.FAIR_WARNING: (State.LIVE,), Action.HAMMER: (State.PAUSED,), Action.WITHDRAW: _ANY},
    Mode.LIVE: {Action.OPEN: (State.PUBLICITY,), Action.PAUSE: (State.LIVE,), Action.RESUME: (State.PAUSED,),
                Action.FAIR_WARNING: (State.LIVE,), Action.FLOOR_BID: (State.LIVE,), Action.HAMMER: _RUN,
                Action.WITHDRAW: _ANY},
}  # fmt: skip
"""The console's commands for each mode, in the order a tile shows them, and the states in which
the lot takes each (docs/engine.md; tests/test_pages.py runs every command in every state against
the engine to keep this true). A timed lot opens and closes by its clock, so it has no open and
is hammered only while paused; a fair warning needs a bid as well (``NEEDS_BID``)."""
NEEDS_BID: Final = frozenset({Action.FAIR_WARNING})
_PROBLEM_CODES: Final = {"bid_not_whole": Code.BAD_REQUEST.value, "bid_below_lowest": Code.TOO_LOW.value,
                         "bid_wrong_increment": Code.BAD_INCREMENT.value, "bid_too_high": "too_high"}  # fmt: skip
"""The ``data-code`` of each message ``amount_problem`` gives (``too_high`` is the page's own)."""


# ---------------------------------------------------------------------- plumbing


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _auctions(request: Request) -> Auctions:
    auctions: Auctions = request.app.state.auctions
    return auctions


def _view(request: Request) -> LotView:
    lot_id: int = request.path_params["lot"]
    view = _runtime(request).views.get(lot_id)
    if view is None:
        raise Refused(404, "not_found", "code_unknown_lot")
    return view


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def new_req() -> str:
    """A request id for one form: what makes a double submit count once."""
    return secrets.token_urlsafe(12)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def _whole(value: object) -> int | None:
    """A whole number as people type it ("12,000", "¥12000"); None when it is not one."""
    if not isinstance(value, str):
        return None
    digits = value.strip().removeprefix("¥").removeprefix("￥").replace(",", "").replace("，", "").replace(" ", "")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 15:
        return None
    return int(digits)


def _req(form: FormData) -> str | None:
    req = form.get("req")
    if not isinstance(req, str) or not 0 < len(req) <= MAX_REQ or not req.isascii() or not req.isprintable():
        return None
    return req


def _page_context(request: Request) -> dict[str, Any]:
    """What every live page hands to base.html and hall.js: the server's clock and the text."""
    _ = translator(lang_of(request))
    return {"now": _runtime(request).clock(), "js_text": {key: _(key) for key in JS_TEXT}}


def outcome(code: str | None, _: Callable[[str], str], command: bool = False) -> dict[str, Any]:
    """An outcome code (from a result, or back from the query string after a redirect) and its
    message; both empty for anything else, so a hand-edited URL shows nothing it likes."""
    if code == ACCEPTED:
        return {"result": code, "message": _("done_command" if command else "bid_accepted")}
    if code is not None and code in CODES:
        return {"result": code, "message": _("code_" + code)}
    return {"result": "", "message": ""}


def duration(seconds: int, _: Callable[[str], str]) -> str:
    if seconds % 60 == 0:
        return _("minutes_n").format(n=seconds // 60)
    return _("seconds_n").format(n=seconds)


def lowest_bid(view: LotView) -> int:
    """The least amount the lot takes now (AU-6): the start price first, then one increment up."""
    spec = view.spec
    return spec.start_price if view.price is None else view.price + spec.increment


def quick_amount(view: LotView, steps: int) -> int:
    """``steps`` increments over the current price; the first of them is the start price when
    there is no bid yet."""
    return lowest_bid(view) + (steps - 1) * view.spec.increment


def below_reserve(view: LotView) -> bool:
    """The console's marker: a reserve the price (or the lack of one) does not reach."""
    reserve = view.spec.reserve
    return reserve is not None and (view.price is None or view.price < reserve)


def unsold_if_hammered(view: LotView) -> bool:
    """Hammering now would close the lot unsold: no bid, or the price below the reserve."""
    return view.price is None or below_reserve(view)


def bidder_status(view: LotView, number: str | None) -> str:
    """The signed-in bidder's standing, by the one rule hall.js (``updateStatus``) applies again
    after each update: no bid yet; leading or outbid while the lot runs; once it is over, won
    (the winner of a sold lot) or not won (``status_lost``: whoever else bid, the last leader of
    an unsold or withdrawn lot too). A bid older than the view's recent ones is not seen."""
    if number is None:
        return ""
    leading = view.leader == number
    if not (leading or any(bid.bidder == number for bid in view.recent)):
        return "status_none"
    if view.state in OVER:
        return "status_won" if view.outcome is Outcome.SOLD and view.winner == number else "status_lost"
    return "status_leading" if leading else "status_outbid"


def amount_problem(view: LotView, amount: int | None) -> tuple[str, dict[str, str]] | None:
    """Why a typed amount cannot be the bid it was meant to be, as a catalogue key and its
    fields; None when it may go on to the confirmation. hall.js asks the same before the
    confirmation is even requested; the lot judges the confirmed bid in any case."""
    if amount is None or amount <= 0:
        return "bid_not_whole", {}
    spec = view.spec
    lowest = lowest_bid(view)
    if amount < lowest:
        return "bid_below_lowest", {"lowest": f"{lowest:,}"}
    limit = ABSURD * (view.price or spec.start_price)
    if amount > limit:
        return "bid_too_high", {"limit": f"{limit:,}"}
    if (amount - lowest) % spec.increment:
        below = amount - (amount - lowest) % spec.increment
        return "bid_wrong_increment", {"increment": f"{spec.increment:,}", "below": f"{below:,}",
                                       "above": f"{below + spec.increment:,}"}  # fmt: skip
    return None


def commands(view: LotView) -> list[tuple[str, str, bool, bool]]:
    """A console tile's commands for the lot's mode: (action, the states it is taken in, shown
    now, needs a bid). All of the mode's commands are in the page so that hall.js can show and
    hide them as the live state changes; the server's rendering is right as loaded."""
    shown = []
    for action, states in COMMANDS[view.spec.mode].items():
        needs_bid = action in NEEDS_BID
        now = view.state in states and (not needs_bid or view.price is not None)
        shown.append((action.value, " ".join(state.value for state in states), now, needs_bid))
    return shown


# ---------------------------------------------------------------------- the hall


@dataclass
class _Session:
    name: str
    rows: list[LotView] = field(default_factory=list)


@dataclass
class _Day:
    day: date
    today: bool
    sessions: dict[str, _Session] = field(default_factory=dict)


def _current(runtime: Runtime, today: date) -> list[LotView]:
    """Today's and later lots, and any earlier one still running, by start then id."""
    found = [view for view in runtime.views.values()
             if _day(view.spec.bidding_start) >= today or view.state in RUNNING]  # fmt: skip
    found.sort(key=lambda view: (view.spec.bidding_start, view.id))
    return found


def _ordered_sessions(runtime: Runtime, views: Iterable[LotView]) -> list[str]:
    return list(dict.fromkeys(runtime.sessions.get(view.id, "") for view in views))


def _matches(runtime: Runtime, lot: int, needle: str) -> bool:
    """Whether a search (casefolded) is part of the lot's title, number or right holder."""
    details = runtime.details.get(lot)
    return needle in runtime.titles.get(lot, "").casefold() or details is not None and (
        needle in details.number.casefold() or needle in details.holder.casefold())


def _search(runtime: Runtime, needle: str) -> list[LotView]:
    """The lots a search finds, past ones too, at most ``SEARCH_MAX`` (the newest), by start.

    A scan of the lots in memory, where the hall already holds every lot's title and details
    (the runtime loads them at start): no SQL, so nothing to keep in step with the lots, and a
    substring of Chinese text matches as typed, which SQLite's FTS5 needs a trigram index for
    and a LIKE over a join finds no faster. It costs a few microseconds a lot; the query is
    bounded (``Q_MAX`` characters) and the answer too."""
    found = [view for lot, view in runtime.views.items() if _matches(runtime, lot, needle)]
    found.sort(key=lambda view: (view.spec.bidding_start, view.id))
    return found[-SEARCH_MAX:]


def _calendar(auctions: Auctions, today: date) -> list[tuple[date, list[Any]]]:
    """The coming days of the calendar: each session day (AU-1), and any other day with a
    session, with the published sessions on it."""
    last = today + timedelta(days=CALENDAR_DAYS - 1)
    by_day: dict[date, list[Any]] = {}
    for n in range(CALENDAR_DAYS):
        day = today + timedelta(days=n)
        if is_session_day(day):
            by_day[day] = []
    for session in auctions.coming(today, last):
        by_day.setdefault(session.day, []).append(session)
    return sorted(by_day.items())


async def home(request: Request) -> Response:
    """The hall (AU-4): its lots by day and session, filtered by industry, session, state or a
    search over title, number and holder, and the calendar of coming sessions. Unless it shows
    a search, a session or a state new lots are not in, the page's socket follows the hall's
    topic (its industry's, when filtered by one), so lots published later appear in it."""
    runtime = _runtime(request)
    auctions = _auctions(request)
    today = _day(runtime.clock())
    current = _current(runtime, today)
    session = request.query_params.get("session") or None
    state = request.query_params.get("state") or None
    if state not in STATES:
        state = None
    chosen = next((i for i in Industry if i.value == request.query_params.get("industry")), None)
    q = " ".join((request.query_params.get("q") or "").split())[:Q_MAX]
    needle = q.casefold()
    shown = [view for view in (_search(runtime, needle) if needle else current)
             if (session is None or runtime.sessions.get(view.id, "") == session)
             and (state is None or view.state.value == state)
             and (chosen is None or auctions.industry_of(view.id) is chosen)]  # fmt: skip
    follows = not needle and session is None and state in (None, State.PUBLICITY.value)
    topic = (topics_of(chosen)[1] if chosen else "hall") if follows else None
    days: dict[date, _Day] = {}
    for view in shown:
        day = _day(view.spec.bidding_start)
        group = days.setdefault(day, _Day(day, day == today))
        name = runtime.sessions.get(view.id, "")
        group.sessions.setdefault(name, _Session(name)).rows.append(view)
    return render(request, "home.html", days=list(days.values()), titles=runtime.titles,
                  sessions=_ordered_sessions(runtime, current), session=session, state=state, states=list(State),
                  industries=list(Industry), industry=chosen, q=q, q_max=Q_MAX, topic=topic,
                  after=max(runtime.views, default=0), calendar=_calendar(auctions, today),
                  live_lots=",".join(str(view.id) for view in shown[:PAGE_LOTS]), **_page_context(request))  # fmt: skip


# ---------------------------------------------------------------------- a lot's page and its bids


def _lot_context(request: Request, view: LotView) -> dict[str, Any]:
    runtime = _runtime(request)
    me: Identity | None = request.state.identity
    lot = runtime.lots.get(view.id)
    registrant = lot.registrants.get(me.id) if lot is not None and me is not None else None
    own = me is not None and me.org is not None and me.org == view.spec.seller_org
    number = registrant.number if registrant is not None and not own else None
    _ = translator(lang_of(request))
    spec = view.spec
    extension = (_("extension_text").format(window=duration(spec.window, _), extension=duration(spec.extension, _))
                 if spec.window and spec.extension else _("no_extension"))  # fmt: skip
    closes = deadline(spec.bidding_start)
    now = runtime.clock()
    registration_open = eligibility(now=now, spec=spec, state=view.state, verified=True, org=None,
                                    current=None) is None  # fmt: skip
    return {
        "view": view,
        "title": runtime.titles.get(view.id, ""),
        "session": runtime.sessions.get(view.id, ""),
        "details": runtime.details.get(view.id) or LotDetails(),
        "spec": spec,
        "extension": extension,
        "registration_deadline": closes,
        "registration_open": registration_open,
        "registration_later": not registration_open and view.state is State.PUBLICITY and now < spec.publicity_start,
        "number": number,
        "own": own,
        "can_bid": number is not None and view.state not in OVER,
        "status": bidder_status(view, number),
        "absurd": ABSURD,
        "lowest": lowest_bid(view),
        "quick": [(steps, quick_amount(view, steps)) for steps in QUICK_STEPS],
        "req": new_req(),
        **_page_context(request),
    }


async def _item(request: Request, lot: int) -> dict[str, Any]:
    """The listing behind a lot of a session, in full (AU-4): its columns and draft, and whether
    the asker may open its documents (the file route serves them to the owner and to staff)."""
    auctions = _auctions(request)
    if lot not in auctions.lot_session:
        return {"item": None, "published": None}
    try:
        item = await auctions.store.item(lot)
    except StoreError:
        item = None
    me: Identity | None = request.state.identity
    opens = me is not None and item is not None and (me.id == item.owner or me.has(Role.STAFF))
    return {"item": item, "draft": draft_fields(item.draft) if item else None, "choice": choice_key,
            "opens_documents": opens, "published": auctions.session_of(lot)}  # fmt: skip


async def lot_page(request: Request) -> Response:
    view = _view(request)
    _ = translator(lang_of(request))
    return render(request, "lot.html", **outcome(request.query_params.get("result"), _),
                  **_lot_context(request, view), **await _item(request, view.id))  # fmt: skip


async def lot_bid(request: Request) -> Response:
    """A bid from the lot page: the first post (no ``confirm=1``) answers the confirmation, the
    confirmed one bids. ``steps`` (a quick button) stands for that many increments over the
    durable price as it is when the post arrives; the confirmation then names the amount."""
    view = _view(request)
    me: Identity = request.state.identity
    form = await request.form(max_files=0, max_fields=16)
    req = _req(form)
    steps = _whole(form.get("steps"))
    amount = quick_amount(view, steps) if steps in QUICK_STEPS else _whole(form.get("amount"))
    _ = translator(lang_of(request))
    problem = amount_problem(view, amount) if req is not None and form.get("confirm") != "1" else None
    if problem is not None:  # caught before the confirmation, with what to type instead
        key, fields = problem
        code, message = _PROBLEM_CODES[key], _(key).format(**fields)
        if _htmx(request):
            return render(request, "_bid_result.html", req=new_req(), result=code, message=message)
        return render(request, "lot.html", status_code=400, result=code, message=message,
                      **_lot_context(request, view), **await _item(request, view.id))  # fmt: skip
    if req is None or amount is None or amount <= 0:
        code = Code.BAD_REQUEST.value
    elif form.get("confirm") != "1":
        context: dict[str, Any] = {"view": view, "title": _runtime(request).titles.get(view.id, ""), "amount": amount,
                                   "req": req}
        if _htmx(request):
            return render(request, "_bid_confirm.html", **context)
        return render(request, "bid_confirm.html", **context)
    else:
        code = result_label(await _runtime(request).bid(view.id, me.id, me.org, amount, req))
    if _htmx(request):
        return render(request, "_bid_result.html", req=new_req(), **outcome(code, _))
    return RedirectResponse(f"/lots/{view.id}?{urlencode({'result': code})}#bid", status_code=303)


# ---------------------------------------------------------------------- the auctioneer's console


async def _registration_counts(request: Request, lots: list[int]) -> dict[int, tuple[int, int]] | None:
    """Per lot: (admitted bidders, letters awaiting review); None when the store cannot say."""
    if not lots:
        return {}
    marks = ",".join("?" * len(lots))
    store = request.app.state.store
    try:
        admitted = await store.fetchall(f"SELECT lot, count(*) FROM bidders WHERE lot IN ({marks}) GROUP BY lot", lots)
        pending = await store.fetchall(
            f"SELECT lot, count(*) FROM registrations WHERE status = 'pending' AND lot IN ({marks}) GROUP BY lot",
            lots,
        )
    except StoreError:
        return None
    counts = {lot: [0, 0] for lot in lots}
    for lot, n in admitted:
        counts[lot][0] = n
    for lot, n in pending:
        counts[lot][1] = n
    return {lot: (a, p) for lot, (a, p) in counts.items()}


def _console_sessions(runtime: Runtime, mine: Callable[[LotView], bool]) -> list[str]:
    """Sessions with a lot today or later, or still running, in the order they start, of the
    lots this auctioneer runs (``mine``)."""
    return _ordered_sessions(runtime, filter(mine, _current(runtime, _day(runtime.clock()))))


def _default_session(runtime: Runtime, sessions: list[str]) -> str | None:
    running = {runtime.sessions.get(view.id, "") for view in runtime.views.values() if view.state in RUNNING}
    return next((name for name in sessions if name in running), sessions[0] if sessions else None)


def _reqs() -> dict[str, str]:
    """A fresh request id for each of a tile's forms: two commands never share one."""
    return {action.value: new_req() for action in Action}


async def console(request: Request) -> Response:
    """The auctioneer's console: the lots of one session (by name), among those the signed-in
    auctioneer runs (``Auctions.runs``): a session assigned to another auctioneer is not shown."""
    runtime = _runtime(request)
    auctions = _auctions(request)
    me: Identity = request.state.identity

    def mine(view: LotView) -> bool:
        return auctions.runs(view.id, me.id)

    sessions = _console_sessions(runtime, mine)
    chosen = request.query_params.get("session")
    if chosen is None or chosen not in {runtime.sessions.get(view.id, "") for view in filter(mine, runtime.views.values())}:
        chosen = _default_session(runtime, sessions)
    views = sorted((view for view in runtime.views.values() if runtime.sessions.get(view.id) == chosen and mine(view)),
                   key=lambda view: (view.spec.bidding_start, view.id))  # fmt: skip
    if chosen is not None and chosen not in sessions:
        sessions.append(chosen)  # an older session asked for by name
    _ = translator(lang_of(request))
    return render(request, "console.html", sessions=sessions, session=chosen, views=views, titles=runtime.titles,
                  counts=await _registration_counts(request, [view.id for view in views]),
                  reqs={view.id: _reqs() for view in views}, result_lot=_whole(request.query_params.get("lot")),
                  live_lots=",".join(str(view.id) for view in views[:PAGE_LOTS]), extend_default=EXTEND_DEFAULT,
                  below_reserve=below_reserve, commands=commands,
                  **outcome(request.query_params.get("result"), _, command=True),
                  **_page_context(request))  # fmt: skip


async def console_command(request: Request) -> Response:
    """One auctioneer command on one lot. A hammer that would leave the lot unsold and any
    withdrawal answer a confirmation first; the confirmed post (``confirm=1``) acts."""
    view = _view(request)
    action = ACTIONS.get(request.path_params["action"])
    if action is None:
        raise Refused(404, "not_found", "err_no_action")
    me: Identity = request.state.identity
    if not _auctions(request).runs(view.id, me.id):
        raise Refused(403, "not_your_session", "au_err_not_your_session")
    form = await request.form(max_files=0, max_fields=16)
    req = _req(form)
    args: dict[str, object] = {}
    if action is Action.EXTEND:
        args["seconds"] = _whole(form.get("seconds"))
    elif action is Action.WITHDRAW:
        args["reason"] = _text(form, "reason")
    elif action is Action.FLOOR_BID:
        args["bidder"] = _text(form, "bidder")
        args["amount"] = _whole(form.get("amount"))
    runtime = _runtime(request)
    session = runtime.sessions.get(view.id, "")
    _ = translator(lang_of(request))
    risky = action is Action.WITHDRAW and args["reason"] or action is Action.HAMMER and unsold_if_hammered(view)
    if req is None:
        code = Code.BAD_REQUEST.value
    elif risky and form.get("confirm") != "1":
        context: dict[str, Any] = {"view": view, "title": runtime.titles.get(view.id, ""), "action": action.value,
                                   "req": req, "reason": args.get("reason", ""), "session": session}
        if _htmx(request):
            return render(request, "_console_confirm.html", **context)
        return render(request, "console_confirm.html", **context)
    else:
        code = result_label(await runtime.command(view.id, me.id, action, req, **args))
    if _htmx(request):
        return render(request, "_console_result.html", view=view, reqs=_reqs(), extend_default=EXTEND_DEFAULT,
                      commands=commands(view), **outcome(code, _, command=True))  # fmt: skip
    query = urlencode({"session": session, "lot": view.id, "result": code})
    return RedirectResponse(f"/console?{query}#lot-{view.id}", status_code=303)


routes = [
    route("/", home, name="home"),
    route("/lots/{lot:id}", lot_page, name="lot_page"),
    route("/lots/{lot:id}/bid", lot_bid, name="lot_bid", methods=("POST",)),
    route("/console", console, name="console"),
    route("/console/lots/{lot:id}/{action}", console_command, name="console_command", methods=("POST",)),
    *assets.routes,
]
