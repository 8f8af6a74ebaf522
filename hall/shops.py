"""Shops (AC-4): an approved identity opens a shop. Its owner accepts the shop terms (the
version and the time are kept), fills the profile — an organisation's shop is named exactly as
the organisation — and the contact, and submits; staff review it (kind ``shop`` of the review
mechanism, ``hall/reviews``).

On approval the shop is ``open`` and its owner becomes a seller (``Role.SELLER``) in the same
transaction; closing the shop takes the role back. Only an open shop lists (``open_shop_of``).
A rejected or closed shop is edited and resubmitted: the same row, a new application.
An account has at most one shop, and an organisation too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Final

import aiosqlite
import msgspec

from hall.reviews import Application, Fact, Invalid, Kind, ReviewError, Reviews, Summary, register, submit, withdraw
from hall.store import identities as sql
from hall.store.sqlite import SqliteStore
from hall.store.rows import one

KIND: Final = "shop"
SHOP_TERMS_VERSION: Final = "2026-01"
"""The shop terms in force; their text is the catalogue's ``terms_key(SHOP_TERMS_VERSION)``.
A new version is a new key, so the text an owner accepted stays readable."""
MIN_NAME, MAX_NAME = 2, 100
MAX_CONTACT: Final = 50
MAX_EMAIL: Final = 100
MAX_INTRO: Final = 1000
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
PHONE: Final = re.compile(r"1[3-9][0-9]{9}")
"""A mainland mobile number (AC-1)."""
OPEN: Final = "open"
RESUBMITTABLE: Final = ("rejected", "closed")


def terms_key(version: str) -> str:
    """The catalogue key of the shop terms of ``version``."""
    return "shop_terms_" + version.replace("-", "_")


class ShopForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What an owner fills in to open (or resubmit) a shop: the page's form and the API's body."""

    identity: int | None = None
    """The approved identity the shop is for; the account's only one when omitted."""
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME * 2)]
    contact_name: Annotated[str, msgspec.Meta(max_length=MAX_CONTACT * 2)]
    contact_phone: Annotated[str, msgspec.Meta(max_length=32)]
    contact_email: Annotated[str, msgspec.Meta(max_length=MAX_EMAIL * 2)] = ""
    intro: Annotated[str, msgspec.Meta(max_length=MAX_INTRO * 2)] = ""
    terms_version: Annotated[str, msgspec.Meta(max_length=20)]
    """The version of the shop terms accepted: must be ``SHOP_TERMS_VERSION``."""


@dataclass(frozen=True, slots=True)
class Shop:
    id: int
    owner: int
    identity: int
    identity_kind: str
    org: int | None
    name: str
    contact_name: str
    contact_phone: str
    contact_email: str
    intro: str
    terms_version: str
    terms_accepted_at: int
    state: str
    """``pending``, ``open``, ``rejected`` or ``closed``."""
    created_at: int
    updated_at: int


def _shop(row: sqlite3.Row) -> Shop:
    return Shop(*row)


async def shop(store: SqliteStore, shop_id: int) -> Shop | None:
    row = await store.fetchone(f"{sql.SHOP_COLUMNS} WHERE s.id = ?", (shop_id,))
    return None if row is None else _shop(row)


async def shop_of(store: SqliteStore, user: int) -> Shop | None:
    """The account's shop, in whatever state."""
    row = await store.fetchone(f"{sql.SHOP_COLUMNS} WHERE s.owner = ?", (user,))
    return None if row is None else _shop(row)


async def open_shop_of(store: SqliteStore, user: int) -> Shop | None:
    """The account's shop if it is open: the only kind of shop that lists (LS-2)."""
    found = await shop_of(store, user)
    return found if found is not None and found.state == OPEN else None


def _checked(form: ShopForm, *, org_name: str | None) -> ShopForm:
    """The form with its text trimmed, or ``Invalid`` naming the first field that is wrong.
    An organisation's shop (``org_name``) must carry the organisation's name exactly (AC-4)."""
    trimmed = msgspec.structs.replace(form, **{f: " ".join(getattr(form, f).split()) for f in
                                               ("name", "contact_name", "contact_phone", "contact_email", "intro")})  # fmt: skip
    if trimmed.terms_version != SHOP_TERMS_VERSION:
        raise Invalid("terms_version", "err_shop_terms", code="terms")
    if not MIN_NAME <= len(trimmed.name) <= MAX_NAME:
        raise Invalid("name", "err_shop_name", low=MIN_NAME, high=MAX_NAME)
    if org_name is not None and trimmed.name != org_name:
        raise Invalid("name", "err_shop_name_org", code="name_mismatch", org=org_name)
    if not 1 <= len(trimmed.contact_name) <= MAX_CONTACT:
        raise Invalid("contact_name", "err_shop_contact_name", n=MAX_CONTACT)
    phone = re.sub(r"[\s-]", "", trimmed.contact_phone).removeprefix("+86")
    if not PHONE.fullmatch(phone):
        raise Invalid("contact_phone", "err_bad_phone", code="bad_phone")
    if trimmed.contact_email and (len(trimmed.contact_email) > MAX_EMAIL or not EMAIL.fullmatch(trimmed.contact_email)):
        raise Invalid("contact_email", "err_shop_email")
    if len(trimmed.intro) > MAX_INTRO:
        raise Invalid("intro", "err_shop_intro", n=MAX_INTRO)
    return msgspec.structs.replace(trimmed, contact_phone=phone)


async def _identity_for(tx: aiosqlite.Connection, user: int, chosen: int | None) -> tuple[int, int | None, str | None]:
    """(identity, its org, the org's name) of the account's approved identity the shop is for."""
    rows = await tx.execute_fetchall(
        "SELECT i.id, i.org, o.name FROM identities i LEFT JOIN orgs o ON o.id = i.org"
        " WHERE i.user = ? AND i.state = 'approved' ORDER BY i.id", (user,))  # fmt: skip
    approved = [(int(r[0]), r[1], r[2]) for r in rows]
    if chosen is not None:
        approved = [a for a in approved if a[0] == chosen]
    if not approved:
        raise ReviewError(409, "no_identity", "err_shop_needs_identity")
    if len(approved) > 1:
        raise Invalid("identity", "err_shop_choose_identity")
    return approved[0]


async def apply(reviews: Reviews, *, user: int, form: ShopForm, now: int) -> int:
    """Open a shop: checked, stored pending, its application filed; its id. A rejected or
    closed shop of the account is resubmitted instead (``resubmit``)."""
    async with reviews.store.transaction() as tx:
        existing = await one(tx, "SELECT id, state FROM shops WHERE owner = ?", (user,))
        if existing is not None:
            if existing[1] not in RESUBMITTABLE:
                raise ReviewError(409, "shop_exists", "err_shop_exists")
            return await _resubmit(tx, int(existing[0]), user=user, form=form, now=now)
        identity, org, org_name = await _identity_for(tx, user, form.identity)
        checked = _checked(form, org_name=org_name)
        if org is not None and await one(tx, "SELECT 1 FROM shops WHERE org = ?", (org,)):
            raise ReviewError(409, "org_has_shop", "err_org_has_shop")
        cursor = await tx.execute(
            "INSERT INTO shops (owner, identity, org, name, contact_name, contact_phone, contact_email, intro,"
            " terms_version, terms_accepted_at, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (user, identity, org, checked.name, checked.contact_name, checked.contact_phone, checked.contact_email,
             checked.intro, checked.terms_version, now, now, now),
        )  # fmt: skip
        shop_id = cursor.lastrowid
        assert shop_id is not None
        await submit(tx, kind=KIND, subject=shop_id, applicant=user, now=now)
    return shop_id


async def resubmit(reviews: Reviews, shop_id: int, *, user: int, form: ShopForm, now: int) -> int:
    """Edit a rejected or closed shop and submit it again (the same row, a new application)."""
    async with reviews.store.transaction() as tx:
        return await _resubmit(tx, shop_id, user=user, form=form, now=now)


async def _resubmit(tx: aiosqlite.Connection, shop_id: int, *, user: int, form: ShopForm, now: int) -> int:
    found = await one(tx, "SELECT owner, state FROM shops WHERE id = ?", (shop_id,))
    if found is None or found[0] != user:
        raise ReviewError(404, "not_found", "err_no_shop")
    if found[1] not in RESUBMITTABLE:
        raise ReviewError(409, "pending" if found[1] == "pending" else "shop_open", "err_shop_not_resubmittable")
    identity, org, org_name = await _identity_for(tx, user, form.identity)
    checked = _checked(form, org_name=org_name)
    if org is not None and await one(tx, "SELECT 1 FROM shops WHERE org = ? AND id != ?", (org, shop_id)):
        raise ReviewError(409, "org_has_shop", "err_org_has_shop")
    await tx.execute(
        "UPDATE shops SET identity = ?, org = ?, name = ?, contact_name = ?, contact_phone = ?, contact_email = ?,"
        " intro = ?, terms_version = ?, terms_accepted_at = ?, state = 'pending', updated_at = ? WHERE id = ?",
        (identity, org, checked.name, checked.contact_name, checked.contact_phone, checked.contact_email,
         checked.intro, checked.terms_version, now, now, shop_id),
    )  # fmt: skip
    await submit(tx, kind=KIND, subject=shop_id, applicant=user, now=now)
    return shop_id


async def close(reviews: Reviews, shop_id: int, *, user: int, now: int) -> None:
    """The owner closes the shop (open or pending): no more listing, and no more seller role."""
    async with reviews.store.transaction() as tx:
        found = await one(tx, "SELECT owner, state FROM shops WHERE id = ?", (shop_id,))
        if found is None or found[0] != user:
            raise ReviewError(404, "not_found", "err_no_shop")
        if found[1] not in (OPEN, "pending"):
            raise ReviewError(409, "not_open", "err_shop_not_open")
        await withdraw(tx, kind=KIND, subject=shop_id, actor=user, now=now)
        await sql.set_state(tx, "shops", shop_id, "closed", now)
        await sql.revoke_seller(tx, user)


class ShopKind(Kind):
    kind = KIND
    label = "shop_application"
    approved_sms = "shop_approved"
    rejected_sms = "shop_rejected"

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        row = await one(tx, "SELECT name FROM shops WHERE id = ?", (application.subject,))
        assert row is not None
        await sql.set_state(tx, "shops", application.subject, OPEN, now)
        await sql.grant_seller(tx, application.applicant, reviewer, now)
        return {"name": row[0]}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        row = await one(tx, "SELECT name FROM shops WHERE id = ?", (application.subject,))
        assert row is not None
        await sql.set_state(tx, "shops", application.subject, "rejected", now)
        return {"name": row[0]}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        subjects = {a.subject for a in applications}
        marks = ",".join("?" * len(subjects))
        rows = await reviews.store.fetchall(f"{sql.SHOP_COLUMNS} WHERE s.id IN ({marks})", tuple(subjects))
        found = {r[0]: _shop(r) for r in rows}
        summaries = {}
        for a in applications:
            s = found.get(a.subject)
            if s is not None:
                facts = [Fact("identity_kind", f"identity_kind_{s.identity_kind}", key=True),
                         Fact("shop_contact", f"{s.contact_name} {s.contact_phone} {s.contact_email}".strip()),
                         Fact("shop_terms_accepted", f"{s.terms_version}")]  # fmt: skip
                if s.intro:
                    facts.append(Fact("shop_intro", s.intro))
                summaries[a.id] = Summary(title=s.name, link=f"/shops/{s.id}", facts=tuple(facts))
        return summaries


register(ShopKind())
