"""One-time SMS codes that prove a phone (AC-1): what a code is, how it is kept, the limits.

A code is 6 random digits, valid ``TTL_MS``, good for ``MAX_TRIES`` guesses and one use, and
bound to its phone and purpose: a sign-up code cannot log anyone in. Only an HMAC of it is
stored, keyed by the hall's secret; a million possible codes are no secret against anyone who
also holds the key, which is why a code lives ten minutes and five guesses. The rules that need
the database (how many were sent, the newest live one) are in ``hall/store/codes.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum
from typing import Final


class Purpose(StrEnum):
    SIGNUP = "signup"
    LOGIN = "login"
    RESET = "reset"


DIGITS: Final = 6
TTL_MS: Final = 10 * 60_000
"""A code is refused this long after it was sent."""
MAX_TRIES: Final = 5
"""Wrong guesses at one code; the fifth ends it, and a new code must be asked for."""
PHONE_SENDS: Final[tuple[tuple[int, int], ...]] = ((60_000, 1), (3_600_000, 5))
"""(window ms, codes sent at most) per phone, whatever the purpose: one a minute, five an hour.
So at most 25 guesses an hour reach any phone's codes, against a million possibilities."""
ADDRESS_SENDS: Final[tuple[tuple[int, int], ...]] = ((60_000, 10), (3_600_000, 50))
"""The same per client address: enough for a class signing up together behind one NAT, too
few to pump SMS to arbitrary numbers (docs/permissions.md explains the numbers)."""
KEPT_MS: Final = 24 * 3_600_000
"""Code rows older than this are deleted (the limits look back one hour)."""


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def code_hash(key: bytes, phone: str, purpose: Purpose, code: str) -> bytes:
    """The stored form of a code, bound to its phone and purpose."""
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).digest()


def same_code(stored: bytes, given: bytes) -> bool:
    return hmac.compare_digest(stored, given)


def well_formed(code: str) -> bool:
    """Six ASCII digits (``str.isdigit`` would take other scripts' digits too)."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()
