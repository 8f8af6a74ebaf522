"""What a newcomer reads to find their way: the rules page (``/help``) and, once signed in,
their own registrations and bids, as pages and as JSON twins (``/api/me/…``).

A bid's standing comes from the durable views (``Runtime.views``) and the bidder numbers the
account holds, through ``bidder_status``: the same words the lot page shows, never a bid a
crash could take back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hall.auth.roles import Identity
from hall.engine.view import LotView
from hall.reviews.registrations import Registration, registrations_of
from hall.runtime import Runtime
from hall.engine import State
from hall.web.i18n import lang_of, translate
from hall.web.openapi import Api
from hall.web.pages import bidder_status
from hall.web.reviews import _reviews
from hall.web.security import answer, route
from hall.web.templating import render

SHOWN: Final = 500
"""At most this many registrations (and as many lots bid on) are listed, newest first."""


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def help_page(request: Request) -> Response:
    return render(request, "help.html")


async def _registrations(request: Request) -> list[dict[str, Any]]:
    """The account's registrations, newest first, each with its lot's state and bidding start."""
    me: Identity = request.state.identity
    runtime = _runtime(request)
    rows = []
    for registration in await registrations_of(_reviews(request), me.id, SHOWN):
        view = runtime.views.get(registration.lot)
        rows.append({"registration": registration, "state": view.state.value if view else "",
                     "bidding_start": view.spec.bidding_start if view else None})  # fmt: skip
    return rows


@dataclass(frozen=True, slots=True)
class BidRow:
    view: LotView
    title: str
    number: str
    status: str
    """The catalogue key of the standing (``bidder_status``)."""

    @property
    def standing(self) -> str:
        return self.status.removeprefix("status_")


def _bids(request: Request) -> list[BidRow]:
    """Every lot the account holds a bidder number for, the latest bidding first, with its
    standing there: leading, outbid, won, not won, or no bid yet."""
    me: Identity = request.state.identity
    runtime = _runtime(request)
    rows = []
    for lot_id, lot in runtime.lots.items():
        registrant = lot.registrants.get(me.id)
        view = runtime.views.get(lot_id)
        if registrant is not None and view is not None:
            rows.append(BidRow(view, runtime.titles.get(lot_id, ""), registrant.number,
                               bidder_status(view, registrant.number)))  # fmt: skip
    rows.sort(key=lambda row: (row.view.spec.bidding_start, row.view.id), reverse=True)
    return rows[:SHOWN]


async def my_registrations(request: Request) -> Response:
    return render(request, "my_registrations.html", rows=await _registrations(request))


async def my_bids(request: Request) -> Response:
    return render(request, "my_bids.html", rows=_bids(request))


class MyRegistration(msgspec.Struct):
    """One of the caller's registrations (``GET /api/me/registrations``)."""

    id: int
    lot: int
    title: str
    lot_state: State | None
    """The lot's state now; null when the lot is gone from the hall."""
    status: str
    """``pending``, ``approved`` or ``rejected``."""
    status_text: str
    """The status in the caller's language."""
    number: str | None
    """The bidder number, once approved."""
    reason: str | None
    """Why it was rejected."""
    submitted_at: int
    reviewed_at: int | None


class MyRegistrations(msgspec.Struct):
    registrations: list[MyRegistration]


class MyBid(msgspec.Struct):
    """A lot the caller holds a bidder number for (``GET /api/me/bids``)."""

    lot: int
    title: str
    state: State
    number: str
    """The caller's bidder number on the lot."""
    price: int | None
    leader: str | None
    """The leading bidder number."""
    standing: str
    """``leading``, ``outbid``, ``won``, ``lost`` (not won) or ``none`` (no bid yet)."""
    standing_text: str


class MyBids(msgspec.Struct):
    bids: list[MyBid]


def _registration(row: dict[str, Any], lang: str) -> MyRegistration:
    registration: Registration = row["registration"]
    return MyRegistration(id=registration.id, lot=registration.lot, title=registration.lot_title,
                          lot_state=State(row["state"]) if row["state"] else None, status=registration.status,
                          status_text=translate(registration.status, lang), number=registration.number,
                          reason=registration.reason, submitted_at=registration.created_at,
                          reviewed_at=registration.reviewed_at)  # fmt: skip


async def api_my_registrations(request: Request) -> Response:
    lang = lang_of(request)
    return answer(MyRegistrations([_registration(row, lang) for row in await _registrations(request)]))


async def api_my_bids(request: Request) -> Response:
    lang = lang_of(request)
    return answer(MyBids([
        MyBid(lot=row.view.id, title=row.title, state=row.view.state, number=row.number, price=row.view.price,
              leader=row.view.leader, standing=row.standing, standing_text=translate(row.status, lang))
        for row in _bids(request)
    ]))  # fmt: skip


routes = [
    route("/help", help_page, name="help"),
    route("/account/registrations", my_registrations, name="my_registrations"),
    route("/account/bids", my_bids, name="my_bids"),
    route("/api/me/registrations", api_my_registrations, name="api_my_registrations", api=Api(
        tag="accounts", summary="The caller's registrations, newest first", answer=MyRegistrations)),
    route("/api/me/bids", api_my_bids, name="api_my_bids", api=Api(
        tag="accounts", summary="The lots the caller holds a bidder number for, with its standing", answer=MyBids)),
]  # fmt: skip
