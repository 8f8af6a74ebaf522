"""Spreadsheets in and out (LS-8; the same mechanism serves the demand collection form of
CR-11): downloadable xlsx templates, bounded parsing of an upload, a per-row report.

Pure: bytes in, bytes or a ``Report`` out; no database, no HTTP. Parsing is CPU work of up to
a second or so on the largest accepted file, so a server runs it off the event loop.

One table per form (``Form``: its ``Column`` specs) drives both directions: the template's
headers, drop-down lists, widths, example row and instructions sheet, and the parser's
header matching, cell conversion and error columns. A new form (the demands of a later
issue) is a new table and a function that builds its object from a row's values.

An upload is untrusted. Before openpyxl sees it: at most ``MAX_BYTES``, a zip whose first
bytes and central directory are sound, at most ``MAX_MEMBERS`` members whose declared sizes
add up to at most ``MAX_UNPACKED`` and none inflating more than ``MAX_RATIO`` times (Python's
zipfile never inflates a member past its declared size, so the directory bounds the work),
and a ``[Content_Types].xml`` that declares an xlsx workbook (a macro workbook is not one).
openpyxl then reads it in read-only mode with defusedxml (no DTDs, no entity expansion),
looking at no more than ``SCAN_ROWS`` rows and ``SCAN_COLUMNS`` columns of the first sheet. A
formula anywhere in what is read refuses the file; a text cell that starts with ``=``, ``+``,
``-`` or ``@`` is text, and every xlsx the hall writes stores text through ``write_cell`` so
that such text never becomes a formula in someone's spreadsheet.
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

import msgspec
import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from hall.cells import cell_date, cell_text
from hall.listing import ItemKind, TransactionForm
from hall.listings import (ABSTRACT_MAX, FIELD_MAX, TITLE_MAX, ListingDraft, Maturity, choice_key, field_key,
                           name_key, normalise, validate)  # fmt: skip
from hall.patents import LegalStatus, parse_number
from hall.web.errors import Refused
from hall.web.i18n import text, translate

if TYPE_CHECKING:
    from openpyxl.cell import _CellSetValue

if not openpyxl.DEFUSEDXML:  # an upload's XML must never declare or expand entities
    raise ImportError("hall.batch reads untrusted xlsx only through defusedxml: install it, "
                      "and leave OPENPYXL_DEFUSEDXML unset")  # fmt: skip

MAX_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 2000
"""Data rows of one upload (the header and a recognised example row not counted)."""
SCAN_ROWS: Final = 5000
"""Rows of the sheet read at most: data may have blank rows between, but not past this."""
SCAN_COLUMNS: Final = 64
MAX_MEMBERS: Final = 1000
MAX_UNPACKED: Final = 64 * 1024 * 1024
"""Declared uncompressed bytes of all members together."""
MAX_RATIO: Final = 100
"""A member larger than ``RATIO_FLOOR`` may not inflate more than this many times; real
sheets inflate ten to twenty times, a zip bomb a thousand."""
RATIO_FLOOR: Final = 1024 * 1024

XLSX_MAIN: Final = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
"""The content type of an xlsx workbook part; an xlsm or xltx declares another."""
_SEPARATORS: Final = re.compile(r"[、,，;；\n\r]+")
_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
_EXAMPLE_FONT: Final = Font(italic=True, color="808080")


class CellType(StrEnum):
    TEXT = "text"
    LIST = "list"
    """Several texts in one cell, separated by 、 , ; or new lines."""
    DATE = "date"
    INTEGER = "integer"
    BOOL = "bool"
    """是 / 否; empty is 否."""
    CHOICE = "choice"
    """One of ``choices``, by its label in either language or its code."""
    CHOICES = "choices"
    """One or more of ``choices``, separated like a list."""


Example: TypeAlias = str | int | date | Sequence[str] | None
"""A cell of a template's example row: a fixed value (``StrEnum``) and a list of them are
written as their labels, a bool as 是 / 否."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a form: the field it fills, its header and its instructions (catalogue
    keys), how its cells read, its fixed values and the example row's cell."""

    field: str
    header: str
    note: str
    type: CellType = CellType.TEXT
    required: bool = False
    """Said in the instructions sheet; the form's own validation decides."""
    choices: tuple[StrEnum, ...] = ()
    width: int = 16
    example: Example = None
    key: Callable[[StrEnum], str] = choice_key
    """The catalogue key of a fixed value's label: the listings' by default; a form of other
    fixed values (the demands') gives its own."""


@dataclass(frozen=True, slots=True)
class Form:
    sheet: str
    """Catalogue key of the data sheet's name."""
    notes: tuple[str, ...]
    """Catalogue keys of the general instructions, in order."""
    columns: tuple[Column, ...]


class BatchRefused(Refused):
    """A file refused as a whole: the HTTP status, a stable code, the catalogue key and its
    parameters (a route lets it reach the app's error handler)."""


class CellError(msgspec.Struct, frozen=True):
    """One thing wrong in a row: the column (its header's catalogue key), a stable code, the
    message's key and parameters."""

    column: str
    code: str
    key: str
    params: dict[str, str | int] = {}

    def json(self, lang: str = "zh") -> dict[str, str]:
        return {"column": translate(self.column, lang), "message": text(self.key, lang, self.params)}


class RowReport(msgspec.Struct, frozen=True):
    row: int
    """The sheet's own row number, as the seller sees it in Excel."""
    errors: list[CellError]
    draft: ListingDraft | None
    """The row as a listing, normalised; kept for rows with errors too so a page can show them."""

    @property
    def ok(self) -> bool:
        return not self.errors


class Report(msgspec.Struct, frozen=True):
    """What an upload holds: one entry per non-empty data row. A store keeps it (msgspec
    encodes it) until the seller lists the good rows."""

    kind: ItemKind
    rows: list[RowReport]
    example_skipped: bool
    """Row 2 was the template's example, untouched, and was not read as data."""

    def json(self, lang: str = "zh") -> list[dict[str, object]]:
        """The API's ``rows``: ``[{"row", "ok", "errors": [{"column", "message"}]}]``."""
        return [{"row": r.row, "ok": r.ok, "errors": [e.json(lang) for e in r.errors]} for r in self.rows]

    def good(self) -> list[ListingDraft]:
        return [r.draft for r in self.rows if r.ok and r.draft is not None]


# ---------------------------------------------------------------------- writing


def write_cell(ws: Worksheet, row: int, column: int, value: _CellSetValue) -> Cell:
    """Put ``value`` in a cell: the one way the hall writes a cell of any xlsx. Text is stored
    as text even when it starts with ``=`` (openpyxl would make it a formula, and a seller's
    ``=cmd|…`` title would run in a buyer's spreadsheet) or spells an error code; characters
    XML cannot carry are dropped."""
    if not isinstance(value, str):
        return ws.cell(row=row, column=column, value=value)
    cell = ws.cell(row=row, column=column, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


def _label(value: StrEnum, lang: str, key: Callable[[StrEnum], str] = choice_key) -> str:
    return translate(key(value), lang)


def _options(column: Column, lang: str) -> list[str]:
    """What a column's drop-down offers: its labels, and for ``CHOICES`` every combination
    when they fit Excel's inline list (else the single labels: its warning lets a cell hold
    several all the same)."""
    if column.type is CellType.BOOL:
        return [translate("yes", lang), translate("no", lang)]
    labels = [_label(c, lang, column.key) for c in column.choices]
    if column.type is CellType.CHOICE:
        return labels
    sep = "、" if lang == "zh" else "; "
    combos = [sep.join(c) for n in range(1, len(labels) + 1) for c in itertools.combinations(labels, n)]
    return combos if len(",".join(combos)) <= 255 else labels


def _shown(column: Column, lang: str) -> str | int | date | None:
    """The example's value as a cell shows it."""
    value = column.example
    match value:
        case bool():
            return translate("yes" if value else "no", lang)
        case StrEnum():
            return _label(value, lang, column.key)
        case str() | int() | date() | None:
            return value
    sep = "、" if lang == "zh" else "; "
    return sep.join(_label(v, lang, column.key) if isinstance(v, StrEnum) else v for v in value)


def build_template(form: Form, lang: str = "zh") -> bytes:
    """An empty form: headers in row 1, the example in row 2, drop-downs on the fixed columns
    and an instructions sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook always has its sheet
    ws.title = translate(form.sheet, lang)
    last = MAX_ROWS + 2
    for i, column in enumerate(form.columns, start=1):
        letter = get_column_letter(i)
        head = write_cell(ws, 1, i, translate(column.header, lang))
        head.font, head.fill = Font(bold=True, color="C00000" if column.required else "000000"), _HEADER_FILL
        example = write_cell(ws, 2, i, _shown(column, lang))
        example.font = _EXAMPLE_FONT
        dimension = ws.column_dimensions[letter]
        dimension.width = column.width
        if column.type is CellType.DATE:
            example.number_format = dimension.number_format = "yyyy-mm-dd"
        elif column.type is CellType.INTEGER:
            example.number_format = dimension.number_format = "0"
        else:  # text typed into these cells stays text, '=' or not
            example.number_format = dimension.number_format = "@"
        if column.type in (CellType.CHOICE, CellType.CHOICES, CellType.BOOL):
            listed = ",".join(_options(column, lang))
            if len(listed) > 255:  # Excel's limit for an inline list
                raise ValueError(f"the drop-down of {column.field} is too long")
            validation = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True,
                                        errorStyle="warning" if column.type is CellType.CHOICES else "stop",
                                        error=translate("batch_bad_choice", lang), showErrorMessage=True)  # fmt: skip
            validation.add(f"{letter}2:{letter}{last}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"
    _instructions(wb.create_sheet(translate("batch_sheet_notes", lang)), form, lang)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_LIMITS: Final = {"rows": MAX_ROWS, "mib": MAX_BYTES // (1024 * 1024), "title": TITLE_MAX, "abstract": ABSTRACT_MAX,
                  "field": FIELD_MAX}  # fmt: skip


def _instructions(ws: Worksheet, form: Form, lang: str) -> None:
    write_cell(ws, 1, 1, translate("batch_notes_title", lang)).font = Font(bold=True, size=14)
    row = 2
    for key in form.notes:
        write_cell(ws, row, 1, translate(key, lang).format(**_LIMITS))
        row += 1
    row += 1
    for i, key in enumerate(("batch_notes_column", "batch_notes_required", "batch_notes_how", "batch_notes_values"), 1):
        write_cell(ws, row, i, translate(key, lang)).font = Font(bold=True)
    for column in form.columns:
        row += 1
        write_cell(ws, row, 1, translate(column.header, lang))
        write_cell(ws, row, 2, translate("yes" if column.required else "no", lang))
        write_cell(ws, row, 3, translate(column.note, lang).format(**_LIMITS)).alignment = Alignment(wrap_text=True)
        if column.choices or column.type is CellType.BOOL:
            labels = [translate(k, lang) for k in ("yes", "no")] if column.type is CellType.BOOL else \
                [_label(c, lang, column.key) for c in column.choices]  # fmt: skip
            write_cell(ws, row, 4, " / ".join(labels))
    for letter, width in zip("ABCD", (18, 10, 70, 40), strict=True):
        ws.column_dimensions[letter].width = width


# ---------------------------------------------------------------------- reading


def _refuse(code: str, status: int = 400, **params: str | int) -> BatchRefused:
    return BatchRefused(status, code, f"batch_{code}", params)


def check_archive(data: bytes, max_bytes: int = MAX_BYTES, max_unpacked: int = MAX_UNPACKED) -> None:
    """Refuse what is not an xlsx, or would unpack to too much, before anything inflates it:
    the one check of every xlsx the hall reads (an upload here, the patent catalogue's import)."""
    if len(data) > max_bytes:
        raise _refuse("too_large", 413, mib=max_bytes // (1024 * 1024))
    if not data.startswith(b"PK\x03\x04"):
        raise _refuse("not_xlsx")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise _refuse("not_xlsx") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > max_unpacked:
            raise _refuse("zip_bomb")
        for member in members:
            if member.file_size > RATIO_FLOOR and member.file_size > MAX_RATIO * max(member.compress_size, 1):
                raise _refuse("zip_bomb")
            if member.flag_bits & 0x1:  # encrypted: nothing to read
                raise _refuse("not_xlsx")
        try:
            types = archive.read("[Content_Types].xml")
        except (KeyError, zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
            raise _refuse("not_xlsx") from None
    if XLSX_MAIN not in types:
        raise _refuse("not_xlsx")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Bad(Exception):
    """A cell that does not read as its column's type: the code of ``CellError``."""


def _choice(column: Column, text: str) -> StrEnum:
    wanted = _fold(text)
    for choice in column.choices:
        if wanted in (_fold(choice.value), _fold(_label(choice, "zh", column.key)), _fold(_label(choice, "en", column.key))):
            return choice
    raise _Bad("bad_choice")


def _convert(column: Column, value: object) -> object:
    """A non-blank cell's value as its column's type; ``_Bad`` when it is not one."""
    match column.type:
        case CellType.TEXT:
            return cell_text(value)
        case CellType.LIST:
            return [part.strip() for part in _SEPARATORS.split(cell_text(value)) if part.strip()]
        case CellType.DATE:
            try:
                return cell_date(value)
            except ValueError:
                raise _Bad("bad_date") from None
        case CellType.INTEGER:
            if isinstance(value, bool):
                raise _Bad("bad_integer")
            if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return int(value)
            digits = re.sub(r"[\s,，]", "", value) if isinstance(value, str) else ""
            if digits.isascii() and digits.isdigit() and len(digits) <= 15:
                return int(digits)
            raise _Bad("bad_integer")
        case CellType.BOOL:
            if isinstance(value, bool):
                return value
            folded = _fold(cell_text(value))
            if folded in (_fold(translate("yes", "zh")), _fold(translate("yes", "en")), "true", "1", "y"):
                return True
            if folded in (_fold(translate("no", "zh")), _fold(translate("no", "en")), "false", "0", "n"):
                return False
            raise _Bad("bad_bool")
        case CellType.CHOICE:
            return _choice(column, cell_text(value))
        case CellType.CHOICES:
            return [_choice(column, part) for part in _SEPARATORS.split(cell_text(value)) if part.strip()]


@dataclass(frozen=True, slots=True)
class SheetRow:
    row: int
    values: dict[str, object]
    """The columns that read, by field; blank cells are absent."""
    errors: list[CellError]


class _Read(Protocol):
    """What a read-only sheet's cell offers (openpyxl's ``ReadOnlyCell`` or ``EmptyCell``)."""

    @property
    def value(self) -> object: ...
    @property
    def data_type(self) -> str: ...


def _read_row(form: Form, positions: dict[str, int], row: int, cells: tuple[_Read, ...]) -> SheetRow:
    values: dict[str, object] = {}
    errors: list[CellError] = []
    for column in form.columns:
        cell = cells[positions[column.field]]
        if _blank(cell.value):
            continue
        if cell.data_type == "e":  # #N/A, #REF! and the like
            errors.append(CellError(column.header, "cell_error", "batch_cell_error", {"value": str(cell.value)}))
            continue
        try:
            values[column.field] = _convert(column, cell.value)
        except _Bad as bad:
            errors.append(CellError(column.header, str(bad), f"batch_{bad}"))
    return SheetRow(row, values, errors)


def read_sheet(form: Form, data: bytes) -> tuple[list[SheetRow], bool]:
    """The non-empty data rows of an upload's first sheet, each read by its column's type,
    and whether row 2 was the untouched example; ``BatchRefused`` for a file it will not
    read. Columns are found by their headers (either language), in any order; other columns
    are ignored."""
    check_archive(data)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception:  # untrusted bytes: whatever openpyxl cannot open is not an xlsx we read
        raise _refuse("not_xlsx") from None
    try:
        return _rows(form, wb)
    except BatchRefused:
        raise
    except Exception:  # the sheet's XML is parsed lazily, row by row
        raise _refuse("not_xlsx") from None
    finally:
        wb.close()


def _rows(form: Form, wb: openpyxl.Workbook) -> tuple[list[SheetRow], bool]:
    if not wb.worksheets:
        raise _refuse("not_xlsx")
    ws = wb.worksheets[0]
    headers = {_fold(translate(c.header, lang)): c.field for c in form.columns for lang in ("zh", "en")}
    example = {c.field: _convert(c, _shown(c, "zh")) for c in form.columns if c.example is not None}
    positions: dict[str, int] = {}
    rows: list[SheetRow] = []
    skipped = False
    for number, cells in enumerate(ws.iter_rows(max_row=SCAN_ROWS + 1, max_col=SCAN_COLUMNS), start=1):
        for i, cell in enumerate(cells):
            if cell.data_type == "f":
                raise _refuse("formula", sheet=ws.title, cell=f"{get_column_letter(i + 1)}{number}")
        if number == 1:
            for i, cell in enumerate(cells):
                if isinstance(cell.value, str) and (field := headers.get(_fold(cell.value))) is not None:
                    positions.setdefault(field, i)
            if len(positions) != len(form.columns):
                raise _refuse("bad_headers")
            continue
        if all(_blank(cell.value) for cell in cells):
            continue
        if number > SCAN_ROWS or len(rows) == MAX_ROWS:
            raise _refuse("too_many_rows", rows=MAX_ROWS)
        read = _read_row(form, positions, number, cells)
        if number == 2 and not read.errors and read.values == example:
            skipped = True
            continue
        rows.append(read)
    if not positions:
        raise _refuse("bad_headers")
    if not rows:
        raise _refuse("empty")
    return rows, skipped


# ---------------------------------------------------------------------- the listing forms (LS-8)

def _columns(kind: ItemKind) -> tuple[Column, ...]:
    patent = kind is ItemKind.PATENT

    def col(field: str, type: CellType = CellType.TEXT, width: int = 16, example: Example = None,
            required: bool = True, choices: tuple[StrEnum, ...] = ()) -> Column:  # fmt: skip
        header = "batch_col_holders" if field == "holders" else field_key(kind, field)
        return Column(field, header, f"batch_note_{field}_{kind.value}" if field in _BY_KIND else f"batch_note_{field}",
                      type, required, choices, width, example)  # fmt: skip

    tail = (
        col("abstract", width=50, example="本发明公开了一种……（示例）" if patent else "本成果……（示例）"),
        col("forms", CellType.CHOICES, 20, [TransactionForm.TRANSFER, TransactionForm.LICENCE], choices=tuple(TransactionForm)),
        col("start_price", CellType.INTEGER, 14, 100000 if patent else 500000),
        col("season", CellType.BOOL, 12, True, required=False),
    )
    if patent:
        return (
            col("number", width=20, example="ZL202110123456.7"),
            col("title", width=36, example="一种锂电池健康状态的估计方法（示例）"),
            col("holders", CellType.LIST, 24, ["示例大学"]),
            col("inventors", CellType.LIST, 20, ["张三", "李四"]),
            col("application_date", CellType.DATE, 14, date(2021, 1, 15)),
            col("grant_date", CellType.DATE, 14, date(2023, 6, 20), required=False),
            col("ipc", width=14, example="H01M 10/48"),
            col("legal_status", CellType.CHOICE, 12, LegalStatus.VALID, choices=tuple(LegalStatus)),
            *tail,
        )
    return (
        col("title", width=36, example="高性能钠离子电池正极材料制备技术（示例）"),
        col("number", width=20, required=False),
        col("holders", CellType.LIST, 24, ["示例研究院"]),
        col("field", width=16, example="新能源"),
        col("maturity", CellType.CHOICE, 14, Maturity.PILOT, choices=tuple(Maturity)),
        *tail,
    )


_BY_KIND: Final = ("title", "number", "abstract")
"""Fields whose instructions differ between patents and achievements."""

_NOTES: Final = ("batch_note_1", "batch_note_2", "batch_note_3", "batch_note_4")
FORMS: Final[dict[ItemKind, Form]] = {
    ItemKind.PATENT: Form("batch_sheet_patents", _NOTES, _columns(ItemKind.PATENT)),
    ItemKind.ACHIEVEMENT: Form("batch_sheet_achievements", _NOTES, _columns(ItemKind.ACHIEVEMENT)),
}


def template(kind: ItemKind, lang: str = "zh") -> bytes:
    """The xlsx a seller downloads to list many items of ``kind`` at once (LS-8)."""
    return build_template(FORMS[kind], lang)


def _draft(kind: ItemKind, values: dict[str, object]) -> ListingDraft:
    """A row's values as a draft. The sheet has no agreement column: the upload form makes
    the seller accept the listing agreement for the whole batch, and the store records that
    acceptance with the batch."""
    fields = dict(values)
    holders = fields.pop("holders", [])
    assert isinstance(holders, list)
    return msgspec.convert({"kind": kind, **fields, "holder": holders[0] if holders else "",
                            "co_holders": holders[1:], "agreement": True}, ListingDraft)  # fmt: skip


def _duplicate_key(draft: ListingDraft) -> str:
    if draft.kind is ItemKind.PATENT:
        number = parse_number(draft.number)
        return number.text if number else ""
    return f"{name_key(draft.title)}|{name_key(draft.holder)}" if draft.title else ""


def parse(kind: ItemKind, data: bytes, *, on: date | None = None) -> Report:
    """Read an upload of the ``kind`` template (LS-8): each row becomes a normalised draft
    checked by ``hall.listings.validate`` (``on`` as its today) and against the rows above it;
    ``BatchRefused`` for a file refused as a whole."""
    form = FORMS[kind]
    header_of = {c.field: c.header for c in form.columns}
    header_of |= {"holder": header_of["holders"], "co_holders": header_of["holders"]}
    rows, skipped = read_sheet(form, data)
    seen: dict[str, int] = {}
    reports: list[RowReport] = []
    for row in rows:
        draft = normalise(_draft(kind, row.values))
        errors = list(row.errors)
        broken = {e.column for e in errors}
        for error in validate(draft, on=on):
            column = header_of[error.field]
            if column not in broken:  # a cell that did not read is reported once
                errors.append(CellError(column, error.code, error.key, error.params))
        key = _duplicate_key(draft)
        if key and key in seen:
            column = header_of["number" if kind is ItemKind.PATENT else "title"]
            errors.append(CellError(column, "duplicate_row", "batch_duplicate_row", {"row": seen[key]}))
        elif key:
            seen[key] = row.row
        reports.append(RowReport(row.row, errors, draft))
    return Report(kind, reports, skipped)
