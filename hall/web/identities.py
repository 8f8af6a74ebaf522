"""Identities (AC-3) as pages and JSON: apply with the documents, see each identity's state and
the reason of a rejection, edit and resubmit. The rules live in ``hall/identities.py``; staff
decide in the one review queue (``hall/web/reviews.py``)."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import identities
from hall.identities import EXPERT, KINDS, MAX_DOCUMENTS, Identity
from hall.reviews import Application, ReviewError, Reviews
from hall.uploads import UploadRefused
from hall.web.errors import error
from hall.web.params import whole
from hall.web.openapi import Api
from hall.web.reviews import DocumentLink, _form, _me, _now, _refusal, _reviews, _text, written_uploads
from hall.web.security import answer, route
from hall.web.templating import iso, render

PAGE: Final = "/account/identity"


class IdentitiesQuery(msgspec.Struct):
    """``GET /api/identities``'s one filter, for /openapi.json (read with ``params.whole``)."""

    mine: Annotated[int, msgspec.Meta(ge=1, le=1, description="1: the caller's own (the only listing there is)")] = 1


class OrgRef(msgspec.Struct):
    id: int
    name: str


class IdentityItem(msgspec.Struct):
    """An identity as its holder's API shows it: the state and, once rejected, the reason."""

    id: int
    kind: str
    """``university``, ``institute``, ``soe``, ``enterprise``, ``transfer`` or ``expert``."""
    state: str
    """``pending``, ``approved`` or ``rejected``."""
    org: OrgRef | None
    reason: str | None
    submitted_at: str | None
    documents: list[DocumentLink]


def identity_item(found: Identity, latest: Application | None) -> IdentityItem:
    return IdentityItem(
        id=found.id, kind=found.kind, state=found.state,
        org=OrgRef(found.org, found.org_name or "") if found.org is not None else None,
        reason=latest.reason if latest is not None and latest.state == "rejected" else None,
        submitted_at=iso(latest.submitted_at) if latest is not None else None,
        documents=[DocumentLink(id=d.id, name=d.name, url=f"/files/{d.id}") for d in found.documents],
    )  # fmt: skip


async def _mine(reviews: Reviews, user: int) -> list[tuple[Identity, Application | None]]:
    found = await identities.identities_of(reviews.store, user)
    latest = await reviews.latest(identities.KIND, [i.id for i in found])
    return [(i, latest.get(i.id)) for i in found]


async def _page(request: Request, status: int = 200, message: str = "", code: str = "", kind: str = "") -> Response:
    me = _me(request)
    mine = await _mine(_reviews(request), me.id)
    held = {i.kind for i, _ in mine if i.state in ("pending", "approved")}
    return render(request, "identities/identity.html", status_code=status, message=message, code=code, mine=mine,
                  kinds=[k for k in KINDS if k not in held], expert=EXPERT, max_documents=MAX_DOCUMENTS,
                  chosen=kind)  # fmt: skip


async def _apply(request: Request, form: FormData) -> int:
    """Check and write the uploads, then apply; nothing is kept when anything is refused."""
    written = await written_uploads(request, form, "documents", MAX_DOCUMENTS,
                                    ReviewError(400, "too_many_files", "err_identity_documents", n=MAX_DOCUMENTS))
    return await identities.apply(_reviews(request), user=_me(request).id, kind=_text(form, "kind"), documents=written,
                                  now=_now(request))  # fmt: skip


async def identity_page(request: Request) -> Response:
    if request.method == "GET":
        return await _page(request)
    form = await _form(request)
    try:
        await _apply(request, form)
    except (ReviewError, UploadRefused) as exc:
        status, code, message, _ = _refusal(request, exc)
        return await _page(request, status, message, code, _text(form, "kind"))
    return RedirectResponse(PAGE, status_code=303)


async def api_identity_apply(request: Request) -> Response:
    try:
        identity_id = await _apply(request, await _form(request))
    except (ReviewError, UploadRefused) as exc:
        status, code, message, extra = _refusal(request, exc)
        return error(status, code, message, **extra)
    reviews = _reviews(request)
    found = await identities.identity(reviews.store, identity_id)
    assert found is not None
    latest = await reviews.latest(identities.KIND, [identity_id])
    return answer(identity_item(found, latest.get(identity_id)), 201)


async def api_identities(request: Request) -> Response:
    """The caller's identities (``mine=1``, the only listing there is)."""
    whole(request.query_params.get("mine"), "mine", default=1, low=1, high=1)
    mine = await _mine(_reviews(request), _me(request).id)
    return answer([identity_item(i, latest) for i, latest in mine])


routes = [
    route(PAGE, identity_page, name="identity_page", methods=("GET", "POST")),
    route("/api/identities", api_identities, name="api_identities", api=Api(
        tag="identities", summary="The caller's identities, newest first", query=IdentitiesQuery,
        answer=list[IdentityItem])),
    route("/api/identities", api_identity_apply, name="api_identity_apply", methods=("POST",), api=Api(
        tag="identities", summary="Apply for an identity, or resubmit a rejected one", upload="documents",
        answer=IdentityItem, status=201,
        description="multipart/form-data: `kind` and 1 to 4 files `documents` (PDF, JPEG or PNG).",
        errors={400: ("invalid", "missing_file", "too_many_files", "bad_file", "pdf_inflate_limit", "pdf_time_limit",
                      "pdf_undecodable"),
                403: ("not_verified", "org_required"), 409: ("pending", "identity_exists"),
                429: ("upload_quota",), 503: ("unavailable",)})),
]  # fmt: skip
