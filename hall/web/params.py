"""Numbers in paths, queries and forms, checked at the edge before anything uses them.

SQLite's integers are signed 64-bit: a bigger one raises OverflowError deep in the store (a
500), and ``int()`` also reads non-ASCII digits ("²", "١٢"). So every id in a path goes
through the ``id`` convertor, whose pattern matches only the ASCII digits of 1..2**63-1 (any
other path segment matches no route: 404), and every number in a query or form through
``whole``, which refuses anything else with 400.

Importing this module registers the convertor; ``hall.web.security.route`` imports it and
refuses a path that uses Starlette's unbounded ``int`` convertor instead.
"""

from __future__ import annotations

from typing import Final

from starlette.convertors import Convertor, register_url_convertor

from hall.web.errors import Refused

ID_MAX: Final = 2**63 - 1
"""The largest integer SQLite stores (and so the largest row id)."""


def _at_most(bound: int) -> str:
    """A regular expression for the decimal numbers 1..``bound`` without leading zeros: any
    shorter number, or one of the same length that is below ``bound`` at its first differing
    digit, or ``bound`` itself."""
    digits = str(bound)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else None
    same_length = [
        f"{digits[:i]}[{'1' if i == 0 else '0'}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if int(d) > (1 if i == 0 else 0)
    ]
    return "|".join(part for part in (shorter, *same_length, digits) if part)


class IdConvertor(Convertor[int]):
    """A row id in a path: ASCII digits, 1..``ID_MAX``."""

    regex = f"(?:{_at_most(ID_MAX)})"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 1 <= value <= ID_MAX:
            raise ValueError(f"an id is 1..{ID_MAX}, not {value}")
        return str(value)


register_url_convertor("id", IdConvertor())


def whole(value: object, name: str, *, default: int | None = None, low: int = 0, high: int = ID_MAX) -> int:
    """A query or form field as a whole number in ``low``..``high``: ASCII digits only (and a
    leading minus when ``low`` allows it). Missing or empty: ``default``, if there is one.
    Anything else is refused: 400 ``bad_request``."""
    if (value is None or value == "") and default is not None:
        return default
    text = value if isinstance(value, str) else ""
    unsigned = text.removeprefix("-") if low < 0 else text
    # Twenty digits already exceed any bound: no int() of a million-digit string.
    if unsigned.isascii() and unsigned.isdigit() and len(unsigned) <= 20:
        number = int(text)
        if low <= number <= high:
            return number
    raise Refused(400, "bad_request", "bad_number", {"name": name, "low": low, "high": high})
