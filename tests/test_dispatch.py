"""The SMS dispatcher over the real SQLite store: stored first, retried, failed for good but
kept, never sent twice (concurrent wake-ups, restarts, a crash between send and mark)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hall.dispatch import BACKOFF_MS, MAX_ATTEMPTS, Dispatcher, InboxSender, Message, mask_phone
from hall.notify import enqueue, enqueue_to_phone
from hall.runtime import wall_clock
from hall.store import SqliteStore
from hall.store.people import People

if TYPE_CHECKING:
    from conftest import FakeClock

pytestmark = pytest.mark.anyio

HOUR = 3_600_000


@pytest.fixture
def clock(clock: FakeClock) -> FakeClock:
    clock.now = wall_clock() + 60_000  # enqueue stamps rows with the wall clock: start a little after it
    return clock


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    db = SqliteStore(tmp_path / "hall.db")
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def user(store: SqliteStore, phone: str = "13912345678") -> int:
    return await People(store).create_user(phone, "not-a-real-hash")


async def sms(store: SqliteStore, to: int, reason: str = "材料不清晰") -> int:
    async with store.transaction() as tx:
        return await enqueue(tx, user=to, template="verification_rejected", reason=reason)


async def row(store: SqliteStore, outbox: int) -> dict[str, object]:
    found = await store.fetchone(
        "SELECT status, attempts, next_attempt_at, sent_at, error FROM outbox WHERE id = ?", (outbox,)
    )
    assert found is not None
    return dict(zip(("status", "attempts", "next_attempt_at", "sent_at", "error"), found, strict=True))


async def inbox_rows(store: SqliteStore, outbox: int) -> int:
    found = await store.fetchone("SELECT count(*) FROM inbox WHERE outbox = ?", (outbox,))
    assert found is not None
    return int(found[0])


class Flaky:
    """Fails the first ``failures`` sends, then records; checks each message is stored first."""

    def __init__(self, store: SqliteStore, failures: int = 10**9) -> None:
        self.store = store
        self.failures = failures
        self.calls: list[Message] = []
        self.sent: list[int] = []

    async def send(self, message: Message) -> None:
        stored = await self.store.fetchone("SELECT body, status FROM outbox WHERE id = ?", (message.id,))
        assert stored == (message.body, "pending")
        self.calls.append(message)
        await asyncio.sleep(0)  # let concurrent passes interleave, if they could
        if len(self.calls) <= self.failures:
            raise RuntimeError("gateway down")
        self.sent.append(message.id)


class Crash(BaseException):
    """The process dies: nothing after the raise runs."""


class CrashAfterSending:
    def __init__(self, inner: InboxSender) -> None:
        self.inner = inner

    async def send(self, message: Message) -> None:
        await self.inner.send(message)
        raise Crash


async def test_a_failed_send_keeps_the_message_counts_the_attempt_and_schedules_a_retry_later(
    store: SqliteStore, clock: FakeClock
) -> None:
    outbox = await sms(store, await user(store))
    sender = Flaky(store)
    dispatcher = Dispatcher(store, sender, clock=clock)
    assert await dispatcher.run_once() == 1
    assert await row(store, outbox) == {"status": "pending", "attempts": 1, "next_attempt_at": clock.now + BACKOFF_MS[0],
                                        "sent_at": None, "error": "RuntimeError: gateway down"}  # fmt: skip
    assert [m.id for m in sender.calls] == [outbox] and sender.calls[0].attempt == 1
    assert await dispatcher.run_once() == 0  # not due yet
    assert len(sender.calls) == 1


async def test_a_message_is_retried_with_growing_backoff_until_it_is_sent(store: SqliteStore, clock: FakeClock) -> None:
    outbox = await sms(store, await user(store))
    sender = Flaky(store, failures=3)
    dispatcher = Dispatcher(store, sender, clock=clock)
    await dispatcher.run_once()
    for delay in BACKOFF_MS[:3]:
        clock.advance(delay - 1)
        assert await dispatcher.run_once() == 0, "retried before its back-off ran out"
        clock.advance(1)
        assert await dispatcher.run_once() == 1
    assert [m.attempt for m in sender.calls] == [1, 2, 3, 4]
    assert sender.sent == [outbox]
    stored = await row(store, outbox)
    assert stored["status"] == "sent" and stored["sent_at"] == clock.now and stored["attempts"] == 4
    clock.advance(10 * HOUR)
    assert await dispatcher.run_once() == 0


async def test_a_message_becomes_failed_after_the_maximum_attempts_and_stays_stored(
    store: SqliteStore, clock: FakeClock
) -> None:
    outbox = await sms(store, await user(store))
    sender = Flaky(store)
    dispatcher = Dispatcher(store, sender, clock=clock)
    for _ in range(MAX_ATTEMPTS + 3):
        await dispatcher.run_once()
        clock.advance(max(BACKOFF_MS))
    assert len(sender.calls) == MAX_ATTEMPTS
    stored = await row(store, outbox)
    assert stored["status"] == "failed" and stored["attempts"] == MAX_ATTEMPTS and stored["sent_at"] is None
    assert stored["error"] == "RuntimeError: gateway down"
    body = await store.fetchone("SELECT body FROM outbox WHERE id = ?", (outbox,))
    assert body is not None and "材料不清晰" in body[0]


async def test_concurrent_wakes_and_passes_send_every_message_exactly_once(store: SqliteStore, clock: FakeClock) -> None:
    users = [await user(store, f"1391234{n:04d}") for n in range(3)]
    ids = [await sms(store, users[n % 3]) for n in range(30)]
    sender = Flaky(store, failures=0)
    dispatcher = Dispatcher(store, sender, clock=clock, poll=0.01, batch=7)
    dispatcher.start()
    try:
        for _ in range(20):
            dispatcher.wake()
        await asyncio.gather(*(dispatcher.run_once() for _ in range(10)))
        async with asyncio.timeout(5):
            while len(sender.sent) < len(ids):
                dispatcher.wake()
                await asyncio.sleep(0.005)
    finally:
        await dispatcher.stop()
    assert sorted(sender.sent) == ids
    assert len(sender.calls) == len(ids)
    assert {(await row(store, i))["status"] for i in ids} == {"sent"}


async def test_a_restart_after_a_crash_between_send_and_mark_resends_but_the_inbox_holds_it_once(
    store: SqliteStore, clock: FakeClock
) -> None:
    to = await user(store)
    outbox = await sms(store, to)
    crashing = Dispatcher(store, CrashAfterSending(InboxSender(store, clock)), clock=clock)
    with pytest.raises(Crash):
        await crashing.run_once()
    assert (await row(store, outbox))["status"] == "pending"  # sent, but the mark never happened
    assert await inbox_rows(store, outbox) == 1

    restarted = Dispatcher(store, InboxSender(store, clock), clock=clock)
    assert await restarted.run_once() == 0  # still leased to the attempt that crashed
    clock.advance(max(BACKOFF_MS))
    assert await restarted.run_once() == 1  # resent, with the same outbox id …
    assert await inbox_rows(store, outbox) == 1  # … which the inbox takes once
    assert (await row(store, outbox))["status"] == "sent"

    again = Dispatcher(store, InboxSender(store, clock), clock=clock)
    clock.advance(10 * HOUR)
    assert await again.run_once() == 0
    assert await inbox_rows(store, outbox) == 1
    rows = await store.fetchall("SELECT user, body, read_at FROM inbox")
    assert len(rows) == 1 and rows[0][0] == to and "材料不清晰" in rows[0][1] and rows[0][2] is None


async def test_a_message_whose_last_attempt_was_interrupted_becomes_failed_without_another_send(
    store: SqliteStore, clock: FakeClock
) -> None:
    outbox = await sms(store, await user(store))
    crashing = Dispatcher(store, CrashAfterSending(InboxSender(store, clock)), clock=clock, max_attempts=1)
    with pytest.raises(Crash):
        await crashing.run_once()
    clock.advance(max(BACKOFF_MS))
    sender = Flaky(store, failures=0)
    assert await Dispatcher(store, sender, clock=clock, max_attempts=1).run_once() == 0
    stored = await row(store, outbox)
    assert stored["status"] == "failed" and stored["attempts"] == 1 and sender.calls == []
    assert "interrupted" in str(stored["error"])


async def test_a_wake_sends_at_once_without_waiting_for_the_poll(store: SqliteStore) -> None:
    to = await user(store)
    dispatcher = Dispatcher(store, poll=60)
    dispatcher.start()
    try:
        await asyncio.sleep(0.05)  # its first pass found nothing; it now waits up to a minute
        outbox = await sms(store, to)
        dispatcher.wake()
        async with asyncio.timeout(2):
            while await inbox_rows(store, outbox) == 0:
                await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
    assert (await row(store, outbox))["status"] == "sent"


async def test_polling_finds_a_message_nobody_woke_it_for(store: SqliteStore) -> None:
    to = await user(store)
    dispatcher = Dispatcher(store, poll=0.02)
    dispatcher.start()
    try:
        outbox = await sms(store, to)
        async with asyncio.timeout(2):
            while await inbox_rows(store, outbox) == 0:
                await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()


async def test_a_slow_sender_times_out_as_a_failed_attempt(store: SqliteStore, clock: FakeClock) -> None:
    outbox = await sms(store, await user(store))

    class Hanging:
        async def send(self, message: Message) -> None:
            await asyncio.sleep(3600)

    await Dispatcher(store, Hanging(), clock=clock, send_timeout=0.01).run_once()
    stored = await row(store, outbox)
    assert stored["status"] == "pending" and stored["attempts"] == 1 and "TimeoutError" in str(stored["error"])


async def test_the_inbox_sender_logs_the_message_with_the_phone_number_masked(
    store: SqliteStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await sms(store, await user(store, "13912345678"))
    with caplog.at_level(logging.INFO, logger="hall.dispatch"):
        await Dispatcher(store, clock=clock).run_once()
    assert "139****5678" in caplog.text and "材料不清晰" in caplog.text
    assert "13912345678" not in caplog.text
    assert mask_phone("13912345678") == "139****5678" and mask_phone("12345") == "*****"


async def test_the_inbox_sender_delivers_a_message_to_a_phone_with_no_account_to_the_log_only(
    store: SqliteStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with store.transaction() as tx:
        outbox = await enqueue_to_phone(tx, phone="13900139000", template="code_signup", code="123456", minutes=10)
    with caplog.at_level(logging.INFO, logger="hall.dispatch"):
        assert await Dispatcher(store, clock=clock).run_once() == 1
    assert "139****9000" in caplog.text and "123456" in caplog.text  # the demo's delivery: the log line
    assert (await row(store, outbox))["status"] == "sent"
    assert await store.fetchall("SELECT * FROM inbox") == []


async def test_an_sms_to_a_phone_names_its_account_so_the_inbox_gets_it(store: SqliteStore, clock: FakeClock) -> None:
    uid = await user(store)
    async with store.transaction() as tx:
        await enqueue_to_phone(tx, phone="13912345678", template="code_login", code="654321", minutes=10)
    await Dispatcher(store, clock=clock).run_once()
    [(to, body)] = await store.fetchall("SELECT user, body FROM inbox")
    assert to == uid and "654321" in body
