"""SMS codes in the store: sending one through the outbox under the send limits, checking one.

Sending answers alike whether or not the phone has an account: a sign-up code to a registered
phone becomes an SMS saying the account exists (and how to log in or reset the password), a
login or reset code to a phone with no account an SMS saying there is none; either way a code
row is stored (one nobody was sent), so the limits, the answer and the checks that follow
behave the same. The row and its SMS are written in one transaction.

Only the newest code of a phone and purpose is live: a new one ends the older. When a code
ends (used, five wrong guesses, replaced, or found expired) its digits are masked in the
outbox row and the in-app inbox copy, so the database keeps a code in clear only while it could
still be used (the sender needs the text until then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import aiosqlite

from hall.auth.codes import (
    ADDRESS_SENDS,
    KEPT_MS,
    MAX_TRIES,
    PHONE_SENDS,
    TTL_MS,
    Purpose,
    code_hash,
    new_code,
    same_code,
)
from hall.notify import TEMPLATES, enqueue_to_phone
from hall.runtime import wall_clock
from hall.store.sqlite import SqliteStore

MASK = "******"
SWEEP = 100
"""Expired codes ended per send at most: the work one request causes stays bounded."""


class TooSoon(Exception):
    """The phone or the address has had its codes for now; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class PhoneCodes:
    def __init__(self, db: SqliteStore, clock: Callable[[], int] = wall_clock) -> None:
        self.db = db
        self.clock = clock
        self.key = b""

    def load(self, secret: str) -> None:
        """Key the code hashes with the hall's secret (in the lifespan, as the session keys)."""
        self.key = hashlib.sha256(b"hall.codes\0" + secret.encode()).digest()

    async def send(self, phone: str, purpose: Purpose, address: str) -> int:
        """Queue the SMS for ``phone`` (see the module docstring); its outbox id. Raises
        ``TooSoon`` when the phone's or the address's limits are reached."""
        assert self.key, "code keys are loaded in the lifespan"
        now = self.clock()
        async with self.db.transaction() as tx:
            await self._sweep(tx, now)
            wait = max(await _wait(tx, "phone", phone, PHONE_SENDS, now),
                       await _wait(tx, "address", address, ADDRESS_SENDS, now))  # fmt: skip
            if wait:
                raise TooSoon(-(-wait // 1000))
            async with tx.execute("SELECT 1 FROM users WHERE phone = ?", (phone,)) as cur:
                registered = await cur.fetchone() is not None
            if purpose is Purpose.SIGNUP and registered:
                template = "signup_taken"
            elif purpose is not Purpose.SIGNUP and not registered:
                template = "no_account"
            else:
                template = f"code_{purpose}"
            await self._end(tx, now, "phone = ? AND purpose = ? AND ended_at IS NULL", (phone, purpose.value))
            code = new_code()
            outbox = await enqueue_to_phone(tx, phone=phone, template=template, code=code, minutes=TTL_MS // 60_000)
            await tx.execute(
                "INSERT INTO codes (phone, purpose, address, code_hash, outbox, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (phone, purpose.value, address, code_hash(self.key, phone, purpose, code), outbox, now, now + TTL_MS),
            )
        return outbox

    async def check(self, phone: str, purpose: Purpose, code: str) -> bool:
        """Whether ``code`` is the live code of ``phone`` for ``purpose``; a right one is used
        up, and every try counts (the ``MAX_TRIES``-th wrong one ends the code)."""
        now = self.clock()
        given = code_hash(self.key, phone, purpose, code)
        async with self.db.transaction() as tx:
            async with tx.execute(
                "SELECT id, code_hash, tries, expires_at FROM codes"
                " WHERE phone = ? AND purpose = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
                (phone, purpose.value),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            id_, stored, tries, expires_at = row
            right = expires_at > now and same_code(stored, given)
            await tx.execute("UPDATE codes SET tries = ? WHERE id = ?", (tries + 1, id_))
            if right or expires_at <= now or tries + 1 >= MAX_TRIES:
                await self._end(tx, now, "id = ?", (id_,))
            return right

    async def _sweep(self, tx: aiosqlite.Connection, now: int) -> None:
        await tx.execute("DELETE FROM codes WHERE created_at < ?", (now - KEPT_MS,))
        await self._end(tx, now, f"ended_at IS NULL AND expires_at <= ? ORDER BY id LIMIT {SWEEP}", (now,))

    async def _end(self, tx: aiosqlite.Connection, now: int, where: str, params: Sequence[object]) -> None:
        """End the codes ``where`` selects, masking their digits in the outbox and inbox."""
        async with tx.execute(f"SELECT id, outbox FROM codes WHERE {where}", params) as cur:
            ended = list(await cur.fetchall())
        for id_, outbox in ended:
            await tx.execute("UPDATE codes SET ended_at = ? WHERE id = ?", (now, id_))
            async with tx.execute("SELECT template FROM outbox WHERE id = ?", (outbox,)) as cur:
                found = await cur.fetchone()
            if found is None:
                continue
            masked = TEMPLATES[found[0]].format(code=MASK, minutes=TTL_MS // 60_000)
            await tx.execute("UPDATE outbox SET body = ? WHERE id = ?", (masked, outbox))
            await tx.execute("UPDATE inbox SET body = ? WHERE outbox = ?", (masked, outbox))


async def _wait(tx: aiosqlite.Connection, column: str, value: str, limits: Sequence[tuple[int, int]], now: int) -> int:
    """Milliseconds until another code may be sent for this phone or address (0: now)."""
    wait = 0
    for window, most in limits:
        async with tx.execute(
            f"SELECT created_at FROM codes WHERE {column} = ? AND created_at > ? ORDER BY created_at DESC LIMIT ?",
            (value, now - window, most),
        ) as cur:
            recent = [row[0] for row in await cur.fetchall()]
        if len(recent) >= most:
            wait = max(wait, recent[-1] + window - now)
    return wait
