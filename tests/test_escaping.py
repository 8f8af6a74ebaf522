"""Text users type comes back escaped, never as markup: a name given at signup on the account
page and in every page's header (and where an admin sees it), and the phone and ``next`` the
login and signup forms echo into attributes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hallkit import page_csrf, send_code, signup
from starlette.testclient import TestClient

from hall.auth.passwords import hash_password
from hall.auth.roles import Role
from hall.store.people import People

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = "\"><img src=x onerror=alert(1)>"
QUOTE = "' autofocus onfocus='alert(1)"
PAYLOADS = [SCRIPT, ATTRIBUTE, QUOTE]
PASSWORD = "correct horse battery"


def escaped(text: str) -> str:
    """What Jinja's autoescape makes of ``text``."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))  # fmt: skip


def section(html: str, tag: str) -> str:
    found = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", html, re.S)
    assert found is not None, f"no <{tag}> in the page"
    return found[1]


def assert_only_escaped(html: str, payload: str) -> None:
    assert payload not in html
    for fragment in ("<script>alert", "<img src=x", "' autofocus"):  # markup that would take effect
        assert fragment not in html
    assert escaped(payload) in html


@pytest.mark.parametrize("name", PAYLOADS, ids=["script", "attribute", "quote"])
def test_name_given_at_signup_is_escaped_on_the_account_page_and_in_the_header(client: TestClient, name: str) -> None:
    assert signup(client, "13800138000", PASSWORD, name).status_code == 303
    page = client.get("/account")
    assert page.status_code == 200
    assert_only_escaped(section(page.text, "header"), name)
    assert_only_escaped(section(page.text, "main"), name)
    assert_only_escaped(section(client.get("/").text, "header"), name)


@pytest.mark.parametrize("name", PAYLOADS, ids=["script", "attribute", "quote"])
def test_name_and_phone_echoed_by_a_refused_signup_are_escaped(client: TestClient, name: str) -> None:
    page = send_code(client, "/signup", name)
    assert page.status_code == 400  # not a phone number: the form comes back with what was typed
    assert_only_escaped(page.text, name)
    data = {"phone": name, "code": "123456", "name": name, "password": PASSWORD, "csrf": page_csrf(client, "/signup")}
    page = client.post("/signup", data=data)
    assert page.status_code == 400
    assert_only_escaped(page.text, name)


@pytest.mark.parametrize("payload", PAYLOADS, ids=["script", "attribute", "quote"])
def test_phone_and_next_echoed_by_the_login_page_are_escaped(client: TestClient, payload: str) -> None:
    local = "/lots/1?q=" + payload.replace(" ", "+")  # a path on this site, so echoed (escaped)
    page = client.get("/login", params={"next": local})
    assert_only_escaped(page.text, local)
    dropped = client.get("/login", params={"next": payload})  # not a path on this site: not echoed at all
    assert payload not in dropped.text and escaped(payload) not in dropped.text
    data = {"phone": payload, "password": "wrong password", "csrf": page_csrf(client, "/login"), "next": payload}
    refused = client.post("/login", data=data)
    assert refused.status_code == 401
    assert_only_escaped(section(refused.text, "main"), payload)


def test_a_users_name_is_escaped_where_an_admin_sees_it(client: TestClient) -> None:
    people: People = client.app.state.people  # type: ignore[attr-defined]

    def call(fn: Any, *args: Any) -> Any:
        assert client.portal is not None
        return client.portal.call(fn, *args)

    stored = hash_password(PASSWORD)
    admin = call(people.create_user, "13900139000", stored, "管理员")
    call(people.grant, admin, Role.ADMIN, None)
    target = call(people.create_user, "13800138000", stored, SCRIPT)
    call(people.grant, target, Role.SELLER, admin)  # listed among the role holders too
    _, token = call(people.new_token, admin, "test")
    page = client.get("/admin/roles", params={"phone": "13800138000"}, headers={"authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert_only_escaped(page.text, SCRIPT)
    assert page.text.count(escaped(SCRIPT)) >= 2  # the account found and the list of sellers
