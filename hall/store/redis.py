"""The lots' store on Redis (issue 15): each lot's events, snapshot and bidders in Redis, the
rest (accounts, listings, deals, demands, and the ``lots`` table itself) in SQLite as before.

Why a subclass of ``SqliteStore``: everything but the journal stays relational and shared by
the processes on one machine through SQLite's file; only what every lot's owner writes on the
hot path, and what another process must read when it takes a lot over, moves to Redis.

Keys (``key``): one lot's keys share a hash tag, so they sit in one slot of a Redis Cluster.
``ev`` is a list whose element i is event seq i+1: the 32-byte digest after it in the lot's hash
chain (hall/record.py) followed by its msgpack body. ``snap`` is the newest snapshot (msgpack
``LotState``), ``bidders`` a hash of user id to msgpack ``[number, org]``, ``fence`` the lot's
current fencing token (set by hall/cluster.py when a process takes the lot's lease; the store
only compares it), ``lease`` hall/cluster.py's alone.

Group commit: ``hand_over`` queues a batch; one task on the event loop takes everything queued
(``hall.store.writer.take``, the writer thread's rule), chains it from the heads it keeps in
memory, and makes ONE script call (``_APPEND``) that checks every lot's fence and length and,
only when all hold, appends, replaces the snapshots and publishes the batch's events on
the store's ``bus`` channel. A failed call fails its batches and those queued behind them, as the writer thread's
does (hall/store/writer.py), and the lots' heads are read from Redis again.

Durability: a batch is settled only once the script's reply came back. With ``appendonly yes``
and ``appendfsync always`` Redis writes and fsyncs its append-only file before it sends any
reply of that event-loop iteration: ``beforeSleep`` in Redis's src/server.c (7.0) calls
``flushAppendOnlyFile`` with the comment "must be done before
handleClientsWithPendingWritesUsingThreads, in case of appendfsync=always", and replies and
pub/sub messages only go into the clients' buffers (``putClientInPendingWriteQueue`` in
src/networking.c), written by ``handleClientsWithPendingWrites`` after it; an fsync that fails
under ``always`` makes Redis exit. The one exception found in the source: a subscriber whose
socket was full already has a write handler installed, and the event loop may serve it in the
same iteration, after the script ran and before ``beforeSleep``: such a slow subscriber can see
a message whose write a crash of Redis in that instant would lose (the publisher never got its
reply, so nothing was acknowledged). A script's effects reach the append-only file as one
MULTI/EXEC.

A torn append-only file: a SIGKILL (or a power cut) in the middle of Redis's write of a batch
leaves part of its MULTI/EXEC at the file's end. Redis 7.0's loader with ``aof-load-truncated
yes`` (the default) cuts the file after the last whole command, which may be inside that
MULTI, and keeps the dangling MULTI: the next transaction written after it closes it, and at
the restart after that the torn, never acknowledged batch is replayed with it (a lot's events
stored twice; tests/test_store_redis.py reproduces it, and the crash test of Redis itself met
it). With ``aof-load-truncated no`` Redis refuses to start on such a file instead, and
``redis-check-aof --fix`` cuts it before the MULTI, as an operator does after a crash
(docs/durability.md). ``open`` reads the three settings and refuses a Redis that could lose
or replay writes, unless ``HALL_REDIS_DURABILITY=none``; and every read of a lot's events
checks that the elements are the seqs their places say, so a journal broken some other way
is reported, never bid on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Final, cast

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from hall.engine import AnyEvent, LotState, Registrant
from hall.engine.events import decode, encode
from hall.record import GENESIS, links
from hall.store.base import StoredLot, StoreError
from hall.store.sqlite import (
    _ARRAY32, _HEADS, _LOTS_PER_READ, SqliteStore, _encoder, _events_decoder, _stored,
)  # fmt: skip
from hall.store.writer import Batch, merged, take

log = logging.getLogger(__name__)

def channel(db: int, name: str) -> str:
    """A channel of the hall on Redis database ``db``. Pub/sub ignores the database a client
    selected (a message published on db 1 reaches subscribers on db 0), so two halls sharing a
    Redis on two databases would hear each other's events without the number in the name."""
    return f"hall:db{db}:{name}"
DURABILITY_ENV: Final = "HALL_REDIS_DURABILITY"
REPLY_S: Final = 5.0
"""Seconds Redis has to answer a command (or accept a connection) before it counts as down."""
DIGEST: Final = 32
"""Bytes of the digest at the head of each ``ev`` element."""


_REQUIRED: Final = {"appendonly": "yes", "appendfsync": "always", "aof-load-truncated": "no"}
"""The settings without which Redis could lose an acknowledged write or replay an unacknowledged
one after a crash (the module's docstring)."""


def key(lot: int, part: str) -> str:
    """The Redis key of ``part`` of ``lot`` (the braces are the cluster's hash tag)."""
    return f"hall:{{{lot}}}:{part}"


class Fenced(StoreError):
    """A write for lots whose fencing token is no longer this process's: another owns them."""

    def __init__(self, message: str, lots: set[int]) -> None:
        super().__init__(message)
        self.lots = lots


_APPEND: Final = """
-- KEYS: per lot, its ev, fence and snap keys. ARGV[1]: how many lots; then per lot: id, token,
-- the length its list must have (-1: no event of it in this batch), how many elements follow,
-- its snapshot ('' for none); then the message to publish ('' for none); then every lot's
-- elements, lot after lot.
local n = tonumber(ARGV[1])
local fenced, gaps = {}, {}
for i = 0, n - 1 do
    local a = 2 + 5 * i
    local token = tonumber(ARGV[a + 1])
    local fence = redis.call('GET', KEYS[3 * i + 2])
    if (token == 0 and fence) or (token ~= 0 and tonumber(fence) ~= token) then
        fenced[#fenced + 1] = ARGV[a]
    end
    local expected = tonumber(ARGV[a + 2])
    if expected >= 0 then
        local length = redis.call('LLEN', KEYS[3 * i + 1])
        if length ~= expected then
            gaps[#gaps + 1] = ARGV[a] .. ' has ' .. length .. ' events, the batch follows seq ' .. expected
        end
    end
end
if #fenced > 0 then
    return redis.error_reply('FENCED ' .. table.concat(fenced, ' '))
end
if #gaps > 0 then
    return redis.error_reply('GAP lot ' .. table.concat(gaps, ', lot '))
end
local at = 2 + 5 * n + 1
for i = 0, n - 1 do
    local a = 2 + 5 * i
    local last = at + tonumber(ARGV[a + 3]) - 1
    while at <= last do  -- in slices: unpack's values go on Lua's stack, which is bounded
        local stop = math.min(at + 999, last)
        redis.call('RPUSH', KEYS[3 * i + 1], unpack(ARGV, at, stop))
        at = stop + 1
    end
    if ARGV[a + 4] ~= '' then
        redis.call('SET', KEYS[3 * i + 3], ARGV[a + 4])
    end
end
local message = ARGV[2 + 5 * n]
if message ~= '' then
    redis.call('PUBLISH', '@BUS@', message)
end
return n
"""
"""One group commit: the checks of every lot of the batch, then (only if all hold) its writes
and its message, as one script: one round trip, atomic, and nothing published unwritten."""

_ADMIT: Final = """
-- KEYS: per admission, its lot's bidders key. ARGV: per admission, the user id and its org as
-- msgpack. Returns, per admission, the msgpack [number, org] the user has in the lot.
local found = {}
for i = 1, #KEYS do
    local user = ARGV[2 * i - 1]
    local value = redis.call('HGET', KEYS[i], user)
    if not value then
        local number = string.format('%04d', redis.call('HLEN', KEYS[i]) + 1)
        value = '\\146' .. string.char(160 + #number) .. number .. ARGV[2 * i]
        redis.call('HSET', KEYS[i], user, value)
    end
    found[i] = value
end
return found
"""
"""``add_bidders`` in one script: each user keeps its number, or gets the lot's count plus one
(``SqliteStore``'s numbering). The value is built here as msgpack: a fixarray of 2 (0x92),
the number as a fixstr, and the org as the caller encoded it."""

_registrant_decoder = msgspec.msgpack.Decoder(tuple[str, int | None])
_state_decoder = msgspec.msgpack.Decoder(LotState)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Callers see StoreError, whatever Redis or the connection to it said."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise StoreError(f"redis: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"redis: {exc}") from exc


class RedisStore(SqliteStore):
    def __init__(self, path: str | Path, url: str, *, durability: str | None = None) -> None:
        super().__init__(path)
        self.url = url
        self.durability = os.environ.get(DURABILITY_ENV, "") if durability is None else durability
        if self.durability not in ("", "none"):
            raise ValueError(f"{DURABILITY_ENV} is {self.durability!r}: it may be empty (required) or 'none'")
        self._redis: aioredis.Redis | None = None
        self._append: AsyncScript | None = None
        self._admit: AsyncScript | None = None
        self.tokens: dict[int, int] = {}
        """Per lot, the fencing token this process writes it with (hall/cluster.py sets it
        through ``fence``); 0 when absent: the lot must have no fence at all."""
        self._queue: deque[Batch] = deque()
        self._more = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def bus(self) -> str:
        """The channel every committed batch's events are published on, in commit order."""
        return channel(self.db, "bus")

    @property
    def db(self) -> int:
        """The Redis database the lots are kept in (the URL's)."""
        db: int = self.redis.connection_pool.connection_kwargs.get("db", 0)
        return db

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("store is not open")
        return self._redis

    # ------------------------------------------------------------------ open and close

    async def open(self) -> None:
        await super().open()
        try:
            # No retries: a command resent after a lost connection could run a commit twice. A
            # deadline on every reply: a Redis that stops answering without closing the
            # connection (frozen, or cut off by the network) fails the commit, and its lots
            # halt and reload, instead of leaving every bid on them waiting for ever. (A commit
            # that timed out may still have been written: the reload reads what was, and a
            # client's retry with the same request id gets that bid's answer.)
            self._redis = aioredis.Redis.from_url(self.url, decode_responses=False, retry=Retry(NoBackoff(), 0),
                                                  socket_timeout=REPLY_S, socket_connect_timeout=REPLY_S)  # fmt: skip
            with _errors():
                await self._check_durability()
                self._append = self._redis.register_script(_APPEND.replace("@BUS@", self.bus))
                self._admit = self._redis.register_script(_ADMIT)
                await self._mirror_bidders()
        except BaseException:
            await self.close()
            raise
        self._stopping = False
        self._more = asyncio.Event()  # of this loop
        self._task = asyncio.get_running_loop().create_task(self._run(), name="hall-redis-journal")

    async def _check_durability(self) -> None:
        """Refuse a Redis that could lose an acknowledged write (see the module's docstring)."""
        redis_ = self.redis
        try:
            settings: dict[str, str] = {}
            for name in _REQUIRED:
                for setting, value in (await redis_.config_get(name)).items():
                    settings[_text(setting)] = _text(value)
        except redis.exceptions.ResponseError as exc:  # CONFIG refused or renamed: nothing says it is durable
            settings = {"CONFIG GET": str(exc)}
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        if all(settings.get(name) == value for name, value in _REQUIRED.items()):
            return
        where = _where(redis_)
        if self.durability == "none":
            log.warning("Redis at %s could lose acknowledged bids (%s); running anyway, as %s=none says",
                        where, shown, DURABILITY_ENV)  # fmt: skip
            return
        raise StoreError(
            f"Redis at {where} could lose acknowledged bids ({shown}): the hall needs appendonly yes, "
            f"appendfsync always and aof-load-truncated no; set them, or set {DURABILITY_ENV}=none to run "
            f"without that promise"
        )

    async def _mirror_bidders(self) -> None:
        """Copy into SQLite's ``bidders`` the admissions that reached Redis but not SQLite (a
        crash between the two writes of ``add_bidders``): pages, registrations and deals JOIN
        that table. Only lots whose counts differ are read whole."""
        lots = [row[0] for row in await self.fetchall("SELECT id FROM lots ORDER BY id")]
        counted = {row[0]: row[1] for row in await self.fetchall("SELECT lot, count(*) FROM bidders GROUP BY lot")}
        redis_ = self.redis
        missing: list[tuple[int, int, str, int | None]] = []
        for start in range(0, len(lots), _LOTS_PER_READ):
            chunk = lots[start : start + _LOTS_PER_READ]
            async with redis_.pipeline(transaction=False) as pipe:
                for lot in chunk:
                    pipe.hlen(key(lot, "bidders"))
                lengths = await pipe.execute()
            short = [lot for lot, n in zip(chunk, lengths, strict=True) if n != counted.get(lot, 0)]
            if not short:
                continue
            known = {(r[0], r[1]) for r in await self.fetchall(
                f"SELECT lot, user FROM bidders WHERE lot IN ({', '.join('?' * len(short))})", short)}  # fmt: skip
            for lot, bidders in zip(short, await self._bidders(short), strict=True):
                missing.extend((lot, user, r.number, r.org) for user, r in bidders if (lot, user) not in known)
        if missing:
            log.warning("%d admissions found in Redis but not in SQLite: copied", len(missing))
            await self._mirror(missing)

    async def _mirror(self, rows: Sequence[tuple[int, int, str, int | None]]) -> None:
        async with self.transaction() as db:
            await db.executemany("INSERT OR IGNORE INTO bidders (lot, user, number, org) VALUES (?, ?, ?, ?)", rows)

    async def close(self) -> None:
        """Commit what was handed over, stop the task, then close Redis and SQLite."""
        self._stopping = True
        self._more.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        await super().close()

    # ------------------------------------------------------------------ fencing

    def fence(self, lot: int, token: int) -> None:
        """Write ``lot`` with ``token`` from now on. Its head is read from Redis again before
        its next batch: another process may have appended since this one last wrote it."""
        self.tokens[lot] = token
        self._heads.pop(lot, None)

    def unfence(self, lot: int) -> None:
        """Forget ``lot``'s token (its writes then require that it has no fence)."""
        self.tokens.pop(lot, None)
        self._heads.pop(lot, None)

    # ------------------------------------------------------------------ writes

    def hand_over(self, batch: Batch) -> None:
        if self._task is None or self._stopping:
            raise StoreError("store is not open")
        self._queue.append(batch)
        self._more.set()

    async def _run(self) -> None:
        """Commit what is queued, back to back, until closed and drained."""
        queue = self._queue
        while True:
            if not queue:
                if self._stopping:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            taken = take(queue)
            try:
                await self._commit_batches(taken)
            except Exception as exc:  # noqa: BLE001 - any failure fails the batches, never lost
                log.error("commit of %d events failed: %s", sum(len(b.events) for b in taken), exc)
                behind = list(queue)  # made after the failed ones, and may depend on them
                queue.clear()
                for batch in (*taken, *behind):
                    batch.settle(exc)
            else:
                for batch in taken:
                    batch.settle(None)

    async def _commit_batches(self, batches: Sequence[Batch]) -> None:
        events, snapshots = merged(batches)
        # Each lot's events in seq order, checked to follow on from one another (the script
        # checks that the first follows the stored ones).
        bodies = [encode(e) for e in events]
        by_lot: dict[int, list[int]] = {}
        for i, e in enumerate(events):
            by_lot.setdefault(e.lot, []).append(i)
        for lot, indexes in by_lot.items():
            seqs = [events[i].seq for i in indexes]
            if seqs != sorted(seqs):
                indexes.sort(key=lambda i: events[i].seq)
                seqs.sort()
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                raise StoreError(f"lot {lot}: the batch's seqs {seqs[:20]} do not follow on from one another")
        lots = list(by_lot) + [lot for lot in snapshots if lot not in by_lot]
        with _errors():
            try:
                heads = await self._last_digests(by_lot)
                ordered = [events[i] for indexes in by_lot.values() for i in indexes]
                digests = links(heads, ordered)
                keys: list[str] = []
                args: list[bytes | int | str] = [len(lots)]
                elements: list[bytes] = []
                at = 0
                for lot in lots:
                    indexes = by_lot.get(lot, [])
                    keys += [key(lot, "ev"), key(lot, "fence"), key(lot, "snap")]
                    snapshot = snapshots.get(lot)
                    args += [lot, self.tokens.get(lot, 0), events[indexes[0]].seq - 1 if indexes else -1,
                             len(indexes), b"" if snapshot is None else _encoder.encode(snapshot)]  # fmt: skip
                    for i in indexes:
                        elements.append(digests[at] + bodies[i])
                        at += 1
                message = _ARRAY32 + len(bodies).to_bytes(4, "big") + b"".join(bodies) if bodies else b""
                await self._script(self._append, keys, [*args, message, *elements])
            except BaseException:
                # Whatever Redis holds now, these lots' heads are read from it again.
                for lot in lots:
                    self._heads.pop(lot, None)
                raise
            self._heads.update(heads)

    async def _script(self, script: AsyncScript | None, keys: list[str], args: Sequence[bytes | int | str]) -> object:
        if script is None:
            raise StoreError("store is not open")
        try:
            return await script(keys=keys, args=args)
        except redis.exceptions.ResponseError as exc:
            kind, _, rest = str(exc).partition(" ")
            if kind == "FENCED":
                lots = {int(lot) for lot in rest.split()}
                raise Fenced(f"lots {sorted(lots)} are fenced: this process's token is not theirs", lots) from exc
            raise StoreError(str(exc)) from exc

    async def _last_digests(self, lots: dict[int, list[int]]) -> dict[int, bytes]:
        """The digest after each lot's last stored event: from memory, or from Redis (the last
        element of its list) for the lots this store has not written since it opened, was
        fenced, or failed to write; one round trip for all of them."""
        heads = self._heads
        unknown = [lot for lot in lots if lot not in heads]
        if unknown:
            async with self.redis.pipeline(transaction=False) as pipe:
                for lot in unknown:
                    pipe.lindex(key(lot, "ev"), -1)
                for lot, last in zip(unknown, await pipe.execute(), strict=True):
                    heads[lot] = GENESIS if last is None else last[:DIGEST]
        return {lot: heads[lot] for lot in lots}

    async def add_bidder(self, lot: int, user: int, org: int | None) -> Registrant:
        (registrant,) = await self.add_bidders([(lot, user, org)])
        return registrant

    async def add_bidders(self, admissions: Sequence[tuple[int, int, int | None]]) -> list[Registrant]:
        """One script for all the admissions (``_ADMIT``), then their rows in SQLite too."""
        if not admissions:
            return []
        with _errors():
            values = await self._script(
                self._admit, [key(lot, "bidders") for lot, _, _ in admissions],
                [v for _, user, org in admissions for v in (user, _encoder.encode(org))],
            )  # fmt: skip
        assert isinstance(values, list)
        registrants = [Registrant(*_registrant_decoder.decode(value)) for value in values]
        await self._mirror([(lot, user, r.number, r.org) for (lot, user, _), r in zip(admissions, registrants, strict=True)])
        return registrants

    # ------------------------------------------------------------------ reads

    async def lots(self) -> AsyncIterator[StoredLot]:
        heads = await self.fetchall(f"{_HEADS} ORDER BY id")
        async with contextlib.aclosing(self._read_lots(heads)) as found:
            async for stored in found:
                yield stored

    async def lot(self, lot: int) -> StoredLot | None:
        heads = await self.fetchall(f"{_HEADS} WHERE id = ?", (lot,))
        async with contextlib.aclosing(self._read_lots(heads)) as found:
            async for stored in found:
                return stored
        return None

    async def _read_lots(self, heads: Sequence[sqlite3.Row]) -> AsyncGenerator[StoredLot, None]:
        """The lots of ``heads`` (rows of ``_HEADS``) with their snapshots, the events after
        them and their bidders, ``_LOTS_PER_READ`` lots at a time: two pipelined round trips
        a chunk (the snapshots say where each lot's events start)."""
        for start in range(0, len(heads), _LOTS_PER_READ):
            chunk = heads[start : start + _LOTS_PER_READ]
            ids: list[int] = [head[0] for head in chunk]
            with _errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for lot in ids:
                        pipe.get(key(lot, "snap"))
                        pipe.hgetall(key(lot, "bidders"))
                    found = await pipe.execute()
                states = [None if body is None else _state_decoder.decode(body) for body in found[::2]]
                async with self.redis.pipeline(transaction=False) as pipe:
                    for lot, state in zip(ids, states, strict=True):
                        pipe.lrange(key(lot, "ev"), 0 if state is None else state.seq, -1)
                    tails = await pipe.execute()
            for head, state, tail, bidders in zip(chunk, states, tails, found[1::2], strict=True):
                yield _stored(head, state, _decode_run(head[0], 0 if state is None else state.seq, tail),
                              _registrants(bidders))  # fmt: skip

    async def _bidders(self, lots: Sequence[int]) -> list[list[tuple[int, Registrant]]]:
        """Each lot's bidders, by user id, one pipelined round trip."""
        with _errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for lot in lots:
                    pipe.hgetall(key(lot, "bidders"))
                found = await pipe.execute()
        return [_registrants(rows) for rows in found]

    async def events_since(self, lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        start = max(seq, 0)
        with _errors():
            elements = await self.redis.lrange(key(lot, "ev"), start, -1 if limit < 0 else start + limit - 1)
        return _decode_run(lot, start, cast(list[bytes], elements))

    async def chain(self, lot: int, seq: int, limit: int = -1) -> list[tuple[int, bytes, bytes]]:
        start = max(seq, 1) - 1
        with _errors():
            elements = cast(list[bytes], await self.redis.lrange(key(lot, "ev"), start, -1 if limit < 0 else start + limit - 1))
        return [(start + 1 + i, e[DIGEST:], e[:DIGEST]) for i, e in enumerate(elements)]

    async def head(self, lot: int) -> tuple[int, bytes]:
        with _errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.llen(key(lot, "ev"))
                pipe.lindex(key(lot, "ev"), -1)
                length, last = await pipe.execute()
        return (0, GENESIS) if last is None else (length, last[:DIGEST])

    async def events_at(self, keys: Sequence[tuple[int, int]]) -> list[AnyEvent]:
        if not keys:
            return []
        with _errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for lot, seq in keys:
                    pipe.lindex(key(lot, "ev"), seq - 1)
                found = await pipe.execute()
        return [decode(e[DIGEST:]) for (_, seq), e in zip(keys, found, strict=True) if e is not None and seq >= 1]


def _decode_run(lot: int, after: int, elements: Sequence[bytes]) -> list[AnyEvent]:
    """The events of ``lot``'s ``ev`` elements from index ``after``, decoded in one call (their
    bodies as one msgpack array). They must be seqs ``after`` + 1 on, in order; the first and
    the last are checked: an element stored twice, or lost, moves every element after it, so it
    shows at one end or the other of any read that spans it."""
    if not elements:
        return []
    events = _events_decoder.decode(_ARRAY32 + len(elements).to_bytes(4, "big") + b"".join(e[DIGEST:] for e in elements))
    if events[0].seq != after + 1 or events[-1].seq != after + len(events):
        raise StoreError(
            f"lot {lot}: its events in Redis are not in order (index {after} holds seq {events[0].seq}, "
            f"index {after + len(events) - 1} seq {events[-1].seq}); was the append-only file loaded "
            f"with aof-load-truncated yes after a crash? `hall verify --lot {lot}` names the first bad seq"
        )
    return events


def _registrants(rows: dict[bytes, bytes]) -> list[tuple[int, Registrant]]:
    """A lot's ``bidders`` hash as ``StoredLot.bidders``: (user, registrant) by user id."""
    return sorted((int(user), Registrant(*_registrant_decoder.decode(value))) for user, value in rows.items())


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _where(client: aioredis.Redis) -> str:
    """host:port/db of the client, without any password the URL may hold."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
