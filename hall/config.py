"""Settings, read once from ``HALL_*`` environment variables (the CLI's flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

BACKLOG: Final = 4096
"""Connections the kernel queues before the server accepts them: a thousand bidders connecting
at once must not be refused (uvicorn's socket, and ``hall serve --workers``' shared one)."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


@dataclass(frozen=True, kw_only=True)
class Config:
    db: str = field(default_factory=lambda: os.environ.get("HALL_DB", "var/hall.db"))
    store: str = field(default_factory=lambda: os.environ.get("HALL_STORE", ""))
    """Where the lots' journals live: empty for the SQLite file ``db`` alone, or a Redis URL
    (``redis://HOST:PORT/DB``) for Redis beside it (hall/store/redis.py, docs/durability.md)."""
    host: str = field(default_factory=lambda: os.environ.get("HALL_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: _env_int("HALL_PORT", 8000))
    max_batch: int = field(default_factory=lambda: _env_int("HALL_MAX_BATCH", 4096))
    """Most events one group commit takes."""
    secret: str = field(default_factory=lambda: os.environ.get("HALL_SECRET", ""))
    """Signs session cookies; when empty, a key made once and kept in the database is used."""
    files: str = field(default_factory=lambda: os.environ.get("HALL_FILES", ""))
    """Where uploads are kept, outside any web root; empty: a ``files`` folder beside the database."""
    snapshot_every: int = field(default_factory=lambda: _env_int("HALL_SNAPSHOT_EVERY", 1000))
    """A lot is snapshotted after this many events, bounding its replay at start."""
    ws_queue: int = field(default_factory=lambda: _env_int("HALL_WS_QUEUE", 1024))
    """Frames a socket may fall behind before it is dropped as too slow (close 1013)."""
    bid_rate: int = field(default_factory=lambda: _env_int("HALL_BID_RATE", 50))
    """Bids per second one socket may send, on average..."""
    bid_burst: int = field(default_factory=lambda: _env_int("HALL_BID_BURST", 100))
    """...and at once; beyond either, bids are refused ``rate_limited``."""
    max_connections: int = field(default_factory=lambda: _env_int("HALL_MAX_CONNECTIONS", 20000))
    """Open WebSockets beyond it are refused (1013), and uvicorn's ``limit_concurrency`` answers
    HTTP requests 503 beyond it: a flood of connections must not exhaust memory."""

    # issue 15: the hall on several processes (hall/cluster.py, docs/scaling.md)
    lease_ms: int = field(default_factory=lambda: _env_int("HALL_LEASE_MS", 3000))
    """How long a process owns a lot without renewing its lease: after a process dies, its lots
    are taken over within about this long (it renews every third of it)."""
    # accounts (issue 10): whose X-Forwarded-For is believed
    trusted_proxies: str = field(default_factory=lambda: os.environ.get("HALL_TRUSTED_PROXIES", ""))
    """Comma-separated addresses or CIDR networks of the reverse proxies in front of the hall;
    ``X-Forwarded-For`` is read only from them (``hall.auth.addresses``). Empty: from none."""
    # issue 10: hostile clients (server timeouts, PDF checks, upload quotas)
    header_timeout: float = field(default_factory=lambda: _env_float("HALL_HEADER_TIMEOUT", 10.0))
    """Seconds a request head may take to arrive; then the connection is closed (408)."""
    keep_alive: int = field(default_factory=lambda: _env_int("HALL_KEEP_ALIVE", 5))
    """Seconds an idle kept-alive connection stays open (uvicorn's ``timeout_keep_alive``)."""
    pdf_workers: int = field(default_factory=lambda: _env_int("HALL_PDF_WORKERS", 1))
    """Processes that check uploaded PDFs for active content, off the event loop."""
    pdf_seconds: float = field(default_factory=lambda: _env_float("HALL_PDF_SECONDS", 5.0))
    """Most seconds one PDF's check may take; a file that needs more is refused."""
    upload_files_per_hour: int = field(default_factory=lambda: _env_int("HALL_UPLOAD_FILES_PER_HOUR", 20))
    """Files one account may upload in any hour..."""
    upload_bytes_per_day: int = field(default_factory=lambda: _env_int("HALL_UPLOAD_BYTES_PER_DAY", 100 * 1024 * 1024))
    """...and bytes in any 24 hours; beyond either, 429 ``upload_quota``."""
    # issue 11: patent lookup (hall/patents.py)
    patent_service: str = field(default_factory=lambda: os.environ.get("HALL_PATENT_SERVICE", ""))
    """Base URL of an outside patent information service (docs/api.md, "The patent service");
    empty: lookups search the local catalogue (``hall patents import``)."""
    patent_timeout: float = field(default_factory=lambda: _env_float("HALL_PATENT_TIMEOUT", 3.0))
    """Seconds a call to the patent service may take in all; then the lookup says it timed out."""


def uvicorn_settings(config: Config) -> dict[str, object]:
    """The server settings the hall runs with (``hall serve``), and the ceiling benchmark too,
    so the two are measured on the same footing. See docs/protocol.md, "Limits"."""
    from hall.protocol import MAX_FRAME
    from hall.web.wsserver import HallWebSocketProtocol, http_protocol

    return {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop",
        "http": http_protocol(config.header_timeout),  # httptools, with a deadline on request heads
        "ws": HallWebSocketProtocol,  # uvicorn's websockets-sansio plus a raw writer (hall.web.wsserver)
        "ws_max_size": MAX_FRAME,  # a bigger client frame closes the socket with 1009
        "ws_ping_interval": 20.0,  # a peer that vanished without a FIN is found within 40 s
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,  # frames are ~100 bytes; compressing costs CPU per watcher
        "limit_concurrency": config.max_connections,
        "proxy_headers": False,  # X-Forwarded-For is read by the hall, from HALL_TRUSTED_PROXIES only
        "backlog": BACKLOG,
        "timeout_keep_alive": config.keep_alive,
        "log_config": None,  # hall.logs configures logging: JSON lines, tokens scrubbed
    }
