"""SMS notifications through an outbox: stored first, sent later, retried, never lost.

A message is written by ``enqueue`` inside the same transaction as the decision it reports
(an approval, a rejection), so the decision and its SMS are committed together or not at
all. The dispatcher (``hall/dispatch.py``) sends what is due through a pluggable sender.
"""

from __future__ import annotations

import time
from typing import Final

import aiosqlite

TEMPLATES: Final[dict[str, str]] = {
    "verification_approved": "【技术产权交易所】您的实名认证已通过。",
    "verification_rejected": "【技术产权交易所】您的实名认证未通过，原因：{reason}。请修改后重新提交。",
    "registration_approved": "【技术产权交易所】您报名的拍品《{title}》已审核通过，竞买号 {number}，竞价开始时间 {start}。",
    "registration_rejected": "【技术产权交易所】您报名的拍品《{title}》未通过审核，原因：{reason}。",
}


async def enqueue(tx: aiosqlite.Connection, *, user: int, template: str, **params: object) -> int:
    """Store an SMS to ``user`` in the caller's transaction; returns its outbox id."""
    body = TEMPLATES[template].format(**params)
    async with tx.execute("SELECT phone FROM users WHERE id = ?", (user,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise KeyError(f"no user {user}")
    now = time.time_ns() // 1_000_000
    cursor = await tx.execute(
        "INSERT INTO outbox (user, phone, template, body, status, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (user, row[0], template, body, now, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid
