"""The SQL of listings (LS-1 to LS-10): the ``listings`` rows (schema 5, the contract with the
auction sessions, which read them and move them into and out of sessions), each season's entry
rules, an upload's report kept until its good rows are listed, and ownership change requests.

Writes take the caller's transaction (``tx``), so that a listing, its review application and
its audit row are written together (``hall.listing_actions``). Reads that decide something (a
state, a season's count) are made inside that transaction too; the others use the reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiosqlite
import msgspec

from hall.batch import Report
from hall.listing import ItemKind
from hall.listings import ListingDraft, ListingState, Ownership, SeasonRules
from hall.store.sqlite import SqliteStore
from hall.store.rows import one

_draft_encoder: Final = msgspec.msgpack.Encoder()
_draft_decoder: Final = msgspec.msgpack.Decoder(ListingDraft)
_rules_decoder: Final = msgspec.msgpack.Decoder(SeasonRules)
_report_decoder: Final = msgspec.msgpack.Decoder(Report)

NOT_ENTERED: Final = (ListingState.REJECTED.value, ListingState.DELISTED.value)
"""States of a listing that does not count towards its organisation's season quota: a rejected
or delisted item is no longer recommended until it is submitted again (and counted again)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One ``listings`` row, its draft decoded."""

    id: int
    shop: int
    org: int | None
    kind: ItemKind
    title: str
    number: str
    holder: str
    ownership: Ownership
    authorisation: int | None
    """The holders' authorisation document (a file id) of an ``agent`` item."""
    draft: ListingDraft
    start_price: int
    season: int | None
    """The season's year the item entered, or None."""
    agreement_version: str
    agreement_at: int
    state: ListingState
    created_by: int
    created_at: int
    updated_at: int
    batch: int | None


COLUMNS: Final = (
    "l.id, l.shop, l.org, l.kind, l.title, l.number, l.holder, l.ownership, l.authorisation, l.draft, l.start_price,"
    " l.season, l.agreement_version, l.agreement_at, l.state, l.created_by, l.created_at, l.updated_at, l.batch"
)


def _listing(row: sqlite3.Row) -> Listing:
    (id_, shop, org, kind, title, number, holder, ownership, authorisation, draft, start_price, season, version,
     accepted, state, created_by, created_at, updated_at, batch) = row  # fmt: skip
    assert isinstance(draft, bytes)
    return Listing(int(id_), int(shop), org, ItemKind(kind), str(title), str(number), str(holder),
                   Ownership(ownership), authorisation, _draft_decoder.decode(draft), int(start_price),
                   season, str(version), int(accepted), ListingState(state), int(created_by),
                   int(created_at), int(updated_at), batch)  # fmt: skip



# ---------------------------------------------------------------------- listings


async def insert(
    tx: aiosqlite.Connection, *, shop: int, org: int | None, draft: ListingDraft, ownership: Ownership,
    authorisation: int | None, season: int | None, agreement_version: str, user: int, now: int,
    batch: int | None = None,
) -> int:  # fmt: skip
    """A new listing, pending review; its id."""
    cursor = await tx.execute(
        "INSERT INTO listings (shop, org, kind, title, number, holder, ownership, authorisation, draft, start_price,"
        " season, agreement_version, agreement_at, state, created_by, created_at, updated_at, batch)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
        (shop, org, draft.kind.value, draft.title, draft.number, draft.holder, ownership.value, authorisation,
         _draft_encoder.encode(draft), draft.start_price, season, agreement_version, now, user, now, now, batch),
    )  # fmt: skip
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def resubmitted(
    tx: aiosqlite.Connection, listing: int, *, draft: ListingDraft, ownership: Ownership, authorisation: int | None,
    season: int | None, agreement_version: str, now: int,
) -> None:  # fmt: skip
    """An edited listing back to pending, with the agreement accepted again."""
    await tx.execute(
        "UPDATE listings SET kind = ?, title = ?, number = ?, holder = ?, ownership = ?, authorisation = ?, draft = ?,"
        " start_price = ?, season = ?, agreement_version = ?, agreement_at = ?, state = 'pending', updated_at = ?"
        " WHERE id = ?",
        (draft.kind.value, draft.title, draft.number, draft.holder, ownership.value, authorisation,
         _draft_encoder.encode(draft), draft.start_price, season, agreement_version, now, now, listing),
    )  # fmt: skip


async def move(tx: aiosqlite.Connection, listing: int, *, state: ListingState, was: ListingState, now: int) -> bool:
    """Set a listing's state if it is still ``was``; False when another writer moved it first."""
    cursor = await tx.execute("UPDATE listings SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                              (state.value, now, listing, was.value))  # fmt: skip
    return cursor.rowcount == 1


async def set_ownership(tx: aiosqlite.Connection, listing: int, *, ownership: Ownership, authorisation: int | None,
                        leave_season: bool, now: int) -> None:  # fmt: skip
    """A changed ownership status (LS-4); ``leave_season`` takes the item out of its season."""
    await tx.execute(
        "UPDATE listings SET ownership = ?, authorisation = ?, season = CASE WHEN ? THEN NULL ELSE season END,"
        " updated_at = ? WHERE id = ?",
        (ownership.value, authorisation, leave_season, now, listing),
    )


async def listing_in(tx: aiosqlite.Connection, listing: int) -> Listing | None:
    row = await one(tx, f"SELECT {COLUMNS} FROM listings l WHERE l.id = ?", (listing,))
    return None if row is None else _listing(row)


async def listing(store: SqliteStore, listing_id: int) -> Listing | None:
    row = await store.fetchone(f"SELECT {COLUMNS} FROM listings l WHERE l.id = ?", (listing_id,))
    return None if row is None else _listing(row)


async def by_ids(store: SqliteStore, ids: Sequence[int]) -> dict[int, Listing]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(f"SELECT {COLUMNS} FROM listings l WHERE l.id IN ({marks})", tuple(ids))
    return {int(row[0]): _listing(row) for row in rows}


async def of_shop(store: SqliteStore, shop: int, *, state: ListingState | None, limit: int) -> list[Listing]:
    """A shop's listings, newest change first, at most ``limit``."""
    rows = await store.fetchall(
        f"SELECT {COLUMNS} FROM listings l WHERE l.shop = ? AND (? IS NULL OR l.state = ?)"
        " ORDER BY l.updated_at DESC, l.id DESC LIMIT ?",
        (shop, None if state is None else state.value, None if state is None else state.value, limit),
    )
    return [_listing(row) for row in rows]


async def in_states(store: SqliteStore, states: Sequence[ListingState], *, limit: int) -> list[Listing]:
    """Listings in any of ``states`` (the public ones, for the hall), newest change first."""
    marks = ",".join("?" * len(states))
    rows = await store.fetchall(
        f"SELECT {COLUMNS} FROM listings l WHERE l.state IN ({marks}) ORDER BY l.updated_at DESC, l.id DESC LIMIT ?",
        (*(s.value for s in states), limit),
    )
    return [_listing(row) for row in rows]


async def season_entered(tx: aiosqlite.Connection, *, year: int, org: int, excluding: int | None) -> int:
    """How many of the organisation's items are in the season of ``year`` (LS-10), ``excluding``
    the one being (re)submitted; counted in the transaction that adds one more."""
    marks = ",".join("?" * len(NOT_ENTERED))
    row = await one(
        tx,
        f"SELECT count(*) FROM listings WHERE season = ? AND org = ? AND id != ? AND state NOT IN ({marks})",
        (year, org, excluding or 0, *NOT_ENTERED),
    )
    assert row is not None
    return int(row[0])


# ---------------------------------------------------------------------- seasons (LS-6, LS-10)


async def season_rules(tx: aiosqlite.Connection, year: int) -> SeasonRules:
    """The rules stored for the season of ``year``, or the seeds' rules for that year."""
    row = await one(tx, "SELECT rules FROM seasons WHERE year = ?", (year,))
    return SeasonRules.for_year(year) if row is None else _rules_decoder.decode(row[0])


async def set_season_rules(tx: aiosqlite.Connection, rules: SeasonRules, now: int) -> None:
    await tx.execute(
        "INSERT INTO seasons (year, rules, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (year) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
        (rules.year, _draft_encoder.encode(rules), now),
    )


# ---------------------------------------------------------------------- batches (LS-8)


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    owner: int
    shop: int
    kind: ItemKind
    report: Report
    created_at: int
    expires_at: int
    submitted_at: int | None


_BATCH: Final = "SELECT id, owner, shop, kind, report, created_at, expires_at, submitted_at FROM listing_batches"


def _batch(row: sqlite3.Row) -> Batch:
    id_, owner, shop, kind, report, created_at, expires_at, submitted_at = row
    assert isinstance(report, bytes)
    return Batch(int(id_), int(owner), int(shop), ItemKind(kind), _report_decoder.decode(report),
                 int(created_at), int(expires_at), submitted_at)  # fmt: skip


async def insert_batch(tx: aiosqlite.Connection, *, owner: int, shop: int, report: Report, now: int,
                       expires_at: int) -> int:  # fmt: skip
    """Keep an upload's report; the owner's expired reports are removed on the way."""
    await tx.execute("DELETE FROM listing_batches WHERE owner = ? AND expires_at <= ? AND submitted_at IS NULL"
                     " AND id NOT IN (SELECT batch FROM listings WHERE batch IS NOT NULL)", (owner, now))  # fmt: skip
    cursor = await tx.execute(
        "INSERT INTO listing_batches (owner, shop, kind, report, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (owner, shop, report.kind.value, _draft_encoder.encode(report), now, expires_at),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def batch_in(tx: aiosqlite.Connection, batch: int) -> Batch | None:
    row = await one(tx, f"{_BATCH} WHERE id = ?", (batch,))
    return None if row is None else _batch(row)


async def batch(store: SqliteStore, batch_id: int) -> Batch | None:
    row = await store.fetchone(f"{_BATCH} WHERE id = ?", (batch_id,))
    return None if row is None else _batch(row)


async def batch_submitted(tx: aiosqlite.Connection, batch: int, now: int) -> bool:
    cursor = await tx.execute("UPDATE listing_batches SET submitted_at = ? WHERE id = ? AND submitted_at IS NULL",
                              (now, batch))  # fmt: skip
    return cursor.rowcount == 1


# ---------------------------------------------------------------------- ownership changes (LS-4)


@dataclass(frozen=True, slots=True)
class OwnershipChange:
    id: int
    listing: int
    ownership: Ownership
    """The status asked for."""
    note: str
    document: int | None
    state: str
    created_by: int
    created_at: int


_CHANGE: Final = "SELECT id, listing, ownership, note, document, state, created_by, created_at FROM ownership_changes"


def _change(row: sqlite3.Row) -> OwnershipChange:
    id_, listing_id, ownership, note, document, state, created_by, created_at = row
    return OwnershipChange(int(id_), int(listing_id), Ownership(ownership), str(note), document, str(state),
                           int(created_by), int(created_at))  # fmt: skip


async def insert_change(tx: aiosqlite.Connection, *, listing: int, ownership: Ownership, note: str,
                        document: int | None, user: int, now: int) -> int:  # fmt: skip
    cursor = await tx.execute(
        "INSERT INTO ownership_changes (listing, ownership, note, document, state, created_by, created_at)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (listing, ownership.value, note, document, user, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def change_in(tx: aiosqlite.Connection, change: int) -> OwnershipChange | None:
    row = await one(tx, f"{_CHANGE} WHERE id = ?", (change,))
    return None if row is None else _change(row)


async def changes(store: SqliteStore, ids: Sequence[int]) -> dict[int, OwnershipChange]:
    if not ids:
        return {}
    rows = await store.fetchall(f"{_CHANGE} WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))
    return {int(row[0]): _change(row) for row in rows}


async def changes_of(store: SqliteStore, listing_id: int) -> list[OwnershipChange]:
    rows = await store.fetchall(f"{_CHANGE} WHERE listing = ? ORDER BY id DESC", (listing_id,))
    return [_change(row) for row in rows]


async def change_decided(tx: aiosqlite.Connection, change: int, state: str) -> None:
    await tx.execute("UPDATE ownership_changes SET state = ? WHERE id = ?", (state, change))


# ---------------------------------------------------------------------- lots (the seller centre)


async def lots_of_shop(store: SqliteStore, shop: int, *, limit: int) -> list[tuple[int, int, str, int]]:
    """(listing, lot, session name, start price) of every published lot of the shop's items,
    newest first: the seller centre reads each lot's live state from the runtime."""
    rows = await store.fetchall(
        "SELECT l.id, al.lot, a.name, al.start_price FROM auction_lots al JOIN listings l ON l.id = al.listing"
        " JOIN auctions a ON a.id = al.auction WHERE l.shop = ? AND al.lot IS NOT NULL ORDER BY al.lot DESC LIMIT ?",
        (shop, limit),
    )
    return [(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows]
