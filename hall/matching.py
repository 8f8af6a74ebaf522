"""Matching for the challenge season (CR-10): which patents, listed items and solvers might
answer a demand, which published demands a solver should see first, and which demands are hot.

The text side is SQLite FTS5's BM25 over the character pairs every index of the hall holds
(``hall.store.patents.grams``); this module holds the rules around it, pure (no database, no
clock of its own), so the store (``hall/store/matching.py``) only runs them:

- which terms of a text make its query (``query_terms``, ``choose_terms``): the character pairs
  it repeats most, its title's counted thrice, without those that nearly every indexed row holds
  (一种, 方法, 系统: they carry no evidence and would make BM25 score every row), capped;
- the industry an item belongs to, from its IPC class or its field's words (``industry_of_ipc``,
  ``industry_of_field``), since listings and catalogue patents carry no industry of their own;
- how text relevance and industry are put together (``blend``): BM25 scores are only
  comparable within one query, so each is taken relative to the query's best, and a match of
  the demand's industry adds ``INDUSTRY_BONUS`` of that;
- the hot list's order is SQL's (``hall.store.matching.HOT``): picks, responses, views.

What it must never do: see a hidden field (CR-4). It is only ever given public text: a demand's
text comes from ``demand_fts``, which holds the public text alone, never from the demand's row.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from hall.auctions import Industry
from hall.demands import Cooperation

MAX_TERMS: Final = 24
"""Terms one ranking query uses at most: bounds the index work of a request."""
MAX_LOOKED_UP: Final = 128
"""Terms whose document counts are looked up (the most frequent of the text) before choosing."""
TITLE_WEIGHT: Final = 3
"""A title's pair counts as this many of the body's."""
COMMON_SHARE: Final = 0.25
"""A term found in more than this share of an index's rows is left out of its queries ..."""
COMMON_FLOOR: Final = 8
"""... once the index holds at least this many rows (below, every term is evidence)."""
CANDIDATES: Final = 200
"""Rows a query takes from the index by BM25 before industry is weighed in."""
INDUSTRY_BONUS: Final = 0.3
"""Added to a relevance of 0..1 (relative to the query's best) when the industry matches: an
item of the demand's industry outranks a slightly better text match from elsewhere, never a
much better one."""
PUSH_SOLVERS: Final = 10
"""Best-matched solvers a publication is pushed to (CR-10), at most one push each a day."""


def query_terms(title: str, body: str) -> Counter[str]:
    """The character pairs of an indexed text (``grams`` tokens, space-separated) with their
    weights: each pair of the title counts ``TITLE_WEIGHT`` times. A run's last character alone
    (the one-character tokens ``grams`` adds) is no evidence of a topic and is left out."""
    weights: Counter[str] = Counter()
    for text, weight in ((title, TITLE_WEIGHT), (body, 1)):
        for token in text.split():
            if len(token) == 2:
                weights[token] += weight
    return weights


def looked_up(weights: Counter[str]) -> list[str]:
    """The ``MAX_LOOKED_UP`` heaviest terms (ties by the term, so the query is stable)."""
    return [term for term, _ in sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:MAX_LOOKED_UP]]


def choose_terms(weights: Mapping[str, int], documents: Mapping[str, int], rows: int) -> list[str]:
    """The query's terms: those the index holds (``documents``: each term's count of rows),
    heaviest first, at most ``MAX_TERMS``, ties to the rarer term; without the ones more than
    ``COMMON_SHARE`` of its ``rows`` hold, unless every term is that common (an index of
    battery labs ranked for a battery demand: then those terms are all the evidence there is)."""
    held = [term for term, n in documents.items() if term in weights and n > 0]
    if rows >= COMMON_FLOOR:
        held = [term for term in held if documents[term] <= rows * COMMON_SHARE] or held
    held.sort(key=lambda term: (-weights[term], documents[term], term))
    return held[:MAX_TERMS]


def or_expression(terms: Sequence[str]) -> str | None:
    """An FTS5 query matching a row that holds any of ``terms``. The tokens hold letters and
    digits only (``grams``), so quoting them is all the escaping FTS5 needs."""
    return " OR ".join(f'"{term}"' for term in terms) or None


# ----------------------------------------------------------------------- industries


_IPC_PREFIXES: Final[dict[str, Industry]] = {
    **dict.fromkeys(("G06", "G08", "G09", "G10L", "G11", "H01L", "H03", "H04", "H05K"), Industry.NEW_IT),
    **dict.fromkeys(("A61", "C07K", "C07H", "C12", "G01N33"), Industry.BIOMEDICINE),
    **dict.fromkeys(("B21", "B22", "B23", "B24", "B25", "B26", "B27", "B29", "B33Y", "B60", "B61", "B62", "B64",
                     "B65", "B66", "F15", "F16", "G01B", "G05B"), Industry.MANUFACTURING),
    **dict.fromkeys(("A62D", "B01D", "B09", "C02F", "E03F", "F23G", "F23J"), Industry.ENVIRONMENT),
    **dict.fromkeys(("B32B", "C01", "C03", "C04", "C08", "C09", "C22", "C23", "D01"), Industry.MATERIALS),
    **dict.fromkeys(("C10", "C25B", "F01", "F02", "F03", "F22", "F24S", "H01M", "H02"), Industry.ENERGY),
}  # fmt: skip
"""IPC prefixes (section, class, subclass, group, without spaces) → the exchange's industry
sessions (AU-1); the longest prefix that fits decides. Classes that serve every industry
(G01 measuring in general, B01 processes in general) are left to their narrower entries."""

_FIELD_WORDS: Final[dict[Industry, tuple[str, ...]]] = {
    Industry.NEW_IT: ("信息", "电子", "通信", "软件", "计算", "人工智能", "数据", "芯片", "半导体", "网络"),
    Industry.BIOMEDICINE: ("生物", "医药", "医疗", "药物", "基因", "诊断", "疫苗", "细胞"),
    Industry.MANUFACTURING: ("制造", "装备", "机械", "机器人", "加工", "数控", "自动化"),
    Industry.ENVIRONMENT: ("环保", "环境", "节能", "污水", "废水", "废气", "固废", "治理", "回收"),
    Industry.MATERIALS: ("材料", "合金", "高分子", "纤维", "陶瓷", "涂层", "复合"),
    Industry.ENERGY: ("能源", "电池", "光伏", "风电", "储能", "氢能", "电力", "发电"),
}
"""Words of an achievement's field (技术领域, free text) that name an industry."""


def industry_of_ipc(ipc: str) -> Industry | None:
    """The industry of an IPC class such as ``H01M 10/48`` (None: none of them)."""
    compact = "".join(unicodedata.normalize("NFKC", ipc).split()).upper()
    for length in range(min(len(compact), 6), 2, -1):
        found = _IPC_PREFIXES.get(compact[:length])
        if found is not None:
            return found
    return None


def industry_of_field(field: str) -> Industry | None:
    """The industry an achievement's field names: the label itself (新能源) or the first
    industry with one of its words in it (None: none)."""
    text = unicodedata.normalize("NFKC", field)
    counts = {industry: sum(word in text for word in words) for industry, words in _FIELD_WORDS.items()}
    best = max(counts.items(), key=lambda item: item[1])
    return best[0] if best[1] > 0 else None


def industries_text(industries: Iterable[Industry]) -> str:
    """Industries as an index stores them beside the text (space-separated values, sorted)."""
    return " ".join(sorted({industry.value for industry in industries}))


def parse_industries(text: str) -> frozenset[Industry]:
    known = {industry.value for industry in Industry}
    return frozenset(Industry(value) for value in text.split() if value in known)


# ----------------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class Scored:
    """One candidate: its id, its BM25 score (FTS5's: lower is better) and its industries."""

    id: int
    bm25: float
    industries: frozenset[Industry]


def blend(candidates: Sequence[Scored], industries: frozenset[Industry]) -> list[tuple[int, float]]:
    """(id, score) best first: text relevance relative to the best candidate's (0..1], plus
    ``INDUSTRY_BONUS`` when the candidate shares one of ``industries`` (a demand's one, a
    solver's several). Ties by id."""
    best = max((-c.bm25 for c in candidates), default=0.0)
    scored = []
    for c in candidates:
        relevance = -c.bm25 / best if best > 0 else 0.0
        bonus = INDUSTRY_BONUS if industries & c.industries else 0.0
        scored.append((c.id, round(relevance + bonus, 4)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


# ----------------------------------------------------------------------- answers


class PatentMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A catalogue patent that might solve a demand (``GET /api/demands/{id}/patents``)."""

    number: str
    title: str
    holder: str
    ipc: str
    industry: Industry | None
    score: float
    """Text relevance relative to the best match (0..1], plus ``INDUSTRY_BONUS`` (0.3) when
    the industry is the demand's."""


class ItemMatch(msgspec.Struct, frozen=True, kw_only=True):
    """An item listed on the exchange (a patent or an achievement) that might solve a demand."""

    id: int
    kind: str
    title: str
    number: str
    holder: str
    industry: Industry | None
    score: float


class DemandMatches(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``GET /api/demands/{id}/patents``: the catalogue's and the listed items."""

    demand: int
    patents: list[PatentMatch]
    items: list[ItemMatch]


class DemandCard(msgspec.Struct, frozen=True, kw_only=True):
    """A published demand in a recommendation or hot list: its public, never hideable, fields."""

    id: int
    number: str
    title: str
    industry: Industry
    cooperation: Cooperation
    response_deadline: str
    """YYYY-MM-DD (Beijing)."""
    picked: bool
    """A staff pick (置顶推荐)."""
    score: float | None = None
    """How well it matches the solver's profile (recommendations only)."""


class HotList(msgspec.Struct, frozen=True, kw_only=True):
    """One industry's hot list (``GET /api/demands/hot``)."""

    industry: Industry
    demands: list[DemandCard]
