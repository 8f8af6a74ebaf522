"""Events and states for the store tests (tests/test_store.py over both stores, and the tests
of what only one store has): a lot's history as the engine would write it."""

from __future__ import annotations

from collections.abc import Sequence

from hall.engine import AnyEvent, BidPlaced, Lot, LotSpec, LotState
from hall.engine.events import Opened

SPEC = LotSpec(seller_org=9, start_price=1_000, increment=100, publicity_start=0, bidding_start=1, end=10**13)


def bid(lot: int, seq: int) -> BidPlaced:
    return BidPlaced(lot=lot, seq=seq, ts=seq, actor=7, req=f"r{lot}-{seq}",
                     amount=1_000 + 100 * seq, bidder="0001", user=7, ends_at=10**13)  # fmt: skip


def history(lot: int, upto: int) -> list[AnyEvent]:
    """An opened lot and bids after it: seqs 1..upto."""
    return [Opened(lot=lot, seq=1, ts=1, ends_at=10**13), *(bid(lot, s) for s in range(2, upto + 1))]


def state_after(lot: int, events: Sequence[AnyEvent]) -> LotState:
    engine = Lot(lot, SPEC)
    for event in events:
        engine.apply(event)
    return engine.snapshot()
