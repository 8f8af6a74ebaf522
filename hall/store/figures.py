"""The exchange's figures and the deals reached outside the hall in the SQLite store (table
``offline_deals`` of schema 12, and reads of ``deals``, ``listings`` and ``auction_lots``; the
lots' events through ``Store.events_at``, whichever store holds them): SQL only, no rules.

The rules (what an offline deal needs, what counts in which figure) are hall/offline_deals.py's
and hall/figures.py's; the functions that write take the caller's transaction
(``SqliteStore.transaction``), so that recording a deal, moving its listing and keeping its
contract's file row are one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite

from hall.store.sqlite import SqliteStore
from hall.store.rows import insert, one


@dataclass(frozen=True, slots=True)
class OfflineRow:
    id: int
    listing: int
    industry: str
    session: int | None
    """The last published session that offered the item, None when none did."""
    buyer: int | None
    """The buyer's account, when staff named one; None for a buyer known only by name."""
    buyer_name: str
    seller_name: str
    title: str
    item_number: str
    start_price: int
    """The listing's start price when the deal was recorded (whole yuan)."""
    price: int
    day: str
    """The deal's Beijing date, YYYY-MM-DD."""
    form: str
    contract: int
    recorded_by: int
    recorded_at: int


@dataclass(frozen=True, slots=True)
class OnlineRow:
    """What the figures read of a deal made in the hall (``deals``)."""

    id: int
    lot: int
    price: int
    closed_at: int
    state: str
    title: str
    item_number: str
    buyer_name: str
    seller_name: str
    notice_number: str


@dataclass(frozen=True, slots=True)
class ItemForSale:
    """A listing as an offline deal needs it: its state, its offered forms' draft, its seller's name."""

    id: int
    title: str
    number: str
    start_price: int
    state: str
    draft: bytes
    seller_name: str


_OFFLINE: Final = f"SELECT {', '.join(OfflineRow.__dataclass_fields__)} FROM offline_deals"
_ONLINE: Final = f"SELECT {', '.join(OnlineRow.__dataclass_fields__)} FROM deals"
_ITEM: Final = """
    SELECT l.id, l.title, l.number, l.start_price, l.state, l.draft, coalesce(o.name, s.name)
    FROM listings l JOIN shops s ON s.id = l.shop LEFT JOIN orgs o ON o.id = l.org
"""



class FigureStore:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    # ------------------------------------------------------------------ reads

    async def offline(self, deal: int) -> OfflineRow | None:
        row = await self.store.fetchone(f"{_OFFLINE} WHERE id = ?", (deal,))
        return None if row is None else OfflineRow(*row)

    async def offline_deals(self) -> list[OfflineRow]:
        """Every offline deal, newest day first."""
        return [OfflineRow(*r) for r in await self.store.fetchall(f"{_OFFLINE} ORDER BY day DESC, id DESC")]

    async def online_deals(self) -> list[OnlineRow]:
        """Every deal made in the hall, whatever its state (the figures decide what counts)."""
        return [OnlineRow(*r) for r in await self.store.fetchall(f"{_ONLINE} ORDER BY closed_at DESC, id DESC")]

    async def ended_at(self, lots: Iterable[tuple[int, int]]) -> dict[int, int]:
        """When each lot ended: the time of its event at ``seq``, for (lot, seq) pairs that name
        a lot's last, terminal event (closed or withdrawn). Point lookups on the journal's
        (lot, seq) key, never a scan of its events."""
        return {event.lot: event.ts for event in await self.store.events_at(list(lots))}

    async def listings_for_sale(self, states: Sequence[str], limit: int) -> list[ItemForSale]:
        """Listings an offline deal may be recorded for (the form's choices), newest first."""
        marks = ", ".join("?" * len(states))
        rows = await self.store.fetchall(f"{_ITEM} WHERE l.state IN ({marks}) ORDER BY l.id DESC LIMIT ?",
                                         (*states, limit))  # fmt: skip
        return [ItemForSale(*r) for r in rows]

    # ------------------------------------------------------------------ inside a transaction

    @staticmethod
    async def item_in(tx: aiosqlite.Connection, listing: int) -> ItemForSale | None:
        row = await one(tx, f"{_ITEM} WHERE l.id = ?", (listing,))
        return None if row is None else ItemForSale(*row)

    @staticmethod
    async def last_session_in(tx: aiosqlite.Connection, listing: int) -> tuple[int, str] | None:
        """(session, industry) of the last published session that made the item a lot."""
        row = await one(tx, "SELECT a.id, a.industry FROM auction_lots al JOIN auctions a ON a.id = al.auction "
                             "WHERE al.listing = ? AND al.lot IS NOT NULL ORDER BY al.lot DESC LIMIT 1", (listing,))  # fmt: skip
        return None if row is None else (row[0], row[1])

    @staticmethod
    async def buyer_name_in(tx: aiosqlite.Connection, user: int) -> str | None:
        """An account as a buyer: its organisation's name, else its (verified) name; None for no
        such account."""
        row = await one(tx, "SELECT coalesce(o.name, u.name) FROM users u LEFT JOIN orgs o ON o.id = u.org "
                             "WHERE u.id = ?", (user,))  # fmt: skip
        return None if row is None else str(row[0])

    @staticmethod
    async def insert_offline(tx: aiosqlite.Connection, values: dict[str, object]) -> int:
        return await insert(tx, "offline_deals", values)
