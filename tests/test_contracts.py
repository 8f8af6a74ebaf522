"""The contract template (AU-8): an editable Word document per transaction form, with the deal's
parties, item, price in figures and capitals, notice and due date filled in."""

from __future__ import annotations

import io

import docx
import msgspec
import pytest

from hall.contracts import ROLES, contract_template
from hall.listing import TransactionForm

from test_documents import NOTICE


def _text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


@pytest.mark.parametrize(("form", "title", "own_words"), [
    (TransactionForm.TRANSFER, "技术转让合同", "转让价款为网络竞价成交价"),
    (TransactionForm.LICENCE, "技术许可合同", "许可方式：□ 独占许可"),
    (TransactionForm.EQUITY, "技术作价入股协议", "占注册资本的"),
])  # fmt: skip
def test_each_form_has_its_contract_filled_with_the_deal(form: TransactionForm, title: str, own_words: str) -> None:
    data = contract_template(msgspec.structs.replace(NOTICE, form=form))
    text = _text(data)
    seller_role, buyer_role = ROLES[form]
    for expected in [
        title, own_words, f"甲方（{seller_role}）：南京大学", f"乙方（{buyer_role}）：江苏未来能源科技有限公司",
        "一种锂电池健康状态估计方法", "ZL202110123456.7", "¥1,230,000（大写：人民币壹佰贰拾叁万元整）",
        "成交通知书编号：CJTZ-2026-000017", "拍品第 17 号", "双方应于 2026年10月13日前", "（签字）",
    ]:  # fmt: skip
        assert expected in text, expected
    assert docx.Document(io.BytesIO(data)).core_properties.title == title


def test_the_forms_differ_where_the_law_differs() -> None:
    transfer, licence, equity = (_text(contract_template(msgspec.structs.replace(NOTICE, form=f)))
                                 for f in (TransactionForm.TRANSFER, TransactionForm.LICENCE, TransactionForm.EQUITY))  # fmt: skip
    assert "专利实施许可合同备案" in licence and "专利实施许可合同备案" not in transfer
    assert "许可期限" not in transfer
    assert "本协议自双方签字并盖章之日起生效" in equity and "本合同" not in equity  # an agreement calls itself so
