"""Patent lookup at the edge (LS-3): the JSON search, and the as-you-type fragment the listing
form shows under its fields.

``GET /api/patents?q=…&limit=…`` → a JSON list of patents (docs/api.md, "Patents").

``GET /patents/lookup`` is for htmx. The listing form wires it like this::

    <form id="listing-form" method="post" …>
      <label>{{ _('patent_field_title') }}
        <input name="title" maxlength="200" autocomplete="off"
               hx-get="/patents/lookup" hx-trigger="input changed delay:300ms"
               hx-target="#patent-matches" hx-sync="this:replace"></label>
      <div id="patent-matches" aria-live="polite"></div>
      … inputs named number, holder, grant_date, ipc, legal_status, abstract, application_date,
        inventors (any of them may be missing) …
    </form>
    <script src="/static/vendor/htmx.min.js" defer></script>
    <script src="/static/patents.js" defer></script>

The route reads the typed text from ``q``, else ``title``, else ``number`` (htmx sends an input's
value under the input's own name, so the form's title or number field can drive the lookup, or a
separate search box named ``q``), at most ``MAX_QUERY`` characters (longer: 400 ``bad_request``),
and ``limit`` (1..50, default 10). It answers 200 with HTML for the target's inside:

- nothing at all while the text is empty (the list clears as the seller deletes);
- ``<div class="patent-results" data-patent-results>`` holding a ``<ul>`` whose items are each a
  ``<button type="button" class="patent-pick" data-patent="{JSON}">`` — the JSON is the patent as
  ``/api/patents`` gives it (keys ``number``, ``title``, ``holder``, ``grant_date``, ``ipc``,
  ``legal_status``, ``abstract``, ``application_date``, ``inventors``) — showing its title, number,
  holder, grant date and legal status;
- or, in the same div, a ``<p>`` saying nothing matched, or (``data-error`` = ``patent_service_down``,
  ``patent_service_timeout``, ``patent_service_bad_answer``) that the patent service could not
  answer. These are 200 too: htmx swaps only 2xx answers, and the seller must read them in place.

Choosing a match: ``hall/web/static/patents.js`` (on the page) catches the button's click, sets
every field of the button's form (or of the form whose id the nearest ``data-patent-form``
attribute names) whose name is a key of the JSON, fires ``change`` on each (not ``input``, which
would start a new lookup), removes the list, and fires ``patent:picked`` on the form with the
patent as ``detail``. Without JavaScript there is no as-you-type: the seller types the fields.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from hall.patents import MAX_LIMIT, LookupFailed, Patent, PatentSource
from hall.web import params
from hall.web.errors import Refused
from hall.web.openapi import Api
from hall.web.security import answer, route
from hall.web.templating import render

MAX_QUERY: Final = 100
DEFAULT_LIMIT: Final = 10
_QUERY_NAMES: Final = ("q", "title", "number")
_encoder: Final = msgspec.json.Encoder()


class PatentsQuery(msgspec.Struct):
    """The query of ``GET /api/patents``, for /openapi.json: ``api_patents`` reads ``q`` with
    ``_query`` (trimmed) and ``limit`` with ``params.whole``, under these same bounds."""

    q: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUERY,
                                   description="part of a title, holder or abstract, or a patent number")]  # fmt: skip
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description="at most this many")] = DEFAULT_LIMIT


def _query(request: Request, names: tuple[str, ...]) -> str:
    """The first non-empty of the query parameters ``names``, stripped; 400 when too long."""
    text = next((value for name in names if (value := request.query_params.get(name, "").strip())), "")
    if len(text) > MAX_QUERY:
        raise Refused(400, "bad_request", "patent_query_bad", {"max": MAX_QUERY})
    return text


def _limit(request: Request) -> int:
    return params.whole(request.query_params.get("limit"), "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)


async def api_patents(request: Request) -> Response:
    q = _query(request, ("q",))
    if not q:
        raise Refused(400, "bad_request", "patent_query_bad", {"max": MAX_QUERY})
    limit = _limit(request)
    source: PatentSource = request.app.state.patents
    return answer(await source.search(q, limit))  # a LookupFailed is answered as the Refused it is


async def patent_lookup(request: Request) -> Response:
    q = _query(request, _QUERY_NAMES)
    limit = _limit(request)
    if not q:
        return HTMLResponse("")
    source: PatentSource = request.app.state.patents
    found: list[Patent] = []
    failed: LookupFailed | None = None
    try:
        found = await source.search(q, limit)
    except LookupFailed as exc:
        failed = exc
    picks = [(patent, _encoder.encode(patent).decode()) for patent in found]
    return render(request, "patents/_lookup.html", picks=picks, failed=failed)


routes = [
    route("/api/patents", api_patents, name="api_patents", api=Api(
        tag="patents", summary="Patents matching what a seller typed (LS-3)", query=PatentsQuery,
        answer=list[Patent], errors={502: ("patent_service_bad_answer",), 503: ("patent_service_down",),
                                     504: ("patent_service_timeout",)})),
    route("/patents/lookup", patent_lookup, name="patent_lookup"),
]  # fmt: skip
