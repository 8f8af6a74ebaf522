"""What a person typed, or a spreadsheet cell holds, read as text or as a date: the one reading
shared by the batch upload (``hall.batch``), the patent catalogue's import and a patent
service's answers (``hall.patents.make_patent``), so that a date a seller's sheet accepts is a
date the catalogue accepts too.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final

_DATE: Final = re.compile(r"(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{2})(\d{2}))")
"""``2021-03-05``, ``2021/3/5``, ``2021.3.5``, ``2021年3月5日`` or ``20210305``."""


def cell_text(value: object) -> str:
    """A cell as text, stripped: a date cell as ``YYYY-MM-DD``, a spreadsheet number that is
    whole without its ``.0``, nothing as ``""``."""
    match value:
        case None:
            return ""
        case datetime():
            return value.date().isoformat()
        case date():
            return value.isoformat()
        case float() if value.is_integer():
            return str(int(value))
    return str(value).strip()


def cell_date(value: object) -> date | None:
    """A date cell, or text written as one of the ways ``_DATE`` reads; None when blank.
    Raises ``ValueError`` when it is not a real date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        return None
    found = _DATE.fullmatch(text)
    if found is None:
        raise ValueError(f"not a date: {text!r}")
    return date(int(found[1]), int(found[2] or found[4]), int(found[3] or found[5]))
