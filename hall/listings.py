"""The rules of a listing (LS-1 to LS-10): what a seller fills in, what is refused and why,
whose item it is, whether it may enter the auction season, and what can happen to it next.

Pure: no database, no HTTP, no clock except the one a caller may leave to ``today()``. The
store and the pages call these functions and never restate a rule; the batch upload
(``hall.batch``) turns each sheet row into the same ``ListingDraft`` and checks it here.

Every refusal carries a stable ``code`` and a catalogue ``key`` (``hall.web.i18n.MESSAGES``)
with its ``params``, so the API, the pages and the batch report all say the same thing in
Chinese or English: a field's is a ``FieldError`` (one of a list), a whole action's the web
layer's ``Refused`` (hall/web/errors.py) with its HTTP status, which a route raises as it is.

Decisions the seeds leave open (see docs/listings.md):

- A patent is an invention patent (LS-1): its number's kind digit says invention. A granted
  patent (有效) has a grant date; an application under examination (审中) has none and may
  be listed (its right to apply can be transferred) but not enter the season; a lapsed patent
  (失效) has no right left to sell and is refused.
- Ownership (LS-4) is ``own`` only when the shop's organisation is the sole right holder. A
  co-owned patent is ``agent``: a co-owner cannot transfer it alone (Patent Law art. 14), so
  the other holders' authorisation is needed, which is exactly what ``agent`` asks for.
- The season (LS-6, LS-10) takes patents and achievements (the 2022 notice: "发明专利和面向
  产业化应用的科技成果"); the grant-date and validity rules bind patents only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Final

import msgspec

from hall.listing import ItemKind, TransactionForm
from hall.patents import LegalStatus, parse_number
from hall.registration import SHANGHAI
from hall.web.errors import Refused
from hall.web.i18n import text

TITLE_MAX: Final = 200
HOLDER_MAX: Final = 100
"""Characters of one right holder's name."""
HOLDERS_MAX: Final = 20
"""Right holders of one item, the first included."""
INVENTORS_MAX: Final = 50
PERSON_MAX: Final = 50
"""Characters of one inventor's name."""
ABSTRACT_MAX: Final = 2000
"""A patent abstract is at most 300 characters by the office's rules; an achievement's
description needs more room, but a listing is not a paper."""
FIELD_MAX: Final = 50
REGISTRATION_MAX: Final = 50
"""Characters of an achievement's registration number (科技成果登记号), which has no
national format to check."""
PRICE_MIN: Final = 1
PRICE_MAX: Final = 10**12
"""Yuan: a whole number from 1 to a trillion, far above any lot and far below int64."""

# Section A–H, two-digit class, subclass letter, main group of 1–4 digits, subgroup of 2–6.
_IPC: Final = re.compile(r"([A-H])(\d{2})([A-Z])\s*(\d{1,4})\s*/\s*(\d{2,6})")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Maturity(StrEnum):
    """How far an achievement is from production (成熟度)."""

    LAB = "lab"
    """实验室阶段."""
    BENCH = "bench"
    """小试."""
    PILOT = "pilot"
    """中试."""
    INDUSTRIAL = "industrial"
    """产业化."""


class Ownership(StrEnum):
    """LS-4: computed, never chosen."""

    OWN = "own"
    AGENT = "agent"


class ListingDraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a seller submits for one item: the API's body, a batch row, an edit.

    The types are checked where the draft is decoded; every limit and rule is checked by
    ``validate``, so that each broken field gets its own code and message. ``title`` is a
    patent's title or an achievement's name, ``abstract`` a patent's abstract or an
    achievement's description, ``number`` a patent number or an achievement's optional
    registration number. ``holder`` is the (first) right holder and ``co_holders`` the others
    of a co-owned patent.
    """

    kind: ItemKind
    title: str = ""
    number: str = ""
    holder: str = ""
    grant_date: date | None = None
    legal_status: LegalStatus | None = None
    abstract: str = ""
    forms: list[TransactionForm] = []
    start_price: int = 0
    """Whole yuan (LS-5)."""
    season: bool = False
    """Enter the auction season (LS-6); ``eligible`` decides whether it may."""
    agreement: bool = False
    """The listing agreement (《商品发布协议》) accepted (LS-2)."""
    co_holders: list[str] = []
    inventors: list[str] = []
    application_date: date | None = None
    ipc: str = ""
    field: str = ""
    maturity: Maturity | None = None

    @property
    def holders(self) -> list[str]:
        """Every right holder, the first one first."""
        return [self.holder, *self.co_holders]


_PATENT_ONLY: Final = ("inventors", "application_date", "grant_date", "ipc", "legal_status")
_ACHIEVEMENT_ONLY: Final = ("field", "maturity")

_LABELS: Final[dict[str, str]] = {
    "kind": "item_kind", "holder": "holder", "co_holders": "listing_f_co_holders", "forms": "transaction_form",
    "start_price": "start_price", "season": "listing_f_season", "agreement": "listing_f_agreement",
    "inventors": "listing_f_inventors", "application_date": "listing_f_application_date",
    "grant_date": "listing_f_grant_date", "ipc": "listing_f_ipc", "legal_status": "listing_f_legal_status",
    "field": "listing_f_field", "maturity": "listing_f_maturity",
}  # fmt: skip


def field_key(kind: ItemKind, field: str) -> str:
    """The catalogue key naming ``field`` of a ``kind`` draft (the batch's column headers too)."""
    if field in ("title", "number", "abstract"):
        return f"listing_f_{field}_{kind.value}"
    return _LABELS[field]


def choice_key(value: StrEnum) -> str:
    """The catalogue key of a fixed value's label: ``form_transfer``, ``legal_status_valid``…"""
    prefix = {TransactionForm: "form", LegalStatus: "legal_status", Maturity: "maturity", ItemKind: "kind",
              Ownership: "ownership"}[type(value)]  # fmt: skip
    return f"{prefix}_{value.value}"


class FieldError(msgspec.Struct, frozen=True):
    """One field refused: which, a stable code, the catalogue key of the message and its
    parameters."""

    field: str
    code: str
    key: str
    params: dict[str, str | int] = {}

    def message(self, lang: str = "zh") -> str:
        return text(self.key, lang, self.params)


def today() -> date:
    """The calendar day in Beijing, which is the day a grant date is compared with."""
    return datetime.now(SHANGHAI).date()


def name_key(name: str) -> str:
    """A name as compared: full-width forms folded (NFKC), case and every space ignored, so
    that ``南京大学``, ``南京 大学`` and ``南京大学\u3000`` are one organisation."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(folded.split())


def canonical_ipc(text: str) -> str | None:
    """An IPC class as ``G06F 16/00``, or None when ``text`` is not one."""
    match = _IPC.fullmatch(unicodedata.normalize("NFKC", text).strip().upper())
    if match is None:
        return None
    section, klass, subclass, group, subgroup = match.groups()
    return f"{section}{klass}{subclass} {int(group)}/{subgroup}"


def normalise(draft: ListingDraft) -> ListingDraft:
    """The draft as it is stored: text stripped, empty list entries dropped, a patent number
    in its canonical ``ZL…`` form and an IPC class as ``G06F 16/00`` when they parse (when
    they do not, they are left for ``validate`` to refuse)."""
    number = draft.number.strip()
    if draft.kind is ItemKind.PATENT and (parsed := parse_number(number)) is not None:
        number = parsed.text
    ipc = draft.ipc.strip()
    return msgspec.structs.replace(
        draft, title=draft.title.strip(), number=number, holder=draft.holder.strip(), abstract=draft.abstract.strip(),
        co_holders=[h.strip() for h in draft.co_holders if h.strip()],
        inventors=[p.strip() for p in draft.inventors if p.strip()],
        ipc=canonical_ipc(ipc) or ipc, field=draft.field.strip(),
    )  # fmt: skip


def field_error(field: str, code: str, params: dict[str, str | int] | None = None) -> FieldError:
    """A field refused with one of the shared ``listing_<code>`` messages (required, too long…):
    the demands' drafts (hall/demand_posting.py) say them too."""
    return FieldError(field, code, f"listing_{code}", params or {})


def check_text(errors: list[FieldError], field: str, value: str, limit: int, required: bool) -> None:
    """A free-text field: present when ``required``, at most ``limit`` characters, no control characters."""
    if not value.strip():
        if required:
            errors.append(field_error(field, "required"))
    elif len(value) > limit:
        errors.append(field_error(field, "too_long", {"max": limit}))
    elif _CONTROL.search(value):
        errors.append(field_error(field, "bad_text"))


def _names(errors: list[FieldError], field: str, names: Sequence[str], count: int, limit: int) -> None:
    if len(names) > count:
        errors.append(field_error(field, "too_many", {"max": count}))
        return
    seen: set[str] = set()
    for name in names:
        check_text(errors, field, name, limit, required=True)
        if name_key(name) in seen:
            errors.append(field_error(field, "duplicate", {"value": name}))
        seen.add(name_key(name))


def validate(draft: ListingDraft, *, on: date | None = None) -> list[FieldError]:
    """Every way ``draft`` breaks the listing rules, in field order; empty when it may be
    submitted. ``on`` is the day dates are compared with (Beijing's today by default).
    Call it on ``normalise(draft)``: the checks ignore surrounding spaces either way."""
    day = on or today()
    errors: list[FieldError] = []
    patent = draft.kind is ItemKind.PATENT
    check_text(errors, "title", draft.title, TITLE_MAX, required=True)
    if patent:
        number = parse_number(draft.number)
        if not draft.number.strip():
            errors.append(field_error("number", "required"))
        elif number is None:
            errors.append(field_error("number", "bad_number"))
        elif not number.invention:  # LS-1: invention patents only
            errors.append(field_error("number", "not_invention"))
    else:
        number = None
        check_text(errors, "number", draft.number, REGISTRATION_MAX, required=False)
    check_text(errors, "holder", draft.holder, HOLDER_MAX, required=True)
    _names(errors, "co_holders", draft.co_holders, HOLDERS_MAX - 1, HOLDER_MAX)
    if name_key(draft.holder) in {name_key(h) for h in draft.co_holders}:
        errors.append(field_error("co_holders", "duplicate", {"value": draft.holder}))
    if patent:
        if not draft.inventors:
            errors.append(field_error("inventors", "required"))
        _names(errors, "inventors", draft.inventors, INVENTORS_MAX, PERSON_MAX)
        _patent_dates(errors, draft, day, number.year if number else None)
        if not draft.ipc.strip():
            errors.append(field_error("ipc", "required"))
        elif canonical_ipc(draft.ipc) is None:
            errors.append(field_error("ipc", "bad_ipc"))
    else:
        check_text(errors, "field", draft.field, FIELD_MAX, required=True)
        if draft.maturity is None:
            errors.append(field_error("maturity", "required"))
    check_text(errors, "abstract", draft.abstract, ABSTRACT_MAX, required=True)
    if not draft.forms:
        errors.append(field_error("forms", "required"))
    elif len(set(draft.forms)) != len(draft.forms):
        errors.append(FieldError("forms", "duplicate", "listing_duplicate_form"))
    if not PRICE_MIN <= draft.start_price <= PRICE_MAX:
        errors.append(field_error("start_price", "price_range", {"min": PRICE_MIN, "max": PRICE_MAX}))
    if not draft.agreement:
        errors.append(field_error("agreement", "agreement_required"))
    for field in _ACHIEVEMENT_ONLY if patent else _PATENT_ONLY:
        if getattr(draft, field) not in ("", None, []):
            errors.append(field_error(field, "not_for_kind"))
    return errors


def _patent_dates(errors: list[FieldError], draft: ListingDraft, day: date, filed: int | None) -> None:
    applied, granted = draft.application_date, draft.grant_date
    if applied is None:
        errors.append(field_error("application_date", "required"))
    elif applied > day:
        errors.append(field_error("application_date", "future_date"))
    elif filed is not None and applied.year != filed:  # the number names the filing year
        errors.append(field_error("application_date", "application_year", {"year": filed}))
    match draft.legal_status:
        case None:
            errors.append(field_error("legal_status", "required"))
        case LegalStatus.LAPSED:
            errors.append(field_error("legal_status", "lapsed"))
        case LegalStatus.PENDING if granted is not None:
            errors.append(field_error("grant_date", "grant_date_pending"))
        case LegalStatus.VALID if granted is None:
            errors.append(field_error("grant_date", "required"))
    if granted is not None and granted > day:
        errors.append(field_error("grant_date", "future_date"))
    elif granted is not None and applied is not None and granted < applied:
        errors.append(field_error("grant_date", "grant_before_application"))


# ---------------------------------------------------------------------- ownership (LS-4)


def ownership(holders: Sequence[str], org_name: str) -> Ownership:
    """LS-4: ``own`` when the shop's organisation is the item's only right holder (names
    compared by ``name_key``), else ``agent``. Pass ``draft.holders``."""
    keys = {name_key(h) for h in holders if h.strip()}
    return Ownership.OWN if keys == {name_key(org_name)} and org_name.strip() else Ownership.AGENT


def needs_authorisation(owned: Ownership) -> bool:
    """LS-4: an ``agent`` listing is accepted only with the right holders' authorisation
    document (授权委托书); the store refuses to submit one without it."""
    return owned is Ownership.AGENT


# ---------------------------------------------------------------------- the season (LS-6, LS-10)

SEASON_ORG_KINDS: Final = ("university", "institute", "soe")
"""LS-6: the organisation kinds (``hall.reviews.verifications.ORG_KINDS``) whose own items may enter."""
SEASON_MAX_PER_ORG: Final = 50
"""LS-10: items one organisation recommends per season."""


class SeasonRules(msgspec.Struct, frozen=True, kw_only=True):
    """One auction season's entry rules, kept as data with the season so that a later season
    can change them without a release."""

    year: int
    granted_from: date
    """A patent must be granted on or after this day (LS-10: the last three years)."""
    org_kinds: tuple[str, ...] = SEASON_ORG_KINDS
    max_per_org: int = SEASON_MAX_PER_ORG
    kinds: tuple[ItemKind, ...] = (ItemKind.PATENT, ItemKind.ACHIEVEMENT)

    @classmethod
    def for_year(cls, year: int) -> SeasonRules:
        """The rules of the seeds: the 2022 season took patents granted from 1 January 2019."""
        return cls(year=year, granted_from=date(year - 3, 1, 1))


def eligible(
    draft: ListingDraft, owned: Ownership, org_kind: str, rules: SeasonRules, already_entered: int
) -> Refused | None:
    """Why ``draft`` may not enter the season, or None when it may. ``draft`` is one that
    ``validate`` accepted; ``already_entered`` counts the organisation's other items in the
    season. ``not_eligible`` names the rule in its key; ``org_limit`` is the item past the
    organisation's quota."""

    def refuse(reason: str, **params: str | int) -> Refused:
        return Refused(409, "not_eligible", f"season_{reason}", params)

    if draft.kind not in rules.kinds:
        return refuse("kind")
    if org_kind not in rules.org_kinds:
        return refuse("org_kind")
    if owned is not Ownership.OWN:
        return refuse("not_own")
    if draft.kind is ItemKind.PATENT:
        if draft.legal_status is not LegalStatus.VALID or draft.grant_date is None:
            return refuse("not_valid")
        if draft.grant_date < rules.granted_from:
            return refuse("granted_before", date=rules.granted_from.isoformat())
    if already_entered >= rules.max_per_org:
        return Refused(409, "org_limit", "season_org_limit", {"max": rules.max_per_org})
    return None


# ---------------------------------------------------------------------- states (LS-7, LS-9)


class ListingState(StrEnum):
    PENDING = "pending"
    """Submitted, awaiting review (LS-7)."""
    REJECTED = "rejected"
    LISTED = "listed"
    DELISTED = "delisted"
    IN_SESSION = "in_session"
    """A lot of an auction session (LS-9: no longer delistable)."""
    SOLD = "sold"
    UNSOLD = "unsold"


class ListingAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RESUBMIT = "resubmit"
    """Edit and submit again (LS-7, LS-9)."""
    DELIST = "delist"
    ENTER_SESSION = "enter_session"
    """Staff add the item to a session as a lot."""
    LEAVE_SESSION = "leave_session"
    """Staff take it out of a session before publishing (a withdrawn lot did not sell: ``no_sale``)."""
    SELL = "sell"
    """Its lot closed sold, or staff recorded a deal reached outside the hall (AU-11,
    hall/offline_deals.py) for an item listed or left unsold: never for one a session holds."""
    NO_SALE = "no_sale"
    RELIST = "relist"
    """The buyer defaulted on the deal (hall/deals.py): the item is listed again, as approved."""


_S, _A = ListingState, ListingAction
TRANSITIONS: Final[dict[tuple[ListingState, ListingAction], ListingState]] = {
    (_S.PENDING, _A.APPROVE): _S.LISTED,
    (_S.PENDING, _A.REJECT): _S.REJECTED,
    (_S.REJECTED, _A.RESUBMIT): _S.PENDING,
    (_S.DELISTED, _A.RESUBMIT): _S.PENDING,
    (_S.LISTED, _A.DELIST): _S.DELISTED,
    (_S.UNSOLD, _A.DELIST): _S.DELISTED,
    (_S.LISTED, _A.ENTER_SESSION): _S.IN_SESSION,
    (_S.UNSOLD, _A.ENTER_SESSION): _S.IN_SESSION,
    (_S.IN_SESSION, _A.LEAVE_SESSION): _S.LISTED,
    (_S.IN_SESSION, _A.SELL): _S.SOLD,
    (_S.LISTED, _A.SELL): _S.SOLD,
    (_S.UNSOLD, _A.SELL): _S.SOLD,
    (_S.IN_SESSION, _A.NO_SALE): _S.UNSOLD,
    (_S.SOLD, _A.RELIST): _S.LISTED,
}
"""Every move a listing can make; anything else is refused."""

SELLER_ACTIONS: Final = (ListingAction.RESUBMIT, ListingAction.DELIST)
STAFF_ACTIONS: Final = (ListingAction.APPROVE, ListingAction.REJECT, ListingAction.ENTER_SESSION,
                        ListingAction.LEAVE_SESSION)  # fmt: skip


def can(state: ListingState, action: ListingAction) -> bool:
    return (state, action) in TRANSITIONS


def after(state: ListingState, action: ListingAction) -> ListingState:
    """The state ``action`` leads to; ``ValueError`` when ``can`` says no."""
    try:
        return TRANSITIONS[state, action]
    except KeyError:
        raise ValueError(f"{action.value} is not possible from {state.value}") from None


def refusal(state: ListingState, action: ListingAction) -> Refused | None:
    """Why ``action`` is refused in ``state``, or None: ``in_auction`` for delisting an item a
    session holds (LS-9), ``bad_state`` for any other move the table lacks."""
    if can(state, action):
        return None
    if action is ListingAction.DELIST and state is ListingState.IN_SESSION:
        return Refused(409, "in_auction", "listing_in_auction")
    return Refused(409, "bad_state", "listing_bad_state")


def next_actions(state: ListingState, allowed: Sequence[ListingAction] = SELLER_ACTIONS) -> list[ListingAction]:
    """What one party can do next in ``state`` (the seller by default): the seller centre's
    buttons."""
    return [action for action in allowed if can(state, action)]
