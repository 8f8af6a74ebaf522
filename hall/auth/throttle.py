"""Slowing and then refusing repeated failed password logins, per phone and per address.

The same counters apply whether the phone exists or not, so the answers reveal nothing.
In memory: the hall is one process, and a restart forgetting failures is acceptable.

Only password guessing is throttled here. A refusal never locks the owner out: login by SMS
code (``hall/auth/codes.py``) is bounded by its own rules and passes this throttle by, and the
refusal says so. The per-address threshold is far above the per-phone one, so that a whole
institution behind one NAT gateway is not refused for its members' typos (docs/permissions.md
explains the numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

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


@dataclass
class LoginThrottle:
    clock: Callable[[], int]
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _swept_at: int = 0
    """Keys whose failures have all expired are dropped at most once per window: O(1) amortised."""

    def _recent(self, key: str) -> list[int]:
        cutoff = self.clock() - WINDOW_MS
        kept = [t for t in self._failures.get(key, ()) if t > cutoff]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def check(self, phone: str, address: str) -> Verdict:
        """What to do with a password attempt at ``phone`` from ``address``: the worse of the
        two counters decides. A refused attempt is not counted, so waiting always works."""
        delay, refused_until = 0.0, None
        for key, limit in ((f"phone:{phone}", PHONE_LIMIT), (f"addr:{address}", ADDRESS_LIMIT)):
            times = self._recent(key)
            if len(times) >= limit.refuse_after:
                # refused until enough of the failures have aged out of the window
                until = times[len(times) - limit.refuse_after] + WINDOW_MS
                refused_until = max(refused_until or 0, until)
            elif len(times) >= limit.slow_after:
                delay = max(delay, min(0.25 * 2 ** (len(times) - limit.slow_after), MAX_DELAY_S))
        return Verdict(0.0, refused_until) if refused_until is not None else Verdict(delay, None)

    def failed(self, phone: str, address: str) -> None:
        now = self.clock()
        for key in (f"phone:{phone}", f"addr:{address}"):
            self._failures.setdefault(key, []).append(now)
        if now - self._swept_at >= WINDOW_MS:  # a key never tried again must not stay for ever
            self._swept_at = now
            cutoff = now - WINDOW_MS
            for key in [k for k, times in self._failures.items() if times[-1] <= cutoff]:
                del self._failures[key]

    def succeeded(self, phone: str, address: str) -> None:
        """Take back the attempt counted in advance. A right password clears the phone's
        count, but only its own attempt from the address's: one good account must not
        launder guesses at others from the same address."""
        self.proved(phone)
        times = self._failures.get(f"addr:{address}")
        if times:
            times.pop()

    def proved(self, phone: str) -> None:
        """The owner proved the phone (the right password, or an SMS code): its password
        failures are forgotten, so the owner's next password login is not refused."""
        self._failures.pop(f"phone:{phone}", None)


class TokenBucket:
    """A rate with a burst: ``rate`` actions a second on average, ``burst`` at once.

    One per WebSocket, for its bids: a client looping on bids is refused ``rate_limited``
    without touching the lot, and other sockets never notice."""

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
