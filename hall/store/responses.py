"""The SQL of what solvers and the demand side do with a published demand (issue 13, piece B):
responses and their attachments, the 立即咨询 threads, the service log, the outcome, reward
applications, and the in-app inbox read as a page of the API.

Writes take the caller's transaction (``tx``), so that a change, its notices and its SMS are
committed together; reads go through the store's reader. Every list a client can drive is
bounded by a LIMIT.

The permission check is ``hall.store.demands.demand_access`` (which demand, and where the caller
stands towards it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import aiosqlite

from hall.store.demands import DemandRow, demand_in, not_found
from hall.store.rows import insert, one
from hall.store.sqlite import SqliteStore



# ---------------------------------------------------------------------- the demand, in a write


async def current(tx: aiosqlite.Connection, demand_id: int) -> DemandRow:
    """The demand as it stands inside a write transaction, where the checks are made again."""
    found = await demand_in(tx, demand_id)
    if found is None:
        raise not_found()
    return found


def parties(demand: DemandRow) -> list[int]:
    """The accounts told of what happens to a demand on its side: its enterprise's account and
    the account that posted it (an entrusted organisation's), each once."""
    return list(dict.fromkeys((demand.enterprise, demand.created_by)))


async def has_approved_identity(tx: aiosqlite.Connection, user: int) -> bool:
    return await one(tx, "SELECT 1 FROM identities WHERE user = ? AND state = 'approved'", (user,)) is not None


async def verified(tx: aiosqlite.Connection, user: int) -> bool:
    found = await one(tx, "SELECT verified FROM users WHERE id = ?", (user,))
    return found is not None and bool(found[0])


# ---------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class ResponseRow:
    id: int
    demand: int
    round: int
    solver: int
    solver_name: str
    solver_org_name: str | None
    summary: str
    approach: str
    team: str
    budget: int | None
    state: str
    created_at: int
    demand_title: str
    demand_number: str | None


@dataclass(frozen=True, slots=True)
class FileRow:
    response: int
    id: int
    name: str


_RESPONSES: Final = """
    SELECT r.id, r.demand, r.round, r.solver, u.name, o.name, r.summary, r.approach, r.team, r.budget, r.state,
           r.created_at, d.title, d.number
    FROM demand_responses r JOIN users u ON u.id = r.solver LEFT JOIN orgs o ON o.id = r.solver_org
    JOIN demands d ON d.id = r.demand
"""


def _response(row: sqlite3.Row) -> ResponseRow:
    return ResponseRow(*row)


async def response(store: SqliteStore, response_id: int) -> ResponseRow | None:
    row = await store.fetchone(f"{_RESPONSES} WHERE r.id = ?", (response_id,))
    return None if row is None else _response(row)


async def response_in(tx: aiosqlite.Connection, response_id: int) -> ResponseRow | None:
    row = await one(tx, f"{_RESPONSES} WHERE r.id = ?", (response_id,))
    return None if row is None else _response(row)


async def responses(store: SqliteStore, demand: int, *, solver: int | None, limit: int, offset: int) -> list[ResponseRow]:
    """A demand's responses, every round, newest first; only ``solver``'s when given."""
    where, params = ("r.demand = ?", [demand]) if solver is None else ("r.demand = ? AND r.solver = ?", [demand, solver])
    rows = await store.fetchall(f"{_RESPONSES} WHERE {where} ORDER BY r.id DESC LIMIT ? OFFSET ?",
                                (*params, limit, offset))  # fmt: skip
    return [_response(r) for r in rows]


async def responses_of_solver(store: SqliteStore, solver: int, *, limit: int, offset: int) -> list[ResponseRow]:
    rows = await store.fetchall(f"{_RESPONSES} WHERE r.solver = ? ORDER BY r.id DESC LIMIT ? OFFSET ?",
                                (solver, limit, offset))  # fmt: skip
    return [_response(r) for r in rows]


async def files_of(store: SqliteStore, responses: Sequence[int]) -> list[FileRow]:
    if not responses:
        return []
    marks = ",".join("?" * len(responses))
    rows = await store.fetchall(f"SELECT x.response, f.id, f.original_name FROM demand_response_files x JOIN files f"
                                f" ON f.id = x.file WHERE x.response IN ({marks}) ORDER BY f.id", tuple(responses))  # fmt: skip
    return [FileRow(*r) for r in rows]


async def responded(tx: aiosqlite.Connection, demand: int, round_: int, solver: int) -> bool:
    return await one(tx, "SELECT 1 FROM demand_responses WHERE demand = ? AND round = ? AND solver = ?",
                     (demand, round_, solver)) is not None  # fmt: skip


async def add_response(tx: aiosqlite.Connection, *, demand: DemandRow, solver: int, solver_org: int | None,
                       summary: str, approach: str, team: str, budget: int | None, files: Sequence[int],
                       now: int) -> int:  # fmt: skip
    response_id = await insert(tx, "demand_responses", {
        "demand": demand.id, "round": demand.round, "solver": solver, "solver_org": solver_org, "summary": summary,
        "approach": approach, "team": team, "budget": budget, "state": "submitted", "created_at": now,
        "updated_at": now})  # fmt: skip
    await tx.executemany("INSERT INTO demand_response_files (response, file) VALUES (?, ?)",
                         [(response_id, f) for f in files])  # fmt: skip
    return response_id


async def adopt(tx: aiosqlite.Connection, demand: DemandRow, response_id: int, now: int) -> list[int]:
    """Mark ``response_id`` adopted and the round's other submitted responses declined; the
    solvers of those others, each once."""
    await tx.execute("UPDATE demands SET adopted = ?, adopted_at = ?, updated_at = ? WHERE id = ?",
                     (response_id, now, now, demand.id))  # fmt: skip
    await tx.execute("UPDATE demand_responses SET state = 'adopted', updated_at = ? WHERE id = ?", (now, response_id))
    cursor = await tx.execute(
        "UPDATE demand_responses SET state = 'declined', updated_at = ? WHERE demand = ? AND round = ? AND id != ?"
        " AND state = 'submitted' RETURNING solver", (now, demand.id, demand.round, response_id))  # fmt: skip
    others = [int(r[0]) for r in await cursor.fetchall()]
    await cursor.close()
    return list(dict.fromkeys(others))


async def clear_adoption(tx: aiosqlite.Connection, demand: DemandRow, now: int) -> None:
    """Undo the round's adoption: the adopted response is ``released``, the declined ones may
    be adopted again."""
    await tx.execute("UPDATE demands SET adopted = NULL, adopted_at = NULL, updated_at = ? WHERE id = ?", (now, demand.id))
    await tx.execute("UPDATE demand_responses SET state = 'released', updated_at = ? WHERE id = ?", (now, demand.adopted))
    await tx.execute("UPDATE demand_responses SET state = 'submitted', updated_at = ? WHERE demand = ? AND round = ?"
                     " AND state = 'declined'", (now, demand.id, demand.round))  # fmt: skip


async def resolve(tx: aiosqlite.Connection, demand: DemandRow, fee: int, now: int) -> None:
    await tx.execute("UPDATE demands SET state = 'resolved', fee = ?, resolved_at = ?, updated_at = ? WHERE id = ?",
                     (fee, now, now, demand.id))  # fmt: skip
    await _end_round(tx, demand, "resolved", now)


async def end_unresolved(tx: aiosqlite.Connection, demand: DemandRow, now: int) -> None:
    """The round ended without a solution: the demand waits for its side to edit and restart
    it (piece A), with no adoption standing."""
    await tx.execute("UPDATE demands SET state = 'unresolved', adopted = NULL, adopted_at = NULL, updated_at = ?"
                     " WHERE id = ?", (now, demand.id))  # fmt: skip
    await _end_round(tx, demand, "unresolved", now)


async def _end_round(tx: aiosqlite.Connection, demand: DemandRow, outcome: str, now: int) -> None:
    await tx.execute("UPDATE demand_rounds SET outcome = ?, ended_at = ? WHERE demand = ? AND round = ?",
                     (outcome, now, demand.id, demand.round))  # fmt: skip


# ---------------------------------------------------------------------- 立即咨询 threads


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    solver: int
    solver_name: str
    author: int
    body: str
    created_at: int


_MESSAGES: Final = ("SELECT m.id, m.solver, u.name, m.author, m.body, m.created_at FROM demand_messages m"
                    " JOIN users u ON u.id = m.solver")


async def message(store: SqliteStore, message_id: int) -> MessageRow | None:
    row = await store.fetchone(f"{_MESSAGES} WHERE m.id = ?", (message_id,))
    return None if row is None else MessageRow(*row)


async def messages(store: SqliteStore, demand: int, *, solver: int | None, before: int, limit: int) -> list[MessageRow]:
    """A demand's messages below the id ``before``, newest first: one thread when ``solver``
    is given, every thread otherwise."""
    where, params = ("m.demand = ?", [demand]) if solver is None else ("m.demand = ? AND m.solver = ?", [demand, solver])
    rows = await store.fetchall(
        f"{_MESSAGES} WHERE {where} AND m.id < ? ORDER BY m.id DESC LIMIT ?",
        (*params, before, limit))  # fmt: skip
    return [MessageRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class ThreadRow:
    solver: int
    solver_name: str
    messages: int
    last_at: int


async def threads(store: SqliteStore, demand: int, *, limit: int, offset: int) -> list[ThreadRow]:
    """A demand's threads, the latest written in first."""
    rows = await store.fetchall(
        "SELECT m.solver, u.name, count(*), max(m.created_at) FROM demand_messages m JOIN users u ON u.id = m.solver"
        " WHERE m.demand = ? GROUP BY m.solver ORDER BY max(m.id) DESC LIMIT ? OFFSET ?", (demand, limit, offset))  # fmt: skip
    return [ThreadRow(*r) for r in rows]


async def thread_exists(tx: aiosqlite.Connection, demand: int, solver: int) -> bool:
    return await one(tx, "SELECT 1 FROM demand_messages WHERE demand = ? AND solver = ?", (demand, solver)) is not None


async def add_message(tx: aiosqlite.Connection, *, demand: int, solver: int, author: int, body: str, now: int) -> int:
    return await insert(tx, "demand_messages", {"demand": demand, "solver": solver, "author": author, "body": body,
                                                "created_at": now})  # fmt: skip


# ---------------------------------------------------------------------- the service log


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    round: int
    day: str
    body: str
    author_name: str
    created_at: int


_LOG: Final = ("SELECT l.id, l.round, l.day, l.body, u.name, l.created_at FROM demand_log l"
               " JOIN users u ON u.id = l.author")


async def log(store: SqliteStore, demand: int, *, limit: int, offset: int) -> list[LogRow]:
    """The demand's log, by day then entry, newest first."""
    rows = await store.fetchall(f"{_LOG} WHERE l.demand = ? ORDER BY l.day DESC, l.id DESC LIMIT ? OFFSET ?",
                                (demand, limit, offset))  # fmt: skip
    return [LogRow(*r) for r in rows]


async def log_entry(store: SqliteStore, entry: int) -> LogRow | None:
    row = await store.fetchone(f"{_LOG} WHERE l.id = ?", (entry,))
    return None if row is None else LogRow(*row)


async def add_log(tx: aiosqlite.Connection, *, demand: DemandRow, day: date, body: str, author: int, now: int) -> int:
    return await insert(tx, "demand_log", {"demand": demand.id, "round": demand.round, "day": day.isoformat(),
                                           "body": body, "author": author, "created_at": now})  # fmt: skip


# ---------------------------------------------------------------------- reward applications (CR-9)


@dataclass(frozen=True, slots=True)
class RewardRow:
    id: int
    demand: int
    applicant: int
    applicant_name: str
    org_name: str | None
    profile: str
    declaration: str
    state: str
    created_at: int
    updated_at: int
    demand_title: str
    demand_number: str | None
    fee: int | None


REWARD_COLUMNS: Final = """
    SELECT w.id, w.demand, w.applicant, u.name, o.name, w.profile, w.declaration, w.state, w.created_at, w.updated_at,
           d.title, d.number, d.fee
    FROM reward_applications w JOIN users u ON u.id = w.applicant LEFT JOIN orgs o ON o.id = w.org
    JOIN demands d ON d.id = w.demand
"""


async def rewards(store: SqliteStore, demand: int, *, applicant: int | None, limit: int) -> list[RewardRow]:
    """A demand's reward applications, newest first; only ``applicant``'s when given."""
    where, params = ("w.demand = ?", [demand]) if applicant is None else ("w.demand = ? AND w.applicant = ?",
                                                                         [demand, applicant])  # fmt: skip
    rows = await store.fetchall(f"{REWARD_COLUMNS} WHERE {where} ORDER BY w.id DESC LIMIT ?", (*params, limit))
    return [RewardRow(*r) for r in rows]


async def rewards_by_ids(store: SqliteStore, ids: Sequence[int]) -> list[RewardRow]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [RewardRow(*r) for r in await store.fetchall(f"{REWARD_COLUMNS} WHERE w.id IN ({marks})", tuple(ids))]


async def reward_files(store: SqliteStore, reward: int) -> list[tuple[int, str]]:
    rows = await store.fetchall("SELECT f.id, f.original_name FROM reward_files x JOIN files f ON f.id = x.file"
                                " WHERE x.reward = ? ORDER BY f.id", (reward,))  # fmt: skip
    return [(r[0], r[1]) for r in rows]


async def reward_of(tx: aiosqlite.Connection, demand: int, applicant: int) -> tuple[int, str] | None:
    found = await one(tx, "SELECT id, state FROM reward_applications WHERE demand = ? AND applicant = ?",
                      (demand, applicant))  # fmt: skip
    return None if found is None else (int(found[0]), str(found[1]))


async def save_reward(tx: aiosqlite.Connection, *, found: int | None, demand: int, applicant: int, org: int | None,
                      profile: str, declaration: str, files: Sequence[int], now: int) -> int:  # fmt: skip
    """A new application, or the rejected one ``found`` filled in again; its documents are the
    ones handed in now."""
    if found is None:
        reward = await insert(tx, "reward_applications", {
            "demand": demand, "applicant": applicant, "org": org, "profile": profile, "declaration": declaration,
            "state": "pending", "created_at": now, "updated_at": now})  # fmt: skip
    else:
        reward = found
        await tx.execute("UPDATE reward_applications SET org = ?, profile = ?, declaration = ?, state = 'pending',"
                         " updated_at = ? WHERE id = ?", (org, profile, declaration, now, reward))  # fmt: skip
        await tx.execute("DELETE FROM reward_files WHERE reward = ?", (reward,))
    await tx.executemany("INSERT INTO reward_files (reward, file) VALUES (?, ?)", [(reward, f) for f in files])
    return reward


async def set_reward_state(tx: aiosqlite.Connection, reward: int, state: str, now: int) -> None:
    await tx.execute("UPDATE reward_applications SET state = ?, updated_at = ? WHERE id = ?", (state, now, reward))


# ---------------------------------------------------------------------- the inbox


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    body: str
    created_at: int
    read_at: int | None
    sms: bool
    """Whether it came as an SMS too (an inbox-only notice has no outbox row)."""


async def inbox(store: SqliteStore, user: int, *, before: int, limit: int) -> list[InboxRow]:
    """The account's messages with ids below ``before``, newest first."""
    rows = await store.fetchall("SELECT id, body, created_at, read_at, outbox IS NOT NULL FROM inbox"
                                " WHERE user = ? AND id < ? ORDER BY id DESC LIMIT ?", (user, before, limit))  # fmt: skip
    return [InboxRow(id=r[0], body=r[1], created_at=r[2], read_at=r[3], sms=bool(r[4])) for r in rows]


async def unread(store: SqliteStore, user: int) -> int:
    found = await store.fetchone("SELECT count(*) FROM inbox WHERE user = ? AND read_at IS NULL", (user,))
    return int(found[0]) if found else 0
