"""Deals (AU-7 to AU-10): what follows the hammer, from the transaction notice to the certificate.

A lot that closes ``sold`` gets exactly one deal. It is derived from the journal, never written
beside the close: the ``closed`` event is the fact, and the deal follows from it. A runtime
listener derives it once the close is durable; at start, ``reconcile`` derives it for every sold
lot that has none (the server stopped between the close and the deal). Both run the same
``derive``, whose insert is ``ON CONFLICT (lot) DO NOTHING`` on the deals' UNIQUE lot, so however
often a close is derived there is one deal, and a SIGKILL anywhere loses none.

The deal then moves through ``notified`` → ``contracted`` → ``paid`` → ``handed_over`` →
``certified``, or to ``defaulted`` (staff, with a reason, any time before the certificate).
Who may take which step in which state is one table, ``WHO_MAY``; every action checks it inside
its transaction (where no other writer can interleave), writes its change as a compare-and-set
on the deal's state, records a ``deal_steps`` row (who, what, when, why) and queues its SMS
(``hall.notify.enqueue``) in the same transaction, in the manner of the review mechanism.

The buyer is the account behind the winning bidder number (``bidders``), in its organisation;
the seller is the organisation of the item's listing, acted for by the listing's shop owner (a
lot made without a listing, as ``hall seed-demo``'s: its spec's seller organisation, acted for
by that organisation's open shop's owner, else its earliest account). The transaction form is
the one the lot carries (``LotDetails.form``: the listing's first form, as the lot page showed
it); the parties may agree another in the contract, which the hall does not read.

Never here: HTTP, templates, a clock of its own (the runtime's clock is the time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Final, Literal

import aiosqlite
import msgspec
from starlette.datastructures import UploadFile

from hall.auth.roles import Identity, Role
from hall.documents import CertificateFacts, NoticeFacts, new_verify_code
from hall.engine import AnyEvent, Closed, Outcome, State
from hall.listing import ItemKind, LotDetails, TransactionForm
from hall.listings import ListingAction, ListingState, after
from hall.money import figures
from hall.notify import enqueue
from hall.registration import SHANGHAI
from hall.runtime import Runtime
from hall.store import listings as listings_sql
from hall.store.deals import DealRow, DealStore, DocumentRow
from hall.store.sqlite import SqliteStore
from hall.uploads import FileStore, Written
from hall.web.errors import Refused
from hall.workdays import CalendarUnknown, beijing_date, contract_due, overdue_from, working_day_before

log = logging.getLogger(__name__)

ISSUER: Final = "江苏省技术产权交易市场"
"""The exchange that issues the notice and the certificate (the seed's 省技术产权交易市场)."""
NOTICE_PREFIX: Final = "TZ"
CERTIFICATE_PREFIX: Final = "PZ"
"""Document numbers: prefix, Beijing year, sequence within the year (``TZ202600001``)."""
MAX_REASON: Final = 200
"""A reason goes into an SMS: keep it short."""
LIST_LIMIT: Final = 200
"""Deals one list shows (the newest; staff see disputed and overdue ones first)."""
REMIND_BATCH: Final = 100
"""Reminders one tick of the scheduler sends at most; the rest wait for the next tick."""
REMIND_EVERY: Final = 60.0
"""Seconds between the reminder scheduler's ticks."""
REMIND_HOUR: Final = 9
"""The reminder goes out from 09:00 Beijing time on the working day before the deadline."""


class DealState(StrEnum):
    NOTIFIED = "notified"
    """The notice is issued; the contract is due within 5 working days (AU-7, AU-8)."""
    CONTRACTED = "contracted"
    """Both parties' signed contracts are in; the buyer pays as the contract says."""
    PAID = "paid"
    """The seller confirmed the payment; the parties hand the item over (AU-9)."""
    HANDED_OVER = "handed_over"
    CERTIFIED = "certified"
    """The certificate is issued (AU-10): the deal is done."""
    DEFAULTED = "defaulted"
    """Staff declared a default (with a reason); the item can be listed again."""


class Side(StrEnum):
    """Who is asking, as far as a deal is concerned."""

    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"


class Step(StrEnum):
    """What a person can do to a deal."""

    CONTRACT = "contract"
    PAYMENT = "payment"
    CONFIRM_PAYMENT = "confirm_payment"
    DISPUTE_PAYMENT = "dispute_payment"
    HANDOVER = "handover"
    REFUSE = "refuse"
    DEFAULT = "default"


class DocumentKind(StrEnum):
    CONTRACT = "contract"
    PAYMENT = "payment"


class DocumentState(StrEnum):
    SUBMITTED = "submitted"
    REFUSED = "refused"
    """Staff refused it (with a reason); its uploader hands in another."""
    REPLACED = "replaced"
    """Its uploader handed in another before anyone decided on it."""
    DISPUTED = "disputed"
    """A payment proof the seller disputes (with a reason): for staff to look into."""
    ACCEPTED = "accepted"
    """A payment proof the seller confirmed."""


_D = DealState
_BUYER, _SELLER, _STAFF = frozenset({Side.BUYER}), frozenset({Side.SELLER}), frozenset({Side.STAFF})
_PARTIES = _BUYER | _SELLER
_STANDING: Final = (DocumentState.SUBMITTED, DocumentState.DISPUTED)
"""A document that stands: handed in and neither refused, replaced nor accepted yet."""
OPEN: Final = frozenset({_D.NOTIFIED, _D.CONTRACTED, _D.PAID, _D.HANDED_OVER})
"""The states a deal can still be defaulted in."""

WHO_MAY: Final[dict[Step, tuple[frozenset[Side], frozenset[DealState]]]] = {
    Step.CONTRACT: (_PARTIES, frozenset({_D.NOTIFIED})),
    Step.PAYMENT: (_BUYER, frozenset({_D.CONTRACTED})),
    Step.CONFIRM_PAYMENT: (_SELLER, frozenset({_D.CONTRACTED})),
    Step.DISPUTE_PAYMENT: (_SELLER, frozenset({_D.CONTRACTED})),
    Step.HANDOVER: (_PARTIES, frozenset({_D.PAID})),
    Step.REFUSE: (_STAFF, frozenset({_D.NOTIFIED, _D.CONTRACTED})),
    Step.DEFAULT: (_STAFF, OPEN),
}
"""Who may take each step, and in which states. A staff member who is a party to a deal acts
on it as that party only: staff never decide on their own deal."""

AUDIT: Final = ("notified", "reminded", "contract_uploaded", "contracted", "payment_uploaded", "payment_confirmed",
                "payment_disputed", "document_refused", "handover_confirmed", "handed_over", "certified",
                "defaulted")  # fmt: skip
"""What a ``deal_steps`` row records (catalogue keys ``deal_audit_<action>``)."""


# ---------------------------------------------------------------------- rules (pure)


def side_of(deal: DealRow, who: Identity | None) -> Side | None:
    """The asker's side of the deal, or None: a stranger, for whom the deal does not exist."""
    if who is None:
        return None
    if who.id == deal.buyer:
        return Side.BUYER
    if who.id == deal.seller:
        return Side.SELLER
    if who.has(Role.STAFF):
        return Side.STAFF
    return None


def refusal(step: Step, side: Side, state: str) -> Refused | None:
    """Why ``side`` may not take ``step`` in ``state`` (``WHO_MAY``), or None: 403 when the step
    is not this side's, 409 when the deal is not where the step can be taken."""
    sides, states = WHO_MAY[step]
    if side not in sides:
        return Refused(403, "not_your_step", f"deal_err_not_yours_{step.value}")
    if state not in states:
        return Refused(409, "bad_state", "deal_err_state")
    return None


def may(step: Step, side: Side, state: str) -> bool:
    return refusal(step, side, state) is None


def check(step: Step, side: Side, state: str) -> None:
    found = refusal(step, side, state)
    if found is not None:
        raise found


def reason_of(reason: str | None) -> str:
    """A reason, required and short (it goes into an SMS)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise Refused(400, "reason_required", "deal_err_reason_required")
    if len(reason) > MAX_REASON:
        raise Refused(400, "reason_too_long", "err_reason_too_long", {"n": MAX_REASON})
    return reason


def remind_at(due: dt.date) -> int:
    """When the contract's reminder goes out (AU-8): 09:00 Beijing on the working day before the
    due date."""
    day = working_day_before(due)
    return int(dt.datetime.combine(day, dt.time(REMIND_HOUR), tzinfo=SHANGHAI).timestamp()) * 1000


def due_of(deal: DealRow) -> dt.date | CalendarUnknown:
    """The deal's contract due date: as stored, else as the installed calendar gives it now (a
    deal made before ``chinese-calendar`` knew the year, not yet dated by ``Deals.date``), else
    the ``CalendarUnknown`` that says which year is missing. Never a guess."""
    if deal.contract_due is not None:
        return dt.date.fromisoformat(deal.contract_due)
    try:
        return contract_due(deal.notified_at)
    except CalendarUnknown as unknown:
        return unknown


def is_overdue(deal: DealRow, now: int) -> bool:
    """A deal still waiting for its contract after the due date's 24:00 Beijing time; never one
    whose due date is unknown."""
    due = due_of(deal)
    return deal.state == DealState.NOTIFIED and isinstance(due, dt.date) and now >= overdue_from(due)


def today(now: int) -> str:
    """The Beijing date of ``now`` as the deals' ``contract_due`` compares (YYYY-MM-DD): a deal
    due before it is overdue, the same rule as ``is_overdue``."""
    return beijing_date(now).isoformat()


def numbered(prefix: str, year: int, count: int) -> str:
    return f"{prefix}{year}{count + 1:05d}"


def notice_facts(deal: DealRow) -> NoticeFacts:
    """The notice's facts, all from the deal as it was made: the same notice every time (once
    dated, the due date is the calendar's and never changes)."""
    due = due_of(deal)
    return NoticeFacts(
        issuer=ISSUER, number=deal.notice_number, lot=deal.lot, session=deal.session, item_title=deal.title,
        item_number=deal.item_number, item_kind=ItemKind(deal.item_kind), form=TransactionForm(deal.form),
        seller=deal.seller_name, buyer=deal.buyer_name, price=deal.price, closed_at=deal.closed_at,
        digest=deal.digest, verify_code=deal.verify_code, bidder_number=deal.bidder_number,
        notified_at=deal.notified_at, contract_due=due if isinstance(due, dt.date) else None,
        uncovered_year=None if isinstance(due, dt.date) else due.day.year,
    )  # fmt: skip


def certificate_facts(deal: DealRow) -> CertificateFacts | None:
    """The certificate's facts, or None before the deal is certified."""
    if deal.certificate_number is None or deal.certified_at is None:
        return None
    assert deal.contracted_at is not None and deal.paid_at is not None
    assert deal.buyer_handover_at is not None and deal.seller_handover_at is not None
    return CertificateFacts(
        issuer=ISSUER, number=deal.certificate_number, lot=deal.lot, session=deal.session, item_title=deal.title,
        item_number=deal.item_number, item_kind=ItemKind(deal.item_kind), form=TransactionForm(deal.form),
        seller=deal.seller_name, buyer=deal.buyer_name, price=deal.price, closed_at=deal.closed_at,
        digest=deal.digest, verify_code=deal.verify_code, notice_number=deal.notice_number,
        contracted_at=deal.contracted_at, paid_at=deal.paid_at, buyer_handover_at=deal.buyer_handover_at,
        seller_handover_at=deal.seller_handover_at, certified_at=deal.certified_at,
    )  # fmt: skip


def next_steps(deal: DealRow, side: Side, documents: Sequence[DocumentRow]) -> list[Step]:
    """What ``side`` can do next: the deal page's forms and the API's ``next``."""
    steps: list[Step] = [step for step in Step if step is not Step.REFUSE and may(step, side, deal.state)]
    payment = [d for d in documents if d.kind == DocumentKind.PAYMENT and d.state in _STANDING]
    if not payment:
        steps = [s for s in steps if s not in (Step.CONFIRM_PAYMENT, Step.DISPUTE_PAYMENT)]
    elif payment[-1].state == DocumentState.DISPUTED:
        steps = [s for s in steps if s is not Step.DISPUTE_PAYMENT]
    done = deal.buyer_handover_at if side is Side.BUYER else deal.seller_handover_at
    if done is not None:
        steps = [s for s in steps if s is not Step.HANDOVER]
    return steps


# ---------------------------------------------------------------------- the wire


class DocumentItem(msgspec.Struct, kw_only=True):
    """A document a party handed in, as its deal's parties and staff see it."""

    id: int
    kind: DocumentKind
    party: Literal["buyer", "seller"]
    state: DocumentState
    name: str
    url: str
    """``/deals/{deal}/files/{id}``: to the deal's parties and staff only, always a download."""
    uploaded_at: str
    reason: str | None
    """Why staff refused it, or why the seller disputes it."""


class StepItem(msgspec.Struct, kw_only=True):
    """One row of the deal's audit trail: what was done, by which side, when, why."""

    action: str
    by: Literal["buyer", "seller", "staff", "exchange"]
    state: DealState
    """The deal's state after the step."""
    at: str
    reason: str | None


class DealItem(msgspec.Struct, kw_only=True):
    """A deal as its buyer, its seller and staff see it (``GET /api/deals/{id}``). Instants are
    ISO 8601 with Beijing's offset; ``contract_due`` is the last day for the signed contract, null
    while the working-day calendar does not know its year."""

    id: int
    lot: int
    listing: int | None
    state: DealState
    price: int
    """Whole yuan."""
    buyer: str
    """The buyer's organisation (or, for a personal buyer, the person's name)."""
    seller: str
    bidder_number: str
    form: TransactionForm
    title: str
    item_number: str
    notice_number: str
    notified_at: str
    contract_due: str | None
    overdue: bool
    digest: str
    verify_code: str
    role: Side
    """The caller's side of the deal."""
    next: list[Step]
    """What the caller can do now."""
    disputed: bool
    contracted_at: str | None
    paid_at: str | None
    buyer_handover_at: str | None
    seller_handover_at: str | None
    certificate_number: str | None
    certified_at: str | None
    defaulted_at: str | None
    default_reason: str | None
    documents: list[DocumentItem]
    steps: list[StepItem]


class VerifyItem(msgspec.Struct, kw_only=True):
    """What ``/verify/{code}`` shows anyone: a deal's key facts and no personal data.
    Organisation names are public facts of a deal; a person (a personal buyer, an expert's
    shop) is never named, and no phone number or account appears."""

    notice_number: str
    certificate_number: str | None
    lot: int
    title: str
    item_number: str
    price: int
    closed_at: str
    state: DealState
    digest: str
    """The lot record's final SHA-256 (``GET /api/lots/{lot}/record`` recomputes it)."""
    seller: str | None
    """The seller organisation's name; null when the seller is a person."""
    buyer: str | None
    """The buyer organisation's name; null when the buyer is a person."""
    notified_at: str
    certified_at: str | None


class ConfirmBody(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/deals/{id}/confirm-payment``: empty (or ``{}``) confirms; a ``dispute``
    reason disputes the payment proof instead."""

    dispute: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)] | None = None


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)]


# ---------------------------------------------------------------------- the service


class Deals:
    """The deals' service: derives deals from closes, takes each step, sends the reminders."""

    def __init__(self, store: SqliteStore, runtime: Runtime, files: FileStore | None = None) -> None:
        self.store = store
        self.sql = DealStore(store)
        self.runtime = runtime
        self.files = files
        self._deriving: set[asyncio.Task[int | None]] = set()
        self._reminders: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ from the journal

    async def start(self, *, remind_every: float | None = REMIND_EVERY) -> None:
        """Follow closes as they become durable, derive the deals of sold lots that have none
        (after ``Runtime.start``), and start the reminder scheduler (unless ``remind_every`` is
        None: the tests and ``hall seed-demo`` tick it by hand). A deal made without a due date
        gets one here once the calendar (upgraded since) knows its year, else at a later tick."""
        self.runtime.listen(self._committed)
        await self.reconcile()
        await self.date()
        if remind_every is not None:
            self._reminders = asyncio.get_running_loop().create_task(self._remind_forever(remind_every))

    def _committed(self, events: Sequence[AnyEvent]) -> None:
        """A runtime listener: a lot that closed sold, now durably, gets its deal."""
        for event in events:
            if isinstance(event, Closed) and event.outcome is Outcome.SOLD:
                task = asyncio.get_running_loop().create_task(self._derive_logged(event))
                self._deriving.add(task)
                task.add_done_callback(self._deriving.discard)

    async def reconcile(self) -> list[int]:
        """Derive the deal of every sold lot without one; the new deals' ids. A lot that closes
        while this runs is derived by the listener too, and the UNIQUE lot keeps it one deal."""
        have = await self.sql.lots_with_deals()
        made = []
        for lot, view in list(self.runtime.views.items()):
            if view.state is not State.CLOSED or view.outcome is not Outcome.SOLD or lot in have:
                continue
            closed = await self.store.events_since(lot, view.seq - 1)  # a closed lot's last event is its close
            if closed and isinstance(closed[0], Closed):
                deal = await self._derive_logged(closed[0])
                if deal is not None:
                    made.append(deal)
        return made

    async def _derive_logged(self, closed: Closed) -> int | None:
        try:
            return await self.derive(closed)
        except Exception:  # noqa: BLE001 - the next start derives it again
            log.exception("deriving the deal of lot %s failed", closed.lot, extra={"lot": closed.lot})
            return None

    async def derive(self, closed: Closed) -> int | None:
        """The deal of a sold lot's close, with its notice number, verification code and due
        date, its first step and both parties' SMS, in one transaction; None when the lot has
        its deal already. A due date the working-day calendar cannot give (``CalendarUnknown``)
        does not stop the deal: a sale happened. It is made without one (no reminder, never
        overdue, flagged to staff), and ``date`` fills it in once the calendar knows the year."""
        if closed.outcome is not Outcome.SOLD or closed.winner is None or closed.price is None:
            raise ValueError(f"lot {closed.lot} did not close sold")
        lot = closed.lot
        now = self.runtime.clock()
        try:
            due: dt.date | None = contract_due(now)
        except CalendarUnknown as unknown:
            log.warning("deal of lot %s made without a contract due date: %s", lot, unknown, extra={"lot": lot})
            due = None
        _, digest = await self.store.head(lot)
        spec = self.runtime.lots[lot].spec
        details = self.runtime.details.get(lot, LotDetails())
        title = self.runtime.titles.get(lot, "")
        async with self.store.transaction() as tx:
            buyer = await self.sql.winner(tx, lot, closed.winner)
            if buyer is None:
                raise LookupError(f"lot {lot}: no bidder {closed.winner}")
            seller = await self.sql.seller(tx, lot, spec.seller_org)
            year = beijing_date(now).year
            number = numbered(NOTICE_PREFIX, year, await self.sql.count_numbered(tx, "notice_number", f"{NOTICE_PREFIX}{year}"))
            deal = await self.sql.insert(tx, {
                "lot": lot, "listing": seller.listing, "buyer": buyer[0], "buyer_org": buyer[1], "buyer_name": buyer[2],
                "bidder_number": closed.winner, "seller": seller.user, "seller_org": seller.org,
                "seller_name": seller.name, "price": closed.price, "form": details.form.value, "title": title,
                "item_number": details.number, "item_kind": details.kind.value,
                "session": self.runtime.sessions.get(lot, ""), "closed_at": closed.ts, "digest": digest.hex(),
                "notice_number": number, "verify_code": new_verify_code(), "notified_at": now,
                "contract_due": None if due is None else due.isoformat(),
                "remind_at": None if due is None else remind_at(due), "state": DealState.NOTIFIED.value,
                "updated_at": now,
            })  # fmt: skip
            if deal is None:
                return None
            await self.sql.step(tx, deal, action="notified", actor=None, state=DealState.NOTIFIED, now=now)
            for user in (buyer[0], seller.user):
                if user is None:
                    continue
                if due is None:
                    await enqueue(tx, user=user, template="deal_notified_undated", title=title,
                                  price=figures(closed.price), notice=number)  # fmt: skip
                else:
                    await enqueue(tx, user=user, template="deal_notified", title=title, price=figures(closed.price),
                                  notice=number, due=due.isoformat())  # fmt: skip
        log.info("deal %s derived", deal, extra={"lot": lot, "action": "deal_notified"})
        return deal

    # ------------------------------------------------------------------ reminders (AU-8)

    async def date(self, limit: int = REMIND_BATCH) -> int:
        """Fill in the due date (and the reminder's time) of deals made while the working-day
        calendar did not know the year, at most ``limit``, oldest notice first; how many were
        dated. Each is a compare-and-set on the NULL due date with its step and both parties'
        SMS in one transaction: dated once. The first the calendar still cannot date stops the
        pass, since every later notice's due date is later still."""
        now = self.runtime.clock()
        dated = 0
        for deal_id, notified_at in await self.sql.undated(limit):
            try:
                due = contract_due(notified_at)
            except CalendarUnknown:
                break
            async with self.store.transaction() as tx:
                deal = await self.sql.deal_in(tx, deal_id)
                if deal is None or not await self.sql.date(tx, deal_id, due.isoformat(), remind_at(due)):
                    continue
                await self.sql.step(tx, deal_id, action="contract_due_set", actor=None, state=deal.state, now=now)
                if deal.state == DealState.NOTIFIED:
                    for user in (deal.buyer, deal.seller):
                        if user is not None:
                            await enqueue(tx, user=user, template="deal_contract_due_set", title=deal.title,
                                          notice=deal.notice_number, due=due.isoformat())  # fmt: skip
            dated += 1
        return dated

    async def remind(self, limit: int = REMIND_BATCH) -> int:
        """Date the deals a newer calendar can now date (``date``), then send the contract
        reminders that are due, at most ``limit``; how many were sent. Each is a compare-and-set
        on ``reminded_at`` with its SMS in one transaction: never twice."""
        await self.date(limit)
        now = self.runtime.clock()
        sent = 0
        for deal_id in await self.sql.due_reminders(now, today(now), limit):
            async with self.store.transaction() as tx:
                deal = await self.sql.deal_in(tx, deal_id)
                if deal is None or deal.reminded_at is not None:
                    continue
                if not await self.sql.update(tx, deal_id, DealState.NOTIFIED, {"reminded_at": now}):
                    continue
                await self.sql.step(tx, deal_id, action="reminded", actor=None, state=deal.state, now=now)
                for user in (deal.buyer, deal.seller):
                    if user is not None:
                        await enqueue(tx, user=user, template="deal_contract_reminder", title=deal.title,
                                      due=deal.contract_due)  # fmt: skip
                sent += 1
        return sent

    async def _remind_forever(self, every: float) -> None:
        while True:
            try:
                await self.remind()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("sending the contract reminders failed")
            await asyncio.sleep(every)

    async def stop(self) -> None:
        """Stop the scheduler; let deals being derived finish (before the store closes)."""
        if self._reminders is not None:
            self._reminders.cancel()
            await asyncio.gather(self._reminders, return_exceptions=True)
        await self.drain()

    async def drain(self) -> None:
        """Wait for the deals being derived (the listener's tasks) to be written."""
        while self._deriving:
            await asyncio.gather(*self._deriving, return_exceptions=True)

    # ------------------------------------------------------------------ reading

    async def visible(self, deal_id: int, who: Identity | None) -> tuple[DealRow, Side]:
        """The deal and the asker's side of it; 404 for a stranger, as for a deal that does not
        exist (a deal's existence is its parties' business)."""
        deal = await self.sql.deal(deal_id)
        side = None if deal is None else side_of(deal, who)
        if deal is None or side is None:
            raise Refused(404, "not_found", "deal_err_none")
        return deal, side

    # ------------------------------------------------------------------ the parties' steps

    async def _upload(self, deal_id: int, who: Identity, field: UploadFile | str | None, step: Step,
                      kind: DocumentKind) -> DealRow:  # fmt: skip
        deal, side = await self.visible(deal_id, who)
        check(step, side, deal.state)
        assert self.files is not None, "uploads need the file store"
        now = self.runtime.clock()
        written = await self.files.accept(field, who.id, now)
        try:
            async with self.store.transaction() as tx:
                deal = await self._in(tx, deal_id)
                check(step, side, deal.state)
                file_id = await self.files.record(tx, who.id, written, now)
                document = await self.sql.insert_document(tx, deal=deal_id, kind=kind, party=side, file=file_id,
                                                          by=who.id, now=now)  # fmt: skip
                await self.sql.step(tx, deal_id, action=f"{kind.value}_uploaded", actor=who.id, state=deal.state,
                                    document=document, now=now)  # fmt: skip
                if kind is DocumentKind.CONTRACT:
                    await self._contracted(tx, deal, who.id, now)
                elif deal.seller is not None:
                    await enqueue(tx, user=deal.seller, template="deal_payment_uploaded", title=deal.title)
        except BaseException:
            await self._discard(written)
            raise
        return await self._reread(deal_id)

    async def _contracted(self, tx: aiosqlite.Connection, deal: DealRow, actor: int, now: int) -> None:
        """When both parties' contracts stand, the deal is contracted."""
        current = await self.sql.current(tx, deal.id, DocumentKind.CONTRACT)
        if {d.party for d in current} >= {Side.BUYER, Side.SELLER}:
            moved = await self.sql.update(tx, deal.id, DealState.NOTIFIED,
                                          {"state": DealState.CONTRACTED.value, "contracted_at": now, "updated_at": now})
            if moved:
                await self.sql.step(tx, deal.id, action="contracted", actor=actor,
                                    state=DealState.CONTRACTED, now=now)

    async def upload_contract(self, deal_id: int, who: Identity, field: UploadFile | str | None) -> DealRow:
        """A party's signed contract (AU-8); the second party's makes the deal ``contracted``."""
        return await self._upload(deal_id, who, field, Step.CONTRACT, DocumentKind.CONTRACT)

    async def upload_payment(self, deal_id: int, who: Identity, field: UploadFile | str | None) -> DealRow:
        """The buyer's payment proof; the seller is told by SMS to confirm it."""
        return await self._upload(deal_id, who, field, Step.PAYMENT, DocumentKind.PAYMENT)

    async def confirm_payment(self, deal_id: int, who: Identity, *, dispute: str | None = None) -> DealRow:
        """The seller confirms the payment (→ ``paid``) or, with a reason, disputes its proof:
        the dispute goes to staff (the staff's deals page) and the buyer gets an SMS."""
        step = Step.CONFIRM_PAYMENT if dispute is None else Step.DISPUTE_PAYMENT
        deal, side = await self.visible(deal_id, who)
        check(step, side, deal.state)
        reason = None if dispute is None else reason_of(dispute)
        now = self.runtime.clock()
        async with self.store.transaction() as tx:
            deal = await self._in(tx, deal_id)
            check(step, side, deal.state)
            current = await self.sql.current(tx, deal_id, DocumentKind.PAYMENT)
            if not current:
                raise Refused(409, "no_payment_proof", "deal_err_no_payment_proof")
            proof = current[-1]
            if reason is None:
                await self.sql.mark_document(tx, proof.id, _STANDING, DocumentState.ACCEPTED, by=who.id, reason=None,
                                             now=now)  # fmt: skip
                await self.sql.update(tx, deal_id, DealState.CONTRACTED,
                                      {"state": DealState.PAID.value, "paid_at": now, "updated_at": now})  # fmt: skip
                await self.sql.step(tx, deal_id, action="payment_confirmed", actor=who.id, state=DealState.PAID,
                                    document=proof.id, now=now)  # fmt: skip
            else:
                if proof.state == DocumentState.DISPUTED:
                    raise Refused(409, "already_disputed", "deal_err_already_disputed")
                await self.sql.mark_document(tx, proof.id, (DocumentState.SUBMITTED,), DocumentState.DISPUTED,
                                             by=who.id, reason=reason, now=now)  # fmt: skip
                await self.sql.step(tx, deal_id, action="payment_disputed", actor=who.id, state=deal.state,
                                    document=proof.id, reason=reason, now=now)  # fmt: skip
                await enqueue(tx, user=deal.buyer, template="deal_payment_disputed", title=deal.title, reason=reason)
        return await self._reread(deal_id)

    async def confirm_handover(self, deal_id: int, who: Identity) -> DealRow:
        """A party confirms the handover (AU-9); the second confirmation makes the deal
        ``handed_over`` and issues the certificate (AU-10): ``certified``, both told by SMS."""
        deal, side = await self.visible(deal_id, who)
        check(Step.HANDOVER, side, deal.state)
        now = self.runtime.clock()
        mine, theirs = ("buyer_handover_at", "seller_handover_at") if side is Side.BUYER else \
            ("seller_handover_at", "buyer_handover_at")  # fmt: skip
        async with self.store.transaction() as tx:
            deal = await self._in(tx, deal_id)
            check(Step.HANDOVER, side, deal.state)
            if getattr(deal, mine) is not None:
                raise Refused(409, "already_confirmed", "deal_err_already_confirmed")
            await self.sql.update(tx, deal_id, DealState.PAID, {mine: now, "updated_at": now})
            await self.sql.step(tx, deal_id, action="handover_confirmed", actor=who.id, state=DealState.PAID, now=now)
            if getattr(deal, theirs) is None:
                return await self._in(tx, deal_id)
            await self.sql.update(tx, deal_id, DealState.PAID, {"state": DealState.HANDED_OVER.value})
            await self.sql.step(tx, deal_id, action="handed_over", actor=who.id, state=DealState.HANDED_OVER, now=now)
            year = beijing_date(now).year
            prefix = f"{CERTIFICATE_PREFIX}{year}"
            number = numbered(CERTIFICATE_PREFIX, year, await self.sql.count_numbered(tx, "certificate_number", prefix))
            await self.sql.update(tx, deal_id, DealState.HANDED_OVER, {
                "state": DealState.CERTIFIED.value, "certificate_number": number, "certified_at": now,
            })  # fmt: skip
            await self.sql.step(tx, deal_id, action="certified", actor=None, state=DealState.CERTIFIED, now=now)
            for user in (deal.buyer, deal.seller):
                if user is not None:
                    await enqueue(tx, user=user, template="deal_certified", title=deal.title, certificate=number)
        log.info("deal %s certified", deal_id, extra={"action": "deal_certified"})
        return await self._reread(deal_id)

    # ------------------------------------------------------------------ staff

    async def refuse_document(self, deal_id: int, who: Identity, document_id: int, reason: str) -> DealRow:
        """Staff refuse a contract or payment proof with a reason; its uploader gets an SMS and
        hands in another. A refused contract of a ``contracted`` deal takes it back to
        ``notified``: the contract is no longer complete."""
        deal, side = await self.visible(deal_id, who)
        check(Step.REFUSE, side, deal.state)
        reason = reason_of(reason)
        now = self.runtime.clock()
        async with self.store.transaction() as tx:
            deal = await self._in(tx, deal_id)
            check(Step.REFUSE, side, deal.state)
            document = await self.sql.document_in(tx, document_id)
            if document is None or document.deal != deal_id:
                raise Refused(404, "not_found", "deal_err_no_document")
            if not await self.sql.mark_document(tx, document_id, _STANDING, DocumentState.REFUSED, by=who.id,
                                                reason=reason, now=now):  # fmt: skip
                raise Refused(409, "not_refusable", "deal_err_not_refusable")
            state = deal.state
            if document.kind == DocumentKind.CONTRACT and deal.state == DealState.CONTRACTED:
                state = DealState.NOTIFIED
                await self.sql.update(tx, deal_id, DealState.CONTRACTED,
                                      {"state": state.value, "contracted_at": None, "updated_at": now})  # fmt: skip
            await self.sql.step(tx, deal_id, action="document_refused", actor=who.id, state=state,
                                document=document_id, reason=reason, now=now)  # fmt: skip
            await enqueue(tx, user=document.uploaded_by, template=f"deal_{document.kind}_refused", title=deal.title,
                          reason=reason)  # fmt: skip
        return await self._reread(deal_id)

    async def declare_default(self, deal_id: int, who: Identity, reason: str) -> DealRow:
        """Staff declare a default with a reason, in any state before the certificate. The
        item's listing is relisted (``hall.listings``: ``sold`` back to ``listed``), so it can be
        put in a session again; both parties get an SMS."""
        deal, side = await self.visible(deal_id, who)
        check(Step.DEFAULT, side, deal.state)
        reason = reason_of(reason)
        now = self.runtime.clock()
        async with self.store.transaction() as tx:
            deal = await self._in(tx, deal_id)
            check(Step.DEFAULT, side, deal.state)
            await self.sql.update(tx, deal_id, deal.state, {"state": DealState.DEFAULTED.value, "defaulted_at": now,
                                                            "default_reason": reason, "updated_at": now})  # fmt: skip
            await self.sql.step(tx, deal_id, action="defaulted", actor=who.id, state=DealState.DEFAULTED,
                                reason=reason, now=now)  # fmt: skip
            if deal.listing is not None:
                sold = ListingState.SOLD
                await listings_sql.move(tx, deal.listing, state=after(sold, ListingAction.RELIST), was=sold, now=now)
            for user in (deal.buyer, deal.seller):
                if user is not None:
                    await enqueue(tx, user=user, template="deal_defaulted", title=deal.title, reason=reason)
        log.info("deal %s defaulted", deal_id, extra={"action": "deal_defaulted"})
        return await self._reread(deal_id)

    # ------------------------------------------------------------------ plumbing

    async def _in(self, tx: aiosqlite.Connection, deal_id: int) -> DealRow:
        deal = await self.sql.deal_in(tx, deal_id)
        assert deal is not None  # deals are never deleted
        return deal

    async def _reread(self, deal_id: int) -> DealRow:
        deal = await self.sql.deal(deal_id)
        assert deal is not None
        return deal

    async def _discard(self, written: Written) -> None:
        if self.files is not None:
            await self.files.discard(written)
