"""Opaque random secrets (session ids, API tokens, CSRF tokens) and their stored form.

Only a SHA-256 of a session id or API token is stored, so a copy of the database does not
let anyone sign in; the secrets are 256-bit random, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
