"""Slowing and then refusing repeated failed logins, per phone and per address.

The same counters apply whether the phone exists or not, so the answers reveal nothing.
In memory: the hall is one process, and a restart forgetting failures is acceptable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_MS = 15 * 60_000
"""Failures older than this are forgotten."""
SLOW_AFTER = 3
"""From this many failures on, each attempt is delayed, more every time."""
REFUSE_AFTER = 10
"""From this many, attempts are refused (429) until the oldest failure leaves the window."""
MAX_DELAY_S = 4.0


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

    def check(self, *keys: str) -> tuple[float, int | None]:
        """(seconds to delay this attempt; epoch ms until which attempts are refused, or None).

        A refused attempt is not counted, so waiting out the window always works.
        """
        recent = [self._recent(key) for key in keys]
        worst = max((len(times) for times in recent), default=0)
        if worst >= REFUSE_AFTER:
            # refused until enough of the failures have aged out of the window
            return 0.0, max(t[len(t) - REFUSE_AFTER] + WINDOW_MS for t in recent if len(t) >= REFUSE_AFTER)
        if worst >= SLOW_AFTER:
            return min(0.25 * 2 ** (worst - SLOW_AFTER), MAX_DELAY_S), None
        return 0.0, None

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._failures.setdefault(key, []).append(now)
        if now - self._swept_at >= WINDOW_MS:  # a key never tried again must not stay for ever
            self._swept_at = now
            cutoff = now - WINDOW_MS
            for key in [k for k, times in self._failures.items() if times[-1] <= cutoff]:
                del self._failures[key]

    def succeeded(self, phone_key: str, address_key: str) -> None:
        """Take back the attempt counted in advance. A right password clears the phone's
        count, but only its own attempt from the address's: one good account must not
        launder guesses at others from the same address."""
        self._failures.pop(phone_key, None)
        times = self._failures.get(address_key)
        if times:
            times.pop()


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
