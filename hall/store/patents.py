"""The local patent catalogue (LS-3): patents the exchange imports (``hall patents import``) and
searches as a seller types, so that part of a Chinese title finds the patent.

Why character pairs, not FTS5's ``trigram`` tokenizer: Chinese words are mostly two characters
(电池, 检测, 水稻), so a seller's first keystrokes make one- and two-character queries, which a
trigram index cannot answer: SQLite then scans every row, as a LIKE fallback would, and a rare
word scans them all to find its few. Here each text goes into the index as its overlapping
character pairs plus the last character of each run ("锂电池" → "锂电 电池 池"), under the
``ascii`` tokenizer, which takes those tokens as they are. A query of n ≥ 2 characters is then
the phrase of its n − 1 pairs (consecutive tokens exactly where a text has that substring), and a
one-character query a prefix query (every character of a text begins a token): every query is
answered from the index, ranked by BM25. ``grams`` makes both sides, so they cannot disagree.

Letters and digits are folded (NFKC, lower case: ``ＺＬ``, ``zl`` and ``ZL`` are one); anything
else separates runs and is never searched for. Title matches come first, then the others, each
group by BM25 with the title weighted above holder and number, and those above the abstract;
only the first ``MAX_RANKED`` matches of each group are ranked, which bounds a keystroke's work
whatever the size of the catalogue.

Imports write ``CHUNK`` patents per transaction, so that an import beside a running hall holds
the write lock only briefly (bids commit through the same lock); a re-run updates by number,
so an interrupted import is finished by running it again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from hall.patents import FIELDS, MAX_LIMIT, Patent, parse_number
from hall.store.sqlite import SqliteStore

CHUNK: Final = 500
MAX_TERMS: Final = 8
"""Words of a query used at most (each an AND of the match)."""
_RUN: Final = re.compile(r"[^\W_]+")
_COLUMNS: Final = ", ".join(FIELDS)
_SELECT: Final = f"SELECT {', '.join('c.' + f for f in FIELDS)} FROM patent_catalogue AS c"
MAX_RANKED: Final = 1000
"""Matches a search ranks at most (the first ones in row order): a one-character query matches
nearly every row, and ranking them all would cost every keystroke time that grows with the
catalogue. The seller who sees too many keeps typing."""
_SEARCH: Final = f"""
    {_SELECT} JOIN (
        SELECT rowid AS id, bm25(patent_catalogue_fts, 10.0, 4.0, 4.0, 1.0) AS score
        FROM patent_catalogue_fts WHERE patent_catalogue_fts MATCH ? LIMIT {MAX_RANKED}
    ) AS hit ON hit.id = c.id
    ORDER BY hit.score, c.id
    LIMIT ?
"""
_UPSERT: Final = f"""
    INSERT INTO patent_catalogue ({_COLUMNS}, imported_at) VALUES ({", ".join("?" * (len(FIELDS) + 1))})
    ON CONFLICT (number) DO UPDATE SET {", ".join(f"{f} = excluded.{f}" for f in FIELDS if f != "number")},
        imported_at = excluded.imported_at
"""


def _runs(text: str) -> list[str]:
    return _RUN.findall(unicodedata.normalize("NFKC", text).lower())


def _pairs(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def grams(text: str) -> str:
    """The text as the index holds it: each run's character pairs, then its last character."""
    return " ".join(token for run in _runs(text) for token in (*_pairs(run), run[-1]))


def match_expression(q: str) -> str | None:
    """The FTS5 query for what a seller typed: every word must occur (a phrase of its pairs, or
    a prefix for one character); None when nothing in ``q`` can be searched for. The tokens hold
    letters and digits only, so quoting them is all the escaping FTS5 needs."""
    terms = [f'"{run}" *' if len(run) == 1 else f'"{" ".join(_pairs(run))}"' for run in _runs(q)[:MAX_TERMS]]
    return " AND ".join(terms) or None


def _row(patent: Patent) -> tuple[object, ...]:
    """The patent's columns: its JSON values (dates as ``YYYY-MM-DD``, what it lacks NULL)."""
    values = msgspec.to_builtins(patent)
    return tuple(values.get(f) for f in FIELDS)


def _patent(row: Sequence[object]) -> Patent:
    return msgspec.convert(dict(zip(FIELDS, row, strict=True)), Patent)


class PatentCatalogue:
    """The catalogue as a ``PatentSource``, and its import."""

    def __init__(self, db: SqliteStore) -> None:
        self.db = db

    async def search(self, q: str, limit: int) -> list[Patent]:
        limit = max(1, min(limit, MAX_LIMIT))
        number = parse_number(q)
        if number is not None:  # a whole number: that patent, or nothing
            found = await self.get(number.text)
            return [found] if found is not None else []
        expression = match_expression(q)
        if expression is None:
            return []
        rows = await self.db.fetchall(_SEARCH, (f"title : ({expression})", limit))
        if len(rows) < limit:
            seen = {row[0] for row in rows}
            more = await self.db.fetchall(_SEARCH, (expression, limit + len(rows)))
            rows += [row for row in more if row[0] not in seen][: limit - len(rows)]
        return [_patent(row) for row in rows]

    async def get(self, number: str) -> Patent | None:
        parsed = parse_number(number)
        if parsed is None:
            return None
        row = await self.db.fetchone(f"{_SELECT} WHERE c.number = ?", (parsed.text,))
        return None if row is None else _patent(row)

    async def count(self) -> int:
        row = await self.db.fetchone("SELECT count(*) FROM patent_catalogue")
        return int(row[0]) if row else 0

    async def upsert(self, patents: Iterable[Patent], now: int) -> tuple[int, int]:
        """Add or update (by number) the patents, ``CHUNK`` to a transaction; a number given
        twice keeps its last particulars. Returns (added, updated)."""
        latest = list({patent.number: patent for patent in patents}.values())
        added = updated = 0
        for start in range(0, len(latest), CHUNK):
            a, u = await self._write(latest[start : start + CHUNK], now)
            added, updated = added + a, updated + u
        return added, updated

    async def _write(self, patents: Sequence[Patent], now: int) -> tuple[int, int]:
        numbers = [p.number for p in patents]
        async with self.db.transaction() as tx:
            marks = ", ".join("?" * len(numbers))
            async with tx.execute(f"SELECT number FROM patent_catalogue WHERE number IN ({marks})", numbers) as cur:
                known = {row[0] for row in await cur.fetchall()}
            await tx.executemany(_UPSERT, [(*_row(p), now) for p in patents])
            await tx.executemany(
                "DELETE FROM patent_catalogue_fts WHERE rowid = (SELECT id FROM patent_catalogue WHERE number = ?)",
                [(n,) for n in numbers if n in known],
            )
            await tx.executemany(
                "INSERT INTO patent_catalogue_fts (rowid, title, holder, number, abstract)"
                " SELECT id, ?, ?, ?, ? FROM patent_catalogue WHERE number = ?",
                [(grams(p.title), grams(p.holder), grams(p.number), grams(p.abstract), p.number) for p in patents],
            )
        return len(patents) - len(known), len(known)
