"""One lot: validates commands, emits events, and changes state only through ``apply``.

This module must never do I/O, read a clock or await: the caller passes ``now`` (epoch ms)
and drains ``outbox``. A command validates and applies in one synchronous call, so a lot is
its own single writer and needs no lock. Every state change goes through ``apply``, the same
function replay uses, which is why a lot rebuilt from its journal equals the live one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Final

import msgspec

from hall.engine.events import (
    AnyEvent,
    BidPlaced,
    Closed,
    Extended,
    FairWarning,
    Opened,
    Outcome,
    Paused,
    Resumed,
    Withdrawn,
)
from hall.engine.results import Accepted, Code, Rejection, Result
from hall.engine.spec import MAX_AMOUNT, LotSpec, Mode

RECENT_BIDS: Final = 20
"""Bids a snapshot carries, so a new watcher sees the record without reading the journal."""
REMEMBERED: Final = 4096
"""Accepted request ids a lot remembers for idempotent retries (oldest forgotten first)."""
REMEMBERED_REFUSALS: Final = 1024
MAX_EXTEND: Final = 24 * 3600
MAX_REASON: Final = 500



class State(StrEnum):
    PUBLICITY = "publicity"
    LIVE = "live"
    PAUSED = "paused"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    """The auctioneer's commands, one per command method of ``Lot``. Here rather than in the
    runtime that dispatches them so that the wire protocol (``hall.protocol``) needs nothing
    above the engine, and the store can hash events in their wire form (``hall.record``)."""

    OPEN = "open"
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    FAIR_WARNING = "fair_warning"
    HAMMER = "hammer"
    WITHDRAW = "withdraw"
    FLOOR_BID = "floor_bid"


_STATE_REFUSAL: Final = {
    State.PUBLICITY: Rejection(Code.NOT_LIVE, "拍品尚在公示期，竞价未开始"),
    State.PAUSED: Rejection(Code.PAUSED, "拍卖已暂停"),
    State.CLOSED: Rejection(Code.CLOSED, "拍卖已结束"),
    State.WITHDRAWN: Rejection(Code.WITHDRAWN, "拍品已撤拍"),
}
_BAD_AMOUNT: Final = Rejection(Code.BAD_REQUEST, f"出价须为 1 至 {MAX_AMOUNT} 之间的整数（元）")
_OWN_LOT: Final = Rejection(Code.OWN_LOT, "不能对本机构的拍品出价")
_NOT_REGISTERED: Final = Rejection(Code.NOT_REGISTERED, "未获批准参加本拍品竞价")


class Registrant(msgspec.Struct, frozen=True):
    number: str
    """Shown publicly in place of the name, e.g. "0007"."""
    org: int | None = None


class LotState(msgspec.Struct, kw_only=True):
    """Everything a lot knows, as data: the snapshot format and the replay-equality check."""

    id: int
    spec: LotSpec
    state: State
    seq: int
    price: int | None
    leader: int | None
    leader_number: str | None
    bid_count: int
    ends_at: int | None
    paused_at: int | None
    warned: bool
    outcome: Outcome | None
    reason: str | None
    recent: list[BidPlaced]
    requests: list[tuple[int, str, int, int | None]]


def _refuse(code: Code, message: str) -> Rejection:
    return Rejection(code, message)


class Lot:
    __slots__ = (
        "id", "spec", "state", "seq", "price", "leader", "leader_number", "bid_count",
        "ends_at", "paused_at", "warned", "outcome", "reason", "due", "recent",
        "requests", "refusals", "_forget", "registrants", "numbers", "outbox", "_bad_increment",
    )  # fmt: skip

    def __init__(self, lot_id: int, spec: LotSpec) -> None:
        self.id = lot_id
        self.spec = spec
        self.state = State.PUBLICITY
        self.seq = 0
        self.price: int | None = None
        self.leader: int | None = None
        self.leader_number: str | None = None
        self.bid_count = 0
        self.ends_at: int | None = spec.end if spec.mode is Mode.TIMED else None
        self.paused_at: int | None = None
        self.warned = False
        self.outcome: Outcome | None = None
        self.reason: str | None = None
        self.due: int | None = spec.bidding_start if spec.mode is Mode.TIMED else None
        """The next instant at which the lot's own clock changes it (open or close)."""
        self.recent: deque[BidPlaced] = deque(maxlen=RECENT_BIDS)
        self.requests: dict[tuple[int, str], Accepted] = {}
        self.refusals: dict[tuple[int, str], Rejection] = {}
        """Not durable: a request refused before a restart is simply judged again."""
        self._forget: deque[tuple[int, str]] = deque()
        """Insertion order of ``requests``; evicting through it keeps each bid O(1)."""
        self.registrants: dict[int, Registrant] = {}
        self.numbers: dict[str, int] = {}
        self.outbox: list[AnyEvent] = []
        """Events emitted and applied but not yet taken by the journal."""
        self._bad_increment = _refuse(Code.BAD_INCREMENT, f"加价须为加价幅度 {spec.increment} 元的整数倍")

    # ---------------------------------------------------------------- registration

    def register(self, user: int, registrant: Registrant) -> None:
        """Admit an approved bidder. Configuration, not an event: it takes effect at once."""
        previous = self.registrants.get(user)
        if previous is not None:
            self.numbers.pop(previous.number, None)
        self.registrants[user] = registrant
        self.numbers[registrant.number] = user

    # ---------------------------------------------------------------- the clock

    def advance(self, now: int) -> None:
        """Emit what the lot's own clock makes due by ``now``: opening, then closing (timed)."""
        due = self.due
        if due is None or now < due:
            return
        if self.state is State.PUBLICITY:
            self._emit(Opened(lot=self.id, seq=self.seq + 1, ts=now, ends_at=self.spec.end))
        if self.state is State.LIVE and self.ends_at is not None and now >= self.ends_at:
            self._close(now, None, None)

    # ---------------------------------------------------------------- bids

    def bid(self, user: int, org: int | None, amount: object, req: str, now: int) -> Result:
        """An online bid by a signed-in account."""
        key = (user, req)
        prior = self.requests.get(key) or self.refusals.get(key)
        if prior is not None:
            return prior
        self.advance(now)
        if self.state is not State.LIVE:
            return self._refused(key, _STATE_REFUSAL[self.state])
        if org is not None and org == self.spec.seller_org:
            return self._refused(key, _OWN_LOT)
        registrant = self.registrants.get(user)
        if registrant is None:
            return self._refused(key, _NOT_REGISTERED)
        return self._place(key, user, registrant, amount, now, floor=False)

    def floor_bid(self, actor: int, number: str, amount: object, req: str, now: int) -> Result:
        """A bid the auctioneer enters for an in-room bidder, named by bidder number."""
        key = (actor, req)
        prior = self.requests.get(key) or self.refusals.get(key)
        if prior is not None:
            return prior
        self.advance(now)
        if self.spec.mode is not Mode.LIVE:
            return self._refused(key, _refuse(Code.BAD_STATE, "现场出价仅用于现场拍卖"))
        if self.state is not State.LIVE:
            return self._refused(key, _STATE_REFUSAL[self.state])
        user = self.numbers.get(number)
        if user is None:
            return self._refused(key, _refuse(Code.NOT_REGISTERED, f"竞买号 {number} 未登记"))
        return self._place(key, user, self.registrants[user], amount, now, floor=True)

    def _place(
        self, key: tuple[int, str], user: int, registrant: Registrant, amount: object, now: int, *, floor: bool
    ) -> Result:
        if registrant.org is not None and registrant.org == self.spec.seller_org:
            return self._refused(key, _OWN_LOT)  # whatever org the caller claimed
        if type(amount) is not int or amount <= 0 or amount > MAX_AMOUNT:
            return self._refused(key, _BAD_AMOUNT)
        spec = self.spec
        increment = spec.increment
        price = self.price
        if price is None:
            if amount < spec.start_price:
                return self._refused(
                    key, _refuse(Code.TOO_LOW, f"首次出价不得低于起拍价 {spec.start_price} 元")
                )
            if (amount - spec.start_price) % increment:
                return self._refused(key, self._bad_increment)
        else:
            if amount <= price:
                return self._refused(
                    key, _refuse(Code.TOO_LOW, f"出价须高于当前价，至少 {price + increment} 元")
                )
            if (amount - price) % increment:
                return self._refused(key, self._bad_increment)
        ends_at = self.ends_at
        window = spec.window
        if ends_at is not None and window and spec.extension and now >= ends_at - window * 1000:
            ends_at = max(ends_at, now + spec.extension * 1000)
        event = BidPlaced(
            lot=self.id, seq=self.seq + 1, ts=now, actor=key[0], req=key[1],
            amount=amount, bidder=registrant.number, user=user, ends_at=ends_at, floor=floor,
        )  # fmt: skip
        self.apply(event)  # _emit, inlined on the hottest path
        self.outbox.append(event)
        return self.requests[key]

    # ---------------------------------------------------------------- the auctioneer

    def open(self, actor: int, req: str, now: int) -> Result:
        def check() -> Rejection | None:
            if self.spec.mode is Mode.TIMED:
                return _refuse(Code.BAD_STATE, "定时拍卖在竞价开始时间自动开始")
            if self.state is not State.PUBLICITY:
                return _refuse(Code.BAD_STATE, "只有公示中的拍品可以开拍")
            return None

        return self._command(actor, req, now, check, lambda seq: Opened(
            lot=self.id, seq=seq, ts=now, actor=actor, req=req, ends_at=None))  # fmt: skip

    def pause(self, actor: int, req: str, now: int) -> Result:
        def check() -> Rejection | None:
            return None if self.state is State.LIVE else _refuse(Code.BAD_STATE, "只有竞价中的拍品可以暂停")

        return self._command(actor, req, now, check, lambda seq: Paused(
            lot=self.id, seq=seq, ts=now, actor=actor, req=req))  # fmt: skip

    def resume(self, actor: int, req: str, now: int) -> Result:
        def check() -> Rejection | None:
            return None if self.state is State.PAUSED else _refuse(Code.BAD_STATE, "只有暂停中的拍品可以恢复")

        def make(seq: int) -> Resumed:
            ends_at = self.ends_at
            if ends_at is not None and self.paused_at is not None:
                ends_at += now - self.paused_at
            return Resumed(lot=self.id, seq=seq, ts=now, actor=actor, req=req, ends_at=ends_at)

        return self._command(actor, req, now, check, make)

    def extend(self, actor: int, req: str, now: int, seconds: object) -> Result:
        def check() -> Rejection | None:
            if type(seconds) is not int or not 0 < seconds <= MAX_EXTEND:
                return _refuse(Code.BAD_REQUEST, f"延时须为 1 至 {MAX_EXTEND} 秒")
            if self.spec.mode is not Mode.TIMED:
                return _refuse(Code.BAD_STATE, "现场拍卖没有结束时间，无需延时")
            if self.state not in (State.LIVE, State.PAUSED):
                return _refuse(Code.BAD_STATE, "只有竞价中或暂停中的拍品可以延时")
            return None

        def make(seq: int) -> Extended:
            assert self.ends_at is not None and type(seconds) is int
            return Extended(lot=self.id, seq=seq, ts=now, actor=actor, req=req,
                            seconds=seconds, ends_at=self.ends_at + seconds * 1000)  # fmt: skip

        return self._command(actor, req, now, check, make)

    def fair_warning(self, actor: int, req: str, now: int) -> Result:
        def check() -> Rejection | None:
            if self.state is not State.LIVE:
                return _refuse(Code.BAD_STATE, "只有竞价中的拍品可以提示落槌")
            if self.price is None:
                return _refuse(Code.BAD_STATE, "尚无出价，无需提示落槌")
            return None

        return self._command(actor, req, now, check, lambda seq: FairWarning(
            lot=self.id, seq=seq, ts=now, actor=actor, req=req))  # fmt: skip

    def hammer(self, actor: int, req: str, now: int) -> Result:
        def check() -> Rejection | None:
            if self.state not in (State.LIVE, State.PAUSED):
                return _refuse(Code.BAD_STATE, "只有竞价中或暂停中的拍品可以落槌")
            timed = self.spec.mode is Mode.TIMED
            if timed and self.state is State.LIVE and (self.ends_at is None or now < self.ends_at):
                return _refuse(Code.BAD_STATE, "定时拍卖只能在暂停时或到时后落槌")
            return None

        return self._command(actor, req, now, check, lambda seq: self._closed(seq, now, actor, req))

    def withdraw(self, actor: int, req: str, now: int, reason: object) -> Result:
        def check() -> Rejection | None:
            if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
                return _refuse(Code.BAD_REQUEST, f"撤拍须填写原因（不超过 {MAX_REASON} 字）")
            return None

        return self._command(actor, req, now, check, lambda seq: Withdrawn(
            lot=self.id, seq=seq, ts=now, actor=actor, req=req, reason=str(reason).strip()))  # fmt: skip

    def _command(
        self,
        actor: int,
        req: str,
        now: int,
        check: Callable[[], Rejection | None],
        make: Callable[[int], AnyEvent],
    ) -> Result:
        """The shape every auctioneer command shares: dedupe, clock, check, emit.

        A lot that is over answers ``closed`` or ``withdrawn`` to every command (a timed lot
        hammered just after its clock closed it is simply closed); any other state or mode a
        command does not fit is ``bad_state``.
        """
        key = (actor, req)
        prior = self.requests.get(key) or self.refusals.get(key)
        if prior is not None:
            return prior
        self.advance(now)
        if self.state in (State.CLOSED, State.WITHDRAWN):  # over: say so, whatever was asked
            return self._refused(key, _STATE_REFUSAL[self.state])
        refusal: Rejection | None = check()
        if refusal is not None:
            return self._refused(key, refusal)
        self._emit(make(self.seq + 1))
        return self.requests[key]

    def _close(self, now: int, actor: int | None, req: str | None) -> None:
        self._emit(self._closed(self.seq + 1, now, actor, req))

    def _closed(self, seq: int, now: int, actor: int | None, req: str | None) -> Closed:
        reserve = self.spec.reserve
        sold = self.price is not None and (reserve is None or self.price >= reserve)
        return Closed(
            lot=self.id, seq=seq, ts=now, actor=actor, req=req,
            outcome=Outcome.SOLD if sold else Outcome.UNSOLD,
            price=self.price, winner=self.leader_number if sold else None,
            user=self.leader if sold else None,
        )  # fmt: skip

    # ---------------------------------------------------------------- state changes

    def _emit(self, event: AnyEvent) -> None:
        self.apply(event)
        self.outbox.append(event)

    def _refused(self, key: tuple[int, str], refusal: Rejection) -> Rejection:
        refusals = self.refusals
        if len(refusals) >= REMEMBERED_REFUSALS:
            refusals.clear()  # rare: only a client spraying new request ids gets here
        refusals[key] = refusal
        return refusal

    def apply(self, event: AnyEvent) -> None:
        """The only place state changes; live commands and replay both come through here."""
        if event.seq != self.seq + 1 or event.lot != self.id:
            raise ValueError(f"lot {self.id} at seq {self.seq} cannot apply {event.lot}/{event.seq}")
        self.seq = event.seq
        if type(event) is BidPlaced:  # the hot path, ahead of the general match
            self.price = event.amount
            self.leader = event.user
            self.leader_number = event.bidder
            self.bid_count += 1
            self.ends_at = self.due = event.ends_at
            self.warned = False
            self.recent.append(event)
        else:
            self._apply_other(event)
        if event.req is not None and event.actor is not None:
            key = (event.actor, event.req)
            requests = self.requests
            if len(requests) >= REMEMBERED:
                del requests[self._forget.popleft()]
            requests[key] = Accepted(event.seq, self.price)
            self._forget.append(key)

    def _apply_other(self, event: AnyEvent) -> None:
        match event:
            case Opened():
                self.state = State.LIVE
                self.ends_at = event.ends_at
            case Extended():
                self.ends_at = event.ends_at
            case Paused():
                self.state = State.PAUSED
                self.paused_at = event.ts
            case Resumed():
                self.state = State.LIVE
                self.paused_at = None
                self.ends_at = event.ends_at
            case FairWarning():
                self.warned = True
            case Closed():
                self.state = State.CLOSED
                self.outcome = event.outcome
                self.warned = False
            case Withdrawn():
                self.state = State.WITHDRAWN
                self.reason = event.reason
                self.warned = False
        self.due = self._due()

    def _due(self) -> int | None:
        if self.spec.mode is not Mode.TIMED:
            return None
        if self.state is State.PUBLICITY:
            return self.spec.bidding_start
        if self.state is State.LIVE:
            return self.ends_at
        return None

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> LotState:
        return LotState(
            id=self.id, spec=self.spec, state=self.state, seq=self.seq, price=self.price,
            leader=self.leader, leader_number=self.leader_number, bid_count=self.bid_count,
            ends_at=self.ends_at, paused_at=self.paused_at, warned=self.warned,
            outcome=self.outcome, reason=self.reason, recent=list(self.recent),
            requests=[(a, r, v.seq, v.price) for (a, r), v in self.requests.items()],
        )  # fmt: skip

    @classmethod
    def restore(cls, state: LotState) -> Lot:
        lot = cls(state.id, state.spec)
        lot.state = state.state
        lot.seq = state.seq
        lot.price = state.price
        lot.leader = state.leader
        lot.leader_number = state.leader_number
        lot.bid_count = state.bid_count
        lot.ends_at = state.ends_at
        lot.paused_at = state.paused_at
        lot.warned = state.warned
        lot.outcome = state.outcome
        lot.reason = state.reason
        lot.recent.extend(state.recent)
        lot.requests = {(a, r): Accepted(seq, price) for a, r, seq, price in state.requests}
        lot._forget.extend(lot.requests)
        lot.due = lot._due()
        return lot
