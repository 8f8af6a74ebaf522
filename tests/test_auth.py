"""`hall.auth` as pure units: password hashing, the login throttle, phone normalisation.

No app, no database: the throttle runs on a fake clock, its rule on each keeper of the failures
(memory, and a Redis of the test's own), the hasher on real argon2 (each hash is ~50 ms, so
hashes are few).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import argon2
import pytest
from rediskit import redis_server

from hall.auth import passwords
from hall.auth.addresses import client_address, parse_networks
from hall.auth.passwords import hash_password, needs_rehash, verify_password
from hall.auth.throttle import (
    ADDRESS_LIMIT, MAX_DELAY_S, PHONE_LIMIT, WINDOW_MS, LoginThrottle, MemoryFailures, Verdict,
)  # fmt: skip
from hall.web.accounts import normalise_phone

if TYPE_CHECKING:
    from conftest import FakeClock

PHONE = "13800138000"
OTHER = "13900139000"
ADDR = "203.0.113.7"
SLOW_AFTER, REFUSE_AFTER = PHONE_LIMIT

# ---------------------------------------------------------------------------------- passwords

_ARGON2_HASH = re.compile(r"^\$(?P<type>argon2(?:id|i|d))\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$")


def test_password_hash_is_argon2id_with_at_least_19_mib_and_2_passes() -> None:
    stored = hash_password("correct horse battery staple")
    found = _ARGON2_HASH.match(stored)
    assert found is not None, stored
    assert found["type"] == "argon2id"
    assert int(found["v"]) == 19  # argon2 version 1.3
    assert int(found["m"]) >= 19 * 1024  # KiB
    assert int(found["t"]) >= 2
    assert int(found["p"]) >= 1
    assert not needs_rehash(stored)


def test_password_hashes_are_salted() -> None:
    assert hash_password("same password") != hash_password("same password")


def test_verify_password_accepts_the_right_password_and_refuses_a_wrong_one() -> None:
    stored = hash_password("right password")
    assert verify_password(stored, "right password")
    assert not verify_password(stored, "wrong password")
    assert not verify_password(stored, "")


def test_verify_password_refuses_a_corrupt_stored_hash() -> None:
    assert not verify_password("not an argon2 hash", "anything")
    assert not verify_password("$argon2id$v=19$m=19456,t=2,p=1$garbage", "anything")


class _SpyHasher:
    """Wraps the real hasher and records what each verify was checked against."""

    def __init__(self, real: argon2.PasswordHasher) -> None:
        self.real = real
        self.verified_against: list[str] = []

    def verify(self, stored: str, password: str) -> bool:
        self.verified_against.append(stored)
        return self.real.verify(stored, password)


def test_verify_password_with_no_account_runs_a_real_verify_against_the_dummy(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _SpyHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    assert verify_password(None, "whatever was typed") is False
    # a miss costs what a hit costs: one full argon2 verify, against the dummy hash
    assert spy.verified_against == [passwords._DUMMY]


def test_verify_password_with_no_account_is_false_even_for_the_dummys_own_password() -> None:
    # the dummy hash is of this exact string: matching it must never sign anyone in
    assert verify_password(None, "not a password anyone has") is False


# ---------------------------------------------------------------------------------- throttle


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def throttle(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> AsyncIterator[LoginThrottle]:
    """The rule on each keeper of the failures: the process's memory, and a Redis of the test's
    own (``RedisFailures``, as every process of a hall on Redis has it)."""
    if request.param == "memory":
        yield LoginThrottle(clock)
        return
    from redis.asyncio import Redis

    from hall.store.throttle import RedisFailures

    with redis_server(tmp_path) as server:
        client = Redis.from_url(server.url)
        try:
            yield LoginThrottle(clock, RedisFailures(client))
        finally:
            await client.aclose()


async def verdict(throttle: LoginThrottle, phone: str = PHONE, address: str = ADDR) -> Verdict:
    return (await throttle.attempt(phone, address)).verdict


async def fail(throttle: LoginThrottle, times: int, phone: str = PHONE, address: str = ADDR) -> None:
    """``times`` wrong passwords, each let through and counted."""
    for _ in range(times):
        assert (await verdict(throttle, phone, address)).refused_until is None


@pytest.mark.anyio
async def test_throttle_lets_the_first_failures_through_undelayed(throttle: LoginThrottle) -> None:
    for _ in range(SLOW_AFTER):
        assert await verdict(throttle) == (0.0, None)


@pytest.mark.anyio
async def test_throttle_slows_from_the_nth_failure_more_each_time_up_to_a_cap(throttle: LoginThrottle) -> None:
    await fail(throttle, SLOW_AFTER)
    delays = []
    for _ in range(SLOW_AFTER, REFUSE_AFTER):
        delay, refused_until = await verdict(throttle)
        assert refused_until is None
        delays.append(delay)
    assert delays[0] > 0
    assert delays == sorted(delays)
    assert delays[1] > delays[0]
    assert max(delays) <= MAX_DELAY_S


@pytest.mark.anyio
async def test_throttle_refuses_from_the_mth_failure_until_the_first_leaves_the_window(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    first = clock.now
    await fail(throttle, 1)
    clock.advance(1_000)
    await fail(throttle, REFUSE_AFTER - 1)  # the last of them one short: slowed, not refused
    delay, refused_until = await verdict(throttle)
    assert refused_until == first + WINDOW_MS
    assert delay == 0.0


@pytest.mark.anyio
async def test_throttle_refused_attempts_do_not_extend_the_refusal(throttle: LoginThrottle, clock: FakeClock) -> None:
    for _ in range(REFUSE_AFTER):
        await fail(throttle, 1)
        clock.advance(1_000)
    _, refused_until = await verdict(throttle)
    assert refused_until is not None
    for _ in range(50):  # hammering while refused changes nothing
        clock.advance(10_000)
        if clock.now >= refused_until:
            break
        assert (await verdict(throttle)).refused_until == refused_until
    clock.now = refused_until
    delay, still = await verdict(throttle)
    assert still is None  # waiting out the window always works
    assert delay > 0  # the other failures are still recent: slowed, not free


@pytest.mark.anyio
async def test_throttle_forgets_failures_older_than_the_window(throttle: LoginThrottle, clock: FakeClock) -> None:
    await fail(throttle, REFUSE_AFTER)
    clock.advance(WINDOW_MS - 1)
    assert (await verdict(throttle)).refused_until is not None
    clock.advance(1)
    assert await verdict(throttle) == (0.0, None)


@pytest.mark.anyio
async def test_throttle_refuses_a_phone_from_everywhere_but_an_address_only_far_above_the_phone_limit(
    throttle: LoginThrottle,
) -> None:
    """One person's failures (a phone) and an institution's (one NAT address) are different
    things: guesses at one phone are refused from any address, while an address is refused only
    after many times the per-phone number of failures, spread over many phones."""
    assert ADDRESS_LIMIT.slow_after >= 10 * PHONE_LIMIT.slow_after
    assert ADDRESS_LIMIT.refuse_after >= 10 * PHONE_LIMIT.refuse_after
    await fail(throttle, REFUSE_AFTER)
    elsewhere = await verdict(throttle, PHONE, "198.51.100.1")
    assert elsewhere.refused_until is not None  # the same phone, from elsewhere
    # a NAT gateway: its members' failures, a few each at many phones, stay below the address limit
    for i in range(ADDRESS_LIMIT.refuse_after - REFUSE_AFTER - 1):
        await fail(throttle, 1, f"139{i // 2:08d}")
    await fail(throttle, 1, OTHER)  # the last one the address is let through...
    assert (await verdict(throttle, "13700137000")).refused_until is not None  # ...now spraying: refused
    assert await verdict(throttle, OTHER, "198.51.100.1") == (0.0, None)  # and nowhere else


@pytest.mark.anyio
async def test_throttle_success_clears_the_phone_count_but_not_the_address_count(throttle: LoginThrottle) -> None:
    for i in range(ADDRESS_LIMIT.refuse_after - REFUSE_AFTER):
        await fail(throttle, 1, f"139{i // 2:08d}")
    await fail(throttle, REFUSE_AFTER - 2)  # the address is 2 short of its limit
    # an attempt is counted as failed before the password is checked, and taken back when right
    right = await throttle.attempt(PHONE, ADDR)
    await throttle.succeeded(right)
    assert await verdict(throttle, PHONE, "198.51.100.1") == (0.0, None)
    # one good account must not launder guesses at others from the same address: the address
    # keeps its earlier failures, so after two more guesses at any phone it is refused
    await fail(throttle, 2, "13700137000")
    assert (await verdict(throttle, "13700137000")).refused_until is not None


@pytest.mark.anyio
async def test_throttle_forgets_a_proved_phones_failures(throttle: LoginThrottle) -> None:
    await fail(throttle, REFUSE_AFTER)
    await throttle.proved(PHONE)  # a password reset by SMS code
    assert await verdict(throttle, PHONE, "198.51.100.1") == (0.0, None)


@pytest.mark.anyio
async def test_throttle_in_memory_does_not_keep_keys_that_are_never_tried_again(clock: FakeClock) -> None:
    """In memory, the counters live for as long as the server runs: failures at phones and
    from addresses that never come back must be dropped once they leave the window, or anyone
    with many addresses can grow the table without bound. (In Redis, keys expire: see
    tests/test_throttle_redis.py.)"""
    failures = MemoryFailures()
    throttle = LoginThrottle(clock, failures)
    for i in range(1_000):
        await fail(throttle, 1, f"139{i:08d}", f"2001:db8::{i:x}")
    clock.advance(2 * WINDOW_MS)
    await fail(throttle, 1)
    assert set(failures._times) == {f"phone:{PHONE}", f"addr:{ADDR}"}, f"{len(failures._times)} keys kept"


# ---------------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "raw",
    ["13800138000", "+86 138 0013 8000", "+8613800138000", "8613800138000", "0086 138-0013-8000", " 138 0013 8000 "],
)
def test_phone_normalisation_accepts_a_mainland_mobile_number(raw: str) -> None:
    assert normalise_phone(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw",
    [
        "12800138000",  # no mobile prefix starts 12
        "10800138000",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "+86 1380013800",
        "1380013800a",
        "abcdefghijk",
        "138OO138OOO",  # letters O for zeros
        "",
        "+1 415 555 0100",
    ],
)
def test_phone_normalisation_refuses_what_is_not_a_mainland_mobile_number(raw: str) -> None:
    assert normalise_phone(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["13８００１３８０００", "13٨٠٠١٣٨٠٠٠", "13৮০০১৩৮০০০"],
    ids=["fullwidth", "arabic-indic", "bengali"],
)
def test_phone_normalisation_never_returns_non_ascii_digits(raw: str) -> None:
    """Full-width or other-script digits must not make a second account for the same number
    (AC-1: one account per phone) nor a number the SMS gateway cannot dial."""
    assert normalise_phone(raw) in (None, "13800138000")


# ---------------------------------------------------------------------------------- client addresses

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.1, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # not a proxy: its header is its own claim
        ("10.1.2.3", [], "10.1.2.3"),  # a proxy that sent no header
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),  # the left entry is the client's claim
        ("10.1.2.3", ["1.1.1.1", "198.51.100.1, 192.168.1.1"], "198.51.100.1"),  # past a chain of proxies
        ("10.1.2.3", ["192.168.1.1, 10.9.9.9"], "192.168.1.1"),  # all trusted: the outermost
        ("10.1.2.3", ["not-an-ip, 10.9.9.9"], "10.9.9.9"),  # stops at what no proxy wrote
        ("10.1.2.3", [" 198.51.100.1 "], "198.51.100.1"),
        ("2001:db8::1", ["2001:db9::5"], "2001:db9::5"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # IPv4 seen over an IPv6 socket
        ("testclient", ["198.51.100.1"], "testclient"),  # not an address at all: as it is
        (None, ["198.51.100.1"], "?"),
    ],
)
def test_client_address_believes_x_forwarded_for_only_from_trusted_proxies(
    peer: str | None, headers: list[str], expected: str
) -> None:
    assert client_address(peer, headers, PROXIES) == expected


def test_client_address_with_no_trusted_proxies_is_the_peer_whatever_the_header() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_client_address_looks_at_a_bounded_number_of_hops() -> None:
    hops = ", ".join(["10.0.0.1"] * 10_000)
    assert client_address("10.1.2.3", [hops], PROXIES) == "10.0.0.1"


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks(" 10.0.0.1 ,192.168.0.0/16,,::1")] == ["10.0.0.1/32", "192.168.0.0/16", "::1/128"]
    with pytest.raises(ValueError, match="proxy.example"):
        parse_networks("10.0.0.1, proxy.example")
