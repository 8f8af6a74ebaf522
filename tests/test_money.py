"""Whole yuan in figures and in Chinese capitals (大写), as the deal documents print a price."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hall.engine import MAX_AMOUNT
from hall.money import capitals, figures
from hall.web.templating import yuan

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = {"拾": 10, "佰": 100, "仟": 1000}


@pytest.mark.parametrize(("amount", "words"), [
    (0, "人民币零元整"),
    (10, "人民币壹拾元整"),
    (15, "人民币壹拾伍元整"),
    (101, "人民币壹佰零壹元整"),
    (1_010, "人民币壹仟零壹拾元整"),
    (100_001, "人民币壹拾万零壹元整"),
    (107_000, "人民币壹拾万零柒仟元整"),
    (123_000, "人民币壹拾贰万叁仟元整"),
    (200_000, "人民币贰拾万元整"),
    (1_000_000, "人民币壹佰万元整"),
    (1_000_001, "人民币壹佰万零壹元整"),
    (100_000_000, "人民币壹亿元整"),
    (1_010_101_010, "人民币壹拾亿零壹仟零壹拾万零壹仟零壹拾元整"),
    (100_050_000_000, "人民币壹仟亿零伍仟万元整"),
    (999_999_999_999, "人民币玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元整"),
    (MAX_AMOUNT, "人民币壹万亿元整"),
])  # fmt: skip
def test_capitals_write_the_amount_as_a_bank_would(amount: int, words: str) -> None:
    assert capitals(amount) == words


def _read(words: str) -> int:
    """Capitals back to a number, the way a reader sums them: the test's independent inverse."""
    assert words.startswith("人民币") and words.endswith("元整")
    total = section = digit = 0
    for ch in words[3:-2]:
        if ch in DIGITS:
            digit = DIGITS.index(ch)
        elif ch in PLACES:
            section, digit = section + digit * PLACES[ch], 0
        elif ch == "万":
            section, digit = (section + digit) * 10**4, 0
        elif ch == "亿":
            total, section, digit = (total + section + digit) * 10**8, 0, 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {words}")
    return total + section + digit


@given(st.integers(min_value=1, max_value=MAX_AMOUNT) | st.sampled_from([10**k for k in range(13)]))
def test_capitals_read_back_to_the_amount_with_single_zeros_only_between_digits(amount: int) -> None:
    words = capitals(amount)
    assert _read(words) == amount
    assert "零零" not in words
    assert not re.search("零[万亿元]", words)
    assert not re.search("(?<![壹贰叁肆伍陆柒捌玖])拾", words)  # ten is 壹拾, never a bare 拾


@pytest.mark.parametrize("amount", [-1, MAX_AMOUNT + 1, True, 1.0])
def test_capitals_refuse_what_is_not_a_hall_amount(amount: object) -> None:
    with pytest.raises(ValueError):
        capitals(amount)  # type: ignore[arg-type]


def test_figures_group_thousands_and_the_pages_filter_uses_them() -> None:
    assert figures(0) == "0"
    assert figures(1_230_000) == "1,230,000"
    assert figures(MAX_AMOUNT) == "1,000,000,000,000"
    assert yuan(1_230_000) == "1,230,000"
    assert yuan(None) == ""
