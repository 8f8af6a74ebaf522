"""Signing up, signing in and out, password reset (pages and the JSON API), tokens, the account page.

A phone is proved by an SMS code (``hall/store/codes.py``) before an account is made on it,
before its password is reset, and as the alternative to a password at login. Each action is
one function that raises ``Refused``; the page and the API twin of it differ only in how they
read the request and how they answer.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import msgspec
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from hall import identities, shops
from hall.auth.addresses import client_address
from hall.auth.codes import TTL_MS, Purpose
from hall.auth.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from hall.auth.roles import Identity, Role
from hall.auth.throttle import LoginThrottle, Unavailable
from hall.demand_posting import ENTERPRISE_KINDS
from hall.reviews import verifications
from hall.store.codes import PhoneCodes, TooSoon
from hall.store.people import People, PhoneTaken
from hall.web.i18n import COOKIE as LANG_COOKIE
from hall.web.i18n import LANGS, lang_of, text
from hall.web.errors import Refused, json_body
from hall.web.openapi import Api
from hall.web.security import answer, route, set_session_cookie
from hall.web.templating import MAX_NEXT, SIGN_IN_PAGES, local_path, render

PHONE: Final = re.compile(r"1[3-9][0-9]{9}")
"""A mainland China mobile number (AC-1), after an optional +86 / 86 prefix is removed."""
MAX_PASSWORD: Final = 256
CODE_LOGIN: Final = "/login/code"

Phone = Annotated[str, msgspec.Meta(max_length=32)]
Code = Annotated[str, msgspec.Meta(max_length=16)]
Password = Annotated[str, msgspec.Meta(max_length=1024)]


def normalise_phone(raw: str) -> str | None:
    phone = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            phone = phone[len(prefix):]
    return phone if PHONE.fullmatch(phone) else None


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    """A password login, or (``code`` instead of ``password``) a login by SMS code."""

    phone: Phone
    password: Password | None = None
    code: Code | None = None


class CodeBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    purpose: Purpose


class SignupBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: Code
    password: Password
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class ResetBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: Code
    password: Password


class User(msgspec.Struct):
    """An account as the API shows it (also ``welcome.user`` on /ws)."""

    id: int
    name: str
    """The account's name, or its phone when it has none."""
    roles: list[Role]


class TokenIssued(msgspec.Struct):
    """A new bearer token: shown once, never again (only its digest is stored)."""

    token: str
    user: User


class CodeSent(msgspec.Struct):
    ok: bool
    expires_in: int
    """Seconds the code stays valid."""


class Ok(msgspec.Struct):
    ok: bool


class TokenInfo(msgspec.Struct):
    """One of the caller's tokens: never its secret nor its digest."""

    id: int
    label: str
    """The User-Agent it was issued to (at most 100 characters)."""
    created_at: int
    """Epoch milliseconds UTC."""
    revoked_at: int | None


class TokenList(msgspec.Struct):
    tokens: list[TokenInfo]


def user_of(identity: Identity) -> User:
    return User(id=identity.id, name=identity.name or identity.phone, roles=sorted(identity.roles))


def identity_json(identity: Identity) -> dict[str, object]:
    user: dict[str, object] = msgspec.to_builtins(user_of(identity))
    return user


def _people(request: Request) -> People:
    people: People = request.app.state.people
    return people


def _codes(request: Request) -> PhoneCodes:
    codes: PhoneCodes = request.app.state.codes
    return codes


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


def address_of(conn: HTTPConnection) -> str:
    """The client address every per-address limit counts by (``hall.auth.addresses``); a
    request or a WebSocket."""
    peer = conn.client.host if conn.client else None
    return client_address(peer, conn.headers.getlist("x-forwarded-for"), conn.app.state.trusted_proxies)


def _safe_next(target: str | None) -> str:
    """Where a sign-in leads: only a path on this site (never an open redirect, see
    ``local_path``), the account page when there is none. Never back to a page that signs in,
    which would ask again."""
    path = local_path(target)
    if path is None or urlsplit(path).path in SIGN_IN_PAGES:
        return "/account"
    return path


def _phone(raw: str) -> str:
    phone = normalise_phone(raw)
    if phone is None:
        raise Refused(400, "bad_phone", "err_bad_phone")
    return phone


def _password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_PASSWORD:
        raise Refused(400, "bad_password", "err_bad_password", {"min": MIN_LENGTH, "max": MAX_PASSWORD})
    return password


# ---------------------------------------------------------------------- actions


async def send_code(request: Request, phone_raw: str, purpose: Purpose) -> None:
    """Send a code for ``purpose`` (whatever the phone's account, the same answer)."""
    phone = _phone(phone_raw)
    try:
        await _codes(request).send(phone, purpose, address_of(request))
    except TooSoon as exc:
        raise Refused(429, "code_rate_limited", "err_code_rate_limited", {"wait": exc.retry_after},
                      retry_after=exc.retry_after) from None  # fmt: skip
    request.app.state.dispatcher.wake()


async def _proved(request: Request, phone: str, purpose: Purpose, code: str) -> None:
    if not await _codes(request).check(phone, purpose, code):
        raise Refused(400, "bad_code", "err_bad_code")


async def sign_up(request: Request, phone_raw: str, code: str, password: str, name: str) -> Identity:
    phone, password = _phone(phone_raw), _password(password)
    await _proved(request, phone, Purpose.SIGNUP, code)
    people = _people(request)
    try:
        user = await people.create_user(phone, await asyncio.to_thread(hash_password, password), name.strip()[:100])
    except PhoneTaken:  # a sign-up code is only ever sent to a number with no account: a race
        raise Refused(400, "bad_code", "err_bad_code") from None
    identity = await people.identity(user)
    assert identity is not None
    return identity


async def code_login(request: Request, phone_raw: str, code: str) -> Identity:
    """Login by SMS code: not subject to the password throttle, so the owner can always get in."""
    phone = _phone(phone_raw)
    await _proved(request, phone, Purpose.LOGIN, code)
    identity = await _people(request).find(phone)
    if identity is None:  # a login code is never sent to a number with no account
        raise Refused(400, "bad_code", "err_bad_code")
    return identity


async def reset_password(request: Request, phone_raw: str, code: str, password: str) -> Identity:
    """A new password, proved by a code: every session and token of the account ends (whoever
    knew the old password is out) and the phone's password failures are forgotten."""
    phone, password = _phone(phone_raw), _password(password)
    await _proved(request, phone, Purpose.RESET, code)
    people = _people(request)
    identity = await people.find(phone)
    if identity is None:  # a reset code is never sent to a number with no account
        raise Refused(400, "bad_code", "err_bad_code")
    await people.set_password_hash(identity.id, await asyncio.to_thread(hash_password, password))
    await people.sign_out_everywhere(identity.id)
    await _throttle(request).proved(phone)
    return identity


async def password_login(request: Request, phone_raw: str, password: str) -> Identity:
    """Check a phone and password under the throttle."""
    throttle = _throttle(request)
    phone = normalise_phone(phone_raw) or phone_raw[:32]
    address = address_of(request)
    try:
        # Counted as failed before the slow part, so that concurrent guesses see each other
        # (hall/auth/throttle.py); a right password takes it back.
        attempt = await throttle.attempt(phone, address)
    except Unavailable:  # fails closed (LoginThrottle says why); code login still works
        raise Refused(503, "password_login_unavailable", "err_password_login_unavailable",
                      code_login=CODE_LOGIN) from None  # fmt: skip
    delay, refused_until = attempt.verdict
    if refused_until is not None:
        wait = max(1, (refused_until - throttle.clock() + 999) // 1000)
        raise Refused(429, "password_rate_limited", "err_password_rate_limited", {"wait": wait},
                      retry_after=wait, code_login=CODE_LOGIN)  # fmt: skip
    if delay:
        await asyncio.sleep(delay)
    people = _people(request)
    found = await people.credentials(phone)
    # argon2 runs whether or not the phone exists (equal cost), off the event loop (tens of
    # milliseconds of CPU there would hold up every bid).
    right = await asyncio.to_thread(verify_password, found[1] if found else None, password)
    if found is None or not right:
        raise Refused(401, "bad_credentials", "err_bad_credentials")
    await throttle.succeeded(attempt)
    user, stored = found
    if needs_rehash(stored):
        await people.set_password_hash(user, await asyncio.to_thread(hash_password, password))
    identity = await people.identity(user)
    assert identity is not None
    return identity


async def _signed_in(request: Request, identity: Identity, target: str) -> Response:
    """Start a new session for ``identity`` (ending the one the browser brought: no session
    fixation) and go to ``target``."""
    people = _people(request)
    old = request.app.state.keys.unsign(request.cookies.get("hall_session"))
    if old:
        await people.end_session(old)
    session, _ = await people.new_session(identity.id)
    response = RedirectResponse(_safe_next(target), status_code=303)
    set_session_cookie(response, request, request.app.state.keys.sign(session))
    return response


# ---------------------------------------------------------------------- pages


def _field(form: FormData, name: str, limit: int = 256) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _next_field(form: FormData) -> str | None:
    """The form's ``next`` if it is a path on this site; read one past ``MAX_NEXT``, so that a
    longer one is refused by ``local_path``, never cut to a path nobody asked for."""
    return local_path(_field(form, "next", MAX_NEXT + 1))


async def _code_page(request: Request, template: str, purpose: Purpose, **fields: str) -> Response:
    """The pages that prove a phone (sign-up, login by code, reset): a GET shows the phone
    and the send-code button; ``action=send_code`` sends one and shows the rest of the form
    (a resend button beside it); anything else is the form itself, finished by ``_FINISH``."""
    next_ = local_path(request.query_params.get("next")) or ""
    if request.method == "GET":
        blank: dict[str, Any] = {"step": "phone", "phone": "", "message": "", "next": next_, **fields}
        return render(request, template, **blank)
    form = await request.form()
    phone_raw = _field(form, "phone", 64)
    next_ = _next_field(form) or next_
    context: dict[str, Any] = {"phone": phone_raw, "next": next_, **{k: _field(form, k) for k in fields}}
    try:
        if _field(form, "action") == "send_code":
            await send_code(request, phone_raw, purpose)
            message = text("code_sent", lang_of(request), {"minutes": TTL_MS // 60_000})
            return render(request, template, step="code", message=message, **context)
        return await _FINISH[purpose](request, form, next_)
    except Refused as refused:  # back to the step the form came from (a bad phone: to the first)
        came_from = "code" if _field(form, "action") != "send_code" or _field(form, "step") == "code" else "phone"
        step = "phone" if refused.code == "bad_phone" else came_from
        return render(request, template, status_code=refused.status, step=step, message=refused.message(request),
                      **context)  # fmt: skip


async def _finish_signup(request: Request, form: FormData, next_: str) -> Response:
    identity = await sign_up(request, _field(form, "phone", 64), _field(form, "code", 16),
                             _field(form, "password", 1024), _field(form, "name", 100))  # fmt: skip
    return await _signed_in(request, identity, next_)


async def _finish_code_login(request: Request, form: FormData, next_: str) -> Response:
    identity = await code_login(request, _field(form, "phone", 64), _field(form, "code", 16))
    return await _signed_in(request, identity, next_)


async def _finish_reset(request: Request, form: FormData, next_: str) -> Response:
    identity = await reset_password(request, _field(form, "phone", 64), _field(form, "code", 16),
                                    _field(form, "password", 1024))  # fmt: skip
    return await _signed_in(request, identity, next_)


_FINISH: Final = {Purpose.SIGNUP: _finish_signup, Purpose.LOGIN: _finish_code_login, Purpose.RESET: _finish_reset}


async def signup(request: Request) -> Response:
    return await _code_page(request, "signup.html", Purpose.SIGNUP, name="")


async def login_by_code(request: Request) -> Response:
    return await _code_page(request, "login_code.html", Purpose.LOGIN)


async def password_reset(request: Request) -> Response:
    return await _code_page(request, "password_reset.html", Purpose.RESET)


def _login_page(request: Request, phone: str = "", next_: str = "", refused: Refused | None = None) -> Response:
    return render(request, "login.html", status_code=refused.status if refused else 200, phone=phone,
                  message=refused.message(request) if refused else "", next=next_,
                  code_login=refused is not None and "code_login" in refused.extra)  # fmt: skip


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _login_page(request, next_=local_path(request.query_params.get("next")) or "")
    form = await request.form()
    phone = _field(form, "phone", 64)
    next_ = _next_field(form) or local_path(request.query_params.get("next")) or ""
    try:
        identity = await password_login(request, phone, _field(form, "password", 1024))
    except Refused as refused:
        return _login_page(request, phone, next_, refused)
    return await _signed_in(request, identity, next_)


async def logout(request: Request) -> Response:
    session = request.app.state.keys.unsign(request.cookies.get("hall_session"))
    if session:
        await _people(request).end_session(session)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, None)
    return response


# ---------------------------------------------------------------------- the JSON API


async def _token_for(request: Request, identity: Identity, status: int = 200) -> Response:
    _, token = await _people(request).new_token(identity.id, label=request.headers.get("user-agent", "")[:100])
    return answer(TokenIssued(token=token, user=user_of(identity)), status)


async def api_codes(request: Request) -> Response:
    try:
        body = await json_body(request, CodeBody)
        await send_code(request, body.phone, body.purpose)
    except Refused as refused:
        return refused.answer(request)
    return answer(CodeSent(ok=True, expires_in=TTL_MS // 1000), 202)


async def api_signup(request: Request) -> Response:
    try:
        body = await json_body(request, SignupBody)
        identity = await sign_up(request, body.phone, body.code, body.password, body.name)
    except Refused as refused:
        return refused.answer(request)
    return await _token_for(request, identity, 201)


async def api_login(request: Request) -> Response:
    try:
        body = await json_body(request, LoginBody)
        if (body.password is None) == (body.code is None):
            raise Refused(400, "bad_request", "err_password_or_code")
        if body.code is not None:
            identity = await code_login(request, body.phone, body.code)
        else:
            assert body.password is not None
            identity = await password_login(request, body.phone, body.password)
    except Refused as refused:
        return refused.answer(request)
    return await _token_for(request, identity)


async def api_password_reset(request: Request) -> Response:
    try:
        body = await json_body(request, ResetBody)
        await reset_password(request, body.phone, body.code, body.password)
    except Refused as refused:
        return refused.answer(request)
    return answer(Ok(ok=True))


async def api_logout(request: Request) -> Response:
    """Revoke the token this request came with (a cookie session uses /logout)."""
    token_id = request.state.token_id
    if token_id is None:
        return Refused(400, "bad_request", "err_token_only").answer(request)
    await _people(request).revoke_token(request.state.identity.id, token_id)
    return answer(Ok(ok=True))


class OrgInfo(msgspec.Struct):
    id: int
    name: str
    kind: str
    """The organisation's kind (``university``, ``institute``, ``soe``, ``enterprise``, …)."""


class VerificationInfo(msgspec.Struct):
    state: str
    """``approved`` (verified), ``pending``, ``rejected`` (the latest application's), or ``none``."""


class IdentityInfo(msgspec.Struct):
    id: int
    kind: str
    """``university``, ``institute``, ``soe``, ``enterprise``, ``transfer`` or ``expert`` (AC-3)."""
    state: str
    """``pending``, ``approved`` or ``rejected``."""


class ShopInfo(msgspec.Struct):
    id: int
    name: str
    state: str
    """``pending``, ``open``, ``rejected`` or ``closed``."""


class Me(msgspec.Struct):
    """The caller as ``/api/me`` shows it: the account, and the supply side's view of it (AC-2 to AC-4)."""

    user: User
    org: OrgInfo | None
    verification: VerificationInfo
    identities: list[IdentityInfo]
    shop: ShopInfo | None


async def api_me(request: Request) -> Response:
    identity: Identity = request.state.identity
    store = request.app.state.store
    org = await store.fetchone("SELECT id, name, kind FROM orgs WHERE id = ?", (identity.org,)) if identity.org else None
    latest = await store.fetchone("SELECT status FROM verifications WHERE user = ? ORDER BY id DESC LIMIT 1",
                                  (identity.id,))  # fmt: skip
    state = verifications.state_of(identity.verified, str(latest[0]) if latest is not None else None)
    shop = await shops.shop_of(store, identity.id)
    return answer(Me(
        user=user_of(identity), org=OrgInfo(*org) if org is not None else None, verification=VerificationInfo(state),
        identities=[IdentityInfo(i.id, i.kind, i.state) for i in await identities.identities_of(store, identity.id)],
        shop=ShopInfo(shop.id, shop.name, shop.state) if shop is not None else None,
    ))  # fmt: skip


async def api_tokens(request: Request) -> Response:
    tokens = await _people(request).tokens(request.state.identity.id)
    return answer(TokenList(tokens=msgspec.convert(tokens, list[TokenInfo])))


async def api_token_revoke(request: Request) -> Response:
    token_id = request.path_params["token_id"]
    if not await _people(request).revoke_token(request.state.identity.id, token_id):
        return Refused(404, "not_found", "err_no_such_token").answer(request)
    return answer(Ok(ok=True))


async def account(request: Request) -> Response:
    me: Identity = request.state.identity
    org = await _people(request).org_name(me.org) if me.org else None
    store = request.app.state.store
    shop = await shops.shop_of(store, me.id)
    approved = {i.kind for i in await identities.identities_of(store, me.id) if i.state == "approved"}
    return render(request, "account.html", org=org, roles=sorted(me.roles), shop=shop,
                  crowd=crowd_links(approved))  # fmt: skip


def crowd_links(approved: set[str]) -> list[tuple[str, str]]:
    """The research-crowdsourcing pages (issue 13) an account with identities of the
    ``approved`` kinds uses, as (path, catalogue key): a demand side (an enterprise, or a
    transfer organisation working entrusted demands) posts and manages demands; any approved
    identity makes a solver, recommended demands and responding to them."""
    links = []
    if approved & {*ENTERPRISE_KINDS, "transfer"}:
        links += [("/demands/new", "crowd_a_post"), ("/my/demands", "crowd_a_mine"),
                  ("/entrustments", "crowd_a_entrustments")]  # fmt: skip
    if approved:
        links += [("/recommendations", "crowd_a_recommended"), ("/my/responses", "crowd_a_my_responses")]
    return links


async def lang(request: Request) -> Response:
    code = request.path_params["code"]
    response = RedirectResponse(local_path(request.query_params.get("next")) or "/", status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


routes = [
    route("/signup", signup, name="signup", methods=("GET", "POST")),
    route("/login", login, name="login", methods=("GET", "POST")),
    route("/login/code", login_by_code, name="login_code", methods=("GET", "POST")),
    route("/password-reset", password_reset, name="password_reset", methods=("GET", "POST")),
    route("/logout", logout, name="logout", methods=("POST",)),
    route("/account", account, name="account"),
    route("/lang/{code}", lang, name="lang"),
    route("/api/codes", api_codes, name="api_codes", methods=("POST",), api=Api(
        tag="accounts", summary="Send an SMS code to a phone", body=CodeBody, answer=CodeSent, status=202,
        errors={400: ("bad_phone",), 415: ("unsupported_media_type",), 429: ("code_rate_limited",)})),
    route("/api/signup", api_signup, name="api_signup", methods=("POST",), api=Api(
        tag="accounts", summary="Make an account on a proved phone", body=SignupBody, answer=TokenIssued,
        status=201, errors={400: ("bad_phone", "bad_password", "bad_code"), 415: ("unsupported_media_type",)})),
    route("/api/login", api_login, name="api_login", methods=("POST",), api=Api(
        tag="accounts", summary="A bearer token for a password or a login code", body=LoginBody,
        answer=TokenIssued, errors={400: ("bad_request", "bad_phone", "bad_code"), 401: ("bad_credentials",),
                                    415: ("unsupported_media_type",), 429: ("password_rate_limited",),
                                    503: ("password_login_unavailable",)})),
    route("/api/password-reset", api_password_reset, name="api_password_reset", methods=("POST",), api=Api(
        tag="accounts", summary="A new password, proved by a reset code", body=ResetBody, answer=Ok,
        errors={400: ("bad_phone", "bad_password", "bad_code"), 415: ("unsupported_media_type",)})),
    route("/api/logout", api_logout, name="api_logout", methods=("POST",), api=Api(
        tag="accounts", summary="Revoke the token this request carries", answer=Ok,
        errors={400: ("bad_request",)})),
    route("/api/me", api_me, name="api_me", api=Api(tag="accounts", summary="The caller's account", answer=Me)),
    route("/api/tokens", api_tokens, name="api_tokens", api=Api(
        tag="accounts", summary="The caller's tokens", answer=TokenList)),
    route("/api/tokens/{token_id:id}", api_token_revoke, name="api_token_revoke", methods=("DELETE",), api=Api(
        tag="accounts", summary="Revoke one of the caller's tokens", answer=Ok, errors={404: ("not_found",)})),
]  # fmt: skip
