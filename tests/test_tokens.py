"""API tokens through the whole app: issued by /api/login, accepted as a bearer header on HTTP
and on the WebSocket upgrade and as ``?token=`` on /ws, revoked for good, stored hashed, and
revocable only by their owner. Also the Origin rule for cookie WebSockets.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hallkit import call, people, signup
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hall.auth.passwords import hash_password
from hall.auth.roles import Role
from hall.web.security import CSRF_COOKIE

PHONE = "13800138000"
OTHER_PHONE = "13900139000"
PASSWORD = "correct horse battery"


def add_account(client: TestClient, phone: str = PHONE, name: str = "张三") -> int:
    user: int = call(client, people(client).create_user, phone, hash_password(PASSWORD), name)
    return user


def api_login(client: TestClient, phone: str = PHONE) -> tuple[int, str]:
    """(token id, token) from /api/login."""
    response = client.post("/api/login", json={"phone": phone, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    user_id = response.json()["user"]["id"]
    listed = client.get("/api/tokens", headers=bearer(token)).json()["tokens"]
    live = [t["id"] for t in listed if t["revoked_at"] is None]
    assert user_id and live, "the new token is listed as live"
    return max(live), token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def welcome(client: TestClient, url: str = "/ws", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The first message on /ws; raises WebSocketDisconnect when refused before accept."""
    with client.websocket_connect(url, headers=dict(headers or {})) as ws:
        message: dict[str, Any] = ws.receive_json()
    assert message["type"] == "welcome"
    return message


def signup_with_cookie(client: TestClient) -> None:
    assert signup(client, OTHER_PHONE, PASSWORD, "李四").status_code == 303


# ------------------------------------------------------------------------ issuing


def test_api_login_returns_a_token_and_the_user(client: TestClient) -> None:
    user = add_account(client)
    response = client.post("/api/login", json={"phone": "+86 138 0013 8000", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "user"}
    assert isinstance(body["token"], str) and len(body["token"]) >= 40
    assert body["user"] == {"id": user, "name": "张三", "roles": []}
    # the API hands out a token, never a session cookie
    assert not any(h.startswith("hall_session=") for h in response.headers.get_list("set-cookie"))


def test_api_login_reports_roles_sorted_and_bidder_once_verified(client: TestClient) -> None:
    user = add_account(client)
    call(client, people(client).verify, user, "张三", None)
    call(client, people(client).grant, user, Role.STAFF, None)
    body = client.post("/api/login", json={"phone": PHONE, "password": PASSWORD}).json()
    assert body["user"]["roles"] == ["bidder", "staff"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b'"13800138000"',
        b"{}",
        b'{"phone": "13800138000"}',
        b'{"password": "correct horse battery"}',
        b'{"phone": 13800138000, "password": "correct horse battery"}',
        b'{"phone": "13800138000", "password": null}',
        b'{"phone": "13800138000", "password": "correct horse battery", "admin": true}',
    ],
    ids=["empty", "not-json", "truncated", "array", "string", "no-fields", "no-password", "no-phone",
         "phone-not-string", "password-null", "unknown-field"],  # fmt: skip
)
def test_api_login_with_bad_json_or_missing_fields_is_400_bad_request(client: TestClient, body: bytes) -> None:
    add_account(client)
    response = client.post("/api/login", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


# ------------------------------------------------------------------------ using


def test_token_works_as_bearer_on_api_me(client: TestClient) -> None:
    user = add_account(client)
    _, token = api_login(client)
    response = client.get("/api/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["user"] == {"id": user, "name": "张三", "roles": []}
    assert client.get("/api/me", headers={"authorization": f"bearer {token}"}).status_code == 200  # scheme is case-insensitive
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers=bearer(token + "x")).status_code == 401


def test_token_is_not_taken_from_the_query_string_on_http(client: TestClient) -> None:
    add_account(client)
    _, token = api_login(client)
    # ?token= is for the WebSocket upgrade only, where browsers cannot set headers
    assert client.get(f"/api/me?token={token}").status_code == 401


def test_token_works_on_the_websocket_as_bearer_header_and_as_query_token(client: TestClient) -> None:
    user = add_account(client)
    _, token = api_login(client)
    expected = {"id": user, "name": "张三", "roles": []}
    assert welcome(client, headers=bearer(token))["user"] == expected
    assert welcome(client, f"/ws?token={token}")["user"] == expected
    assert welcome(client)["user"] is None  # no credential: anonymous


def _revoke_by_id(client: TestClient, token: str, token_id: int) -> None:
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer(token)).status_code == 200


def _revoke_by_logout(client: TestClient, token: str, token_id: int) -> None:
    assert client.post("/api/logout", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("revoke", [_revoke_by_id, _revoke_by_logout], ids=["delete-api-tokens-id", "post-api-logout"])
def test_a_revoked_token_stops_working_on_http_and_on_the_websocket(client: TestClient, revoke: Any) -> None:
    add_account(client)
    token_id, token = api_login(client)
    _, other = api_login(client)
    revoke(client, token, token_id)

    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/tokens", headers=bearer(token)).status_code == 401
    for url, headers in ((f"/ws?token={token}", None), ("/ws", bearer(token))):
        try:
            user = welcome(client, url, headers)["user"]
        except WebSocketDisconnect:
            continue  # refused at the upgrade: fine too
        assert user is None, "a revoked token must not identify anyone on /ws"
    # revoking one token leaves the user's others alone
    assert client.get("/api/me", headers=bearer(other)).status_code == 200
    listed = {t["id"]: t for t in client.get("/api/tokens", headers=bearer(other)).json()["tokens"]}
    assert listed[token_id]["revoked_at"] is not None
    # and a revoked token cannot be revoked again
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer(other)).status_code == 404


def test_tokens_are_stored_only_as_sha256_digests(client: TestClient) -> None:
    add_account(client)
    token_id, token = api_login(client)
    rows = call(client, client.app.state.store.fetchall, "SELECT id, hash, * FROM tokens")  # type: ignore[attr-defined]
    assert [r[0] for r in rows] == [token_id]
    assert rows[0][1] == hashlib.sha256(token.encode()).digest()
    for value in tuple(rows[0]):
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        assert token not in text
    # the listing never shows a token or its hash
    listed = client.get("/api/tokens", headers=bearer(token))
    assert token not in listed.text
    assert set(listed.json()["tokens"][0]) == {"id", "label", "created_at", "revoked_at"}


def test_a_user_cannot_revoke_another_users_token(client: TestClient) -> None:
    add_account(client)
    add_account(client, OTHER_PHONE, "李四")
    victim_id, victim = api_login(client)
    _, attacker = api_login(client, OTHER_PHONE)
    response = client.delete(f"/api/tokens/{victim_id}", headers=bearer(attacker))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/me", headers=bearer(victim)).status_code == 200
    # and /api/tokens lists only one's own
    assert victim_id not in [t["id"] for t in client.get("/api/tokens", headers=bearer(attacker)).json()["tokens"]]


# ------------------------------------------------------------------------ Origin on cookie WebSockets


def test_cookie_websocket_with_a_foreign_origin_is_refused_before_accept(client: TestClient) -> None:
    signup_with_cookie(client)
    for origin in ("http://evil.example", "https://testserver.evil.example", "null", "http://testserver:8080"):
        with pytest.raises(WebSocketDisconnect) as refused:
            welcome(client, headers={"origin": origin})
        assert refused.value.code == 1008, origin


def test_cookie_websocket_without_an_origin_is_refused(client: TestClient) -> None:
    signup_with_cookie(client)
    with pytest.raises(WebSocketDisconnect) as refused:
        welcome(client)
    assert refused.value.code == 1008


def test_cookie_websocket_from_the_halls_own_origin_is_accepted(client: TestClient) -> None:
    signup_with_cookie(client)
    user = welcome(client, headers={"origin": "http://testserver"})["user"]
    assert user is not None and user["name"] == "李四"


def test_anonymous_websocket_is_accepted_from_any_origin(client: TestClient) -> None:
    client.get("/")  # an anonymous visitor carries only the CSRF cookie
    assert CSRF_COOKIE in client.cookies
    assert welcome(client, headers={"origin": "http://evil.example"})["user"] is None
    assert welcome(client, headers={"origin": "http://testserver"})["user"] is None


def test_token_websocket_is_accepted_from_any_origin(client: TestClient) -> None:
    """A token is no ambient credential: a page can only send one it was given."""
    add_account(client)
    _, token = api_login(client)
    user = welcome(client, f"/ws?token={token}", {"origin": "http://evil.example"})["user"]
    assert user is not None and user["name"] == "张三"
