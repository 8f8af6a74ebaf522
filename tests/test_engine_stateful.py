"""One lot driven by random commands and clock jumps, checked against the contract at every step.

Two checks run side by side. An oracle predicts each call from the lot as it stood before the
call (which code may refuse it, or exactly which event it emits). Independently, every emitted
event is walked through a reader of the journal that knows only the rules: seq without gaps,
prices on the increment grid, no bid at or after the end in force, nothing after a terminal
event, the winner the highest bidder; and the journal replayed (from the start, or from any
earlier snapshot) must rebuild the lot exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hall.engine import MAX_AMOUNT, Accepted, Code, Lot, LotSpec, LotState, Mode, Registrant, Rejection, State
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
    decode,
    encode,
)
from hall.engine.lot import MAX_EXTEND, MAX_REASON

LOT_ID = 7
SELLER_ORG = 77
AUCTIONEER = 900
T0 = 1_767_225_600_000

BIDDERS = {1: ("0001", 10), 2: ("0002", 20), 3: ("0003", None)}
SELLER_STAFF = 4  # registered as "0004", but of the seller's org
STRANGER = 5  # never registered
NUMBER_OF = {user: number for user, (number, _) in BIDDERS.items()} | {SELLER_STAFF: "0004"}
ORG_OF = {user: org for user, (_, org) in BIDDERS.items()} | {SELLER_STAFF: SELLER_ORG, STRANGER: 30}

STATE_CODE = {
    State.PUBLICITY: Code.NOT_LIVE,
    State.PAUSED: Code.PAUSED,
    State.CLOSED: Code.CLOSED,
    State.WITHDRAWN: Code.WITHDRAWN,
}
JUNK_AMOUNTS = [0, -1, True, False, 1.5, 1e4, "100", None, MAX_AMOUNT + 1]

# An amount is drawn as a recipe, turned into a number against the price at the time of the bid.
amounts = st.one_of(
    st.tuples(st.just("step"), st.integers(0, 3)),  # base + k * increment: the valid ones
    st.tuples(st.just("step"), st.integers(1, 3)),
    st.tuples(st.just("off"), st.integers(1, 999)),  # base + d, off the grid unless d % increment == 0
    st.tuples(st.just("below"), st.integers(1, 3)),  # base - k * increment
    st.tuples(st.just("junk"), st.sampled_from(JUNK_AMOUNTS)),
)
bad_seconds = st.sampled_from([0, -1, 1.5, True, None, "60", MAX_EXTEND + 1])
reasons = st.sampled_from(["  卖方撤回 ", "", "   ", None, 3, "x" * 501, "权属争议"])

Judgement = tuple[set[Code], AnyEvent | None]
"""Codes that may refuse a call, and the event it emits if accepted; both set: either is allowed.
More than one code only where docs/engine.md leaves the order of two checks open."""


def anti_sniped(spec: LotSpec, ends_at: int | None, now: int) -> int | None:
    """The close instant after a bid accepted at ``now``: the contract's formula."""
    if ends_at is not None and spec.window and spec.extension and now >= ends_at - spec.window * 1000:
        return max(ends_at, now + spec.extension * 1000)
    return ends_at


def amount_refusal(lot: Lot, amount: object) -> Code | None:
    """The amount checks, in the order docs/engine.md gives them."""
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        return Code.BAD_REQUEST
    base = lot.spec.start_price if lot.price is None else lot.price
    if amount < base or (lot.price is not None and amount == base):
        return Code.TOO_LOW
    if (amount - base) % lot.spec.increment:
        return Code.BAD_INCREMENT
    return None


def closed_event(lot: Lot, now: int, actor: int | None, req: str | None) -> Closed:
    reserve = lot.spec.reserve
    sold = lot.price is not None and (reserve is None or lot.price >= reserve)
    return Closed(
        lot=lot.id, seq=lot.seq + 1, ts=now, actor=actor, req=req,
        outcome=Outcome.SOLD if sold else Outcome.UNSOLD, price=lot.price,
        winner=lot.leader_number if sold else None, user=lot.leader if sold else None,
    )  # fmt: skip


def clock_events(lot: Lot, now: int) -> list[AnyEvent]:
    """What the lot's own clock must emit by ``now`` (applied to ``lot`` as it goes)."""
    spec = lot.spec
    out: list[AnyEvent] = []
    if spec.mode is not Mode.TIMED:
        return out
    if lot.state is State.PUBLICITY and now >= spec.bidding_start:
        out.append(Opened(lot=lot.id, seq=lot.seq + 1, ts=now, ends_at=spec.end))
        lot.apply(out[-1])
    if lot.state is State.LIVE and lot.ends_at is not None and now >= lot.ends_at:
        out.append(closed_event(lot, now, None, None))
        lot.apply(out[-1])
    return out


class LotMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.reqs = itertools.count(1)
        self.events: list[AnyEvent] = []
        self.calls: list[tuple[tuple[int, str], Callable[[int], Any]]] = []
        self.results: dict[tuple[int, str], Accepted | Rejection] = {}
        self.checkpoints: list[tuple[LotState, int]] = []
        self.highest_price = 0
        # The journal reader's own view, built from events alone.
        self.log_state = State.PUBLICITY
        self.log_end: int | None = None
        self.log_paused_at: int | None = None
        self.log_warned = False
        self.bids: list[BidPlaced] = []
        self.terminal = False
        self.steps = 0
        self.patience = 0
        """Steps before hammer, withdraw and big clock leaps may run: a run whose lot ends early
        spends its remaining steps on refusals."""

    # ------------------------------------------------------------ set-up

    @initialize(
        mode=st.sampled_from(Mode),
        start_price=st.integers(1, 10_000),
        increment=st.sampled_from([1, 7, 100, 500]),
        reserve_steps=st.none() | st.integers(0, 4),
        opens_in=st.sampled_from([0, 1, 3_000]),
        lasts=st.integers(10_000, 600_000),
        window=st.sampled_from([0, 5, 60, 300]),
        extension=st.sampled_from([0, 10, 60, 300, 600]),
        already_open=st.booleans(),
        patience=st.integers(0, 60),
    )
    def make_lot(
        self, mode: Mode, start_price: int, increment: int, reserve_steps: int | None,
        opens_in: int, lasts: int, window: int, extension: int, already_open: bool, patience: int,
    ) -> None:  # fmt: skip
        self.patience = patience
        self.now = T0
        self.spec = LotSpec(
            seller_org=SELLER_ORG, start_price=start_price, increment=increment,
            publicity_start=T0, bidding_start=T0 + opens_in, end=T0 + opens_in + lasts, mode=mode,
            reserve=None if reserve_steps is None else start_price + reserve_steps * increment,
            window=window, extension=extension,
        )  # fmt: skip
        self.lot = Lot(LOT_ID, self.spec)
        for user, number in NUMBER_OF.items():
            self.lot.register(user, Registrant(number, ORG_OF[user]))
        self.replica = Lot(LOT_ID, self.spec)
        self.log_end = self.spec.end if mode is Mode.TIMED else None
        if already_open:  # through the checked paths, so that more runs spend their steps bidding
            self.now = self.spec.bidding_start
            if mode is Mode.TIMED:
                self.advance()
            else:
                self.open()

    # ------------------------------------------------------------ the core of every call

    def _req(self) -> str:
        return f"q{next(self.reqs)}"

    def _call(
        self, key: tuple[int, str], call: Callable[[int], Any], judge: Callable[[Lot], Judgement]
    ) -> None:
        """Make ``call`` and check it against ``judge``'s prediction and the lot's before-state."""
        lot = self.lot
        assert lot.outbox == []
        probe = Lot.restore(lot.snapshot())
        expected = clock_events(probe, self.now)
        codes, event = judge(probe)
        result = call(self.now)
        if isinstance(result, Rejection):
            assert result.code in codes, (result, codes)
        else:
            assert event is not None, (result, codes)
            expected.append(event)
            probe.apply(event)
            assert result == Accepted(event.seq, probe.price)
        assert lot.outbox == expected
        assert lot.snapshot() == probe.snapshot()
        self.results[key] = result
        self.calls.append((key, call))
        self._absorb()

    def _bid_judge(
        self, user: int, org: int | None, recipe: tuple[str, object], req: str
    ) -> Callable[[Lot], Judgement]:
        def judge(probe: Lot) -> Judgement:
            amount = self._amount(probe, recipe)
            if probe.state is not State.LIVE:
                return {STATE_CODE[probe.state]}, None
            if org == SELLER_ORG:
                return {Code.OWN_LOT}, None
            if user not in NUMBER_OF:
                return {Code.NOT_REGISTERED}, None
            if code := amount_refusal(probe, amount):
                return {code}, None
            assert type(amount) is int
            return set(), BidPlaced(
                lot=LOT_ID, seq=probe.seq + 1, ts=self.now, actor=user, req=req, amount=amount,
                bidder=NUMBER_OF[user], user=user, ends_at=anti_sniped(self.spec, probe.ends_at, self.now),
            )  # fmt: skip

        return judge

    def _amount(self, lot: Lot, recipe: tuple[str, object]) -> object:
        kind, value = recipe
        if kind == "junk":
            return value
        assert isinstance(value, int)
        base = self.spec.start_price if lot.price is None else lot.price
        increment = self.spec.increment
        return base + {"step": value * increment, "off": value, "below": -value * increment}[kind]

    # ------------------------------------------------------------ bids

    def _online_bid(self, user: int, recipe: tuple[str, object]) -> None:
        req, org = self._req(), ORG_OF[user]
        frozen_amount: list[object] = []

        def call(now: int) -> Any:
            if not frozen_amount:  # fix the amount at the first send; a retry re-sends it
                frozen_amount.append(self._amount(self.lot, recipe))
            return self.lot.bid(user, org, frozen_amount[0], req, now)

        self._call((user, req), call, self._bid_judge(user, org, recipe, req))

    @rule(user=st.sampled_from(sorted(BIDDERS)), recipe=amounts)
    def online_bid(self, user: int, recipe: tuple[str, object]) -> None:
        self._online_bid(user, recipe)

    @rule(user=st.sampled_from(sorted(BIDDERS)), steps=st.integers(0, 3))
    def online_bid_on_the_grid(self, user: int, steps: int) -> None:
        """Mostly valid (steps 0 is valid only as a first bid), so that prices really climb."""
        self._online_bid(user, ("step", steps))

    @precondition(lambda self: self.lot.ends_at is not None)
    @rule(
        user=st.sampled_from(sorted(BIDDERS)),
        share=st.sampled_from([0.0, 0.3, 0.9, 1.0, 1.0, 1.5]),  # 1.0: the window's first ms
        nudge=st.sampled_from([-1, 0, 1]),
        steps=st.integers(0, 2),
    )
    def snipe(self, user: int, share: float, nudge: int, steps: int) -> None:
        """A bid some share of the anti-sniping window ahead of the end in force (or right on it)."""
        assert self.lot.ends_at is not None
        before = int((self.spec.window or 60) * 1000 * share) + nudge
        self.now = max(self.now, self.lot.ends_at - before)
        self._online_bid(user, ("step", steps))

    @rule(recipe=amounts)
    def seller_org_bid(self, recipe: tuple[str, object]) -> None:
        self._online_bid(SELLER_STAFF, recipe)

    @rule(recipe=amounts)
    def unregistered_bid(self, recipe: tuple[str, object]) -> None:
        self._online_bid(STRANGER, recipe)

    @rule(number=st.sampled_from(["0001", "0002", "0003", "9999"]), recipe=amounts)
    def floor_bid(self, number: str, recipe: tuple[str, object]) -> None:
        self._floor_bid(number, recipe)

    @rule(number=st.sampled_from(["0001", "0002", "0003"]), steps=st.integers(0, 3))
    def floor_bid_on_the_grid(self, number: str, steps: int) -> None:
        self._floor_bid(number, ("step", steps))

    def _floor_bid(self, number: str, recipe: tuple[str, object]) -> None:
        req = self._req()
        frozen_amount: list[object] = []

        def call(now: int) -> Any:
            if not frozen_amount:
                frozen_amount.append(self._amount(self.lot, recipe))
            return self.lot.floor_bid(AUCTIONEER, number, frozen_amount[0], req, now)

        def judge(probe: Lot) -> Judgement:
            amount = self._amount(probe, recipe)
            if self.spec.mode is Mode.TIMED:
                return {Code.BAD_STATE}, None
            if probe.state is not State.LIVE:
                return {STATE_CODE[probe.state]}, None
            user = next((u for u, n in NUMBER_OF.items() if n == number), None)
            if user is None:
                return {Code.NOT_REGISTERED}, None
            if code := amount_refusal(probe, amount):
                return {code}, None
            assert type(amount) is int
            return set(), BidPlaced(
                lot=LOT_ID, seq=probe.seq + 1, ts=self.now, actor=AUCTIONEER, req=req, amount=amount,
                bidder=number, user=user, ends_at=None, floor=True,
            )  # fmt: skip

        self._call((AUCTIONEER, req), call, judge)

    # ------------------------------------------------------------ the auctioneer

    def _command(self, name: str, judge: Callable[[Lot, str], Judgement], *args: object) -> None:
        req = self._req()
        method = getattr(self.lot, name)

        def judge_unless_over(probe: Lot) -> Judgement:
            if probe.state in (State.CLOSED, State.WITHDRAWN):  # whatever was asked (docs/engine.md)
                return {STATE_CODE[probe.state]}, None
            return judge(probe, req)

        self._call((AUCTIONEER, req), lambda now: method(AUCTIONEER, req, now, *args), judge_unless_over)

    def _event_fields(self, probe: Lot, req: str) -> dict[str, Any]:
        return {"lot": LOT_ID, "seq": probe.seq + 1, "ts": self.now, "actor": AUCTIONEER, "req": req}

    @rule()
    def open(self) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            if self.spec.mode is Mode.LIVE and probe.state is State.PUBLICITY:
                return set(), Opened(**self._event_fields(probe, req), ends_at=None)
            return {Code.BAD_STATE}, None

        self._command("open", judge)

    @rule()
    def pause(self) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            if probe.state is State.LIVE:
                return set(), Paused(**self._event_fields(probe, req))
            return {Code.BAD_STATE}, None

        self._command("pause", judge)

    @rule()
    def resume(self) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            if probe.state is not State.PAUSED:
                return {Code.BAD_STATE}, None
            ends_at = probe.ends_at
            if ends_at is not None:
                assert probe.paused_at is not None
                ends_at += self.now - probe.paused_at
            return set(), Resumed(**self._event_fields(probe, req), ends_at=ends_at)

        self._command("resume", judge)

    @rule(seconds=st.integers(1, 600) | bad_seconds)
    def extend(self, seconds: object) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            codes: set[Code] = set()
            if type(seconds) is not int or not 0 < seconds <= MAX_EXTEND:
                codes.add(Code.BAD_REQUEST)
            if self.spec.mode is Mode.LIVE or probe.state not in (State.LIVE, State.PAUSED):
                codes.add(Code.BAD_STATE)
            if codes:
                return codes, None
            assert type(seconds) is int and probe.ends_at is not None
            fields = self._event_fields(probe, req)
            return codes, Extended(**fields, seconds=seconds, ends_at=probe.ends_at + seconds * 1000)

        self._command("extend", judge, seconds)

    @rule()
    def fair_warning(self) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            if probe.state is not State.LIVE or probe.price is None:
                return {Code.BAD_STATE}, None
            # The contract is silent on a warning in an online session: either answer passes.
            codes = {Code.BAD_STATE} if self.spec.mode is Mode.TIMED else set()
            return codes, FairWarning(**self._event_fields(probe, req))

        self._command("fair_warning", judge)

    @precondition(lambda self: self.steps >= self.patience)
    @rule()
    def hammer(self) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            allowed = {State.PAUSED} if self.spec.mode is Mode.TIMED else {State.LIVE, State.PAUSED}
            if probe.state in allowed:
                return set(), closed_event(probe, self.now, AUCTIONEER, req)
            return {Code.BAD_STATE}, None

        self._command("hammer", judge)

    @precondition(lambda self: self.steps >= self.patience)
    @rule(reason=reasons)
    def withdraw(self, reason: object) -> None:
        def judge(probe: Lot, req: str) -> Judgement:
            if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
                return {Code.BAD_REQUEST}, None
            return set(), Withdrawn(**self._event_fields(probe, req), reason=reason.strip())

        self._command("withdraw", judge, reason)

    # ------------------------------------------------------------ retries

    @precondition(lambda self: bool(self.calls))
    @rule(data=st.data())
    def repeat_a_request(self, data: st.DataObject) -> None:
        key, call = data.draw(st.sampled_from(self.calls), label="repeated request")
        before = self.lot.snapshot()
        assert call(self.now) is self.results[key]
        assert self.lot.outbox == []
        assert self.lot.snapshot() == before

    # ------------------------------------------------------------ the clock

    @rule(ms=st.integers(1, 5_000))
    def tick(self, ms: int) -> None:
        self.now += ms

    @rule(ms=st.integers(5_000, 60_000))
    def stroll(self, ms: int) -> None:
        self.now += ms

    @precondition(lambda self: self.steps >= self.patience)
    @rule(ms=st.integers(60_000, 1_200_000))
    def leap(self, ms: int) -> None:
        self.now += ms

    @rule(edge=st.sampled_from(["start", "end", "window", "late"]), offset=st.sampled_from([-1, 0, 1]))
    def jump_to_an_edge(self, edge: str, offset: int) -> None:
        """To the millisecond around the bidding start, the end in force or its window's start."""
        ends_at = self.lot.ends_at
        if edge == "start":
            target = self.spec.bidding_start
        elif ends_at is None:
            return
        else:
            before = {"end": 0, "window": self.spec.window * 1000, "late": 2_000}[edge]
            target = ends_at - before
        self.now = max(self.now, target + offset)  # the clock never runs backwards

    @rule()
    def advance(self) -> None:
        probe = Lot.restore(self.lot.snapshot())
        expected = clock_events(probe, self.now)
        self.lot.advance(self.now)
        assert self.lot.outbox == expected
        assert self.lot.snapshot() == probe.snapshot()
        self._absorb()

    # ------------------------------------------------------------ the journal reader

    def _absorb(self) -> None:
        """Drain the outbox and check each event against the rules, knowing only the journal."""
        events, self.lot.outbox = self.lot.outbox, []
        spec = self.spec
        for event in events:
            assert not self.terminal, f"{event} after a terminal event"
            assert (event.lot, event.seq) == (LOT_ID, len(self.events) + 1)
            assert decode(encode(event)) == event
            match event:
                case Opened():
                    assert self.log_state is State.PUBLICITY
                    if spec.mode is Mode.TIMED:
                        assert event.actor is None and event.ts >= spec.bidding_start
                        assert event.ends_at == spec.end
                    else:
                        assert event.actor == AUCTIONEER and event.ends_at is None
                    self.log_state, self.log_end = State.LIVE, event.ends_at
                case BidPlaced():
                    assert self.log_state is State.LIVE
                    if self.log_end is not None:
                        assert event.ts < self.log_end, "bid at or after the end in force"
                    assert event.ends_at == anti_sniped(spec, self.log_end, event.ts)
                    if self.bids:
                        raise_ = event.amount - self.bids[-1].amount
                        assert raise_ > 0 and raise_ % spec.increment == 0
                    else:
                        assert event.amount >= spec.start_price
                        assert (event.amount - spec.start_price) % spec.increment == 0
                    assert event.bidder == NUMBER_OF[event.user]
                    assert event.floor is (event.actor == AUCTIONEER)
                    assert ORG_OF[event.user] != SELLER_ORG or event.floor
                    self.bids.append(event)
                    self.log_end, self.log_warned = event.ends_at, False
                case Extended():
                    assert spec.mode is Mode.TIMED and self.log_end is not None
                    assert self.log_state in (State.LIVE, State.PAUSED)
                    assert event.ends_at == self.log_end + event.seconds * 1000
                    self.log_end = event.ends_at
                case Paused():
                    assert self.log_state is State.LIVE
                    self.log_state, self.log_paused_at = State.PAUSED, event.ts
                case Resumed():
                    assert self.log_state is State.PAUSED and self.log_paused_at is not None
                    shifted = None if self.log_end is None else self.log_end + event.ts - self.log_paused_at
                    assert event.ends_at == shifted
                    self.log_state, self.log_end = State.LIVE, event.ends_at
                case FairWarning():
                    assert self.log_state is State.LIVE and self.bids
                    self.log_warned = True
                case Closed():
                    assert self.log_state in (State.LIVE, State.PAUSED)
                    if event.actor is None:  # the lot's own clock
                        assert spec.mode is Mode.TIMED and self.log_state is State.LIVE
                        assert self.log_end is not None and event.ts >= self.log_end
                    elif spec.mode is Mode.TIMED:
                        assert self.log_state is State.PAUSED
                    top = max(self.bids, key=lambda b: b.amount, default=None)
                    sold = top is not None and (spec.reserve is None or top.amount >= spec.reserve)
                    assert event.outcome is (Outcome.SOLD if sold else Outcome.UNSOLD)
                    assert event.winner == (top.bidder if sold and top else None)
                    assert event.user == (top.user if sold and top else None)
                    self.log_state, self.terminal = State.CLOSED, True
                case Withdrawn():
                    assert self.log_state in (State.PUBLICITY, State.LIVE, State.PAUSED)
                    assert event.reason and event.reason == event.reason.strip()
                    self.log_state, self.terminal = State.WITHDRAWN, True
            self.replica.apply(event)
            self.events.append(event)

    # ------------------------------------------------------------ invariants

    @invariant()
    def outbox_is_drained_after_every_step(self) -> None:
        assert self.lot.outbox == []
        self.steps += 1

    @invariant()
    def price_never_falls(self) -> None:
        price = self.lot.price or 0
        assert price >= self.highest_price
        self.highest_price = price

    @invariant()
    def seqs_run_from_one_without_gaps(self) -> None:
        assert [e.seq for e in self.events] == list(range(1, len(self.events) + 1))
        assert self.lot.seq == len(self.events)

    @invariant()
    def lot_agrees_with_its_journal(self) -> None:
        lot = self.lot
        assert lot.state is self.log_state
        assert lot.ends_at == self.log_end
        assert lot.price == (self.bids[-1].amount if self.bids else None)
        assert lot.leader_number == (self.bids[-1].bidder if self.bids else None)
        assert lot.bid_count == len(self.bids)
        if not self.terminal:  # what a warning means on a lot that is over is left open
            assert lot.warned is self.log_warned

    @invariant()
    def replaying_the_journal_rebuilds_the_lot(self) -> None:
        snapshot = self.lot.snapshot()
        assert self.replica.snapshot() == snapshot
        self.checkpoints.append((snapshot, len(self.events)))

    def teardown(self) -> None:
        if not hasattr(self, "lot"):
            return
        final = self.lot.snapshot()
        fresh = Lot(LOT_ID, self.spec)
        for event in self.events:
            fresh.apply(event)
        assert fresh.snapshot() == final
        for snapshot, done in self.checkpoints:
            restored = Lot.restore(snapshot)
            for event in self.events[done:]:
                restored.apply(event)
            assert restored.snapshot() == final


LotMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
TestLotMachine = LotMachine.TestCase
