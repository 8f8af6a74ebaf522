"""Whole yuan written out: in figures for pages and in Chinese capitals for the deal documents.

A price on a notice, a certificate or a contract is written twice, in figures and in capitals
(大写), as Chinese financial documents require: capitals cannot be altered by adding a stroke or
a digit. The rules followed are those the People's Bank of China sets for bills and settlement
vouchers (《正确填写票据和结算凭证的基本规定》): the words start with 人民币 and end with 元整
for an amount without jiao or fen (the hall only knows whole yuan); ten to nineteen are written
壹拾…; and zeros between two non-zero digits are written 零, one 零 for a run of them.

Where those rules let a 零 be left out (a zero at the ten-thousands or units place followed by
a non-zero thousands digit: 壹拾万柒仟 or 壹拾万零柒仟), this module always writes it, so that
every gap in the digits shows: one rule, no choice to make per amount.
"""

from __future__ import annotations

from typing import Final

from hall.engine.spec import MAX_AMOUNT

DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
PLACES: Final = ("", "拾", "佰", "仟")
"""The places inside one group of four digits."""
WAN: Final = 10**4
YI: Final = 10**8


def figures(amount: int) -> str:
    """Whole yuan in figures with thousands separators: ``123,000``. Pages (the ``yuan`` filter)
    and documents both write amounts through this."""
    return f"{amount:,}"


def capitals(amount: int) -> str:
    """Whole yuan in Chinese capitals: ``人民币壹拾贰万叁仟元整``.

    From 0 (``人民币零元整``) to the largest amount the hall takes, ``MAX_AMOUNT``; anything
    else is a programming error (a price outside the engine's range cannot reach a document)."""
    if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"not a whole number of yuan from 0 to {MAX_AMOUNT}: {amount!r}")
    return "人民币" + (_spell(amount) if amount else DIGITS[0]) + "元整"


def _spell(n: int) -> str:
    """A positive number in capitals: the part above 亿 (itself spelled with 万 when it reaches
    ten thousand), 亿, then the rest; likewise 万 inside a part below 亿."""
    if n >= YI:
        return _join(_spell(n // YI) + "亿", n // YI, n % YI, YI)
    if n >= WAN:
        return _join(_group(n // WAN) + "万", n // WAN, n % WAN, WAN)
    return _group(n)


def _join(head: str, high: int, low: int, unit: int) -> str:
    """``head`` followed by ``low`` (below ``unit``), with a 零 where the digits between them hold
    a zero: the high part ends in zero or the low part starts with one."""
    if low == 0:
        return head
    gap = high % 10 == 0 or low < unit // 10
    return head + (DIGITS[0] if gap else "") + _spell(low)


def _group(n: int) -> str:
    """1 to 9999: each non-zero digit with its place, one 零 for a run of zeros between two
    non-zero digits, trailing zeros silent."""
    words: list[str] = []
    digits = str(n)
    zeros = False
    for i, ch in enumerate(digits):
        d = int(ch)
        if d == 0:
            zeros = True
            continue
        if zeros:
            words.append(DIGITS[0])
            zeros = False
        words.append(DIGITS[d] + PLACES[len(digits) - 1 - i])
    return "".join(words)
