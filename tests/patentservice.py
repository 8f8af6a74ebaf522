"""A fake outside patent information service on 127.0.0.1, for the tests of ``HttpPatentSource``
and of the lookup routes configured with ``HALL_PATENT_SERVICE``.

It runs an asyncio server on a thread of its own (so a TestClient's app, on its own loop, can call
it as well as an async test can) and answers every request by its ``mode``: ``ok`` (the contract
of docs/api.md), ``slow`` (never answers), ``trickle`` (a byte at a time, forever), ``garbage``
(200 with HTML), ``huge`` (200 with more than ``MAX_ANSWER`` bytes), ``down`` (500). It records
the request targets it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from types import TracebackType
from typing import Any, Final

from hall.patents import MAX_ANSWER, check_digit

GOOD: Final[dict[str, Any]] = {
    "number": "ZL202110123456.7", "title": "一种锂离子电池健康状态在线估计方法", "holder": "南京大学",
    "grant_date": "2023-06-01", "ipc": "H01M 10/48", "legal_status": "有效", "abstract": "本发明涉及电池。",
    "application_date": "2021-01-04", "inventors": "王伟；李娜", "family": ["not", "read"],
}  # fmt: skip
"""A patent as the service describes it (an unknown field too, which the hall ignores)."""
BAD_DIGITS: Final = "202110654321"
BAD: Final[dict[str, Any]] = {**GOOD, "number": f"ZL{BAD_DIGITS}.{'1' if check_digit(BAD_DIGITS) == '0' else '0'}"}
"""One with a wrong check digit, which the hall leaves out."""
MODES: Final = ("ok", "slow", "trickle", "garbage", "huge", "down")


class FakeService:
    def __init__(self, mode: str) -> None:
        assert mode in MODES
        self.mode = mode
        self.targets: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def __enter__(self) -> FakeService:
        started = threading.Event()
        self.loop.call_soon(started.set)
        self._thread.start()
        started.wait(10)
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                self.targets.append(target)
                await self._answer(target, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, target: str, writer: asyncio.StreamWriter) -> None:
        if self.mode == "slow":
            await asyncio.Event().wait()
        if self.mode == "trickle":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.01)
        status, body = 200, b""
        if self.mode == "down":
            status, body = 500, b"Internal Server Error"
        elif self.mode == "garbage":
            body = b"<html><body>Service Unavailable</body></html>"
        elif self.mode == "huge":
            body = b'{"patents": [' + b" " * (MAX_ANSWER + 10) + b"]}"
        elif target.startswith("/api/search?"):
            body = json.dumps({"patents": [GOOD, BAD]}).encode()
        elif target == f"/api/patents/{GOOD['number']}":
            body = json.dumps({"patent": GOOD}).encode()
        else:
            status, body = 404, b'{"error": "no such patent"}'
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
        await writer.drain()
