"""The login throttle's failure times in Redis (issue 15): one count for every process.

``hall.auth.throttle`` holds the rule; this is only where the times are kept, for a hall on
Redis, whose processes all count into the same keys: ``hall:throttle:phone:{phone}`` and
``hall:throttle:addr:{address}``, each a sorted set of failures scored by their time (epoch ms
of the throttle's clock, so that a test's fake clock drives it) with a random mark as member.

Each call is one round trip: ``add`` is a pipeline of one small script per key (trim the key
to the window, read it, add the failure, set its expiry), atomic per key, so that guesses sent
at once through any processes all count and each sees those counted before it; one key per
script keeps every call within one slot of a Redis Cluster. A key expires ``WINDOW_MS`` after
its newest failure, by Redis's own clock: by then every failure in it has left the window, so a
phone or an address never tried again leaves nothing behind. The expiry is relative, so it is
right whatever the throttle's clock says; the trim on every add is what the window is counted
by. Under several processes their wall clocks score the failures, so a few milliseconds of
skew between machines moves the window's edge by as much.

Any error or a reply later than ``timeout`` seconds is ``Unavailable``: the throttle then
refuses password logins (fails closed; ``LoginThrottle`` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from redis.exceptions import RedisError

from hall.auth.throttle import WINDOW_MS, Unavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX: Final = "hall:throttle:"

_ADD: Final = """
-- KEYS[1]: one counter's sorted set. ARGV: now, the cutoff (failures at or before it have
-- left the window), the expiry (ms), this failure's mark. Answers the failures before this
-- one, with their scores.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return before
"""


class RedisFailures:
    """``hall.auth.throttle.Failures`` in Redis, on the client the store opened."""

    def __init__(self, redis: Redis, timeout: float = 1.0) -> None:
        self.redis = redis
        self.timeout = timeout
        """Seconds a call may take: a Redis that stopped answering must not hold logins up."""

    @contextlib.asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            raise Unavailable(f"redis: {exc!r}") from exc

    async def add(self, keys: Sequence[str], now: int, mark: str) -> list[list[int]]:
        async with self._call(), self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.eval(_ADD, 1, PREFIX + key, now, now - WINDOW_MS, WINDOW_MS, mark)
            replies: list[list[bytes]] = await pipe.execute()
        return [[int(float(score)) for score in reply[1::2]] for reply in replies]

    async def forget(self, what: Mapping[str, str | None]) -> None:
        async with self._call(), self.redis.pipeline(transaction=False) as pipe:
            for key, mark in what.items():
                if mark is None:
                    pipe.delete(PREFIX + key)
                else:
                    pipe.zrem(PREFIX + key, mark)
            await pipe.execute()
