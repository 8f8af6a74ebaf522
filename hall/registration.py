"""Who may register to bid on a lot, and until when (AU-2, AU-3): pure rules, no I/O.

The commitment letter must be in before 16:00 Beijing time of the calendar day before the
bidding day ("拍卖日前一日 16:00 前"): a lot that bids on Monday closes registration on
Sunday at 16:00, weekend or not. Registration is open only while the lot is in publicity
and publicity has begun. The seller's own organisation never registers for its lot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from hall.engine import LotSpec, State

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
CUTOFF: Final = time(16, 0)
"""Registration closes at this Beijing time, the day before the bidding day."""


def deadline(bidding_start_ms: int) -> int:
    """Epoch ms of the registration deadline: the instant it is refused from (exclusive end)."""
    bidding_day = datetime.fromtimestamp(bidding_start_ms / 1000, SHANGHAI).date()
    cutoff = datetime.combine(bidding_day - timedelta(days=1), CUTOFF, tzinfo=SHANGHAI)
    return int(cutoff.timestamp()) * 1000


def beijing(ms: int) -> str:
    """Epoch ms as a Beijing wall-clock time, to the second."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why not, as an HTTP status, a stable code and the catalogue key (with its parameters)
    of the message the web layer shows in the asker's language."""

    status: int
    code: str
    key: str
    params: dict[str, str] = field(default_factory=dict)


def eligibility(
    *, now: int, spec: LotSpec, state: State, verified: bool, org: int | None, current: str | None
) -> Refusal | None:
    """Why this account may not hand in a commitment letter for this lot now; None when it may.

    ``current`` is the status of the account's registration for the lot, if it has one:
    only a rejected one may be handed in again.
    """
    if not verified:
        return Refusal(403, "not_verified", "reg_not_verified")
    if org is not None and org == spec.seller_org:
        return Refusal(403, "own_lot", "reg_own_lot")
    if current == "pending":
        return Refusal(409, "pending", "reg_pending")
    if current == "approved":
        return Refusal(409, "registered", "reg_registered")
    if state is not State.PUBLICITY:
        return Refusal(409, "not_publicity", "reg_not_publicity")
    if now < spec.publicity_start:
        return Refusal(409, "not_open", "reg_not_open", {"opens": beijing(spec.publicity_start)})
    closes = deadline(spec.bidding_start)
    if now >= closes:
        return Refusal(409, "deadline_passed", "reg_deadline_passed", {"closes": beijing(closes)})
    return None
