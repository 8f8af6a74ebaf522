"""What only the Redis store has (hall/store/redis.py): the refusal to run on a Redis that could
lose acknowledged writes, fencing tokens, the bus every committed batch is published on, the
bidders mirrored into SQLite, and the record checked from Redis. The Store contract it shares
with SQLite is tests/test_store.py's."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from storekit import SPEC, bid, history, state_after
import redis.asyncio as aioredis
import redis.exceptions
from click.testing import CliRunner
from hallkit import call, hall, runtime, user
from rediskit import RedisServer, redis_server

from hall.cli import main as cli
from hall.engine import Accepted, AnyEvent, LotSpec, Registrant
from hall.engine.events import encode
from hall.record import verify
from hall.store import StoreError, open_store
from hall.store.redis import DURABILITY_ENV, Fenced, RedisStore, key
from hall.store.sqlite import _Written

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as found:
        yield found


async def _reopened(tmp_path: Path, server: RedisServer) -> RedisStore:
    """The test's store, opened (again) on the test's Redis and SQLite file."""
    s = RedisStore(tmp_path / "hall.db", server.url)
    await s.open()
    return s


@pytest.fixture
async def store(tmp_path: Path, server: RedisServer) -> AsyncIterator[RedisStore]:
    s = await _reopened(tmp_path, server)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def direct(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's own: another process's view of the same Redis."""
    client = aioredis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        await client.aclose()


# ---------------------------------------------------------------------- durability


async def test_a_redis_without_an_fsynced_append_only_file_is_refused_with_the_settings_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DURABILITY_ENV, raising=False)
    with redis_server(tmp_path / "redis", durable=False) as server:
        s = RedisStore(tmp_path / "hall.db", server.url)
        with pytest.raises(StoreError) as refused:
            await s.open()
    message = str(refused.value)
    assert "appendonly=no" in message and "appendfsync always" in message and f"{DURABILITY_ENV}=none" in message
    with pytest.raises(StoreError):  # and nothing of it stays open
        await s.events_since(1, 0)


async def test_a_redis_that_refuses_config_counts_as_not_durable(
    tmp_path: Path, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(self: aioredis.Redis, *names: str) -> None:
        raise redis.exceptions.ResponseError("unknown command 'CONFIG'")

    monkeypatch.setattr(aioredis.Redis, "config_get", refused)
    s = RedisStore(tmp_path / "other.db", server.url, durability="")
    with pytest.raises(StoreError, match="CONFIG"):
        await s.open()


async def test_with_durability_none_it_runs_on_such_a_redis_and_warns_at_every_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(DURABILITY_ENV, "none")
    with redis_server(tmp_path / "redis", durable=False) as server:
        for start in range(2):
            caplog.clear()
            s = RedisStore(tmp_path / "hall.db", server.url)
            with caplog.at_level(logging.WARNING, logger="hall.store.redis"):
                await s.open()
            try:
                if start == 0:
                    lot = await s.create_lot(SPEC, "")
                await s.write(history(lot, 2) if start == 0 else [bid(lot, 3)], [])
            finally:
                await s.close()
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "could lose acknowledged bids" in warnings[0] and "appendonly=no" in warnings[0]


def test_a_durability_setting_other_than_none_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=DURABILITY_ENV):
        RedisStore(tmp_path / "hall.db", "redis://127.0.0.1:1/0", durability="fast")


def test_open_store_picks_the_store_by_its_url(tmp_path: Path) -> None:
    db = str(tmp_path / "hall.db")
    assert type(open_store(db)).__name__ == "SqliteStore"
    assert isinstance(open_store(db, "redis://127.0.0.1:6390/2"), RedisStore)
    with pytest.raises(ValueError, match="redis://"):
        open_store(db, "postgres://x")


# ---------------------------------------------------------------------- fencing


async def test_a_write_with_a_stale_or_missing_token_for_a_fenced_lot_is_refused_and_writes_nothing(
    store: RedisStore, direct: aioredis.Redis
) -> None:
    lot = await store.create_lot(SPEC, "")
    other = await store.create_lot(SPEC, "")
    await store.write(history(lot, 2), [])  # no fence yet: written with no token
    await direct.set(key(lot, "fence"), 5)  # another process took the lot over with token 5
    snapshot = state_after(lot, [*history(lot, 2), bid(lot, 3)])
    for token in (None, 4):
        if token is not None:
            store.fence(lot, token)
        with pytest.raises(Fenced) as refused:
            await store.write([bid(other, 1), bid(lot, 3)], [snapshot])
        assert refused.value.lots == {lot}
        assert await store.events_since(lot, 0) == history(lot, 2)
        assert await store.events_since(other, 0) == []  # the whole batch, not only the fenced lot
        assert await direct.exists(key(lot, "snap")) == 0
    store.fence(lot, 5)  # the current token: writes go on, chained from what is stored
    await store.write([bid(other, 1), bid(lot, 3)], [])
    assert [e.seq for e in await store.events_since(lot, 0)] == [1, 2, 3]
    assert (await verify(store, lot)).ok and (await verify(store, other)).ok
    store.unfence(lot)  # back to no token: refused while the lot has a fence
    with pytest.raises(Fenced):
        await store.write([bid(lot, 4)], [])


async def test_a_batch_that_does_not_follow_the_stored_events_is_refused_as_a_gap(
    store: RedisStore, direct: aioredis.Redis
) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 2), [])
    with pytest.raises(StoreError, match=f"GAP lot {lot} "):
        await store.write([bid(lot, 4)], [])
    await direct.rpush(key(lot, "ev"), b"x" * 40)  # written by someone else since: our head is stale
    with pytest.raises(StoreError, match="GAP"):
        await store.write([bid(lot, 3)], [])
    assert await direct.llen(key(lot, "ev")) == 3


async def test_a_fenced_batch_fails_the_batches_queued_behind_it_and_later_ones_are_written(
    store: RedisStore, direct: aioredis.Redis
) -> None:
    lot = await store.create_lot(SPEC, "")
    other = await store.create_lot(SPEC, "")
    await direct.set(key(lot, "fence"), 1)
    store.hand_over(first := _Written(history(lot, 1), []))  # taken alone: the committer is idle
    await asyncio.sleep(0)
    store.hand_over(behind := _Written(history(other, 1), []))  # queued while the first is in flight
    with pytest.raises(Fenced):
        await first.future
    with pytest.raises(Fenced):
        await behind.future
    store.hand_over(later := _Written(history(other, 2), []))
    await later.future
    assert await store.events_since(other, 0) == history(other, 2)
    assert await store.events_since(lot, 0) == []


# ---------------------------------------------------------------------- the bus


async def test_a_subscriber_gets_each_committed_batch_once_in_order_decodable_in_one_call(
    store: RedisStore, direct: aioredis.Redis
) -> None:
    decoder = msgspec.msgpack.Decoder(list[AnyEvent])
    pubsub = direct.pubsub()
    await pubsub.subscribe(store.bus)
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"  # type: ignore[index]
    a = await store.create_lot(SPEC, "")
    b = await store.create_lot(SPEC, "")
    batches = [[*history(a, 2), *history(b, 1)], [bid(b, 2), bid(a, 3), bid(b, 3)], [bid(a, 4)]]
    await store.write(batches[0], [])
    await store.write(batches[1], [])
    await direct.set(key(b, "fence"), 9)
    with pytest.raises(Fenced):
        await store.write([bid(b, 4), bid(a, 4)], [])  # refused: nothing published
    await store.write(batches[2], [])
    await store.write([], [])  # nothing to tell
    heard = []
    while (message := await pubsub.get_message(timeout=0.5)) is not None:
        heard.append(decoder.decode(message["data"]))
    await pubsub.aclose()
    assert heard == batches


# ---------------------------------------------------------------------- bidders


async def test_an_admission_in_redis_missing_from_sqlite_is_copied_there_at_open(
    store: RedisStore, tmp_path: Path, server: RedisServer
) -> None:
    lot = await store.create_lot(SPEC, "")
    assert await store.add_bidders([(lot, 501, 3), (lot, 502, None)]) == [Registrant("0001", 3), Registrant("0002", None)]
    async with store.transaction() as tx:  # as if the process died between the two writes
        await tx.execute("DELETE FROM bidders WHERE user = 502")
    await store.close()
    again = RedisStore(tmp_path / "hall.db", server.url)
    await again.open()
    try:
        rows = await again.fetchall("SELECT lot, user, number, org FROM bidders ORDER BY user")
        assert [tuple(r) for r in rows] == [(lot, 501, "0001", 3), (lot, 502, "0002", None)]
    finally:
        await again.close()


# ---------------------------------------------------------------------- Redis going away


async def test_a_write_while_redis_is_down_fails_and_writes_go_on_once_it_is_back(
    store: RedisStore, server: RedisServer
) -> None:
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 2), [])
    server.kill()
    with pytest.raises(StoreError):
        await store.write([bid(lot, 3)], [])
    server.start()  # what it acknowledged was in its append-only file
    assert await store.events_since(lot, 0) == history(lot, 2)
    await store.write([bid(lot, 3)], [])
    verdict = await verify(store, lot)
    assert verdict.ok and verdict.events == 3


# ---------------------------------------------------------------------- a torn append-only file


def _tear_last_transaction(server: RedisServer) -> None:
    """Kill Redis and cut its append-only file inside the last MULTI/EXEC, as a SIGKILL or a
    power cut in the middle of Redis's write of it does."""
    server.kill()
    [incr] = (server.folder / "appendonlydir").glob("*.incr.aof")
    data = incr.read_bytes()
    multi = data.rindex(b"*1\r\n$5\r\nMULTI\r\n")
    incr.write_bytes(data[: (multi + len(data)) // 2])


async def test_a_redis_that_would_half_load_a_torn_append_only_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DURABILITY_ENV, raising=False)
    with redis_server(tmp_path / "redis", options=["--aof-load-truncated", "yes"]) as server:
        s = RedisStore(tmp_path / "hall.db", server.url)
        with pytest.raises(StoreError) as refused:
            await s.open()
    assert "aof-load-truncated=yes" in str(refused.value) and "aof-load-truncated no" in str(refused.value)


async def test_a_batch_torn_by_a_crash_of_redis_is_cut_whole_by_the_repair_and_never_replayed_later(
    tmp_path: Path, server: RedisServer
) -> None:
    s = await _reopened(tmp_path, server)
    lot = await s.create_lot(SPEC, "")
    await s.write(history(lot, 10), [state_after(lot, history(lot, 10))])
    torn = [bid(lot, seq) for seq in range(11, 21)]  # its reply never came: the kill tore its write
    await s.write(torn, [state_after(lot, [*history(lot, 10), *torn])])
    await s.close()
    _tear_last_transaction(server)
    server.start()  # refused (aof-load-truncated no), repaired with redis-check-aof, started
    assert server.repairs == 1
    s = await _reopened(tmp_path, server)
    try:
        stored = await s.lot(lot)
        assert stored is not None and stored.snapshot is not None and stored.snapshot.seq == 10 and stored.events == []
        later = [msgspec.structs.replace(e, req=f"later-{e.seq}") for e in torn[:3]]
        await s.write(later, [state_after(lot, [*history(lot, 10), *later])])  # acknowledged
    finally:
        await s.close()
    server.kill()
    server.start()
    s = await _reopened(tmp_path, server)
    try:
        assert await s.events_since(lot, 0) == [*history(lot, 10), *later]  # the torn batch is not back
        verdict = await verify(s, lot)
        assert verdict.ok and verdict.events == 13
    finally:
        await s.close()


async def test_events_stored_twice_are_reported_as_a_store_error_naming_the_lot_never_bid_on(
    store: RedisStore, direct: aioredis.Redis
) -> None:
    """What Redis 7.0 does with a torn file under ``aof-load-truncated yes`` (the module's
    docstring), done by hand: a batch's elements stored a second time after themselves."""
    lot = await store.create_lot(SPEC, "")
    await store.write(history(lot, 8), [state_after(lot, history(lot, 8))])
    again = await direct.lrange(key(lot, "ev"), 5, 7)
    await direct.rpush(key(lot, "ev"), *again)
    for read in (store.lot(lot), store.events_since(lot, 0), store.events_since(lot, 8)):
        with pytest.raises(StoreError, match=f"lot {lot}: its events in Redis are not in order"):
            await read
    assert await store.events_since(lot, 2, limit=3) == history(lot, 8)[2:5]  # a read before the damage


# ---------------------------------------------------------------------- the record, checked from Redis


def _verify(db: Path, url: str, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["verify", "--db", str(db), "--store", url, *args])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


async def test_hall_verify_on_redis_names_the_seq_of_a_changed_element(
    store: RedisStore, tmp_path: Path, server: RedisServer, direct: aioredis.Redis
) -> None:
    lot = await store.create_lot(SPEC, "")
    other = await store.create_lot(SPEC, "")
    await store.write([*history(lot, 6), *history(other, 2)], [])
    await store.close()
    db = tmp_path / "hall.db"
    code, lines = await anyio.to_thread.run_sync(_verify, db, server.url, "--all")
    assert code == 0 and [line["ok"] for line in lines] == [True, True] and lines[0]["events"] == 6
    element = await direct.lindex(key(lot, "ev"), 3)  # seq 4: its price raised, its digest kept
    assert element is not None
    forged = bid(lot, 4)
    forged = msgspec.structs.replace(forged, amount=forged.amount + 5_000)
    await direct.lset(key(lot, "ev"), 3, element[:32] + encode(forged))
    code, lines = await anyio.to_thread.run_sync(_verify, db, server.url, "--all")
    assert code == 1
    assert lines == [{"lot": lot, "ok": False, "events": 3, "seq": 4, "problem": "digest"},
                     {"lot": other, "ok": True, "events": 2, "digest": lines[1]["digest"]}]  # fmt: skip


def test_the_record_api_serves_a_lot_kept_in_redis(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server, hall(tmp_path, store=server.url) as client:
        rt = runtime(client)
        assert isinstance(rt.store, RedisStore)
        now = rt.clock()
        spec = LotSpec(seller_org=9, start_price=1_000, increment=100, publicity_start=now - 60_000,
                       bidding_start=now - 1_000, end=now + 3_600_000)  # fmt: skip
        lot = call(client, rt.create_lot, spec).id
        uid = user(client, "13800138000", verified=True)
        call(client, rt.register, lot, uid, None)
        assert isinstance(call(client, rt.bid, lot, uid, None, 1_000, "r"), Accepted)
        record = client.get(f"/api/lots/{lot}/record").json()
        assert [e["seq"] for e in record["events"]] == [1, 2]
        verdict = call(client, verify, rt.store, lot)
        assert verdict.ok and record["digest"] == verdict.digest
