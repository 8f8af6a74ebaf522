"""Shared fixtures. Async tests run on asyncio through anyio's pytest plugin; tests marked
``browser`` drive Chromium (tests/browserkit.py), skipped when it is missing unless
HALL_REQUIRE_BROWSER=1; tests marked ``redis`` run servers of their own (tests/rediskit.py), skipped
without ``redis-server`` unless HALL_REQUIRE_REDIS=1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import browserkit
import pytest
import rediskit
from starlette.testclient import TestClient

from hall.config import Config
from hall.web import accounts
from hall.web.app import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser


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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is not None:
        browserkit.require()
    if item.get_closest_marker("redis") is not None:
        rediskit.require()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """The system's Chromium through Playwright, one per module: Playwright's sync API holds
    the thread's event loop while it runs, which the anyio tests of other modules need."""
    with browserkit.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browserkit.DemoHall]:
    """``hall serve`` on a fresh ``hall seed-demo`` database (browserkit.DEMO_ARGS), shared by
    the module's tests."""
    with browserkit.demo_hall(tmp_path_factory.mktemp("demo")) as found:
        yield found
