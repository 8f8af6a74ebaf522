"""Chinese working days (AU-8): the contract is due 5 working days after the notice, counted on
the State Council's holiday arrangements from ``chinese-calendar``, make-up working days (调休)
included; a year the calendar does not know is an error, never a guess."""

from __future__ import annotations

from datetime import date

import pytest

from hall.web.i18n import MESSAGES, text
from hall.workdays import (
    FIRST_YEAR, LAST_YEAR, CalendarUnknown, add_working_days, contract_due, is_working_day, overdue_from,
    working_day_before,
)  # fmt: skip

from hallkit import beijing_ms


def test_the_2025_national_day_week_is_off_and_its_make_up_sunday_and_saturday_are_working_days() -> None:
    assert [is_working_day(date(2025, 10, d)) for d in range(1, 9)] == [False] * 8
    assert is_working_day(date(2025, 9, 28))  # Sunday
    assert is_working_day(date(2025, 10, 11))  # Saturday
    assert not is_working_day(date(2025, 10, 12))  # an ordinary Sunday


def test_a_notice_before_the_national_day_week_is_due_after_it_counting_the_make_up_saturday() -> None:
    # Tue 30 Sep 2025; 1-8 Oct off; Thu 9, Fri 10, Sat 11 (调休), Mon 13, Tue 14.
    assert contract_due(beijing_ms(2025, 9, 30, 15, 0)) == date(2025, 10, 14)
    # Fri 26 Sep 2025: Sun 28 (调休), Mon 29, Tue 30, then Thu 9 and Fri 10 Oct.
    assert contract_due(beijing_ms(2025, 9, 26, 10, 0)) == date(2025, 10, 10)


def test_a_notice_before_the_2026_spring_festival_is_due_after_it() -> None:
    # Thu 12 Feb 2026: Fri 13, Sat 14 (调休), 15-23 Feb off, Tue 24, Wed 25, Thu 26.
    assert [is_working_day(date(2026, 2, d)) for d in range(15, 24)] == [False] * 9
    assert contract_due(beijing_ms(2026, 2, 12, 11, 0)) == date(2026, 2, 26)


def test_the_reminder_day_before_a_deadline_can_be_a_make_up_saturday() -> None:
    assert working_day_before(date(2026, 3, 2)) == date(2026, 2, 28)  # Monday -> Saturday 28 Feb (调休)
    assert working_day_before(date(2026, 2, 24)) == date(2026, 2, 14)  # across the whole festival
    assert working_day_before(date(2026, 3, 9)) == date(2026, 3, 6)  # an ordinary weekend


def test_the_notice_day_itself_never_counts_working_day_or_not() -> None:
    assert contract_due(beijing_ms(2026, 3, 2, 9, 0)) == date(2026, 3, 9)  # Monday: Tue..Fri, Mon
    assert contract_due(beijing_ms(2026, 3, 1, 9, 0)) == date(2026, 3, 6)  # Sunday: Mon..Fri
    # on a National Day holiday and on the working day before the week: both due on the same day
    assert contract_due(beijing_ms(2026, 10, 3, 9, 0)) == contract_due(beijing_ms(2026, 9, 30, 9, 0)) == date(2026, 10, 13)


def test_the_notice_day_is_its_beijing_date() -> None:
    assert contract_due(beijing_ms(2026, 3, 1, 23, 59, 59)) == date(2026, 3, 6)
    assert contract_due(beijing_ms(2026, 3, 2, 0, 0, 0)) == date(2026, 3, 9)  # 16:00 UTC on 1 March


def test_adding_counts_forward_and_backward_and_zero_is_the_day_itself() -> None:
    assert add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert add_working_days(date(2026, 2, 24), -2) == date(2026, 2, 13)
    assert add_working_days(date(2026, 2, 15), 0) == date(2026, 2, 15)


def test_a_deal_is_overdue_from_midnight_beijing_time_after_its_due_day() -> None:
    assert overdue_from(date(2026, 10, 13)) == beijing_ms(2026, 10, 14, 0, 0, 0)


def test_a_year_the_calendar_does_not_know_is_a_clear_error_with_a_catalogue_key() -> None:
    with pytest.raises(CalendarUnknown) as raised:
        contract_due(beijing_ms(LAST_YEAR, 12, 28, 10, 0))  # at most three working days left that year
    error = raised.value
    assert (error.status, error.code, error.day) == (503, "calendar_unknown", date(LAST_YEAR + 1, 1, 1))
    assert error.key in MESSAGES
    assert str(LAST_YEAR + 1) in text(error.key, "zh", error.params)
    assert f"{FIRST_YEAR}–{LAST_YEAR}" in text(error.key, "en", error.params)
    with pytest.raises(CalendarUnknown):
        is_working_day(date(FIRST_YEAR - 1, 6, 1))
