"""The hall's server protocols: uvicorn's, with what the hall needs beneath ASGI.

``HallHttpProtocol`` (uvicorn's httptools protocol) closes a connection whose request head
has not fully arrived within ``HALL_HEADER_TIMEOUT`` seconds of its first byte (or of the
connection, for the first request). uvicorn has no such timer: a client that sends nothing,
or a header line every few seconds (slowloris), would hold its connection for ever, and
``HALL_MAX_CONNECTIONS`` of them make every route answer 503. Idle keep-alive connections
are closed by uvicorn's own ``timeout_keep_alive`` (``HALL_KEEP_ALIVE``).

``HallWebSocketProtocol`` is uvicorn's WebSocket sans-I/O protocol with a raw writer.

Through ASGI every outgoing message is one awaited ``send`` that frames it and makes one
``transport.write`` (one syscall): profiling the hall at 10,000 bids/s put a sixth of the
event loop's time in those writes alone, and fan-out multiplies them by the watchers. This
subclass offers the application, as the scope extension ``hall.wire``, the connection's
transport so a socket's sender can write every frame it has queued, already framed once for
all watchers (``hall.protocol.framed``), in a single write, wait for the transport to drain
when the peer reads slowly, and abort a peer that stopped reading altogether. Everything
else (handshake, pings, close, the frame size limit) is uvicorn's.

It also lets up to ``READ_AHEAD`` messages queue before it pauses reading: the base class
pauses the transport after every message and resumes it when the application takes it,
which costs two system calls per message for a client that pipelines.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

EXTENSION: Final = "hall.wire"
READ_AHEAD: Final = 32
"""Client messages queued for the application before reading pauses (backpressure)."""


class Wire:
    """What the application may do to the connection beneath ASGI."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: HallWebSocketProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        protocol = self._protocol
        return not (protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())

    async def drained(self) -> None:
        """Return once the transport's buffer is below its low-water mark (or the peer left)."""
        await self._protocol.writable.wait()

    def write(self, frames: bytes) -> None:
        """Write frames made by ``hall.protocol.framed``; nothing once the socket is closing."""
        if self.open:
            self._protocol.transport.write(frames)

    def try_write(self, frames: bytes) -> bool:
        """Write now if the transport is below its high-water mark; False: it is not, wait."""
        if not self._protocol.writable.is_set():
            return False
        self.write(frames)
        return True

    def abort(self) -> None:
        """Reset the connection: for a peer that reads nothing. Closing it would leave the
        kernel holding the unsent bytes, retrying them to a peer that never takes them;
        a zero linger time makes the close a reset, which frees them at once (as nginx's
        ``reset_timedout_connection`` does)."""
        transport = self._protocol.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


class HallWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][EXTENSION] = {"wire": Wire(self)}

    def send_receive_event_to_app(self) -> None:
        if not self.read_paused and self.queue.qsize() < READ_AHEAD:
            # The base class pauses whenever reading is not paused already; say it is.
            self.read_paused = True
            super().send_receive_event_to_app()
            self.read_paused = False
        else:
            super().send_receive_event_to_app()


def wire_of(scope: object) -> Wire | None:
    """The connection's ``Wire`` when the server is the hall's (not, e.g., a test client)."""
    extensions = scope.get("extensions") if isinstance(scope, dict) else None
    found = (extensions or {}).get(EXTENSION)
    return found["wire"] if found else None


REQUEST_TIMEOUT: Final = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n"
)


class HallHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline on each request head (see the module's
    docstring). ``header_timeout`` is set by ``http_protocol``."""

    header_timeout: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection: its head has the same time

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not in the middle of an answer
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def http_protocol(header_timeout: float) -> type[HallHttpProtocol]:
    """``HallHttpProtocol`` with this deadline on request heads (uvicorn makes the protocol
    from a class it is given, with its own arguments only)."""
    return type("HallHttpProtocol", (HallHttpProtocol,), {"header_timeout": header_timeout})
