"""Accounts people can trust (AC-1), through the whole app: sign-up proves the phone by an SMS
code, codes expire, take five guesses and one use, are limited per phone and per address, and
answer alike whether or not a number has an account; password reset and login by SMS code, on
the pages and in the API; the owner gets in by code when password login is throttled; and the
client address behind (un)trusted proxies.

Codes are read from the SMS outbox, as a browser test reads them from the database file
(``hallkit.sms_code``). Time is a fake clock given to the app's code store and throttle.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hallkit import call, page_csrf, people, rows, send_code, sms_code
from starlette.testclient import TestClient

from hall.auth.codes import ADDRESS_SENDS, MAX_TRIES, TTL_MS
from hall.auth.passwords import hash_password
from hall.auth.throttle import PHONE_LIMIT, LoginThrottle
from hall.config import Config, uvicorn_settings
from hall.store.codes import MASK
from hall.web.app import create_app
from hall.web.security import SESSION_COOKIE

if TYPE_CHECKING:
    from conftest import FakeClock

PHONE = "13800138000"
OTHER = "13900139000"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new password"
MINUTE, HOUR = 60_000, 3_600_000


@pytest.fixture
def clock(client: TestClient, clock: FakeClock) -> FakeClock:
    """The fake clock, given to the app's code store and login throttle."""
    client.app.state.codes.clock = clock  # type: ignore[attr-defined]
    client.app.state.throttle = LoginThrottle(clock)  # type: ignore[attr-defined]
    return clock


def add_account(client: TestClient, phone: str = PHONE) -> int:
    user: int = call(client, people(client).create_user, phone, hash_password(PASSWORD), "已有账户")
    return user


def api_code(client: TestClient, phone: str, purpose: str = "signup", **headers: str) -> Any:
    return client.post("/api/codes", json={"phone": phone, "purpose": purpose}, headers=headers)


def outbox(client: TestClient, phone: str) -> list[tuple[Any, ...]]:
    """(template, body) of every SMS to ``phone``, oldest first."""
    return rows(client, "SELECT template, body FROM outbox WHERE phone = ? ORDER BY id", (phone,))


# ------------------------------------------------------------------------ sign-up


def test_signup_page_sends_a_code_then_signs_up_with_it(client: TestClient) -> None:
    sent = send_code(client, "/signup", PHONE)
    assert sent.status_code == 200
    assert 'name="code"' in sent.text and 'name="password"' in sent.text  # the second step
    code = sms_code(client, PHONE)
    assert len(code) == 6 and code.isdigit()
    data = {"phone": PHONE, "code": code, "name": "张三", "password": PASSWORD, "csrf": page_csrf(client, "/signup")}
    done = client.post("/signup", data=data, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert client.get("/api/me").json()["user"]["name"] == "张三"


def test_signup_without_the_right_code_makes_no_account(client: TestClient) -> None:
    send_code(client, "/signup", PHONE)
    right = sms_code(client, PHONE)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for code in ("", wrong, "12345", "１２３４５６"):
        data = {"phone": PHONE, "code": code, "password": PASSWORD, "csrf": page_csrf(client, "/signup")}
        refused = client.post("/signup", data=data)
        assert refused.status_code == 400, code
    assert call(client, people(client).find, PHONE) is None


def test_api_signup_with_a_code_returns_a_token(client: TestClient) -> None:
    assert api_code(client, PHONE).status_code == 202
    response = client.post("/api/signup", json={"phone": PHONE, "code": sms_code(client, PHONE), "password": PASSWORD,
                                                "name": "张三"})  # fmt: skip
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert client.get("/api/me", headers={"authorization": f"Bearer {token}"}).json()["user"]["name"] == "张三"


def test_a_code_is_used_once(client: TestClient) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    body = {"phone": PHONE, "code": code, "password": PASSWORD}
    assert client.post("/api/signup", json=body).status_code == 201
    again = client.post("/api/signup", json=body)
    assert again.status_code == 400 and again.json()["error"]["code"] == "bad_code"


def test_a_short_password_does_not_spend_the_code(client: TestClient) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    short = client.post("/api/signup", json={"phone": PHONE, "code": code, "password": "short"})
    assert short.status_code == 400 and short.json()["error"]["code"] == "bad_password"
    assert client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD}).status_code == 201


# ------------------------------------------------------------------------ the code's own rules


def test_a_code_expires_after_ten_minutes(client: TestClient, clock: FakeClock) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    clock.advance(TTL_MS)
    late = client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD})
    assert late.status_code == 400 and late.json()["error"]["code"] == "bad_code"
    assert call(client, people(client).find, PHONE) is None


def test_a_code_just_inside_ten_minutes_still_works(client: TestClient, clock: FakeClock) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    clock.advance(TTL_MS - 1)
    assert client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD}).status_code == 201


def test_a_code_takes_five_guesses_then_even_the_right_one_is_refused(client: TestClient) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_TRIES):
        assert client.post("/api/signup", json={"phone": PHONE, "code": wrong, "password": PASSWORD}).status_code == 400
    right = client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD})
    assert right.status_code == 400 and right.json()["error"]["code"] == "bad_code"


def test_four_wrong_guesses_leave_the_right_code_usable(client: TestClient) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_TRIES - 1):
        client.post("/api/signup", json={"phone": PHONE, "code": wrong, "password": PASSWORD})
    assert client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD}).status_code == 201


def test_a_code_is_bound_to_its_purpose(client: TestClient, clock: FakeClock) -> None:
    add_account(client)
    api_code(client, PHONE, "reset")
    reset_code = sms_code(client, PHONE, "reset")
    login = client.post("/api/login", json={"phone": PHONE, "code": reset_code})
    assert login.status_code == 400 and login.json()["error"]["code"] == "bad_code"
    # and to its phone: the same digits for another number are nothing
    add_account(client, OTHER)
    clock.advance(MINUTE)
    other = client.post("/api/password-reset", json={"phone": OTHER, "code": reset_code, "password": NEW_PASSWORD})
    assert other.status_code == 400


def test_a_new_code_ends_the_older_one(client: TestClient, clock: FakeClock) -> None:
    api_code(client, PHONE)
    first = sms_code(client, PHONE)
    clock.advance(MINUTE)
    api_code(client, PHONE)
    second = sms_code(client, PHONE)
    if first != second:  # one chance in a million that they are equal
        assert client.post("/api/signup", json={"phone": PHONE, "code": first, "password": PASSWORD}).status_code == 400
    assert client.post("/api/signup", json={"phone": PHONE, "code": second, "password": PASSWORD}).status_code == 201


def test_only_a_keyed_hash_of_a_code_is_stored_and_the_sms_text_is_masked_once_it_is_used(client: TestClient) -> None:
    api_code(client, PHONE)
    code = sms_code(client, PHONE)
    [(stored,)] = rows(client, "SELECT code_hash FROM codes WHERE phone = ?", (PHONE,))
    assert code.encode() not in stored and hashlib.sha256(code.encode()).digest() != stored
    client.post("/api/signup", json={"phone": PHONE, "code": code, "password": PASSWORD})
    [(template, body)] = outbox(client, PHONE)
    assert template == "code_signup" and code not in body and MASK in body


# ------------------------------------------------------------------------ limits on sending


def test_one_code_a_minute_per_phone(client: TestClient, clock: FakeClock) -> None:
    assert api_code(client, PHONE).status_code == 202
    clock.advance(MINUTE - 1_000)
    refused = api_code(client, PHONE, "login")  # whatever the purpose
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "code_rate_limited" and error["retry_after"] == 1
    clock.advance(1_000)
    assert api_code(client, PHONE).status_code == 202


def test_five_codes_an_hour_per_phone(client: TestClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert api_code(client, PHONE).status_code == 202
        clock.advance(MINUTE)
    refused = api_code(client, PHONE)
    assert refused.status_code == 429
    assert refused.json()["error"]["retry_after"] == (HOUR - 5 * MINUTE) // 1000
    clock.advance(HOUR - 5 * MINUTE)
    assert api_code(client, PHONE).status_code == 202
    assert len(outbox(client, PHONE)) == 6


def test_codes_per_client_address_are_bounded(client: TestClient, clock: FakeClock) -> None:
    (_, per_minute), (_, per_hour) = ADDRESS_SENDS
    phones = iter(f"137{i:08d}" for i in range(10 * per_hour))
    for _ in range(per_minute):
        assert api_code(client, next(phones)).status_code == 202
    refused = api_code(client, next(phones))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "code_rate_limited"
    sent = per_minute
    while sent < per_hour:
        clock.advance(MINUTE)
        for _ in range(min(per_minute, per_hour - sent)):
            assert api_code(client, next(phones)).status_code == 202
            sent += 1
    clock.advance(MINUTE)
    assert api_code(client, next(phones)).status_code == 429  # the hour's quota, not the minute's


def test_the_signup_page_shows_the_code_limit(client: TestClient, clock: FakeClock) -> None:
    assert send_code(client, "/signup", PHONE).status_code == 200
    again = send_code(client, "/signup", PHONE, step="code")
    assert again.status_code == 429
    assert 'name="code"' in again.text  # still on the step the form came from


# ------------------------------------------------------------------------ nothing revealed


def test_sending_a_code_answers_the_same_whether_or_not_the_number_has_an_account(
    client: TestClient, clock: FakeClock
) -> None:
    add_account(client)
    for purpose, path in (("signup", "/signup"), ("login", "/login/code"), ("reset", "/password-reset")):
        answers = [api_code(client, phone, purpose) for phone in (PHONE, OTHER)]
        assert answers[0].status_code == answers[1].status_code == 202
        assert answers[0].content == answers[1].content
        clock.advance(20 * MINUTE)  # past the per-phone limits
        pages = [send_code(client, path, phone) for phone in (PHONE, OTHER)]
        assert pages[0].status_code == pages[1].status_code == 200
        # the page echoes the number typed; apart from that the two are identical
        assert pages[0].text.replace(PHONE, "<phone>") == pages[1].text.replace(OTHER, "<phone>")
        clock.advance(20 * MINUTE)


@pytest.mark.parametrize("purpose", ["login", "reset"])
def test_login_and_reset_codes_answer_the_same_for_unknown_numbers(
    client: TestClient, clock: FakeClock, purpose: str
) -> None:
    add_account(client)
    answers = [api_code(client, phone, purpose) for phone in (PHONE, OTHER)]
    assert answers[0].status_code == answers[1].status_code == 202
    assert answers[0].content == answers[1].content
    assert [t for t, _ in outbox(client, OTHER)] == ["no_account"]
    assert [t for t, _ in outbox(client, PHONE)] == [f"code_{purpose}"]


def test_a_signup_code_for_a_registered_number_becomes_an_sms_saying_so(client: TestClient) -> None:
    add_account(client)
    assert api_code(client, PHONE).status_code == 202
    [(template, body)] = outbox(client, PHONE)
    assert template == "signup_taken" and "已注册" in body
    assert not any(ch.isdigit() for ch in body)  # no code in it
    # and whatever code is tried, the answer is a wrong code's, as for any number
    attempt = client.post("/api/signup", json={"phone": PHONE, "code": "000000", "password": PASSWORD})
    assert attempt.status_code == 400 and attempt.json()["error"]["code"] == "bad_code"


# ------------------------------------------------------------------------ login by code


def test_login_by_code_on_the_page_starts_a_session_and_honours_next(client: TestClient) -> None:
    add_account(client)
    assert send_code(client, "/login/code", PHONE, next="/inbox").status_code == 200
    data = {"phone": PHONE, "code": sms_code(client, PHONE, "login"), "next": "/inbox",
            "csrf": page_csrf(client, "/login/code")}  # fmt: skip
    done = client.post("/login/code", data=data, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    assert SESSION_COOKIE in done.headers["set-cookie"]
    assert client.get("/api/me").json()["user"]["name"] == "已有账户"


def test_login_by_code_in_the_api_issues_a_token(client: TestClient) -> None:
    user = add_account(client)
    api_code(client, PHONE, "login")
    response = client.post("/api/login", json={"phone": PHONE, "code": sms_code(client, PHONE, "login")})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == user
    assert client.get("/api/me", headers={"authorization": f"Bearer {response.json()['token']}"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"phone": PHONE}, {"phone": PHONE, "password": PASSWORD, "code": "123456"}],
    ids=["neither", "both"],
)
def test_api_login_takes_a_password_or_a_code_not_both(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/api/login", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_password_login_refused_by_the_throttle_points_to_code_login_which_still_works(
    client: TestClient, clock: FakeClock, sleeps: list[float]
) -> None:
    add_account(client)
    for i in range(PHONE_LIMIT.refuse_after):  # someone guesses at the owner's password
        client.post("/api/login", json={"phone": PHONE, "password": f"guess {i}"})
    refused = client.post("/api/login", json={"phone": PHONE, "password": PASSWORD})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "password_rate_limited" and error["code_login"] == "/login/code"
    assert "短信验证码" in error["message"]
    page = client.post("/login", data={"phone": PHONE, "password": PASSWORD, "next": "/inbox",
                                       "csrf": page_csrf(client, "/login")})  # fmt: skip
    assert page.status_code == 429
    assert 'href="/login/code?next=/inbox" id="code-login-link"' in page.text.replace("%2F", "/")
    # the owner gets in by SMS code, from the same address, straight away
    api_code(client, PHONE, "login")
    by_code = client.post("/api/login", json={"phone": PHONE, "code": sms_code(client, PHONE, "login")})
    assert by_code.status_code == 200, by_code.text


def test_wrong_passwords_at_many_phones_from_one_address_do_not_lock_out_another_phone(
    client: TestClient, clock: FakeClock, sleeps: list[float]
) -> None:
    """A university behind one NAT gateway: its members' typos must not lock out the others."""
    add_account(client)
    for i in range(2 * PHONE_LIMIT.refuse_after):
        assert client.post("/api/login", json={"phone": f"137{i:08d}", "password": "typo"}).status_code == 401
    assert client.post("/api/login", json={"phone": PHONE, "password": PASSWORD}).status_code == 200
    assert sleeps == []  # nor slowed down


# ------------------------------------------------------------------------ reset


def test_password_reset_by_code_sets_the_password_and_ends_every_session_and_token(client: TestClient) -> None:
    user = add_account(client)
    old_session, _ = call(client, people(client).new_session, user)
    _, old_token = call(client, people(client).new_token, user, "cli")
    api_code(client, PHONE, "reset")
    reset = client.post("/api/password-reset", json={"phone": PHONE, "code": sms_code(client, PHONE, "reset"),
                                                     "password": NEW_PASSWORD})  # fmt: skip
    assert reset.status_code == 200 and reset.json() == {"ok": True}
    assert call(client, people(client).session, old_session) is None
    assert client.get("/api/me", headers={"authorization": f"Bearer {old_token}"}).status_code == 401
    assert client.post("/api/login", json={"phone": PHONE, "password": PASSWORD}).status_code == 401
    assert client.post("/api/login", json={"phone": PHONE, "password": NEW_PASSWORD}).status_code == 200


def test_password_reset_page_signs_in_with_the_new_password(client: TestClient) -> None:
    add_account(client)
    assert send_code(client, "/password-reset", PHONE).status_code == 200
    data = {"phone": PHONE, "code": sms_code(client, PHONE, "reset"), "password": NEW_PASSWORD,
            "csrf": page_csrf(client, "/password-reset")}  # fmt: skip
    done = client.post("/password-reset", data=data, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert client.get("/api/me").json()["user"]["name"] == "已有账户"


def test_a_reset_lets_the_owner_use_a_password_again_at_once(
    client: TestClient, clock: FakeClock, sleeps: list[float]
) -> None:
    add_account(client)
    for i in range(PHONE_LIMIT.refuse_after):
        client.post("/api/login", json={"phone": PHONE, "password": f"guess {i}"})
    api_code(client, PHONE, "reset")
    client.post("/api/password-reset", json={"phone": PHONE, "code": sms_code(client, PHONE, "reset"),
                                             "password": NEW_PASSWORD})  # fmt: skip
    assert client.post("/api/login", json={"phone": PHONE, "password": NEW_PASSWORD}).status_code == 200


# ------------------------------------------------------------------------ the JSON edge


@pytest.mark.parametrize("path", ["/api/codes", "/api/signup", "/api/login", "/api/password-reset"])
def test_account_api_takes_json_only(client: TestClient, path: str) -> None:
    """A page elsewhere can post a form or text/plain without the browser asking first."""
    response = client.post(path, content=b'{"phone": "13800138000", "purpose": "signup"}',
                           headers={"content-type": "text/plain"})  # fmt: skip
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    assert rows(client, "SELECT count(*) FROM outbox") == [(0,)]


@pytest.mark.parametrize(
    "body",
    [{"phone": PHONE, "purpose": "admin"}, {"phone": PHONE}, {"phone": "1" * 100, "purpose": "signup"},
     {"phone": PHONE, "purpose": "signup", "extra": 1}],
    ids=["unknown-purpose", "no-purpose", "long-phone", "unknown-field"],
)
def test_api_codes_refuses_a_bad_body_with_400(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/api/codes", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_api_codes_refuses_a_number_that_is_not_a_mainland_mobile(client: TestClient) -> None:
    response = api_code(client, "+1 415 555 0100")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_phone"


def test_api_errors_follow_the_language_cookie(client: TestClient) -> None:
    zh = api_code(client, "12345").json()["error"]["message"]
    client.cookies.set("hall_lang", "en")
    en = api_code(client, "12345").json()["error"]["message"]
    assert zh == "请输入有效的大陆手机号" and en == "Enter a valid mainland mobile number"


# ------------------------------------------------------------------------ client addresses


def test_an_untrusted_peers_x_forwarded_for_is_ignored(client: TestClient, clock: FakeClock) -> None:
    (_, per_minute), _ = ADDRESS_SENDS
    for i in range(per_minute):
        assert api_code(client, f"137{i:08d}", **{"x-forwarded-for": f"198.51.100.{i}"}).status_code == 202
    refused = api_code(client, OTHER, **{"x-forwarded-for": "198.51.100.250"})
    assert refused.status_code == 429  # a fresh header is not a fresh address
    assert {r[0] for r in rows(client, "SELECT DISTINCT address FROM codes")} == {"testclient"}


def test_a_trusted_proxys_x_forwarded_for_names_the_client(tmp_path: Path) -> None:
    app = create_app(Config(db=str(tmp_path / "h.db"), trusted_proxies="10.0.0.0/8, ::1"))
    with TestClient(app, client=("10.0.0.7", 40000)) as proxied:
        # the client's own claim (left) is not believed; the proxy's entry (right) is
        assert api_code(proxied, PHONE, **{"x-forwarded-for": "192.0.2.99, 203.0.113.5"}).status_code == 202
        assert api_code(proxied, OTHER, **{"x-forwarded-for": "203.0.113.6"}).status_code == 202
        assert api_code(proxied, "13700137000").status_code == 202  # no header: the proxy itself
        found = rows(proxied, "SELECT address FROM codes ORDER BY id")
    assert found == [("203.0.113.5",), ("203.0.113.6",), ("10.0.0.7",)]


def test_a_bad_trusted_proxies_setting_stops_the_app_from_starting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HALL_TRUSTED_PROXIES"):
        create_app(Config(db=str(tmp_path / "h.db"), trusted_proxies="10.0.0.1, proxy.example"))


def test_uvicorn_does_not_rewrite_the_client_address_itself() -> None:
    """uvicorn believes X-Forwarded-For from loopback peers by default: the hall reads it instead."""
    assert uvicorn_settings(Config())["proxy_headers"] is False
