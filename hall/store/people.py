"""Accounts, organisations, roles, sessions and API tokens in the SQLite store.

Session ids and tokens are stored as SHA-256 digests only. Every write goes through
``SqliteStore.transaction`` so that it cannot interleave with the journal's commits.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import aiosqlite

from hall.auth.roles import Identity, Role
from hall.auth.tokens import digest, new_secret
from hall.store.sqlite import SqliteStore

SESSION_TTL_MS = 7 * 24 * 3600 * 1000


class PhoneTaken(Exception):
    """An account with this phone number exists already."""


def _now() -> int:
    return time.time_ns() // 1_000_000


async def org_in(tx: aiosqlite.Connection, name: str, kind: str, now: int) -> int:
    """The organisation of that name, created if new, inside the caller's transaction."""
    async with tx.execute("SELECT id FROM orgs WHERE name = ?", (name,)) as cur:
        row = await cur.fetchone()
    if row is not None:
        return int(row[0])
    cur = await tx.execute("INSERT INTO orgs (name, kind, created_at) VALUES (?, ?, ?)", (name, kind, now))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def verify_in(tx: aiosqlite.Connection, user: int, name: str, org: int | None) -> None:
    """Mark the account verified under ``name`` and ``org``, inside the caller's transaction."""
    await tx.execute("UPDATE users SET verified = 1, name = ?, org = ? WHERE id = ?", (name, org, user))


class People:
    def __init__(self, db: SqliteStore, clock: Callable[[], int] = _now) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ accounts

    async def create_user(self, phone: str, password_hash: str, name: str = "", org: int | None = None) -> int:
        try:
            async with self.db.transaction() as tx:
                cur = await tx.execute(
                    "INSERT INTO users (phone, password_hash, name, org, created_at) VALUES (?, ?, ?, ?, ?)",
                    (phone, password_hash, name, org, self.clock()),
                )
                user = cur.lastrowid
        except Exception as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise PhoneTaken(phone) from exc
            raise
        assert user is not None
        return user

    async def org(self, name: str, kind: str) -> int:
        """The organisation of that name, created if new."""
        async with self.db.transaction() as tx:
            return await org_in(tx, name, kind, self.clock())

    async def org_name(self, org: int) -> str | None:
        row = await self.db.fetchone("SELECT name FROM orgs WHERE id = ?", (org,))
        return None if row is None else str(row[0])

    async def credentials(self, phone: str) -> tuple[int, str] | None:
        row = await self.db.fetchone("SELECT id, password_hash FROM users WHERE phone = ?", (phone,))
        return None if row is None else (int(row[0]), str(row[1]))

    async def set_password_hash(self, user: int, password_hash: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user))

    async def verify(self, user: int, name: str, org: int | None) -> None:
        """Record a real-name verification's result on the account (AC-2)."""
        async with self.db.transaction() as tx:
            await verify_in(tx, user, name, org)

    async def identity(self, user: int) -> Identity | None:
        row = await self.db.fetchone("SELECT id, phone, name, org, verified FROM users WHERE id = ?", (user,))
        if row is None:
            return None
        granted = await self.db.fetchall("SELECT role FROM roles WHERE user = ?", (user,))
        roles = {Role(r[0]) for r in granted}
        if row[4]:
            roles.add(Role.BIDDER)
        return Identity(id=row[0], phone=row[1], name=row[2], org=row[3], verified=bool(row[4]),
                        roles=frozenset(roles))  # fmt: skip

    async def find(self, phone: str) -> Identity | None:
        row = await self.db.fetchone("SELECT id FROM users WHERE phone = ?", (phone,))
        return None if row is None else await self.identity(int(row[0]))

    # ------------------------------------------------------------------ roles

    async def grant(self, user: int, role: Role, by: int | None) -> None:
        if role is Role.BIDDER:
            raise ValueError("bidder follows from real-name verification; it is not granted")
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT OR IGNORE INTO roles (user, role, granted_by, granted_at) VALUES (?, ?, ?, ?)",
                (user, role.value, by, self.clock()),
            )

    async def revoke(self, user: int, role: Role) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM roles WHERE user = ? AND role = ?", (user, role.value))

    async def with_role(self, role: Role) -> list[Identity]:
        rows = await self.db.fetchall("SELECT user FROM roles WHERE role = ? ORDER BY user", (role.value,))
        found = [await self.identity(int(r[0])) for r in rows]
        return [i for i in found if i is not None]

    # ------------------------------------------------------------------ sessions

    async def new_session(self, user: int) -> tuple[str, str]:
        """A fresh (session id, CSRF token): a login never reuses an id it did not make."""
        session, csrf = new_secret(), new_secret()
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            await tx.execute(
                "INSERT INTO sessions (id_hash, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (digest(session), user, csrf, now, now + SESSION_TTL_MS),
            )
        return session, csrf

    async def session(self, session: str) -> tuple[Identity, str] | None:
        """The identity and CSRF token of a live session."""
        row = await self.db.fetchone(
            "SELECT user, csrf FROM sessions WHERE id_hash = ? AND expires_at > ?", (digest(session), self.clock())
        )
        if row is None:
            return None
        identity = await self.identity(int(row[0]))
        return None if identity is None else (identity, str(row[1]))

    async def sign_out_everywhere(self, user: int) -> None:
        """End every session and revoke every token of ``user`` (after a password reset)."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM sessions WHERE user = ?", (user,))
            await tx.execute("UPDATE tokens SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
                             (self.clock(), user))  # fmt: skip

    async def end_session(self, session: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM sessions WHERE id_hash = ?", (digest(session),))

    # ------------------------------------------------------------------ API tokens

    async def new_token(self, user: int, label: str = "") -> tuple[int, str]:
        token = new_secret()
        async with self.db.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO tokens (hash, user, label, created_at) VALUES (?, ?, ?, ?)",
                (digest(token), user, label, self.clock()),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid, token

    async def token(self, token: str) -> tuple[int, Identity] | None:
        """(token id, identity) for a token that exists and is not revoked."""
        row = await self.db.fetchone("SELECT id, user FROM tokens WHERE hash = ? AND revoked_at IS NULL", (digest(token),))
        if row is None:
            return None
        identity = await self.identity(int(row[1]))
        return None if identity is None else (int(row[0]), identity)

    async def tokens(self, user: int) -> list[dict[str, object]]:
        rows = await self.db.fetchall(
            "SELECT id, label, created_at, revoked_at FROM tokens WHERE user = ? ORDER BY id", (user,)
        )
        return [{"id": r[0], "label": r[1], "created_at": r[2], "revoked_at": r[3]} for r in rows]

    async def revoke_token(self, user: int, token_id: int) -> bool:
        """Revoke one of ``user``'s own tokens; False when there is no such live token."""
        async with self.db.transaction() as tx:
            cur = await tx.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND user = ? AND revoked_at IS NULL",
                (self.clock(), token_id, user),
            )
        return cur.rowcount == 1

    # ------------------------------------------------------------------ settings

    async def secret_key(self) -> str:
        """The key cookies are signed with: made once per database, kept in it."""
        async with self.db.transaction() as tx:
            async with tx.execute("SELECT value FROM settings WHERE key = 'secret_key'") as cur:
                row = await cur.fetchone()
            if row is not None:
                return str(row[0])
            key = new_secret()
            await tx.execute("INSERT INTO settings (key, value) VALUES ('secret_key', ?)", (key,))
            return key
