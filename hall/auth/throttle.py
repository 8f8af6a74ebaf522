"""Slowing and then refusing repeated failed password logins, per phone and per address.

The same counters apply whether the phone exists or not, so the answers reveal nothing.

Only password guessing is throttled here. A refusal never locks the owner out: login by SMS
code (``hall/auth/codes.py``) is bounded by its own rules and passes this throttle by, and the
refusal says so. The per-address threshold is far above the per-phone one, so that a whole
institution behind one NAT gateway is not refused for its members' typos (docs/permissions.md
explains the numbers).

The rule and the keeping of the failure times are apart. ``judge`` and ``LoginThrottle`` are
the rule, the one copy of it: which counters, what their recent failures mean, what a success
or a proof takes back. A ``Failures`` keeps the times: ``MemoryFailures`` in the process (a hall
on SQLite is one process, and a restart forgetting failures is acceptable), or
``hall.store.throttle.RedisFailures`` in Redis, where every process of a hall on Redis counts
into the same sets: behind a load balancer, N processes with counters of their own would give
an attacker N times the guesses.

An attempt is counted as a failure *before* its password is checked, in the same step that
reads the counters (``Failures.add``): a check and a count in two steps, with a round trip to
Redis between them, would let guesses sent at once all pass the check before any is counted.

``TokenBucket``, the bid rate of one WebSocket, is not shared: a socket lives in one process,
so its bucket does too, and a client opening more sockets is bounded by the connection limits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, Protocol

log = logging.getLogger(__name__)

WINDOW_MS = 15 * 60_000
"""Failures older than this are forgotten."""
MAX_DELAY_S = 4.0


class Limit(NamedTuple):
    slow_after: int
    """From this many failures on, each attempt is delayed, more every time..."""
    refuse_after: int
    """...and from this many, refused (429) until the oldest failure leaves the window."""


PHONE_LIMIT: Final = Limit(slow_after=3, refuse_after=10)
"""Guesses at one phone's password, from anywhere."""
ADDRESS_LIMIT: Final = Limit(slow_after=100, refuse_after=300)
"""Failures from one client address, at any phones: spraying, not a busy NAT gateway."""


class Verdict(NamedTuple):
    delay: float
    """Seconds to delay this attempt."""
    refused_until: int | None
    """Epoch ms until which attempts are refused, or None."""


def judge(phone_times: Sequence[int], address_times: Sequence[int]) -> Verdict:
    """What to do with a password attempt, given the times (epoch ms, oldest first, all within
    the window) of the failures counted before it at its phone and from its address: the worse
    of the two counters decides."""
    delay, refused_until = 0.0, None
    for times, limit in ((phone_times, PHONE_LIMIT), (address_times, ADDRESS_LIMIT)):
        if len(times) >= limit.refuse_after:
            # refused until enough of the failures have aged out of the window
            until = times[len(times) - limit.refuse_after] + WINDOW_MS
            refused_until = max(refused_until or 0, until)
        elif len(times) >= limit.slow_after:
            delay = max(delay, min(0.25 * 2 ** (len(times) - limit.slow_after), MAX_DELAY_S))
    return Verdict(0.0, refused_until) if refused_until is not None else Verdict(delay, None)


def _phone_key(phone: str) -> str:
    return f"phone:{phone}"


def _address_key(address: str) -> str:
    return f"addr:{address}"


class Unavailable(Exception):
    """The failure times cannot be read or counted (Redis is unreachable or too slow)."""


class Failures(Protocol):
    """Where the failure times are kept, by key, each failure under a mark of its own."""

    async def add(self, keys: Sequence[str], now: int, mark: str) -> list[list[int]]:
        """Forget each key's failures at or before ``now - WINDOW_MS``, then count a failure at
        ``now`` marked ``mark`` under every key; answer each key's times from before it, oldest
        first. Atomic per key: of two adds to a key, the later one sees the earlier.
        ``Unavailable`` when nothing could be counted."""
        ...

    async def forget(self, what: Mapping[str, str | None]) -> None:
        """Per key, take back the failure of that mark, or (None) every failure of the key."""
        ...


@dataclass
class MemoryFailures:
    """The failure times in this process's memory: a hall of one process."""

    _times: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    _swept_at: int = 0
    """Keys whose failures have all expired are dropped at most once per window: O(1) amortised."""

    async def add(self, keys: Sequence[str], now: int, mark: str) -> list[list[int]]:
        cutoff = now - WINDOW_MS
        before = []
        for key in keys:
            kept = [entry for entry in self._times.get(key, ()) if entry[0] > cutoff]
            before.append([time for time, _ in kept])
            self._times[key] = [*kept, (now, mark)]
        if now - self._swept_at >= WINDOW_MS:  # a key never tried again must not stay for ever
            self._swept_at = now
            for key in [k for k, times in self._times.items() if times[-1][0] <= cutoff]:
                del self._times[key]
        return before

    async def forget(self, what: Mapping[str, str | None]) -> None:
        for key, mark in what.items():
            kept = [entry for entry in self._times.get(key, ()) if mark is not None and entry[1] != mark]
            if kept:
                self._times[key] = kept
            else:
                self._times.pop(key, None)


class Attempt(NamedTuple):
    """A password attempt let through or refused, as ``LoginThrottle.succeeded`` takes it back."""

    verdict: Verdict
    phone: str
    address: str
    mark: str


@dataclass
class LoginThrottle:
    """The rule, on whichever ``Failures`` keeps the times; ``clock`` is every keeper's "now".

    If the keeper is unreachable (Redis down, or partitioned from this process), ``attempt``
    fails closed: it raises ``Unavailable`` and the password is not checked. A financial
    exchange's accounts are worth guessing at, and failing open would hand out unlimited
    guesses to anyone who can make Redis slow or unreachable, the very moment no one watches
    the counters; a throttle that switched to per-process memory instead would quietly give N
    times the guesses again. The owner loses little: login by SMS code does not go through
    this throttle and keeps working, the refusal says so, and a hall on Redis cannot take bids
    without Redis anyway. Taking back (``succeeded``, ``proved``) fails the other way: the
    password was right or the phone proved, so the login or the reset goes ahead, and the
    failures it could not take back stay counted until they leave the window (the safe side).
    """

    clock: Callable[[], int]
    failures: Failures = field(default_factory=MemoryFailures)

    async def attempt(self, phone: str, address: str) -> Attempt:
        """The verdict on a password attempt at ``phone`` from ``address``, counted as a
        failure in advance unless it is refused: a refused attempt is not counted, so waiting
        always works. ``Unavailable`` when the failures cannot be counted."""
        keys = (_phone_key(phone), _address_key(address))
        mark = secrets.token_hex(8)
        try:
            before = await self.failures.add(keys, self.clock(), mark)
        except Unavailable as exc:
            log.warning("password login refused: the login throttle cannot count failures (%s)", exc)
            raise
        verdict = judge(*before)
        if verdict.refused_until is not None:
            await self._forget(dict.fromkeys(keys, mark))
        return Attempt(verdict, phone, address, mark)

    async def succeeded(self, attempt: Attempt) -> None:
        """Take back the attempt counted in advance. A right password clears the phone's
        count, but only its own attempt from the address's: one good account must not
        launder guesses at others from the same address."""
        await self._forget({_phone_key(attempt.phone): None, _address_key(attempt.address): attempt.mark})

    async def proved(self, phone: str) -> None:
        """The owner proved the phone (the right password, or an SMS code): its password
        failures are forgotten, so the owner's next password login is not refused."""
        await self._forget({_phone_key(phone): None})

    async def _forget(self, what: Mapping[str, str | None]) -> None:
        try:
            await self.failures.forget(what)
        except Unavailable as exc:  # fails safe: the failures stay counted until they expire
            log.warning("login throttle: failures not taken back (%s)", exc)


class TokenBucket:
    """A rate with a burst: ``rate`` actions a second on average, ``burst`` at once.

    One per WebSocket, for its bids: a client looping on bids is refused ``rate_limited``
    without touching the lot, and other sockets never notice. In the socket's own process
    (see the module's docstring): nothing to share through Redis."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float) -> bool:
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < 1:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1
        return True
