"""Matching at the edge (CR-10): what might solve a demand, what a solver should see first, and
the hot lists; each page with its JSON twin (docs/api.md, "Crowdsourcing").

- ``/demands/{id}/patents`` and ``GET /api/demands/{id}/patents``: the catalogue's patents and
  the exchange's listed items ranked against a demand's public text, for its side, its agency
  and staff only (anyone else: 404, as for a demand they may not see).
- ``/recommendations`` (推荐给我) and ``GET /api/recommendations``: published demands ranked
  against the signed-in solver's profile; an account with no approved identity has none.
- ``/demands/hot`` and ``GET /api/demands/hot``: each industry's hot list (picks, responses,
  views), for anyone.

Lists show a demand's never-hideable fields only (number, title, industry, cooperation,
deadline): nothing here can show what a side hid (CR-4).
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hall.auctions import Industry
from hall.auth.roles import Identity
from hall.demands import sees_private
from hall.matching import DemandCard, DemandMatches, HotList
from hall.store import matching as sql
from hall.store.demands import DemandRow, demand_access, not_found
from hall.store.matching import LIST_MAX
from hall.store.sqlite import SqliteStore
from hall.web import params
from hall.web.errors import Refused
from hall.web.openapi import Api
from hall.web.security import answer, route
from hall.web.templating import render

DEFAULT_LIMIT: Final = 20
HOT_PER_INDUSTRY: Final = 5
"""Demands each industry's list shows on the hot page (its JSON twin takes ``limit``)."""


class LimitQuery(msgspec.Struct):
    """The query of the matching lists."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=LIST_MAX, description="at most this many")] = DEFAULT_LIMIT


class HotQuery(msgspec.Struct):
    """The query of ``GET /api/demands/hot``."""

    industry: Annotated[Industry | None, msgspec.Meta(description="one industry's list (default: every one)")] = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=LIST_MAX, description="demands per industry")] = HOT_PER_INDUSTRY


def _store(request: Request) -> SqliteStore:
    store: SqliteStore = request.app.state.store
    return store


def _limit(request: Request, default: int) -> int:
    return params.whole(request.query_params.get("limit"), "limit", default=default, low=1, high=LIST_MAX)


async def _private_demand(request: Request) -> DemandRow:
    """The demand of the path, for its side, agency and staff; 404 for anyone else."""
    found, who = await demand_access(_store(request), request.path_params["demand_id"], request.state.identity)
    if not sees_private(who):
        raise not_found()
    return found


async def _matches(request: Request) -> DemandMatches:
    return await sql.matches_for(_store(request), await _private_demand(request), _limit(request, DEFAULT_LIMIT))


async def api_demand_patents(request: Request) -> Response:
    return answer(await _matches(request))


async def demand_patents(request: Request) -> Response:
    return render(request, "matching/patents.html", matches=await _matches(request))


async def _recommended(request: Request) -> list[DemandCard] | None:
    me: Identity = request.state.identity
    return await sql.recommended(_store(request), me, _limit(request, DEFAULT_LIMIT))


async def api_recommendations(request: Request) -> Response:
    return answer(await _recommended(request) or [])


async def recommendations(request: Request) -> Response:
    found = await _recommended(request)
    return render(request, "matching/recommendations.html", demands=found or [], solver=found is not None)


def _industry(request: Request) -> Industry | None:
    value = request.query_params.get("industry") or None
    try:
        return None if value is None else Industry(value)
    except ValueError:
        raise Refused(400, "bad_request", "crowd_c_bad_industry") from None


async def _hot(request: Request) -> list[HotList]:
    chosen = _industry(request)
    limit = _limit(request, HOT_PER_INDUSTRY)
    store = _store(request)
    return [HotList(industry=industry, demands=await sql.hot(store, industry, limit))
            for industry in Industry if chosen in (None, industry)]  # fmt: skip


async def api_hot(request: Request) -> Response:
    return answer(await _hot(request))


async def hot_page(request: Request) -> Response:
    return render(request, "matching/hot.html", lists=await _hot(request), chosen=_industry(request),
                  industries=list(Industry))  # fmt: skip


routes = [
    route("/api/demands/hot", api_hot, name="matching_api_hot", api=Api(
        tag="crowdsourcing", summary="Each industry's hot list of published demands (CR-10)", query=HotQuery,
        answer=list[HotList])),
    route("/demands/hot", hot_page, name="matching_hot"),
    route("/api/demands/{demand_id:id}/patents", api_demand_patents, name="matching_api_patents", api=Api(
        tag="crowdsourcing", summary="Catalogue patents and listed items that might solve a demand (CR-10)",
        query=LimitQuery, answer=DemandMatches, errors={404: ("not_found",)})),
    route("/demands/{demand_id:id}/patents", demand_patents, name="matching_patents"),
    route("/api/recommendations", api_recommendations, name="matching_api_recommendations", api=Api(
        tag="crowdsourcing", summary="Published demands recommended for the signed-in solver (CR-10)",
        query=LimitQuery, answer=list[DemandCard])),
    route("/recommendations", recommendations, name="matching_recommendations"),
]  # fmt: skip
