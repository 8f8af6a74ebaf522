"""The rules a lot is created with; fixed once the lot exists.

All instants are epoch milliseconds UTC and all money whole yuan, so that the engine never
meets a float or a time zone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

MAX_AMOUNT = 10**12
"""The largest amount the exchange takes as a bid or a price: anything above is a typo or an attack."""

Yuan = Annotated[int, msgspec.Meta(gt=0, le=MAX_AMOUNT)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)]


class Mode(StrEnum):
    TIMED = "timed"
    """Online session: opens at its start and closes by itself at its (extended) end."""
    LIVE = "live"
    """Auctioneer's hall: opened, warned and hammered by hand; floor bids join online ones."""


class LotSpec(msgspec.Struct, frozen=True, kw_only=True):
    seller_org: int
    start_price: Yuan
    increment: Yuan
    publicity_start: int
    bidding_start: int
    end: int
    """The scheduled close (timed); in live mode only the planned end shown to bidders."""
    mode: Mode = Mode.TIMED
    reserve: Yuan | None = None
    """Secret: never shown; below it the lot closes unsold."""
    window: Seconds = 300
    """Anti-sniping: a bid accepted this close to the end moves the end..."""
    extension: Seconds = 300
    """...to the bid's time plus this. 0 in either turns the rule off."""

    def __post_init__(self) -> None:
        if not self.publicity_start <= self.bidding_start < self.end:
            raise ValueError("需满足 公示开始 ≤ 竞价开始 < 结束时间 (publicity_start ≤ bidding_start < end)")
