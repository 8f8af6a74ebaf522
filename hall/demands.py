"""The rules of research crowdsourcing (CR-1 to CR-12) that every part of it shares: what a
demand is, who stands where towards it, what the public may not see, how its number is made,
and the windows that open and close responses and selection.

Pure: no database, no HTTP; the clock is a parameter (ms since the epoch), so the windows are
tested with a fake one. The store (``hall/store/demands.py``), the pages and the API call these
functions and never restate a rule.

Who stands where (CR-1, CR-2): a demand's *side* is its enterprise — the account that posted it,
or for which an entrusted transfer organisation posted it, and the accounts of the same
organisation. The *agency* is that transfer organisation's accounts. Staff review everything.
Everyone else is the public (solvers included), who see a published demand without its hidden
fields (CR-4) and never another solver's response.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from hall.auth.roles import Identity, Role
from hall.registration import SHANGHAI

DAY_MS: Final = 86_400_000
SELECTION_DAYS: Final = 14
"""CR-7: selection closes 2 weeks after the response deadline."""
QUALIFYING_FEE: Final = 200_000
"""CR-12: a service fee (yuan) at or above this qualifies the deal for project support."""
NUMBER_PREFIX: Final = "ZB"


class Cooperation(StrEnum):
    """CR-4: how the enterprise means to work with the solver."""

    TRANSFER = "transfer"
    LICENCE = "licence"
    JOINT_DEVELOPMENT = "joint_development"
    COMMISSIONED_DEVELOPMENT = "commissioned_development"
    EQUITY = "equity"


class ServiceMode(StrEnum):
    """CR-3: the service mode the demand names. Only ``cooperation`` (合作服务) is an open call:
    solvers respond with solutions. Under ``commissioned`` (委托服务) the transfer organisation
    finds the solution itself; the public may still consult (ask through messages)."""

    COOPERATION = "cooperation"
    COMMISSIONED = "commissioned"


class DemandState(StrEnum):
    PENDING = "pending"
    """In staff review (a new demand, an edit after a rejection, or a restart)."""
    REJECTED = "rejected"
    """Staff refused it with a reason; the demand side edits and resubmits."""
    PUBLISHED = "published"
    """Numbered and public: taking responses until its deadline, selection until 2 weeks after."""
    RESOLVED = "resolved"
    """CR-8: the flow ended with a solution (and, for an agency, its service fee)."""
    UNRESOLVED = "unresolved"
    """CR-8: the round ended without a solution after its deadline; edit and restart."""
    WITHDRAWN = "withdrawn"
    """Taken back by its side before publication."""


class Relation(StrEnum):
    """Where an account stands towards one demand; decides what it sees and may do."""

    STAFF = "staff"
    SIDE = "side"
    AGENCY = "agency"
    PUBLIC = "public"


HIDEABLE: Final = ("enterprise", "investment", "contact", "manager", "requirements")
"""CR-4: the fields the demand side may hide from the public. ``enterprise`` is the company's
name, ``contact`` the contact's name and phone together."""
PRIVATE_RELATIONS: Final = frozenset({Relation.STAFF, Relation.SIDE, Relation.AGENCY})
"""Those who see every field and every response of a demand."""


def relation(me: Identity | None, *, enterprise: int, enterprise_org: int | None,
             agency_org: int | None) -> Relation:  # fmt: skip
    """``me``'s relation to a demand of ``enterprise`` (its organisation) worked by ``agency_org``.
    Staff first: a staff member is never treated as a party, even of a demand they could see."""
    if me is None:
        return Relation.PUBLIC
    if me.has(Role.STAFF):
        return Relation.STAFF
    if me.id == enterprise or (enterprise_org is not None and me.org == enterprise_org):
        return Relation.SIDE
    if agency_org is not None and me.org == agency_org:
        return Relation.AGENCY
    return Relation.PUBLIC


def sees_private(who: Relation) -> bool:
    """Whether ``who`` sees hidden fields, responses and the service log."""
    return who in PRIVATE_RELATIONS


def shown_fields(who: Relation, hidden: Iterable[str]) -> frozenset[str]:
    """The hideable fields ``who`` must not be shown: none for the private relations, the
    demand side's choice for everyone else."""
    return frozenset() if sees_private(who) else frozenset(hidden) & frozenset(HIDEABLE)


def number(year: int, sequence: int) -> str:
    """CR-3: ``ZB`` + year + a 4-digit sequence, ``ZB20260001``."""
    return f"{NUMBER_PREFIX}{year}{sequence:04d}"


def beijing_year(ms: int) -> int:
    """The Beijing calendar year of an instant: the year of a number given then."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).year


def day_end(day: date) -> int:
    """The instant (ms) a Beijing day ends: a deadline day is open to its last moment."""
    start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return int(start.timestamp() * 1000)


def selection_closes(response_deadline: date) -> int:
    """CR-7: the instant selection closes, 2 weeks after the response deadline's end."""
    return day_end(response_deadline) + SELECTION_DAYS * DAY_MS


def takes_responses(state: DemandState, mode: ServiceMode, response_deadline: date, *,
                    adopted_at: int | None, now: int) -> bool:  # fmt: skip
    """CR-5, CR-7: a published open-call demand takes responses until its deadline ends,
    unless a solution was adopted before the deadline."""
    return (state is DemandState.PUBLISHED and mode is ServiceMode.COOPERATION
            and now < day_end(response_deadline) and adopted_at is None)  # fmt: skip


def may_adopt(state: DemandState, response_deadline: date, *, adopted_at: int | None, now: int) -> bool:
    """CR-7: adoption is possible at any time while published, until selection closes, once."""
    return state is DemandState.PUBLISHED and adopted_at is None and now < selection_closes(response_deadline)


def qualifies(fee: int | None) -> bool:
    """CR-12."""
    return fee is not None and fee >= QUALIFYING_FEE


def topic_text(title: str, description: str, requirements: str, hidden: Iterable[str]) -> tuple[str, str]:
    """What a demand is about, as the public may read it: (its title, its description and
    technical requirements unless hidden). Matching ranks on this alone: the names a demand
    also shows (its enterprise, manager, contact) say who asks, not what is asked, and would
    match solvers that merely share a place name such as 南京."""
    parts = [description]
    if "requirements" not in set(hidden) and requirements:
        parts.append(requirements)
    return title, "\n".join(parts)
