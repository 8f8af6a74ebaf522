"""The SQL of matching (CR-10, ``hall/matching.py``): the listing and solver indexes of schema
15 kept fresh, and the rankings that read them, the patent catalogue's and ``demand_fts``.

Every ranking is one FTS5 query of at most ``MAX_TERMS`` terms taking at most ``CANDIDATES``
rows by BM25, then a blend with industry in Python; each list it answers is capped. The text a
demand is ranked by is ``demand_fts``'s, the public text alone (CR-4): this module never reads
a demand's hideable columns.

Freshness: triggers mark the listings and solvers whose text may have changed
(``match_stale``); ``refresh`` re-indexes up to ``REFRESH_BATCH`` of them in one short write
transaction, and each ranking calls it first, so an index lags a change by at most the
rankings it takes to work off a large batch (an upload of many listings).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite
import msgspec

from hall.auctions import Industry
from hall.demands import Cooperation, DemandState, Relation, relation
from hall.auth.roles import Identity
from hall.listing import ItemKind
from hall.listings import ListingDraft, ListingState
from hall.matching import (CANDIDATES, PUSH_SOLVERS, DemandCard, DemandMatches, ItemMatch, PatentMatch, Scored,
                           beijing_day, blend, choose_terms, industries_text, industry_of_field, industry_of_ipc,
                           looked_up, or_expression, parse_industries, query_terms)  # fmt: skip
from hall.notify import enqueue
from hall.store.patents import grams
from hall.store.rows import one
from hall.store.sqlite import SqliteStore

REFRESH_BATCH: Final = 200
"""Stale listings and solvers one refresh re-indexes at most."""
PROFILE_LISTINGS: Final = 50
"""A solver's newest public listings that make its profile."""
ABSTRACT_CHARS: Final = 500
"""Characters of a listing's abstract a solver's profile takes."""
PROFILE_STATES: Final = (ListingState.LISTED, ListingState.IN_SESSION, ListingState.SOLD, ListingState.UNSOLD)
"""Listings the public has seen: what a solver's profile is made of (never a pending one)."""
LIST_MAX: Final = 50
"""Rows any list of matches answers at most."""

_draft_decoder: Final = msgspec.msgpack.Decoder(ListingDraft)
Db = aiosqlite.Connection


async def _all(db: Db, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
    async with db.execute(sql, params) as cur:
        return list(await cur.fetchall())


# ----------------------------------------------------------------------- keeping the indexes


def _item_industry(draft: ListingDraft) -> Industry | None:
    """A listed patent's industry from its IPC class, an achievement's from its field."""
    return industry_of_ipc(draft.ipc) if draft.kind is ItemKind.PATENT else industry_of_field(draft.field)


async def _index_listing(tx: Db, listing: int) -> None:
    """(Re)index one listing: in ``listing_fts`` while it is listed (the items a demand side is
    shown), out of it otherwise."""
    await tx.execute("DELETE FROM listing_fts WHERE rowid = ?", (listing,))
    row = await one(tx, "SELECT title, draft FROM listings WHERE id = ? AND state = ?", (listing, ListingState.LISTED))
    if row is None:
        return
    draft = _draft_decoder.decode(row[1])
    industry = _item_industry(draft)
    await tx.execute("INSERT INTO listing_fts (rowid, title, abstract, industry) VALUES (?, ?, ?, ?)",
                     (listing, grams(row[0]), grams(draft.abstract), industry.value if industry else ""))  # fmt: skip


async def _index_solver(tx: Db, user: int) -> None:
    """(Re)index one account as a solver: while it holds an approved identity, its profile is
    its open shop's introduction and its newest public listings' titles and abstracts; its
    industries are those of those listings.

    Names (the organisation's, the expert's, the shop's) and the identity's kind (企业, 高校)
    are left out: a demand's public text carries its enterprise's name, and name would match
    name (示范汽车有限公司 against 示范企业有限公司: 示范, 企业, 公司), which says nothing of what
    either does."""
    await tx.execute("DELETE FROM solver_fts WHERE rowid = ?", (user,))
    identities = await _all(tx, "SELECT org FROM identities WHERE user = ? AND state = 'approved' LIMIT 10", (user,))
    if not identities:
        return
    orgs = sorted({int(r[0]) for r in identities if r[0] is not None})
    parts: list[str] = []
    marks = ",".join("?" * len(orgs)) or "NULL"
    shops = await _all(tx, f"SELECT id, intro FROM shops WHERE state = 'open' AND (owner = ? OR org IN ({marks}))"
                           " LIMIT 10", (user, *orgs))  # fmt: skip
    parts += [str(r[1]) for r in shops]
    industries = set()
    if shops:
        states = ",".join("?" * len(PROFILE_STATES))
        listed = await _all(tx, f"SELECT title, draft FROM listings WHERE shop IN ({','.join('?' * len(shops))})"
                                f" AND state IN ({states}) ORDER BY updated_at DESC, id DESC LIMIT ?",
                            (*(r[0] for r in shops), *PROFILE_STATES, PROFILE_LISTINGS))  # fmt: skip
        for title, blob in listed:
            draft = _draft_decoder.decode(blob)
            parts += [title, draft.abstract[:ABSTRACT_CHARS]]
            if (industry := _item_industry(draft)) is not None:
                industries.add(industry)
    await tx.execute("INSERT INTO solver_fts (rowid, profile, industries) VALUES (?, ?, ?)",
                     (user, grams("\n".join(parts)), industries_text(industries)))  # fmt: skip


async def refresh_in(tx: Db) -> int:
    """Re-index up to ``REFRESH_BATCH`` marked listings and solvers in the caller's
    transaction; how many."""
    stale = await _all(tx, "SELECT kind, id FROM match_stale LIMIT ?", (REFRESH_BATCH,))
    for kind, id_ in stale:
        await (_index_listing if kind == "listing" else _index_solver)(tx, int(id_))
        await tx.execute("DELETE FROM match_stale WHERE kind = ? AND id = ?", (kind, id_))
    return len(stale)


async def refresh(store: SqliteStore) -> None:
    """Work off marked changes before a ranking (a write only when there are some)."""
    if await store.fetchone("SELECT 1 FROM match_stale LIMIT 1") is not None:
        async with store.transaction() as tx:
            await refresh_in(tx)


# ----------------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class _Index:
    """One FTS5 index as a ranking reads it: its BM25 (column weights), the columns a query
    searches, and the SQL (against the candidate ``h.id``) of what gives its industries."""

    table: str
    vocab: str
    bm25: str
    columns: str
    industries: str
    join: str
    where: str = ""


_PATENTS: Final = _Index("patent_catalogue_fts", "patent_vocab", "bm25(patent_catalogue_fts, 3.0, 0.0, 0.0, 1.0)",
                         "{title abstract}", "x.ipc", "JOIN patent_catalogue x ON x.id = h.id")
_ITEMS: Final = _Index("listing_fts", "listing_vocab", "bm25(listing_fts, 3.0, 1.0, 0.0)", "{title abstract}",
                       "x.industry", "JOIN listing_fts x ON x.rowid = h.id")
_SOLVERS: Final = _Index("solver_fts", "solver_vocab", "bm25(solver_fts, 1.0, 0.0)", "{profile}", "x.industries",
                         "JOIN solver_fts x ON x.rowid = h.id")
_DEMANDS: Final = _Index("demand_fts", "demand_vocab", "bm25(demand_fts, 3.0, 1.0)", "{title body}", "x.industry",
                         "JOIN demands x ON x.id = h.id",
                         f"AND rowid IN (SELECT id FROM demands WHERE state = '{DemandState.PUBLISHED.value}')")


def _ipc_industries(ipc: str) -> frozenset[Industry]:
    found = industry_of_ipc(ipc)
    return frozenset() if found is None else frozenset({found})


async def _rank(db: Db, index: _Index, weights: Counter[str], industries: frozenset[Industry],
                read: Callable[[str], frozenset[Industry]] = parse_industries) -> list[tuple[int, float]]:  # fmt: skip
    """``index``'s rows ranked against a text's ``weights`` (``query_terms``), best first, at
    most ``CANDIDATES``; ``industries`` earn the bonus, read from each row by ``read``."""
    terms = looked_up(weights)
    if not terms:
        return []
    marks = ",".join("?" * len(terms))
    documents = {str(r[0]): int(r[1]) for r in await _all(db, f"SELECT term, doc FROM {index.vocab}"
                                                               f" WHERE term IN ({marks})", terms)}  # fmt: skip
    size = await one(db, f"SELECT count(*) FROM {index.table}_docsize")
    expression = or_expression(choose_terms(weights, documents, int(size[0]) if size else 0))
    if expression is None:
        return []
    rows = await _all(db, f"""
        SELECT h.id, h.score, {index.industries} FROM (
            SELECT rowid AS id, {index.bm25} AS score FROM {index.table}
            WHERE {index.table} MATCH ? {index.where} ORDER BY score LIMIT {CANDIDATES}
        ) AS h {index.join}""", (f"{index.columns} : ({expression})",))
    return blend([Scored(int(r[0]), float(r[1]), read(str(r[2] or ""))) for r in rows], industries)


async def _demand_text(db: Db, demand: int) -> Counter[str]:
    """A demand's query weights from what it asks as ``demand_fts`` holds it: public text only
    (CR-4), and not the names column (who asks is no topic: a shared 南京 is no match)."""
    row = await one(db, "SELECT title, body FROM demand_fts WHERE rowid = ?", (demand,))
    return Counter() if row is None else query_terms(str(row[0]), str(row[1]))


async def _profile_text(db: Db, user: int) -> tuple[Counter[str], frozenset[Industry]] | None:
    """A solver's query weights and industries; None when the account is no solver."""
    row = await one(db, "SELECT profile, industries FROM solver_fts WHERE rowid = ?", (user,))
    return None if row is None else (query_terms("", str(row[0])), parse_industries(str(row[1])))


@dataclass(frozen=True, slots=True)
class DemandParties:
    """Who stands where towards a demand (``hall.demands.relation``), and what a push says."""

    id: int
    enterprise: int
    enterprise_org: int | None
    agency_org: int | None
    industry: Industry
    state: DemandState
    title: str
    number: str | None

    def relation(self, me: Identity | None) -> Relation:
        return relation(me, enterprise=self.enterprise, enterprise_org=self.enterprise_org, agency_org=self.agency_org)


async def parties(db: Db, demand: int) -> DemandParties | None:
    row = await one(db, "SELECT id, enterprise, enterprise_org, agency_org, industry, state, title, number"
                        " FROM demands WHERE id = ?", (demand,))  # fmt: skip
    if row is None:
        return None
    return DemandParties(int(row[0]), int(row[1]), row[2], row[3], Industry(row[4]), DemandState(row[5]),
                         str(row[6]), row[7])  # fmt: skip


async def matches_for(store: SqliteStore, found: DemandParties, limit: int) -> DemandMatches:
    """The catalogue patents and the listed items that might solve a demand, best first, at
    most ``limit`` (≤ ``LIST_MAX``) of each. For its side, agency and staff (the caller checks)."""
    await refresh(store)
    limit = max(1, min(limit, LIST_MAX))
    db = store.reader
    weights = await _demand_text(db, found.id)
    wanted = frozenset({found.industry})
    patents = (await _rank(db, _PATENTS, weights, wanted, _ipc_industries))[:limit]
    items = (await _rank(db, _ITEMS, weights, wanted))[:limit]
    patent_rows = {int(r[0]): r for r in await _all(
        db, f"SELECT id, number, title, holder, ipc FROM patent_catalogue WHERE id IN ({','.join('?' * len(patents))})",
        [p for p, _ in patents])} if patents else {}  # fmt: skip
    item_rows = {int(r[0]): r for r in await _all(
        db, f"SELECT id, kind, title, number, holder, draft FROM listings WHERE id IN ({','.join('?' * len(items))})",
        [i for i, _ in items])} if items else {}  # fmt: skip
    return DemandMatches(demand=found.id, patents=[
        PatentMatch(number=r[1], title=r[2], holder=r[3], ipc=r[4], industry=industry_of_ipc(r[4]), score=score)
        for id_, score in patents if (r := patent_rows.get(id_)) is not None
    ], items=[
        ItemMatch(id=r[0], kind=r[1], title=r[2], number=r[3], holder=r[4],
                  industry=_item_industry(_draft_decoder.decode(r[5])), score=score)
        for id_, score in items if (r := item_rows.get(id_)) is not None
    ])  # fmt: skip


async def solvers_for(db: Db, found: DemandParties) -> list[tuple[int, float]]:
    """Solvers ranked against a demand, best first, without its own side and agency (who can
    never respond to it): (account, score)."""
    ranked = await _rank(db, _SOLVERS, await _demand_text(db, found.id), frozenset({found.industry}))
    if not ranked:
        return []
    marks = ",".join("?" * len(ranked))
    orgs = [org for org in (found.enterprise_org, found.agency_org) if org is not None]
    own = {int(r[0]) for r in await _all(db, f"SELECT id FROM users WHERE id IN ({marks})"
                                             f" AND (id = ? OR org IN ({','.join('?' * len(orgs)) or 'NULL'}))",
                                         [u for u, _ in ranked] + [found.enterprise, *orgs])}  # fmt: skip
    return [(user, score) for user, score in ranked if user not in own]


async def push_published(tx: Db, demand_id: int, now: int) -> list[int]:
    """CR-10's targeted push, inside the transaction that publishes the demand: the
    ``PUSH_SOLVERS`` best-matched solvers not pushed to yet this Beijing day get an SMS (and
    so an inbox notice) naming the demand by its public title and number. The accounts
    pushed to, best first."""
    found = await parties(tx, demand_id)
    if found is None or found.state is not DemandState.PUBLISHED:
        return []
    await refresh_in(tx)
    day = beijing_day(now)
    pushed: list[int] = []
    for solver, _ in await solvers_for(tx, found):
        if len(pushed) == PUSH_SOLVERS:
            break
        cursor = await tx.execute("INSERT OR IGNORE INTO demand_pushes (solver, day, demand, created_at)"
                                  " VALUES (?, ?, ?, ?)", (solver, day, demand_id, now))  # fmt: skip
        if cursor.rowcount == 1:
            await enqueue(tx, user=solver, template="demand_pushed", title=found.title, number=found.number or "")
            pushed.append(solver)
    return pushed


# ----------------------------------------------------------------------- demand lists


_CARD: Final = "d.id, d.number, d.title, d.industry, d.cooperation, d.response_deadline, d.pick"


def _card(row: sqlite3.Row, score: float | None = None) -> DemandCard:
    return DemandCard(id=int(row[0]), number=str(row[1] or ""), title=str(row[2]), industry=Industry(row[3]),
                      cooperation=Cooperation(row[4]), response_deadline=str(row[5]), picked=bool(row[6]),
                      score=score)  # fmt: skip


async def recommended(store: SqliteStore, me: Identity, limit: int) -> list[DemandCard] | None:
    """The published demands ranked against the caller's solver profile, best first, at most
    ``limit`` (≤ ``LIST_MAX``), without its own (as side or agency); None when the caller holds
    no approved identity (no solver)."""
    await refresh(store)
    db = store.reader
    profile = await _profile_text(db, me.id)
    if profile is None:
        return None
    weights, industries = profile
    ranked = await _rank(db, _DEMANDS, weights, industries, lambda value: frozenset({Industry(value)}))
    if not ranked:
        return []
    marks = ",".join("?" * len(ranked))
    rows = {int(r[0]): r for r in await _all(db, f"SELECT {_CARD}, d.enterprise, d.enterprise_org, d.agency_org"
                                                 f" FROM demands d WHERE d.id IN ({marks})",
                                             [d for d, _ in ranked])}  # fmt: skip
    cards = []
    for id_, score in ranked:
        row = rows.get(id_)
        if row is None:
            continue
        if relation(me, enterprise=row[7], enterprise_org=row[8], agency_org=row[9]) is not Relation.PUBLIC:
            continue  # its own demand (or staff's: staff see every demand elsewhere)
        cards.append(_card(row, score))
        if len(cards) == max(1, min(limit, LIST_MAX)):
            break
    return cards


HOT: Final = f"""
    SELECT {_CARD} FROM demands d
    WHERE d.state = '{DemandState.PUBLISHED.value}' AND d.industry = ?
    ORDER BY (d.pick = 0), d.pick,
        (SELECT count(*) FROM demand_responses r WHERE r.demand = d.id AND r.round = d.round) DESC,
        d.views DESC, d.published_at DESC, d.id DESC
    LIMIT ?
"""
"""CR-10's hot list of one industry: staff picks first (置顶推荐, ``demands.pick`` as a rank, 1
first; hall/store/roadshows.py sets it), then the
most responses this round, then the most views; the newest first after that."""


async def hot(store: SqliteStore, industry: Industry, limit: int) -> list[DemandCard]:
    """One industry's hot list, at most ``limit`` (≤ ``LIST_MAX``) demands."""
    return [_card(r) for r in await store.fetchall(HOT, (industry.value, max(1, min(limit, LIST_MAX))))]


async def hot_lists(store: SqliteStore, per: int) -> dict[Industry, list[DemandCard]]:
    """Every industry's hot list (the crowdsourcing home page's), ``per`` demands each."""
    return {industry: await hot(store, industry, per) for industry in Industry}
