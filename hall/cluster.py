"""The hall on several processes: one Redis between them, each lot owned by one process.

Every process keeps every lot in memory. The lot's owner, the process holding its lease, is
the only one that judges its commands, runs its clock and writes its events; the others keep
a replica, fed by the owner's durable events, which the store publishes on its bus from the
same script that writes them (hall/store/redis.py): nothing is published that is not durable,
and batches come in commit order. So pages, resume from a sequence number and fan-out work
alike on every process, and each process encodes a lot's frames once for its own watchers.

Leases: ``hall:{lot}:lease`` holds ``TOKEN:PROCESS`` with an expiry (``lease_ms``); the owner
renews its leases every third of that. Taking a free lease increments the lot's ``fence``
counter, and the store refuses any write whose token is not that counter's value, so a
process that paused or lost Redis past its lease can never append after another took over:
its write fails, its in-flight answers say ``unavailable`` and the lot becomes a replica.
Which process takes a free lease: the one that rendezvous hashing over the live processes
(``hall:procs``, a heartbeat each) prefers; any other after the lease has been seen free on
two ticks, so that a lot whose preferred process is gone is taken within about
``lease_ms`` plus a tick. A new owner rebuilds the lot from the store and re-arms its timer.

Forwarding: a command for a lot owned elsewhere is published to the owner's channel with a
request number; the owner judges it as its own sockets' commands and answers once durable.
A request that finds no owner, or a process that no longer owns the lot (``moved``), is sent
again a moment later, and one not answered is sent again every ``RESEND_S`` to whoever owns
the lot by then, until ``FORWARD_S`` beyond two leases; then it is answered ``unavailable``.
The owner answers a repeat as it answered the first (a request id is judged once), and so does
the client's own retry with the same ``req``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec
from redis.exceptions import NoScriptError, RedisError

from hall import metrics
from hall.engine import Accepted, AnyEvent, Code, Registrant, Rejection, Result
from hall.runtime import UNAVAILABLE, Judgement, Runtime
from hall.store.base import StoreError
from hall.store.redis import RedisStore, channel, key

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

PROCESSES: Final = "hall:procs"
"""A sorted set: each live process, scored by when its heartbeat runs out (epoch ms)."""
FORWARD_S: Final = 5.0
"""How long a forwarded command may look for its lot's owner before it is ``unavailable``,
beyond two leases (a dead owner's lease runs out, and another process takes the lot)."""
RESEND_S: Final = 0.5
"""How often a forwarded command not yet answered is sent again, to whoever owns the lot by
then: an owner that died with it is replaced, and the owner answers a repeat as the first."""
HAND_BACK: Final = 16
"""Lots a process gives back to their preferred process per tick (``Cluster._hand_back``)."""
RETRY_S: Final = 0.05
"""How soon a forwarded command that found no owner is sent again."""

_DOWN: Final = (RedisError, OSError, StoreError)
"""What Redis being away raises, directly or through the store."""

# Lua, one lot a call (its keys share a slot): a pipeline of them is one round trip.
_ACQUIRE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
"""
"""KEYS: lease, fence; ARGV: process, ms (and a token, unused). The new fencing token, or 0 when
the lease is held."""
_RENEW: Final = """
local mine = ARGV[3] .. ':' .. ARGV[1]
local held = redis.call('GET', KEYS[1])
if held == mine or (not held and redis.call('GET', KEYS[2]) == ARGV[3]) then
    redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
    return 1
end
return 0
"""
"""KEYS: lease, fence; ARGV: process, ms, token. 1 while the token is still the lot's (a lease
that ran out with nobody taking it is taken back), else 0: lost."""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[3] .. ':' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""KEYS: lease, fence; ARGV: process, ms, token. Delete the lease if it is still this one."""


class Forward(msgspec.Struct, tag="forward", kw_only=True):
    id: int
    reply: str
    """The asking process's channel."""
    judgement: Judgement


class Answer(msgspec.Struct, tag="answer", kw_only=True, omit_defaults=True):
    id: int
    moved: bool = False
    """This process does not own the lot (any more): ask its owner."""
    ok: bool = False
    seq: int = 0
    price: int | None = None
    code: str = ""
    message: str = ""

    @classmethod
    def of(cls, id: int, result: Result) -> Answer:
        if isinstance(result, Accepted):
            return cls(id=id, ok=True, seq=result.seq, price=result.price)
        return cls(id=id, code=result.code.value, message=result.message)

    def result(self) -> Result:
        return Accepted(self.seq, self.price) if self.ok else Rejection(Code(self.code), self.message)


class Created(msgspec.Struct, tag="created"):
    lots: list[int]


class Admitted(msgspec.Struct, tag="admitted"):
    admissions: list[tuple[int, int, Registrant]]


class Published(msgspec.Struct, tag="published"):
    session: int
    lots: list[int]


Message = Forward | Answer | Created | Admitted | Published
_encode: Final = msgspec.msgpack.Encoder().encode
_decode: Final = msgspec.msgpack.Decoder(Message).decode
_events: Final = msgspec.msgpack.Decoder(list[AnyEvent]).decode


def process_name() -> str:
    """This process's name among the hall's: host, pid and a random part (a pid is reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def preferred(processes: Sequence[str], lot: int) -> str:
    """The live process that should own ``lot``: rendezvous hashing, so that a process coming
    or going moves only its share of the lots."""
    return max(processes, key=lambda name: hashlib.blake2b(f"{name}/{lot}".encode(), digest_size=8).digest())


class Cluster:
    """This process's part in a hall on several processes (``Runtime.peers``)."""

    def __init__(self, store: RedisStore, runtime: Runtime, *, lease_ms: int = 3000, name: str | None = None) -> None:
        self.store = store
        self.runtime = runtime
        self.lease_ms = lease_ms
        self.name = name or process_name()
        self.channel = self._inbox(self.name)
        """Where the others send this process forwarded commands and answers."""
        self.control = channel(store.db, "control")
        """Lots created, bidders admitted, sessions published, for every process."""
        self.owned: dict[int, int] = {}
        """The lots this process owns, with their fencing tokens."""
        self.owners: dict[int, str] = {}
        """Who owns the other lots, as last read."""
        self.processes: list[str] = [self.name]
        self.patience = FORWARD_S + 2 * lease_ms / 1000
        """Seconds a forwarded command may wait for its answer (``FORWARD_S``)."""
        self.on_published: Callable[[int, list[int]], Awaitable[None]] | None = None
        """What to do when another process published a session (``Auctions.learn``, the hub)."""
        self.on_missed: Callable[[], Awaitable[None]] | None = None
        """What to do after a lost subscription, besides catching the replicas up: learn from
        the store what messages said meanwhile (``Auctions.catch_up``: published sessions)."""
        self._valid_until = 0.0
        """Monotonic time until which the leases renewed last are surely still ours."""
        self._free: set[int] = set()
        self._steady = 0
        """Ticks for which the live processes have stayed the same."""
        self._waiting: dict[int, tuple[asyncio.Future[Result], Judgement, float]] = {}
        self._next = 0
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._chores: set[asyncio.Task[None]] = set()
        self._catching: set[int] = set()
        self._pubsub: PubSub | None = None
        self._scripts: dict[str, str] = {}

    @property
    def redis(self) -> Redis:
        return self.store.redis

    @property
    def tick_s(self) -> float:
        return self.lease_ms / 3000

    # ------------------------------------------------------------------ life cycle

    async def open(self) -> None:
        """Before ``Runtime.start``: listen first, so that no event committed while the lots are
        read is missed (``start`` then catches every replica up)."""
        await self._load_scripts()
        await self._heartbeat()
        self._pubsub = await self._subscribe()
        self._tasks.append(asyncio.get_running_loop().create_task(self._listen(), name="hall-cluster-listen"))
        self._tasks.append(asyncio.get_running_loop().create_task(self._send_forever(), name="hall-cluster-send"))

    async def start(self) -> None:
        """After ``Runtime.start``: catch the replicas up, wait a tick to see the processes that
        start beside this one (so that the first claims are shared out), then claim and renew."""
        for lot in list(self.runtime.lots):
            await self.runtime.catch_up(lot)
        await asyncio.sleep(self.tick_s)
        await self.tick()
        self._tasks.append(asyncio.get_running_loop().create_task(self._tick_forever(), name="hall-cluster-leases"))

    async def stop(self) -> None:
        """Give the leases back (after ``Runtime.stop`` has written what was queued), so that
        the other processes take the lots at once rather than after ``lease_ms``."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._chores, return_exceptions=True)
        self._tasks.clear()
        for future, _, _ in self._waiting.values():
            if not future.done():
                future.set_result(UNAVAILABLE)
        self._waiting.clear()
        with contextlib.suppress(*_DOWN):
            await self._each_lot("release", list(self.owned.items()))
            await self.redis.zrem(PROCESSES, self.name)
        self.owned.clear()
        if self._pubsub is not None:
            with contextlib.suppress(*_DOWN):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None

    def stop_claiming(self) -> None:
        """Before ``Runtime.stop``: take no more lots while the journal drains."""
        for task in self._tasks:
            if task.get_name() == "hall-cluster-leases":
                task.cancel()

    # ------------------------------------------------------------------ Runtime.peers

    def owns(self, lot: int) -> bool:
        return lot in self.owned and time.monotonic() < self._valid_until

    def forward(self, judgement: Judgement) -> asyncio.Future[Result]:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._next += 1
        self._waiting[self._next] = (future, judgement, time.monotonic() + self.patience)
        self._route(self._next)
        return future

    async def created(self, lot: int) -> None:
        tokens = await self._acquire([lot])
        if lot not in tokens:
            raise RuntimeError(f"lot {lot} was leased before its creator could take it")
        await self._tell(Created([lot]))

    async def admitted(self, admissions: Sequence[tuple[int, int, Registrant]]) -> None:
        await self._tell(Admitted(list(admissions)))

    async def _tell(self, message: Created | Admitted | Published) -> None:
        """Publish to every process now, not through the outbox: what the caller answers next
        (a lot created, a bidder admitted) must not reach a client before the processes it may
        ask next have it. This PUBLISH is done when it returns; a command the client sends
        afterwards, through any process, is forwarded by a later PUBLISH, and Redis writes to
        each subscriber's connection in the order it ran them, so the owner reads this first.
        A failure raises (a ``StoreError``): the caller fails, and its retry tells them again."""
        try:
            await self.redis.publish(self.control, _encode(message))
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis: {exc}") from exc

    async def published(self, session: int, lots: Sequence[int]) -> None:
        """A session published here: the other processes index it and announce its lots. It is
        published in the store already, so a failed message is not the publisher's failure:
        a process that could not hear it learns the session when it subscribes again
        (``on_missed``), as every process whose subscription Redis's failure broke does."""
        try:
            await self._tell(Published(session, list(lots)))
        except StoreError as exc:
            log.warning("session %s published, but not told to the other processes: %s", session, exc)

    # ------------------------------------------------------------------ leases

    async def tick(self) -> None:
        """Heartbeat; renew the leases held; read who holds the others; take the free ones
        this process should have (or any left free for two ticks)."""
        started = time.monotonic()
        await self._heartbeat()
        if self.owned:
            lots = list(self.owned)
            kept = await self._each_lot("renew", [(lot, self.owned[lot]) for lot in lots])
            for lot, ok in zip(lots, kept, strict=True):
                if not ok:
                    self._lose(lot)
        self._valid_until = started + self.lease_ms / 1000 * 0.9
        await self._let_go([lot for lot in self.owned if self.runtime.finished(lot)], "finished")
        await self._hand_back()
        others = [lot for lot in self.runtime.lots if lot not in self.owned and not self.runtime.finished(lot)]
        if not others:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for lot in others:
                pipe.get(key(lot, "lease"))
            held = await pipe.execute()
        free = {lot for lot, value in zip(others, held, strict=True) if not self._learn(lot, value)}
        claim = [lot for lot in free if lot in self._free or preferred(self.processes, lot) == self.name]
        self._free = free - set(claim)
        if claim:
            await self._acquire(claim)

    async def _heartbeat(self) -> None:
        now = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(PROCESSES, {self.name: now + self.lease_ms})
            pipe.zremrangebyscore(PROCESSES, "-inf", now)
            pipe.zrange(PROCESSES, 0, -1)
            *_, names = await pipe.execute()
        processes = sorted({n.decode() for n in names} | {self.name})
        self._steady = self._steady + 1 if processes == self.processes else 0
        self.processes = processes

    async def _hand_back(self) -> None:
        """Give up to ``HAND_BACK`` lots a tick to the process rendezvous hashing prefers now
        (one that started after this one took them, or came back): only once the processes
        have been the same for two ticks, and only lots with nothing waiting for a commit. The
        lot is disowned before its lease is released, so nothing is written after; the other
        process takes it on its next tick, and commands meanwhile are retried (``_route``)."""
        if self._steady < 2 or len(self.processes) < 2:
            return
        moving = [lot for lot in self.owned
                  if preferred(self.processes, lot) != self.name and self.runtime.quiet(lot)][:HAND_BACK]  # fmt: skip
        await self._let_go(moving, "handed back")
        for lot in moving:
            self.owners[lot] = preferred(self.processes, lot)

    async def _let_go(self, lots: Sequence[int], why: str) -> None:
        """Release these lots' leases (each quiet: nothing of it waits for a commit), having
        stopped judging them first, so that nothing is written after. A finished lot needs no
        owner at all: every process answers it from its own copy (``Runtime.finished``)."""
        if not lots:
            return
        tokens = [(lot, self.owned.pop(lot)) for lot in lots]
        for lot in lots:
            self.runtime.disown(lot)
            self.store.unfence(lot)
        await self._each_lot("release", tokens)
        log.info("lots %s: %s", why, list(lots), extra={"lots": list(lots)})

    async def _acquire(self, lots: Sequence[int]) -> dict[int, int]:
        """Take the free leases of ``lots``; each taken lot is fenced, rebuilt and owned."""
        tokens = await self._each_lot("acquire", [(lot, 0) for lot in lots])
        taken = {lot: token for lot, token in zip(lots, tokens, strict=True) if token}
        self._valid_until = max(self._valid_until, time.monotonic() + self.lease_ms / 1000 * 0.9)
        for lot, token in taken.items():
            self.store.fence(lot, token)
            self.owners.pop(lot, None)
            if lot not in self.runtime.lots or await self.runtime.own(lot):
                self.owned[lot] = token
                log.info("lot owned", extra={"lot": lot, "code": f"token {token}"})
            else:  # gone from the store: not ours to write (its lease runs out unrenewed)
                self.store.unfence(lot)
        return taken

    async def _load_scripts(self) -> None:
        for name, script in (("acquire", _ACQUIRE), ("renew", _RENEW), ("release", _RELEASE)):
            self._scripts[name] = await self.redis.script_load(script)

    async def _each_lot(self, script: str, lots: Sequence[tuple[int, int]]) -> list[Any]:
        """Run a lease script once per ``(lot, token)``, all in one pipeline (one round trip;
        each call's keys share the lot's slot). A Redis that restarted has forgotten the
        scripts: they are loaded again and the round is run once more."""
        for attempt in (1, 2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for lot, token in lots:
                    pipe.evalsha(self._scripts[script], 2, key(lot, "lease"), key(lot, "fence"), self.name,
                                 self.lease_ms, token)  # fmt: skip
                try:
                    return await pipe.execute()
                except NoScriptError:
                    if attempt == 2:
                        raise
            await self._load_scripts()
        raise AssertionError("unreachable")

    def _lose(self, lot: int) -> None:
        metrics.LEASES_LOST.inc()
        token = self.owned.pop(lot, None)
        self.store.unfence(lot)
        self.runtime.disown(lot)
        log.warning("lease of lot %s lost (token %s)", lot, token, extra={"lot": lot})

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except _DOWN as exc:
                log.warning("lease round failed: %s", exc)
            except Exception:  # noqa: BLE001 - a bug must not stop the renewals: logged, next tick
                log.exception("lease round failed")

    # ------------------------------------------------------------------ messages out

    def _post(self, channel: str, message: Message) -> None:
        self._outbox.append((channel, _encode(message)))
        self._wake.set()

    async def _send_forever(self) -> None:
        """Publish what was posted, everything waiting in one pipeline."""
        outbox = self._outbox
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not outbox:
                continue
            taken = list(outbox)
            outbox.clear()
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for to, data in taken:
                        pipe.publish(to, data)
                    await pipe.execute()
            except _DOWN as exc:
                log.warning("publishing %d messages failed: %s", len(taken), exc)  # their senders retry

    def _route(self, rid: int) -> None:
        waiting = self._waiting.get(rid)
        if waiting is None:
            return
        future, judgement, deadline = waiting
        if time.monotonic() >= deadline:
            del self._waiting[rid]
            if not future.done():
                metrics.FORWARDED.labels("timeout").inc()
                future.set_result(UNAVAILABLE)
            return
        lot = judgement.lot
        if self.owns(lot):  # taken over here meanwhile
            del self._waiting[rid]
            self._judged_here(judgement, future.set_result)
            return
        owner = self.owners.get(lot)
        if owner is None or owner == self.name:
            self._chore(self._look_up(lot))
            asyncio.get_running_loop().call_later(RETRY_S, self._route, rid)
            return
        self._post(self._inbox(owner), Forward(id=rid, reply=self.channel, judgement=judgement))
        asyncio.get_running_loop().call_later(RESEND_S, self._route, rid)  # answered by then, or sent again

    async def _look_up(self, lot: int) -> None:
        self._learn(lot, await self.redis.get(key(lot, "lease")))

    def _learn(self, lot: int, lease: bytes | str | None) -> bool:
        """Note who holds the lot's lease (its value ``TOKEN:PROCESS``); False when nobody does."""
        if lease is None:
            self.owners.pop(lot, None)
            return False
        text = lease.decode() if isinstance(lease, bytes) else lease
        self.owners[lot] = text.split(":", 1)[1]
        return True

    # ------------------------------------------------------------------ messages in

    async def _subscribe(self) -> PubSub:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.store.bus, self.control, self.channel)
        return pubsub

    async def _listen(self) -> None:
        """Read the subscriptions for ever; after a lost connection, subscribe again and catch
        every replica up from the store (messages published meanwhile are gone)."""
        bus = self.store.bus.encode()
        lost = False
        while True:
            pubsub = self._pubsub
            try:
                if pubsub is None:
                    pubsub = self._pubsub = await self._subscribe()
                    for lot in list(self.runtime.lots):
                        if not self.owns(lot):
                            await self.runtime.catch_up(lot)
                    if lost and self.on_missed is not None:
                        await self.on_missed()
                    lost = False
                while True:
                    # A deadline of its own: the client's reply deadline would end an idle wait.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message["type"] != "message":
                        continue
                    if message["channel"] == bus:
                        self._replicate(message["data"])
                    else:
                        self._handle(_decode(message["data"]))
            except _DOWN as exc:
                log.warning("subscription lost (%s); subscribing again", exc)
                lost = True
                if pubsub is not None:
                    with contextlib.suppress(*_DOWN):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                self._pubsub = None
                await asyncio.sleep(self.tick_s)
            except msgspec.DecodeError as exc:
                log.error("unreadable cluster message dropped: %s", exc)

    def _replicate(self, data: bytes) -> None:
        for lot in self.runtime.replicate(_events(data)):
            if lot not in self._catching:
                self._catching.add(lot)
                self._chore(self._catch_up(lot))

    async def _catch_up(self, lot: int) -> None:
        try:
            await self.runtime.catch_up(lot)
        finally:
            self._catching.discard(lot)

    def _handle(self, message: Message) -> None:
        match message:
            case Forward():
                self._judge(message)
            case Answer():
                self._answered(message)
            case Created():
                for lot in message.lots:
                    self._chore(self.runtime.adopt(lot))
            case Admitted():
                self.runtime.admit(message.admissions)
            case Published():
                if self.on_published is not None:
                    self._chore(self.on_published(message.session, message.lots))

    def _judge(self, forward: Forward) -> None:
        """A command forwarded here: judged as this process's own, answered once durable."""
        rid, reply = forward.id, forward.reply
        if not self.owns(forward.judgement.lot):
            self._post(reply, Answer(id=rid, moved=True))
            return
        self._judged_here(forward.judgement, lambda result: self._post(reply, Answer.of(rid, result)))

    def _judged_here(self, judgement: Judgement, answer: Callable[[Result], None]) -> None:
        """Judge a command for a lot this process owns; ``answer`` its result once durable."""
        result, pending = self.runtime.judge(judgement)
        if pending is None:
            answer(result)
        else:
            self.runtime.then(pending, lambda done: answer(Runtime.outcome(result, done)))

    def _answered(self, answer: Answer) -> None:
        waiting = self._waiting.get(answer.id)
        if waiting is None:
            return  # expired already
        if answer.moved:
            self.owners.pop(waiting[1].lot, None)
            asyncio.get_running_loop().call_later(RETRY_S, self._route, answer.id)
            return
        del self._waiting[answer.id]
        if not waiting[0].done():
            result = answer.result()
            metrics.FORWARDED.labels(metrics.result_label(result)).inc()
            waiting[0].set_result(result)

    def _inbox(self, process: str) -> str:
        """The channel a process reads forwarded commands and their answers on."""
        return channel(self.store.db, f"to:{process}")

    def _chore(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except _DOWN as exc:
                log.warning("cluster chore failed: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)


