"""The local patent catalogue (LS-3): particulars judged by ``make_patent``, imports from CSV and
xlsx with their per-row report and their bounds, and the full-text search that finds Chinese
substrings of any length (hall/store/patents.py says why by character pairs)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from hall import patent_import
from hall.cli import main
from hall.demo import SELLER_ORGS
from hall.demo_patents import COUNT, HOLDER_FIELDS, demo_patents, seed_patents
from hall.patent_import import FileRefused, ImportReport, import_file, read_patents
from hall.patents import BadPatent, LegalStatus, Patent, check_digit, make_patent, parse_number
from hall.store import SqliteStore
from hall.store.patents import PatentCatalogue, grams, match_expression

pytestmark = pytest.mark.anyio

GOOD = "ZL202110123456.7"
OTHER = "ZL201910234567." + check_digit("201910234567")
HEADER = "专利号,专利名称,专利权人,授权日,IPC分类号,法律状态,摘要\n"


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[PatentCatalogue]:
    store = SqliteStore(tmp_path / "h.db")
    await store.open()
    try:
        yield PatentCatalogue(store)
    finally:
        await store.close()


def patent(number: str, title: str, holder: str = "南京大学", abstract: str = "") -> Patent:
    return make_patent({"number": number, "title": title, "holder": holder, "abstract": abstract})


def numbered(n: int) -> str:
    digits = f"20201{n:07d}"
    return f"ZL{digits}.{check_digit(digits)}"


# ---------------------------------------------------------------------- particulars (make_patent)


def test_particulars_are_made_canonical_number_dates_and_status() -> None:
    made = make_patent({"number": " CN 2021 1 0123456.7 ", "title": " 一种方法 ", "holder": "南京大学",
                        "grant_date": "2022/3/5", "application_date": datetime(2021, 1, 4, 0, 0),
                        "legal_status": "Granted", "ipc": "G06N 3/08"})  # fmt: skip
    assert made == Patent(number=GOOD, title="一种方法", holder="南京大学", grant_date=date(2022, 3, 5),
                          ipc="G06N 3/08", legal_status=LegalStatus.VALID, application_date=date(2021, 1, 4))  # fmt: skip
    assert make_patent({"number": GOOD, "title": "t", "holder": "h", "grant_date": "2022年3月5日"}).grant_date == date(2022, 3, 5)
    assert make_patent({"number": GOOD, "title": "t", "holder": "h", "grant_date": date(2020, 2, 29)}).grant_date == date(2020, 2, 29)


def test_every_wrong_field_of_a_patent_is_named_at_once() -> None:
    with pytest.raises(BadPatent) as caught:
        make_patent({"number": "ZL202110123456.8", "title": "", "holder": "h" * 201, "grant_date": "2021-02-30",
                     "legal_status": "maybe"})  # fmt: skip
    assert {(p.field, p.key) for p in caught.value.problems} == {
        ("number", "patent_err_number"), ("title", "patent_err_required"), ("holder", "patent_err_too_long"),
        ("grant_date", "patent_err_date"), ("legal_status", "patent_err_status"),
    }  # fmt: skip


# ---------------------------------------------------------------------- import: CSV


def test_a_csv_with_a_bom_imports_its_good_rows_and_reports_each_bad_one_by_row_and_column(tmp_path: Path) -> None:
    text = (HEADER
            + f"{GOOD},一种锂离子电池健康状态在线估计方法,南京大学,2022-03-05,H01M 10/48,有效,本发明涉及电池管理\n"
            + "ZL202110123456.8,校验位错了,东南大学,,,,\n"  # row 3: wrong check digit
            + "\n"  # a blank row is neither counted nor reported
            + f"{OTHER},一种水稻育种方法,,2019-13-01,,未知,\n")  # row 5: no holder, no such month, no such status  # fmt: skip
    patents, problems, rows, ignored = read_patents(b"\xef\xbb\xbf" + text.encode())
    assert [p.number for p in patents] == [GOOD]
    assert patents[0].title == "一种锂离子电池健康状态在线估计方法" and patents[0].ipc == "H01M 10/48"
    assert rows == 3 and ignored == []
    assert [(p.row, p.column, p.key) for p in problems] == [
        (3, "专利号", "patent_err_number"),
        (5, "专利权人", "patent_err_required"), (5, "授权日", "patent_err_date"), (5, "法律状态", "patent_err_status"),
    ]  # fmt: skip
    assert problems[0].message("zh").startswith("第 3 行，专利号：不是有效的中国专利号")
    assert problems[0].message("en").startswith("Row 3, 专利号: is not a valid Chinese patent number")


def test_english_headers_in_any_case_and_unknown_columns_are_read_and_named(tmp_path: Path) -> None:
    data = f"Number,Title,Right Holder,Grant_Date,Notes\n{GOOD},A method,Nanjing University,2021-01-02,x\n".encode()
    patents, problems, rows, ignored = read_patents(data)
    assert problems == [] and rows == 1 and ignored == ["Notes"]
    assert patents[0].holder == "Nanjing University" and patents[0].grant_date == date(2021, 1, 2)


def test_a_number_on_two_rows_keeps_the_later_row_and_reports_the_earlier() -> None:
    data = (HEADER + f"{GOOD},旧名称,南京大学,,,,\n{GOOD.removeprefix('ZL')},新名称,南京大学,,,,\n").encode()
    patents, problems, _, _ = read_patents(data)
    assert [(p.number, p.title) for p in patents] == [(GOOD, "新名称")]
    assert [(p.row, p.key, p.params) for p in problems] == [(2, "patent_import_superseded", {"later": 3})]


@pytest.mark.parametrize(("data", "key"), [
    ("专利号,专利名称\nZL202110123456.7,一种方法\n".encode(), "patent_import_missing_columns"),
    (HEADER.encode("gbk") + "ZL202110123456.7,一种方法,南京大学,,,,\n".encode("gbk"), "patent_import_not_utf8"),
    (b"", "patent_import_no_header"),
    ("专利号,申请号,专利名称,专利权人\n".encode(), "patent_import_duplicate_column"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "patent_import_xls"),
    (b"PK\x03\x04 not really a zip", "patent_import_not_xlsx"),
])  # fmt: skip
def test_a_file_that_cannot_be_read_is_refused_whole_with_its_reason(data: bytes, key: str) -> None:
    with pytest.raises(FileRefused) as caught:
        read_patents(data)
    assert caught.value.key == key
    assert caught.value.message("zh") and caught.value.message("en")


def test_more_rows_than_the_bound_refuse_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patent_import, "MAX_ROWS", 3)
    rows = "".join(f"{numbered(n)},专利{n},南京大学,,,,\n" for n in range(1, 5))
    assert len(read_patents((HEADER + rows.split("\n", 1)[1]).encode())[0]) == 3  # three rows: fine
    with pytest.raises(FileRefused) as caught:
        read_patents((HEADER + rows).encode())
    assert caught.value.key == "patent_import_too_many_rows"


async def test_a_file_over_the_size_bound_is_refused_before_it_is_read(
    catalogue: PatentCatalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patent_import, "MAX_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text(HEADER + f"{GOOD},{'长' * 50},南京大学,,,,\n", encoding="utf-8")
    with pytest.raises(FileRefused) as caught:
        await import_file(catalogue, path, 1)
    assert caught.value.key == "patent_import_too_big"
    assert await catalogue.count() == 0


# ---------------------------------------------------------------------- import: xlsx


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_reads_its_first_sheet_with_date_cells_and_number_cells() -> None:
    digits = "202210654321"
    data = xlsx([
        ["申请号", "发明名称", "申请(专利权)人", "授权公告日", "法律状态", "发明人"],
        [GOOD, "一种遥感影像变化检测方法", "南京大学", datetime(2023, 6, 1), "有效", "王伟；李娜"],
        [int(digits + check_digit(digits)), "号码存成了数值", "东南大学", None, "审中", None],
        ["ZL202110123456.X", "校验位错了", "东南大学", None, None, None],
    ])  # fmt: skip
    patents, problems, rows, _ = read_patents(data)
    assert [(p.number, p.grant_date, p.legal_status) for p in patents] == [
        (GOOD, date(2023, 6, 1), LegalStatus.VALID), (f"ZL{digits}.{check_digit(digits)}", None, LegalStatus.PENDING)]  # fmt: skip
    assert patents[0].inventors == "王伟；李娜"
    assert rows == 3
    assert [(p.row, p.column, p.key) for p in problems] == [(4, "申请号", "patent_err_number")]


def test_an_xlsx_that_unpacks_to_too_much_is_refused_before_openpyxl_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = xlsx([["专利号", "专利名称", "专利权人"], [GOOD, "一种方法", "南京大学"]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(part.file_size for part in archive.infolist())
    monkeypatch.setattr(patent_import, "MAX_UNPACKED", unpacked - 1)
    with pytest.raises(FileRefused) as caught:
        read_patents(data)
    assert caught.value.key == "patent_import_zip_bomb"


def test_a_formula_cell_is_read_as_its_cached_value_never_as_a_formula() -> None:
    data = xlsx([["专利号", "专利名称", "专利权人"], [GOOD, '=HYPERLINK("http://x","点我")', "南京大学"]])
    patents, problems, _, _ = read_patents(data)  # openpyxl saves no cached value: the title is empty
    assert patents == []
    assert [(p.row, p.column, p.key) for p in problems] == [(2, "专利名称", "patent_err_required")]


# ---------------------------------------------------------------------- import: the store and the command


async def test_a_second_import_updates_by_number_and_counts_added_and_updated(
    catalogue: PatentCatalogue, tmp_path: Path
) -> None:
    first = tmp_path / "a.csv"
    first.write_text(HEADER + f"{GOOD},旧名称,南京大学,,,有效,\n", encoding="utf-8")
    assert (await import_file(catalogue, first, 1)).added == 1
    second = tmp_path / "b.csv"
    second.write_text(HEADER + f"{GOOD},新名称,南京大学,,,失效,\n{OTHER},另一件,东南大学,,,,\n", encoding="utf-8")
    report = await import_file(catalogue, second, 2)
    assert (report.added, report.updated, report.problems) == (1, 1, [])
    assert await catalogue.count() == 2
    found = await catalogue.get(GOOD)
    assert found is not None and (found.title, found.legal_status) == ("新名称", LegalStatus.LAPSED)
    assert [p.number for p in await catalogue.search("新名称", 10)] == [GOOD]
    assert await catalogue.search("旧名称", 10) == []  # the index follows the update


def test_hall_patents_import_prints_the_report_and_refuses_a_bad_file_with_status_1(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    good = tmp_path / "p.csv"
    good.write_text(HEADER + f"{GOOD},一种方法,南京大学,,,,\nZL202110123456.8,坏号,南京大学,,,,\n", encoding="utf-8-sig")
    result = CliRunner().invoke(main, ["patents", "import", str(good), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "读取 2 行：新增 1 件专利，更新 0 件，跳过 1 行",
        "第 3 行，专利号：不是有效的中国专利号：格式或校验位不正确，例如 ZL202110123456.7",
    ]
    bad = tmp_path / "p.xlsx"
    bad.write_bytes(b"PK\x03\x04 broken")
    refused = CliRunner().invoke(main, ["patents", "import", str(bad), "--db", str(db), "--lang", "en"])
    assert refused.exit_code == 1 and "not a valid xlsx workbook" in refused.output


def test_the_report_counts_skipped_rows_not_problems() -> None:
    report = ImportReport(rows=3, added=1, updated=0, ignored_columns=["备注"], problems=[
        patent_import.RowProblem(2, "专利号", "patent_err_number"), patent_import.RowProblem(3, "a", "patent_err_date"),
        patent_import.RowProblem(3, "b", "patent_err_date")])  # fmt: skip
    assert report.lines("zh")[:2] == ["读取 3 行：新增 1 件专利，更新 0 件，跳过 2 行", "未识别的列（已忽略）：备注"]


# ---------------------------------------------------------------------- search


def test_the_index_holds_pairs_and_each_run_s_last_character() -> None:
    assert grams("锂电池，ＺＬ20") == "锂电 电池 池 zl l2 20 0"
    assert match_expression("电池") == '"电池"'
    assert match_expression("锂 电池组") == '"锂" * AND "电池 池组"'
    assert match_expression('" OR * ) ( NEAR') == '"or" AND "ne ea ar"'
    assert match_expression("，。！") is None


async def test_two_and_four_character_chinese_substrings_find_patents_anywhere_in_title_holder_or_abstract(
    catalogue: PatentCatalogue,
) -> None:
    await catalogue.upsert([
        patent(numbered(1), "一种锂离子电池健康状态在线估计方法"),
        patent(numbered(2), "一种风光储微电网能量管理优化方法", abstract="涉及储能电池的充放电调度"),
        patent(numbered(3), "一种耐盐碱水稻新品种选育方法", holder="江苏省农业科学院"),
    ], now=1)  # fmt: skip
    assert [p.number for p in await catalogue.search("电池", 10)] == [numbered(1), numbered(2)]  # title first
    assert [p.number for p in await catalogue.search("健康状态", 10)] == [numbered(1)]
    assert [p.number for p in await catalogue.search("农业", 10)] == [numbered(3)]  # the holder
    assert [p.number for p in await catalogue.search("储能电池", 10)] == [numbered(2)]  # the abstract
    assert [p.number for p in await catalogue.search("盐", 10)] == [numbered(3)]  # one character
    assert await catalogue.search("电网池", 10) == []  # characters that are not adjacent do not match
    assert [p.number for p in await catalogue.search("电池 在线", 10)] == [numbered(1)]  # every word


async def test_a_title_match_ranks_above_any_match_elsewhere(catalogue: PatentCatalogue) -> None:
    await catalogue.upsert([
        patent(numbered(1), "一种污水处理工艺", abstract="检测" * 40),  # many matches, in the abstract only
        patent(numbered(2), "一种核酸检测试剂盒"),
    ], now=1)  # fmt: skip
    assert [p.number for p in await catalogue.search("检测", 10)] == [numbered(2), numbered(1)]


async def test_a_whole_number_finds_that_patent_and_part_of_a_number_finds_it_too(catalogue: PatentCatalogue) -> None:
    await catalogue.upsert([patent(GOOD, "一种方法"), patent(OTHER, "另一种方法")], now=1)
    assert [p.number for p in await catalogue.search("cn 2021101234567", 10)] == [GOOD]
    assert [p.number for p in await catalogue.search("2021101", 10)] == [GOOD]
    assert await catalogue.get("ZL202110123456.8") is None
    assert (await catalogue.get("202110123456.7")) == patent(GOOD, "一种方法")


async def test_a_search_returns_at_most_its_limit_and_never_more_than_fifty(catalogue: PatentCatalogue) -> None:
    await catalogue.upsert([patent(numbered(n), f"一种专利方法{n}") for n in range(1, 61)], now=1)
    assert len(await catalogue.search("专利", 5)) == 5
    assert len(await catalogue.search("专利", 1000)) == 50
    assert len(await catalogue.search("专利", 0)) == 1


async def test_fts_syntax_typed_by_a_seller_is_searched_as_text(catalogue: PatentCatalogue) -> None:
    await catalogue.upsert([patent(numbered(1), "一种 AND 方法")], now=1)
    for q in ['"', "AND", "NOT 方法", "方法*", "(", "title:方法", "^方"]:
        assert isinstance(await catalogue.search(q, 10), list)
    assert [p.number for p in await catalogue.search("and", 10)] == [numbered(1)]


# ---------------------------------------------------------------------- the demo's catalogue


def test_the_demo_patents_are_fixed_valid_and_held_by_the_demo_sellers() -> None:
    patents = demo_patents()
    assert patents == demo_patents() and len(patents) == COUNT
    assert len({p.number for p in patents}) == COUNT and len({p.title for p in patents}) == COUNT
    assert set(HOLDER_FIELDS) == {name for name, _ in SELLER_ORGS} == {p.holder for p in patents}
    assert all((n := parse_number(p.number)) is not None and n.invention for p in patents)
    assert {p.legal_status for p in patents} == set(LegalStatus)
    granted = sorted(p.grant_date for p in patents if p.grant_date)
    assert granted[0].year == 2019 and granted[-1].year == 2026
    assert all(p.grant_date is None for p in patents if p.legal_status is LegalStatus.PENDING)
    assert all(p.ipc and p.abstract and p.inventors and p.application_date for p in patents)


async def test_seeding_the_demo_patents_twice_updates_them(catalogue: PatentCatalogue) -> None:
    assert await seed_patents(catalogue, 1) == COUNT
    assert await seed_patents(catalogue, 2) == COUNT
    assert await catalogue.count() == COUNT
    assert await catalogue.search("水稻", 10)
