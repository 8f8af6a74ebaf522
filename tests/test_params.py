"""Numbers at the edge: every route of the app, called with ids and numbers too large for SQLite
or written in non-ASCII digits, answers 400 or 404, never 500. The routes are read from the
app itself, so a route added later is walked too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hallkit import call, hall, lot, open_shop, org_id, people, user
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hall.auth.roles import Role
from hall.runtime import wall_clock
from hall.web.params import ID_MAX, IdConvertor, _at_most, whole

HOSTILE_IDS = ["99999999999999999999", str(ID_MAX + 1), "0", "007", "%C2%B2", "%D9%A1%D9%A2", "-1", "1e3"]
"""Too big for SQLite, just past it, zero, leading zeros, "²", Arabic-Indic "١٢", signed, float."""
HOSTILE_NUMBERS = ["9" * 30, "²", "١٢", "-5", " 1", "1.5"]
QUERY_KEYS = ("since", "limit", "lot", "lots", "upto", "steps", "amount", "seconds", "next", "session", "state")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with hall(tmp_path_factory.mktemp("params")) as found:
        now = wall_clock()
        assert lot(found, seller_org=org_id(found, "某大学"), publicity_start=now, bidding_start=now + 86_400_000) == 1
        yield found


class Everyone:
    """Headers of an account with every role, so that each handler is reached past its check;
    a fresh token each time, since the walk also calls the routes that revoke tokens."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.uid = user(client, "13800000009", "全能", org="全能研究院",
                        roles=(Role.SELLER, Role.AUCTIONEER, Role.STAFF, Role.ADMIN))  # fmt: skip
        open_shop(client, self.uid, "全能研究院", "institute")  # a seller's handlers need an open shop

    def __call__(self) -> dict[str, str]:
        _, token = call(self.client, people(self.client).new_token, self.uid, "params test")
        return {"authorization": f"Bearer {token}", "accept": "application/json"}


@pytest.fixture(scope="module")
def everyone(client: TestClient) -> Everyone:
    return Everyone(client)


def _param_routes(client: TestClient) -> list[Route]:
    return [r for r in client.app.routes if isinstance(r, Route) and r.param_convertors]  # type: ignore[attr-defined]


def _id_routes(client: TestClient) -> list[Route]:
    found = [r for r in _param_routes(client) if any(isinstance(c, IdConvertor) for c in r.param_convertors.values())]
    assert len(found) >= 10, "the app's id routes were not found"
    return found


def _path(route: Route, value: str) -> str:
    """The route's path with ``value`` for every id and ``open`` for any other parameter."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: value if m[2] == ":id" else "open", route.path)


def _methods(route: Route) -> list[str]:
    return sorted((route.methods or {"GET"}) - {"HEAD"})


def test_every_id_in_a_path_uses_the_bounded_convertor(client: TestClient) -> None:
    for route in _param_routes(client):
        for name, convertor in route.param_convertors.items():
            if name not in ("action", "code", "name", "verify_code"):  # words, not numbers
                assert isinstance(convertor, IdConvertor), (route.path, name)


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_a_hostile_id_in_any_path_matches_no_route(client: TestClient, everyone: Everyone, value: str) -> None:
    for route in _id_routes(client):
        for method in _methods(route):
            answer = client.request(method, _path(route, value), headers=everyone(), follow_redirects=False)
            assert answer.status_code == 404, (method, route.path, value, answer.status_code, answer.text[:200])


def test_the_largest_id_reaches_every_handler_and_is_not_found(client: TestClient, everyone: Everyone) -> None:
    for route in _id_routes(client):
        for method in _methods(route):
            data = {"decision": "approve", "confirm": "1", "req": "r1", "amount": "100"}
            body = {"json": data} if route.path.startswith("/api/") else {"data": data}  # the API takes JSON only
            answer = client.request(method, _path(route, str(ID_MAX)), headers=everyone(), follow_redirects=False,
                                    **(body if method in ("POST", "PUT") else {}))  # fmt: skip
            assert answer.status_code in (400, 404, 409), (method, route.path, answer.status_code, answer.text[:200])


@pytest.mark.parametrize("number", HOSTILE_NUMBERS)
def test_hostile_numbers_in_every_query_and_form_never_answer_500(
    client: TestClient, everyone: Everyone, number: str
) -> None:
    routes = [r for r in client.app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    query = {key: number for key in QUERY_KEYS}
    for route in routes:
        for method in _methods(route):
            answer = client.request(method, _path(route, "1"), params=query, headers=everyone(), follow_redirects=False,
                                    data=query if method == "POST" else None)  # fmt: skip
            assert answer.status_code < 500, (method, route.path, number, answer.status_code, answer.text[:200])


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("GET", "/api/lots/1/events", {"params": {"since": "9" * 30}}),
        ("GET", "/api/lots/1/events", {"params": {"limit": "²"}}),
        ("POST", "/inbox", {"data": {"upto": "²"}}),
        ("POST", "/inbox", {"data": {"upto": "9" * 30}}),
    ],
)
def test_a_number_out_of_range_in_a_query_or_form_is_400_bad_request(
    client: TestClient, everyone: Everyone, method: str, path: str, options: dict[str, Any]
) -> None:
    answer = client.request(method, path, headers=everyone(), follow_redirects=False, **options)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"


def test_a_page_socket_naming_hostile_lots_is_closed_1008(client: TestClient) -> None:
    assert any(isinstance(r, WebSocketRoute) and r.path == "/ws/page" for r in client.app.routes)  # type: ignore[attr-defined]
    for lots in ["9" * 30, "²", "1,١٢", ",".join(["1"] * 501)]:
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(f"/ws/page?lots={lots}") as ws:
            ws.receive_text()
        assert closed.value.code == 1008, lots


def test_the_id_pattern_takes_exactly_1_to_the_bound() -> None:
    for bound in (1, 9, 10, 57, 100, 305, 1000, ID_MAX):
        pattern = re.compile(f"(?:{_at_most(bound)})")
        probes = [*range(0, 1100), bound - 1, bound, bound + 1, 10 * bound, ID_MAX, ID_MAX + 1, 10**19 - 1]
        for n in probes:
            assert bool(pattern.fullmatch(str(n))) == (1 <= n <= bound), (bound, n)


def test_whole_takes_ascii_digits_in_range_and_nothing_else() -> None:
    assert whole("42", "n") == 42
    assert whole(None, "n", default=7) == 7
    assert whole("-3", "n", low=-5) == -3
    for bad in ["²", "١٢", "9" * 30, "-3", " 4", "4 ", "", None, "0x10"]:
        with pytest.raises(Exception) as refused:
            whole(bad, "n")
        assert getattr(refused.value, "status_code", None) == 400, bad
