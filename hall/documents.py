"""The deal's two documents as PDF: the transaction notice (AU-7) and the transaction certificate
(AU-10), each with a QR code to its public verification page; and the verification codes.

Pure: facts in, PDF bytes out; no database, no clock. The same facts give the same bytes
(reportlab's invariant mode, the PDF's dates taken from the facts), so a document can be made
again whenever it is asked for and never needs to be stored.

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (Adobe's standard Simplified
Chinese font, named in the PDF, not embedded): nothing is shipped in the repository or installed
on the server, and a document weighs a few kilobytes. Debian's ``fonts-noto-cjk`` is no
alternative: its fonts are OpenType with PostScript (CFF) outlines inside a TrueType collection,
and reportlab embeds TrueType outlines only. Every viewer in use substitutes a Song or sans CJK
font for the standard name (Adobe Reader, PDFium in Chromium and Edge, poppler, macOS Preview,
WPS), and the text stays real text: it can be searched, copied and extracted (the tests read it
back with pypdf). Latin letters and digits are set in the standard Helvetica and Courier, which
every viewer has, so that numbers and the digest read cleanly.

The documents are the exchange's instruments in Chinese, like its SMS (``hall/notify.py``): their
wording lives here, and only the names the interface shows (a document's title, a transaction
form, an item's kind) come from the catalogue, so that each name is written once.
"""

from __future__ import annotations

import io
import re
import secrets
from datetime import date, datetime
from typing import Annotated, Any, Final, TypeVar
from xml.sax.saxutils import escape

import msgspec
import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hall.engine.spec import Yuan
from hall.listing import ItemKind, TransactionForm
from hall.money import capitals, figures
from hall.registration import SHANGHAI, beijing
from hall.web.i18n import translate
from hall.workdays import CONTRACT_WORKING_DAYS, beijing_date

# ------------------------------------------------------------------------------ verification codes

CODE_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Digits and capitals without the look-alikes 0/O, 1/I/L and U/V: a code read off paper is
typed right the first time."""
CODE_LENGTH: Final = 12
"""12 symbols of 30: about 59 bits, beyond guessing even without the page's rate limit."""
_CODE_SEPARATORS: Final = re.compile(r"[\s-]")
VerifyCode = Annotated[str, msgspec.Meta(pattern=f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")]


def new_verify_code() -> str:
    """A fresh verification code, ``CODE_LENGTH`` symbols from ``CODE_ALPHABET`` drawn with
    ``secrets``; the deal keeps it, and ``/verify/{code}`` finds the document by it."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def parse_verify_code(typed: str) -> str | None:
    """The code someone typed (any case, spaces or hyphens between the groups) in its stored
    form, or None when it cannot be one: the check at the verification page's edge."""
    code = _CODE_SEPARATORS.sub("", typed[: 2 * CODE_LENGTH]).upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def grouped(code: str) -> str:
    """A code as printed, in groups of four: ``7KQM-2XHD-9RTW``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verify_url(base: str, code: str) -> str:
    """The public page that shows a document's key facts: what the QR code holds."""
    return f"{base.rstrip('/')}/verify/{code}"


# ------------------------------------------------------------------------------------- the facts

Digest = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
"""The lot record's final SHA-256, in lower-case hex (issue 12's hash chain)."""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class DealFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What both documents say about a deal. The deal's code fills it from its tables; names are
    the organisations' (or persons') registered names, instants epoch ms."""

    issuer: Name
    """The exchange that issues the document, e.g. 江苏省技术产权交易市场."""
    number: Name
    """The document's own number (the notice's or the certificate's)."""
    lot: int
    session: str
    """The session the lot was auctioned in (may be empty)."""
    item_title: Name
    item_number: str
    """The patent or registration number (may be empty for an achievement)."""
    item_kind: ItemKind
    form: TransactionForm
    seller: Name
    """委托人: the organisation that listed the item."""
    buyer: Name
    """买受人: the winner."""
    price: Yuan
    closed_at: int
    """The hammer: when the lot closed sold."""
    digest: Digest
    verify_code: VerifyCode


class NoticeFacts(DealFacts, frozen=True, kw_only=True):
    """The 《网络竞价成交通知书》 (AU-7); the contract template is filled from the same facts."""

    bidder_number: Name
    notified_at: int
    """When the notice was issued: its date, and the day the contract's period counts from."""
    contract_due: date | None
    """``hall.workdays.contract_due(notified_at)``, as the deal stores it; None while the
    working-day calendar does not know its year (the notice says so, never a guess)."""
    uncovered_year: int | None = None
    """With no ``contract_due``: the year the working-day calendar does not cover."""


class CertificateFacts(DealFacts, frozen=True, kw_only=True):
    """The 《交易凭证》 (AU-10), issued once both parties have confirmed the handover."""

    notice_number: Name
    contracted_at: int
    """When the signed contract was in (the deal became ``contracted``)."""
    paid_at: int
    """When the seller confirmed the payment."""
    buyer_handover_at: int
    seller_handover_at: int
    certified_at: int
    """When the certificate was issued."""


F = TypeVar("F", bound=DealFacts)
_NOTICE_DECODER: Final = msgspec.json.Decoder(NoticeFacts)
_CERTIFICATE_DECODER: Final = msgspec.json.Decoder(CertificateFacts)


def _checked(facts: F, decoder: msgspec.json.Decoder[F]) -> F:
    """The facts after their constraints are checked (msgspec checks them when decoding, not
    when a Struct is built): a digest or a code of the wrong shape is a bug to stop, never a
    document to issue."""
    return decoder.decode(msgspec.json.encode(facts))


# ------------------------------------------------------------------------------------ the layout

CJK_FONT: Final = "STSong-Light"
LATIN_FONT: Final = "Helvetica"
MONO_FONT: Final = "Courier"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

MARGIN: Final = 20 * mm
QR_SIZE: Final = 34 * mm
QR_SCALE: Final = 8
"""Pixels per QR module: whole pixels, so the code stays sharp at print sizes in any viewer."""
_LATIN_RUN: Final = re.compile(r"[\x20-\x7e¥]+")

_BODY: Final = ParagraphStyle("body", fontName=CJK_FONT, fontSize=11, leading=18, wordWrap="CJK")
_INDENTED: Final = ParagraphStyle("indented", parent=_BODY, firstLineIndent=22)
_CELL: Final = ParagraphStyle("cell", parent=_BODY, fontSize=10.5, leading=14)
_DIGEST: Final = ParagraphStyle("digest", parent=_CELL, fontName=MONO_FONT, fontSize=9)
_LABEL: Final = ParagraphStyle("label", parent=_CELL, textColor=colors.HexColor("#333333"))
_SMALL: Final = ParagraphStyle("small", parent=_BODY, fontSize=9, leading=13, textColor=colors.HexColor("#444444"))
_ISSUER: Final = ParagraphStyle("issuer", parent=_BODY, fontSize=13, leading=20, alignment=TA_CENTER)
_TITLE: Final = ParagraphStyle("title", parent=_BODY, fontSize=22, leading=32, alignment=TA_CENTER)
_RIGHT: Final = ParagraphStyle("right", parent=_BODY, alignment=TA_RIGHT)


def _mixed(text: str) -> str:
    """Paragraph markup for ``text`` (escaped: names are users' data), its runs of Latin letters
    and digits in Helvetica, the rest in the CJK font."""
    out: list[str] = []
    last = 0
    for run in _LATIN_RUN.finditer(text):
        out.append(escape(text[last : run.start()]))
        out.append(f'<font face="{LATIN_FONT}">{escape(run.group())}</font>')
        last = run.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(_mixed(text), style)


def _mono(text: str) -> Paragraph:
    """A digest on one line: Courier 9 pt sets 64 hex digits in the table's value column."""
    return Paragraph(escape(text), _DIGEST)


def chinese_date(day: date) -> str:
    """A date as the documents write it: ``2026年10月13日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def due_text(facts: NoticeFacts) -> str:
    """The notice's and the contract template's words for the due date: the date, or that it is
    unknown and why (catalogue ``deal_due_unknown``)."""
    if facts.contract_due is not None:
        return f"{chinese_date(facts.contract_due)}（含当日）"
    return translate("deal_due_unknown", "zh").format(year=facts.uncovered_year)


def _day(ms: int) -> str:
    return chinese_date(beijing_date(ms))


def _facts_table(rows: list[tuple[str, Paragraph]]) -> Table:
    width = A4[0] - 2 * MARGIN
    table = Table([[_p(label, _LABEL), value] for label, value in rows], colWidths=[36 * mm, width - 36 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))  # fmt: skip
    return table


def _item_rows(facts: DealFacts) -> list[tuple[str, Paragraph]]:
    lot = f"第 {facts.lot} 号" + (f"（{facts.session}）" if facts.session else "")
    return [
        ("拍品", _p(lot, _CELL)),
        ("标的名称", _p(facts.item_title, _CELL)),
        (translate("item_number", "zh"), _p(facts.item_number or "—", _CELL)),
        ("标的类型", _p(translate(f"kind_{facts.item_kind}", "zh"), _CELL)),
        ("交易方式", _p(translate(f"form_{facts.form}", "zh"), _CELL)),
        ("委托人", _p(facts.seller, _CELL)),
        ("买受人", _p(facts.buyer, _CELL)),
    ]


def _price_rows(facts: DealFacts) -> list[tuple[str, Paragraph]]:
    return [
        ("成交价（小写）", _p(f"¥{figures(facts.price)}", _CELL)),
        ("成交价（大写）", _p(capitals(facts.price), _CELL)),
        ("成交时间", _p(f"{beijing(facts.closed_at)}（北京时间）", _CELL)),
    ]


def _verification(facts: DealFacts, base_url: str, what: str) -> KeepTogether:
    """The QR code to the verification page beside the code and the address, for a reader
    without a phone."""
    url = verify_url(base_url, facts.verify_code)
    png = io.BytesIO()
    segno.make_qr(url, error="m").save(png, kind="png", scale=QR_SCALE, border=4)
    png.seek(0)
    words = [
        _p(f"核验码：{grouped(facts.verify_code)}", _BODY),
        _p(f"扫描二维码，或访问以下地址，可核验本{what}的真实性及其关键信息：", _SMALL),
        Paragraph(f'<font face="{MONO_FONT}">{escape(url)}</font>', _SMALL),
        _p("竞价记录摘要为该拍品全部竞价事件的 SHA-256 哈希链终值，可据公开的竞价记录重新计算核对。", _SMALL),
    ]
    width = A4[0] - 2 * MARGIN
    block = Table([[Image(png, width=QR_SIZE, height=QR_SIZE), words]], colWidths=[QR_SIZE + 6 * mm, width - QR_SIZE - 6 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return KeepTogether([Spacer(1, 4 * mm), block])


def _signature(issuer: str, issued_at: int) -> list[Flowable]:
    return [Spacer(1, 4 * mm), _p(issuer, _RIGHT), _p(_day(issued_at), _RIGHT)]


def _pdf(story: list[Flowable], *, title: str, subject: str, issuer: str, issued_at: int) -> bytes:
    """The story on A4 as PDF bytes, its metadata and dates taken from the facts."""
    stamp = datetime.fromtimestamp(issued_at / 1000, SHANGHAI).strftime("D:%Y%m%d%H%M%S+08'00'")

    def canvas(*args: Any, **kwargs: Any) -> Canvas:
        made = Canvas(*args, **kwargs)
        made.setDateFormatter(lambda *_: stamp)
        return made

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
        title=title, subject=subject, author=issuer, creator="hall", invariant=1, lang="zh-CN",
    )  # fmt: skip
    doc.build(story, canvasmaker=canvas)
    return out.getvalue()


def _heading(facts: DealFacts, title: str) -> list[Flowable]:
    return [
        _p(facts.issuer, _ISSUER),
        Spacer(1, 2 * mm),
        _p(title, _TITLE),
        Spacer(1, 2 * mm),
        _p(f"编号：{facts.number}", _RIGHT),
        Spacer(1, 4 * mm),
    ]


# ------------------------------------------------------------------------------------ the notice


def _until(facts: NoticeFacts) -> str:
    if facts.contract_due is None:
        return "（截止日期由本所另行通知）"
    return f"，即 {chinese_date(facts.contract_due)} 24 时前"


def notice_pdf(facts: NoticeFacts, base_url: str) -> bytes:
    """The 《网络竞价成交通知书》 (AU-7): who won what at which price, when the contract is due,
    the lot record's digest and the QR code to ``{base_url}/verify/{code}``."""
    facts = _checked(facts, _NOTICE_DECODER)
    if (facts.contract_due is None) == (facts.uncovered_year is None):
        raise msgspec.ValidationError("a notice has either its contract due date or the year the calendar does not cover")
    title = translate("doc_notice", "zh")
    story: list[Flowable] = [
        *_heading(facts, title),
        _p(f"{facts.buyer}：", _BODY),
        _p(
            f"贵方以竞买号 {facts.bidder_number} 参加本所组织的网络竞价，于 {beijing(facts.closed_at)}（北京时间）"
            f"竞得下列标的，成交价为{capitals(facts.price)}（¥{figures(facts.price)}）。特此通知。",
            _INDENTED,
        ),
        Spacer(1, 4 * mm),
        _facts_table([
            *_item_rows(facts),
            ("竞买号", _p(facts.bidder_number, _CELL)),
            *_price_rows(facts),
            ("合同签署期限", _p(due_text(facts), _CELL)),
            ("竞价记录摘要", _mono(facts.digest)),
        ]),
        Spacer(1, 4 * mm),
        _p(
            f"请买受人与委托人自本通知书出具之日起 {CONTRACT_WORKING_DAYS} 个工作日内{_until(facts)}，"
            "签署技术交易合同（合同模板可在本平台【我的竞拍 > 交易记录】中下载），并在本平台上传已签署的合同；"
            "按合同约定自行结算成交价款，并上传付款凭证；办理标的交割后在线确认交割，由本所出具交易凭证。",
            _INDENTED,
        ),
        *_signature(facts.issuer, facts.notified_at),
        _verification(facts, base_url, "通知书"),
    ]
    return _pdf(story, title=f"{title} {facts.number}", subject=facts.item_title, issuer=facts.issuer,
                issued_at=facts.notified_at)


# ------------------------------------------------------------------------------- the certificate


def certificate_pdf(facts: CertificateFacts, base_url: str) -> bytes:
    """The 《交易凭证》 (AU-10): the deal's facts from the hammer to the handover, the lot
    record's digest and the QR code to ``{base_url}/verify/{code}``."""
    facts = _checked(facts, _CERTIFICATE_DECODER)
    title = translate("doc_certificate", "zh")
    story: list[Flowable] = [
        *_heading(facts, title),
        _p(
            "兹证明下列技术交易经本所网络竞价成交，交易双方已签署技术交易合同、结算成交价款并确认标的交割，"
            "交易已完成。",
            _INDENTED,
        ),
        Spacer(1, 4 * mm),
        _facts_table([
            *_item_rows(facts),
            *_price_rows(facts),
            ("成交通知书编号", _p(facts.notice_number, _CELL)),
            ("合同上传日期", _p(_day(facts.contracted_at), _CELL)),
            ("付款确认日期", _p(_day(facts.paid_at), _CELL)),
            ("交割确认日期", _p(f"买受人 {_day(facts.buyer_handover_at)}；委托人 {_day(facts.seller_handover_at)}", _CELL)),
            ("竞价记录摘要", _mono(facts.digest)),
        ]),
        *_signature(facts.issuer, facts.certified_at),
        _verification(facts, base_url, "凭证"),
    ]
    return _pdf(story, title=f"{title} {facts.number}", subject=facts.item_title, issuer=facts.issuer,
                issued_at=facts.certified_at)
