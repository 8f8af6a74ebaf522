"""The SQL of research crowdsourcing's demands (CR-1 to CR-4, CR-11; migration 14): the
``demands`` rows, their numbers (``demand_numbers``), their rounds (``demand_rounds``), the
public search index (``demand_fts``), and the entrustments an enterprise gives a transfer
organisation.

``demand_access`` is the one permission check every part of crowdsourcing starts from: the
demand and where the asker stands towards it (``hall.demands.relation``), or 404 for a demand the
asker may not see. The search index holds PUBLIC text only (``public_text``): a hidden field
never reaches it, so no search, snippet or ranking built on it can leak one (CR-4).

Writes take the caller's transaction (``tx``), so that a demand, its review application and its
number are written together (``hall.demand_posting``); reads that decide something are made in
that transaction too, the others use the reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import aiosqlite
import msgspec

from hall.auctions import Industry
from hall.auth.roles import Identity
from hall.demands import (
    Cooperation,
    DemandState,
    Relation,
    ServiceMode,
    beijing_year,
    number,
    relation,
    shown_fields,
    topic_text,
)
from hall.store.patents import grams, match_expression
from hall.store.rows import insert, one
from hall.store.sqlite import SqliteStore
from hall.web.errors import Refused

PUBLIC_STATES: Final = (DemandState.PUBLISHED, DemandState.RESOLVED, DemandState.UNRESOLVED)
"""States in which anyone may see a demand (without its hidden fields): what was published.
A pending, rejected or withdrawn demand is its side's, its agency's and staff's only."""
PAGE_SIZE: Final = 20
"""Demands one page of a list shows."""
MAX_PAGE: Final = 500
"""The last page a list serves: past it, narrow the search."""

_hidden_decoder: Final = msgspec.json.Decoder(list[str])
_encoder: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class DemandRow:
    """One ``demands`` row, typed. ``hidden`` is the demand side's choice of fields the public
    must not see (``hall.demands.HIDEABLE``); ``enterprise_name`` is its organisation's name
    (or the account's name when it has none)."""

    id: int
    number: str | None
    enterprise: int
    enterprise_org: int | None
    agency_org: int | None
    entrustment: int | None
    title: str
    industry: Industry
    description: str
    requirements: str
    manager: str
    service_mode: ServiceMode
    investment: int
    cooperation: Cooperation
    contact_name: str
    contact_phone: str
    valid_until: date
    response_deadline: date
    hidden: tuple[str, ...]
    state: DemandState
    round: int
    adopted: int | None
    adopted_at: int | None
    fee: int | None
    resolved_at: int | None
    pick: int
    views: int
    batch: int | None
    created_by: int
    created_at: int
    updated_at: int
    published_at: int | None
    enterprise_name: str
    agency_name: str | None

    def relation(self, me: Identity | None) -> Relation:
        """Where ``me`` stands towards this demand."""
        return relation(me, enterprise=self.enterprise, enterprise_org=self.enterprise_org, agency_org=self.agency_org)

    def withheld(self, who: Relation) -> frozenset[str]:
        """The hideable fields ``who`` must not be shown."""
        return shown_fields(who, self.hidden)


_FIELDS: Final = (
    "id", "number", "enterprise", "enterprise_org", "agency_org", "entrustment", "title", "industry", "description",
    "requirements", "manager", "service_mode", "investment", "cooperation", "contact_name", "contact_phone",
    "valid_until", "response_deadline", "hidden", "state", "round", "adopted", "adopted_at", "fee", "resolved_at",
    "pick", "views", "batch", "created_by", "created_at", "updated_at", "published_at",
)  # fmt: skip
_SELECT: Final = (
    f"SELECT {', '.join('d.' + f for f in _FIELDS)}, coalesce(eo.name, eu.name), ao.name FROM demands d"
    " JOIN users eu ON eu.id = d.enterprise LEFT JOIN orgs eo ON eo.id = d.enterprise_org"
    " LEFT JOIN orgs ao ON ao.id = d.agency_org"
)


def _demand(row: sqlite3.Row | Sequence[object]) -> DemandRow:
    values = dict(zip((*_FIELDS, "enterprise_name", "agency_name"), row, strict=True))
    hidden = values["hidden"]
    assert isinstance(hidden, str)
    values.update(
        industry=Industry(values["industry"]), service_mode=ServiceMode(values["service_mode"]),
        cooperation=Cooperation(values["cooperation"]), state=DemandState(values["state"]),
        valid_until=date.fromisoformat(str(values["valid_until"])),
        response_deadline=date.fromisoformat(str(values["response_deadline"])),
        hidden=tuple(_hidden_decoder.decode(hidden)), enterprise_name=str(values["enterprise_name"] or ""),
    )  # fmt: skip
    return DemandRow(**values)


def demand_text(values: Mapping[str, object]) -> dict[str, object]:
    """A demand's editable columns as stored: the dates as ``YYYY-MM-DD``, ``hidden`` as JSON."""
    out = dict(values)
    for name, value in values.items():
        if isinstance(value, date):
            out[name] = value.isoformat()
        elif name == "hidden" and isinstance(value, (list, tuple)):
            out[name] = _encoder.encode(list(value)).decode()
    return out


# ---------------------------------------------------------------------- reading


async def demand(store: SqliteStore, demand_id: int) -> DemandRow | None:
    row = await store.fetchone(f"{_SELECT} WHERE d.id = ?", (demand_id,))
    return None if row is None else _demand(row)


async def demand_in(tx: aiosqlite.Connection, demand_id: int) -> DemandRow | None:
    row = await one(tx, f"{_SELECT} WHERE d.id = ?", (demand_id,))
    return None if row is None else _demand(row)


async def by_ids(store: SqliteStore, ids: Sequence[int]) -> dict[int, DemandRow]:
    if not ids:
        return {}
    rows = await store.fetchall(f"{_SELECT} WHERE d.id IN ({','.join('?' * len(ids))})", tuple(ids))
    return {int(row[0]): _demand(row) for row in rows}


def not_found() -> Refused:
    """What anyone is told of a demand it may not see: that it does not exist."""
    return Refused(404, "not_found", "crowd_a_not_found")


async def demand_access(store: SqliteStore, demand_id: int, me: Identity | None) -> tuple[DemandRow, Relation]:
    """The demand and ``me``'s relation to it, or 404 ``not_found`` when ``me`` may not see it:
    the public (solvers included) see only what was published (``PUBLIC_STATES``); the side,
    its agency and staff see it in every state. What the relation may see of it is
    ``DemandRow.withheld``; every page, answer and notice of crowdsourcing asks here first."""
    found = await demand(store, demand_id)
    if found is None:
        raise not_found()
    who = found.relation(me)
    if who is Relation.PUBLIC and found.state not in PUBLIC_STATES:
        raise not_found()
    return found, who


async def search(store: SqliteStore, *, states: Sequence[DemandState], industry: Industry | None, q: str,
                 page: int) -> tuple[list[DemandRow], int]:  # fmt: skip
    """One page (from 1) of the demands in ``states`` of ``industry`` (any, with None) whose
    PUBLIC text matches ``q`` (every word; nothing matches a ``q`` with no searchable word),
    newest published first, and how many match in all."""
    where = [f"d.state IN ({','.join('?' * len(states))})"]
    params: list[object] = [s.value for s in states]
    if industry is not None:
        where.append("d.industry = ?")
        params.append(industry.value)
    if q.strip():
        expression = match_expression(q)
        if expression is None:
            return [], 0
        where.append("d.id IN (SELECT rowid FROM demand_fts WHERE demand_fts MATCH ?)")
        params.append(expression)
    clause = " AND ".join(where)
    total = await store.fetchone(f"SELECT count(*) FROM demands d WHERE {clause}", tuple(params))
    rows = await store.fetchall(
        f"{_SELECT} WHERE {clause} ORDER BY coalesce(d.published_at, d.created_at) DESC, d.id DESC LIMIT ? OFFSET ?",
        (*params, PAGE_SIZE, (page - 1) * PAGE_SIZE),
    )
    return [_demand(row) for row in rows], int(total[0]) if total else 0


async def of_account(store: SqliteStore, me: Identity, *, state: DemandState | None,
                     page: int) -> tuple[list[DemandRow], int]:  # fmt: skip
    """One page of the demands ``me`` stands on the side of or works as their agency, in every
    state (or ``state``), newest change first, and how many there are."""
    clause = ("(d.enterprise = ? OR (d.enterprise_org IS NOT NULL AND d.enterprise_org = ?)"
              " OR (d.agency_org IS NOT NULL AND d.agency_org = ?)) AND (? IS NULL OR d.state = ?)")  # fmt: skip
    wanted = None if state is None else state.value
    params = (me.id, me.org, me.org, wanted, wanted)
    total = await store.fetchone(f"SELECT count(*) FROM demands d WHERE {clause}", params)
    rows = await store.fetchall(f"{_SELECT} WHERE {clause} ORDER BY d.updated_at DESC, d.id DESC LIMIT ? OFFSET ?",
                                (*params, PAGE_SIZE, (page - 1) * PAGE_SIZE))  # fmt: skip
    return [_demand(row) for row in rows], int(total[0]) if total else 0


async def rounds(store: SqliteStore, demand_id: int) -> list[sqlite3.Row]:
    """(round, valid_until, response_deadline, outcome, started_at, ended_at) of every round
    the demand has had, the first first: its history across restarts."""
    return await store.fetchall(
        "SELECT round, valid_until, response_deadline, outcome, started_at, ended_at FROM demand_rounds"
        " WHERE demand = ? ORDER BY round", (demand_id,))  # fmt: skip


# ---------------------------------------------------------------------- writing


async def insert_demand(tx: aiosqlite.Connection, values: Mapping[str, object], *, enterprise: int,
                        enterprise_org: int | None, agency_org: int | None, entrustment: int | None, user: int,
                        now: int, batch: int | None = None) -> int:  # fmt: skip
    """A new demand, pending review; its id. ``values`` are the draft's columns (``demand_text``)."""
    return await insert(tx, "demands", {
        **demand_text(values), "enterprise": enterprise, "enterprise_org": enterprise_org, "agency_org": agency_org,
        "entrustment": entrustment, "state": DemandState.PENDING.value, "batch": batch, "created_by": user,
        "created_at": now, "updated_at": now})  # fmt: skip


async def set_batch(tx: aiosqlite.Connection, ids: Sequence[int], batch: int) -> None:
    """Mark the demands of one upload with the upload's number (its first demand's id)."""
    await tx.execute(f"UPDATE demands SET batch = ? WHERE id IN ({','.join('?' * len(ids))})", (batch, *ids))


async def update_demand(tx: aiosqlite.Connection, demand_id: int, values: Mapping[str, object], *,
                        was: DemandState, now: int) -> bool:  # fmt: skip
    """An edited demand back to pending, if it is still ``was``; False when another writer moved it."""
    columns = demand_text(values)
    sets = ", ".join(f"{name} = ?" for name in columns)
    cursor = await tx.execute(f"UPDATE demands SET {sets}, state = 'pending', updated_at = ? WHERE id = ? AND state = ?",
                              (*columns.values(), now, demand_id, was.value))  # fmt: skip
    return cursor.rowcount == 1


async def move(tx: aiosqlite.Connection, demand_id: int, *, state: DemandState, was: DemandState, now: int) -> bool:
    """Set a demand's state if it is still ``was``; False when another writer moved it first."""
    cursor = await tx.execute("UPDATE demands SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                              (state.value, now, demand_id, was.value))  # fmt: skip
    return cursor.rowcount == 1


async def next_number(tx: aiosqlite.Connection, now: int) -> str:
    """CR-3: the next ``ZB`` number of the Beijing year of ``now``, taken from that year's
    counter in the caller's (approval's) transaction. The counter only goes up, and a demand
    keeps its number for good, so no number is ever given twice, restart or not."""
    year = beijing_year(now)
    row = await one(tx, "INSERT INTO demand_numbers (year, last) VALUES (?, 1)"
                        " ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last", (year,))  # fmt: skip
    assert row is not None
    return number(year, int(row[0]))


async def publish(tx: aiosqlite.Connection, found: DemandRow, *, now: int) -> tuple[str, int]:
    """Publish an approved demand: its first publication takes a number and opens round 1; a
    restart (it has a number already) keeps it and opens the next round, its adoption and
    outcome cleared. The round's dates go to ``demand_rounds``; the public text to the index.
    Its number and round."""
    if found.number is None:
        given, round_ = await next_number(tx, now), 1
    else:
        given, round_ = found.number, found.round + 1
    await tx.execute(
        "UPDATE demands SET number = ?, round = ?, state = 'published', adopted = NULL, adopted_at = NULL, fee = NULL,"
        " resolved_at = NULL, published_at = ?, updated_at = ? WHERE id = ?",
        (given, round_, now, now, found.id),
    )
    await insert(tx, "demand_rounds", {"demand": found.id, "round": round_, "valid_until": found.valid_until.isoformat(),
                                       "response_deadline": found.response_deadline.isoformat(), "started_at": now})  # fmt: skip
    await index(tx, found)
    return given, round_


def public_text(found: DemandRow) -> tuple[str, str, str]:
    """(title, body, names) as the public may read them: the title; the description and the
    requirements (``topic_text``); the enterprise's, manager's and contact's names. A field the
    side hid is in none of them, and the index holds only these (CR-4). Search reads all three
    columns; matching reads title and body only, since names say who asks, not what is asked."""
    withheld = found.withheld(Relation.PUBLIC)
    title, body = topic_text(found.title, found.description, found.requirements, withheld)
    names = [value for field, value in (("enterprise", found.enterprise_name), ("manager", found.manager),
                                        ("contact", found.contact_name)) if field not in withheld and value]  # fmt: skip
    return title, body, "\n".join(names)


async def index(tx: aiosqlite.Connection, found: DemandRow) -> None:
    """(Re)index a demand's public text, as character pairs (``hall.store.patents.grams``)."""
    title, body, names = public_text(found)
    await tx.execute("DELETE FROM demand_fts WHERE rowid = ?", (found.id,))
    await tx.execute("INSERT INTO demand_fts (rowid, title, body, names) VALUES (?, ?, ?, ?)",
                     (found.id, grams(title), grams(body), grams(names)))


# ---------------------------------------------------------------------- entrustments (CR-2)


@dataclass(frozen=True, slots=True)
class Entrustment:
    id: int
    enterprise: int
    enterprise_org: int | None
    agency_org: int
    note: str
    state: str
    """``pending``, ``accepted``, ``declined`` or ``withdrawn`` (by the enterprise, while pending)."""
    decided_by: int | None
    decided_at: int | None
    created_at: int
    enterprise_name: str
    agency_name: str


ENTRUSTMENT_STATES: Final = ("pending", "accepted", "declined", "withdrawn")
_ENTRUSTMENT: Final = (
    "SELECT e.id, e.enterprise, e.enterprise_org, e.agency_org, e.note, e.state, e.decided_by, e.decided_at,"
    " e.created_at, coalesce(eo.name, eu.name), ao.name FROM entrustments e JOIN users eu ON eu.id = e.enterprise"
    " LEFT JOIN orgs eo ON eo.id = e.enterprise_org JOIN orgs ao ON ao.id = e.agency_org"
)
MAX_ENTRUSTMENTS: Final = 200
"""Entrustments one list shows (newest first)."""


def _entrustment(row: sqlite3.Row) -> Entrustment:
    return Entrustment(*row)


async def agencies(store: SqliteStore) -> list[tuple[int, str]]:
    """(org id, name) of every transfer organisation an enterprise may entrust: an organisation
    one of whose accounts holds an approved ``transfer`` identity (AC-3), by name."""
    rows = await store.fetchall(
        "SELECT DISTINCT o.id, o.name FROM identities i JOIN orgs o ON o.id = i.org"
        " WHERE i.kind = 'transfer' AND i.state = 'approved' ORDER BY o.name LIMIT ?", (MAX_ENTRUSTMENTS,))  # fmt: skip
    return [(int(r[0]), str(r[1])) for r in rows]


async def is_agency(tx: aiosqlite.Connection | SqliteStore, org: int | None) -> bool:
    """Whether ``org`` is an approved transfer organisation."""
    if org is None:
        return False
    sql = "SELECT 1 FROM identities WHERE org = ? AND kind = 'transfer' AND state = 'approved'"
    found = await (tx.fetchone(sql, (org,)) if isinstance(tx, SqliteStore) else one(tx, sql, (org,)))
    return found is not None


async def insert_entrustment(tx: aiosqlite.Connection, *, enterprise: int, enterprise_org: int | None, agency_org: int,
                             note: str, now: int) -> int:  # fmt: skip
    return await insert(tx, "entrustments", {"enterprise": enterprise, "enterprise_org": enterprise_org,
                                             "agency_org": agency_org, "note": note, "state": "pending",
                                             "created_at": now})  # fmt: skip


async def entrustment_in(tx: aiosqlite.Connection, entrustment_id: int) -> Entrustment | None:
    row = await one(tx, f"{_ENTRUSTMENT} WHERE e.id = ?", (entrustment_id,))
    return None if row is None else _entrustment(row)


async def entrustment(store: SqliteStore, entrustment_id: int) -> Entrustment | None:
    row = await store.fetchone(f"{_ENTRUSTMENT} WHERE e.id = ?", (entrustment_id,))
    return None if row is None else _entrustment(row)


async def entrustments_of(store: SqliteStore, me: Identity) -> list[Entrustment]:
    """The entrustments ``me`` gave (as the enterprise, or its organisation) or its organisation
    received (as the agency), newest first."""
    rows = await store.fetchall(
        f"{_ENTRUSTMENT} WHERE e.enterprise = ? OR (e.enterprise_org IS NOT NULL AND e.enterprise_org = ?)"
        " OR e.agency_org = ? ORDER BY e.id DESC LIMIT ?", (me.id, me.org, me.org, MAX_ENTRUSTMENTS))  # fmt: skip
    return [_entrustment(row) for row in rows]


async def decide_entrustment(tx: aiosqlite.Connection, entrustment_id: int, *, state: str, by: int, now: int) -> bool:
    """Accept, decline or withdraw a pending entrustment; False when it is no longer pending."""
    cursor = await tx.execute("UPDATE entrustments SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?"
                              " AND state = 'pending'", (state, by, now, entrustment_id))  # fmt: skip
    return cursor.rowcount == 1
