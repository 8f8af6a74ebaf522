"""The SMS dispatcher: sends what the outbox holds, retries with back-off, never loses a message.

``hall.notify.enqueue`` stores a message (status ``pending``) in the same transaction as the
decision it reports. The ``Dispatcher`` then, in a loop:

1. **claims** the due messages (``pending`` and ``next_attempt_at`` ≤ now) in one write
   transaction: it counts the attempt and moves ``next_attempt_at`` past the end of the send
   (a *lease*), so nothing else — another pass, a second wake-up — picks the same message up
   while it is being sent;
2. hands each to the ``Sender``;
3. marks it ``sent`` (with ``sent_at``) on success, or records the error and schedules the next
   attempt with exponential back-off (5 s, 30 s, 2 min, 10 min, 1 h, 2 h, 4 h); after
   ``max_attempts`` tries the message becomes ``failed``. Rows are never deleted.

Delivery is *at least once*. A crash (or a failed write) between a successful send and its
``sent`` mark leaves the message claimed; when its lease runs out it is sent again. That is why
every message carries its outbox id: SMS gateways take a client-side message id as their
de-duplication key, so a gateway that honours it delivers the resend zero times, and the
in-app ``InboxSender`` writes with ``INSERT OR IGNORE`` on the inbox's UNIQUE outbox column,
so it cannot show a message twice by construction. A crash between the claim and the send
costs one attempt and a delay, nothing more.

One dispatcher per process (the hall is one process per database): passes never overlap,
however often it is woken, and claims are transactions, so not even a second one could send a
message that the first is sending before its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final, Protocol

import msgspec

from hall.runtime import Clock, wall_clock
from hall.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

BACKOFF_MS: Final[tuple[int, ...]] = (5_000, 30_000, 120_000, 600_000, 3_600_000, 7_200_000, 14_400_000)
"""Delay before the next attempt after the 1st, 2nd, … failure; the last repeats."""
MAX_ATTEMPTS: Final = 8
"""After this many failed attempts (about seven hours of trying) a message is ``failed``."""
SEND_TIMEOUT_S: Final = 30.0
"""A send that takes longer than this counts as failed (the lease covers at least this)."""
POLL_S: Final = 1.0
BATCH: Final = 100
MAX_ERROR: Final = 500
"""Characters of an error message kept in the row."""


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One SMS as handed to a sender."""

    id: int
    """The outbox id: the de-duplication key to give the gateway (see the module docstring)."""
    user: int | None
    """The account the phone belongs to; None for a phone with no account (a sign-up code)."""
    phone: str
    template: str
    body: str
    attempt: int
    """1 for the first try."""


class Sender(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise. May be called again for the same ``message.id`` after
        a crash; a real gateway must be given ``message.id`` as its idempotency key."""
        ...


def mask_phone(phone: str) -> str:
    """``13912345678`` → ``139****5678``: logs never hold a number in full."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def backoff_ms(failures: int, schedule: Sequence[int] = BACKOFF_MS) -> int:
    """Delay after the ``failures``-th failed attempt (1-based)."""
    return schedule[min(max(failures, 1), len(schedule)) - 1]


class InboxSender:
    """The default sender: logs the message (phone masked) and puts it in the user's in-app
    inbox. Idempotent: a second send of the same outbox id is ignored by the UNIQUE column.

    A message to a phone with no account (a sign-up code) has no inbox: the log line and the
    outbox row are where it is delivered, in development and in the demo. A real gateway
    replaces this sender in production."""

    def __init__(self, store: SqliteStore, clock: Clock = wall_clock) -> None:
        self.store = store
        self.clock = clock

    async def send(self, message: Message) -> None:
        log.info("SMS #%d to %s (%s): %s", message.id, mask_phone(message.phone), message.template, message.body)
        if message.user is None:
            return
        async with self.store.transaction() as tx:
            await tx.execute(
                "INSERT OR IGNORE INTO inbox (user, outbox, body, created_at) VALUES (?, ?, ?, ?)",
                (message.user, message.id, message.body, self.clock()),
            )


class Dispatcher:
    def __init__(
        self,
        store: SqliteStore,
        sender: Sender | None = None,
        *,
        clock: Clock = wall_clock,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: Sequence[int] = BACKOFF_MS,
        send_timeout: float = SEND_TIMEOUT_S,
        poll: float = POLL_S,
        batch: int = BATCH,
    ) -> None:
        if max_attempts < 1 or not backoff:
            raise ValueError("max_attempts ≥ 1 and a non-empty back-off schedule are required")
        self.store = store
        self.sender: Sender = sender if sender is not None else InboxSender(store, clock)
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff = tuple(backoff)
        self.send_timeout = send_timeout
        self.poll = poll
        self.batch = batch
        self._pass = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("dispatcher already started")
        self._stopping = False
        # fresh primitives: an app may be started again on another event loop (tests do)
        self._pass, self._wakeup = asyncio.Lock(), asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sms-dispatcher")

    async def stop(self, grace: float = 5.0) -> None:
        """Let the current pass finish (up to ``grace`` seconds, then cancel it) and stop.

        A message cancelled mid-send stays claimed and is retried when its lease runs out."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        """Look for due messages now (call after committing an ``enqueue``); cheap and safe to
        call any number of times: wake-ups while a pass runs fold into one more pass."""
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            handled = 0
            try:
                handled = await self.run_once()
            except Exception:  # noqa: BLE001 - the store is down: keep polling, nothing is lost
                log.exception("SMS dispatch pass failed; retrying")
            if handled >= self.batch or self._stopping:
                continue  # more may be due right away
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wakeup.wait()

    # ------------------------------------------------------------------ one pass

    async def run_once(self) -> int:
        """Claim the due messages, send them and record the outcome; how many were tried.

        Passes are serialised: concurrent calls run one after the other, each claiming only
        what is still due, so no message goes to the sender twice."""
        async with self._pass:
            messages = await self._claim()
            for message in messages:
                await self._deliver(message)
            return len(messages)

    async def _claim(self) -> list[Message]:
        now = self.clock()
        claimed: list[Message] = []
        async with self.store.transaction() as tx:
            async with tx.execute(
                "SELECT id, user, phone, template, body, attempts FROM outbox"
                " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (now, self.batch),
            ) as cur:
                rows = list(await cur.fetchall())
            for id_, user, phone, template, body, attempts in rows:
                if attempts >= self.max_attempts:
                    # its last attempt was claimed but never concluded (a crash mid-send)
                    await tx.execute(
                        "UPDATE outbox SET status = 'failed', error = coalesce(error, ?) WHERE id = ?",
                        ("no outcome recorded for the last attempt (interrupted)", id_),
                    )
                    log.warning("SMS #%d to %s failed: attempts exhausted", id_, mask_phone(phone))
                    continue
                attempt = attempts + 1
                lease = max(backoff_ms(attempt, self.backoff), int(self.send_timeout * 1000) + 5_000)
                await tx.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?", (attempt, now + lease, id_)
                )
                claimed.append(Message(id=id_, user=user, phone=phone, template=template, body=body, attempt=attempt))
        return claimed

    async def _deliver(self, message: Message) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await self.sender.send(message)
        except Exception as exc:  # noqa: BLE001 - any failure of the sender is a failed attempt
            await self._failed(message, exc)
            return
        async with self.store.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'pending'",
                (self.clock(), message.id),
            )

    async def _failed(self, message: Message, exc: Exception) -> None:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, TimeoutError):
            detail = f"TimeoutError: no answer within {self.send_timeout:g} s"
        now = self.clock()
        final = message.attempt >= self.max_attempts
        async with self.store.transaction() as tx:
            await tx.execute(
                "UPDATE outbox SET status = ?, error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                ("failed" if final else "pending", detail[:MAX_ERROR],
                 now if final else now + backoff_ms(message.attempt, self.backoff), message.id),
            )  # fmt: skip
        log.warning("SMS #%d to %s, attempt %d/%d failed%s: %s", message.id, mask_phone(message.phone),
                    message.attempt, self.max_attempts, " for good" if final else "", detail)  # fmt: skip
