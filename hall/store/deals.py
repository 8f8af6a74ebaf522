"""Deals in the SQLite store (tables ``deals``, ``deal_documents`` and ``deal_steps`` of schema 11):
SQL only, no rules.

The rules (who may do what in which state) are hall/deals.py's; the functions that write take
the caller's transaction (``SqliteStore.transaction``), so that an action's checks, its writes,
its step row and its SMS are one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.store.sqlite import SqliteStore
from hall.store.rows import one


@dataclass(frozen=True, slots=True)
class DealRow:
    id: int
    lot: int
    listing: int | None
    buyer: int
    buyer_org: int | None
    buyer_name: str
    """The buyer's organisation's name, or the person's real name (never shown to the public)."""
    bidder_number: str
    seller: int | None
    """The account that acts for the seller: the listing's shop owner."""
    seller_org: int | None
    seller_name: str
    price: int
    form: str
    title: str
    item_number: str
    item_kind: str
    session: str
    closed_at: int
    digest: str
    notice_number: str
    verify_code: str
    notified_at: int
    contract_due: str | None
    """YYYY-MM-DD (Beijing): the last day for the signed contract; None while the working-day
    calendar does not know its year (``Deals.remind`` fills it in once it does)."""
    remind_at: int | None
    reminded_at: int | None
    state: str
    contracted_at: int | None
    paid_at: int | None
    buyer_handover_at: int | None
    seller_handover_at: int | None
    certificate_number: str | None
    certified_at: int | None
    defaulted_at: int | None
    default_reason: str | None
    updated_at: int


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    deal: int
    kind: str
    party: str
    file: int
    state: str
    uploaded_by: int
    uploaded_at: int
    reason: str | None
    decided_by: int | None
    decided_at: int | None
    file_name: str


@dataclass(frozen=True, slots=True)
class StepRow:
    id: int
    deal: int
    action: str
    actor: int | None
    """None: the exchange itself (the notice, the reminder, the certificate)."""
    actor_name: str
    state: str
    """The deal's state after the step."""
    document: int | None
    reason: str | None
    at: int


@dataclass(frozen=True, slots=True)
class Seller:
    """Who sells a lot: the listing behind it (None for a lot made without one), the account
    that acts for the seller, its organisation and the name the documents print."""

    listing: int | None
    user: int | None
    org: int | None
    name: str


COLUMNS: Final = ", ".join(DealRow.__dataclass_fields__)
_DEAL: Final = f"SELECT {COLUMNS} FROM deals"
_DOCUMENT: Final = """
    SELECT d.id, d.deal, d.kind, d.party, d.file, d.state, d.uploaded_by, d.uploaded_at, d.reason, d.decided_by,
           d.decided_at, f.original_name
    FROM deal_documents d JOIN files f ON f.id = d.file
"""
DISPUTED: Final = "EXISTS (SELECT 1 FROM deal_documents dd WHERE dd.deal = deals.id AND dd.state = 'disputed')"
"""A deal whose seller disputes the buyer's payment proof, waiting for staff."""



class DealStore:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ reads

    async def deal(self, deal: int) -> DealRow | None:
        row = await self.store.fetchone(f"{_DEAL} WHERE id = ?", (deal,))
        return None if row is None else DealRow(*row)

    async def by_code(self, code: str) -> DealRow | None:
        row = await self.store.fetchone(f"{_DEAL} WHERE verify_code = ?", (code,))
        return None if row is None else DealRow(*row)

    async def of_user(self, user: int, limit: int) -> list[DealRow]:
        """The deals ``user`` is buyer or seller of, newest first."""
        rows = await self.store.fetchall(f"{_DEAL} WHERE buyer = ? OR seller = ? ORDER BY id DESC LIMIT ?",
                                         (user, user, limit))  # fmt: skip
        return [DealRow(*r) for r in rows]

    async def listed(self, *, state: str | None, overdue_from_day: str, limit: int) -> list[tuple[DealRow, bool]]:
        """Deals for staff, each with whether its payment is disputed: disputed and overdue ones
        (``notified`` with a due date before ``overdue_from_day``) first, then those waiting for
        a contract whose due date is unknown, then the newest."""
        where, params = ("WHERE state = ?", [state]) if state else ("", [])
        rows = await self.store.fetchall(
            f"SELECT {COLUMNS}, {DISPUTED} AS disputed FROM deals {where} ORDER BY disputed DESC, "
            "(state = 'notified' AND contract_due < ?) DESC, (state = 'notified' AND contract_due IS NULL) DESC, "
            "id DESC LIMIT ?",
            (*params, overdue_from_day, limit),
        )
        return [(DealRow(*r[:-1]), bool(r[-1])) for r in rows]

    async def disputed(self, deal: int) -> bool:
        row = await self.store.fetchone(f"SELECT {DISPUTED} FROM deals WHERE id = ?", (deal,))
        return bool(row and row[0])

    async def lots_with_deals(self) -> set[int]:
        return {int(r[0]) for r in await self.store.fetchall("SELECT lot FROM deals")}

    async def documents(self, deal: int) -> list[DocumentRow]:
        rows = await self.store.fetchall(f"{_DOCUMENT} WHERE d.deal = ? ORDER BY d.id", (deal,))
        return [DocumentRow(*r) for r in rows]

    async def steps(self, deal: int) -> list[StepRow]:
        rows = await self.store.fetchall(
            "SELECT s.id, s.deal, s.action, s.actor, coalesce(u.name, ''), s.state, s.document, s.reason, s.at "
            "FROM deal_steps s LEFT JOIN users u ON u.id = s.actor WHERE s.deal = ? ORDER BY s.id", (deal,))  # fmt: skip
        return [StepRow(*r) for r in rows]

    async def due_reminders(self, now: int, overdue_from_day: str, limit: int) -> list[int]:
        """Deals waiting for their contract whose reminder is due and not yet sent, and whose
        due date has not passed (an overdue deal is the dashboard's, not a reminder's)."""
        rows = await self.store.fetchall(
            "SELECT id FROM deals WHERE reminded_at IS NULL AND state = 'notified' AND remind_at <= ? "
            "AND contract_due >= ? ORDER BY remind_at LIMIT ?", (now, overdue_from_day, limit))  # fmt: skip
        return [int(r[0]) for r in rows]

    async def undated(self, limit: int) -> list[tuple[int, int]]:
        """Deals without a due date (the calendar did not know its year when they were made),
        oldest notice first, as (id, notified_at): the earliest is the first a newer calendar dates."""
        rows = await self.store.fetchall(
            "SELECT id, notified_at FROM deals WHERE contract_due IS NULL ORDER BY notified_at, id LIMIT ?", (limit,))
        return [(int(r[0]), int(r[1])) for r in rows]

    # ------------------------------------------------------------------ inside a transaction

    @staticmethod
    async def deal_in(tx: aiosqlite.Connection, deal: int) -> DealRow | None:
        row = await one(tx, f"{_DEAL} WHERE id = ?", (deal,))
        return None if row is None else DealRow(*row)

    @staticmethod
    async def document_in(tx: aiosqlite.Connection, document: int) -> DocumentRow | None:
        row = await one(tx, f"{_DOCUMENT} WHERE d.id = ?", (document,))
        return None if row is None else DocumentRow(*row)

    @staticmethod
    async def current(tx: aiosqlite.Connection, deal: int, kind: str) -> list[DocumentRow]:
        """The documents of a kind that stand (handed in, not refused or replaced), one per party at most."""
        async with tx.execute(f"{_DOCUMENT} WHERE d.deal = ? AND d.kind = ? AND d.state IN ('submitted', 'disputed')"
                              " ORDER BY d.id", (deal, kind)) as cur:  # fmt: skip
            return [DocumentRow(*r) for r in await cur.fetchall()]

    @staticmethod
    async def winner(tx: aiosqlite.Connection, lot: int, number: str) -> tuple[int, int | None, str] | None:
        """The account, organisation and name behind a lot's bidder number (the name is the
        organisation's, else the account's)."""
        row = await one(tx, "SELECT b.user, b.org, coalesce(o.name, u.name) FROM bidders b JOIN users u ON u.id = b.user "
                             "LEFT JOIN orgs o ON o.id = b.org WHERE b.lot = ? AND b.number = ?", (lot, number))  # fmt: skip
        return None if row is None else (int(row[0]), row[1], str(row[2]))

    @staticmethod
    async def seller(tx: aiosqlite.Connection, lot: int, org: int) -> Seller:
        """Who sells ``lot``: its listing's shop (the owner acts, the organisation's name or else
        the shop's is printed); for a lot made without a listing, its seller organisation
        (``org`` of its spec), acted for by the owner of that organisation's shop, else its
        earliest account."""
        row = await one(tx, "SELECT l.id, s.owner, l.org, coalesce(o.name, s.name) FROM auction_lots al "
                             "JOIN listings l ON l.id = al.listing JOIN shops s ON s.id = l.shop "
                             "LEFT JOIN orgs o ON o.id = l.org WHERE al.lot = ?", (lot,))  # fmt: skip
        if row is not None:
            return Seller(listing=int(row[0]), user=int(row[1]), org=row[2], name=str(row[3]))
        named = await one(tx, "SELECT name FROM orgs WHERE id = ?", (org,))
        if named is None:
            return Seller(listing=None, user=None, org=None, name="")
        acting = await one(tx, "SELECT owner FROM shops WHERE org = ? AND state = 'open'", (org,))
        if acting is None:
            acting = await one(tx, "SELECT min(id) FROM users WHERE org = ?", (org,))
        user = None if acting is None or acting[0] is None else int(acting[0])
        return Seller(listing=None, user=user, org=org, name=str(named[0]))

    @staticmethod
    async def count_numbered(tx: aiosqlite.Connection, column: str, prefix: str) -> int:
        """How many deals have a ``column`` (a document number) starting with ``prefix``."""
        assert column in ("notice_number", "certificate_number")
        row = await one(tx, f"SELECT count(*) FROM deals WHERE {column} LIKE ? || '%'", (prefix,))
        return int(row[0]) if row else 0

    @staticmethod
    async def insert(tx: aiosqlite.Connection, values: dict[str, object]) -> int | None:
        """A new deal; None when its lot has one already (UNIQUE lot: the second derivation of
        the same close writes nothing)."""
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        row = await one(tx, f"INSERT INTO deals ({columns}) VALUES ({marks}) ON CONFLICT (lot) DO NOTHING RETURNING id",
                         tuple(values.values()))  # fmt: skip
        return None if row is None else int(row[0])

    @staticmethod
    async def update(tx: aiosqlite.Connection, deal: int, before: str, values: dict[str, object]) -> bool:
        """Change a deal that is in state ``before``; False (nothing changed) when it is not:
        the compare-and-set every move of a deal makes."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        cur = await tx.execute(f"UPDATE deals SET {assignments} WHERE id = ? AND state = ?",
                               (*values.values(), deal, before))  # fmt: skip
        return cur.rowcount == 1

    @staticmethod
    async def date(tx: aiosqlite.Connection, deal: int, due: str, remind_at: int) -> bool:
        """Give an undated deal its due date and its reminder's time; False when it has them
        already (a compare-and-set on the NULL: dated once, whoever else tries)."""
        cur = await tx.execute("UPDATE deals SET contract_due = ?, remind_at = ? WHERE id = ? AND contract_due IS NULL",
                               (due, remind_at, deal))  # fmt: skip
        return cur.rowcount == 1

    @staticmethod
    async def insert_document(tx: aiosqlite.Connection, *, deal: int, kind: str, party: str, file: int, by: int,
                              now: int) -> int:  # fmt: skip
        """A party's document, replacing the one of the same kind it handed in before."""
        await tx.execute("UPDATE deal_documents SET state = 'replaced' WHERE deal = ? AND kind = ? AND party = ? "
                         "AND state IN ('submitted', 'disputed')", (deal, kind, party))  # fmt: skip
        cur = await tx.execute(
            "INSERT INTO deal_documents (deal, kind, party, file, state, uploaded_by, uploaded_at) "
            "VALUES (?, ?, ?, ?, 'submitted', ?, ?)", (deal, kind, party, file, by, now))  # fmt: skip
        assert cur.lastrowid is not None
        return cur.lastrowid

    @staticmethod
    async def mark_document(tx: aiosqlite.Connection, document: int, before: tuple[str, ...], after: str, *,
                            by: int, reason: str | None, now: int) -> bool:  # fmt: skip
        marks = ", ".join("?" * len(before))
        cur = await tx.execute(f"UPDATE deal_documents SET state = ?, reason = ?, decided_by = ?, decided_at = ? "
                               f"WHERE id = ? AND state IN ({marks})", (after, reason, by, now, document, *before))  # fmt: skip
        return cur.rowcount == 1

    @staticmethod
    async def step(tx: aiosqlite.Connection, deal: int, *, action: str, actor: int | None, state: str, now: int,
                   document: int | None = None, reason: str | None = None) -> None:  # fmt: skip
        await tx.execute("INSERT INTO deal_steps (deal, action, actor, state, document, reason, at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (deal, action, actor, state, document, reason, now))  # fmt: skip
