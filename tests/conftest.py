"""Shared fixtures. Async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hall.config import Config
from hall.web.app import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, now: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00Z
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The whole app on a fresh database, lifespan running."""
    with TestClient(create_app(Config(db=str(tmp_path / "h.db")))) as client:
        yield client
