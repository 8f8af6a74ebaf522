"""The SQL of roadshows (CR-10's compete and award stages) and of the staff's picks for the hot
lists: the ``roadshows``, ``roadshow_invites`` and ``roadshow_scores`` tables of migration 14,
and ``demands.pick``.

Writes take the caller's transaction, so that a change and its notices commit together; reads
go through the store's reader unless a write needs them checked again inside its transaction.
Every list a client can drive is bounded by a LIMIT. What a caller may see of these rows is
decided in ``hall/roadshows.py``, never here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.store.demands import DemandRow
from hall.store.rows import Reader, every, first, insert, one
from hall.store.sqlite import SqliteStore



@dataclass(frozen=True, slots=True)
class RoadshowRow:
    id: int
    demand: int
    round: int
    title: str
    starts_at: int
    place: str
    state: str
    created_by: int
    created_at: int
    awarded_at: int | None


@dataclass(frozen=True, slots=True)
class InviteRow:
    roadshow: int
    response: int
    winner: bool
    solver: int
    solver_name: str
    """The solver's organisation's name, else its account's name."""
    summary: str


@dataclass(frozen=True, slots=True)
class ScoreRow:
    id: int
    roadshow: int
    response: int
    expert: str
    score: int
    comment: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ResponseChoice:
    """A response of a demand's current round, as the staff's invitation form offers it."""

    id: int
    solver: int
    solver_name: str
    summary: str
    created_at: int


_ROADSHOW: Final = ("SELECT id, demand, round, title, starts_at, place, state, created_by, created_at, awarded_at"
                    " FROM roadshows")  # fmt: skip
_INVITES: Final = """
    SELECT i.roadshow, i.response, i.winner, r.solver, coalesce(o.name, u.name), r.summary
    FROM roadshow_invites i JOIN demand_responses r ON r.id = i.response
    JOIN users u ON u.id = r.solver LEFT JOIN orgs o ON o.id = r.solver_org
"""
_SCORES: Final = "SELECT id, roadshow, response, expert, score, comment, created_at FROM roadshow_scores"
PICKED_FIRST: Final = "(d.pick = 0), d.pick, d.published_at DESC, d.id DESC"
"""The staff's picks first, rank 1 first; then the newest published (``hall.store.demands.published``'s
order for the picks list). The hot lists order by it too."""
NEWEST_FIRST: Final = "d.published_at DESC, d.id DESC"
"""The newest published first: the demands the staff's scheduling form offers."""


def _roadshow(row: sqlite3.Row) -> RoadshowRow:
    return RoadshowRow(*row)


async def roadshow(source: Reader, roadshow_id: int) -> RoadshowRow | None:
    row = await first(source, f"{_ROADSHOW} WHERE id = ?", (roadshow_id,))
    return None if row is None else _roadshow(row)


async def roadshows(store: SqliteStore, *, demand_id: int | None, limit: int, offset: int) -> list[RoadshowRow]:
    """Newest first; only ``demand_id``'s when given."""
    where, params = ("WHERE demand = ?", [demand_id]) if demand_id is not None else ("", [])
    rows = await store.fetchall(f"{_ROADSHOW} {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    return [_roadshow(r) for r in rows]


async def invites(source: Reader, roadshow_ids: Sequence[int]) -> list[InviteRow]:
    """The invitations of these roadshows, in the order their responses came in."""
    if not roadshow_ids:
        return []
    marks = ",".join("?" * len(roadshow_ids))
    rows = await every(source, f"{_INVITES} WHERE i.roadshow IN ({marks}) ORDER BY i.roadshow, i.response",
                      tuple(roadshow_ids))  # fmt: skip
    return [InviteRow(roadshow=r[0], response=r[1], winner=bool(r[2]), solver=r[3], solver_name=r[4], summary=r[5])
            for r in rows]  # fmt: skip


async def scores(store: SqliteStore, roadshow_ids: Sequence[int]) -> list[ScoreRow]:
    """The experts' scores of these roadshows, in the order they were recorded."""
    if not roadshow_ids:
        return []
    marks = ",".join("?" * len(roadshow_ids))
    rows = await store.fetchall(f"{_SCORES} WHERE roadshow IN ({marks}) ORDER BY roadshow, id", tuple(roadshow_ids))
    return [ScoreRow(*r) for r in rows]


async def own_responses(store: SqliteStore, demand_id: int, solver: int) -> frozenset[int]:
    """The responses ``solver``'s account made to the demand, every round."""
    rows = await store.fetchall("SELECT id FROM demand_responses WHERE demand = ? AND solver = ?", (demand_id, solver))
    return frozenset(int(r[0]) for r in rows)


async def awarded_at(store: SqliteStore, demand_id: int) -> int | None:
    """When the demand's latest award was made, or None: all the public learns of a roadshow."""
    row = await store.fetchone("SELECT max(awarded_at) FROM roadshows WHERE demand = ? AND state = 'awarded'",
                               (demand_id,))  # fmt: skip
    return None if row is None or row[0] is None else int(row[0])


async def round_responses(source: Reader, demand_id: int, round_: int, limit: int) -> list[ResponseChoice]:
    """The responses of the demand's round, oldest first: who may be invited."""
    rows = await every(source, """
        SELECT r.id, r.solver, coalesce(o.name, u.name), r.summary, r.created_at
        FROM demand_responses r JOIN users u ON u.id = r.solver LEFT JOIN orgs o ON o.id = r.solver_org
        WHERE r.demand = ? AND r.round = ? ORDER BY r.id LIMIT ?""", (demand_id, round_, limit))  # fmt: skip
    return [ResponseChoice(*r) for r in rows]


async def invitable(tx: aiosqlite.Connection, demand_id: int, round_: int, ids: Sequence[int]) -> dict[int, int]:
    """Of the responses ``ids``, those of the demand's round, each with its solver's account."""
    marks = ",".join("?" * len(ids))
    found = await tx.execute_fetchall(f"SELECT id, solver FROM demand_responses WHERE demand = ? AND round = ?"
                                      f" AND id IN ({marks})", (demand_id, round_, *ids))  # fmt: skip
    return {int(r[0]): int(r[1]) for r in found}


async def round_awarded(tx: aiosqlite.Connection, demand_id: int, round_: int) -> bool:
    found = await one(tx, "SELECT 1 FROM roadshows WHERE demand = ? AND round = ? AND state = 'awarded'",
                      (demand_id, round_))  # fmt: skip
    return found is not None


async def add_roadshow(tx: aiosqlite.Connection, *, demand: DemandRow, title: str, starts_at: int, place: str,
                       responses: Sequence[int], by: int, now: int) -> int:  # fmt: skip
    roadshow_id = await insert(tx, "roadshows", {
        "demand": demand.id, "round": demand.round, "title": title, "starts_at": starts_at, "place": place,
        "state": "scheduled", "created_by": by, "created_at": now})  # fmt: skip
    await tx.executemany("INSERT INTO roadshow_invites (roadshow, response) VALUES (?, ?)",
                         [(roadshow_id, response) for response in responses])  # fmt: skip
    return roadshow_id


async def score_count(tx: aiosqlite.Connection, roadshow_id: int) -> int:
    row = await one(tx, "SELECT count(*) FROM roadshow_scores WHERE roadshow = ?", (roadshow_id,))
    return 0 if row is None else int(row[0])


async def put_score(tx: aiosqlite.Connection, *, roadshow_id: int, response: int, expert: str, score: int,
                    comment: str, by: int, now: int) -> tuple[int, bool]:  # fmt: skip
    """Record an expert's score of a response; the same expert scoring it again replaces the
    earlier score. (its id, whether it was new)."""
    found = await one(tx, "SELECT id FROM roadshow_scores WHERE roadshow = ? AND response = ? AND expert = ?",
                      (roadshow_id, response, expert))  # fmt: skip
    if found is not None:
        await tx.execute("UPDATE roadshow_scores SET score = ?, comment = ?, recorded_by = ?, created_at = ?"
                         " WHERE id = ?", (score, comment, by, now, found[0]))  # fmt: skip
        return int(found[0]), False
    score_id = await insert(tx, "roadshow_scores", {
        "roadshow": roadshow_id, "response": response, "expert": expert, "score": score, "comment": comment,
        "recorded_by": by, "created_at": now})  # fmt: skip
    return score_id, True


async def award(tx: aiosqlite.Connection, roadshow_id: int, winners: Sequence[int], now: int) -> None:
    marks = ",".join("?" * len(winners))
    await tx.execute(f"UPDATE roadshow_invites SET winner = 1 WHERE roadshow = ? AND response IN ({marks})",
                     (roadshow_id, *winners))  # fmt: skip
    await tx.execute("UPDATE roadshows SET state = 'awarded', awarded_at = ? WHERE id = ?", (now, roadshow_id))


async def set_pick(tx: aiosqlite.Connection, demand_id: int, pick: int, now: int) -> None:
    await tx.execute("UPDATE demands SET pick = ?, updated_at = ? WHERE id = ?", (pick, now, demand_id))
