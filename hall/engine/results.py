"""What a command gets back from a lot: accepted (with the event's place) or a rejection code.

The codes are a contract with clients and load tools; add, never rename.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Code(StrEnum):
    BAD_REQUEST = "bad_request"
    UNKNOWN_LOT = "unknown_lot"
    NOT_LIVE = "not_live"
    PAUSED = "paused"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    NOT_REGISTERED = "not_registered"
    OWN_LOT = "own_lot"
    TOO_LOW = "too_low"
    BAD_INCREMENT = "bad_increment"
    BAD_STATE = "bad_state"
    """An auctioneer command that the lot's mode or state does not allow."""
    UNAVAILABLE = "unavailable"
    """The store failed; the lot is reloading from what is durable. Retry shortly."""


class Accepted(msgspec.Struct, frozen=True, gc=False):
    seq: int
    price: int | None
    ok: bool = True


class Rejection(msgspec.Struct, frozen=True, gc=False):
    code: Code
    message: str
    ok: bool = False


Result = Accepted | Rejection
