"""Deals (AU-7 to AU-10) as pages and JSON: 我的竞拍 > 交易记录 (``/account/deals``), a deal's page
with its steps, documents and forms, the staff's deals (disputed and overdue first), the public
verification page, and the JSON API of docs/api.md#deals.

Thin: parse, call the action of ``hall/deals.py`` (which checks who may do what), render. A
stranger to a deal is told it does not exist (404), never that it is someone else's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Final, Literal
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall.auth.roles import Role
from hall.contracts import DOCX_TYPE, contract_template
from hall.deals import (
    LIST_LIMIT,
    ConfirmBody,
    DealItem,
    Deals,
    DealState,
    DocumentItem,
    DocumentKind,
    DocumentState,
    ReasonBody,
    Side,
    StepItem,
    VerifyItem,
    certificate_facts,
    due_of,
    is_overdue,
    next_steps,
    notice_facts,
    today,
)
from hall.documents import certificate_pdf, grouped, notice_pdf, parse_verify_code
from hall.listing import TransactionForm
from hall.store.deals import DealRow, DocumentRow, StepRow
from hall.uploads import UploadRefused
from hall.web.errors import Refused, json_body
from hall.web.i18n import lang_of, text, translate
from hall.web.params import whole
from hall.web.openapi import Api
from hall.web.reviews import _form, _me, _text, attachment
from hall.web.security import answer, route
from hall.web.templating import iso, render

ALL: Final = "all"
"""The staff list's filter value for every state."""
PDF_TYPE: Final = "application/pdf"
Actor = Literal["buyer", "seller", "staff", "exchange"]


def _deals(request: Request) -> Deals:
    deals: Deals = request.app.state.deals
    return deals


async def _visible(request: Request) -> tuple[DealRow, Side]:
    return await _deals(request).visible(request.path_params["deal_id"], request.state.identity)


def _by(step: StepRow, deal: DealRow) -> Actor:
    """Which side took a step: the parties see sides, never the names of staff."""
    if step.actor is None:
        return "exchange"
    if step.actor == deal.buyer:
        return "buyer"
    if step.actor == deal.seller:
        return "seller"
    return "staff"


def _side(deal: DealRow, user: int) -> Side:
    """The side of an account listed with a deal (its party, else staff)."""
    return Side.BUYER if deal.buyer == user else Side.SELLER if deal.seller == user else Side.STAFF


def hint(deal: DealRow, side: Side) -> str:
    """The catalogue key of what comes next for ``side``, for the lists (from the deal alone)."""
    state = DealState(deal.state)
    if state is DealState.PAID and side is not Side.STAFF:
        mine = deal.buyer_handover_at if side is Side.BUYER else deal.seller_handover_at
        return "deal_next_wait_handover" if mine is not None else "deal_next_paid"
    if state is DealState.CONTRACTED and side is not Side.STAFF:
        return f"deal_next_contracted_{side.value}"
    return f"deal_next_{state.value}"


def _due_day(deal: DealRow) -> str | None:
    """The due date as the API gives it: YYYY-MM-DD, or None while the calendar cannot give it."""
    due = due_of(deal)
    return due.isoformat() if isinstance(due, dt.date) else None


def _due_shown(request: Request) -> Callable[[DealRow], tuple[str, bool]]:
    """For the pages: a deal's due date and False, or the sentence saying why it is unknown and
    True (the pages flag it)."""
    lang = lang_of(request)

    def shown(deal: DealRow) -> tuple[str, bool]:
        due = due_of(deal)
        if isinstance(due, dt.date):
            return due.isoformat(), False
        return text("deal_due_unknown", lang, {"year": due.day.year}), True

    return shown


def document_item(deal: DealRow, document: DocumentRow) -> DocumentItem:
    return DocumentItem(id=document.id, kind=DocumentKind(document.kind),
                        party="buyer" if document.party == Side.BUYER else "seller",
                        state=DocumentState(document.state), name=document.file_name,
                        url=f"/deals/{deal.id}/files/{document.id}", uploaded_at=iso(document.uploaded_at) or "",
                        reason=document.reason)  # fmt: skip


async def deal_item(deals: Deals, deal: DealRow, side: Side) -> DealItem:
    documents = await deals.sql.documents(deal.id)
    steps = await deals.sql.steps(deal.id)
    return DealItem(
        id=deal.id, lot=deal.lot, listing=deal.listing, state=DealState(deal.state), price=deal.price,
        buyer=deal.buyer_name, seller=deal.seller_name, bidder_number=deal.bidder_number,
        form=TransactionForm(deal.form), title=deal.title, item_number=deal.item_number,
        notice_number=deal.notice_number, notified_at=iso(deal.notified_at) or "", contract_due=_due_day(deal),
        overdue=is_overdue(deal, deals.runtime.clock()), digest=deal.digest, verify_code=deal.verify_code, role=side,
        next=next_steps(deal, side, documents), disputed=any(d.state == DocumentState.DISPUTED for d in documents),
        contracted_at=iso(deal.contracted_at), paid_at=iso(deal.paid_at), buyer_handover_at=iso(deal.buyer_handover_at),
        seller_handover_at=iso(deal.seller_handover_at), certificate_number=deal.certificate_number,
        certified_at=iso(deal.certified_at), defaulted_at=iso(deal.defaulted_at), default_reason=deal.default_reason,
        documents=[document_item(deal, d) for d in documents],
        steps=[StepItem(action=s.action, by=_by(s, deal), state=DealState(s.state), at=iso(s.at) or "",
                        reason=s.reason) for s in steps],
    )  # fmt: skip


def verify_item(deal: DealRow) -> VerifyItem:
    """The public facts of a deal: organisation names, never a person's (see ``VerifyItem``)."""
    return VerifyItem(
        notice_number=deal.notice_number, certificate_number=deal.certificate_number, lot=deal.lot, title=deal.title,
        item_number=deal.item_number, price=deal.price, closed_at=iso(deal.closed_at) or "",
        state=DealState(deal.state), digest=deal.digest,
        seller=deal.seller_name if deal.seller_org is not None else None,
        buyer=deal.buyer_name if deal.buyer_org is not None else None,
        notified_at=iso(deal.notified_at) or "", certified_at=iso(deal.certified_at),
    )  # fmt: skip


def _state_filter(request: Request) -> str | None:
    """The ``state`` query parameter: a deal state, ``all`` or nothing (None: every state)."""
    chosen = request.query_params.get("state") or ALL
    if chosen != ALL and chosen not in DealState.__members__.values():
        raise Refused(400, "bad_request", "err_review_filter", {"name": "state", "values": ", ".join([ALL, *DealState])})
    return None if chosen == ALL else chosen


# ---------------------------------------------------------------------- pages


async def my_deals(request: Request) -> Response:
    """我的竞拍 > 交易记录: the caller's deals as buyer or seller, with state and next step."""
    me = _me(request)
    deals = _deals(request)
    now = deals.runtime.clock()
    shown = [(d, _side(d, me.id)) for d in await deals.sql.of_user(me.id, limit=LIST_LIMIT)]
    return render(request, "deals/mine.html", deals=shown, hint=hint, overdue=lambda d: is_overdue(d, now),
                  due=_due_shown(request))  # fmt: skip


async def _deal_page(request: Request, status: int = 200, message: str = "") -> Response:
    deal, side = await _visible(request)
    deals = _deals(request)
    documents = await deals.sql.documents(deal.id)
    refusable = side is Side.STAFF and deal.state in (DealState.NOTIFIED, DealState.CONTRACTED)
    return render(request, "deals/deal.html", status_code=status, message=message, deal=deal, side=side.value,
                  documents=documents, steps=await deals.sql.steps(deal.id), by=lambda s: _by(s, deal),
                  next=[s.value for s in next_steps(deal, side, documents)],
                  overdue=is_overdue(deal, deals.runtime.clock()), code=grouped(deal.verify_code), due=_due_shown(request)(deal),
                  standing=(DocumentState.SUBMITTED.value, DocumentState.DISPUTED.value), refusable=refusable)  # fmt: skip


async def deal_page(request: Request) -> Response:
    return await _deal_page(request)


Act = Callable[[Request, Deals], Awaitable[object]]


def _page_action(act: Act) -> Callable[[Request], Awaitable[Response]]:
    """A form of the deal page: the action, then back to the page (303); refused, the page
    again with the refusal and its status (a stranger's 404 stays a 404)."""

    async def endpoint(request: Request) -> Response:
        try:
            await act(request, _deals(request))
        except UploadRefused as exc:
            return await _deal_page(request, exc.status, text(exc.key, lang_of(request), exc.params))
        except Refused as exc:
            if exc.status == 404:
                raise
            return await _deal_page(request, exc.status, exc.message(request))
        return RedirectResponse(f"/deals/{request.path_params['deal_id']}", status_code=303)

    return endpoint


async def _contract(request: Request, deals: Deals) -> object:
    form = await _form(request)
    return await deals.upload_contract(request.path_params["deal_id"], _me(request), form.get("file"))


async def _payment(request: Request, deals: Deals) -> object:
    form = await _form(request)
    return await deals.upload_payment(request.path_params["deal_id"], _me(request), form.get("file"))


async def _confirm(request: Request, deals: Deals) -> object:
    form = await _form(request)
    dispute = _text(form, "reason") if _text(form, "decision") == "dispute" else None
    return await deals.confirm_payment(request.path_params["deal_id"], _me(request), dispute=dispute)


async def _handover(request: Request, deals: Deals) -> object:
    return await deals.confirm_handover(request.path_params["deal_id"], _me(request))


async def _default(request: Request, deals: Deals) -> object:
    form = await _form(request)
    return await deals.declare_default(request.path_params["deal_id"], _me(request), _text(form, "reason"))


async def _refuse(request: Request, deals: Deals) -> object:
    form = await _form(request)
    return await deals.refuse_document(request.path_params["deal_id"], _me(request),
                                       request.path_params["document_id"], _text(form, "reason"))  # fmt: skip


async def deal_file(request: Request) -> Response:
    """A document of the deal, to its parties and staff: each party sees the other's signed
    contract, the seller the buyer's payment proof (to confirm it)."""
    deal, _ = await _visible(request)
    deals = _deals(request)
    document_id: int = request.path_params["document_id"]
    found = next((d for d in await deals.sql.documents(deal.id) if d.id == document_id), None)
    assert deals.files is not None
    stored = None if found is None else await deals.files.get(found.file)
    if stored is None:
        raise Refused(404, "not_found", "err_no_file")
    return await attachment(deals.files, stored)


async def staff_deals(request: Request) -> Response:
    """Every deal for staff: disputed and overdue ones first, filtered by state."""
    state = _state_filter(request)
    deals = _deals(request)
    now = deals.runtime.clock()
    rows = await deals.sql.listed(state=state, overdue_from_day=today(now), limit=LIST_LIMIT)
    return render(request, "deals/staff.html", rows=rows, state=state or ALL, states=[s.value for s in DealState],
                  hint=hint, overdue=lambda d: is_overdue(d, now), due=_due_shown(request))  # fmt: skip


async def verify_form(request: Request) -> Response:
    """Where a code read off paper is typed: a well-formed code goes to its page."""
    typed = request.query_params.get("code")
    if typed is None:
        return render(request, "deals/verify.html", facts=None, typed="", message="", code="")
    code = parse_verify_code(typed)
    if code is None:
        return render(request, "deals/verify.html", status_code=400, facts=None, typed=typed[:40], code="",
                      message=translate("deal_verify_bad_code", lang_of(request)))  # fmt: skip
    return RedirectResponse(f"/verify/{code}", status_code=303)


async def _verified(request: Request) -> DealRow:
    code = parse_verify_code(request.path_params["verify_code"])
    deal = None if code is None else await _deals(request).sql.by_code(code)
    if deal is None:
        raise Refused(404, "not_found", "deal_verify_none")
    return deal


async def verify(request: Request) -> Response:
    deal = await _verified(request)
    return render(request, "deals/verify.html", facts=verify_item(deal), typed="", message="",
                  code=grouped(deal.verify_code))  # fmt: skip


# ---------------------------------------------------------------------- JSON


class DealsQuery(msgspec.Struct):
    """The filters of ``GET /api/deals``, for /openapi.json: ``api_deals`` reads ``mine`` with
    ``params.whole`` and ``state`` as the staff page does, under these same bounds."""

    mine: Annotated[int, msgspec.Meta(ge=0, le=1, description="1: only the caller's deals")] = 0
    state: Annotated[str | None, msgspec.Meta(description="a deal state, or all")] = None


UPLOAD_ERRORS: Final = {
    400: ("missing_file", "bad_file", "pdf_inflate_limit", "pdf_time_limit", "pdf_undecodable"),
    403: ("not_your_step",), 404: ("not_found",), 409: ("bad_state",), 413: ("too_large",), 429: ("upload_quota",),
    503: ("unavailable",),
}  # fmt: skip
"""What a step with an upload can answer: the upload's own refusals and the step's."""


async def api_verify(request: Request) -> Response:
    return answer(verify_item(await _verified(request)))


async def api_deals(request: Request) -> Response:
    """The caller's deals (``mine=1``, and always for anyone but staff); staff without ``mine``
    see every deal, disputed and overdue first; ``state`` filters."""
    me = _me(request)
    deals = _deals(request)
    mine = whole(request.query_params.get("mine"), "mine", default=0, high=1) == 1
    state = _state_filter(request)
    if mine or not me.has(Role.STAFF):
        rows = [d for d in await deals.sql.of_user(me.id, limit=LIST_LIMIT) if state is None or d.state == state]
    else:
        rows = [d for d, _ in await deals.sql.listed(state=state, overdue_from_day=today(deals.runtime.clock()),
                                                     limit=LIST_LIMIT)]  # fmt: skip
    return answer([await deal_item(deals, d, _side(d, me.id)) for d in rows])


async def api_deal(request: Request) -> Response:
    deal, side = await _visible(request)
    return answer(await deal_item(_deals(request), deal, side))


def _api_action(act: Act) -> Callable[[Request], Awaitable[Response]]:
    """A step through the API: the deal as it is after it, or the JSON error."""

    async def endpoint(request: Request) -> Response:
        try:
            await act(request, _deals(request))
        except UploadRefused as exc:
            raise Refused(exc.status, exc.code, exc.key, exc.params) from None
        deal, side = await _visible(request)
        return answer(await deal_item(_deals(request), deal, side))

    return endpoint


async def _api_confirm(request: Request, deals: Deals) -> object:
    body = await json_body(request, ConfirmBody) if await request.body() else ConfirmBody()
    return await deals.confirm_payment(request.path_params["deal_id"], _me(request), dispute=body.dispute)


async def _api_default(request: Request, deals: Deals) -> object:
    body = await json_body(request, ReasonBody)
    return await deals.declare_default(request.path_params["deal_id"], _me(request), body.reason)


async def _api_refuse(request: Request, deals: Deals) -> object:
    body = await json_body(request, ReasonBody)
    return await deals.refuse_document(request.path_params["deal_id"], _me(request),
                                       request.path_params["document_id"], body.reason)  # fmt: skip


def _download(data: bytes, media_type: str, name: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "x-content-type-options": "nosniff", "cache-control": "private, no-store",
    })  # fmt: skip


async def api_notice(request: Request) -> Response:
    """The 《网络竞价成交通知书》 (AU-7), made again from the deal's facts: the same bytes each time."""
    deal, _ = await _visible(request)
    data = await asyncio.to_thread(notice_pdf, notice_facts(deal), str(request.base_url))
    return _download(data, PDF_TYPE, f"{translate('doc_notice', 'zh')}-{deal.notice_number}.pdf")


async def api_certificate(request: Request) -> Response:
    """The 《交易凭证》 (AU-10) once the deal is certified; 404 before (it does not exist yet)."""
    deal, _ = await _visible(request)
    facts = certificate_facts(deal)
    if facts is None:
        raise Refused(404, "not_found", "deal_err_no_certificate")
    data = await asyncio.to_thread(certificate_pdf, facts, str(request.base_url))
    return _download(data, PDF_TYPE, f"{translate('doc_certificate', 'zh')}-{facts.number}.pdf")


async def api_template(request: Request) -> Response:
    """The contract template of the deal's transaction form, pre-filled (a .docx to complete)."""
    deal, _ = await _visible(request)
    data = await asyncio.to_thread(contract_template, notice_facts(deal))
    name = translate(f"doc_contract_{deal.form}", "zh")
    return _download(data, DOCX_TYPE, f"{name}-{deal.notice_number}.docx")


D = "/deals/{deal_id:id}"
A = "/api/deals/{deal_id:id}"
STEP: Final = {403: ("not_your_step",), 404: ("not_found",), 409: ("bad_state",)}
REASON: Final = {400: ("reason_required", "reason_too_long")}
routes = [
    route("/account/deals", my_deals, name="my_deals"),
    route(D, deal_page, name="deal_page"),
    route(D + "/contract", _page_action(_contract), name="deal_contract", methods=("POST",)),
    route(D + "/payment", _page_action(_payment), name="deal_payment", methods=("POST",)),
    route(D + "/confirm-payment", _page_action(_confirm), name="deal_confirm_payment", methods=("POST",)),
    route(D + "/handover", _page_action(_handover), name="deal_handover", methods=("POST",)),
    route(D + "/default", _page_action(_default), name="deal_default", methods=("POST",)),
    route(D + "/documents/{document_id:id}/refuse", _page_action(_refuse), name="deal_refuse", methods=("POST",)),
    route(D + "/files/{document_id:id}", deal_file, name="deal_file"),
    route("/staff/deals", staff_deals, name="staff_deals"),
    route("/verify", verify_form, name="verify_form"),
    route("/verify/{verify_code}", verify, name="verify"),
    route("/api/verify/{verify_code}", api_verify, name="api_verify", api=Api(
        tag="deals", summary="A deal's public facts by the code printed on its documents", answer=VerifyItem,
        errors={404: ("not_found",)})),
    route("/api/deals", api_deals, name="api_deals", api=Api(
        tag="deals", summary="Deals: the caller's, or every deal for staff", query=DealsQuery, answer=list[DealItem])),
    route(A, api_deal, name="api_deal", api=Api(
        tag="deals", summary="One deal, to its buyer, its seller and staff", answer=DealItem,
        errors={404: ("not_found",)})),
    route(A + "/contract", _api_action(_contract), name="api_deal_contract", methods=("POST",), api=Api(
        tag="deals", summary="Upload one's signed contract (buyer or seller)", upload="file", answer=DealItem,
        errors=UPLOAD_ERRORS)),
    route(A + "/payment", _api_action(_payment), name="api_deal_payment", methods=("POST",), api=Api(
        tag="deals", summary="Upload the payment proof (buyer)", upload="file", answer=DealItem, errors=UPLOAD_ERRORS)),
    route(A + "/confirm-payment", _api_action(_api_confirm), name="api_deal_confirm_payment", methods=("POST",),
          api=Api(tag="deals", summary="Confirm the payment, or dispute its proof (seller)", body=ConfirmBody,
                  answer=DealItem, errors={**REASON, **STEP, 409: ("bad_state", "no_payment_proof", "already_disputed")})),
    route(A + "/handover", _api_action(_handover), name="api_deal_handover", methods=("POST",), api=Api(
        tag="deals", summary="Confirm the handover (buyer or seller); the second issues the certificate",
        answer=DealItem, errors={**STEP, 409: ("bad_state", "already_confirmed")})),
    route(A + "/default", _api_action(_api_default), name="api_deal_default", methods=("POST",), api=Api(
        tag="deals", summary="Declare a default (staff)", body=ReasonBody, answer=DealItem, errors={**REASON, **STEP})),
    route(A + "/documents/{document_id:id}/refuse", _api_action(_api_refuse), name="api_deal_refuse",
          methods=("POST",), api=Api(tag="deals", summary="Refuse a handed-in document (staff)", body=ReasonBody,
                                     answer=DealItem, errors={**REASON, **STEP, 409: ("bad_state", "not_refusable")})),
    route(A + "/notice.pdf", api_notice, name="api_deal_notice", api=Api(
        tag="deals", summary="The transaction notice", media=PDF_TYPE, errors={404: ("not_found",)})),
    route(A + "/certificate.pdf", api_certificate, name="api_deal_certificate", api=Api(
        tag="deals", summary="The transaction certificate, once issued", media=PDF_TYPE, errors={404: ("not_found",)})),
    route(A + "/contract-template", api_template, name="api_deal_template", api=Api(
        tag="deals", summary="The contract template of the deal's transaction form", media=DOCX_TYPE,
        errors={404: ("not_found",)})),
]  # fmt: skip
