"""Password hashing with argon2id (argon2-cffi), at OWASP's minimum or above."""

from __future__ import annotations

import argon2

_hasher = argon2.PasswordHasher(
    time_cost=2,
    memory_cost=19 * 1024,  # KiB: 19 MiB
    parallelism=1,
    type=argon2.Type.ID,
)
_DUMMY = _hasher.hash("not a password anyone has")
"""Verified against when the phone is unknown, so that a miss costs what a hit costs."""

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; a None ``stored`` (no such account) takes as long."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
