"""The in-app inbox: the messages the dispatcher delivered to the signed-in user (``/inbox``).

GET lists them newest first, unread ones marked; POST (a state change, so CSRF-checked by
``route``) marks them read — those up to the newest one the page showed, so that a message
arriving between reading the page and pressing the button stays unread.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hall.auth.roles import Identity
from hall.runtime import wall_clock
from hall.store.sqlite import SqliteStore
from hall.web.params import ID_MAX, whole
from hall.web.security import route
from hall.web.templating import render

SHOWN: Final = 200
"""The newest this many messages are listed."""


def _store(request: Request) -> SqliteStore:
    store: SqliteStore = request.app.state.store
    return store


async def inbox(request: Request) -> Response:
    me: Identity = request.state.identity
    store = _store(request)
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=8)
        upto = whole(form.get("upto"), "upto", default=ID_MAX)
        async with store.transaction() as tx:
            await tx.execute(
                "UPDATE inbox SET read_at = ? WHERE user = ? AND read_at IS NULL AND id <= ?",
                (wall_clock(), me.id, upto),
            )
        return RedirectResponse("/inbox", status_code=303)
    rows = await store.fetchall(
        "SELECT id, body, created_at, read_at FROM inbox WHERE user = ? ORDER BY id DESC LIMIT ?", (me.id, SHOWN)
    )
    messages = [{"id": r[0], "body": r[1], "created_at": r[2], "unread": r[3] is None} for r in rows]
    unread = await store.fetchone("SELECT count(*) FROM inbox WHERE user = ? AND read_at IS NULL", (me.id,))
    return render(request, "inbox.html", messages=messages, unread=unread[0] if unread else 0,
                  upto=messages[0]["id"] if messages else 0)  # fmt: skip


routes = [route("/inbox", inbox, name="inbox", methods=("GET", "POST"))]
