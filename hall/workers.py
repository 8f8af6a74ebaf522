"""``hall serve --workers N``: N server processes sharing one listening socket.

One Python process runs on one core, so a hall on Redis may run several (hall/cluster.py
makes them one hall). This parent binds the socket once and starts each worker as
``hall serve --fd FD``, which serves on the inherited socket: the kernel spreads new
connections over the processes accepting on it. The parent only watches: a worker that exits
while the hall is not stopping is started again (its lots were taken over by the others
within the lease meanwhile, and some are handed back to it once it is up); SIGTERM or SIGINT
is passed on to every worker, which shut down as a single ``hall serve`` does.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Final

from hall.config import BACKLOG

log = logging.getLogger(__name__)

RESTART_S: Final = 1.0
"""How long the parent waits before starting a worker that exited again."""
STOP_S: Final = 15.0
"""How long workers may take to shut down before they are killed."""


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def supervise(workers: int, host: str, port: int, args: Sequence[str]) -> int:
    """Run ``workers`` workers (``hall serve --fd FD`` plus ``args``) until SIGTERM or SIGINT."""
    sock = listen(host, port)
    fd = sock.fileno()
    command = [sys.executable, "-m", "hall.cli", "serve", "--fd", str(fd), *args]
    stopping = False

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, pass_fds=(fd,))

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    children = [start() for _ in range(workers)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("hall on %d workers at %s:%d", workers, host, port, extra={"code": "workers"})
    while not stopping:
        time.sleep(0.2)
        for n, child in enumerate(children):
            if child.poll() is not None and not stopping:
                log.warning("worker %d (pid %d) exited with %s; starting it again", n, child.pid, child.returncode)
                time.sleep(RESTART_S)
                children[n] = start()
    deadline = time.monotonic() + STOP_S
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    sock.close()
    return 0
