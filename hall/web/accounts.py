"""Signing up, signing in and out (pages and the JSON API), tokens, the account page."""

from __future__ import annotations

import asyncio
import re
from typing import Final

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hall.auth.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from hall.auth.roles import Identity
from hall.store.people import People, PhoneTaken
from hall.web.i18n import COOKIE as LANG_COOKIE
from hall.web.i18n import LANGS
from hall.web.security import error, route, set_session_cookie, wants_json
from hall.web.templating import render

PHONE: Final = re.compile(r"1[3-9][0-9]{9}")
"""A mainland China mobile number (AC-1), after an optional +86 / 86 prefix is removed."""


def normalise_phone(raw: str) -> str | None:
    phone = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            phone = phone[len(prefix):]
    return phone if PHONE.fullmatch(phone) else None


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    phone: str
    password: str


def identity_json(identity: Identity) -> dict[str, object]:
    return {"id": identity.id, "name": identity.name or identity.phone, "roles": sorted(identity.roles)}


def _people(request: Request) -> People:
    people: People = request.app.state.people
    return people


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/account"


async def _authenticate(request: Request, phone_raw: str, password: str) -> Identity | Response:
    """Check a phone and password under the throttle; an Identity or the response to send."""
    throttle = request.app.state.throttle
    phone = normalise_phone(phone_raw) or phone_raw[:32]
    address = request.client.host if request.client else "?"
    keys = (f"phone:{phone}", f"addr:{address}")
    delay, refused_until = throttle.check(*keys)
    if refused_until is not None:
        wait = max(1, (refused_until - throttle.clock() + 999) // 1000)
        return _refused(request, phone_raw, 429, "rate_limited",
                        f"登录失败次数过多，请 {wait} 秒后再试 (too many failed attempts; retry later)",
                        retry_after=wait)  # fmt: skip
    # Counted as failed before the slow part, so that concurrent guesses see each other;
    # a right password takes it back.
    throttle.failed(*keys)
    if delay:
        await asyncio.sleep(delay)
    people = _people(request)
    found = await people.credentials(phone)
    # argon2 runs whether or not the phone exists (equal cost), off the event loop (tens of
    # milliseconds of CPU there would hold up every bid).
    right = await asyncio.to_thread(verify_password, found[1] if found else None, password)
    if found is None or not right:
        return _refused(request, phone_raw, 401, "bad_credentials", "手机号或密码错误 (wrong phone number or password)")
    throttle.succeeded(*keys)
    user, stored = found
    if needs_rehash(stored):
        await people.set_password_hash(user, await asyncio.to_thread(hash_password, password))
    identity = await people.identity(user)
    assert identity is not None
    return identity


def _login_page(request: Request, phone: str = "", message: str = "", status: int = 200) -> Response:
    return render(request, "login.html", status_code=status, phone=phone, message=message,
                  next=request.query_params.get("next", ""))  # fmt: skip


def _refused(request: Request, phone: str, status: int, code: str, message: str, **extra: object) -> Response:
    """A refused login, in the asker's form: the API's error, or the page again."""
    if wants_json(request):
        return error(status, code, message, **extra)
    return _login_page(request, phone, message, status)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _login_page(request)
    form = await request.form()
    result = await _authenticate(request, str(form.get("phone", "")), str(form.get("password", "")))
    if not isinstance(result, Identity):
        return result
    people = _people(request)
    old = request.app.state.keys.unsign(request.cookies.get("hall_session"))
    if old:
        await people.end_session(old)  # a login always starts a new session id
    session, _ = await people.new_session(result.id)
    response = RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)
    set_session_cookie(response, request, request.app.state.keys.sign(session))
    return response


async def logout(request: Request) -> Response:
    session = request.app.state.keys.unsign(request.cookies.get("hall_session"))
    if session:
        await _people(request).end_session(session)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, None)
    return response


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "signup.html", phone="", name="", message="")
    form = await request.form()
    phone_raw, name = str(form.get("phone", "")), str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))
    phone = normalise_phone(phone_raw)
    message = ""
    if phone is None:
        message = "请输入有效的大陆手机号 (enter a valid mainland mobile number)"
    elif not MIN_LENGTH <= len(password) <= 256:
        message = f"密码长度须为 {MIN_LENGTH}–256 位 (password must be {MIN_LENGTH}–256 characters)"
    if message:
        return render(request, "signup.html", status_code=400, phone=phone_raw, name=name, message=message)
    assert phone is not None
    people = _people(request)
    try:
        user = await people.create_user(phone, await asyncio.to_thread(hash_password, password), name)
    except PhoneTaken:
        return render(request, "signup.html", status_code=409, phone=phone_raw, name=name,
                      message="该手机号已注册，请直接登录 (this number is registered; log in)")  # fmt: skip
    session, _ = await people.new_session(user)
    response = RedirectResponse("/account", status_code=303)
    set_session_cookie(response, request, request.app.state.keys.sign(session))
    return response


async def api_login(request: Request) -> Response:
    try:
        body = msgspec.json.decode(await request.body(), type=LoginBody)
    except msgspec.ValidationError as exc:
        return error(400, "bad_request", f"请求格式错误 (bad request): {exc}")
    except msgspec.DecodeError:
        return error(400, "bad_request", "请求体须为 JSON (body must be JSON)")
    result = await _authenticate(request, body.phone, body.password)
    if not isinstance(result, Identity):
        return result
    _, token = await _people(request).new_token(result.id, label=request.headers.get("user-agent", "")[:100])
    return JSONResponse({"token": token, "user": identity_json(result)})


async def api_logout(request: Request) -> Response:
    """Revoke the token this request came with (a cookie session uses /logout)."""
    token_id = request.state.token_id
    if token_id is None:
        return error(400, "bad_request", "此接口用于撤销当前令牌 (send the token to revoke)")
    await _people(request).revoke_token(request.state.identity.id, token_id)
    return JSONResponse({"ok": True})


async def api_me(request: Request) -> Response:
    return JSONResponse({"user": identity_json(request.state.identity)})


async def api_tokens(request: Request) -> Response:
    return JSONResponse({"tokens": await _people(request).tokens(request.state.identity.id)})


async def api_token_revoke(request: Request) -> Response:
    token_id = request.path_params["token_id"]
    if not await _people(request).revoke_token(request.state.identity.id, token_id):
        return error(404, "not_found", "没有该令牌 (no such token)")
    return JSONResponse({"ok": True})


async def account(request: Request) -> Response:
    me: Identity = request.state.identity
    org = await _people(request).org_name(me.org) if me.org else None
    return render(request, "account.html", org=org, roles=sorted(me.roles))


async def lang(request: Request) -> Response:
    code = request.path_params["code"]
    response = RedirectResponse(_safe_next(request.query_params.get("next") or "/"), status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


routes = [
    route("/signup", signup, name="signup", methods=("GET", "POST")),
    route("/login", login, name="login", methods=("GET", "POST")),
    route("/logout", logout, name="logout", methods=("POST",)),
    route("/account", account, name="account"),
    route("/lang/{code}", lang, name="lang"),
    route("/api/login", api_login, name="api_login", methods=("POST",)),
    route("/api/logout", api_logout, name="api_logout", methods=("POST",)),
    route("/api/me", api_me, name="api_me"),
    route("/api/tokens", api_tokens, name="api_tokens"),
    route("/api/tokens/{token_id:id}", api_token_revoke, name="api_token_revoke", methods=("DELETE",)),
]
