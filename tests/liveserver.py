"""A real hall server in a subprocess, and small clients for it, for the tests that go through
uvicorn, TCP and the WebSocket handshake instead of Starlette's in-process test client.

``start`` runs ``hall serve`` (the process itself, no shell in between, so that a signal sent
to ``Server.proc`` reaches uvicorn) on a free port of 127.0.0.1 and waits for ``/healthz``;
``running`` is the same as a context manager that always ends the process, whatever happened.
The server's log goes to a file whose tail is quoted when something fails. On Linux the
child also asks the kernel to kill it if the test process dies first, so that no server
outlives an interrupted run.

``Peer`` is a /ws connection through the ``websockets`` library that records every event it
receives; ``RawSocket`` is one made by hand over a socket with a tiny receive buffer, for a
client that stops reading and lets TCP back pressure build up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2 as httpx
from hallkit import seed_demo
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hall.protocol import client_framed

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0
RECV_TIMEOUT = 5.0

Frame = dict[str, Any]


# ---------------------------------------------------------------------- the server process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


try:
    _prctl: Callable[[int, int], int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Run in the child between fork and exec: have the kernel SIGKILL it when the thread that
    started it ends (the test run, unless it was started from a worker thread: see ``start``).
    The function was looked up in the parent, so the child only makes the system call."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Server:
    """A ``hall serve`` process on ``port``, logging to ``log``."""

    def __init__(self, db: Path, port: int, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.db = db
        self.port = port
        self.log = log
        self.proc = proc
        self.url = f"http://{HOST}:{port}"
        self.ws_url = f"ws://{HOST}:{port}/ws"

    def tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: the crash, no chance to clean up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), then SIGKILL if it takes too long."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def get(self, path: str) -> httpx.Response:
        return _http("GET", self.url + path)

    def get_json(self, path: str, token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        answer = _http("GET", self.url + path, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post_json(self, path: str, body: object, token: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return _http("POST", self.url + path, json=body, headers=headers)

    def login(self, phone: str, password: str) -> str:
        """A bearer token for the account (POST /api/login)."""
        answer = self.post_json("/api/login", {"phone": phone, "password": password})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    def metric(self, name: str) -> float:
        """A sample's value on /metrics (0 when the series has not appeared yet)."""
        page = self.get("/metrics")
        assert page.status_code == 200, page.text
        for line in page.text.splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return float(value)
        return 0.0

    def snapshot(self, lot: int) -> Frame:
        answer = self.get(f"/api/lots/{lot}")
        assert answer.status_code == 200, answer.text
        found: Frame = answer.json()
        return found

    def events(self, lot: int, since: int = 0, limit: int = 1000) -> list[Frame]:
        """Every durable event of ``lot`` after ``since``, following the API's pages."""
        found: list[Frame] = []
        cursor: int | None = since
        while cursor is not None:
            answer = self.get(f"/api/lots/{lot}/events?since={cursor}&limit={limit}")
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert page["lot"] == lot
            found.extend(page["events"])
            cursor = page["next"]
        return found


def start(db: Path, log: Path, env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT) -> Server:
    """Start ``hall serve`` on ``db`` and return once it answers /healthz (or raise, having
    ended the process). Call it from the main thread: the kernel ends the server when the
    thread that started it ends, and an executor's thread may end before the test does."""
    for _ in range(3):  # another process may take the free port before the server binds it
        server = _spawn(db, log, env)
        try:
            if _ready(server, timeout):
                return server
        except BaseException:
            server.kill()
            raise
    raise RuntimeError(f"hall serve found no free port:\n{server.tail()}")


def _spawn(db: Path, log: Path, env: Mapping[str, str] | None) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "hall.cli", "serve", "--db", str(db), "--host", HOST, "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509  # fmt: skip
    return Server(db, port, log, proc)


def _ready(server: Server, timeout: float) -> bool:
    """Wait for /healthz: True once it answers, False if the port was taken; raise otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            if "address already in use" in server.tail(5):
                return False
            raise RuntimeError(f"hall serve exited with {server.proc.returncode}:\n{server.tail()}")
        with contextlib.suppress(httpx.TransportError):
            if _http("GET", server.url + "/healthz", timeout=1.0).status_code == 200:
                return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"hall serve did not answer /healthz in {timeout} s:\n{server.tail()}")
        time.sleep(0.05)


def _http(method: str, url: str, timeout: float = HTTP_TIMEOUT, **options: Any) -> httpx.Response:
    """One request, never through a proxy the environment may name."""
    return httpx.request(method, url, timeout=timeout, trust_env=False, **options)


@contextlib.contextmanager
def running(db: Path, log: Path, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    server = start(db, log, env)
    try:
        yield server
    finally:
        server.stop()


def seed(db: Path, *, lots: int, bidders: int, duration: int = 3600) -> dict[str, Any]:
    """Live demo lots with every bidder admitted (``hall seed-demo --live``)."""
    return seed_demo(db, "--live", "--lots", str(lots), "--bidders", str(bidders), "--duration", str(duration))


class Live:
    """A seeded database and the server running on it; bidders' tokens made on first use."""

    def __init__(self, server: Server, seeded: dict[str, Any]) -> None:
        self.server = server
        self.lots: list[int] = seeded["lots"]
        self.bidders: list[dict[str, Any]] = seeded["bidders"]
        self.admins: list[dict[str, Any]] = seeded["admins"]
        """Demo admins: not verified, so they may apply for verification (upload a document)."""
        self._tokens: dict[int, str] = {}

    def token(self, bidder: int = 0) -> str:
        if bidder not in self._tokens:
            account = self.bidders[bidder]
            self._tokens[bidder] = self.server.login(account["phone"], account["password"])
        return self._tokens[bidder]


@contextlib.contextmanager
def live(directory: Path, *, lots: int, bidders: int, env: Mapping[str, str] | None = None) -> Iterator[Live]:
    """Seed a database in ``directory`` and run a server on it for the block."""
    db = directory / "hall.db"
    seeded = seed(db, lots=lots, bidders=bidders)
    with running(db, directory / "server.log", env) as server:
        yield Live(server, seeded)


# ---------------------------------------------------------------------- a WebSocket client


class Peer:
    """One /ws connection: frames as dicts, every event received kept by lot, in order."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.events: dict[int, list[Frame]] = {}
        self.frames: list[Frame] = []
        self.raw_bytes: list[int] = []
        """The size of each frame received, as sent."""

    async def send(self, frame: Frame) -> None:
        await self.conn.send(json.dumps(frame))

    async def send_raw(self, text: str) -> None:
        await self.conn.send(text)

    async def recv(self, timeout: float = RECV_TIMEOUT) -> Frame:
        text = await asyncio.wait_for(self.conn.recv(), timeout)
        frame: Frame = json.loads(text)
        self.raw_bytes.append(len(text.encode()) if isinstance(text, str) else len(text))
        self.frames.append(frame)
        if frame.get("type") == "event":
            self.events.setdefault(frame["lot"], []).append(frame)
        return frame

    async def until(self, wanted: Callable[[Frame], bool], timeout: float = RECV_TIMEOUT) -> Frame:
        """The next frame ``wanted`` accepts, the ones before it recorded and passed over."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no wanted frame in {timeout} s; last frames: {self.frames[-5:]}")
            frame = await self.recv(left)
            if wanted(frame):
                return frame

    async def expect(self, kind: str, timeout: float = RECV_TIMEOUT, **fields: object) -> Frame:
        """The next frame of ``type`` ``kind`` whose fields have these values."""
        return await self.until(lambda f: f.get("type") == kind and all(f.get(k) == v for k, v in fields.items()),
                                timeout)  # fmt: skip

    async def closed(self, timeout: float = RECV_TIMEOUT) -> ConnectionClosed:
        """Read until the server closes the connection; the closing exception."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.recv(timeout)
        except ConnectionClosed as exc:
            return exc


def ws_uri(server: Server, token: str | None = None) -> str:
    return server.ws_url + (f"?token={token}" if token else "")


@contextlib.asynccontextmanager
async def peer(server: Server, token: str | None = None, **options: Any) -> AsyncIterator[Peer]:
    """A connected Peer (``token`` as ``?token=``), closed on the way out. ``options`` go to
    ``websockets.asyncio.client.connect`` (``additional_headers``, ``origin``...)."""
    options = {"proxy": None, "open_timeout": RECV_TIMEOUT, "close_timeout": 2.0, "ping_interval": None,
               "compression": None, "max_size": 2**22, **options}  # fmt: skip
    async with connect(ws_uri(server, token), **options) as conn:
        yield Peer(conn)


# ---------------------------------------------------------------------- a client that stops reading


class RawSocket:
    """A /ws connection over a blocking socket that, after the handshake, only writes until
    told to ``drain``, so that what the server sends piles up in the TCP buffers between them
    until the server's sender has to wait. The socket advertises the smallest receive window
    the kernel allows and a small segment size (set before connecting, so that the handshake
    announces them): the server's kernel sizes its send buffer from the segment size, and on
    loopback the buffers then hold about a hundred KiB instead of megabytes, which a test
    fills with a few hundred events."""

    SEGMENT = 536
    """The IPv4 default MSS (RFC 879); loopback's own is 65483."""

    def __init__(self, server: Server, rcvbuf: int = 1024, maxseg: int = SEGMENT) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
        self.sock.settimeout(RECV_TIMEOUT)
        self.sock.connect((HOST, server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws HTTP/1.1\r\nHost: {HOST}:{server.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status!r}")

    def send_json(self, frame: Frame) -> None:
        self.sock.sendall(client_framed(json.dumps(frame).encode(), mask=os.urandom(4)))

    def drain(self, timeout: float) -> tuple[list[Frame], int | None]:
        """Read everything until the server ends the connection: the text frames read and the
        close code (None when the connection ended without a close frame)."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        data = self.buffer
        ended = False
        while not ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the server did not end the connection in {timeout} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except TimeoutError:
                raise TimeoutError(f"the server did not end the connection in {timeout} s") from None
            ended = not chunk
            data += chunk
            while len(data) >= 2:
                opcode, n, start = data[0] & 0x0F, data[1] & 0x7F, 2
                if n == 126:
                    if len(data) < 4:
                        break
                    n, start = struct.unpack("!H", data[2:4])[0], 4
                elif n == 127:
                    if len(data) < 10:
                        break
                    n, start = struct.unpack("!Q", data[2:10])[0], 10
                if len(data) < start + n:
                    break
                payload, data = data[start:start + n], data[start + n:]
                if opcode == 0x1:
                    frames.append(json.loads(payload))
                elif opcode == 0x8:
                    return frames, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        return frames, None

    def close(self) -> None:
        self.sock.close()
