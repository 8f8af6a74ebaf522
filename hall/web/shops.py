"""Shops (AC-4) as pages and JSON: the owner reads and accepts the shop terms, fills the profile
and contact, submits, sees the state and the reason of a rejection, edits and resubmits, and
may close the shop; anyone reads an open shop's public page. The rules live in
``hall/shops.py``; staff decide in the one review queue (``hall/web/reviews.py``)."""

from __future__ import annotations

from typing import Final

import msgspec
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall import identities, shops
from hall.auth.roles import Role
from hall.reviews import Application, ReviewError
from hall.shops import SHOP_TERMS_VERSION, Shop, ShopForm, terms_key
from hall.web.errors import Refused, error, json_body
from hall.web.openapi import Api
from hall.web.reviews import _form, _me, _now, _refusal, _reviews, _text
from hall.web.security import answer, route
from hall.web.templating import iso, render

PAGE: Final = "/account/shop"
FIELDS: Final = ("name", "contact_name", "contact_phone", "contact_email", "intro")


class ShopItem(msgspec.Struct, omit_defaults=True):
    """A shop as the API shows it. Its owner and staff see everything, with the state and a
    rejection's reason; anyone else sees an open shop's public profile only."""

    id: int
    name: str
    state: str
    identity_kind: str
    intro: str
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    terms_version: str | None = None
    terms_accepted_at: str | None = None
    reason: str | None = None


def shop_item(shop: Shop, latest: Application | None, *, full: bool) -> ShopItem:
    item = ShopItem(id=shop.id, name=shop.name, state=shop.state, identity_kind=shop.identity_kind, intro=shop.intro)
    if not full:
        return item
    return msgspec.structs.replace(
        item, contact_name=shop.contact_name, contact_phone=shop.contact_phone, contact_email=shop.contact_email,
        terms_version=shop.terms_version, terms_accepted_at=iso(shop.terms_accepted_at),
        reason=latest.reason if latest is not None and latest.state == "rejected" else None,
    )  # fmt: skip


def _form_of(form: FormData) -> ShopForm:
    identity = _text(form, "identity")
    accepted = _text(form, "terms_version")
    return ShopForm(identity=int(identity) if identity.isascii() and identity.isdigit() and len(identity) < 19 else None,
                    terms_version=accepted, **{f: _text(form, f) for f in FIELDS})  # fmt: skip


async def _page(request: Request, status: int = 200, message: str = "", field: str = "",
                values: dict[str, str] | None = None) -> Response:  # fmt: skip
    reviews = _reviews(request)
    me = _me(request)
    mine = await shops.shop_of(reviews.store, me.id)
    latest = (await reviews.latest(shops.KIND, [mine.id])).get(mine.id) if mine else None
    approved = [i for i in await identities.identities_of(reviews.store, me.id) if i.state == "approved"]
    if values is None:
        values = {f: getattr(mine, f) for f in FIELDS} if mine else {f: "" for f in FIELDS}
        if mine is None and len(approved) == 1 and approved[0].org_name:
            values["name"] = approved[0].org_name
    return render(request, "shops/shop.html", status_code=status, message=message, field=field, shop=mine,
                  latest=latest, approved=approved, values=values, terms=terms_key(SHOP_TERMS_VERSION),
                  terms_version=SHOP_TERMS_VERSION,
                  can_submit=bool(approved) and (mine is None or mine.state in shops.RESUBMITTABLE))  # fmt: skip


async def shop_page(request: Request) -> Response:
    if request.method == "GET":
        return await _page(request)
    form = await _form(request)
    try:
        await shops.apply(_reviews(request), user=_me(request).id, form=_form_of(form), now=_now(request))
    except ReviewError as exc:
        status, _, message, extra = _refusal(request, exc)
        return await _page(request, status, message, str(extra.get("field", "")),
                           {f: _text(form, f) for f in FIELDS})  # fmt: skip
    return RedirectResponse(PAGE, status_code=303)


async def shop_close(request: Request) -> Response:
    reviews = _reviews(request)
    mine = await shops.shop_of(reviews.store, _me(request).id)
    try:
        if mine is None:
            raise ReviewError(404, "not_found", "err_no_shop")
        await shops.close(reviews, mine.id, user=_me(request).id, now=_now(request))
    except ReviewError as exc:
        status, _, message, _ = _refusal(request, exc)
        return await _page(request, status, message)
    return RedirectResponse(PAGE, status_code=303)


async def _visible(request: Request) -> tuple[Shop, bool]:
    """The shop of the path and whether the asker sees all of it (its owner, staff); a shop
    that is not open exists for them only."""
    found = await shops.shop(_reviews(request).store, request.path_params["shop_id"])
    me = request.state.identity
    full = found is not None and me is not None and (me.id == found.owner or me.has(Role.STAFF))
    if found is None or (not full and found.state != shops.OPEN):
        raise Refused(404, "not_found", "err_no_shop")
    return found, full


async def shop_public(request: Request) -> Response:
    found, full = await _visible(request)
    latest = (await _reviews(request).latest(shops.KIND, [found.id])).get(found.id) if full else None
    return render(request, "shops/public.html", shop=found, full=full, latest=latest)


async def api_shop(request: Request) -> Response:
    found, full = await _visible(request)
    latest = (await _reviews(request).latest(shops.KIND, [found.id])).get(found.id) if full else None
    return answer(shop_item(found, latest, full=full))


async def _answer(request: Request, shop_id: int, status: int) -> Response:
    reviews = _reviews(request)
    found = await shops.shop(reviews.store, shop_id)
    assert found is not None
    return answer(shop_item(found, (await reviews.latest(shops.KIND, [shop_id])).get(shop_id), full=True), status)


async def api_shop_apply(request: Request) -> Response:
    body = await json_body(request, ShopForm)
    try:
        shop_id = await shops.apply(_reviews(request), user=_me(request).id, form=body, now=_now(request))
    except ReviewError as exc:
        status, code, message, extra = _refusal(request, exc)
        return error(status, code, message, **extra)
    return await _answer(request, shop_id, 201)


async def api_shop_resubmit(request: Request) -> Response:
    body = await json_body(request, ShopForm)
    shop_id: int = request.path_params["shop_id"]
    try:
        await shops.resubmit(_reviews(request), shop_id, user=_me(request).id, form=body, now=_now(request))
    except ReviewError as exc:
        status, code, message, extra = _refusal(request, exc)
        return error(status, code, message, **extra)
    return await _answer(request, shop_id, 200)


routes = [
    route(PAGE, shop_page, name="shop_page", methods=("GET", "POST")),
    route(PAGE + "/close", shop_close, name="shop_close", methods=("POST",)),
    route("/shops/{shop_id:id}", shop_public, name="shop_public"),
    route("/api/shops", api_shop_apply, name="api_shop_apply", methods=("POST",), api=Api(
        tag="shops", summary="Apply to open a shop", body=ShopForm, answer=ShopItem, status=201,
        errors={400: ("invalid", "terms", "name_mismatch", "bad_phone"),
                409: ("no_identity", "shop_exists", "org_has_shop", "pending")})),
    route("/api/shops/{shop_id:id}", api_shop, name="api_shop", api=Api(
        tag="shops", summary="A shop: all of it to its owner and staff, an open one's profile to anyone",
        answer=ShopItem, errors={404: ("not_found",)})),
    route("/api/shops/{shop_id:id}", api_shop_resubmit, name="api_shop_resubmit", methods=("PUT",), api=Api(
        tag="shops", summary="Edit and resubmit the caller's rejected or closed shop", body=ShopForm, answer=ShopItem,
        errors={400: ("invalid", "terms", "name_mismatch", "bad_phone"), 404: ("not_found",),
                409: ("no_identity", "pending", "shop_open", "org_has_shop")})),
]  # fmt: skip
