"""Cookie sessions through the whole app: the cookie's attributes and signature, a new session
id at every login, logout that really ends the session, answers that do not reveal whether a
phone is registered, login throttling, and CSRF on every state-changing form.

Each test builds its own app on its own database, so throttle counters and sessions never leak
from one test into another.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import pytest
import hallkit
from hallkit import call, page_csrf, people
from starlette.testclient import TestClient

from hall.auth.passwords import hash_password
from hall.auth.throttle import PHONE_LIMIT, LoginThrottle
from hall.config import Config
from hall.web.app import create_app
from hall.web.security import CSRF_COOKIE, SESSION_COOKIE

if TYPE_CHECKING:
    from conftest import FakeClock

PHONE = "13800138000"
UNKNOWN_PHONE = "13900139000"
PASSWORD = "correct horse battery"
SLOW_AFTER, REFUSE_AFTER = PHONE_LIMIT


def set_cookie(response: httpx.Response, name: str) -> str:
    """The one Set-Cookie header for ``name`` in a response."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


def attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def signup(client: TestClient, phone: str = PHONE, password: str = PASSWORD, name: str = "测试用户") -> httpx.Response:
    return hallkit.signup(client, phone, password, name)


def login(client: TestClient, phone: str = PHONE, password: str = PASSWORD, **extra: str) -> httpx.Response:
    csrf = page_csrf(client)
    return client.post("/login", data={"phone": phone, "password": password, "csrf": csrf, **extra},
                       follow_redirects=False)  # fmt: skip


def session_of(response: httpx.Response) -> str:
    return cookie_value(set_cookie(response, SESSION_COOKIE))


def who(client: TestClient, session: str | None = None) -> dict[str, Any] | None:
    """The user /api/me sees, with the client's cookies or with only the given session cookie."""
    headers = {} if session is None else {"cookie": f"{SESSION_COOKIE}={session}"}
    response = client.get("/api/me", headers=headers)
    if response.status_code == 401:
        return None
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


def add_account(client: TestClient, phone: str = PHONE, password: str = PASSWORD) -> int:
    user: int = call(client, people(client).create_user, phone, hash_password(password), "已有账户")
    return user


# ------------------------------------------------------------------------ the cookie itself


def test_session_cookie_is_httponly_samesite_lax_and_not_secure_over_http(client: TestClient) -> None:
    response = signup(client)
    assert response.status_code == 303
    attrs = attributes(set_cookie(response, SESSION_COOKIE))
    assert {"httponly", "samesite=lax", "path=/"} <= attrs
    assert "secure" not in attrs  # over plain http a Secure cookie would never come back


def test_session_and_csrf_cookies_are_secure_over_https(tmp_path: Path) -> None:
    app = create_app(Config(db=str(tmp_path / "h.db")))
    with TestClient(app, base_url="https://testserver") as client:
        anonymous = client.get("/signup")
        assert {"httponly", "samesite=lax", "secure"} <= attributes(set_cookie(anonymous, CSRF_COOKIE))
        response = signup(client)
        assert response.status_code == 303
        assert {"httponly", "samesite=lax", "secure"} <= attributes(set_cookie(response, SESSION_COOKIE))
        assert who(client) is not None
        logout = client.post("/logout", data={"csrf": page_csrf(client)}, follow_redirects=False)
        assert "secure" in attributes(set_cookie(logout, SESSION_COOKIE))


def test_session_cookie_is_signed_and_a_tampered_one_is_anonymous(client: TestClient) -> None:
    session = session_of(signup(client))
    assert who(client, session) is not None
    raw, _, signature = session.rpartition(".")
    # (the first character: the last one of base64 carries unused bits, so some changes decode the same)
    flipped = "A" if signature[0] != "A" else "B"
    for tampered in (
        raw,  # the bare session id, unsigned
        f"{raw}.{flipped}{signature[1:]}",  # signature altered
        f"{raw[:-1]}{'A' if raw[-1] != 'A' else 'B'}.{signature}",  # id altered, old signature
        f"{raw}.",
        "",
    ):
        assert who(client, tampered) is None, tampered
        page = client.get("/account", headers={"cookie": f"{SESSION_COOKIE}={tampered}"}, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


def test_session_ids_are_stored_only_as_sha256_digests(client: TestClient) -> None:
    raw = session_of(signup(client)).rpartition(".")[0]
    rows = call(client, client.app.state.store.fetchall, "SELECT id_hash, * FROM sessions")  # type: ignore[attr-defined]
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha256(raw.encode()).digest()
    for value in tuple(rows[0]):
        assert raw not in (value.decode(errors="replace") if isinstance(value, bytes) else str(value))


# ------------------------------------------------------------------------ a new id at every login


def test_login_after_signup_issues_a_new_session_id_and_ends_the_old_one(client: TestClient) -> None:
    first = session_of(signup(client))
    response = login(client)
    assert response.status_code == 303
    second = session_of(response)
    assert second != first
    assert who(client, first) is None
    user = who(client, second)
    assert user is not None and user["name"] == "测试用户"


def test_logging_in_twice_issues_a_new_session_id_each_time(client: TestClient) -> None:
    add_account(client)
    first = session_of(login(client))
    second = session_of(login(client))
    assert len({first, second}) == 2
    assert who(client, first) is None
    assert who(client, second) is not None


def test_a_session_cookie_planted_before_login_never_becomes_the_victims_session(client: TestClient) -> None:
    """Session fixation: an attacker's own valid cookie in the victim's browser; the victim's
    login answers with a fresh id and the planted one identifies nobody afterwards."""
    planted = session_of(signup(client, phone=UNKNOWN_PHONE, name="attacker"))
    add_account(client)
    fresh = session_of(login(client))
    assert fresh != planted
    assert who(client, planted) is None
    victim = who(client, fresh)
    assert victim is not None and victim["name"] == "已有账户"


def test_login_redirects_only_to_a_path_on_this_site(client: TestClient) -> None:
    add_account(client)
    assert login(client, next="/account?tab=1").headers["location"] == "/account?tab=1"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        assert login(client, next=target).headers["location"] == "/account", target


# ------------------------------------------------------------------------ logout


def test_logout_ends_the_session_so_a_replayed_cookie_is_anonymous(client: TestClient) -> None:
    session = session_of(signup(client))
    response = client.post("/logout", data={"csrf": page_csrf(client)}, follow_redirects=False)
    assert response.status_code == 303
    cleared = set_cookie(response, SESSION_COOKIE)
    assert cookie_value(cleared) == "" and "max-age=0" in attributes(cleared)
    assert who(client) is None
    assert who(client, session) is None  # replaying the old cookie does not bring it back
    replayed = client.get("/account", headers={"cookie": f"{SESSION_COOKIE}={session}"}, follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")


# ------------------------------------------------------------------------ wrong passwords


def test_wrong_password_answers_the_same_whether_or_not_the_phone_exists(
    client: TestClient, sleeps: list[float]
) -> None:
    add_account(client)
    api = [client.post("/api/login", json={"phone": p, "password": "wrong password"}) for p in (PHONE, UNKNOWN_PHONE)]
    assert api[0].status_code == api[1].status_code == 401
    assert api[0].content == api[1].content
    assert api[0].json()["error"]["code"] == "bad_credentials"

    page_csrf(client)
    form = [
        client.post("/login", data={"phone": p, "password": "wrong password", "csrf": client.cookies[CSRF_COOKIE]})
        for p in (PHONE, UNKNOWN_PHONE)
    ]
    assert form[0].status_code == form[1].status_code == 401
    # the form echoes the phone typed; apart from that the pages are identical
    assert form[0].text.replace(PHONE, "<phone>") == form[1].text.replace(UNKNOWN_PHONE, "<phone>")


@pytest.mark.parametrize("registered", [True, False], ids=["existing-phone", "unknown-phone"])
def test_repeated_failed_logins_are_slowed_then_refused_with_429_password_rate_limited(
    client: TestClient, sleeps: list[float], registered: bool
) -> None:
    phone = PHONE if registered else UNKNOWN_PHONE
    add_account(client)
    statuses = [
        client.post("/api/login", json={"phone": phone, "password": f"guess {i}"}).status_code
        for i in range(REFUSE_AFTER)
    ]
    assert statuses == [401] * REFUSE_AFTER
    assert len(sleeps) == REFUSE_AFTER - SLOW_AFTER and all(s > 0 for s in sleeps)

    refused = client.post("/api/login", json={"phone": phone, "password": "one more"})
    assert refused.status_code == 429
    body = refused.json()["error"]
    assert body["code"] == "password_rate_limited"
    assert body["retry_after"] > 0
    assert body["code_login"] == "/login/code"  # the refusal says how the owner still gets in
    # the right password does not get through either while refused, nor does the form
    assert client.post("/api/login", json={"phone": phone, "password": PASSWORD}).status_code == 429
    page_csrf(client)
    form = client.post("/login", data={"phone": phone, "password": PASSWORD, "csrf": client.cookies[CSRF_COOKIE]})
    assert form.status_code == 429
    assert SESSION_COOKIE not in client.cookies


def test_refused_logins_are_not_counted_so_waiting_out_the_window_lets_the_right_password_in(
    client: TestClient, sleeps: list[float], clock: FakeClock
) -> None:
    throttle = LoginThrottle(clock)
    client.app.state.throttle = throttle  # type: ignore[attr-defined]
    add_account(client)
    for i in range(REFUSE_AFTER):
        assert client.post("/api/login", json={"phone": PHONE, "password": f"guess {i}"}).status_code == 401
        clock.advance(1_000)
    retry_after = client.post("/api/login", json={"phone": PHONE, "password": "x"}).json()["error"]["retry_after"]
    for _ in range(20):  # hammering while refused
        assert client.post("/api/login", json={"phone": PHONE, "password": "x"}).status_code == 429
    clock.advance(retry_after * 1000)
    response = client.post("/api/login", json={"phone": PHONE, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_concurrent_failed_logins_cannot_exceed_the_refusal_limit(client: TestClient, sleeps: list[float]) -> None:
    """Guesses fired all at once must not each pass the throttle's check before any of them is
    counted: within one window at most REFUSE_AFTER passwords are ever tried."""
    add_account(client)
    app = client.app

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)  # the same app, on the loop its lifespan runs on
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as concurrent:
            answers = await asyncio.gather(*(
                concurrent.post("/api/login", json={"phone": PHONE, "password": f"guess {i}"})
                for i in range(3 * REFUSE_AFTER)
            ))  # fmt: skip
        return [answer.status_code for answer in answers]

    statuses = call(client, burst)
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= REFUSE_AFTER, f"{statuses.count(401)} passwords tried in one window"


# ------------------------------------------------------------------------ CSRF on forms


def _csrf_outcome(client: TestClient, form: str, token: str | None) -> tuple[int, bool]:
    """POST the form with ``token`` (None: no field); (status, whether it took effect)."""
    data: dict[str, str] = {} if token is None else {"csrf": token}
    if form == "signup":
        code = hallkit.sms_code(client, PHONE)
        response = client.post("/signup", data={"phone": PHONE, "code": code, "name": "n", "password": PASSWORD,
                                                **data}, follow_redirects=False)  # fmt: skip
        effect = call(client, people(client).find, PHONE) is not None
    elif form == "send_code":
        response = client.post("/login/code", data={"phone": PHONE, "action": "send_code", **data})
        effect = bool(hallkit.rows(client, "SELECT 1 FROM outbox WHERE phone = ?", (PHONE,)))
    elif form == "code_login":
        code = hallkit.sms_code(client, PHONE, "login")
        response = client.post("/login/code", data={"phone": PHONE, "code": code, **data}, follow_redirects=False)
        effect = SESSION_COOKIE in response.headers.get("set-cookie", "")
    elif form == "login":
        response = client.post("/login", data={"phone": PHONE, "password": PASSWORD, **data}, follow_redirects=False)
        effect = SESSION_COOKIE in response.headers.get("set-cookie", "")
    else:
        session = client.cookies[SESSION_COOKIE]
        response = client.post("/logout", data=data, follow_redirects=False)
        effect = who(client, session) is None
    return response.status_code, effect


FORMS = ["signup", "login", "logout", "send_code", "code_login"]
DONE = {"send_code": 200}
"""The status of a form that worked, when not 303 (sending a code shows the page's next step)."""


def _prepare(client: TestClient, form: str) -> str:
    """Set the scene for ``form``; the right CSRF token for it."""
    if form in ("login", "send_code", "code_login"):
        add_account(client)
    if form == "signup":
        assert hallkit.send_code(client, "/signup", PHONE).status_code == 200
    if form == "code_login":
        assert hallkit.send_code(client, "/login/code", PHONE).status_code == 200
    if form == "logout":
        assert signup(client).status_code == 303
    return page_csrf(client)


@pytest.mark.parametrize("form", FORMS)
def test_state_changing_form_without_csrf_token_is_403_and_does_nothing(client: TestClient, form: str) -> None:
    _prepare(client, form)
    assert _csrf_outcome(client, form, None) == (403, False)


@pytest.mark.parametrize("form", FORMS)
def test_state_changing_form_with_a_wrong_csrf_token_is_403_and_does_nothing(client: TestClient, form: str) -> None:
    right = _prepare(client, form)
    wrong = ("y" if right[0] == "x" else "x") + right[1:]  # differs from the right token, always
    assert _csrf_outcome(client, form, wrong) == (403, False)
    assert _csrf_outcome(client, form, "") == (403, False)


def test_logout_refuses_the_anonymous_csrf_token_once_signed_in(client: TestClient) -> None:
    anonymous = page_csrf(client)
    assert signup(client).status_code == 303
    assert page_csrf(client) != anonymous
    assert _csrf_outcome(client, "logout", anonymous) == (403, False)


@pytest.mark.parametrize("form", FORMS)
def test_state_changing_form_with_the_csrf_token_works(client: TestClient, form: str) -> None:
    right = _prepare(client, form)
    assert _csrf_outcome(client, form, right) == (DONE.get(form, 303), True)


def test_csrf_token_in_the_header_works_for_a_cookie_authenticated_json_request(client: TestClient) -> None:
    session = session_of(signup(client))
    user = who(client, session)
    assert user is not None
    token_id, token = call(client, people(client).new_token, user["id"], "cli")
    path = f"/api/tokens/{token_id}"

    missing = client.delete(path)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf"
    wrong = client.delete(path, headers={"x-csrf-token": "not-the-token"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf"
    assert client.get("/api/me", headers={"authorization": f"Bearer {token}"}).status_code == 200

    right = client.delete(path, headers={"x-csrf-token": page_csrf(client)})
    assert right.status_code == 200, right.text
    assert client.get("/api/me", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_bearer_token_requests_need_no_csrf_token(client: TestClient) -> None:
    user = add_account(client)
    _, token = call(client, people(client).new_token, user, "cli")
    other_id, other = call(client, people(client).new_token, user, "other")
    bearer = {"authorization": f"Bearer {token}"}
    assert client.delete(f"/api/tokens/{other_id}", headers=bearer).status_code == 200
    assert client.get("/api/me", headers={"authorization": f"Bearer {other}"}).status_code == 401
    assert client.post("/api/logout", headers=bearer).status_code == 200
    assert client.get("/api/me", headers=bearer).status_code == 401
