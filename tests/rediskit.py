"""A ``redis-server`` of the test's own, with the persistence the hall demands.

The machine's Redis on 127.0.0.1:6379 keeps nothing on disk, so no test uses it: each
``RedisServer`` runs ``/usr/bin/redis-server`` on a free port of 127.0.0.1, in a temporary
folder, with ``appendonly yes``, ``appendfsync always`` (an acknowledged write is on disk) and
``aof-load-truncated no`` (a torn append-only file is refused, not half loaded: hall/store/
redis.py says why), and stops it on the way out. ``kill`` SIGKILLs it and ``start`` starts it
again on the same folder and port, so a test can crash Redis itself and see what survived.
When a kill tore the file, the start is refused, and ``start`` does what docs/durability.md
tells an operator to do: ``redis-check-aof --fix``, then start again (``repairs`` counts them).

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
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

REQUIRE = "HALL_REQUIRE_REDIS"
SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CHECK_AOF = shutil.which("redis-check-aof") or "/usr/bin/redis-check-aof"
TORN = "Unexpected end of file reading the append only file"
"""What redis-server logs before it exits, refusing an append-only file a crash cut short."""


def unavailable() -> str | None:
    """Why the Redis tests cannot run here, or None when they can."""
    if not os.access(SERVER, os.X_OK) or not os.access(CHECK_AOF, os.X_OK):
        return "redis-server or redis-check-aof is missing (sudo apt-get install redis-server)"
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


class Refused(RuntimeError):
    """redis-server exited as it started; ``log`` is what it logged meanwhile."""

    def __init__(self, log: str) -> None:
        super().__init__(f"redis-server exited: {log[-2000:]}")
        self.log = log


class RedisServer:
    """One ``redis-server`` process in ``folder`` on ``port``; ``durable=False`` runs it as the
    machine's runs (no AOF), for the tests of the refusal to run on such a Redis; ``options``
    (``--name value`` pairs) go after the persistence settings, and override them."""

    def __init__(self, folder: Path, *, durable: bool = True, port: int | None = None,
                 options: Sequence[str] = ()) -> None:  # fmt: skip
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.durable = durable
        self.options = list(options)
        self.process: subprocess.Popen[bytes] | None = None
        self.repairs = 0
        """Starts refused for a torn append-only file and repaired with redis-check-aof."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it, and answer PING; a start refused for a torn file is repaired and tried again."""
        try:
            self._start()
        except Refused as refused:
            if TORN not in refused.log:
                raise
            self.repair()
            self._start()

    def repair(self) -> None:
        """``redis-check-aof --fix`` on the folder's append-only file: cut it before the torn
        transaction (it asks for a yes)."""
        manifest = self.folder / "appendonlydir" / "appendonly.aof.manifest"
        fixed = subprocess.run([CHECK_AOF, "--fix", str(manifest)], input=b"y\n", capture_output=True, timeout=60,
                               check=False)  # fmt: skip
        if fixed.returncode != 0:
            raise RuntimeError(f"redis-check-aof --fix failed: {fixed.stdout.decode()[-2000:]}")
        self.repairs += 1

    def _start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always", "--aof-load-truncated", "no"] if self.durable
                       else ["--appendonly", "no"])  # fmt: skip
        log = self.folder / "redis.log"
        logged = log.stat().st_size if log.exists() else 0
        self.process = subprocess.Popen(
            [SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", *persistence, *self.options, "--daemonize", "no", "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise Refused(log.read_bytes()[logged:].decode(errors="replace"))
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
def redis_server(folder: Path, *, durable: bool = True, options: Sequence[str] = ()) -> Iterator[RedisServer]:
    """A running ``RedisServer`` for a block (skipped or failed first when Redis cannot run)."""
    require()
    server = RedisServer(folder, durable=durable, options=options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
