"""A table of the hall as a file people open in a spreadsheet: CSV and xlsx.

CSV is UTF-8 with a byte order mark, the one sign by which Excel reads a CSV as UTF-8 (without
it, Chinese opens as mojibake in the Chinese Windows code page). A text cell that a spreadsheet
would take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return:
a seller's title ``=HYPERLINK(…)`` would become a link in a staff member's Excel) is written
after an apostrophe, which Excel shows as text and does not display; numbers are written as
numbers. xlsx cells are written through ``hall.batch.write_cell``, the one way the hall writes a
cell, which stores text as text: no cell is ever a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Final, TypeAlias

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from hall.batch import write_cell

Cell: TypeAlias = str | int | float | None
Table: TypeAlias = tuple[Sequence[str], Sequence[Sequence[Cell]]]
"""A header row and the rows under it."""

CSV_TYPE: Final = "text/csv; charset=utf-8"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_MAX: Final = 31
"""Excel's longest sheet name."""


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: Table) -> bytes:
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: Sequence[tuple[str, Table]]) -> bytes:
    """One sheet per (name, table), in order; the header row bold and frozen."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for name, (header, rows) in sheets:
        ws = wb.create_sheet(title=name[:SHEET_NAME_MAX])
        for column, title in enumerate(header, start=1):
            write_cell(ws, 1, column, title).font = Font(bold=True)
            ws.column_dimensions[get_column_letter(column)].width = max(10, min(40, 2 * len(title) + 4))
        for r, row in enumerate(rows, start=2):
            for column, value in enumerate(row, start=1):
                write_cell(ws, r, column, value)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
