"""Chinese patent numbers (LS-3, LS-10): format, check digit, year and kind."""

from __future__ import annotations

import pytest

from hall.patents import PatentType, check_digit, parse_number


def test_the_issue_example_is_a_valid_invention_number_of_2021() -> None:
    number = parse_number("ZL202110123456.7")
    assert number is not None
    assert number.text == "ZL202110123456.7"
    assert number.year == 2021
    assert number.type is PatentType.INVENTION
    assert number.invention


@pytest.mark.parametrize("raw", ["202110123456.7", "CN202110123456.7", "zl 2021 1 0123456.7", "ZL2021101234567",
                                 "ZL202110123456．7", "\u3000ZL202110123456.7"])
def test_the_ways_people_write_a_number_read_the_same(raw: str) -> None:
    number = parse_number(raw)
    assert number is not None and number.text == "ZL202110123456.7"


@pytest.mark.parametrize("last", [d for d in "012345689X"])
def test_every_other_check_digit_is_refused(last: str) -> None:
    assert parse_number(f"ZL202110123456.{last}") is None


def test_a_check_of_ten_is_written_x() -> None:
    assert check_digit("99112345") == "X"
    number = parse_number("ZL99112345.X")
    assert number is not None and number.year == 1999 and number.invention


@pytest.mark.parametrize(("digits", "kind"), [("202120123456", PatentType.UTILITY), ("202130123456", PatentType.DESIGN),
                                              ("202180123456", PatentType.INVENTION), ("202190123456", PatentType.UTILITY)])
def test_the_fifth_digit_says_the_kind(digits: str, kind: PatentType) -> None:
    number = parse_number(f"ZL{digits}.{check_digit(digits)}")
    assert number is not None and number.type is kind


@pytest.mark.parametrize("raw", ["", "ZL", "ZL20211012345.7", "ZL2021101234567.7", "ZL202150123456.0",
                                 "ZL２０２１10123456.7", "ZL202110123456.77", "ZL199910123456.1", "x" * 100,
                                 "ZL2021-10123456.7"])
def test_malformed_numbers_are_refused(raw: str) -> None:
    assert parse_number(raw) is None
