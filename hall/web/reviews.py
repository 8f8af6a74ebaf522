"""Applications and their review: real-name verification (AC-2), registration to bid
(AU-2, AU-3), the staff queues that decide them (AC-5), and the documents behind them.

Every handler validates every field on the server; a refusal is the page again with the
reason (Chinese first, English in parentheses) and a fitting status, or, for a client that
asks for JSON, the ``error`` shape with a stable code. Time is the runtime's clock, so that
tests drive the registration deadline by hand.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from hall.auth.roles import Identity, Role
from hall.registration import beijing, deadline, eligibility
from hall.reviews import (
    ORG_KINDS,
    ORGANISATION,
    PERSONAL,
    Registration,
    ReviewError,
    Reviews,
)
from hall.runtime import Runtime
from hall.uploads import FileStore, UploadRefused, Written
from hall.web.i18n import lang_of, text
from hall.web.errors import Refused, error
from hall.web.security import route, wants_json
from hall.web.templating import render

MAX_REAL_NAME: Final = 50
MAX_ORG_NAME: Final = 100
MAX_REASON: Final = 200
"""A rejection reason goes into an SMS: keep it short."""
DECISIONS: Final = ("approve", "reject")


# ---------------------------------------------------------------------- plumbing


def _reviews(request: Request) -> Reviews:
    """The app's review service, made on first use (after the lifespan opened the store)."""
    state = request.app.state
    reviews: Reviews | None = getattr(state, "reviews", None)
    if reviews is None:
        files = FileStore(state.store, state.config, state.pdf)
        reviews = state.reviews = Reviews(state.store, files, state.people)
    return reviews


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _now(request: Request) -> int:
    return _runtime(request).clock()


def _me(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


async def _form(request: Request) -> FormData:
    """The request's form (parsed once: the CSRF check may have parsed it already)."""
    return await request.form(max_files=2, max_fields=16)


def _text(form: FormData, key: str) -> str:
    """A text field, trimmed, without control or format characters, whitespace collapsed."""
    value = form.get(key)
    if not isinstance(value, str):
        return ""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in value
                   if unicodedata.category(ch) not in ("Cf", "Cs", "Co", "Cn"))  # fmt: skip
    return " ".join(kept.split())


class Invalid(Exception):
    """A form field that fails validation; ``key`` is its message's catalogue key."""

    def __init__(self, field: str, key: str, code: str = "invalid", status: int = 400, **params: object) -> None:
        super().__init__(key)
        self.field = field
        self.key = key
        self.params = params
        self.code = code
        self.status = status


def _refusal(request: Request, exc: Exception) -> tuple[int, str, str, dict[str, Any]]:
    """Status, code, the message in the asker's language, and what JSON adds."""
    lang = lang_of(request)
    if isinstance(exc, Invalid):
        return exc.status, exc.code, text(exc.key, lang, exc.params), {"field": exc.field}
    if isinstance(exc, (UploadRefused, ReviewError)):
        return exc.status, exc.code, text(exc.key, lang, exc.params), {}
    raise TypeError(exc)


def _not_found(key: str) -> Refused:
    return Refused(404, "not_found", key)


def _decision(form: FormData) -> tuple[bool, str]:
    decision = _text(form, "decision")
    if decision not in DECISIONS:
        raise Invalid("decision", "err_choose_decision")
    reason = _text(form, "reason")
    if decision == "reject" and not reason:
        raise Invalid("reason", "err_reason_required", code="reason_required")
    if len(reason) > MAX_REASON:
        raise Invalid("reason", "err_reason_too_long", n=MAX_REASON)
    return decision == "approve", reason


# ---------------------------------------------------------------------- documents


async def file(request: Request) -> Response:
    """A stored document, to its owner and to staff only; anyone else is told it does not
    exist. Always a download, never rendered inline by the hall's origin."""
    me = _me(request)
    files = _reviews(request).files
    stored = await files.get(request.path_params["file_id"])
    if stored is None or (stored.owner != me.id and not me.has(Role.STAFF)):
        raise _not_found("err_no_file")
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
    history = await _reviews(request).verifications_of(me.id)
    pending = next((v for v in history if v.status == "pending"), None)
    return render(request, "verification.html", status_code=status, history=history, pending=pending,
                  org_kinds=ORG_KINDS, message=message, code=code,
                  values=values or {"kind": PERSONAL, "real_name": "", "org_name": "", "org_kind": ""})  # fmt: skip


def _verification_fields(form: FormData) -> dict[str, str]:
    values = {key: _text(form, key) for key in ("kind", "real_name", "org_name", "org_kind")}
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


async def verification(request: Request) -> Response:
    if request.method == "GET":
        return await _verification_page(request)
    me = _me(request)
    reviews = _reviews(request)
    values: dict[str, str] | None = None
    written: Written | None = None
    try:
        if me.verified:
            raise ReviewError(409, "already_verified", "err_already_verified")
        form = await _form(request)
        values = _verification_fields(form)
        if any(v.status == "pending" for v in await reviews.verifications_of(me.id)):
            raise ReviewError(409, "pending", "err_verification_pending")
        document = form.get("document")
        organisational = values["kind"] == ORGANISATION
        if organisational or (isinstance(document, UploadFile) and document.filename):
            try:
                written = await reviews.files.accept(document, me.id, _now(request))
            except UploadRefused as exc:
                if exc.code == "missing_file":
                    raise Invalid("document", "err_org_document") from None
                raise
        verification_id = await reviews.apply_verification(
            user=me.id, kind=values["kind"], real_name=values["real_name"],
            org_name=values["org_name"] if organisational else None,
            org_kind=values["org_kind"] if organisational else None, document=written, now=_now(request),
        )  # fmt: skip
    except (Invalid, UploadRefused, ReviewError) as exc:
        status, code, message, extra = _refusal(request, exc)
        if wants_json(request):
            return error(status, code, message, **extra)
        return await _verification_page(request, status, message, code, values)
    if wants_json(request):
        return JSONResponse({"id": verification_id, "status": "pending"}, status_code=201)
    return RedirectResponse("/account/verification", status_code=303)


async def _staff_verifications_page(request: Request, status: int = 200, message: str = "") -> Response:
    reviews = _reviews(request)
    return render(request, "staff_verifications.html", status_code=status, message=message,
                  pending=await reviews.pending_verifications(),
                  recent=await reviews.recent_verification_decisions())  # fmt: skip


async def staff_verifications(request: Request) -> Response:
    return await _staff_verifications_page(request)


async def staff_verification_decide(request: Request) -> Response:
    async def decide(approve: bool, reason: str) -> dict[str, object]:
        decided = await _reviews(request).decide_verification(
            request.path_params["verification_id"], reviewer=_me(request).id, approve=approve,
            reason=reason, now=_now(request))  # fmt: skip
        return {"id": decided.id, "status": decided.status}

    return await _decide(request, decide, _staff_verifications_page, "/staff/verifications")


async def _decide(
    request: Request,
    decide: Callable[[bool, str], Awaitable[dict[str, object]]],
    queue_page: Callable[[Request, int, str], Awaitable[Response]],
    queue: str,
) -> Response:
    """A staff decision: validate the form, decide (the SMS is queued in the same
    transaction), send the SMS at once, answer JSON or go back to the queue."""
    try:
        approve, reason = _decision(await _form(request))
        body = await decide(approve, reason)
    except (Invalid, ReviewError) as exc:
        status, code, message, extra = _refusal(request, exc)
        if wants_json(request):
            return error(status, code, message, **extra)
        return await queue_page(request, status, message)
    request.app.state.dispatcher.wake()
    if wants_json(request):
        return JSONResponse(body)
    return RedirectResponse(queue, status_code=303)


# ---------------------------------------------------------------------- registration to bid (AU-2, AU-3)


async def _register_page(request: Request, lot_id: int, status: int = 200, message: str = "",
                         code: str = "") -> Response:  # fmt: skip
    runtime = _runtime(request)
    lot = runtime.lots[lot_id]
    me = _me(request)
    mine = await _reviews(request).registration(lot_id, me.id)
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
        mine = await reviews.registration(lot_id, me.id)
        refusal = eligibility(now=now, spec=lot.spec, state=lot.state, verified=me.verified, org=me.org,
                              current=mine.status if mine else None)  # fmt: skip
        if refusal is not None:
            raise ReviewError(refusal.status, refusal.code, refusal.key, **refusal.params)
        form = await _form(request)
        written = await reviews.files.accept(form.get("letter"), me.id, now)
        await reviews.submit_registration(lot=lot_id, user=me.id, letter=written, now=now)
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
        return JSONResponse({"lot": lot_id, "status": "pending"}, status_code=201)
    return RedirectResponse(f"/lots/{lot_id}/register", status_code=303)


async def _staff_registrations_page(request: Request, status: int = 200, message: str = "") -> Response:
    reviews = _reviews(request)
    runtime = _runtime(request)

    def row(r: Registration) -> dict[str, Any]:
        lot = runtime.lots.get(r.lot)
        return {"r": r, "state": lot.state.value if lot else "",
                "bidding": beijing(lot.spec.bidding_start)[:16] if lot else ""}  # fmt: skip

    return render(request, "staff_registrations.html", status_code=status, message=message,
                  pending=[row(r) for r in await reviews.pending_registrations()],
                  recent=[row(r) for r in await reviews.recent_registration_decisions()])  # fmt: skip


async def staff_registrations(request: Request) -> Response:
    return await _staff_registrations_page(request)


async def staff_registration_decide(request: Request) -> Response:
    reviews = _reviews(request)
    registration_id: int = request.path_params["registration_id"]
    me = _me(request)

    async def decide(approve: bool, reason: str) -> dict[str, object]:
        if approve:
            decided = await reviews.approve_registration(registration_id, reviewer=me.id, runtime=_runtime(request),
                                                         now=_now(request))  # fmt: skip
        else:
            decided = await reviews.reject_registration(registration_id, reviewer=me.id, reason=reason,
                                                        now=_now(request))  # fmt: skip
        return {"id": decided.id, "status": decided.status, "number": decided.number}

    return await _decide(request, decide, _staff_registrations_page, "/staff/registrations")


routes = [
    route("/files/{file_id:id}", file, name="file"),
    route("/account/verification", verification, name="verification", methods=("GET", "POST")),
    route("/staff/verifications", staff_verifications, name="staff_verifications"),
    route("/staff/verifications/{verification_id:id}", staff_verification_decide,
          name="staff_verification_decide", methods=("POST",)),  # fmt: skip
    route("/lots/{lot_id:id}/register", lot_register, name="lot_register", methods=("GET", "POST")),
    route("/staff/registrations", staff_registrations, name="staff_registrations"),
    route("/staff/registrations/{registration_id:id}", staff_registration_decide,
          name="staff_registration_decide", methods=("POST",)),  # fmt: skip
]
