"""Batch listing from xlsx (LS-8): the templates, the bounded parser and the per-row report."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import msgspec
import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from hall.batch import (FORMS, MAX_BYTES, MAX_ROWS, SCAN_ROWS, BatchRefused, CellType, Report, parse, template,
                        write_cell)  # fmt: skip
from hall.listing import ItemKind, TransactionForm
from hall.listings import Maturity
from hall.patents import LegalStatus, check_digit
from hall.web.i18n import MESSAGES, text

TODAY = date(2025, 6, 1)
PATENT_ROW = ["ZL202110123456.7", "一种锂电池健康状态的估计方法", "南京大学、东南大学", "张三、李四", "2021-01-15",
              "2023-06-20", "H01M10/48", "有效", "本发明公开了……", "转让、许可", 100000, "是"]  # fmt: skip
ACHIEVEMENT_ROW = ["钠离子电池正极材料制备技术", "", "示例研究院", "新能源", "中试", "成果简介", "作价入股", "500,000", "否"]


def number(serial: int) -> str:
    digits = f"20211{serial:07d}"
    return f"ZL{digits}.{check_digit(digits)}"


def sheet(kind: ItemKind, lang: str = "zh") -> tuple[openpyxl.Workbook, Worksheet]:
    wb = openpyxl.load_workbook(io.BytesIO(template(kind, lang)))
    ws = wb.worksheets[0]
    return wb, ws


def fill(ws: Worksheet, row: int, values: list[object]) -> None:
    for column, value in enumerate(values, start=1):
        if value is not None:
            write_cell(ws, row, column, value)  # type: ignore[arg-type]


def saved(wb: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def refused(kind: ItemKind, data: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as caught:
        parse(kind, data, on=TODAY)
    return caught.value


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


# ---------------------------------------------------------------------- templates


@pytest.mark.parametrize("kind", list(ItemKind))
def test_ls8_the_template_has_chinese_headers_an_example_drop_downs_and_instructions(kind: ItemKind) -> None:
    wb, ws = sheet(kind)
    form = FORMS[kind]
    assert [c.value for c in ws[1]] == [MESSAGES[c.header][0] for c in form.columns]
    assert ws.cell(2, 1).value and all(c.value is not None for c, col in zip(ws[2], form.columns, strict=True)
                                       if col.example is not None)  # fmt: skip
    fixed = {col.field for col in form.columns if col.type in (CellType.CHOICE, CellType.CHOICES, CellType.BOOL)}
    assert {"forms", "season"} <= fixed
    lists = {str(v.sqref): v.formula1 for v in ws.data_validations.dataValidation}
    assert len(lists) == len(fixed)
    assert any("转让" in f and "作价入股" in f for f in lists.values())
    assert all(ws.column_dimensions[chr(ord("A") + i)].width > 8 for i in range(len(form.columns)))
    assert wb.sheetnames[1] == "说明"
    notes = " ".join(str(v) for row in wb["说明"].iter_rows(values_only=True) for v in row if v)
    assert str(MAX_ROWS) in notes and all(MESSAGES[c.header][0] in notes for c in form.columns)


def test_the_patent_drop_downs_offer_legal_status_and_the_achievement_ones_maturity() -> None:
    _, ws = sheet(ItemKind.PATENT)
    assert '"有效,审中,失效"' in [v.formula1 for v in ws.data_validations.dataValidation]
    _, ws = sheet(ItemKind.ACHIEVEMENT)
    assert '"实验室阶段,小试,中试,产业化"' in [v.formula1 for v in ws.data_validations.dataValidation]


def test_the_untouched_template_is_refused_as_empty_because_its_example_is_skipped() -> None:
    error = refused(ItemKind.PATENT, template(ItemKind.PATENT))
    assert error.code == "empty"


# ---------------------------------------------------------------------- the round trip


def test_ls8_round_trip_good_rows_become_drafts_and_a_bad_row_is_reported_in_chinese() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    bad = ["ZL202110123456.8", "", "示例大学", "王五", "2021/13/01", "", "G06F", "作废", "摘要", "转让", "十万", "也许"]
    fill(ws, 4, bad)
    fill(ws, 6, [number(2), "另一项", "示例大学", "王五", "2021-02-01", date(2022, 3, 1), "G06F 16/00", "有效", "摘要",
                 "许可", 5000.0, True])  # fmt: skip  (row 5 left empty: skipped)
    report = parse(ItemKind.PATENT, saved(wb), on=TODAY)
    assert report.example_skipped
    rows = report.json()
    assert [(r["row"], r["ok"]) for r in rows] == [(3, True), (4, False), (6, True)]
    problems = {(e["column"], e["message"]) for e in rows[1]["errors"]}  # type: ignore[union-attr]
    assert problems == {("专利号", MESSAGES["listing_bad_number"][0]), ("专利名称", "必填"),
                        ("申请日", "日期格式应为 YYYY-MM-DD"), ("IPC 分类号", MESSAGES["listing_bad_ipc"][0]),
                        ("法律状态", "请从下拉列表中选择"), ("起拍价（元）", "应填写整数"),
                        ("参加拍卖季", "应填写“是”或“否”")}  # fmt: skip
    english = {e["column"] for e in report.json("en")[1]["errors"]}  # type: ignore[union-attr]
    assert "Patent number" in english and "Filing date" in english
    first, third = report.good()
    assert first.holder == "南京大学" and first.co_holders == ["东南大学"] and first.inventors == ["张三", "李四"]
    assert first.ipc == "H01M 10/48" and first.legal_status is LegalStatus.VALID and first.season
    assert first.forms == [TransactionForm.TRANSFER, TransactionForm.LICENCE] and first.start_price == 100000
    assert first.application_date == date(2021, 1, 15) and first.grant_date == date(2023, 6, 20)
    assert third.number == number(2) and third.grant_date == date(2022, 3, 1) and third.start_price == 5000


def test_achievements_round_trip_with_their_own_columns() -> None:
    wb, ws = sheet(ItemKind.ACHIEVEMENT)
    fill(ws, 3, ACHIEVEMENT_ROW)
    fill(ws, 4, ["另一项成果", "", "示例研究院", "", "量产", "简介", "赠送", 1, ""])
    report = parse(ItemKind.ACHIEVEMENT, saved(wb), on=TODAY)
    [good] = report.good()
    assert good.maturity is Maturity.PILOT and good.forms == [TransactionForm.EQUITY] and good.start_price == 500000
    assert not good.season and good.agreement
    errors = {(e["column"], e["message"]) for e in report.json()[1]["errors"]}  # type: ignore[union-attr]
    assert errors == {("所属领域", "必填"), ("成熟度", "请从下拉列表中选择"), ("交易方式", "请从下拉列表中选择")}


def test_an_overwritten_example_row_is_data() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 2, [number(7), *PATENT_ROW[1:]])
    report = parse(ItemKind.PATENT, saved(wb), on=TODAY)
    assert not report.example_skipped and [r.row for r in report.rows] == [2]


def test_an_english_template_reads_back_the_same() -> None:
    wb, ws = sheet(ItemKind.PATENT, "en")
    assert ws.cell(1, 1).value == "Patent number" and wb.sheetnames[1] == "Instructions"
    fill(ws, 3, [*PATENT_ROW[:7], "In force", "abstract", "Transfer; Licence", 100, "Yes"])
    [row] = parse(ItemKind.PATENT, saved(wb), on=TODAY).rows
    assert row.ok and row.draft is not None and row.draft.forms == [TransactionForm.TRANSFER, TransactionForm.LICENCE]


def test_columns_are_found_by_header_in_any_order() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    headers = [MESSAGES[c.header][0] for c in FORMS[ItemKind.PATENT].columns]
    order = list(reversed(range(len(headers))))
    fill(ws, 1, [headers[i] for i in order] + ["备注"])
    fill(ws, 2, [PATENT_ROW[i] for i in order] + ["卖方自己的备注"])
    [row] = parse(ItemKind.PATENT, saved(wb), on=TODAY).rows
    assert row.ok and row.draft is not None and row.draft.title == PATENT_ROW[1]


def test_a_sheet_that_is_not_the_template_is_bad_headers() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    fill(ws, 1, ["名称", "价格"])
    fill(ws, 2, ["x", 1])
    assert refused(ItemKind.PATENT, saved(wb)).code == "bad_headers"
    assert refused(ItemKind.ACHIEVEMENT, template(ItemKind.PATENT)).code == "bad_headers"


def test_a_repeated_item_is_reported_on_its_second_row() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    fill(ws, 4, ["ZL 2021 1 0123456 7", *PATENT_ROW[1:]])
    report = parse(ItemKind.PATENT, saved(wb), on=TODAY)
    assert report.rows[0].ok
    assert report.json()[1]["errors"] == [{"column": "专利号", "message": "与第 3 行重复"}]


def test_an_error_value_cell_is_reported() -> None:
    wb, ws = sheet(ItemKind.ACHIEVEMENT)
    fill(ws, 3, ACHIEVEMENT_ROW)
    ws.cell(3, 4).value = "#N/A"  # openpyxl stores it as an error cell
    [row] = parse(ItemKind.ACHIEVEMENT, saved(wb), on=TODAY).rows
    assert [(e.column, e.code) for e in row.errors] == [("listing_f_field", "cell_error")]


# ---------------------------------------------------------------------- formulas and text


def test_a_formula_cell_refuses_the_file_naming_the_cell() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    ws["K3"] = "=1000*100"
    error = refused(ItemKind.PATENT, saved(wb))
    assert error.code == "formula" and error.params == {"sheet": "发明专利", "cell": "K3"}
    assert "K3" in text(error.key, "zh", error.params) and "formula" in text(error.key, "en", error.params)


def test_a_formula_in_a_column_the_form_does_not_use_refuses_the_file_too() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    ws["T3"] = '=HYPERLINK("http://example.invalid","x")'
    assert refused(ItemKind.PATENT, saved(wb)).code == "formula"


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "#N/A"])
def test_text_that_looks_like_a_formula_is_kept_as_text_and_written_back_as_text(text: str) -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, [PATENT_ROW[0], text, *PATENT_ROW[2:]])
    [row] = parse(ItemKind.PATENT, saved(wb), on=TODAY).rows
    assert row.ok and row.draft is not None and row.draft.title == text
    out = openpyxl.Workbook()
    target = out.active
    assert target is not None
    write_cell(target, 1, 1, row.draft.title)
    data = saved(out)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")
    back = openpyxl.load_workbook(io.BytesIO(data)).active
    assert back is not None and back["A1"].data_type == "s" and back["A1"].value == text


def test_write_cell_drops_characters_xml_cannot_carry() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    assert write_cell(ws, 1, 1, "a\x00b\x1fc").value == "abc"
    assert write_cell(ws, 1, 2, 12).value == 12


# ---------------------------------------------------------------------- bounds


def test_a_file_over_5_mib_is_refused_413_before_anything_is_read() -> None:
    error = refused(ItemKind.PATENT, b"PK\x03\x04" + b"\0" * MAX_BYTES)
    assert (error.status, error.code) == (413, "too_large")
    assert "5 MiB" in text(error.key, "zh", error.params)


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7\n...", b"PK\x03\x04 truncated", "名称,价格\n".encode(),
                                  zipped({"hello.txt": b"hi"}),
                                  zipped({"[Content_Types].xml": b'<Types><Override ContentType="application/'
                                          b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                                          b"</Types>"})])  # fmt: skip
def test_what_is_not_an_xlsx_is_refused_not_xlsx(data: bytes) -> None:
    assert refused(ItemKind.PATENT, data).code == "not_xlsx"


def test_a_macro_workbook_or_a_cut_xlsx_is_not_an_xlsx() -> None:
    good = template(ItemKind.PATENT)
    assert refused(ItemKind.PATENT, good[: len(good) // 2]).code == "not_xlsx"
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")  # fmt: skip
    assert refused(ItemKind.PATENT, zipped(members)).code == "not_xlsx"


def test_a_zip_bomb_is_refused_from_the_directory_before_inflating() -> None:
    bomb = zipped({"[Content_Types].xml": b"x", "xl/worksheets/sheet1.xml": b"\0" * (8 * 1024 * 1024)})
    assert len(bomb) < 64 * 1024
    assert refused(ItemKind.PATENT, bomb).code == "zip_bomb"
    many = zipped({f"xl/media/{i}.bin": b"\0" * (1024 * 1024) for i in range(70)})  # each below the ratio floor
    assert refused(ItemKind.PATENT, many).code == "zip_bomb"


def test_an_xml_entity_bomb_inside_the_sheet_is_refused() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    with zipfile.ZipFile(io.BytesIO(saved(wb))) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    doctype = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    members["xl/worksheets/sheet1.xml"] = doctype + members["xl/worksheets/sheet1.xml"].replace(
        "南京大学".encode(), b"&b;&b;&b;")
    assert refused(ItemKind.PATENT, zipped(members)).code == "not_xlsx"


def _rows(count: int) -> bytes:
    wb, ws = sheet(ItemKind.ACHIEVEMENT)
    for i in range(count):
        fill(ws, 3 + i, [f"成果{i}", *ACHIEVEMENT_ROW[1:]])
    return saved(wb)


def test_2000_rows_are_read_and_the_2001st_refuses_the_file() -> None:
    report = parse(ItemKind.ACHIEVEMENT, _rows(MAX_ROWS), on=TODAY)
    assert isinstance(report, Report) and len(report.good()) == MAX_ROWS
    error = refused(ItemKind.ACHIEVEMENT, _rows(MAX_ROWS + 1))
    assert error.code == "too_many_rows" and error.params == {"rows": MAX_ROWS}


def test_data_past_the_rows_looked_at_refuses_the_file() -> None:
    wb, ws = sheet(ItemKind.ACHIEVEMENT)
    fill(ws, 3, ACHIEVEMENT_ROW)
    fill(ws, SCAN_ROWS + 1, ["远处的一行", *ACHIEVEMENT_ROW[1:]])
    assert refused(ItemKind.ACHIEVEMENT, saved(wb)).code == "too_many_rows"


def test_a_cell_at_the_last_row_of_excel_costs_no_more_than_the_rows_looked_at() -> None:
    wb, ws = sheet(ItemKind.ACHIEVEMENT)
    fill(ws, 3, ACHIEVEMENT_ROW)
    ws.cell(1_048_576, 1).value = "far away"
    [row] = parse(ItemKind.ACHIEVEMENT, saved(wb), on=TODAY).rows
    assert row.row == 3 and row.ok


def test_every_refusal_and_cell_error_has_both_languages() -> None:
    keys = [k for k in MESSAGES if k.startswith(("batch_", "listing_", "season_"))]
    assert len(keys) > 60
    for key in keys:
        zh, en = MESSAGES[key]
        assert zh and en and zh != en


def test_a_report_is_kept_by_the_store_as_msgpack_and_reads_back_whole() -> None:
    wb, ws = sheet(ItemKind.PATENT)
    fill(ws, 3, PATENT_ROW)
    fill(ws, 4, ["ZL1", *PATENT_ROW[1:]])
    report = parse(ItemKind.PATENT, saved(wb), on=TODAY)
    back = msgspec.msgpack.decode(msgspec.msgpack.encode(report), type=Report)
    assert back == report and back.good() == report.good() and back.json("en") == report.json("en")
