"""Shared fixtures. Async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from hall.config import Config
from hall.web import accounts
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


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The login delays asked for, recorded instead of slept (only in hall.web.accounts)."""
    asked: list[float] = []

    class NoSleep:
        """asyncio as hall.web.accounts sees it, but for sleep."""

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        async def sleep(self, seconds: float) -> None:
            asked.append(seconds)

    monkeypatch.setattr(accounts, "asyncio", NoSleep())
    return asked
