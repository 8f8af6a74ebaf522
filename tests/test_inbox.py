"""The in-app inbox page: one's own messages only, newest first, escaped; marking read is a
CSRF-checked state change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from hall.config import Config
from hall.dispatch import Dispatcher
from hall.notify import enqueue
from hall.store import SqliteStore
from hall.store.people import People
from hall.web.app import create_app

UNREAD = "【未读】"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Config(db=str(tmp_path / "hall.db")))) as client:
        yield client


def _app(client: TestClient) -> Starlette:
    app = client.app
    assert isinstance(app, Starlette)
    return app


def account(client: TestClient, phone: str) -> int:
    people: People = _app(client).state.people
    assert client.portal is not None
    return client.portal.call(people.create_user, phone, "not-a-real-hash")


def sign_in(client: TestClient, user: int) -> str:
    """Sign ``user`` in by session cookie; returns the session's CSRF token."""
    app = _app(client)

    async def session() -> tuple[str, str]:
        people: People = app.state.people
        return await people.new_session(user)

    assert client.portal is not None
    session_id, csrf = client.portal.call(session)
    client.cookies.set("hall_session", app.state.keys.sign(session_id))
    return csrf


def deliver(client: TestClient, to: int, reason: str) -> int:
    """Enqueue an SMS to ``to`` and let the dispatcher put it in the inbox; its outbox id."""
    app = _app(client)
    store: SqliteStore = app.state.store
    dispatcher: Dispatcher = app.state.dispatcher

    async def run() -> int:
        async with store.transaction() as tx:
            outbox = await enqueue(tx, user=to, template="verification_rejected", reason=reason)
        await dispatcher.run_once()
        return outbox

    assert client.portal is not None
    return client.portal.call(run)


def unread_of(client: TestClient, user: int) -> int:
    store: SqliteStore = _app(client).state.store
    assert client.portal is not None
    row = client.portal.call(store.fetchone, "SELECT count(*) FROM inbox WHERE user = ? AND read_at IS NULL", (user,))
    assert row is not None
    return int(row[0])


def test_the_inbox_shows_only_the_users_own_messages_newest_first_and_escaped(client: TestClient) -> None:
    me, other = account(client, "13911110001"), account(client, "13911110002")
    deliver(client, me, "第一条原因")
    deliver(client, other, "别人的秘密")
    deliver(client, me, "<script>alert('x')</script>")
    sign_in(client, me)
    page = client.get("/inbox")
    assert page.status_code == 200
    text = page.text
    assert "别人的秘密" not in text
    assert "<script>alert" not in text and "&lt;script&gt;alert(" in text
    assert text.index("&lt;script&gt;") < text.index("第一条原因")  # newest first
    assert text.count(UNREAD) == 2


def test_the_inbox_is_for_signed_in_users_only(client: TestClient) -> None:
    response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=/inbox")


def test_marking_all_read_needs_the_csrf_token(client: TestClient) -> None:
    me, other = account(client, "13911110001"), account(client, "13911110002")
    deliver(client, me, "原因一")
    deliver(client, other, "原因二")
    csrf = sign_in(client, me)
    refused = client.post("/inbox", data={"csrf": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.post("/inbox", follow_redirects=False).status_code == 403
    assert unread_of(client, me) == 1
    done = client.post("/inbox", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    assert unread_of(client, me) == 0
    assert unread_of(client, other) == 1  # nobody else's messages change
    page = client.get("/inbox")
    assert UNREAD not in page.text and "原因一" in page.text


def test_marking_read_leaves_a_message_newer_than_the_page_unread(client: TestClient) -> None:
    me = account(client, "13911110001")
    deliver(client, me, "看到了的")
    csrf = sign_in(client, me)
    page = client.get("/inbox").text
    deliver(client, me, "页面之后到达的")
    upto = page.split('name="upto" value="', 1)[1].split('"', 1)[0]
    assert client.post("/inbox", data={"csrf": csrf, "upto": upto}, follow_redirects=False).status_code == 303
    assert unread_of(client, me) == 1
    assert client.get("/inbox").text.count(UNREAD) == 1
