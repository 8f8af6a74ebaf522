"""What this stack can do at all: a bare Starlette WebSocket app on uvicorn with the hall's own
server settings (``hall.config.uvicorn_settings``), to measure the hall against.

- ``/echo``: every text frame is sent straight back (``loadgen.py echo``).
- ``/broadcast`` + ``/publish``: each frame published is sent to every broadcast socket, each
  through its own queue and an ASGI sender task, and the publisher gets the frame back as its
  ack once it is queued everywhere (``loadgen.py broadcast``). No validation, no store, no
  encoding: the floor under a fan-out written the plain ASGI way.
- ``/broadcast-raw``: the same, but each frame is framed once and written straight to every
  socket through the hall's raw writer (``hall.web.wsserver``), with no queue and no task per
  socket (``loadgen.py broadcast --raw``): the floor under the hall's own fan-out.

    python bench/ceiling.py --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hall.config import Config, uvicorn_settings
from hall.protocol import framed
from hall.web.wsserver import Wire, wire_of

_listeners: set[asyncio.Queue[str]] = set()
_wires: set[Wire] = set()


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.send_text(await websocket.receive_text())


async def broadcast(websocket: WebSocket) -> None:
    await websocket.accept()
    queue: asyncio.Queue[str] = asyncio.Queue()
    _listeners.add(queue)

    async def sender() -> None:
        while True:
            await websocket.send_text(await queue.get())

    task = asyncio.get_running_loop().create_task(sender())
    try:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
    finally:
        _listeners.discard(queue)
        task.cancel()


async def broadcast_raw(websocket: WebSocket) -> None:
    wire = wire_of(websocket.scope)
    if wire is None:
        raise RuntimeError("run with hall.config.uvicorn_settings (the hall's WebSocket protocol)")
    await websocket.accept()
    _wires.add(wire)
    try:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
    finally:
        _wires.discard(wire)


async def publish(websocket: WebSocket) -> None:
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            for queue in _listeners:
                queue.put_nowait(text)
            if _wires:
                frame = framed(text)
                for wire in _wires:
                    wire.write(frame)
            await websocket.send_text(text)


app = Starlette(routes=[
    WebSocketRoute("/echo", echo), WebSocketRoute("/broadcast", broadcast),
    WebSocketRoute("/broadcast-raw", broadcast_raw), WebSocketRoute("/publish", publish),
])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    settings = uvicorn_settings(Config(host=args.host, port=args.port))
    settings["log_level"] = "warning"
    settings["log_config"] = uvicorn.config.LOGGING_CONFIG
    uvicorn.run(app, **settings)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
