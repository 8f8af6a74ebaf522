"""Applications and their review, as pages and JSON: real-name verification (AC-2),
registration to bid (AU-2, AU-3), the documents behind them, and the ONE staff queue and
decision of every kind of application (AC-5, ``hall/reviews``).

Every handler validates every field on the server; a refusal is the page again with the
reason and a fitting status, or, for a client that asks for JSON, the ``error`` shape with a
stable code. Time is the runtime's clock, so that tests drive the registration deadline by hand.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote, urlencode

import msgspec
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from hall import identities, responses, shops
from hall.auth.roles import Identity, Role
from hall.registration import beijing, deadline, eligibility
from hall.reviews import KINDS, MAX_REASON, PENDING, STATES, Entry, Invalid, ReviewError, Reviews
from hall.reviews import registrations, verifications
from hall.reviews.verifications import ORG_KINDS, ORGANISATION, PERSONAL
from hall.runtime import Runtime
from hall.uploads import FileStore, StoredFile, UploadRefused, Written
from hall.web.errors import Refused, error, json_body
from hall.web.i18n import lang_of, text
from hall.web.openapi import Api
from hall.web.security import Endpoint, answer, route, wants_json
from hall.web.templating import iso, local_path, render

MAX_REAL_NAME: Final = 50
MAX_ORG_NAME: Final = 100
KIND_MODULES: Final = (verifications, registrations, identities, shops, responses)
"""Every kind of application the app reviews: importing a kind's module registers it with the
mechanism (``hall.reviews.register``), so the queue, the decision and the API know it."""
QUEUE: Final = "/staff/reviews"
ALL: Final = "all"
"""The queue's filter value for every kind, or every state."""


# ---------------------------------------------------------------------- plumbing


def reviews_of(state: Any) -> Reviews:
    """The app's review service (``app.state``'s), made on first use (after the lifespan opened
    the store)."""
    reviews: Reviews | None = getattr(state, "reviews", None)
    if reviews is None:
        files = FileStore(state.store, state.config, state.pdf)
        reviews = state.reviews = Reviews(state.store, files, state.people, state.runtime)
    return reviews


def _reviews(request: Request) -> Reviews:
    return reviews_of(request.app.state)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _now(request: Request) -> int:
    return _runtime(request).clock()


def _me(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


async def _form(request: Request) -> FormData:
    """The request's form (parsed once: the CSRF check may have parsed it already, with the
    same limits)."""
    return await request.form(max_files=4, max_fields=64)


async def written_uploads(request: Request, form: FormData, field: str, most: int, too_many: Exception) -> list[Written]:
    """The form's files of ``field``, checked by content and written (not yet recorded), at most
    ``most`` (else ``too_many`` is raised): nothing is kept when one of them is refused."""
    reviews = _reviews(request)
    me = _me(request)
    uploads = [f for f in form.getlist(field) if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > most:
        raise too_many
    written: list[Written] = []
    try:
        for upload in uploads:
            written.append(await reviews.files.accept(upload, me.id, _now(request)))
    except BaseException:
        await reviews.discard(written)
        raise
    return written


def _text(form: FormData, key: str) -> str:
    """A text field, trimmed, without control or format characters, whitespace collapsed."""
    value = form.get(key)
    if not isinstance(value, str):
        return ""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value
                   if unicodedata.category(ch) not in ("Cf", "Cs", "Co", "Cn"))  # fmt: skip
    return " ".join(kept.split())


def _refusal(request: Request, exc: Exception) -> tuple[int, str, str, dict[str, Any]]:
    """Status, code, the message in the asker's language, and what JSON adds."""
    lang = lang_of(request)
    if isinstance(exc, (UploadRefused, ReviewError)):
        extra = {"field": exc.field} if isinstance(exc, Invalid) else {}
        return exc.status, exc.code, text(exc.key, lang, exc.params), extra
    raise TypeError(exc)


def _not_found(key: str) -> Refused:
    return Refused(404, "not_found", key)


# ---------------------------------------------------------------------- documents


async def file(request: Request) -> Response:
    """A stored document, to its owner and to staff only; anyone else is told it does not
    exist. Always a download, never rendered inline by the hall's origin."""
    me = _me(request)
    files = _reviews(request).files
    stored = await files.get(request.path_params["file_id"])
    if stored is None or (stored.owner != me.id and not me.has(Role.STAFF)):
        raise _not_found("err_no_file")
    return await attachment(files, stored)


async def attachment(files: FileStore, stored: StoredFile) -> Response:
    """A stored file as a download that no browser renders on the hall's origin (the deals'
    documents are served the same way, to their parties)."""
    path = files.path(stored)
    try:
        stat = await asyncio.to_thread(os.stat, path)
    except OSError:
        raise _not_found("err_no_file") from None
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote(stored.original_name, safe='')}",
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "content-security-policy": "default-src 'none'; sandbox",
    }
    return FileResponse(path, media_type=stored.media_type, headers=headers, stat_result=stat)


# ---------------------------------------------------------------------- real-name verification (AC-2)


async def _verification_page(request: Request, status: int = 200, message: str = "", code: str = "",
                             values: dict[str, str] | None = None) -> Response:  # fmt: skip
    me = _me(request)
    history = await verifications.verifications_of(_reviews(request), me.id)
    pending = next((v for v in history if v.status == PENDING), None)
    return render(request, "verification.html", status_code=status, history=history, pending=pending,
                  org_kinds=ORG_KINDS, message=message, code=code,
                  values=values or {"kind": PERSONAL, "real_name": "", "org_name": "", "org_kind": ""})  # fmt: skip


def _entered(form: FormData) -> dict[str, str]:
    """The verification form's text fields as entered (cleaned), to check or to show again."""
    return {key: _text(form, key) for key in ("kind", "real_name", "org_name", "org_kind")}


def _verification_fields(form: FormData) -> dict[str, str]:
    values = _entered(form)
    kind, real_name, org_name, org_kind = values["kind"], values["real_name"], values["org_name"], values["org_kind"]
    if kind not in (PERSONAL, ORGANISATION):
        raise Invalid("kind", "err_choose_kind")
    if len(real_name) > MAX_REAL_NAME:
        raise Invalid("real_name", "err_name_too_long", n=MAX_REAL_NAME)
    if kind == PERSONAL and not real_name:
        raise Invalid("real_name", "err_real_name_required")
    if kind == ORGANISATION:
        if not 2 <= len(org_name) <= MAX_ORG_NAME:
            raise Invalid("org_name", "err_org_name", n=MAX_ORG_NAME)
        if org_kind not in ORG_KINDS:
            raise Invalid("org_kind", "err_choose_org_kind")
    return values


async def _apply_verification(request: Request, form: FormData) -> int:
    """The one application of the page and of ``POST /api/verification``: the caller's own,
    refused once verified or while one is pending, the document checked by its bytes (required
    of an organisation). Raises ``ReviewError``/``UploadRefused``; the new verification's id."""
    me = _me(request)
    reviews = _reviews(request)
    if me.verified:
        raise ReviewError(409, "already_verified", "err_already_verified")
    values = _verification_fields(form)
    if any(v.status == PENDING for v in await verifications.verifications_of(reviews, me.id)):
        raise ReviewError(409, "pending", "err_verification_pending")
    document = form.get("document")
    organisational = values["kind"] == ORGANISATION
    written: Written | None = None
    if organisational or (isinstance(document, UploadFile) and document.filename):
        try:
            written = await reviews.files.accept(document, me.id, _now(request))
        except UploadRefused as exc:
            if exc.code == "missing_file":
                raise Invalid("document", "err_org_document") from None
            raise
    return await verifications.apply(
        reviews, user=me.id, kind=values["kind"], real_name=values["real_name"],
        org_name=values["org_name"] if organisational else None,
        org_kind=values["org_kind"] if organisational else None, document=written, now=_now(request),
    )  # fmt: skip


async def verification(request: Request) -> Response:
    if request.method == "GET":
        return await _verification_page(request)
    form = await _form(request)
    try:
        verification_id = await _apply_verification(request, form)
    except (UploadRefused, ReviewError) as exc:
        status, code, message, extra = _refusal(request, exc)
        if wants_json(request):
            return error(status, code, message, **extra)
        return await _verification_page(request, status, message, code, _entered(form))
    if wants_json(request):
        return JSONResponse({"id": verification_id, "status": PENDING}, status_code=201)
    return RedirectResponse("/account/verification", status_code=303)


# ---------------------------------------------------------------------- registration to bid (AU-2, AU-3)


async def _register_page(request: Request, lot_id: int, status: int = 200, message: str = "",
                         code: str = "") -> Response:  # fmt: skip
    runtime = _runtime(request)
    lot = runtime.lots[lot_id]
    me = _me(request)
    mine = await registrations.registration(_reviews(request), lot_id, me.id)
    refusal = eligibility(now=runtime.clock(), spec=lot.spec, state=lot.state, verified=me.verified, org=me.org,
                          current=mine.status if mine else None)  # fmt: skip
    if not message and refusal is not None and (mine is None or refusal.code not in ("pending", "registered")):
        message, code = text(refusal.key, lang_of(request), refusal.params), refusal.code
    return render(request, "lot_register.html", status_code=status, lot_id=lot_id, title=runtime.titles.get(lot_id, ""),
                  spec=lot.spec, state=lot.state.value, closes=beijing(deadline(lot.spec.bidding_start)),
                  opens=beijing(lot.spec.publicity_start), bidding=beijing(lot.spec.bidding_start),
                  mine=mine, can_submit=refusal is None, message=message, code=code)  # fmt: skip


def _lot_id(request: Request) -> int:
    lot_id: int = request.path_params["lot_id"]
    if lot_id not in _runtime(request).lots:
        raise _not_found("code_unknown_lot")
    return lot_id


async def lot_register(request: Request) -> Response:
    lot_id = _lot_id(request)
    if request.method == "GET":
        return await _register_page(request, lot_id)
    me = _me(request)
    reviews = _reviews(request)
    runtime = _runtime(request)
    now = runtime.clock()
    try:
        lot = runtime.lots[lot_id]
        mine = await registrations.registration(reviews, lot_id, me.id)
        refusal = eligibility(now=now, spec=lot.spec, state=lot.state, verified=me.verified, org=me.org,
                              current=mine.status if mine else None)  # fmt: skip
        if refusal is not None:
            raise ReviewError(refusal.status, refusal.code, refusal.key, **refusal.params)
        form = await _form(request)
        written = await reviews.files.accept(form.get("letter"), me.id, now)
        await registrations.submit_letter(reviews, lot=lot_id, user=me.id, letter=written, now=now)
    except (UploadRefused, ReviewError) as exc:
        status, code, message, extra = _refusal(request, exc)
        if code == "missing_file":
            message = text("err_letter_missing", lang_of(request))
        if code == "not_verified":
            extra["verify"] = "/account/verification"
        if wants_json(request):
            return error(status, code, message, **extra)
        return await _register_page(request, lot_id, status, message, code)
    if wants_json(request):
        return JSONResponse({"lot": lot_id, "status": PENDING}, status_code=201)
    return RedirectResponse(f"/lots/{lot_id}/register", status_code=303)


# ---------------------------------------------------------------------- the staff queue (AC-5)


def _filters(request: Request) -> tuple[str | None, str | None]:
    """The queue's kind and state filters (None: any); pending by default. Anything else: 400."""
    kind = request.query_params.get("kind") or ALL
    state = request.query_params.get("state") or PENDING
    if kind != ALL and kind not in KINDS:
        raise Refused(400, "bad_request", "err_review_filter", {"name": "kind", "values": ", ".join([ALL, *KINDS])})
    if state != ALL and state not in STATES:
        raise Refused(400, "bad_request", "err_review_filter", {"name": "state", "values": ", ".join([ALL, *STATES])})
    return (None if kind == ALL else kind), (None if state == ALL else state)


def _queue_url(kind: str | None, state: str | None) -> str:
    return f"{QUEUE}?{urlencode({'kind': kind or ALL, 'state': state or ALL})}"


async def _queue_page(request: Request, status: int = 200, message: str = "") -> Response:
    kind, state = _filters(request)
    reviews = _reviews(request)
    return render(request, "reviews/queue.html", status_code=status, message=message, kind=kind, state=state,
                  kinds=KINDS, states=STATES, entries=await reviews.queue(kind=kind, state=state),
                  recent=await reviews.recent(kind=kind) if state == PENDING else [],
                  here_url=_queue_url(kind, state), url=_queue_url)  # fmt: skip


async def staff_reviews(request: Request) -> Response:
    return await _queue_page(request)


async def _application_page(request: Request, status: int = 200, message: str = "") -> Response:
    reviews = _reviews(request)
    found = await reviews.entry(request.path_params["application_id"])
    if found is None:
        raise _not_found("err_no_application")
    return render(request, "reviews/application.html", status_code=status, message=message, entry=found, kinds=KINDS,
                  trail=await reviews.trail(found.application), here_url=f"{QUEUE}/{found.application.id}")  # fmt: skip


async def staff_review(request: Request) -> Response:
    return await _application_page(request)


def _decision(form: FormData) -> tuple[bool, str]:
    decision = _text(form, "decision")
    if decision not in ("approve", "reject"):
        raise Invalid("decision", "err_choose_decision")
    return decision == "approve", _text(form, "reason")


async def _decide(request: Request, approve: bool, reason: str) -> Entry:
    """A staff decision (the SMS is queued in the same transaction), its SMS sent at once."""
    reviews = _reviews(request)
    decided = await reviews.decide(request.path_params["application_id"], reviewer=_me(request).id, approve=approve,
                                   reason=reason, now=_now(request))  # fmt: skip
    request.app.state.dispatcher.wake()
    found = await reviews.entry(decided.id)
    assert found is not None
    return found


async def staff_review_decide(request: Request) -> Response:
    """The one decision of the pages, for every kind: back to where it was given (the queue
    with its filters, or the application's page), or that page again with the refusal."""
    form = await _form(request)
    back = local_path(_text(form, "next"))
    if back is None or not back.startswith(QUEUE):
        back = QUEUE
    try:
        approve, reason = _decision(form)
        await _decide(request, approve, reason)
    except ReviewError as exc:
        status, code, message, extra = _refusal(request, exc)
        if wants_json(request):
            return error(status, code, message, **extra)
        return await _application_page(request, status, message)
    return RedirectResponse(back, status_code=303)


def _old_queue(kind: str) -> Endpoint:
    async def moved(request: Request) -> Response:
        """The queue this kind had before the one mechanism: the one queue, filtered to it."""
        return RedirectResponse(_queue_url(kind, PENDING), status_code=308)

    return moved


# ---------------------------------------------------------------------- the JSON twins


class Applicant(msgspec.Struct):
    id: int
    name: str
    phone: str


class DocumentLink(msgspec.Struct):
    id: int
    name: str
    url: str
    """``/files/{id}``: to the applicant and staff only, always a download."""


class ReviewItem(msgspec.Struct):
    """An application as the staff API shows it."""

    id: int
    kind: str
    subject: int
    """The id of what is reviewed, in its kind's own table."""
    state: str
    submitted_at: str
    """ISO 8601 with Beijing's offset."""
    decided_at: str | None
    reason: str | None
    applicant: Applicant
    title: str
    link: str | None
    documents: list[DocumentLink]


class ReviewsQuery(msgspec.Struct):
    """The queue's filters, for /openapi.json: ``api_reviews`` reads them with ``_filters``,
    as the staff's page does (anything else is 400 ``bad_request``)."""

    kind: Annotated[str, msgspec.Meta(description="all, or one kind: verification, registration, identity, "
                                                  "shop, listing, ownership")] = ALL  # fmt: skip
    state: Annotated[str, msgspec.Meta(description="pending, approved, rejected, withdrawn, or all")] = PENDING


class DecisionBody(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["approve", "reject"]
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] = ""


class VerificationState(msgspec.Struct):
    """The caller's real-name verification (AC-2) as ``/api/verification`` shows it: the state
    and the latest application behind it (``null`` fields when there is none)."""

    state: str
    """``none`` (never applied), ``pending``, ``approved`` (verified) or ``rejected``."""
    kind: str | None
    """``personal`` or ``organisation``."""
    real_name: str | None
    org_name: str | None
    org_kind: str | None
    """``university``, ``institute``, ``soe``, ``enterprise``, ``transfer`` or ``other``."""
    reason: str | None
    """Why it was rejected, while the state is ``rejected``."""
    submitted_at: str | None
    """ISO 8601 with Beijing's offset."""
    document: DocumentLink | None


def review_item(entry: Entry) -> ReviewItem:
    a = entry.application
    return ReviewItem(
        id=a.id, kind=a.kind, subject=a.subject, state=a.state, submitted_at=iso(a.submitted_at) or "",
        decided_at=iso(a.decided_at), reason=a.reason,
        applicant=Applicant(id=a.applicant, name=entry.applicant_name, phone=entry.applicant_phone),
        title=entry.summary.title, link=entry.summary.link,
        documents=[DocumentLink(id=d.id, name=d.name, url=f"/files/{d.id}") for d in entry.documents],
    )  # fmt: skip


async def api_reviews(request: Request) -> Response:
    kind, state = _filters(request)
    return answer([review_item(e) for e in await _reviews(request).queue(kind=kind, state=state)])


async def api_review_decide(request: Request) -> Response:
    try:
        body = await json_body(request, DecisionBody)
        decided = await _decide(request, body.decision == "approve", body.reason)
    except ReviewError as exc:
        status, code, message, extra = _refusal(request, exc)
        return error(status, code, message, **extra)
    return answer(review_item(decided))


async def _verification_state(request: Request) -> VerificationState:
    me = _me(request)
    history = await verifications.verifications_of(_reviews(request), me.id)
    latest = history[0] if history else None
    state = verifications.state_of(me.verified, latest.status if latest else None)
    if latest is None:
        return VerificationState(state, None, None, None, None, None, None, None)
    document = latest.document
    return VerificationState(
        state=state, kind=latest.kind, real_name=latest.real_name or None, org_name=latest.org_name,
        org_kind=latest.org_kind, reason=latest.reason if state == "rejected" else None,
        submitted_at=iso(latest.created_at),
        document=DocumentLink(document, latest.document_name or "", f"/files/{document}") if document else None,
    )  # fmt: skip


async def api_verification(request: Request) -> Response:
    return answer(await _verification_state(request))


async def api_verification_apply(request: Request) -> Response:
    """The page's application (``_apply_verification``), as JSON: 201 with the new state."""
    try:
        await _apply_verification(request, await _form(request))
    except (UploadRefused, ReviewError) as exc:
        status, code, message, extra = _refusal(request, exc)
        return error(status, code, message, **extra)
    return answer(await _verification_state(request), 201)


routes = [
    route("/files/{file_id:id}", file, name="file"),
    route("/account/verification", verification, name="verification", methods=("GET", "POST")),
    route("/api/verification", api_verification, name="api_verification", api=Api(
        tag="accounts", summary="The caller's real-name verification and its latest application",
        answer=VerificationState)),
    route("/api/verification", api_verification_apply, name="api_verification_apply", methods=("POST",), api=Api(
        tag="accounts", summary="Apply for real-name verification, personal or organisational", upload="document",
        answer=VerificationState, status=201,
        description="multipart/form-data: `kind`, `real_name`, `org_name`, `org_kind` and the file `document` "
                    "(PDF, JPEG or PNG; required of an organisation).",
        errors={400: ("invalid", "bad_file", "pdf_inflate_limit", "pdf_time_limit", "pdf_undecodable"),
                409: ("already_verified", "pending"), 429: ("upload_quota",), 503: ("unavailable",)})),
    route("/lots/{lot_id:id}/register", lot_register, name="lot_register", methods=("GET", "POST")),
    route(QUEUE, staff_reviews, name="staff_reviews"),
    route(QUEUE + "/{application_id:id}", staff_review, name="staff_review"),
    route(QUEUE + "/{application_id:id}", staff_review_decide, name="staff_review_decide", methods=("POST",)),
    route("/staff/verifications", _old_queue(verifications.KIND), name="staff_verifications"),
    route("/staff/registrations", _old_queue(registrations.KIND), name="staff_registrations"),
    route("/api/reviews", api_reviews, name="api_reviews", api=Api(
        tag="reviews", summary="The review queue: applications of every kind, oldest first", query=ReviewsQuery,
        answer=list[ReviewItem])),
    route("/api/reviews/{application_id:id}", api_review_decide, name="api_review_decide", methods=("POST",), api=Api(
        tag="reviews", summary="Approve or reject an application", body=DecisionBody, answer=ReviewItem,
        errors={400: ("reason_required",), 403: ("own_application", "own_lot"), 404: ("not_found",),
                409: ("already_decided", "lot_ended", "admitted", "bad_state", "in_auction")})),
]  # fmt: skip
