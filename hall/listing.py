"""What a lot offers, as its page describes it (LS-1, LS-3, LS-5): shown, never judged.

The engine needs none of this to run an auction, so it lives beside the lot's spec, not in it.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class ItemKind(StrEnum):
    PATENT = "patent"
    """发明专利 (LS-1)."""
    ACHIEVEMENT = "achievement"
    """科技成果 (LS-1)."""


class TransactionForm(StrEnum):
    """LS-5: how the right passes to the buyer."""

    TRANSFER = "transfer"
    LICENCE = "licence"
    EQUITY = "equity"


class LotDetails(msgspec.Struct, frozen=True, kw_only=True):
    kind: ItemKind = ItemKind.PATENT
    number: str = ""
    """The patent or registration number, e.g. ZL202110123456.7."""
    holder: str = ""
    """The right holder (LS-4)."""
    abstract: str = ""
    form: TransactionForm = TransactionForm.TRANSFER
