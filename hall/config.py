"""Settings, read once from ``HALL_*`` environment variables (the CLI's flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@dataclass(frozen=True, kw_only=True)
class Config:
    db: str = field(default_factory=lambda: os.environ.get("HALL_DB", "var/hall.db"))
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
