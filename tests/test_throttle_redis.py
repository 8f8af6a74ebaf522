"""The login throttle on Redis (issue 15): every process of a hall counts into the same keys.

The rule's own tests run on both keepers in tests/test_auth.py; these pin what only Redis has:
two throttles on one Redis (two processes) see each other's failures, also when their guesses
arrive at once; the keys' names and expiry; and what a login does when Redis is unreachable or
stops answering (password login refused, code login unaffected). Each test runs a
``redis-server`` of its own (tests/rediskit.py); the throttles run on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hallkit import call, page_csrf, people, sms_code
from rediskit import RedisServer, redis_server
from redis.asyncio import Redis
from starlette.testclient import TestClient

from hall.auth.passwords import hash_password
from hall.auth.throttle import PHONE_LIMIT, WINDOW_MS, LoginThrottle, MemoryFailures, Unavailable
from hall.config import Config
from hall.store.throttle import PREFIX, RedisFailures
from hall.web.app import create_app

if TYPE_CHECKING:
    from conftest import FakeClock

pytestmark = pytest.mark.redis

PHONE = "13800138000"
ADDR = "203.0.113.7"
PASSWORD = "correct horse battery"
REFUSE_AFTER = PHONE_LIMIT.refuse_after


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server


@contextlib.asynccontextmanager
async def connected(server: RedisServer) -> AsyncIterator[Redis]:
    """A client of its own: what one process of the hall has."""
    client = Redis.from_url(server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def refused(throttle: LoginThrottle, phone: str = PHONE, address: str = ADDR) -> int | None:
    return (await throttle.attempt(phone, address)).verdict.refused_until


@pytest.mark.anyio
async def test_ten_guesses_split_across_two_processes_are_refused_like_ten_on_one(
    server: RedisServer, clock: FakeClock
) -> None:
    async with connected(server) as one, connected(server) as two:
        first, second = LoginThrottle(clock, RedisFailures(one)), LoginThrottle(clock, RedisFailures(two))
        start = clock.now
        for i in range(REFUSE_AFTER):  # every guess through the other process than the last
            assert await refused(first if i % 2 else second) is None
            clock.advance(1_000)
        assert await refused(first) == start + WINDOW_MS
        assert await refused(second) == start + WINDOW_MS


@pytest.mark.anyio
async def test_guesses_sent_at_once_through_two_processes_are_let_through_at_most_the_limit(
    server: RedisServer, clock: FakeClock
) -> None:
    """A check and a count in two round trips would let every guess of a burst pass the check
    before any was counted: each attempt reads and counts in one step, per key atomically."""
    async with connected(server) as one, connected(server) as two:
        throttles = (LoginThrottle(clock, RedisFailures(one)), LoginThrottle(clock, RedisFailures(two)))
        answers = await asyncio.gather(*(refused(throttles[i % 2]) for i in range(3 * REFUSE_AFTER)))
        assert answers.count(None) == REFUSE_AFTER
        # the refused ones were taken back: only the guesses let through stay counted
        assert await one.zcard(f"{PREFIX}phone:{PHONE}") == REFUSE_AFTER


@pytest.mark.anyio
async def test_failures_are_kept_per_phone_and_address_and_expire_a_window_after_the_newest(
    server: RedisServer, clock: FakeClock
) -> None:
    phone_key, address_key = f"hall:throttle:phone:{PHONE}", f"hall:throttle:addr:{ADDR}"
    async with connected(server) as client:
        throttle = LoginThrottle(clock, RedisFailures(client))
        await refused(throttle)
        for key in (phone_key, address_key):
            assert await client.zcard(key) == 1
            # by Redis's clock, whatever the throttle's says: an idle key vanishes on its own
            assert WINDOW_MS - 60_000 < await client.pttl(key) <= WINDOW_MS
        clock.advance(WINDOW_MS)  # the first failure leaves the window: the next add drops it
        await client.pexpire(phone_key, 1_000)  # about to vanish: the next failure pushes it out again
        right = await throttle.attempt(PHONE, ADDR)
        assert right.verdict == (0.0, None)
        assert await client.zcard(phone_key) == await client.zcard(address_key) == 1
        assert WINDOW_MS - 60_000 < await client.pttl(phone_key) <= WINDOW_MS
        await throttle.succeeded(right)
        assert await client.exists(phone_key, address_key) == 0
        assert await client.keys("*") == []


@pytest.mark.anyio
async def test_with_redis_down_password_attempts_fail_closed_and_take_backs_do_not_fail(
    server: RedisServer, clock: FakeClock
) -> None:
    async with connected(server) as client:
        throttle = LoginThrottle(clock, RedisFailures(client))
        for _ in range(REFUSE_AFTER):
            right = await throttle.attempt(PHONE, ADDR)
        server.kill()
        with pytest.raises(Unavailable):
            await throttle.attempt(PHONE, ADDR)
        with pytest.raises(Unavailable):
            await throttle.attempt("13900139000", "198.51.100.1")  # nobody's guesses get through
        await throttle.succeeded(right)  # the login or reset goes ahead; the count stays
        await throttle.proved(PHONE)
        server.start()
        assert await refused(throttle) is not None  # the failures survived, as counted


@pytest.mark.anyio
async def test_a_redis_that_stops_answering_refuses_attempts_within_the_timeout(
    server: RedisServer, clock: FakeClock
) -> None:
    assert server.process is not None
    async with connected(server) as client:
        throttle = LoginThrottle(clock, RedisFailures(client, timeout=0.2))
        assert await refused(throttle) is None
        server.process.send_signal(signal.SIGSTOP)  # a partition: connected, silent
        try:
            with pytest.raises(Unavailable):
                await throttle.attempt(PHONE, ADDR)
        finally:
            server.process.send_signal(signal.SIGCONT)


# ------------------------------------------------------------------------------ in the app


def test_password_login_answers_503_when_redis_is_down_and_code_login_still_works(
    client: TestClient, server: RedisServer, clock: FakeClock
) -> None:
    redis = Redis.from_url(server.url)
    client.app.state.codes.clock = clock  # type: ignore[attr-defined]
    client.app.state.throttle = LoginThrottle(clock, RedisFailures(redis))  # type: ignore[attr-defined]
    call(client, people(client).create_user, PHONE, hash_password(PASSWORD), "已有账户")
    assert client.post("/api/login", json={"phone": PHONE, "password": "a wrong one"}).status_code == 401
    server.kill()
    answer = client.post("/api/login", json={"phone": PHONE, "password": PASSWORD})
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "password_login_unavailable" and error["code_login"] == "/login/code"
    page = client.post("/login", data={"phone": PHONE, "password": PASSWORD, "csrf": page_csrf(client)})
    assert page.status_code == 503 and 'id="code-login-link"' in page.text
    client.post("/api/codes", json={"phone": PHONE, "purpose": "login"})
    by_code = client.post("/api/login", json={"phone": PHONE, "code": sms_code(client, PHONE, "login")})
    assert by_code.status_code == 200, by_code.text
    call(client, redis.aclose)


def test_a_hall_on_redis_counts_login_failures_in_redis_and_one_on_sqlite_in_memory(
    tmp_path: Path, server: RedisServer
) -> None:
    with TestClient(create_app(Config(db=str(tmp_path / "s.db")))) as alone:
        assert isinstance(alone.app.state.throttle.failures, MemoryFailures)  # type: ignore[attr-defined]
    with TestClient(create_app(Config(db=str(tmp_path / "r.db"), store=server.url))) as on_redis:
        assert isinstance(on_redis.app.state.throttle.failures, RedisFailures)  # type: ignore[attr-defined]
        assert on_redis.post("/api/login", json={"phone": PHONE, "password": "a guess"}).status_code == 401

    async def counted() -> int:
        async with connected(server) as client:
            return int(await client.zcard(f"hall:throttle:phone:{PHONE}"))

    assert asyncio.run(counted()) == 1
