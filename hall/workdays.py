"""Chinese working days, for the contract's deadline (AU-8) and its reminder.

A working day is what the State Council's yearly holiday arrangement says: Monday to Friday
unless a statutory holiday, and a weekend day that is made a working day in exchange (调休).
Those arrangements are published year by year, so they come from a maintained package,
``chinese-calendar``, never from a rule of thumb. A date in a year the package does not cover
raises ``CalendarUnknown``: a deadline guessed wrong is worse than none, and the cure is to
upgrade the package once the State Council has published the new year (usually in November).

Periods are counted as the Civil Code counts them (民法典 第二百零一条): the day the period
starts from does not count, so "within 5 working days of the notice" ends at the end of the
fifth working day after the notice's Beijing date, whether the notice came on a working day or
not (第二百零三条: the last day ends at 24:00).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final

import chinese_calendar
from chinese_calendar import constants as calendar_data

from hall.registration import SHANGHAI

CONTRACT_WORKING_DAYS: Final = 5
"""AU-8: the contract is signed within this many working days of the notice."""
FIRST_YEAR: Final[int] = min(calendar_data.holidays).year
LAST_YEAR: Final[int] = max(calendar_data.holidays).year
"""The years the installed ``chinese-calendar`` knows (the package's own test of a date)."""
DAY: Final = timedelta(days=1)


class CalendarUnknown(Exception):
    """A day in a year whose holidays the installed calendar does not know: an HTTP status, a
    stable code and the catalogue key (hall/web/i18n.py) of its message with the key's
    parameters, put into words where shown. 503, since the hall is missing data, not the asker
    wrong: upgrading ``chinese-calendar`` cures it."""

    status: Final = 503
    code: Final = "calendar_unknown"
    key: Final = "workdays_unknown_year"

    def __init__(self, day: date) -> None:
        super().__init__(f"no holiday arrangement for {day.year} (known: {FIRST_YEAR}-{LAST_YEAR})")
        self.day = day
        self.params = {"year": day.year, "first": FIRST_YEAR, "last": LAST_YEAR}


def is_working_day(day: date) -> bool:
    """Whether people work on ``day`` in mainland China: a weekday that is no statutory holiday,
    or a weekend day made a working day (调休)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise CalendarUnknown(day)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (before it when ``n`` is negative); ``day`` itself
    never counts, working day or not. ``n == 0`` is ``day``."""
    step = DAY if n > 0 else -DAY
    for _ in range(abs(n)):
        day += step
        while not is_working_day(day):
            day += step
    return day


def working_day_before(day: date) -> date:
    """The last working day before ``day``: when the contract's reminder goes out."""
    return add_working_days(day, -1)


def beijing_date(ms: int) -> date:
    """The calendar date in Beijing of an instant in epoch ms."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def contract_due(notified_at_ms: int) -> date:
    """The last day for the signed contract (AU-8): the fifth working day after the notice's
    Beijing date; the contract is on time until that day's 24:00 Beijing time."""
    return add_working_days(beijing_date(notified_at_ms), CONTRACT_WORKING_DAYS)


def overdue_from(due: date) -> int:
    """Epoch ms from which a deal due on ``due`` is overdue: 24:00 Beijing time that day."""
    return int(datetime.combine(due + DAY, time(0), tzinfo=SHANGHAI).timestamp()) * 1000
