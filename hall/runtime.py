"""The asyncio shell around the engine: lots in memory, their clocks, and their journal.

A command runs against its lot synchronously (validate, apply, hand the events to the
journal) and only then awaits, for durability. That ordering is the whole concurrency story:
between two awaits nothing else touches the lot, so no lock is needed, and no result is
returned before the store holds it. Listeners (the fan-out) see events only once durable.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import msgspec

from hall.engine import (
    Accepted,
    Action,
    AnyEvent,
    Code,
    Lot,
    LotSpec,
    Registrant,
    Rejection,
    Result,
    State,
)
from hall.engine.view import LotView
from hall.listing import LotDetails
from hall.store import Journal, Store, StoredLot

log = logging.getLogger(__name__)

Clock = Callable[[], int]
Listener = Callable[[Sequence[AnyEvent]], None]
Pending = asyncio.Future[Any] | None
"""What a judged command still waits for: the commit of what it was judged on, or the answer of
the process that owns its lot (None: nothing)."""

_UNKNOWN_LOT: Final = Rejection(Code.UNKNOWN_LOT, "拍品不存在")
UNAVAILABLE: Final = Rejection(Code.UNAVAILABLE, "存储暂不可用，请稍后重试")
"""The answer to a command whose lot cannot be judged or written now (also hall/cluster.py's)."""
_FORWARDED: Final = Rejection(Code.UNAVAILABLE, "forwarded")
"""The result of a judgement forwarded to the lot's owner: its Pending holds the real one."""
_TERMINAL: Final = (State.CLOSED, State.WITHDRAWN)
_RELOAD_BACKOFF: Final = (0.05, 0.2, 1.0, 5.0)


class Judgement(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A command for a lot, as one process hands it to the lot's owner (hall/cluster.py):
    ``action`` is ``bid`` or an auctioneer's ``Action``; the other fields those of
    ``Runtime.judge_bid`` and ``Runtime.judge_command``."""

    lot: int
    actor: int
    action: str
    req: str
    org: int | None = None
    amount: object = None
    seconds: object = None
    reason: object = None
    bidder: object = None


class Peers(Protocol):
    """The other processes of a hall on several processes (``hall.cluster.Cluster``): each lot
    is owned by one process, which alone judges its commands and writes its events; the others
    keep a replica of it, fed by the owner's durable events."""

    def owns(self, lot: int) -> bool:
        """Whether this process owns the lot now (holds its lease)."""
        ...

    def forward(self, judgement: Judgement) -> asyncio.Future[Result]:
        """Have the lot's owner judge it; the future holds the owner's answer once durable."""
        ...

    async def created(self, lot: int) -> None:
        """A lot this process just created: take its lease, and tell the other processes."""
        ...

    async def admitted(self, admissions: Sequence[tuple[int, int, Registrant]]) -> None:
        """Bidders admitted here (``(lot, user, registrant)``): tell the other processes, before
        the admission is answered, so that a bid sent through any of them after it finds the
        bidder admitted at the lot's owner."""
        ...


def wall_clock() -> int:
    """Epoch milliseconds UTC."""
    return time.time_ns() // 1_000_000


class Runtime:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = wall_clock,
        max_batch: int = 4096,
        snapshot_every: int = 1000,
    ) -> None:
        self.store = store
        self.clock = clock
        self.snapshot_every = snapshot_every
        self.lots: dict[int, Lot] = {}
        self.titles: dict[int, str] = {}
        self.sessions: dict[int, str] = {}
        self.details: dict[int, LotDetails] = {}
        self.journal = Journal(store, max_batch=max_batch, on_commit=self._committed, on_failure=self._failed)
        self.durable: dict[int, int] = {}
        """Per lot, the highest sequence number known to be in the store."""
        self.views: dict[int, LotView] = {}
        """Per lot, what the public may see: the lot as of its last durable event."""
        self._inflight: dict[int, asyncio.Future[None]] = {}
        self._snapshot_seq: dict[int, int] = {}
        self._halted: set[int] = set()
        self._timers: dict[int, tuple[int, asyncio.TimerHandle]] = {}
        self._listeners: list[Listener] = []
        self._reloads: set[asyncio.Task[None]] = set()
        self.peers: Peers | None = None
        """Set before ``start`` when the hall runs on several processes: then the lots this
        process does not own are replicas (no clock, no journal), their commands forwarded."""

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Rebuild every lot from the store, start the journal, and let due clocks fire."""
        started = time.perf_counter()
        replayed = 0
        # Recovery makes a million objects the cyclic collector tracks (a key per remembered
        # request), none of them garbage; with the server's own heap beside them the collector
        # took 2.1 of 7.5 s of a start replaying a million events (bench/recovery.py).
        collecting = gc.isenabled()
        gc.disable()
        try:
            async for stored in self.store.lots():
                self._install(stored, live=self.peers is None)
                replayed += len(stored.events)
        finally:
            if collecting:
                gc.enable()
        self.journal.start()
        if self.peers is None:
            for lot in self.lots.values():
                self._settle(lot)
        log.info("recovered %d lots, replaying %d events, in %.3f s", len(self.lots), replayed,
                 time.perf_counter() - started, extra={"lots": len(self.lots)})  # fmt: skip

    async def stop(self) -> None:
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._reloads):
            task.cancel()
        await asyncio.gather(*self._reloads, return_exceptions=True)
        await self.journal.close()

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with each durable batch of events, in commit order."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ lots

    async def create_lot(
        self, spec: LotSpec, title: str = "", session: str = "", details: LotDetails | None = None
    ) -> Lot:
        details = details or LotDetails()
        lot_id = await self.store.create_lot(spec, title, session, details)
        if self.peers is not None:
            await self.peers.created(lot_id)
        self._install(StoredLot(id=lot_id, spec=spec, title=title, session=session, details=details,
                                snapshot=None, events=[], bidders=[]))  # fmt: skip
        lot = self.lots[lot_id]
        await self.settled(*self._submit(lot, Accepted(lot.seq, lot.price)))  # a lot created late opens at once
        return lot

    async def register(self, lot_id: int, user: int, org: int | None) -> Registrant:
        """Admit an approved bidder; it may bid as soon as this returns, live lot or not."""
        (registrant,) = await self.register_many([(lot_id, user, org)])
        return registrant

    async def register_many(self, admissions: Sequence[tuple[int, int, int | None]]) -> list[Registrant]:
        """``register`` for each ``(lot, user, org)``, written in one transaction: admitting a
        thousand bidders to a hundred lots one commit at a time takes minutes."""
        unknown = {lot_id for lot_id, _, _ in admissions} - self.lots.keys()
        if unknown:
            raise KeyError(min(unknown))
        registrants = await self.store.add_bidders(admissions)
        admitted = [(lot_id, user, r) for (lot_id, user, _), r in zip(admissions, registrants, strict=True)]
        self.admit(admitted)  # a reload may have replaced a lot while we awaited: the lot there now
        if self.peers is not None:
            await self.peers.admitted(admitted)
        return registrants

    def admit(self, admissions: Sequence[tuple[int, int, Registrant]]) -> None:
        """Bidders admitted (here, or by another process), stored already: into their lots."""
        for lot_id, user, registrant in admissions:
            lot = self.lots.get(lot_id)
            if lot is not None:
                lot.register(user, registrant)

    # ------------------------------------------------------------------ commands

    async def bid(self, lot_id: int, user: int, org: int | None, amount: object, req: str) -> Result:
        return await self.settled(*self.judge_bid(lot_id, user, org, amount, req))

    def judge_bid(self, lot_id: int, user: int, org: int | None, amount: object, req: str) -> tuple[Result, Pending]:
        """Judge a bid now; its result may be told once ``Pending`` is committed (see
        ``settled`` and ``outcome``). Synchronous, so a socket can pipeline bids
        without a task each."""
        lot = self.lots.get(lot_id)
        if lot is None:
            return _UNKNOWN_LOT, None
        if self.peers is not None and self._elsewhere(lot_id):
            return _FORWARDED, self.peers.forward(Judgement(lot=lot_id, actor=user, action="bid", req=req, org=org,
                                                            amount=amount))  # fmt: skip
        if lot_id in self._halted:
            return UNAVAILABLE, None
        return self._submit(lot, lot.bid(user, org, amount, req, self.clock()))

    async def command(self, lot_id: int, actor: int, action: Action, req: str, **fields: object) -> Result:
        """An auctioneer's command (``fields``: those of ``judge_command``); authorization is
        the caller's job, rules are the lot's."""
        return await self.settled(*self.judge_command(lot_id, actor, action, req, **fields))

    def judge_command(
        self,
        lot_id: int,
        actor: int,
        action: Action,
        req: str,
        *,
        seconds: object = None,
        reason: object = None,
        amount: object = None,
        bidder: object = None,
    ) -> tuple[Result, Pending]:
        lot = self.lots.get(lot_id)
        if lot is None:
            return _UNKNOWN_LOT, None
        if self.peers is not None and self._elsewhere(lot_id):
            return _FORWARDED, self.peers.forward(Judgement(lot=lot_id, actor=actor, action=action.value, req=req,
                                                            seconds=seconds, reason=reason, amount=amount,
                                                            bidder=bidder))  # fmt: skip
        if lot_id in self._halted:
            return UNAVAILABLE, None
        now = self.clock()
        match action:
            case Action.OPEN:
                result = lot.open(actor, req, now)
            case Action.PAUSE:
                result = lot.pause(actor, req, now)
            case Action.RESUME:
                result = lot.resume(actor, req, now)
            case Action.EXTEND:
                result = lot.extend(actor, req, now, seconds)
            case Action.FAIR_WARNING:
                result = lot.fair_warning(actor, req, now)
            case Action.HAMMER:
                result = lot.hammer(actor, req, now)
            case Action.WITHDRAW:
                result = lot.withdraw(actor, req, now, reason)
            case Action.FLOOR_BID:
                if not isinstance(bidder, str):
                    return Rejection(Code.BAD_REQUEST, "现场出价须填写竞买号"), None
                result = lot.floor_bid(actor, bidder, amount, req, now)
        return self._submit(lot, result)

    @staticmethod
    async def settled(result: Result, pending: Pending) -> Result:
        """The result, once what it was judged on is durable; ``unavailable`` if that failed."""
        if pending is None:
            return result
        await asyncio.wait((pending,))  # the commit goes on if the caller is cancelled
        return Runtime.outcome(result, pending)

    def then(self, pending: asyncio.Future[None], callback: Callable[[asyncio.Future[None]], None]) -> None:
        """Call ``callback(pending)`` (a judgement's Pending) in the call that learns its commit
        is over, right after the listeners: the sockets' acks go out in that loop turn, not in
        the next, as with a done-callback (``Journal.then``)."""
        self.journal.then(pending, callback)

    @staticmethod
    def outcome(result: Result, committed: asyncio.Future[Any]) -> Result:
        """``settled`` for a caller that waited on ``committed`` (a judgement's Pending) with a
        callback, answering many judgements at once: the result (the owner's, for a forwarded
        one), or ``unavailable``."""
        if committed.cancelled() or committed.exception() is not None:
            return UNAVAILABLE
        if result is _FORWARDED:
            answer: Result = committed.result()
            return answer
        return result

    def judge(self, judgement: Judgement) -> tuple[Result, Pending]:
        """A judgement forwarded by another process, judged here (this process owns the lot)."""
        if judgement.action == "bid":
            return self.judge_bid(judgement.lot, judgement.actor, judgement.org, judgement.amount, judgement.req)
        try:
            action = Action(judgement.action)
        except ValueError:
            return Rejection(Code.BAD_REQUEST, "未知的指令"), None
        return self.judge_command(judgement.lot, judgement.actor, action, judgement.req, seconds=judgement.seconds,
                                  reason=judgement.reason, amount=judgement.amount, bidder=judgement.bidder)

    # ------------------------------------------------------------------ owners and replicas

    async def own(self, lot_id: int) -> bool:
        """This process has just taken the lot's lease (hall/cluster.py): rebuild it from the
        store, which holds every event its previous owner wrote (it can write no more), let its
        clock act and arm its timer. False when the store does not know the lot."""
        stored = await self.store.lot(lot_id)
        if stored is None:
            return False
        self._install(stored, live=True)
        self._halted.discard(lot_id)
        self._settle(self.lots[lot_id])
        return True

    def disown(self, lot_id: int) -> None:
        """The lot's lease is lost: stop its clock; from now on it is a replica. Events still
        being written are refused by the store (their token is stale) and the lot reloads."""
        timer = self._timers.pop(lot_id, None)
        if timer is not None:
            timer[1].cancel()

    def _elsewhere(self, lot_id: int) -> bool:
        """Whether another process judges the lot: it is not ours, and not over (a finished lot
        is answered from any copy)."""
        return self.peers is not None and not self.peers.owns(lot_id) and not self.finished(lot_id)

    def finished(self, lot_id: int) -> bool:
        """Whether the lot is over (closed or withdrawn) with every event durable: nothing can
        change it any more, so every process answers its commands from its own copy (a refusal,
        or the answer a retried request had), and nobody needs to own it (hall/cluster.py)."""
        lot = self.lots.get(lot_id)
        return lot is not None and lot.state in _TERMINAL and lot.seq == self.durable.get(lot_id)

    def quiet(self, lot_id: int) -> bool:
        """Whether all of the lot's events are durable (none waits for a commit)."""
        lot = self.lots.get(lot_id)
        return lot is not None and lot.seq == self.durable.get(lot_id) and lot_id not in self._halted

    async def adopt(self, lot_id: int) -> None:
        """A lot another process created: keep a replica of it."""
        if lot_id in self.lots:
            return
        stored = await self.store.lot(lot_id)
        if stored is not None and lot_id not in self.lots:
            self._install(stored, live=False)

    def replicate(self, events: Sequence[AnyEvent]) -> set[int]:
        """Durable events of lots owned elsewhere, in commit order (the bus): apply each to its
        replica and tell the listeners. Events already seen are skipped; the lots where one is
        missing are answered, to be caught up from the store (``catch_up``)."""
        peers = self.peers
        fresh: list[AnyEvent] = []
        gaps: set[int] = set()
        following: set[int] = set()
        """Lots whose copy is as durable as it says (checked once a call)."""
        for event in events:
            lot_id = event.lot
            lot = self.lots.get(lot_id)
            if lot is None:
                gaps.add(lot_id)
                continue
            if lot_id in gaps or (peers is not None and peers.owns(lot_id)):
                continue
            if lot_id not in following:
                if lot.seq != self.durable.get(lot_id, 0) or lot_id in self._halted:
                    continue  # owned here a moment ago, with events in flight: their commit settles it
                following.add(lot_id)
            if event.seq <= lot.seq:
                continue
            if event.seq != lot.seq + 1:
                gaps.add(lot_id)
                continue
            lot.apply(event)
            fresh.append(event)
        if fresh:
            self._committed(fresh)  # durable, the public views and the listeners, as for our own commits
        return gaps

    async def catch_up(self, lot_id: int) -> None:
        """Bring a replica up to what the store holds (after a gap in what the bus gave)."""
        if lot_id not in self.lots:
            await self.adopt(lot_id)
            return
        events = await self.store.events_since(lot_id, self.durable.get(lot_id, 0))
        if events:
            self.replicate(events)

    def wake(self, lot_id: int) -> None:
        """Let the lot's clock act now (what its timer does; tests with a fake clock call it)."""
        self._timers.pop(lot_id, None)
        lot = self.lots.get(lot_id)
        if lot is None or lot_id in self._halted or (self.peers is not None and not self.peers.owns(lot_id)):
            return  # a lot owned elsewhere (its lease lost meanwhile): its owner's clock acts
        lot.advance(self.clock())
        self._settle(lot)

    def _submit(self, lot: Lot, result: Result) -> tuple[Result, Pending]:
        """Journal what the command emitted; say what the answer must wait for.

        A refusal waits too: it was judged against the lot as it is now, which may include
        events still being committed (a higher bid, the close); if that commit failed, the
        refusal would rest on something that never happened.
        """
        self._settle(lot)
        seq = result.seq if isinstance(result, Accepted) else lot.seq
        if seq <= self.durable.get(lot.id, 0):
            return result, None
        inflight = self._inflight.get(lot.id)
        if inflight is None:  # the lot was reloaded: its pending events were dropped
            return UNAVAILABLE, None
        return result, inflight

    # ------------------------------------------------------------------ journal and clock

    def _settle(self, lot: Lot) -> None:
        """Hand the lot's new events (and a snapshot when one is due) to the journal; re-arm."""
        events = lot.outbox
        if events:
            snapshot = None
            if lot.seq - self._snapshot_seq.get(lot.id, 0) >= self.snapshot_every or lot.state in _TERMINAL:
                snapshot = lot.snapshot()
                self._snapshot_seq[lot.id] = lot.seq
            try:
                self._inflight[lot.id] = self.journal.append(events, snapshot)
            finally:
                events.clear()  # the journal copied them: the lot's outbox is reused, not a new list a bid
        self._arm(lot)

    def _arm(self, lot: Lot) -> None:
        """Make sure a timer fires by the lot's next due instant.

        A timer set for an earlier instant is left alone: when it fires, the lot is not yet
        due and the timer is set again. So the end moving later with every late bid costs
        nothing here.
        """
        due = lot.due
        if due is None:
            return
        timer = self._timers.get(lot.id)
        if timer is not None:
            if timer[0] <= due:
                return
            timer[1].cancel()
        delay = max(due - self.clock(), 0) / 1000
        handle = asyncio.get_running_loop().call_later(delay, self.wake, lot.id)
        self._timers[lot.id] = (due, handle)

    def _committed(self, events: Sequence[AnyEvent]) -> None:
        durable, views = self.durable, self.views
        for event in events:
            durable[event.lot] = event.seq
            views[event.lot].apply(event)
        for listener in self._listeners:
            listener(events)

    def _failed(self, lots: set[int], exc: BaseException) -> None:
        """A commit failed: the in-memory state of these lots is ahead of the store."""
        for lot_id in lots:
            if lot_id in self._halted:
                continue
            self._halted.add(lot_id)
            self._inflight.pop(lot_id, None)
            timer = self._timers.pop(lot_id, None)
            if timer is not None:
                timer[1].cancel()
            task = asyncio.get_running_loop().create_task(self._reload(lot_id))
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _reload(self, lot_id: int) -> None:
        """Replace a halted lot by what the store holds, retrying while the store is down, or
        while what it holds does not make a lot (``_install`` raises before it replaces any)."""
        attempt = 0
        while True:
            try:
                stored = await self.store.lot(lot_id)
                live = self.peers is None or self.peers.owns(lot_id)
                if stored is not None:
                    self._install(stored, live=live)
                break
            except Exception as exc:  # noqa: BLE001 - keep the lot halted and try again
                delay = _RELOAD_BACKOFF[min(attempt, len(_RELOAD_BACKOFF) - 1)]
                log.warning("reloading lot %s failed (%s); retrying in %ss", lot_id, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
        if stored is not None:
            self._halted.discard(lot_id)
            if live:
                self._settle(self.lots[lot_id])
        log.warning("lot %s reloaded from the store at seq %s", lot_id, self.durable.get(lot_id))

    def _install(self, stored: StoredLot, *, live: bool = True) -> None:
        """Put the stored lot in memory; a ``live`` one's clock may act (a replica's never does)."""
        lot = Lot.restore(stored.snapshot) if stored.snapshot else Lot(stored.id, stored.spec)
        apply = lot.apply
        for event in stored.events:
            apply(event)
        for user, registrant in stored.bidders:
            lot.register(user, registrant)
        replaced = self.lots.get(lot.id)
        if replaced is not None:
            # A reload: bidders admitted while it read the store are durable (register writes
            # the store before the lot) but may be missing from what it read.
            for user, registrant in replaced.registrants.items():
                lot.register(user, registrant)
        self.lots[lot.id] = lot
        self.titles[lot.id] = stored.title
        self.sessions[lot.id] = stored.session
        self.details[lot.id] = stored.details
        self.durable[lot.id] = lot.seq
        self.views[lot.id] = LotView.of(lot)  # all of it durable: it was just read from the store
        self._snapshot_seq[lot.id] = stored.snapshot.seq if stored.snapshot else 0
        self._inflight.pop(lot.id, None)
        if live:
            lot.advance(self.clock())
