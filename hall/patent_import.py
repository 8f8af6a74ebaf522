"""Filling the local patent catalogue from a file: ``hall patents import FILE`` (LS-3).

The file is what an exchange has at hand: a CSV saved from Excel (UTF-8, with or without the
BOM Excel writes) or an xlsx workbook (its first sheet), whose first row names the columns in
Chinese or English (``专利号``/``number``, ``专利名称``/``title``, ``专利权人``/``holder``, …;
``HEADERS``). Every row is judged by ``hall.patents.make_patent``, the same judge as a
service's answers: good rows are added or, by number, updated; a bad row is skipped and reported
by its row number (as a spreadsheet shows it, the header being row 1) and column. The file
itself is refused, nothing imported, when it is too big, has too many rows, is not UTF-8 CSV or
xlsx, or lacks a required column.

Bounded: ``MAX_BYTES`` of file, ``MAX_ROWS`` rows under the header (blank ones included),
``MAX_COLUMNS`` columns; an xlsx passes the batch upload's own check (``hall.batch.check_archive``:
a sound zip declaring an xlsx workbook, whose directory promises at most ``MAX_UNPACKED`` bytes
and no zip bomb) before openpyxl opens it, with defusedxml. A cell is only ever read as a value
(formulas as their cached result, never evaluated) and stored as text.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec
import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from hall.batch import BatchRefused, check_archive
from hall.cells import cell_text
from hall.patents import REQUIRED, BadPatent, Patent, make_patent
from hall.store.patents import PatentCatalogue
from hall.web.i18n import translate

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_ROWS: Final = 50_000
MAX_UNPACKED: Final = 200 * 1024 * 1024
MAX_COLUMNS: Final = 100

_ALIASES: Final = {
    "number": ("专利号", "申请号", "专利申请号", "申请号/专利号", "专利号/申请号", "number", "patentnumber",
               "applicationnumber"),
    "title": ("专利名称", "发明名称", "名称", "标题", "title", "name", "patentname"),
    "holder": ("专利权人", "权利人", "申请人", "申请(专利权)人", "专利权人/申请人", "holder", "rightholder",
               "patentee", "applicant", "owner"),
    "grant_date": ("授权日", "授权日期", "授权公告日", "授权公告日期", "grantdate"),
    "ipc": ("ipc", "ipc分类号", "ipc主分类号", "主分类号", "分类号", "ipcclass"),
    "legal_status": ("法律状态", "当前法律状态", "状态", "legalstatus", "status"),
    "abstract": ("摘要", "abstract"),
    "application_date": ("申请日", "申请日期", "applicationdate", "filingdate"),
    "inventors": ("发明人", "发明人/设计人", "inventors", "inventor"),
}  # fmt: skip
HEADERS: Final[dict[str, str]] = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
"""A column's name (folded by ``_header``) → the field it holds."""
_IGNORED_IN_HEADERS: Final = re.compile(r"[\s_\-*:：]")


class FileRefused(Exception):
    """The file cannot be imported at all: a catalogue key and its parameters."""

    def __init__(self, key: str, *, fields: tuple[str, ...] = (), **params: str | int) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields
        """Fields the message names (``{labels}`` in the language shown, ``{names}`` as in English headers)."""
        self.params = params

    def message(self, lang: str) -> str:
        labels = ("、" if lang == "zh" else ", ").join(translate(f"patent_field_{f}", lang) for f in self.fields)
        return translate(self.key, lang).format(labels=labels, names=", ".join(self.fields), **self.params)


class RowProblem(msgspec.Struct, frozen=True):
    """Row ``row`` (the header is row 1) was skipped: what is wrong in which column."""

    row: int
    column: str
    key: str
    params: dict[str, str | int] = {}

    def message(self, lang: str) -> str:
        what = translate(self.key, lang).format(**self.params)
        return translate("patent_import_row", lang).format(row=self.row, column=self.column, message=what)


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    """Rows read under the header, blank ones not counted."""
    added: int
    updated: int
    problems: list[RowProblem]
    ignored_columns: list[str]

    def lines(self, lang: str) -> list[str]:
        """The report as the command prints it."""
        lines = [translate("patent_import_done", lang).format(
            rows=self.rows, added=self.added, updated=self.updated, skipped=len({p.row for p in self.problems}))]  # fmt: skip
        if self.ignored_columns:
            lines.append(translate("patent_import_ignored", lang).format(columns="、".join(self.ignored_columns)))
        lines += [problem.message(lang) for problem in self.problems]
        return lines


async def import_file(catalogue: PatentCatalogue, path: Path, now: int) -> ImportReport:
    """Read ``path`` (CSV or xlsx, by its bytes), add or update its good rows, report the rest."""
    if path.stat().st_size > MAX_BYTES:
        raise FileRefused("patent_import_too_big", mib=MAX_BYTES // (1024 * 1024))
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # it grew since
        raise FileRefused("patent_import_too_big", mib=MAX_BYTES // (1024 * 1024))
    patents, problems, rows, ignored = read_patents(data)
    added, updated = await catalogue.upsert(patents, now)
    return ImportReport(rows=rows, added=added, updated=updated, problems=problems, ignored_columns=ignored)


def read_patents(data: bytes) -> tuple[list[Patent], list[RowProblem], int, list[str]]:
    """The good patents of a file, the problems of its bad rows, how many rows it has, and the
    columns nobody reads. A number given on two rows keeps the later row; the earlier is reported."""
    table = _table(data)
    header = next(table, None)
    if header is None or not any(cell_text(cell) for cell in header):
        raise FileRefused("patent_import_no_header")
    columns, names, ignored = _columns(header)
    kept: dict[str, tuple[int, Patent]] = {}
    problems: list[RowProblem] = []
    rows = 0
    for row_number, cells in enumerate(table, start=2):
        if row_number > MAX_ROWS + 1:  # blank rows count: a sheet's stray far-away cell costs the same
            raise FileRefused("patent_import_too_many_rows", max=MAX_ROWS)
        if not any(cell_text(cell) for cell in cells):
            continue
        rows += 1
        fields = {field: cells[i] if i < len(cells) else None for field, i in columns.items()}
        try:
            patent = make_patent(fields)
        except BadPatent as exc:
            problems += [RowProblem(row_number, names[p.field], p.key, p.params) for p in exc.problems]
            continue
        earlier = kept.get(patent.number)
        if earlier is not None:
            problems.append(RowProblem(earlier[0], names["number"], "patent_import_superseded", {"later": row_number}))
        kept[patent.number] = (row_number, patent)
    problems.sort(key=lambda p: p.row)
    return [patent for _, patent in kept.values()], problems, rows, ignored


def _columns(header: list[object]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """(field → column index, field → the column's name as written, names of unknown columns)."""
    if len(header) > MAX_COLUMNS:
        raise FileRefused("patent_import_too_many_columns", max=MAX_COLUMNS)
    columns: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored: list[str] = []
    for i, cell in enumerate(header):
        name = cell_text(cell)
        field = HEADERS.get(_header(name))
        if field is None:
            if name:
                ignored.append(name)
        elif field in columns:
            raise FileRefused("patent_import_duplicate_column", column=name)
        else:
            columns[field], names[field] = i, name
    missing = [field for field in REQUIRED if field not in columns]
    if missing:
        raise FileRefused("patent_import_missing_columns", fields=tuple(missing))
    return columns, names, ignored


def _header(name: str) -> str:
    return _IGNORED_IN_HEADERS.sub("", unicodedata.normalize("NFKC", name)).lower()


def _table(data: bytes) -> Iterator[list[object]]:
    """The rows of the file, header first, each a list of cell values."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused("patent_import_xls")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("patent_import_not_utf8") from None
    return _csv(text)


def _csv(text: str) -> Iterator[list[object]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield list(row)
    except csv.Error:
        raise FileRefused("patent_import_bad_csv", row=reader.line_num) from None


_ARCHIVE_KEYS: Final = {"not_xlsx": "patent_import_not_xlsx", "zip_bomb": "patent_import_zip_bomb",
                        "too_large": "patent_import_too_big"}  # fmt: skip
"""The import's own words for ``check_archive``'s refusals (the batch's speak of its template)."""


def _xlsx(data: bytes) -> Iterator[list[object]]:
    try:
        check_archive(data, MAX_BYTES, MAX_UNPACKED)
    except BatchRefused as refused:
        raise FileRefused(_ARCHIVE_KEYS[refused.code], mib=MAX_BYTES // (1024 * 1024)) from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FileRefused("patent_import_not_xlsx") from None
    try:
        if not book.worksheets:
            raise FileRefused("patent_import_no_header")
        # Columns past MAX_COLUMNS are never read: a sheet that claims 16,384 of them costs nothing.
        for row in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield list(row)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):  # openpyxl reads the sheet lazily
        raise FileRefused("patent_import_not_xlsx") from None
    finally:
        book.close()
