"""The one review mechanism (AC-5): every application staff approve or reject, of any kind.

Real-name verification, identity, shop, listing, ownership change and bidder registration are
all applications. Each kind keeps its own table (``verifications``, ``registrations``,
``identities``, ``shops``, ``listings``) with its own lifecycle; what they share lives here,
once: the ``applications`` row (kind, subject = the id in the kind's table, applicant, state,
who decided, when, why), the documents handed in with it, an audit row for every step, the
staff queue, the decision, and its SMS.

A kind plugs in by registering a ``Kind`` (``register``): what approval and rejection do to
its own table, the SMS templates that report them (``hall/notify.py``), and how its queue row
reads. A domain files an application with ``submit`` inside its own transaction, so that the
thing and its application exist together or not at all; a resubmission after a rejection is a
new application for the same subject, so each submission is reviewed on its own and the
earlier ones keep their decision and reason.

``Reviews.decide`` is the only way to decide, for every kind: one transaction holds the
decision, the kind's effects, the audit row and the SMS (``hall.notify.enqueue``), so an
applicant is told exactly what was decided. Whether the application may be decided is checked
again inside that transaction, where no other writer can interleave, so two staff members
deciding at once cannot both win. Staff never decide their own applications, a rejection
always has a reason, and a decided application stays decided (409).

Some approvals act outside the store's transaction: admitting a bidder (``Runtime.register``)
writes the store in its own transaction, and the store's write lock is not re-entrant, so it
can never run inside one of ours. A kind does such work in ``Kind.prepare``, which runs before
the decision's transaction; decisions are serialised by a lock here so that prepare and
transaction are one step for other deciders. The work must be idempotent (admission is: the
same bidder number again): if the transaction then fails, the application stays pending and
approving it again completes it.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final

import aiosqlite

from hall.notify import enqueue
from hall.refusal import Refusal
from hall.store import reviews as sql
from hall.store.people import People
from hall.store.sqlite import SqliteStore
from hall.uploads import FileStore, Written

if TYPE_CHECKING:
    from hall.runtime import Runtime

PENDING: Final = "pending"
APPROVED: Final = "approved"
REJECTED: Final = "rejected"
WITHDRAWN: Final = "withdrawn"
STATES: Final = (PENDING, APPROVED, REJECTED, WITHDRAWN)
"""An application's states. Withdrawn is an application its applicant took back (a shop closed
while its application was pending); it is never decided."""
ACTIONS: Final = ("submitted", "resubmitted", "approved", "rejected", "withdrawn")
"""What an audit row records."""
MAX_REASON: Final = 200
"""A rejection reason goes into an SMS: keep it short."""
QUEUE_LIMIT: Final = 200
"""Applications one queue page lists (oldest first); the rest wait for these to be decided."""
RECENT: Final = 50
"""Decisions listed under a queue."""


class ReviewError(Refusal):
    """An application or decision refused: an HTTP status, a stable code, and the catalogue
    key (hall/web/i18n.py) of its message with the key's parameters, put into words where shown."""


class Invalid(ReviewError):
    """A field that fails validation: which one, and its message's catalogue key."""

    def __init__(self, field: str, key: str, code: str = "invalid", status: int = 400, **params: object) -> None:
        super().__init__(status, code, key, **params)
        self.field = field


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    kind: str
    subject: int
    """The id of what is reviewed, in its kind's own table."""
    applicant: int
    state: str
    submitted_at: int
    decided_at: int | None
    decided_by: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    """The file's id: ``/files/{id}``, to its owner and staff only."""
    name: str


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of a queue row: a catalogue key for its label and either user data or (with
    ``key``) a catalogue key as its value."""

    label: str
    value: str
    key: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    """How a kind describes one of its applications in the staff queue."""

    title: str
    """User data (a name, a lot title): shown as data, never translated."""
    link: str | None = None
    """A page of the subject itself, when it has one."""
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """An application as the queue and the API show it."""

    application: Application
    applicant_name: str
    applicant_phone: str
    documents: tuple[Document, ...]
    summary: Summary


@dataclass(frozen=True, slots=True)
class Step:
    """An audit row: who did what to an application, when, why."""

    application: int
    actor: int
    actor_name: str
    actor_phone: str
    action: str
    reason: str | None
    at: int


@dataclass(frozen=True, slots=True)
class Trail:
    """Every application for one subject, newest first, each with its steps in order."""

    entries: list[Entry]
    steps: dict[int, list[Step]] = field(default_factory=dict)


class Kind(abc.ABC):
    """What a kind of application tells the mechanism. Subclass, fill the class attributes,
    and ``register`` an instance when the domain's module is imported."""

    kind: ClassVar[str]
    """Stored in ``applications.kind``; also the queue's filter and the API's ``kind``."""
    label: ClassVar[str]
    """The catalogue key of the kind's name."""
    approved_sms: ClassVar[str]
    rejected_sms: ClassVar[str]
    """``hall.notify.TEMPLATES`` keys; the rejection's is given ``reason`` besides what
    ``reject`` returns."""

    async def prepare(self, reviews: Reviews, application: Application) -> object:
        """Work an approval needs outside the decision's transaction (see the module's
        docstring); its result is handed to ``approve``. Raise ``ReviewError`` to refuse."""
        return None

    @abc.abstractmethod
    async def approve(self, tx: aiosqlite.Connection, application: Application, prepared: object, *,
                      reviewer: int, now: int) -> Mapping[str, object]:  # fmt: skip
        """Approval's effects on the kind's own table, in the decision's transaction; returns
        the parameters of the SMS. Raise ``ReviewError`` to refuse."""

    @abc.abstractmethod
    async def reject(self, tx: aiosqlite.Connection, application: Application, *, reviewer: int, reason: str,
                     now: int) -> Mapping[str, object]:  # fmt: skip
        """Rejection's effects, in the decision's transaction; returns the SMS's parameters."""

    @abc.abstractmethod
    async def describe(self, reviews: Reviews, applications: Sequence[Application]) -> dict[int, Summary]:
        """The queue rows' descriptions, by application id (one query for all, not one each)."""


KINDS: Final[dict[str, Kind]] = {}
"""The registered kinds, by name."""


def register(handler: Kind) -> Kind:
    """Make a kind of application known to the mechanism (once per kind)."""
    if handler.kind in KINDS and KINDS[handler.kind] is not handler:
        raise ValueError(f"review kind {handler.kind!r} is registered already")
    KINDS[handler.kind] = handler
    return handler


def not_found() -> ReviewError:
    return ReviewError(404, "not_found", "err_no_application")


async def submit(tx: aiosqlite.Connection, *, kind: str, subject: int, applicant: int, now: int,
                 documents: Sequence[int] = ()) -> int:  # fmt: skip
    """File an application for ``subject`` inside the caller's transaction, with the ids of the
    files handed in with it; its id. The subject's first application is audited as submitted,
    any later one as resubmitted. Refused (409 ``pending``) while the subject has one pending."""
    if kind not in KINDS:
        raise KeyError(f"no review kind {kind!r} is registered")
    if await sql.has_pending(tx, kind, subject):
        raise ReviewError(409, "pending", "err_application_pending")
    again = await sql.has_any(tx, kind, subject)
    application = await sql.insert(tx, kind=kind, subject=subject, applicant=applicant, now=now, documents=documents)
    await sql.audit(tx, application, actor=applicant, action="resubmitted" if again else "submitted", reason=None,
                    now=now)  # fmt: skip
    return application


async def withdraw(tx: aiosqlite.Connection, *, kind: str, subject: int, actor: int, now: int) -> bool:
    """Take back the subject's pending application inside the caller's transaction (the
    applicant withdrew what it asks for); False when none is pending."""
    cursor = await tx.execute("UPDATE applications SET state = 'withdrawn', decided_at = ? WHERE kind = ? AND subject = ?"
                              " AND state = 'pending' RETURNING id", (now, kind, subject))  # fmt: skip
    found = await cursor.fetchone()
    await cursor.close()
    if found is None:
        return False
    await sql.audit(tx, int(found[0]), actor=actor, action="withdrawn", reason=None, now=now)
    return True


def _application(row: Sequence[object]) -> Application:
    return Application(*row[:9])  # type: ignore[arg-type]


class Reviews:
    """The mechanism's service: decisions, the queue, the audit trail, and the applicant's view.
    It holds what kinds need to act (the store, the files, the people, the runtime)."""

    def __init__(self, store: SqliteStore, files: FileStore, people: People, runtime: Runtime) -> None:
        self.store = store
        self.files = files
        self.people = people
        self.runtime = runtime
        self._lock = asyncio.Lock()

    async def discard(self, written: Sequence[Written]) -> None:
        """Remove files written for an application that was never committed."""
        for one in written:
            await self.files.discard(one)

    async def record(self, tx: aiosqlite.Connection, owner: int, written: Sequence[Written], now: int) -> list[int]:
        """Record written files in the caller's transaction; their ids."""
        return [await self.files.record(tx, owner, one, now) for one in written]

    # ------------------------------------------------------------------ deciding

    async def decide(self, application_id: int, *, reviewer: int, approve: bool, reason: str, now: int) -> Application:
        """Approve, or reject with a reason: the kind's effects, the decision, its audit row and
        the applicant's SMS in one transaction (see the module's docstring)."""
        reason = reason.strip()
        if not approve and not reason:
            raise Invalid("reason", "err_reason_required", code="reason_required")
        if len(reason) > MAX_REASON:
            raise Invalid("reason", "err_reason_too_long", n=MAX_REASON)
        async with self._lock:
            found = await self.application(application_id)
            if found is None:
                raise not_found()
            if found.applicant == reviewer:
                raise ReviewError(403, "own_application", "err_own_application")
            if found.state != PENDING:
                raise ReviewError(409, "already_decided", "err_already_decided")
            handler = KINDS[found.kind]
            prepared = await handler.prepare(self, found) if approve else None
            async with self.store.transaction() as tx:
                row = await sql.application_in(tx, application_id)
                assert row is not None
                application = _application(row)
                if application.state != PENDING:
                    raise ReviewError(409, "already_decided", "err_already_decided")
                if approve:
                    params = dict(await handler.approve(tx, application, prepared, reviewer=reviewer, now=now))
                    template = handler.approved_sms
                else:
                    params = {**await handler.reject(tx, application, reviewer=reviewer, reason=reason, now=now),
                              "reason": reason}
                    template = handler.rejected_sms
                state = APPROVED if approve else REJECTED
                await sql.decide(tx, application_id, state=state, reviewer=reviewer, reason=reason or None, now=now)
                await sql.audit(tx, application_id, actor=reviewer, action=state, reason=reason or None, now=now)
                await enqueue(tx, user=application.applicant, template=template, **params)
        decided = await self.application(application_id)
        assert decided is not None
        return decided

    # ------------------------------------------------------------------ reading

    async def application(self, application_id: int) -> Application | None:
        row = await self.store.fetchone(f"SELECT {sql.COLUMNS} FROM applications a WHERE a.id = ?", (application_id,))
        return None if row is None else _application(row)

    async def _entries(self, rows: Sequence[Sequence[object]]) -> list[Entry]:
        applications = [_application(row) for row in rows]
        documents: dict[int, list[Document]] = {}
        for application, file_id, name in await sql.documents(self.store, [a.id for a in applications]):
            documents.setdefault(application, []).append(Document(file_id, name))
        summaries: dict[int, Summary] = {}
        by_kind: dict[str, list[Application]] = {}
        for application in applications:
            by_kind.setdefault(application.kind, []).append(application)
        for kind, group in by_kind.items():
            handler = KINDS.get(kind)
            if handler is not None:
                summaries.update(await handler.describe(self, group))
        return [Entry(application=a, applicant_name=str(row[9]), applicant_phone=str(row[10]),
                      documents=tuple(documents.get(a.id, ())), summary=summaries.get(a.id, Summary(title="")))
                for a, row in zip(applications, rows, strict=True)]  # fmt: skip

    async def queue(self, *, kind: str | None, state: str | None, limit: int = QUEUE_LIMIT) -> list[Entry]:
        """Applications of a kind (any, with None) in a state (any, with None), oldest first."""
        states = None if state is None else (state,)
        return await self._entries(await sql.listed(self.store, kind=kind, states=states, limit=limit))

    async def recent(self, *, kind: str | None, limit: int = RECENT) -> list[Entry]:
        """The latest decisions, newest first."""
        return await self._entries(await sql.listed(self.store, kind=kind, states=(APPROVED, REJECTED), limit=limit,
                                                    newest_first=True))  # fmt: skip

    async def entry(self, application_id: int) -> Entry | None:
        found = await self._entries(await sql.by_ids(self.store, [application_id]))
        return found[0] if found else None

    async def trail(self, application: Application) -> Trail:
        """Every application for the same subject, newest first, with who did what, when, why."""
        entries = await self._entries(await sql.of_subject(self.store, application.kind, [application.subject]))
        trail = Trail(entries=entries)
        for row in await sql.audit_rows(self.store, [e.application.id for e in entries]):
            trail.steps.setdefault(row[0], []).append(Step(*row))
        return trail

    async def latest(self, kind: str, subjects: Sequence[int]) -> dict[int, Application]:
        """Each subject's newest application: what its applicant sees (state and reason)."""
        found: dict[int, Application] = {}
        for row in await sql.of_subject(self.store, kind, subjects):
            application = _application(row)
            found.setdefault(application.subject, application)
        return found
