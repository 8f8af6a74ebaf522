"""A minimal WebSocket client for load generation: thousands of connections in one process.

A general client (the ``websockets`` library's) spends tens of microseconds per message on
its machinery; with 5,000 watchers on the same two cores as the server that would measure
the client, not the hall. This one is an ``asyncio.Protocol`` that does the upgrade, parses
unfragmented server frames (text, close, ping) and hands each text payload to a callback
synchronously. Client frames use an all-zero masking key: allowed by RFC 6455 (the server must
unmask whatever key it gets) and it turns masking into a no-op, which a browser would not do
but which costs the server exactly the same.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable

from hall.protocol import client_framed

OnText = Callable[[bytes], None]


class Closed(Exception):
    pass


class Client(asyncio.Protocol):
    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.paused = False

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not asyncio's class

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(Closed(status.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
        pos, size = 0, len(buffer)
        on_text = self.on_text
        while size - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            n = b1 & 0x7F
            start = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buffer[pos + 2] << 8) | buffer[pos + 3]
                start = pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = struct.unpack_from("!Q", buffer, pos + 2)[0]
                start = pos + 10
            end = start + n
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1 or opcode == 0x2:
                on_text(bytes(buffer[start:end]))
            elif opcode == 0x8:
                code = struct.unpack_from("!H", buffer, start)[0] if n >= 2 else 1005
                self._close(code)
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(client_framed(bytes(buffer[start:end]), 0xA))
            pos = end
        del buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(Closed("connection lost during upgrade"))
        if not self.closed.done():
            self.closed.set_result(1006)

    def _close(self, code: int) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ use

    def send(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(client_framed(payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_framed(struct.pack("!H", 1000), 0x8))
            self.transport.close()


async def connect(host: str, port: int, path: str, on_text: OnText, headers: dict[str, str] | None = None) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(on_text), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]  # fmt: skip
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    assert client.transport is not None
    client.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await client.upgraded
    return client
