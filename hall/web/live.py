"""The hall's WebSocket, ``/ws``: identity and origin checks at the upgrade.

The message protocol itself (subscribe, bid, command) is the live-hall issue's; what is here
is who is on the socket, decided before it is accepted.
"""

from __future__ import annotations

import msgspec
from starlette.routing import WebSocketRoute
from starlette.status import WS_1008_POLICY_VIOLATION
from starlette.websockets import WebSocket

from hall.auth.roles import Identity
from hall.web.accounts import identity_json


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    user: dict[str, object] | None


_encoder = msgspec.json.Encoder()


async def ws(websocket: WebSocket) -> None:
    if not websocket.state.origin_ok:
        # A cookie rides along on any page's socket: only the hall's own pages may use it.
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    await websocket.accept()
    identity: Identity | None = websocket.state.identity
    await websocket.send_text(_encoder.encode(Welcome(user=identity_json(identity) if identity else None)).decode())
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


routes = [WebSocketRoute("/ws", ws, name="ws")]
