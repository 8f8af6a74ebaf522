"""Posting research-crowdsourcing demands (CR-1 to CR-4, CR-11): what the demand side fills in
and what is refused, who may post (an enterprise itself, or the transfer organisation it
entrusted), each change one function that checks it and writes it in one transaction with its
review application (kind ``demand``), the staff decision that numbers and publishes it, and the
batch upload of the 《需求征集表》.

The shared rules (relations, hidden fields, numbers, windows) are ``hall.demands``; the SQL is
``hall.store.demands``. No HTTP here: a refusal is a ``Refused`` with a catalogue key, or
``DraftInvalid`` (the listings' one) with every field that is wrong.

Decisions the seeds leave open (see docs/crowdsourcing.md):

- An entrusted demand is worked by its transfer organisation (CR-2: "which then does all the
  work"): only the agency edits, resubmits, restarts or withdraws it; the enterprise sees all of
  it. A demand the enterprise posted itself is worked by the enterprise (its account or another
  of its organisation).
- The technology manager is a person of the transfer organisation: required when an agency
  posts. ``commissioned`` service (委托服务, the organisation finds the solution) needs one.
- Response deadline from today (Beijing) on, validity from the deadline on and within
  ``MAX_VALIDITY_DAYS``; the intended investment is stated (the 2022 notice: every demand
  "均需标明意向投入金额、合作方式、有效期限").
- A batch is all or nothing: a file with any bad row posts none, so that correcting it and
  uploading it again never posts a row twice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

import aiosqlite
import msgspec

from hall import batch as sheets
from hall.auctions import Industry
from hall.auth.roles import Identity
from hall.batch import CellError, CellType, Column, Form
from hall.demands import HIDEABLE, Cooperation, DemandState, Relation, ServiceMode
from hall.listing_actions import DraftInvalid, beijing_day
from hall.listings import PERSON_MAX, PRICE_MAX, PRICE_MIN, TITLE_MAX, FieldError, check_text, field_error
from hall.notify import notice
from hall.reviews import Application, Fact, Kind, ReviewError, Reviews, Summary, register, submit
from hall.reviews import withdraw as withdraw_application
from hall.store import demands as sql
from hall.store.matching import push_published
from hall.store.demands import DemandRow
from hall.store.rows import first, one
from hall.store.sqlite import SqliteStore
from hall.web.errors import Refused

KIND: Final = "demand"
"""The review kind this module registers."""
DESCRIPTION_MAX: Final = 2000
REQUIREMENTS_MAX: Final = 2000
NOTE_MAX: Final = 500
"""Characters of an entrustment's note to the organisation."""
MAX_VALIDITY_DAYS: Final = 3 * 366
"""A demand is valid for at most about three years from the day it is submitted."""
ENTERPRISE_KINDS: Final = ("enterprise", "soe")
"""Identity kinds (AC-3) that make an account a demand side."""
_PHONE: Final = re.compile(r"[0-9+\-() ]{5,20}")


class Hideable(StrEnum):
    """``hall.demands.HIDEABLE`` as fixed values: the batch sheet's drop-down and the form's boxes."""

    ENTERPRISE = "enterprise"
    INVESTMENT = "investment"
    CONTACT = "contact"
    MANAGER = "manager"
    REQUIREMENTS = "requirements"


assert tuple(Hideable) == HIDEABLE, "Hideable mirrors hall.demands.HIDEABLE"


def choice_key(value: StrEnum) -> str:
    """The catalogue key of a demand's fixed value: an industry, a cooperation mode, a service
    mode or a hideable field."""
    if isinstance(value, Industry):
        return value.key
    prefix = {Cooperation: "crowd_a_coop", ServiceMode: "crowd_a_mode", Hideable: "crowd_a_f"}[type(value)]
    return f"{prefix}_{value.value}"


class DemandDraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the demand side submits: the API's body, a batch row, an edit. Types are checked
    where it is decoded; every limit and rule by ``validate``, field by field. ``entrustment``
    names the accepted entrustment a transfer organisation posts under (None: the enterprise
    posts itself); ``hidden`` the fields the public must not see (CR-4)."""

    title: str = ""
    industry: Industry | None = None
    description: str = ""
    requirements: str = ""
    """Technical requirements (技术要求及参数)."""
    manager: str = ""
    """The technology manager (技术经理人), a person of the transfer organisation."""
    service_mode: ServiceMode = ServiceMode.COOPERATION
    investment: int = 0
    """The intended investment, whole yuan."""
    cooperation: Cooperation | None = None
    contact_name: str = ""
    contact_phone: str = ""
    valid_until: date | None = None
    response_deadline: date | None = None
    hidden: list[str] = []
    entrustment: int | None = None


COLUMNS: Final = ("title", "industry", "description", "requirements", "manager", "service_mode", "investment",
                  "cooperation", "contact_name", "contact_phone", "valid_until", "response_deadline", "hidden")  # fmt: skip
"""A draft's fields that are the demand's own columns (``entrustment`` decides its parties)."""


def normalise(draft: DemandDraft) -> DemandDraft:
    """The draft as stored: text stripped, the hidden fields in ``HIDEABLE``'s order once each
    (unknown ones are kept for ``validate`` to refuse)."""
    hidden = [h.strip() for h in draft.hidden]
    known = [h for h in HIDEABLE if h in hidden]
    return msgspec.structs.replace(
        draft, title=draft.title.strip(), description=draft.description.strip(),
        requirements=draft.requirements.strip(), manager=draft.manager.strip(), contact_name=draft.contact_name.strip(),
        contact_phone=draft.contact_phone.strip(), hidden=known + [h for h in hidden if h not in HIDEABLE],
    )  # fmt: skip


def _error(field: str, code: str, params: dict[str, str | int] | None = None) -> FieldError:
    return FieldError(field, code, f"crowd_a_{code}", params or {})


def validate(draft: DemandDraft, *, on: date, agency: bool) -> list[FieldError]:
    """Every way ``draft`` breaks the demand rules, in field order; empty when it may be
    submitted. ``on`` is Beijing's today; ``agency`` whether a transfer organisation posts it."""
    errors: list[FieldError] = []
    check_text(errors, "title", draft.title, TITLE_MAX, required=True)
    if draft.industry is None:
        errors.append(field_error("industry", "required"))
    check_text(errors, "description", draft.description, DESCRIPTION_MAX, required=True)
    check_text(errors, "requirements", draft.requirements, REQUIREMENTS_MAX, required=False)
    check_text(errors, "manager", draft.manager, PERSON_MAX, required=agency)
    if draft.service_mode is ServiceMode.COMMISSIONED and not agency:
        errors.append(_error("service_mode", "commissioned_needs_agency"))
    if not PRICE_MIN <= draft.investment <= PRICE_MAX:
        errors.append(_error("investment", "investment_range", {"min": PRICE_MIN, "max": PRICE_MAX}))
    if draft.cooperation is None:
        errors.append(field_error("cooperation", "required"))
    check_text(errors, "contact_name", draft.contact_name, PERSON_MAX, required=False)
    if draft.contact_phone and not _PHONE.fullmatch(draft.contact_phone):
        errors.append(_error("contact_phone", "bad_phone"))
    deadline, valid = draft.response_deadline, draft.valid_until
    if deadline is None:
        errors.append(field_error("response_deadline", "required"))
    elif deadline < on:
        errors.append(_error("response_deadline", "past_date"))
    if valid is None:
        errors.append(field_error("valid_until", "required"))
    elif deadline is not None and valid < deadline:
        errors.append(_error("valid_until", "valid_before_deadline"))
    elif valid > on + timedelta(days=MAX_VALIDITY_DAYS):
        errors.append(_error("valid_until", "valid_too_long", {"days": MAX_VALIDITY_DAYS}))
    for name in draft.hidden:
        if name not in HIDEABLE:
            errors.append(_error("hidden", "bad_hidden", {"value": name[:20]}))
            break
    return errors


def columns_of(draft: DemandDraft) -> dict[str, object]:
    """The draft's own columns, as ``hall.store.demands`` writes them."""
    values = {name: getattr(draft, name) for name in COLUMNS}
    values["industry"] = draft.industry.value if draft.industry else ""
    values["cooperation"] = draft.cooperation.value if draft.cooperation else ""
    values["service_mode"] = draft.service_mode.value
    return values


def draft_of(found: DemandRow) -> DemandDraft:
    """A stored demand as the draft its edit form starts from."""
    return DemandDraft(
        title=found.title, industry=found.industry, description=found.description, requirements=found.requirements,
        manager=found.manager, service_mode=found.service_mode, investment=found.investment,
        cooperation=found.cooperation, contact_name=found.contact_name, contact_phone=found.contact_phone,
        valid_until=found.valid_until, response_deadline=found.response_deadline, hidden=list(found.hidden),
        entrustment=found.entrustment,
    )  # fmt: skip


# ---------------------------------------------------------------------- who posts (CR-1, CR-2)


@dataclass(frozen=True, slots=True)
class Poster:
    """The parties of a demand being posted: the enterprise (account and organisation) and, when
    an entrusted transfer organisation posts it, that organisation and the entrustment."""

    user: int
    enterprise: int
    enterprise_org: int | None
    agency_org: int | None = None
    entrustment: int | None = None


async def is_enterprise(db: aiosqlite.Connection | SqliteStore, user: int) -> bool:
    """Whether the account holds an approved enterprise (or state-owned enterprise) identity."""
    query = (f"SELECT 1 FROM identities WHERE user = ? AND state = 'approved'"
             f" AND kind IN ({','.join('?' * len(ENTERPRISE_KINDS))})")
    params = (user, *ENTERPRISE_KINDS)
    found = await first(db, query, params)
    return found is not None


async def poster_in(tx: aiosqlite.Connection, me: Identity, entrustment: int | None) -> Poster:
    """``me`` as the poster of a demand: the enterprise itself (403 ``not_enterprise`` without an
    approved enterprise identity), or with ``entrustment`` the transfer organisation that
    accepted it (403 ``not_entrusted`` for any other account)."""
    if entrustment is None:
        if not await is_enterprise(tx, me.id):
            raise Refused(403, "not_enterprise", "crowd_a_not_enterprise")
        return Poster(me.id, me.id, me.org)
    found = await sql.entrustment_in(tx, entrustment)
    if (found is None or found.state != "accepted" or me.org is None or found.agency_org != me.org
            or not await sql.is_agency(tx, me.org)):  # fmt: skip
        raise Refused(403, "not_entrusted", "crowd_a_not_entrusted")
    return Poster(me.id, found.enterprise, found.enterprise_org, found.agency_org, found.id)


def works(who: Relation, found: DemandRow) -> bool:
    """Whether ``who`` works the demand (edits, restarts, withdraws it): its agency when it is
    entrusted, else its side (see the module's docstring)."""
    return who is (Relation.AGENCY if found.agency_org is not None else Relation.SIDE)


def checked_draft(draft: DemandDraft, *, agency: bool, now: int) -> DemandDraft:
    """The draft normalised, or ``DraftInvalid`` with every field that is wrong."""
    draft = normalise(draft)
    errors = validate(draft, on=beijing_day(now), agency=agency)
    if errors:
        raise DraftInvalid(errors)
    return draft


# ---------------------------------------------------------------------- actions


async def create(store: SqliteStore, me: Identity, draft: DemandDraft, *, now: int) -> int:
    """CR-2, CR-3: a new demand, pending review with its application; its id. The draft is
    checked before the poster (an agency posts exactly when it names an entrustment)."""
    draft = checked_draft(draft, agency=draft.entrustment is not None, now=now)
    async with store.transaction() as tx:
        poster = await poster_in(tx, me, draft.entrustment)
        demand = await _insert(tx, poster, draft, now=now)
    return demand


async def _insert(tx: aiosqlite.Connection, poster: Poster, draft: DemandDraft, *, now: int) -> int:
    demand = await sql.insert_demand(tx, columns_of(draft), enterprise=poster.enterprise,
                                     enterprise_org=poster.enterprise_org, agency_org=poster.agency_org,
                                     entrustment=poster.entrustment, user=poster.user, now=now)  # fmt: skip
    await submit(tx, kind=KIND, subject=demand, applicant=poster.user, now=now)
    return demand


EDITABLE: Final = (DemandState.REJECTED, DemandState.UNRESOLVED)
"""States a demand is edited and submitted again from: after a rejection (resubmit), and after
an unresolved round past its deadline (CR-8: restart, approved as a new round)."""


async def _worked(tx: aiosqlite.Connection, me: Identity, demand_id: int) -> DemandRow:
    """The demand if ``me`` works it; 404 when it may not see it, 403 when it only sees it."""
    found, who = await sql.demand_access_in(tx, demand_id, me)
    if not works(who, found):
        raise Refused(403, "not_yours", "crowd_a_not_yours")
    return found


async def resubmit(store: SqliteStore, me: Identity, demand_id: int, draft: DemandDraft, *, now: int) -> None:
    """Edit a rejected demand and submit it again, or restart an unresolved one (CR-8); either
    is pending again with a new application. Its parties do not change."""
    async with store.transaction() as tx:
        found = await _worked(tx, me, demand_id)
        if found.state not in EDITABLE:
            raise Refused(409, "bad_state", "crowd_a_bad_state")
        draft = checked_draft(msgspec.structs.replace(draft, entrustment=found.entrustment),
                              agency=found.agency_org is not None, now=now)  # fmt: skip
        moved = await sql.update_demand(tx, demand_id, columns_of(draft), was=found.state, now=now)
        assert moved  # the write lock is held since the read
        await submit(tx, kind=KIND, subject=demand_id, applicant=me.id, now=now)


async def withdraw(store: SqliteStore, me: Identity, demand_id: int, *, now: int) -> None:
    """Take back a demand while it is pending review: it is ``withdrawn`` for good (a restart
    withdrawn keeps its number, which is never given again)."""
    async with store.transaction() as tx:
        found = await _worked(tx, me, demand_id)
        if found.state is not DemandState.PENDING:
            raise Refused(409, "bad_state", "crowd_a_bad_state")
        await sql.move(tx, demand_id, state=DemandState.WITHDRAWN, was=found.state, now=now)
        await withdraw_application(tx, kind=KIND, subject=demand_id, actor=me.id, now=now)


def next_actions(found: DemandRow, who: Relation) -> list[str]:
    """What ``who`` can do to the demand now: ``edit`` (resubmit), ``restart``, ``withdraw``."""
    if not works(who, found):
        return []
    return {DemandState.REJECTED: ["edit"], DemandState.UNRESOLVED: ["restart"],
            DemandState.PENDING: ["withdraw"]}.get(found.state, [])  # fmt: skip


# ---------------------------------------------------------------------- entrustments (CR-2)


class EntrustmentAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    """The organisation's answers."""
    WITHDRAW = "withdraw"
    """The enterprise takes back its request while it is pending."""


async def entrust(store: SqliteStore, me: Identity, *, agency_org: int, note: str, now: int) -> int:
    """CR-2: an enterprise asks a transfer organisation (one of ``sql.agencies``) to post and
    work its demands; pending until the organisation answers. Its id."""
    note = " ".join(note.split())
    if len(note) > NOTE_MAX:
        raise Refused(400, "invalid", "listing_too_long", {"max": NOTE_MAX})
    async with store.transaction() as tx:
        if not await is_enterprise(tx, me.id):
            raise Refused(403, "not_enterprise", "crowd_a_not_enterprise")
        if not await sql.is_agency(tx, agency_org) or agency_org == me.org:
            raise Refused(400, "not_agency", "crowd_a_not_agency")
        open_ = await one(tx, "SELECT 1 FROM entrustments WHERE enterprise = ? AND agency_org = ?"
                              " AND state IN ('pending', 'accepted')", (me.id, agency_org))  # fmt: skip
        if open_ is not None:
            raise Refused(409, "entrusted", "crowd_a_entrusted")
        entrustment = await sql.insert_entrustment(tx, enterprise=me.id, enterprise_org=me.org, agency_org=agency_org,
                                                   note=note, now=now)  # fmt: skip
        enterprise = await _name(tx, me)
        for account in await _agency_accounts(tx, agency_org):
            await notice(tx, user=account, template="crowd_a_notice_entrusted", now=now, enterprise=enterprise)
    return entrustment


async def answer_entrustment(store: SqliteStore, me: Identity, entrustment_id: int, action: EntrustmentAction, *,
                             now: int) -> sql.Entrustment:  # fmt: skip
    """The organisation accepts or declines a pending entrustment, or the enterprise withdraws
    it; 404 for anyone who is neither, 409 ``bad_state`` once it is answered."""
    async with store.transaction() as tx:
        found = await sql.entrustment_in(tx, entrustment_id)
        agency = found is not None and me.org is not None and me.org == found.agency_org
        enterprise = found is not None and found.enterprise == me.id
        if found is None or not (agency or enterprise):
            raise Refused(404, "not_found", "crowd_a_entrustment_not_found")
        if not (enterprise if action is EntrustmentAction.WITHDRAW else agency):
            raise Refused(403, "not_yours", "crowd_a_not_yours")
        state = {EntrustmentAction.ACCEPT: "accepted", EntrustmentAction.DECLINE: "declined",
                 EntrustmentAction.WITHDRAW: "withdrawn"}[action]  # fmt: skip
        if not await sql.decide_entrustment(tx, entrustment_id, state=state, by=me.id, now=now):
            raise Refused(409, "bad_state", "crowd_a_bad_state")
        if action is not EntrustmentAction.WITHDRAW:
            await notice(tx, user=found.enterprise, template=f"crowd_a_notice_{state}", now=now, agency=found.agency_name)
        decided = await sql.entrustment_in(tx, entrustment_id)
    assert decided is not None
    return decided


async def _agency_accounts(tx: aiosqlite.Connection, org: int) -> list[int]:
    rows = await tx.execute_fetchall("SELECT DISTINCT user FROM identities WHERE org = ? AND kind = 'transfer'"
                                     " AND state = 'approved' LIMIT 20", (org,))  # fmt: skip
    return [int(r[0]) for r in rows]


async def _name(tx: aiosqlite.Connection, me: Identity) -> str:
    row = await one(tx, "SELECT name FROM orgs WHERE id = ?", (me.org,)) if me.org is not None else None
    return str(row[0]) if row is not None else me.name


# ---------------------------------------------------------------------- the review kind (CR-3)


def _decided_elsewhere() -> ReviewError:
    return ReviewError(409, "bad_state", "crowd_a_bad_state")


class DemandKind(Kind):
    """CR-3: approval numbers a demand (its first time: ``ZB`` + year + sequence) and publishes
    it, or publishes a restart as the next round under the same number; rejection sends it back
    with the reason, to be edited. The enterprise of an entrusted demand is told in its inbox."""

    kind = KIND
    label = "crowd_a_review_kind"
    approved_sms = "demand_approved"
    rejected_sms = "demand_rejected"

    async def _pending(self, tx: aiosqlite.Connection, application: Application) -> DemandRow:
        found = await sql.demand_in(tx, application.subject)
        if found is None or found.state is not DemandState.PENDING:
            raise _decided_elsewhere()
        return found

    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        found = await self._pending(tx, application)
        given, _ = await sql.publish(tx, found, now=now)
        await push_published(tx, found.id, now)  # CR-10: indexed by publish, pushed in the same commit
        if found.enterprise != application.applicant:
            await notice(tx, user=found.enterprise, template="crowd_a_notice_published", now=now, title=found.title,
                         number=given)  # fmt: skip
        return {"title": found.title, "number": given}

    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        found = await self._pending(tx, application)
        await sql.move(tx, found.id, state=DemandState.REJECTED, was=found.state, now=now)
        if found.enterprise != application.applicant:
            await notice(tx, user=found.enterprise, template="crowd_a_notice_rejected", now=now, title=found.title,
                         reason=reason)  # fmt: skip
        return {"title": found.title}

    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        found = await sql.by_ids(reviews.store, [a.subject for a in applications])
        summaries = {}
        for application in applications:
            item = found.get(application.subject)
            if item is not None:
                facts = [Fact("crowd_a_f_industry", item.industry.key, key=True),
                         Fact("crowd_a_f_enterprise", item.enterprise_name),
                         Fact("crowd_a_f_investment", str(item.investment)),
                         Fact("crowd_a_f_cooperation", choice_key(item.cooperation), key=True)]  # fmt: skip
                if item.agency_name:
                    facts.insert(2, Fact("crowd_a_f_agency", item.agency_name))
                if item.number:
                    facts.insert(0, Fact("crowd_a_f_number", item.number))
                summaries[application.id] = Summary(title=item.title, link=f"/demands/{item.id}", facts=tuple(facts))
        return summaries


register(DemandKind())


# ---------------------------------------------------------------------- the batch (CR-11)


def _column(field: str, type: CellType = CellType.TEXT, width: int = 16, example: sheets.Example = None,
            required: bool = False, choices: tuple[StrEnum, ...] = ()) -> Column:  # fmt: skip
    return Column(field, f"crowd_a_f_{field}", f"crowd_a_note_{field}", type, required, choices, width, example,
                  choice_key)  # fmt: skip


FORM: Final = Form("crowd_a_batch_sheet", ("crowd_a_batch_note_1", "crowd_a_batch_note_2", "crowd_a_batch_note_3"), (
    _column("title", width=36, example="锂电池极片缺陷在线检测技术（示例）", required=True),
    _column("industry", CellType.CHOICE, 18, Industry.ENERGY, True, tuple(Industry)),
    _column("description", width=50, example="需解决极片涂布后微小缺陷的在线识别问题……（示例）", required=True),
    _column("requirements", width=40, example="检出率≥99%，节拍≤1秒（示例）"),
    _column("service_mode", CellType.CHOICE, 14, ServiceMode.COOPERATION, True, tuple(ServiceMode)),
    _column("cooperation", CellType.CHOICE, 14, Cooperation.JOINT_DEVELOPMENT, True, tuple(Cooperation)),
    _column("investment", CellType.INTEGER, 14, 500000, True),
    _column("response_deadline", CellType.DATE, 14, date(2026, 9, 30), True),
    _column("valid_until", CellType.DATE, 14, date(2026, 12, 31), True),
    _column("manager", width=12, example="王经理"),
    _column("contact_name", width=12, example="李四"),
    _column("contact_phone", width=16, example="025-80000000"),
    _column("hidden", CellType.CHOICES, 24, [Hideable.INVESTMENT, Hideable.CONTACT], choices=tuple(Hideable)),
    _column("entrustment", CellType.INTEGER, 12),
))
"""The 《需求征集表》 (CR-11; the 2022 notice's 附件2 asks for each demand's intended
investment, cooperation mode and validity): one demand a row. ``entrustment`` is filled by a
transfer organisation only: the number of the entrustment each row is posted under."""


class DemandRowReport(msgspec.Struct, frozen=True):
    """One row of an upload: the sheet's row number, what is wrong with it, the row as a draft."""

    row: int
    errors: list[CellError]
    draft: DemandDraft | None

    @property
    def ok(self) -> bool:
        return not self.errors


def template(lang: str = "zh") -> bytes:
    """The xlsx the demand side downloads to post many demands at once (CR-11)."""
    return sheets.build_template(FORM, lang)


def parse(data: bytes) -> list[DemandRowReport]:
    """An upload read row by row (``BatchRefused`` for a file refused whole): each row a draft,
    what did not read reported by its column. The rules are checked by ``upload``, which knows
    who posts each row."""
    rows, _ = sheets.read_sheet(FORM, data)
    reports = []
    for row in rows:
        values = {k: [v.value for v in value] if k == "hidden" and isinstance(value, list) else value
                  for k, value in row.values.items()}  # fmt: skip
        reports.append(DemandRowReport(row.row, list(row.errors), msgspec.convert(values, DemandDraft)))
    return reports


async def upload(store: SqliteStore, me: Identity, data: bytes, *, now: int) -> tuple[list[DemandRowReport], list[int]]:
    """CR-11: an upload's rows checked as the single form checks a draft, each as posted by
    ``me`` (itself, or under the row's entrustment), and every row posted, pending review,
    when all are good; none when any is bad. The per-row report and the new demands' ids."""
    reports = await asyncio.to_thread(parse, data)
    header = {c.field: c.header for c in FORM.columns}
    on = beijing_day(now)
    checked: list[tuple[DemandRowReport, Poster | None]] = []
    seen: dict[str, int] = {}
    async with store.transaction() as tx:
        for report in reports:
            assert report.draft is not None
            errors = list(report.errors)
            broken = {e.column for e in errors}
            draft = normalise(report.draft)
            poster: Poster | None = None
            try:
                poster = await poster_in(tx, me, draft.entrustment)
            except Refused as refused:
                if header["entrustment"] not in broken:  # a number that did not read is reported once
                    errors.append(CellError(header["entrustment"], refused.code, refused.key))
            for error in validate(draft, on=on, agency=poster is not None and poster.agency_org is not None):
                if header[error.field] not in broken:
                    errors.append(CellError(header[error.field], error.code, error.key, error.params))
            key = " ".join(draft.title.casefold().split())
            if key in seen:
                errors.append(CellError(header["title"], "duplicate_row", "batch_duplicate_row", {"row": seen[key]}))
            seen.setdefault(key, report.row)
            checked.append((DemandRowReport(report.row, errors, draft), poster))
        if any(not r.ok for r, _ in checked):
            return [r for r, _ in checked], []
        ids = []
        for report, poster in checked:
            assert report.draft is not None and poster is not None
            ids.append(await _insert(tx, poster, report.draft, now=now))
        await sql.set_batch(tx, ids, ids[0])
    return [r for r, _ in checked], ids
