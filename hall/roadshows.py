"""Roadshows (CR-10's compete and award stages) and the staff's picks for the hot lists.

Staff schedule a roadshow for a published demand — a title, a Beijing time and a place — and
invite responders: responses of the demand's current round. Each invited solver gets an SMS
with the time and the place (and, through the dispatcher, the same words in its inbox). Staff
record each expert's comment and score (0–100) of each invited response, then mark the winners
(the award): winners get an SMS, the other invited solvers an inbox-only notice. An awarded
roadshow is final: no score or award changes it, and no other roadshow is scheduled for that
round of the demand.

Who sees what is decided in one place, ``Seat``: staff and the demand's side and agency
(``hall.demands.sees_private``) see every roadshow of the demand with every invitation, score
and winner; an invited solver sees the roadshows it is invited to with its own invitations,
scores and results only, never another solver's; everyone else sees nothing of a roadshow but,
once one is awarded, that the demand was awarded (``awarded_at``). A demand's hidden enterprise
name (CR-4) is left out for whoever ``shown_fields`` says may not see it.

Picks (置顶推荐): staff give a published demand a rank (1 first; 0 clears it). The hot lists put
picked demands first (``hall.store.roadshows.PICKED_FIRST``).

The clock is a parameter (``now``); the web layer passes the runtime's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final

import aiosqlite
import msgspec

from hall import notify
from hall.auctions import Instant, RowId, ms
from hall.auth.roles import Identity
from hall.demands import DemandState, Relation, sees_private
from hall.refusal import Refusal
from hall.registration import SHANGHAI
from hall.store import roadshows as sql
from hall.store.demands import DemandRow, by_ids, demand_access, demand_in
from hall.store.demands import demand as read_demand
from hall.store.roadshows import InviteRow, RoadshowRow, ScoreRow
from hall.store.sqlite import SqliteStore
from hall.web.errors import Refused
from hall.web.templating import iso

TITLE_MAX: Final = 100
PLACE_MAX: Final = 200
EXPERT_MAX: Final = 50
COMMENT_MAX: Final = 1000
SCORE_MAX: Final = 100
INVITES_MAX: Final = 20
"""Responses one roadshow invites (one afternoon's presentations)."""
SCORES_MAX: Final = 400
"""Scores one roadshow holds: 20 experts for each of 20 invited responses."""
PICK_MAX: Final = 999
PAGE: Final = 20
"""Roadshows (or demands, on the picks list) one page of a list shows."""
CHOICES_MAX: Final = 200
"""Responses the scheduling form offers (the oldest of the round first)."""

class RoadshowState(StrEnum):
    SCHEDULED = "scheduled"
    """Invitations sent; scores are recorded once it has begun."""
    AWARDED = "awarded"
    """Winners marked: final."""


class RoadshowError(Refusal):
    """A refusal of a roadshow or pick action (status, stable code, catalogue key)."""


def _no_roadshow() -> RoadshowError:
    return RoadshowError(404, "not_found", "crowd_d_err_no_roadshow")


def _no_demand() -> RoadshowError:
    return RoadshowError(404, "not_found", "crowd_a_not_found")


# ---------------------------------------------------------------------- the wire


class RoadshowDraft(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A roadshow to schedule: the API's body, and what the staff's form is turned into."""

    demand: RowId
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=r"\S")]
    starts_at: Instant
    place: Annotated[str, msgspec.Meta(min_length=1, max_length=PLACE_MAX, pattern=r"\S")]
    responses: Annotated[list[RowId], msgspec.Meta(min_length=1, max_length=INVITES_MAX)]
    """The invited responses: of the demand's current round, each once."""


class ScoreBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One expert's score and comment of one invited response; the same expert again replaces it."""

    response: RowId
    expert: Annotated[str, msgspec.Meta(min_length=1, max_length=EXPERT_MAX, pattern=r"\S")]
    score: Annotated[int, msgspec.Meta(ge=0, le=SCORE_MAX)]
    comment: Annotated[str, msgspec.Meta(max_length=COMMENT_MAX)] = ""


class AwardBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    winners: Annotated[list[RowId], msgspec.Meta(min_length=1, max_length=INVITES_MAX)]
    """Invited responses; the others invited are told they did not win."""


class PickBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pick: Annotated[int, msgspec.Meta(ge=0, le=PICK_MAX)]
    """The rank on the hot lists, 1 first; 0 takes the demand off the picks."""


class DemandBrief(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    number: str | None
    title: str
    state: DemandState
    round: int
    enterprise: str | None = None
    """Left out when the demand side hid it (CR-4) from a caller who may not see it."""


class ScoreOut(msgspec.Struct, kw_only=True):
    id: int
    response: int
    expert: str
    score: int
    comment: str
    recorded_at: str


class InviteOut(msgspec.Struct, kw_only=True):
    response: int
    solver: str
    """The solver's organisation, else its name."""
    winner: bool
    average: float | None
    """The mean of its scores to one decimal, None before any."""
    scores: list[ScoreOut]


class RoadshowOut(msgspec.Struct, kw_only=True):
    id: int
    demand: DemandBrief
    round: int
    title: str
    starts_at: str
    place: str
    state: RoadshowState
    awarded_at: str | None
    invites: list[InviteOut]
    """Every invitation for staff and the demand's side and agency; an invited solver's own only."""


class DemandRoadshows(msgspec.Struct, kw_only=True):
    """A demand's roadshows as the caller may see them; the public learns only ``awarded``."""

    demand: int
    awarded: bool
    awarded_at: str | None
    roadshows: list[RoadshowOut]


class PickOut(msgspec.Struct, kw_only=True):
    demand: int
    number: str | None
    title: str
    industry: str
    pick: int


# ---------------------------------------------------------------------- who sees what


@dataclass(frozen=True, slots=True)
class Seat:
    """Where one caller stands towards one demand's roadshows: the one permission check of this
    piece. ``own`` are the caller's responses to the demand (a solver's)."""

    demand: DemandRow
    relation: Relation
    own: frozenset[int]

    @property
    def full(self) -> bool:
        """Staff, the demand's side and its agency: every invitation, score and winner."""
        return sees_private(self.relation)

    def shown(self, invites: Sequence[InviteRow]) -> list[InviteRow]:
        """The invitations of one roadshow this caller sees: all, its own, or none."""
        return list(invites) if self.full else [i for i in invites if i.response in self.own]

    def brief(self) -> DemandBrief:
        d = self.demand
        hidden = d.withheld(self.relation)
        return DemandBrief(id=d.id, number=d.number, title=d.title, state=d.state, round=d.round,
                           enterprise=None if "enterprise" in hidden else d.enterprise_name)  # fmt: skip


async def seat(store: SqliteStore, demand_id: int, me: Identity | None) -> Seat:
    """The caller's seat at the demand's roadshows; 404 for a demand that does not exist or that
    it may not see (``demand_access``: one never published is its side's, agency's and staff's
    only). What is this piece's own: an invited solver's responses, which it sees the
    invitations and scores of."""
    try:
        demand, who = await demand_access(store, demand_id, me)
    except Refused:
        raise _no_demand() from None
    own = await sql.own_responses(store, demand.id, me.id) if me is not None and not sees_private(who) else frozenset()
    return Seat(demand, who, own)


def beijing(ms_: int) -> str:
    """An instant as an SMS writes it: Beijing time to the minute."""
    return dt.datetime.fromtimestamp(ms_ / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _average(scores: Sequence[ScoreRow]) -> float | None:
    return round(sum(s.score for s in scores) / len(scores), 1) if scores else None


async def views(store: SqliteStore, seat_: Seat, rows: Sequence[RoadshowRow]) -> list[RoadshowOut]:
    """The roadshows of one demand as ``seat_`` sees them: those it sees nothing of left out."""
    invited: dict[int, list[InviteRow]] = {}
    for invite in await sql.invites(store, [r.id for r in rows]):
        invited.setdefault(invite.roadshow, []).append(invite)
    shown = {r.id: seat_.shown(invited.get(r.id, [])) for r in rows}
    visible = [r for r in rows if seat_.full or shown[r.id]]
    scored: dict[tuple[int, int], list[ScoreRow]] = {}
    for s in await sql.scores(store, [r.id for r in visible]):
        scored.setdefault((s.roadshow, s.response), []).append(s)
    brief = seat_.brief()
    return [RoadshowOut(
        id=r.id, demand=brief, round=r.round, title=r.title, starts_at=iso(r.starts_at) or "", place=r.place,
        state=RoadshowState(r.state), awarded_at=iso(r.awarded_at),
        invites=[InviteOut(response=i.response, solver=i.solver_name,
                           winner=i.winner, average=_average(scored.get((r.id, i.response), [])),
                           scores=[ScoreOut(id=s.id, response=s.response, expert=s.expert, score=s.score,
                                            comment=s.comment, recorded_at=iso(s.created_at) or "")
                                   for s in scored.get((r.id, i.response), [])])
                 for i in shown[r.id]],
    ) for r in visible]  # fmt: skip


async def of_demand(store: SqliteStore, demand_id: int, me: Identity | None) -> tuple[Seat, DemandRoadshows]:
    """The demand's roadshows as ``me`` may see them (``Seat``), newest first."""
    seat_ = await seat(store, demand_id, me)
    rows = await sql.roadshows(store, demand_id=demand_id, limit=PAGE * 5, offset=0) \
        if seat_.full or seat_.own else []  # fmt: skip
    awarded = await sql.awarded_at(store, demand_id)
    return seat_, DemandRoadshows(demand=demand_id, awarded=awarded is not None, awarded_at=iso(awarded),
                                  roadshows=await views(store, seat_, rows))  # fmt: skip


async def roadshow_of(store: SqliteStore, roadshow_id: int, me: Identity | None) -> tuple[Seat, RoadshowOut]:
    """One roadshow, to those who see it (``Seat``); 404 to everyone else, as for none."""
    row = await sql.roadshow(store, roadshow_id)
    if row is None:
        raise _no_roadshow()
    try:
        seat_ = await seat(store, row.demand, me)
    except RoadshowError:
        raise _no_roadshow() from None
    found = await views(store, seat_, [row])
    if not found:
        raise _no_roadshow()
    return seat_, found[0]


async def listed(store: SqliteStore, *, demand_id: int | None, page: int) -> list[RoadshowOut]:
    """Every roadshow, newest first (only ``demand_id``'s when given), as staff see them: for
    the staff's routes only (the permission table lets no one else call them)."""
    rows = await sql.roadshows(store, demand_id=demand_id, limit=PAGE, offset=(page - 1) * PAGE)
    demands = await by_ids(store, list({r.demand for r in rows}))
    out: list[RoadshowOut] = []
    for r in rows:
        out += await views(store, Seat(demands[r.demand], Relation.STAFF, frozenset()), [r])
    return out


# ---------------------------------------------------------------------- staff's actions


async def schedule(store: SqliteStore, draft: RoadshowDraft, *, staff: int, now: int) -> int:
    """Schedule a roadshow for a published demand with its invited responses (of the demand's
    current round), and tell each invited solver the time and the place by SMS; its id."""
    starts_at = ms(draft.starts_at)
    if starts_at <= now:
        raise RoadshowError(400, "in_the_past", "crowd_d_err_in_the_past")
    invited = list(dict.fromkeys(draft.responses))
    if len(invited) != len(draft.responses):
        raise RoadshowError(400, "duplicate_response", "crowd_d_err_duplicate")
    async with store.transaction() as tx:
        demand = await demand_in(tx, draft.demand)
        if demand is None:
            raise _no_demand()
        if demand.state is not DemandState.PUBLISHED:
            raise RoadshowError(409, "not_published", "crowd_d_err_not_published")
        if await sql.round_awarded(tx, demand.id, demand.round):
            raise RoadshowError(409, "already_awarded", "crowd_d_err_already_awarded")
        solvers = await sql.invitable(tx, demand.id, demand.round, invited)
        if len(solvers) != len(invited):
            raise RoadshowError(400, "not_invitable", "crowd_d_err_not_invitable")
        title, place = draft.title.strip(), draft.place.strip()
        roadshow_id = await sql.add_roadshow(tx, demand=demand, title=title, starts_at=starts_at, place=place,
                                             responses=invited, by=staff, now=now)  # fmt: skip
        for solver in dict.fromkeys(solvers[r] for r in invited):
            await notify.enqueue(tx, user=solver, template="roadshow_invited", demand=demand.title, title=title,
                                 when=beijing(starts_at), place=place)  # fmt: skip
    return roadshow_id


async def _scheduled(tx: aiosqlite.Connection, roadshow_id: int, now: int) -> RoadshowRow:
    """The roadshow inside a write, refused unless scores and the award may still change it."""
    row = await sql.roadshow(tx, roadshow_id)
    if row is None:
        raise _no_roadshow()
    if row.state == RoadshowState.AWARDED:
        raise RoadshowError(409, "awarded", "crowd_d_err_awarded")
    if now < row.starts_at:
        raise RoadshowError(409, "not_started", "crowd_d_err_not_started")
    return row


async def record_score(store: SqliteStore, roadshow_id: int, body: ScoreBody, *, staff: int, now: int) -> int:
    """Record an expert's score and comment of an invited response (the same expert scoring it
    again replaces the earlier one) once the roadshow has begun and until its award; the score's id."""
    async with store.transaction() as tx:
        await _scheduled(tx, roadshow_id, now)
        if body.response not in {i.response for i in await sql.invites(tx, [roadshow_id])}:
            raise RoadshowError(400, "not_invited", "crowd_d_err_not_invited")
        expert = body.expert.strip()
        score_id, new = await sql.put_score(tx, roadshow_id=roadshow_id, response=body.response, expert=expert,
                                            score=body.score, comment=body.comment.strip(), by=staff, now=now)  # fmt: skip
        if new and await sql.score_count(tx, roadshow_id) > SCORES_MAX:
            raise RoadshowError(409, "too_many_scores", "crowd_d_err_too_many_scores", n=SCORES_MAX)
    return score_id


async def award(store: SqliteStore, roadshow_id: int, winners: Sequence[int], *, now: int) -> None:
    """Mark the winners among the invited responses: final. Winners' solvers get an SMS, the
    other invited solvers an inbox-only notice (a solver with a winning response only the SMS)."""
    chosen = set(winners)
    async with store.transaction() as tx:
        row = await _scheduled(tx, roadshow_id, now)
        invites = await sql.invites(tx, [roadshow_id])
        if not chosen <= {i.response for i in invites}:
            raise RoadshowError(400, "not_invited", "crowd_d_err_not_invited")
        demand = await demand_in(tx, row.demand)
        assert demand is not None
        await sql.award(tx, roadshow_id, sorted(chosen), now)
        won = list(dict.fromkeys(i.solver for i in invites if i.response in chosen))
        for solver in won:
            await notify.enqueue(tx, user=solver, template="roadshow_won", demand=demand.title, title=row.title)
        for solver in dict.fromkeys(i.solver for i in invites if i.solver not in won):
            await notify.notice(tx, user=solver, template="roadshow_not_won", now=now, demand=demand.title,
                                title=row.title)  # fmt: skip


async def pick(store: SqliteStore, demand_id: int, rank: int, *, now: int) -> DemandRow:
    """Give a published demand its rank on the hot lists (1 first), or take it off (0, in any
    state); the demand as it is then."""
    async with store.transaction() as tx:
        demand = await demand_in(tx, demand_id)
        if demand is None:
            raise _no_demand()
        if rank and demand.state is not DemandState.PUBLISHED:
            raise RoadshowError(409, "not_published", "crowd_d_err_not_published")
        await sql.set_pick(tx, demand_id, rank, now)
    found = await read_demand(store, demand_id)
    assert found is not None
    return found


def pick_out(demand: DemandRow) -> PickOut:
    return PickOut(demand=demand.id, number=demand.number, title=demand.title, industry=demand.industry,
                   pick=demand.pick)  # fmt: skip
