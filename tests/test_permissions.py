"""The role table as a table: every route of the app, called as every kind of account, answers as
``hall.auth.roles.allowed`` says it must; ``PERMISSIONS`` and the routes name the same things;
and docs/permissions.md states the same rule for every entry.

The routes are read from ``create_app().routes`` at collection, so a route added later is
covered without touching this file (and a route of a kind this file cannot call fails loudly).
Path parameters get a sample value (1, "1", ...): the permission layer answers before any
handler looks the value up, so whether the thing exists does not matter.

Each call uses a bearer token minted for it (``People.new_token``): bearer requests need no
CSRF token, so the answer is the permission layer's alone, and a route that revokes the token
it came with (/api/logout) cannot spoil the next call. Anonymous state-changing calls carry the
anonymous double-submit CSRF token for the same reason.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pytest
from starlette import convertors
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hallkit import open_shop

from hall.auth.passwords import hash_password
from hall.auth.roles import PERMISSIONS, Identity, Role, allowed, describe
from hall.auth.throttle import WINDOW_MS, LoginThrottle
from hall.config import Config
from hall.store.people import People
from hall.web.app import create_app
from hall.web.params import IdConvertor
from hall.web.security import CSRF_COOKIE, SESSION_COOKIE

DOC: Final = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"

NOT_ROUTES: Final[frozenset[str]] = frozenset({"ws_bid", "ws_command"})
"""Names in PERMISSIONS that are not routes of the app: the WebSocket commands checked by the
/ws handler (tests/test_protocol.py checks those).
A name added here must not also be a route (see the test below), so the list stays honest."""

KINDS: Final = ("anonymous", "unverified", "bidder", "seller", "auctioneer", "staff", "admin")
"""One account of each kind; ``None`` stands for anonymous."""

_SAMPLES: Final[dict[type[convertors.Convertor[Any]], Any]] = {
    convertors.IntegerConvertor: 1,
    convertors.StringConvertor: "1",
    convertors.PathConvertor: "1",
    convertors.FloatConvertor: 1.0,
    convertors.UUIDConvertor: uuid.UUID(int=1),
    IdConvertor: 1,
}


def _routes() -> list[BaseRoute]:
    return list(create_app(Config(db=":memory:")).routes)


def _sample_path(route: Route | WebSocketRoute) -> str:
    params = {}
    for name, convertor in route.param_convertors.items():
        kind = type(convertor)
        assert kind in _SAMPLES, f"route {route.name!r}: no sample value for a {kind.__name__} parameter {name!r}"
        params[name] = _SAMPLES[kind]
    return str(route.url_path_for(route.name, **params))


def _cases() -> list[Any]:
    """(route name, method, sample path) for every route and method (HEAD goes with GET)."""
    cases = []
    for route in _routes():
        if isinstance(route, WebSocketRoute):
            cases.append(pytest.param(route.name, "WEBSOCKET", _sample_path(route), id=f"{route.name}-WEBSOCKET"))
        elif isinstance(route, Route):
            assert route.methods, f"route {route.name!r} has no methods"
            for method in sorted(route.methods - {"HEAD"}):
                cases.append(pytest.param(route.name, method, _sample_path(route), id=f"{route.name}-{method}"))
        else:  # a Mount, a Host...: this test cannot call it, so it says so instead of skipping it
            raise AssertionError(f"{route!r}: a route of a kind the permission test does not know how to call")
    return cases


CASES: Final = _cases()


class _Forgetful(LoginThrottle):
    """A throttle whose clock leaps a whole window at every reading: calling POST /login as
    every kind of account must not slow the test down or end in 429."""

    def __init__(self) -> None:
        self._ticks = 0
        super().__init__(clock=self._tick)

    def _tick(self) -> int:
        self._ticks += 1
        return self._ticks * (WINDOW_MS + 1)


class Hall:
    """The app on one database with one account per kind, shared by this module's tests
    (each call mints its own token and reads the account afresh, so calls cannot interfere)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.people: People = client.app.state.people  # type: ignore[attr-defined]
        self.users: dict[str, int | None] = {"anonymous": None}

    def call(self, fn: Any, *args: Any) -> Any:
        assert self.client.portal is not None
        return self.client.portal.call(fn, *args)

    def build(self) -> None:
        stored = hash_password("correct horse battery")
        org = self.call(self.people.org, "示例大学", "university")
        for number, kind in enumerate(KINDS[1:]):
            user: int = self.call(self.people.create_user, f"1380013800{number}", stored, kind)
            self.users[kind] = user
            if kind in ("bidder", "seller"):
                self.call(self.people.verify, user, kind, org if kind == "seller" else None)
            if kind not in ("unverified", "bidder"):
                self.call(self.people.grant, user, Role(kind), None)
        seller = self.users["seller"]
        assert seller is not None
        open_shop(self.client, seller, "示例大学")  # a seller's routes also need an open shop

    def identity(self, kind: str) -> Identity | None:
        user = self.users[kind]
        if user is None:
            return None
        identity: Identity | None = self.call(self.people.identity, user)
        assert identity is not None
        return identity

    def headers(self, kind: str) -> dict[str, str]:
        """Credentials for one call as ``kind``; the client never holds a session cookie."""
        if SESSION_COOKIE in self.client.cookies:
            self.client.cookies.delete(SESSION_COOKIE)
        user = self.users[kind]
        if user is None:  # anonymous: the double-submit CSRF token, so that CSRF never answers
            return {"x-csrf-token": self.client.cookies[CSRF_COOKIE]}
        _, token = self.call(self.people.new_token, user, "permission test")
        return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    app = create_app(Config(db=str(tmp_path_factory.mktemp("permissions") / "h.db")))
    app.state.throttle = _Forgetful()
    with TestClient(app, follow_redirects=False) as client:
        client.get("/")  # the anonymous CSRF cookie
        hall = Hall(client)
        hall.build()
        yield hall


def _refusal(path: str, response: httpx.Response, identity: Identity | None) -> bool:
    """Whether the answer is the permission layer's refusal, in the shape it takes here."""
    if path.startswith("/api/"):
        return response.status_code in (401, 403)
    if identity is None:
        return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login")
    return response.status_code == 403


def _expected_refusal(path: str, response: httpx.Response, identity: Identity | None) -> str | None:
    """What is wrong with a refusal's shape, or None when it is right."""
    status = response.status_code
    if path.startswith("/api/"):
        want = 401 if identity is None else 403
        if status != want or response.headers.get("content-type") != "application/json":
            return f"want JSON {want}, got {status} {response.headers.get('content-type')}"
        code = response.json()["error"]["code"]
        return None if code == ("unauthenticated" if identity is None else "forbidden") else f"code {code}"
    if identity is None:
        location = response.headers.get("location", "")
        return None if status == 303 and location.startswith("/login?next=") else f"want 303 to /login, got {status}"
    return None if status == 403 else f"want 403, got {status}"


def _websocket_accepted(hall: Hall, path: str, kind: str) -> bool:
    headers = hall.headers(kind)
    try:
        with hall.client.websocket_connect(path, headers=headers) as ws:
            ws.receive()  # whatever the endpoint says first, it accepted
    except WebSocketDisconnect:
        return False
    return True


# before the walk below, which also calls shop_close as the seller (and so takes its role away)
def test_every_kind_of_account_has_the_roles_the_table_is_tested_with(hall: Hall) -> None:
    roles = {kind: hall.identity(kind) for kind in KINDS}
    assert roles["anonymous"] is None
    assert {k: sorted(i.roles) for k, i in roles.items() if i is not None} == {
        "unverified": [],
        "bidder": ["bidder"],
        "seller": ["bidder", "seller"],
        "auctioneer": ["auctioneer"],
        "staff": ["staff"],
        "admin": ["admin"],
    }
    # and every role the table names is held by one of them, so every rule is exercised
    named = set().union(*(rule for rule in PERMISSIONS.values() if isinstance(rule, frozenset)))
    held = set().union(*(i.roles for i in roles.values() if i is not None))
    assert named <= held


@pytest.mark.parametrize(("name", "method", "path"), CASES)
def test_route_answers_every_kind_of_account_as_the_permission_table_says(
    hall: Hall, name: str, method: str, path: str
) -> None:
    wrong = []
    for kind in KINDS:
        identity = hall.identity(kind)
        expected = allowed(name, identity)
        if method == "WEBSOCKET":
            accepted = _websocket_accepted(hall, path, kind)
            if accepted != expected:
                wrong.append(f"{kind}: {'accepted' if accepted else 'refused'}, table says allowed={expected}")
            continue
        response = hall.client.request(method, path, headers=hall.headers(kind))
        refused = _refusal(path, response, identity)
        if expected and refused:
            wrong.append(f"{kind}: refused with {response.status_code}, table says allowed")
        elif not expected and not refused:
            wrong.append(f"{kind}: let through with {response.status_code}, table says refused")
        elif not expected and (problem := _expected_refusal(path, response, identity)):
            wrong.append(f"{kind}: refusal has the wrong shape: {problem}")
    assert not wrong, f"{method} {path} ({name}):\n" + "\n".join(wrong)


def test_every_route_has_a_permission_entry_and_every_entry_a_route() -> None:
    routed = [route.name for route in _routes() if isinstance(route, (Route, WebSocketRoute))]
    assert len(routed) == len(set(routed)), "two routes share a name, so they share one permission entry"
    assert set(routed) - set(PERMISSIONS) == set()
    assert set(PERMISSIONS) - set(routed) - NOT_ROUTES == set()
    assert NOT_ROUTES & set(routed) == set(), "a reserved name is routed now: take it off NOT_ROUTES"


# ------------------------------------------------------------------------ docs/permissions.md


rule_text: Final = describe
"""How docs/permissions.md writes a rule in its "Who" column."""


def documented_rules() -> dict[str, list[str]]:
    """Name → the "Who" cells of its rows, from every table row whose first cell is `a_name`."""
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (found := re.fullmatch(r"`([a-z_]+)`", cells[0])):
            rows.setdefault(found[1], []).append(cells[2])
    return rows


def test_permissions_doc_has_one_row_per_entry_with_the_same_rule() -> None:
    documented = documented_rules()
    assert sorted(documented) == sorted(PERMISSIONS), "rows and PERMISSIONS name different things"
    wrong = {name: (cells, rule_text(PERMISSIONS[name])) for name, cells in documented.items()
             if cells != [rule_text(PERMISSIONS[name])]}  # fmt: skip
    assert not wrong, f"docs/permissions.md disagrees with PERMISSIONS (documented, enforced): {wrong}"


def test_permissions_doc_gives_each_route_its_path() -> None:
    text = DOC.read_text(encoding="utf-8")
    for route in _routes():
        assert isinstance(route, (Route, WebSocketRoute))
        row = next(line for line in text.splitlines() if line.strip().startswith(f"| `{route.name}` |"))
        assert f"`{route.path}`" in row, f"{route.name}: the row does not show {route.path}"
