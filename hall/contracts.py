"""The contract template (AU-8), pre-filled from the deal: one skeleton per transaction form.

A Word document (.docx), not a PDF: the seed says the contract's content is for the two parties
to settle ("具体合同内容需交易双方确认"), so the template is a draft they complete and amend
(payment terms, delivery, the licence's scope, the share of capital) before printing, signing
and stamping it; Chinese institutions do that in WPS Office or Word, both of which open .docx.
The signed scan is what comes back to the hall, as a PDF or an image.

The deal's facts are filled in (parties, item, price in figures and in capitals, the notice,
the 5-working-day due date); what only the parties can say is left as blanks (＿＿) or boxes
(□) to tick. The wording follows the structure of the Ministry of Science and Technology's
model technology contracts (parties, object, price and payment, delivery, confidentiality,
liability, disputes, signatures), shortened to a skeleton. Like the notice, it is a Chinese
legal text, so its wording lives here; only its title comes from the catalogue.

Pure: facts in, bytes out. Fonts are named, not embedded (宋体 and 黑体, on every Chinese
Windows and in WPS), so the file stays small and the parties' editor uses its own.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Final

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.run import Run

from hall.documents import NoticeFacts, chinese_date
from hall.listing import TransactionForm
from hall.money import capitals, figures
from hall.registration import SHANGHAI, beijing
from hall.web.i18n import translate
from hall.workdays import CONTRACT_WORKING_DAYS

BLANK: Final = "＿＿＿＿＿＿"
DATE_BLANK: Final = "＿＿＿＿年＿＿月＿＿日"
SONG: Final = "宋体"
HEI: Final = "黑体"
DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
"""The media type to serve the template with."""

ROLES: Final[dict[TransactionForm, tuple[str, str]]] = {
    TransactionForm.TRANSFER: ("转让方", "受让方"),
    TransactionForm.LICENCE: ("许可方", "被许可方"),
    TransactionForm.EQUITY: ("技术出资方", "接受出资方"),
}
"""What the seller (甲方) and the buyer (乙方) are called in each form's contract."""


def _noun(form: TransactionForm) -> str:
    """What the document calls itself: an equity contribution is an agreement (协议)."""
    return "协议" if form is TransactionForm.EQUITY else "合同"


def _object_clauses(facts: NoticeFacts) -> list[tuple[str, list[str]]]:
    """The clauses that differ by transaction form: what passes to the buyer, and how."""
    price = f"¥{figures(facts.price)}（大写：{capitals(facts.price)}）"
    payment = [
        f"乙方应于{DATE_BLANK}前，将上述价款支付至甲方指定账户"
        f"（户名：{BLANK}；开户行：{BLANK}；账号：{BLANK}）。",
        f"支付方式：□ 一次性支付　□ 分期支付（{BLANK}）。",
        "乙方付款后，应在交易平台上传付款凭证；甲方收到价款后，应在交易平台确认收款。",
    ]
    if facts.form is TransactionForm.LICENCE:
        return [
            ("第二条　许可内容", [
                "甲方许可乙方实施第一条所列标的。",
                "许可方式：□ 独占许可　□ 排他许可　□ 普通许可。",
                f"许可范围（地域、领域、产品）：{BLANK}。",
                f"许可期限：自{DATE_BLANK}起至{DATE_BLANK}止，"
                "且不超过该标的权利的有效期限。",
                f"甲方应于本合同生效之日起{BLANK}日内，向国家知识产权局办理专利实施许可合同备案，"
                f"并向乙方交付实施所需的技术资料：{BLANK}。",
            ]),
            ("第三条　许可使用费及支付", [f"许可使用费为网络竞价成交价 {price}。", *payment]),
        ]  # fmt: skip
    if facts.form is TransactionForm.EQUITY:
        return [
            ("第二条　出资内容", [
                f"甲方以第一条所列标的作价出资，投入乙方（或双方约定设立的公司：{BLANK}，以下称“目标公司”）。",
                f"标的作价金额为网络竞价成交价 {price}。",
                f"出资后，甲方持有目标公司注册资本 {BLANK} 元，占注册资本的 {BLANK}%。",
                f"甲方应于本协议生效之日起{BLANK}日内，将标的权利变更登记至目标公司名下，并交付技术资料：{BLANK}；"
                f"目标公司应于权利变更登记完成之日起{BLANK}日内，办理股东及注册资本的变更登记。",
            ]),
            ("第三条　股东权利", [
                f"甲方自股权登记之日起依法享有股东权利、承担股东义务；利润分配、表决权及股权转让的约定：{BLANK}。",
            ]),
        ]  # fmt: skip
    return [
        ("第二条　转让内容", [
            "甲方将第一条所列标的的全部权利转让给乙方。",
            f"甲方应于本合同生效之日起{BLANK}日内，向国家知识产权局办理权利转让的著录项目变更登记，"
            f"并向乙方交付技术资料：{BLANK}。",
            "本合同生效前甲方已许可他人实施该标的的，甲方应如实告知：□ 无　□ 有（" + BLANK + "）。",
        ]),
        ("第三条　转让价款及支付", [f"转让价款为网络竞价成交价 {price}。", *payment]),
    ]  # fmt: skip


def _clauses(facts: NoticeFacts) -> list[tuple[str, list[str]]]:
    kind = translate(f"kind_{facts.item_kind}", "zh")
    noun = _noun(facts.form)
    return [
        ("第一条　标的", [
            f"标的名称：{facts.item_title}",
            f"标的类型：{kind}",
            f"专利号 / 登记号：{facts.item_number or BLANK}",
            f"网络竞价：{facts.issuer}，拍品第 {facts.lot} 号，成交时间 {beijing(facts.closed_at)}（北京时间），"
            f"成交通知书编号 {facts.number}。",
        ]),
        *_object_clauses(facts),
        ("第四条　交割", [
            f"双方应按本{noun}约定办理标的交割手续，并各自在交易平台确认交割；交易所据此出具交易凭证。",
        ]),
        ("第五条　保密", [f"双方对在履行本{noun}中知悉的对方技术秘密和商业秘密负有保密义务，保密期限：{BLANK}。"]),
        ("第六条　违约责任", [
            f"任何一方违反本{noun}约定的，应承担继续履行、采取补救措施或者赔偿损失等违约责任；具体约定：{BLANK}。",
        ]),
        ("第七条　争议解决", [
            f"因本{noun}发生的争议，双方应协商解决；协商不成的，□ 提交{BLANK}仲裁委员会仲裁　□ 依法向{BLANK}人民法院起诉。",
        ]),
        ("第八条　其他", [
            (f"双方应于 {chinese_date(facts.contract_due)}前（成交通知书出具之日起 {CONTRACT_WORKING_DAYS} 个工作日内）"
             if facts.contract_due is not None else
             f"双方应于成交通知书出具之日起 {CONTRACT_WORKING_DAYS} 个工作日内（截止日期由交易所另行通知）")
            + f"签署本{noun}，并各自在交易平台上传已签署的{noun}。",
            f"本{noun}自双方签字并盖章之日起生效。本{noun}一式{BLANK}份，双方各执{BLANK}份，交易所留存一份，具有同等法律效力。",
            f"未尽事宜，双方可另行签订补充协议：{BLANK}。",
        ]),
    ]  # fmt: skip


def _east_asian(run: Run, font: str) -> None:
    """Word takes a run's Chinese font from ``w:eastAsia``, which python-docx does not expose."""
    run.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def contract_template(facts: NoticeFacts) -> bytes:
    """The contract for the deal's transaction form as a .docx, pre-filled from the deal."""
    seller_role, buyer_role = ROLES[facts.form]
    noun = _noun(facts.form)
    title = translate(f"doc_contract_{facts.form}", "zh")
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(12)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), SONG)
    props = doc.core_properties
    props.title = title
    props.author = props.last_modified_by = facts.issuer
    props.subject = facts.item_title
    props.created = props.modified = datetime.fromtimestamp(facts.notified_at / 1000, SHANGHAI)
    props.revision = 1

    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(title)
    run.bold = True
    run.font.size = Pt(18)
    run.font.name = HEI
    _east_asian(run, HEI)
    numbered = doc.add_paragraph(f"{noun}编号：{BLANK}")
    numbered.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    note = doc.add_paragraph().add_run(
        f"本{noun}模板由{facts.issuer}根据网络竞价结果预先填写，双方可协商修改、补充后签署。"
    )
    note.font.size = Pt(10.5)

    for role, name in ((f"甲方（{seller_role}）", facts.seller), (f"乙方（{buyer_role}）", facts.buyer)):
        doc.add_paragraph().add_run(f"{role}：{name}").bold = True
        doc.add_paragraph(f"统一社会信用代码：{BLANK}　住所：{BLANK}")
        doc.add_paragraph(f"法定代表人：{BLANK}　联系人及电话：{BLANK}")

    doc.add_paragraph(
        f"甲、乙双方依据《中华人民共和国民法典》等法律法规，根据{facts.issuer}网络竞价的成交结果"
        f"（成交通知书编号：{facts.number}），就下列标的的{translate(f'form_{facts.form}', 'zh')}事宜，"
        f"经平等协商，订立本{noun}。"
    )
    for heading_text, paragraphs in _clauses(facts):
        doc.add_paragraph().add_run(heading_text).bold = True
        for text in paragraphs:
            doc.add_paragraph(text)

    doc.add_paragraph()
    signatures = doc.add_table(rows=4, cols=2)
    lines = [
        (f"甲方（{seller_role}）：{facts.seller}", f"乙方（{buyer_role}）：{facts.buyer}"),
        ("（盖章）", "（盖章）"),
        ("法定代表人或授权代表（签字）：", "法定代表人或授权代表（签字）："),
        ("日期：　　年　　月　　日", "日期：　　年　　月　　日"),
    ]
    for row, (left, right) in zip(signatures.rows, lines, strict=True):
        row.cells[0].text = left
        row.cells[1].text = right

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
