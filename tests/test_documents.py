"""The deal's documents (AU-7, AU-10): the notice and the certificate are PDFs whose Chinese text
reads back, whose QR code decodes to the verification page, and which come out byte for byte
the same from the same facts; verification codes are unguessable and typed back forgivingly."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import msgspec
import pypdf
import pytest
import zxingcpp
from pypdf.generic import DictionaryObject

from hall.documents import (
    CODE_ALPHABET, CODE_LENGTH, CertificateFacts, NoticeFacts, certificate_pdf, grouped, new_verify_code, notice_pdf,
    parse_verify_code, verify_url,
)  # fmt: skip
from hall.listing import ItemKind, TransactionForm

from hallkit import beijing_ms

BASE = "https://hall.example.cn"
DIGEST = hashlib.sha256(b"the lot's last event").hexdigest()
CODE = "7KQM2XHD9RTW"
DEAL = dict(
    issuer="江苏省技术产权交易市场", lot=17, session="高校专利专场", item_title="一种锂电池健康状态估计方法",
    item_number="ZL202110123456.7", item_kind=ItemKind.PATENT, form=TransactionForm.TRANSFER,
    seller="南京大学", buyer="江苏未来能源科技有限公司", price=1_230_000,
    closed_at=beijing_ms(2026, 9, 30, 15, 42, 7), digest=DIGEST, verify_code=CODE,
)  # fmt: skip
NOTICE = NoticeFacts(
    number="CJTZ-2026-000017", bidder_number="0003", notified_at=beijing_ms(2026, 9, 30, 15, 42, 8),
    contract_due=date(2026, 10, 13), **DEAL,  # type: ignore[arg-type]
)  # fmt: skip
CERTIFICATE = CertificateFacts(
    number="JYPZ-2026-000017", notice_number="CJTZ-2026-000017", contracted_at=beijing_ms(2026, 10, 9, 10),
    paid_at=beijing_ms(2026, 10, 20, 9), buyer_handover_at=beijing_ms(2026, 11, 2, 9),
    seller_handover_at=beijing_ms(2026, 11, 3, 9), certified_at=beijing_ms(2026, 11, 3, 9, 0, 1),
    **DEAL,  # type: ignore[arg-type]
)  # fmt: skip


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _qr_codes(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [found.text for page in reader.pages for image in page.images for found in zxingcpp.read_barcodes(image.image)]


def test_the_notice_reads_back_with_its_chinese_facts_price_in_capitals_digest_and_code() -> None:
    text = _text(notice_pdf(NOTICE, BASE))
    for expected in [
        "网络竞价成交通知书", "编号：CJTZ-2026-000017", "江苏省技术产权交易市场", "南京大学", "江苏未来能源科技有限公司",
        "一种锂电池健康状态估计方法", "ZL202110123456.7", "发明专利", "转让", "第 17 号（高校专利专场）", "竞买号\n0003",
        "¥1,230,000", "人民币壹佰贰拾叁万元整", "2026-09-30 15:42:07（北京时间）", "2026年10月13日", DIGEST,
        "核验码：7KQM-2XHD-9RTW", f"{BASE}/verify/{CODE}", "2026年9月30日",
    ]:  # fmt: skip
        assert expected in text, expected


def test_the_certificate_reads_back_with_the_deal_from_hammer_to_handover() -> None:
    text = _text(certificate_pdf(CERTIFICATE, BASE))
    for expected in [
        "交易凭证", "编号：JYPZ-2026-000017", "南京大学", "江苏未来能源科技有限公司", "一种锂电池健康状态估计方法",
        "人民币壹佰贰拾叁万元整", "¥1,230,000", "CJTZ-2026-000017", "合同上传日期\n2026年10月9日",
        "付款确认日期\n2026年10月20日", "买受人 2026年11月2日；委托人 2026年11月3日", DIGEST,
        "核验码：7KQM-2XHD-9RTW", f"{BASE}/verify/{CODE}",
    ]:  # fmt: skip
        assert expected in text, expected


@pytest.mark.parametrize("make", [lambda: notice_pdf(NOTICE, BASE), lambda: certificate_pdf(CERTIFICATE, BASE + "/")])
def test_the_qr_code_in_the_pdf_decodes_to_the_verification_page(make: object) -> None:
    assert _qr_codes(make()) == [f"{BASE}/verify/{CODE}"]  # type: ignore[operator]


def test_the_same_facts_make_the_same_bytes_dated_by_the_facts() -> None:
    pdf = notice_pdf(NOTICE, BASE)
    assert pdf == notice_pdf(NOTICE, BASE)
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None
    assert info["/CreationDate"] == "D:20260930154208+08'00'"
    assert info.title == "网络竞价成交通知书 CJTZ-2026-000017"
    assert pdf != notice_pdf(msgspec.structs.replace(NOTICE, price=1_230_001), BASE)


def test_chinese_is_set_in_the_standard_cid_font_and_no_font_file_is_embedded() -> None:
    reader = pypdf.PdfReader(io.BytesIO(notice_pdf(NOTICE, BASE)))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    cid = [f.get_object() for f in fonts.values() if f.get_object()["/BaseFont"] == "/STSong-Light"]
    assert len(cid) == 1 and cid[0]["/Encoding"] == "/UniGB-UCS2-H"
    for font in fonts.values():
        for descendant in font.get_object().get("/DescendantFonts", []):
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            assert isinstance(descriptor, DictionaryObject)
            assert not {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)


def test_names_are_printed_as_given_never_read_as_markup() -> None:
    facts = msgspec.structs.replace(NOTICE, seller="A&B <b>研究院</b>", buyer="甲 &amp; 乙")
    text = _text(notice_pdf(facts, BASE))
    assert "A&B <b>研究院</b>" in text and "甲 &amp; 乙" in text


@pytest.mark.parametrize("change", [{"digest": "ABC"}, {"digest": DIGEST.upper()}, {"verify_code": "O0I1L7KQM2XH"},
                                    {"price": 0}, {"buyer": ""}])  # fmt: skip
def test_facts_of_the_wrong_shape_make_no_document(change: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        notice_pdf(msgspec.structs.replace(NOTICE, **change), BASE)


def test_verify_codes_are_long_random_and_free_of_look_alikes() -> None:
    codes = {new_verify_code() for _ in range(2_000)}
    assert len(codes) == 2_000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(CODE_ALPHABET)


def test_a_typed_code_is_read_whatever_its_case_and_grouping_and_anything_else_is_refused() -> None:
    assert grouped(CODE) == "7KQM-2XHD-9RTW"
    for typed in [CODE, "7kqm-2xhd-9rtw", " 7KQM 2XHD 9RTW ", grouped(CODE)]:
        assert parse_verify_code(typed) == CODE
    for wrong in ["", "7KQM2XHD9RT", "7KQM2XHD9RTWX", "7KQM2XHD9RT0", "7KQM2XHD9RTO", "7KQM/2XHD/9RTW", "７KQM2XHD9RTW",
                  "7" * 10_000]:  # fmt: skip
        assert parse_verify_code(wrong) is None


def test_the_verification_url_joins_the_base_and_the_code() -> None:
    assert verify_url("https://hall.example.cn/", CODE) == verify_url(BASE, CODE) == f"{BASE}/verify/{CODE}"
