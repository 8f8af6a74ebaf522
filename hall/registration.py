"""Who may register to bid on a lot, and until when (AU-2, AU-3): pure rules, no I/O.

The commitment letter must be in before 16:00 Beijing time of the calendar day before the
bidding day ("拍卖日前一日 16:00 前"): a lot that bids on Monday closes registration on
Sunday at 16:00, weekend or not. Registration is open only while the lot is in publicity
and publicity has begun. The seller's own organisation never registers for its lot.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    status: int
    code: str
    message: str


def eligibility(
    *, now: int, spec: LotSpec, state: State, verified: bool, org: int | None, current: str | None
) -> Refusal | None:
    """Why this account may not hand in a commitment letter for this lot now; None when it may.

    ``current`` is the status of the account's registration for the lot, if it has one:
    only a rejected one may be handed in again.
    """
    if not verified:
        return Refusal(403, "not_verified",
                       "请先完成实名认证后再报名 (complete real-name verification before registering)")  # fmt: skip
    if org is not None and org == spec.seller_org:
        return Refusal(403, "own_lot", "不能报名本机构挂牌的拍品 (you cannot register for your own organisation's lot)")
    if current == "pending":
        return Refusal(409, "pending", "报名已提交，正在审核 (your registration is under review)")
    if current == "approved":
        return Refusal(409, "registered", "报名已通过审核 (you are already registered)")
    if state is not State.PUBLICITY:
        return Refusal(409, "not_publicity",
                       "拍品已不在公示期，报名已关闭 (the lot is no longer in publicity; registration is closed)")  # fmt: skip
    if now < spec.publicity_start:
        return Refusal(409, "not_open",
                       f"公示期尚未开始，报名自 {beijing(spec.publicity_start)}（北京时间）起开放 "
                       f"(registration opens at {beijing(spec.publicity_start)} Beijing time)")  # fmt: skip
    closes = deadline(spec.bidding_start)
    if now >= closes:
        return Refusal(409, "deadline_passed",
                       f"报名已于 {beijing(closes)}（北京时间）截止 "
                       f"(registration closed at {beijing(closes)} Beijing time)")  # fmt: skip
    return None
