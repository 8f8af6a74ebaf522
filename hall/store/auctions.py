"""Auction sessions and their lots in the SQLite store (tables ``auctions`` and ``auction_lots``
of schema 5; a listing's state moves through ``hall.store.listings.move``, the one
compare-and-set of every listing move): SQL only, no rules.

The rules (who may add what, when terms freeze) are hall/auctions.py's; the functions that
write take the caller's transaction (``SqliteStore.transaction``), so that an action's checks
and its writes are one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.listings import ListingState
from hall.store import listings
from hall.store.sqlite import SqliteStore
from hall.store.rows import insert, one

LISTED_MAX: Final = 500
"""Listed items the staff's add-a-lot form offers at once (the newest first)."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    name: str
    industry: str
    low_carbon: bool
    day: str
    mode: str
    auctioneer: int | None
    publicity_start: int
    bidding_start: int
    bidding_end: int
    stagger: int
    """Seconds between the ends of consecutive lots (0: all end together)."""
    state: str
    created_by: int
    created_at: int
    published_at: int | None


@dataclass(frozen=True, slots=True)
class LotRow:
    """One listed item in a session, with what the lot page needs of its listing."""

    auction: int
    listing: int
    position: int
    start_price: int
    increment: int
    reserve: int | None
    window: int
    extension: int
    bidding_end: int | None
    lot: int | None
    title: str
    kind: str
    number: str
    holder: str
    org: int | None
    listing_state: str


@dataclass(frozen=True, slots=True)
class ListingRow:
    """What adding a listing to a session reads of it."""

    id: int
    title: str
    kind: str
    number: str
    holder: str
    org: int | None
    start_price: int
    state: str


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A lot's listing in full, for the lot page: the columns, the draft as stored, and its
    authorisation document (LS-4's ``agent``)."""

    listing: int
    kind: str
    title: str
    number: str
    holder: str
    ownership: str
    draft: bytes
    shop: int
    shop_name: str
    owner: int
    authorisation: int | None
    authorisation_name: str | None


_SESSION: Final = """
    SELECT id, name, industry, low_carbon, day, mode, auctioneer, publicity_start, bidding_start, bidding_end,
           stagger, state, created_by, created_at, published_at
    FROM auctions
"""
_LOT: Final = """
    SELECT al.auction, al.listing, al.position, al.start_price, al.increment, al.reserve, al.window,
           al.extension, al.bidding_end, al.lot, l.title, l.kind, l.number, l.holder, l.org, l.state
    FROM auction_lots al JOIN listings l ON l.id = al.listing
"""
_LISTING: Final = "SELECT id, title, kind, number, holder, org, start_price, state FROM listings"


def _session(row: sqlite3.Row) -> SessionRow:
    values = list(row)
    values[3] = bool(values[3])
    return SessionRow(*values)



async def _all(tx: aiosqlite.Connection, sql: str, params: Sequence[object]) -> list[sqlite3.Row]:
    async with tx.execute(sql, params) as cur:
        return list(await cur.fetchall())


class AuctionStore:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ reads

    async def session(self, session: int) -> SessionRow | None:
        row = await self.store.fetchone(f"{_SESSION} WHERE id = ?", (session,))
        return None if row is None else _session(row)

    async def sessions(self, *, published: bool | None = None, since_day: str = "", limit: int = 200) -> list[SessionRow]:
        """Sessions on ``since_day`` or later, by day then id; ``published`` filters by state."""
        clauses, params = ["day >= ?"], [since_day]
        if published is not None:
            clauses.append("state = 'published'" if published else "state != 'published'")
        rows = await self.store.fetchall(f"{_SESSION} WHERE {' AND '.join(clauses)} ORDER BY day, bidding_start, id "
                                         "LIMIT ?", (*params, limit))  # fmt: skip
        return [_session(r) for r in rows]

    async def published(self) -> list[SessionRow]:
        """Every published session: what the hall indexes in memory at start."""
        rows = await self.store.fetchall(f"{_SESSION} WHERE state = 'published' ORDER BY id")
        return [_session(r) for r in rows]

    async def lots(self, session: int) -> list[LotRow]:
        rows = await self.store.fetchall(f"{_LOT} WHERE al.auction = ? ORDER BY al.position", (session,))
        return [LotRow(*r) for r in rows]

    async def published_lots(self) -> list[tuple[int, int, int, str]]:
        """(lot, session, listing, listing state) of every lot a published session created."""
        rows = await self.store.fetchall(
            "SELECT al.lot, al.auction, al.listing, l.state FROM auction_lots al JOIN listings l ON l.id = al.listing "
            "WHERE al.lot IS NOT NULL ORDER BY al.lot"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def listed(self, states: Sequence[str], limit: int = LISTED_MAX) -> list[ListingRow]:
        """Listings in one of ``states`` (those that may become a lot), newest first."""
        marks = ", ".join("?" * len(states))
        rows = await self.store.fetchall(f"{_LISTING} WHERE state IN ({marks}) ORDER BY id DESC LIMIT ?",
                                         (*states, limit))  # fmt: skip
        return [ListingRow(*r) for r in rows]

    async def draft(self, listing: int) -> bytes | None:
        row = await self.store.fetchone("SELECT draft FROM listings WHERE id = ?", (listing,))
        return None if row is None else bytes(row[0])

    async def item(self, lot: int) -> ItemRow | None:
        """The listing behind a published lot, in full."""
        row = await self.store.fetchone(
            "SELECT l.id, l.kind, l.title, l.number, l.holder, l.ownership, l.draft, s.id, s.name, s.owner, "
            "l.authorisation, f.original_name FROM auction_lots al JOIN listings l ON l.id = al.listing "
            "JOIN shops s ON s.id = l.shop LEFT JOIN files f ON f.id = l.authorisation WHERE al.lot = ?",
            (lot,),
        )
        return None if row is None else ItemRow(*row)

    # ------------------------------------------------------------------ inside a transaction

    @staticmethod
    async def session_in(tx: aiosqlite.Connection, session: int) -> SessionRow | None:
        row = await one(tx, f"{_SESSION} WHERE id = ?", (session,))
        return None if row is None else _session(row)

    @staticmethod
    async def listing_in(tx: aiosqlite.Connection, listing: int) -> ListingRow | None:
        row = await one(tx, f"{_LISTING} WHERE id = ?", (listing,))
        return None if row is None else ListingRow(*row)

    @staticmethod
    async def lot_in(tx: aiosqlite.Connection, session: int, listing: int) -> LotRow | None:
        row = await one(tx, f"{_LOT} WHERE al.auction = ? AND al.listing = ?", (session, listing))
        return None if row is None else LotRow(*row)

    @staticmethod
    async def draft_holding(tx: aiosqlite.Connection, listing: int) -> int | None:
        """The unpublished session that holds the listing, if any."""
        row = await one(tx, "SELECT al.auction FROM auction_lots al JOIN auctions a ON a.id = al.auction "
                             "WHERE al.listing = ? AND a.state != 'published'", (listing,))  # fmt: skip
        return None if row is None else int(row[0])

    @staticmethod
    async def insert_session(tx: aiosqlite.Connection, values: dict[str, object]) -> int:
        return await insert(tx, "auctions", values)

    @staticmethod
    async def insert_lot(tx: aiosqlite.Connection, session: int, listing: int, terms: dict[str, object]) -> None:
        row = await one(tx, "SELECT coalesce(max(position), 0) + 1 FROM auction_lots WHERE auction = ?", (session,))
        assert row is not None
        await insert(tx, "auction_lots", {"auction": session, "listing": listing, "position": row[0], **terms})

    @staticmethod
    async def update_lot(tx: aiosqlite.Connection, session: int, listing: int, terms: dict[str, object]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in terms)
        await tx.execute(f"UPDATE auction_lots SET {assignments} WHERE auction = ? AND listing = ?",
                         (*terms.values(), session, listing))  # fmt: skip

    @staticmethod
    async def delete_lot(tx: aiosqlite.Connection, session: int, listing: int) -> None:
        await tx.execute("DELETE FROM auction_lots WHERE auction = ? AND listing = ?", (session, listing))

    @staticmethod
    async def set_lot(tx: aiosqlite.Connection, session: int, listing: int, lot: int) -> None:
        await tx.execute("UPDATE auction_lots SET lot = ? WHERE auction = ? AND listing = ? AND lot IS NULL",
                         (lot, session, listing))  # fmt: skip

    @staticmethod
    async def publish(tx: aiosqlite.Connection, session: int, now: int) -> None:
        await tx.execute("UPDATE auctions SET state = 'published', published_at = ? WHERE id = ?", (now, session))

    async def settle_listing(self, lot: int, before: ListingState, after: ListingState, now: int) -> bool:
        """The listing behind ``lot`` from ``before`` to ``after`` (a closed lot's outcome);
        idempotent: a second call changes nothing and answers False."""
        async with self.store.transaction() as tx:
            row = await one(tx, "SELECT listing FROM auction_lots WHERE lot = ?", (lot,))
            if row is None:
                return False
            return await listings.move(tx, int(row[0]), state=after, was=before, now=now)
