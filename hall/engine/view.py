"""What the public may see of a lot, as of its last durable event.

The hall's watchers must never see a bid that a crash could take back, so what they are
shown is not the ``Lot`` (which runs ahead of the store by the events being committed) but
this projection, fed only durable events. It keeps what a snapshot shows and nothing a bidder
must not learn (no reserve, no account ids, no request ids), which also keeps it small: one
per lot, beside the lot itself.
"""

from __future__ import annotations

from collections import deque

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
from hall.engine.lot import RECENT_BIDS, Lot, LotState, State
from hall.engine.spec import LotSpec, Mode


class LotView:
    __slots__ = ("id", "spec", "state", "seq", "price", "leader", "bid_count", "ends_at", "warned",
                 "outcome", "winner", "reason", "recent")  # fmt: skip

    def __init__(self, lot_id: int, spec: LotSpec) -> None:
        self.id = lot_id
        self.spec = spec
        self.state = State.PUBLICITY
        self.seq = 0
        self.price: int | None = None
        self.leader: str | None = None
        """The leading bidder's public number."""
        self.bid_count = 0
        self.ends_at: int | None = spec.end if spec.mode is Mode.TIMED else None
        self.warned = False
        self.outcome: Outcome | None = None
        self.winner: str | None = None
        self.reason: str | None = None
        self.recent: deque[BidPlaced] = deque(maxlen=RECENT_BIDS)

    @classmethod
    def of(cls, state: LotState | Lot) -> LotView:
        """The view of a lot known to be wholly durable (just loaded from the store)."""
        view = cls(state.id, state.spec)
        view.state = state.state
        view.seq = state.seq
        view.price = state.price
        view.leader = state.leader_number
        view.bid_count = state.bid_count
        view.ends_at = state.ends_at
        view.warned = state.warned
        view.outcome = state.outcome
        view.reason = state.reason
        view.recent.extend(state.recent)
        if state.outcome is Outcome.SOLD:
            view.winner = state.leader_number
        return view

    def apply(self, event: AnyEvent) -> None:
        """Follow one durable event; events arrive once each, in sequence order."""
        if event.seq != self.seq + 1:
            raise ValueError(f"view of lot {self.id} at seq {self.seq} cannot apply seq {event.seq}")
        self.seq = event.seq
        match event:
            case BidPlaced():
                self.price = event.amount
                self.leader = event.bidder
                self.bid_count += 1
                self.ends_at = event.ends_at
                self.warned = False
                self.recent.append(event)
            case Opened():
                self.state = State.LIVE
                self.ends_at = event.ends_at
            case Extended():
                self.ends_at = event.ends_at
            case Paused():
                self.state = State.PAUSED
            case Resumed():
                self.state = State.LIVE
                self.ends_at = event.ends_at
            case FairWarning():
                self.warned = True
            case Closed():
                self.state = State.CLOSED
                self.outcome = event.outcome
                self.winner = event.winner
                self.warned = False
            case Withdrawn():
                self.state = State.WITHDRAWN
                self.reason = event.reason
                self.warned = False
