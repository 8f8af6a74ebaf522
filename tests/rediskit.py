"""A ``redis-server`` of the test's own, with the persistence the hall demands.

The machine's Redis on 127.0.0.1:6379 keeps nothing on disk, so no test uses it: each
``RedisServer`` runs ``/usr/bin/redis-server`` on a free port of 127.0.0.1, in a temporary
folder, with ``appendonly yes`` and ``appendfsync always`` (an acknowledged write is on disk),
and stops it on the way out. ``kill`` SIGKILLs it and ``start`` starts it again on the same
folder and port, so a test can crash Redis itself and see what survived.

Tests marked ``redis`` are skipped when the server binary or the Python client is missing,
and fail instead when ``HALL_REQUIRE_REDIS=1`` (CI), so that a broken install cannot pass as
a green run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE = "HALL_REQUIRE_REDIS"
SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def unavailable() -> str | None:
    """Why the Redis tests cannot run here, or None when they can."""
    if not os.access(SERVER, os.X_OK):
        return "redis-server is missing (sudo apt-get install redis-server)"
    try:
        import redis  # noqa: F401  # only whether it imports
    except ImportError:
        return "the Python package redis is missing (make setup installs it)"
    return None


def require() -> None:
    """Skip the calling test when Redis cannot run, or fail it when it must."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process in ``folder`` on ``port``; ``durable=False`` runs it as the
    machine's runs (no AOF), for the tests of the refusal to run on such a Redis."""

    def __init__(self, folder: Path, *, durable: bool = True, port: int | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                       else ["--appendonly", "no"])  # fmt: skip
        self.process = subprocess.Popen(
            [SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", *persistence, "--daemonize", "no", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.folder / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def kill(self) -> None:
        """SIGKILL: what it acknowledged is in its append-only file, nothing else is kept."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


@contextlib.contextmanager
def redis_server(folder: Path, *, durable: bool = True) -> Iterator[RedisServer]:
    """A running ``RedisServer`` for a block (skipped or failed first when Redis cannot run)."""
    require()
    server = RedisServer(folder, durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop()
