"""Chinese patent numbers (LS-3, LS-10): their format, their check digit and what they say.

A patent's application number names the filing year and the kind of patent, and ends in a
check digit, so a mistyped number is caught before anything is looked up or listed:

- since 1 October 2003: ``YYYY`` ``T`` ``NNNNNNN`` then ``.C`` (12 digits and a check), e.g.
  ``ZL202110123456.7``;
- before: ``YY`` ``T`` ``NNNNN`` then ``.C`` (8 digits and a check), e.g. ``ZL99112345.X``.

``T`` is the kind: 1 invention, 2 utility model, 3 design, 8 an international (PCT)
invention application entering China, 9 a PCT utility model. The check digit is the sum of the
digits weighted 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 (left to right), modulo 11, with 10 written
``X``. A granted patent's number is its application number after ``ZL`` (专利); people also
write ``CN``, spaces, a full-width dot or no dot, all of which are read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

WEIGHTS: Final = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_DOTS: Final = str.maketrans({"．": ".", "。": ".", "·": "."})


class PatentType(StrEnum):
    INVENTION = "invention"
    UTILITY = "utility"
    DESIGN = "design"


_TYPES: Final = {"1": PatentType.INVENTION, "8": PatentType.INVENTION, "2": PatentType.UTILITY,
                 "9": PatentType.UTILITY, "3": PatentType.DESIGN}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PatentNumber:
    digits: str
    """The 12 (or, before 2003, 8) digits before the check digit."""
    check: str
    """``0``–``9`` or ``X``."""

    @property
    def text(self) -> str:
        """The canonical form the hall stores and shows: ``ZL202110123456.7``."""
        return f"ZL{self.digits}.{self.check}"

    @property
    def year(self) -> int:
        """The year the application was filed."""
        if len(self.digits) == 12:
            return int(self.digits[:4])
        short = int(self.digits[:2])
        return 1900 + short if short >= 85 else 2000 + short  # the old numbers run from 1985 to 2003

    @property
    def type(self) -> PatentType:
        return _TYPES[self.digits[4] if len(self.digits) == 12 else self.digits[2]]

    @property
    def invention(self) -> bool:
        return self.type is PatentType.INVENTION


def check_digit(digits: str) -> str:
    """The check digit of 8 or 12 digits."""
    total = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=False))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def parse_number(raw: str) -> PatentNumber | None:
    """The number ``raw`` spells, or None when it is not a well-formed Chinese patent number
    with a right check digit. Only ASCII digits count (``str.isdigit`` takes other scripts')."""
    if len(raw) > 40:
        return None
    text = raw.translate(_DOTS).replace(" ", "").replace("\u3000", "").upper()
    for prefix in ("ZL", "CN"):
        text = text.removeprefix(prefix)
    if "." in text:
        digits, _, check = text.partition(".")
    else:
        digits, check = text[:-1], text[-1:]
    if len(digits) not in (8, 12) or not (digits.isascii() and digits.isdigit()):
        return None
    if len(check) != 1 or check not in "0123456789X":
        return None
    kind = digits[4] if len(digits) == 12 else digits[2]
    if kind not in _TYPES or check_digit(digits) != check:
        return None
    number = PatentNumber(digits, check)
    if len(digits) == 12 and not 2003 <= number.year <= 2100:
        return None
    return number
