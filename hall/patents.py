"""Patents (LS-3, LS-10): their numbers, their particulars, and the sources the hall looks them up in.

A patent's application number names the filing year and the kind of patent, and ends in a
check digit, so a mistyped number is caught before anything is looked up or listed:

- since 1 October 2003: ``YYYY`` ``T`` ``NNNNNNN`` then ``.C`` (12 digits and a check), e.g.
  ``ZL202110123456.7``;
- before: ``YY`` ``T`` ``NNNNN`` then ``.C`` (8 digits and a check), e.g. ``ZL99112345.X``.

``T`` is the kind: 1 invention, 2 utility model, 3 design, 8 an international (PCT)
invention application entering China, 9 a PCT utility model. The check digit is the sum of the
digits weighted 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 (left to right), modulo 11, with 10 written
``X``. A granted patent's number is its application number after ``ZL`` (专利); people also
write ``CN``, spaces, a full-width dot or no dot, all of which are read the same.

A ``Patent`` is what a lookup fills a listing with; ``make_patent`` is the one judge of its
particulars, wherever they come from. A ``PatentSource`` answers lookups: the local catalogue
(``hall.store.patents``, imported by ``hall patents import``) or an outside patent information
service (``HttpPatentSource``); ``patent_source`` picks one from the settings. Nothing here
knows HTTP routes or SQL.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Final, Protocol
from urllib.parse import quote, urlsplit

import httpx2
import msgspec

from hall.cells import cell_date, cell_text
from hall.web.errors import Refused
from hall.web.i18n import LANGS, translate

log = logging.getLogger(__name__)

WEIGHTS: Final = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_DOTS: Final = str.maketrans({"．": ".", "。": ".", "·": "."})


class PatentType(StrEnum):
    INVENTION = "invention"
    UTILITY = "utility"
    DESIGN = "design"


_TYPES: Final = {"1": PatentType.INVENTION, "8": PatentType.INVENTION, "2": PatentType.UTILITY,
                 "9": PatentType.UTILITY, "3": PatentType.DESIGN}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PatentNumber:
    digits: str
    """The 12 (or, before 2003, 8) digits before the check digit."""
    check: str
    """``0``–``9`` or ``X``."""

    @property
    def text(self) -> str:
        """The canonical form the hall stores and shows: ``ZL202110123456.7``."""
        return f"ZL{self.digits}.{self.check}"

    @property
    def year(self) -> int:
        """The year the application was filed."""
        if len(self.digits) == 12:
            return int(self.digits[:4])
        short = int(self.digits[:2])
        return 1900 + short if short >= 85 else 2000 + short  # the old numbers run from 1985 to 2003

    @property
    def type(self) -> PatentType:
        return _TYPES[self.digits[4] if len(self.digits) == 12 else self.digits[2]]

    @property
    def invention(self) -> bool:
        return self.type is PatentType.INVENTION


def check_digit(digits: str) -> str:
    """The check digit of 8 or 12 digits."""
    total = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=False))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def parse_number(raw: str) -> PatentNumber | None:
    """The number ``raw`` spells, or None when it is not a well-formed Chinese patent number
    with a right check digit. Only ASCII digits count (``str.isdigit`` takes other scripts')."""
    if len(raw) > 40:
        return None
    text = raw.translate(_DOTS).replace(" ", "").replace("\u3000", "").upper()
    for prefix in ("ZL", "CN"):
        text = text.removeprefix(prefix)
    if "." in text:
        digits, _, check = text.partition(".")
    else:
        digits, check = text[:-1], text[-1:]
    if len(digits) not in (8, 12) or not (digits.isascii() and digits.isdigit()):
        return None
    if len(check) != 1 or check not in "0123456789X":
        return None
    kind = digits[4] if len(digits) == 12 else digits[2]
    if kind not in _TYPES or check_digit(digits) != check:
        return None
    number = PatentNumber(digits, check)
    if len(digits) == 12 and not 2003 <= number.year <= 2100:
        return None
    return number


# ---------------------------------------------------------------------- a patent's particulars (LS-3)

class LegalStatus(StrEnum):
    """The legal status a patent database gives (法律状态): the one vocabulary of the hall, for
    a listing (``hall.listings``) and for a patent looked up to fill one. Its words are the
    catalogue's ``legal_status_<value>``."""

    VALID = "valid"
    """有效: granted and in force."""
    PENDING = "pending"
    """审中: filed, not yet granted."""
    LAPSED = "lapsed"
    """失效: expired, abandoned, invalidated."""


def _folded(word: str) -> str:
    return re.sub(r"\s", "", word).lower()


_STATUS_WORDS: Final = {
    **{_folded(translate(f"legal_status_{s.value}", lang)): s for s in LegalStatus for lang in LANGS},
    **{s.value: s for s in LegalStatus},
    **dict.fromkeys(("授权", "granted"), LegalStatus.VALID),
    **dict.fromkeys(("无效", "invalid", "expired"), LegalStatus.LAPSED),
    **dict.fromkeys(("在审", "实质审查"), LegalStatus.PENDING),
}
"""How catalogues and services write a status (folded by ``_folded``): its catalogue labels in
either language, its value, and the other words patent databases use."""

MAX_LENGTHS: Final = {"number": 40, "title": 200, "holder": 200, "grant_date": 20, "ipc": 100,
                      "legal_status": 20, "abstract": 5000, "application_date": 20, "inventors": 500}  # fmt: skip
"""Characters a field may hold, in the catalogue and in a service's answer."""
REQUIRED: Final = ("number", "title", "holder")
FIELDS: Final = tuple(MAX_LENGTHS)
MAX_LIMIT: Final = 50
"""Most patents one search returns, from any source."""


class Patent(msgspec.Struct, frozen=True, kw_only=True):
    """What a patent source knows of a patent, to fill a listing's fields (LS-3). Every value is
    canonical (``make_patent``): the number as ``ZL…``, dates as ``YYYY-MM-DD`` or empty, the
    legal status a ``LegalStatus``; what the source does not say is None. Its JSON is what a
    listing takes for the same fields (``hall.listings.ListingDraft``)."""

    number: str
    title: str
    holder: str
    """The right holder(s), as the patent names them; several are separated by ``；``."""
    grant_date: date | None = None
    ipc: str = ""
    """The main IPC class, e.g. ``G06N 3/08``."""
    legal_status: LegalStatus | None = None
    abstract: str = ""
    application_date: date | None = None
    inventors: str = ""


class FieldProblem(msgspec.Struct, frozen=True):
    """One field a patent's particulars got wrong: the field, a catalogue key, its parameters."""

    field: str
    key: str
    params: dict[str, str | int] = {}


class BadPatent(Exception):
    """Particulars that do not make a patent; ``problems`` lists every field that is wrong."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(", ".join(p.field for p in problems))
        self.problems = problems


def make_patent(fields: Mapping[str, object]) -> Patent:
    """A ``Patent`` from particulars as a catalogue file or a service writes them: cells that may
    be text, numbers or dates, with stray spaces, a number in any of the ways ``parse_number``
    reads, dates as ``2021-03-05``, ``2021/3/5``, ``2021.3.5``, ``2021年3月5日`` or ``20210305``,
    a status in Chinese or English. Raises ``BadPatent`` naming every wrong field.

    The one place particulars are judged, so that the catalogue and the service agree."""
    values: dict[str, object] = {name: _text(fields.get(name)) for name in FIELDS}
    problems: list[FieldProblem] = []
    for name in FIELDS:
        text = str(values[name])
        if name in REQUIRED and not text:
            problems.append(FieldProblem(name, "patent_err_required"))
        elif len(text) > MAX_LENGTHS[name]:
            problems.append(FieldProblem(name, "patent_err_too_long", {"max": MAX_LENGTHS[name]}))
    bad = {p.field for p in problems}
    if "number" not in bad:
        number = parse_number(str(values["number"]))
        if number is None:
            problems.append(FieldProblem("number", "patent_err_number"))
        else:
            values["number"] = number.text
    for name in ("grant_date", "application_date"):
        if name not in bad:
            try:
                values[name] = day = cell_date(fields.get(name))
            except ValueError:
                day = date.min  # not a date at all: refused with the dates out of range
            if day is not None and not FIRST_YEAR <= day.year <= 2100:
                problems.append(FieldProblem(name, "patent_err_date"))
    if "legal_status" not in bad:
        status = _STATUS_WORDS.get(_folded(str(values["legal_status"])))
        if values["legal_status"] and status is None:
            problems.append(FieldProblem("legal_status", "patent_err_status"))
        values["legal_status"] = status
    if problems:
        raise BadPatent(problems)
    return msgspec.convert(values, Patent)


FIRST_YEAR: Final = 1985
"""Chinese patent numbers start in 1985: an earlier date is a mistake."""
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: object) -> str:
    """A cell as text (``hall.cells.cell_text``), control characters (but line breaks) as spaces."""
    return _CONTROLS.sub(" ", cell_text(value).replace("\r\n", "\n")).strip()


# ---------------------------------------------------------------------- where patents come from


class PatentSource(Protocol):
    """Where the hall looks patents up (LS-3): the local catalogue (``hall.store.patents``) or
    an outside patent information service (``HttpPatentSource``); ``patent_source`` chooses."""

    async def search(self, q: str, limit: int) -> list[Patent]:
        """At most ``limit`` (1..``MAX_LIMIT``) patents whose title, holder, number or abstract
        contain what ``q`` says, best first. Raises ``LookupFailed`` when it cannot answer."""
        ...

    async def get(self, number: str) -> Patent | None:
        """The patent of that number (written any way ``parse_number`` reads), None when the
        source does not know it or the number is not one."""
        ...


class LookupFailed(Refused):
    """The source could not answer: an HTTP status for the edge (502, 503, 504), a stable code
    and the catalogue key of the message. Never a 500: the form still works, filled by hand."""


SERVICE_DOWN: Final = (503, "patent_service_down", "patent_service_down")
SERVICE_TIMEOUT: Final = (504, "patent_service_timeout", "patent_service_timeout")
SERVICE_GARBAGE: Final = (502, "patent_service_bad_answer", "patent_service_bad_answer")
MAX_ANSWER: Final = 1024 * 1024
"""Bytes of a service's answer read at most; a longer one is refused as garbage."""


class _Described(msgspec.Struct, kw_only=True):
    """A patent as the service describes it: the fields of ``Patent``, each text or absent
    (a number may come as a JSON number); fields the hall does not know are ignored."""

    number: str | int
    title: str
    holder: str
    grant_date: str | None = None
    ipc: str | None = None
    legal_status: str | None = None
    abstract: str | None = None
    application_date: str | None = None
    inventors: str | None = None


class _Found(msgspec.Struct):
    """The service's answer to ``GET /search`` (docs/api.md, "The patent service")."""

    patents: Annotated[list[_Described], msgspec.Meta(max_length=500)]


class _One(msgspec.Struct):
    """The service's answer to ``GET /patents/{number}``."""

    patent: _Described


_found_decoder: Final = msgspec.json.Decoder(_Found)
_one_decoder: Final = msgspec.json.Decoder(_One)


class HttpPatentSource:
    """An outside patent information service, over HTTP (the contract is in docs/api.md).

    Every call has one deadline, ``timeout`` seconds from the first byte sent to the last read
    (a server that trickles its answer is cut off too), and reads at most ``MAX_ANSWER`` bytes.
    Patents the service describes wrongly (a bad check digit, an impossible date) are left out
    and logged, not shown: the hall fills forms only with particulars that pass ``make_patent``.
    """

    def __init__(self, url: str, timeout: float = 3.0, *, connections: int = 8) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"HALL_PATENT_SERVICE must be an http(s) URL without query, not {url!r}")
        if not 0 < timeout <= 60:
            raise ValueError(f"HALL_PATENT_TIMEOUT must be 0..60 seconds, not {timeout}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.connections = connections
        self._client: httpx2.AsyncClient | None = None

    @property
    def client(self) -> httpx2.AsyncClient:
        """Made at first use, on the loop that uses it; ``aclose`` ends it (the app's lifespan)."""
        if self._client is None:
            # identity: the size bound counts the bytes as sent, never a decompressed stream
            self._client = httpx2.AsyncClient(
                timeout=httpx2.Timeout(self.timeout), follow_redirects=False,
                limits=httpx2.Limits(max_connections=self.connections, max_keepalive_connections=self.connections),
                headers={"accept": "application/json", "accept-encoding": "identity", "user-agent": "hall"},
            )  # fmt: skip
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def search(self, q: str, limit: int) -> list[Patent]:
        limit = max(1, min(limit, MAX_LIMIT))
        status, body = await self._get("/search", {"q": q, "limit": str(limit)})
        if status != 200:
            raise LookupFailed(*SERVICE_GARBAGE)
        try:
            found = _found_decoder.decode(body)
        except msgspec.DecodeError:
            raise LookupFailed(*SERVICE_GARBAGE) from None
        return _keep_good(found.patents)[:limit]

    async def get(self, number: str) -> Patent | None:
        parsed = parse_number(number)
        if parsed is None:
            return None
        status, body = await self._get(f"/patents/{quote(parsed.text)}", {})
        if status == 404:
            return None
        if status != 200:
            raise LookupFailed(*SERVICE_GARBAGE)
        try:
            one = _one_decoder.decode(body)
        except msgspec.DecodeError:
            raise LookupFailed(*SERVICE_GARBAGE) from None
        good = _keep_good([one.patent])
        return good[0] if good and good[0].number == parsed.text else None

    async def _get(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) of a GET, within the deadline and the size bound. A 5xx or 429 is the
        service being down; other statuses are for the caller to judge."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.stream("GET", self.url + path, params=params) as response:
                    if response.status_code >= 500 or response.status_code == 429:
                        raise LookupFailed(*SERVICE_DOWN)
                    body = bytearray()
                    async for chunk in response.aiter_raw():
                        body += chunk
                        if len(body) > MAX_ANSWER:
                            raise LookupFailed(*SERVICE_GARBAGE)
                    return response.status_code, bytes(body)
        except (TimeoutError, httpx2.TimeoutException):
            log.warning("patent service %s: no answer within %s s", self.url, self.timeout)
            raise LookupFailed(*SERVICE_TIMEOUT) from None
        except httpx2.HTTPError as exc:
            log.warning("patent service %s: %s", self.url, type(exc).__name__)
            raise LookupFailed(*SERVICE_DOWN) from None


def _keep_good(items: Sequence[_Described]) -> list[Patent]:
    good = []
    for item in items:
        try:
            good.append(make_patent(msgspec.structs.asdict(item)))
        except BadPatent as exc:
            log.warning("patent service: left out a patent with wrong %s", exc)
    return good


def patent_source(service: str, timeout: float, catalogue: PatentSource) -> PatentSource:
    """The service when ``service`` (``HALL_PATENT_SERVICE``) names one, else the catalogue.

    Not both: the service is the authority on a patent's legal status and holder, which change
    (a transfer, a lapse), while the catalogue is a copy taken at import; merging the two would
    show one patent twice with particulars that disagree, and falling back to the catalogue
    while the service is down would fill forms with stale particulars without saying so. When
    the service is down, the lookup says so and the seller types the fields."""
    return HttpPatentSource(service, timeout) if service else catalogue
