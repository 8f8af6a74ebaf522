"""Identity, authorization, CSRF and body limits, applied to every request at the edge.

- ``IdentityMiddleware`` resolves who is asking, once per request or socket: a bearer token
  (``Authorization`` header, or ``?token=`` on a WebSocket upgrade, where browsers cannot
  set headers) or the signed session cookie. A cookie-authenticated WebSocket whose Origin is
  not the hall's own is marked, and the endpoint refuses it before accepting.
- ``route`` builds every Starlette route through the permission table: a route whose name is
  not in ``PERMISSIONS`` cannot be declared, and none can forget its check.
- CSRF: a state-changing request riding on a cookie (or an anonymous form) must carry the
  CSRF token in the form field ``csrf`` or the header ``X-CSRF-Token``. Bearer-token requests
  carry no ambient credential and need none.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

import itsdangerous
import msgspec
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hall.auth.roles import PERMISSIONS, Identity, allowed
from hall.auth.tokens import same
from hall.store.people import People
from hall.web import params  # registers the bounded "id" path convertor before any route is made
from hall.web.errors import Refused, error
from hall.web.i18n import lang_of, translate
from hall.web.templating import here, render

if TYPE_CHECKING:
    from hall.web.openapi import Api  # which imports this module

SESSION_COOKIE: Final = "hall_session"
CSRF_COOKIE: Final = "hall_csrf"
CSRF_HEADER: Final = "x-csrf-token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY: Final = 1024 * 1024
MAX_UPLOAD_BODY: Final = 10 * 1024 * 1024 + 64 * 1024
"""A 10 MiB file plus the multipart envelope and the other form fields."""

MIB: Final = 1024 * 1024
Endpoint = Callable[[Request], Awaitable[Response]]


def wants_json(conn: HTTPConnection) -> bool:
    return conn.url.path.startswith("/api/") or "application/json" in conn.headers.get("accept", "")


def same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:
        return False
    parts = urlsplit(origin)
    return parts.netloc == conn.headers.get("host") and parts.scheme in ("http", "https")


class SessionKeys:
    """Signs session cookies; keyed in the lifespan, once the key is read from the store."""

    def __init__(self) -> None:
        self.signer: itsdangerous.Signer | None = None

    def load(self, secret: str) -> None:
        self.signer = itsdangerous.Signer(secret, salt="hall.session")

    def sign(self, session: str) -> str:
        assert self.signer is not None, "session keys are loaded in the lifespan"
        return self.signer.sign(session).decode()

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie or self.signer is None:
            return None
        try:
            return self.signer.unsign(cookie).decode()
        except itsdangerous.BadSignature:
            return None


class IdentityMiddleware:
    def __init__(self, app: ASGIApp, people: People, keys: SessionKeys) -> None:
        self.app = app
        self.people = people
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        identity, auth, csrf, token_id = await identify(self.people, self.keys, conn)
        new_csrf = None
        if csrf is None:  # anonymous: a double-submit token in its own cookie
            csrf = conn.cookies.get(CSRF_COOKIE)
            if not csrf or len(csrf) > 100:
                csrf = new_csrf = secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        state.update(identity=identity, auth=auth, csrf=csrf, token_id=token_id,
                     origin_ok=auth != "cookie" or same_origin(conn))  # fmt: skip

        if new_csrf is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", _cookie(CSRF_COOKIE, new_csrf, secure=secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def identify(
    people: People, keys: SessionKeys, conn: HTTPConnection
) -> tuple[Identity | None, str, str | None, int | None]:
    """Who is asking, from a bearer token or the session cookie: (identity, how it was
    established: "token", "cookie" or "none", the session's CSRF token, the token's id).

    A WebSocket calls this again while it lives, so that a revoked token or a logged-out
    session stops bidding on sockets that are already open."""
    bearer = _bearer(conn)
    if bearer is not None:
        found = await people.token(bearer)
        if found is not None:
            return found[1], "token", None, found[0]
        return None, "none", None, None
    session = keys.unsign(conn.cookies.get(SESSION_COOKIE))
    found_session = await people.session(session) if session else None
    if found_session is not None:
        return found_session[0], "cookie", found_session[1], None
    return None, "none", None, None


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if conn.scope["type"] == "websocket":
        return conn.query_params.get("token") or None
    return None


def _cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def set_session_cookie(response: Response, request: Request, signed: str | None) -> None:
    """Set (or, with None, clear) the session cookie; Secure whenever served over TLS."""
    secure = request.url.scheme == "https"
    if signed is None:
        response.headers.append("set-cookie", _cookie(SESSION_COOKIE, "", secure=secure, max_age=0))
    else:
        response.headers.append("set-cookie", _cookie(SESSION_COOKIE, signed, secure=secure))


async def csrf_ok(request: Request) -> bool:
    expected: str | None = request.state.csrf
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form(max_files=4, max_fields=64)
        field = form.get("csrf")
        given = field if isinstance(field, str) else None
    return bool(expected and given and same(expected, given))


def deny(request: Request) -> Response:
    identity: Identity | None = request.state.identity
    if wants_json(request):
        lang = lang_of(request)
        if identity is None:
            return error(401, "unauthenticated", translate("err_sign_in", lang))
        return error(403, "forbidden", translate("err_not_allowed", lang))
    if identity is None:
        return RedirectResponse(f"/login?next={quote(here(request), safe='/')}", status_code=303)
    return render(request, "error.html", status_code=403, title="forbidden", detail="")


_encoder: Final = msgspec.json.Encoder()


def answer(body: object, status: int = 200) -> Response:
    """A JSON answer encoded from the Struct that defines it (declared as the route's
    ``Api.answer``, so /openapi.json describes exactly what is sent)."""
    return Response(_encoder.encode(body), status_code=status, media_type="application/json")


class HallRoute(Route):
    """A route made by ``route``: it keeps its JSON API declaration (None for pages), which
    /openapi.json is built from (``hall.web.openapi``)."""

    def __init__(self, path: str, endpoint: Endpoint, *, name: str, methods: Sequence[str], api: Api | None) -> None:
        super().__init__(path, endpoint, name=name, methods=list(methods))
        self.api = api


def route(path: str, endpoint: Endpoint, *, name: str, methods: Sequence[str] = ("GET",),
          api: Api | None = None) -> Route:  # fmt: skip
    """A route checked against the permission table (by its name) and, when it changes
    state on a cookie or anonymous form, against CSRF. A JSON route declares its API with
    ``api`` (see ``hall.web.openapi``); pages give none."""
    if api is not None and len(methods) != 1:
        raise ValueError(f"route {name!r}: a JSON route has one method (declare one route per method)")
    if name not in PERMISSIONS:
        raise KeyError(f"route {name!r} has no entry in hall.auth.roles.PERMISSIONS")
    if ":int}" in path:
        raise ValueError(f"route {name!r}: an id in a path is {{name:id}} ({params.__name__}), never unbounded :int")

    async def guarded(request: Request) -> Response:
        try:
            return await checked(request)
        finally:
            await request.close()  # an upload's temp files, however the handler (or a check) ended

    async def checked(request: Request) -> Response:
        if not allowed(name, request.state.identity):
            return deny(request)
        if request.method not in SAFE_METHODS:
            needs_csrf = request.state.auth == "cookie" or (
                request.state.auth == "none" and not request.url.path.startswith("/api/")
            )
            if needs_csrf and not await csrf_ok(request):
                message = translate("err_csrf", lang_of(request))
                if wants_json(request):
                    return error(403, "csrf", message)
                return render(request, "error.html", status_code=403, title="forbidden", detail=message)
        return await endpoint(request)

    guarded.__name__ = name
    return HallRoute(path, guarded, name=name, methods=methods, api=api)


class BodyLimit:
    """Refuses a body larger than its route allows (413), whether announced by
    Content-Length or streamed chunk by chunk, before the application reads it."""

    def __init__(self, app: ASGIApp, upload_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = MAX_UPLOAD_BODY if path.startswith(self.upload_prefixes) else MAX_BODY
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # answered 413 by the app's HTTPException handler
                    raise _body_too_large(limit)
            return message

        await self.app(scope, counted, send)


def _body_too_large(limit: int) -> Refused:
    return Refused(413, "too_large", "err_body_too_large", {"mib": limit // MIB})


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = _body_too_large(limit).answer(HTTPConnection(scope))
    await response(scope, receive, send)
