"""The rules of a listing (LS-1 to LS-10): fields, validation, ownership, the season, states."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from hall.listing import ItemKind, TransactionForm
from hall.listings import (ABSTRACT_MAX, INVENTORS_MAX, PRICE_MAX, TITLE_MAX, SELLER_ACTIONS, STAFF_ACTIONS,
                           TRANSITIONS, FieldError, ListingAction, ListingDraft, ListingState, Maturity,
                           Ownership, SeasonRules, after, can, canonical_ipc, choice_key, eligible, field_key,
                           needs_authorisation, next_actions, normalise, ownership, refusal, validate)  # fmt: skip
from hall.patents import LegalStatus, check_digit, make_patent
from hall.reviews.verifications import ORG_KINDS
from hall.web.i18n import MESSAGES, text

TODAY = date(2025, 6, 1)


def patent(**changes: object) -> ListingDraft:
    draft = ListingDraft(
        kind=ItemKind.PATENT, title="一种锂电池健康状态的估计方法", number="ZL202110123456.7", holder="示例大学",
        grant_date=date(2023, 6, 20), legal_status=LegalStatus.VALID, abstract="本发明公开了……",
        forms=[TransactionForm.TRANSFER], start_price=100_000, season=True, agreement=True, inventors=["张三", "李四"],
        application_date=date(2021, 1, 15), ipc="H01M 10/48",
    )  # fmt: skip
    return msgspec.structs.replace(draft, **changes)


def achievement(**changes: object) -> ListingDraft:
    draft = ListingDraft(kind=ItemKind.ACHIEVEMENT, title="钠离子电池正极材料制备技术", holder="示例研究院",
                         abstract="成果简介", forms=[TransactionForm.LICENCE, TransactionForm.EQUITY], start_price=500_000,
                         agreement=True, field="新能源", maturity=Maturity.PILOT)  # fmt: skip
    return msgspec.structs.replace(draft, **changes)


def codes(draft: ListingDraft) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in validate(draft, on=TODAY)}


def number(digits: str) -> str:
    return f"ZL{digits}.{check_digit(digits)}"


# ---------------------------------------------------------------------- validation


def test_a_complete_invention_patent_and_achievement_pass_ls1_ls5() -> None:
    assert validate(patent(), on=TODAY) == []
    assert validate(achievement(), on=TODAY) == []


@pytest.mark.parametrize("status", ["有效", "审中"])
def test_ls3_a_patent_from_the_lookup_fills_a_listing_that_validates(status: str) -> None:
    """The JSON /api/patents answers (a patent as a catalogue or a service writes it, its status
    in Chinese) is what a listing takes for the same fields: dates, and the status mapped into
    the one ``LegalStatus``."""
    granted = date(2023, 6, 20) if status == "有效" else None
    found = make_patent({"number": "CN 2021 1 0123456.7", "title": "一种锂电池健康状态的估计方法", "holder": "示例大学",
                         "grant_date": granted, "application_date": "2021/1/15", "ipc": "H01M 10/48",
                         "legal_status": status, "abstract": "本发明公开了……"})  # fmt: skip
    picked = {k: v for k, v in msgspec.to_builtins(found).items() if k != "inventors"}
    fields = {"kind": "patent", "forms": ["transfer"], "start_price": 100_000, "agreement": True, "inventors": ["张三"]}
    draft = msgspec.json.decode(msgspec.json.encode(picked | fields), type=ListingDraft)
    assert draft.legal_status is (LegalStatus.VALID if granted else LegalStatus.PENDING)
    assert validate(normalise(draft), on=TODAY) == []


def test_ls1_a_utility_model_or_design_is_not_an_invention_patent() -> None:
    assert codes(patent(number=number("202120123456"))) == {("number", "not_invention")}
    assert codes(patent(number=number("202130123456"))) == {("number", "not_invention")}


def test_ls3_a_wrong_check_digit_is_refused_and_the_number_is_stored_canonical() -> None:
    assert codes(patent(number="ZL202110123456.8")) == {("number", "bad_number")}
    assert normalise(patent(number=" cn 2021 1 0123456 7 ")).number == "ZL202110123456.7"


def test_an_empty_patent_names_every_required_field() -> None:
    found = codes(ListingDraft(kind=ItemKind.PATENT))
    assert found == {("title", "required"), ("number", "required"), ("holder", "required"),
                     ("inventors", "required"), ("application_date", "required"), ("legal_status", "required"),
                     ("ipc", "required"), ("abstract", "required"), ("forms", "required"),
                     ("start_price", "price_range"), ("agreement", "agreement_required")}  # fmt: skip


def test_an_empty_achievement_names_its_own_required_fields() -> None:
    found = codes(ListingDraft(kind=ItemKind.ACHIEVEMENT))
    assert {("field", "required"), ("maturity", "required"), ("title", "required")} <= found
    assert not {f for f, _ in found} & {"number", "inventors", "ipc", "application_date"}


def test_patent_fields_on_an_achievement_and_achievement_fields_on_a_patent_are_refused() -> None:
    assert codes(achievement(ipc="G06F 16/00", inventors=["张三"])) == {("ipc", "not_for_kind"),
                                                                         ("inventors", "not_for_kind")}
    assert codes(patent(maturity=Maturity.LAB)) == {("maturity", "not_for_kind")}


def test_lengths_and_list_sizes_are_bounded() -> None:
    assert validate(patent(title="名" * TITLE_MAX), on=TODAY) == []
    [error] = validate(patent(title="名" * (TITLE_MAX + 1)), on=TODAY)
    assert (error.field, error.code, error.params) == ("title", "too_long", {"max": TITLE_MAX})
    assert codes(achievement(abstract="字" * (ABSTRACT_MAX + 1))) == {("abstract", "too_long")}
    assert codes(patent(inventors=[f"发明人{i}" for i in range(INVENTORS_MAX + 1)])) == {("inventors", "too_many")}
    assert codes(patent(inventors=["张三", "张 三"])) == {("inventors", "duplicate")}
    assert codes(patent(co_holders=["示例大学"])) == {("co_holders", "duplicate")}
    assert codes(patent(title="标题\x00")) == {("title", "bad_text")}


@pytest.mark.parametrize(("price", "ok"), [(0, False), (1, True), (PRICE_MAX, True), (PRICE_MAX + 1, False), (-5, False)])
def test_ls5_the_start_price_is_whole_yuan_from_1_to_a_trillion(price: int, ok: bool) -> None:
    assert (codes(patent(start_price=price)) == set()) is ok


def test_ls5_transaction_forms_are_one_or_more_without_repeats() -> None:
    assert codes(patent(forms=[])) == {("forms", "required")}
    assert codes(patent(forms=[TransactionForm.LICENCE, TransactionForm.LICENCE])) == {("forms", "duplicate")}


def test_ls2_the_listing_agreement_must_be_accepted() -> None:
    assert codes(patent(agreement=False)) == {("agreement", "agreement_required")}


def test_a_grant_date_may_be_today_but_not_tomorrow() -> None:
    assert codes(patent(grant_date=TODAY)) == set()
    assert codes(patent(grant_date=TODAY + timedelta(days=1))) == {("grant_date", "future_date")}


def test_the_grant_date_is_not_before_the_filing_date_whose_year_the_number_names() -> None:
    assert codes(patent(grant_date=date(2021, 1, 14))) == {("grant_date", "grant_before_application")}
    [error] = validate(patent(application_date=date(2020, 12, 31), grant_date=date(2023, 1, 1)), on=TODAY)
    assert (error.code, error.params) == ("application_year", {"year": 2021})


def test_legal_status_decides_the_grant_date_and_a_lapsed_patent_is_refused() -> None:
    assert codes(patent(legal_status=LegalStatus.PENDING, grant_date=None)) == set()
    assert codes(patent(legal_status=LegalStatus.PENDING)) == {("grant_date", "grant_date_pending")}
    assert codes(patent(grant_date=None)) == {("grant_date", "required")}
    assert codes(patent(legal_status=LegalStatus.LAPSED)) == {("legal_status", "lapsed")}


@pytest.mark.parametrize(("raw", "canonical"), [("G06F 16/00", "G06F 16/00"), ("H01M10/48", "H01M 10/48"),
                                                ("g06f 16/2455", "G06F 16/2455"), ("Ａ61Ｋ 31/00", "A61K 31/00"),
                                                ("C07D 401 / 12", "C07D 401/12")])  # fmt: skip
def test_ipc_classes_are_read_in_their_usual_spellings(raw: str, canonical: str) -> None:
    assert canonical_ipc(raw) == canonical
    assert normalise(patent(ipc=raw)).ipc == canonical


@pytest.mark.parametrize("raw", ["G06F", "I01M 10/48", "G6F 16/00", "G06F 16/0", "G06F 16", "G06F 12345/00", "16/00"])
def test_malformed_ipc_classes_are_refused(raw: str) -> None:
    assert canonical_ipc(raw) is None
    assert codes(patent(ipc=raw)) == {("ipc", "bad_ipc")}


def test_every_error_has_a_message_in_both_languages() -> None:
    drafts = [ListingDraft(kind=ItemKind.PATENT), ListingDraft(kind=ItemKind.ACHIEVEMENT), patent(number="ZL1"),
              patent(number=number("202120123456")), patent(title="x" * 999, inventors=["a", "a"] * 30),
              patent(grant_date=TODAY + timedelta(1)), patent(legal_status=LegalStatus.LAPSED),
              patent(legal_status=LegalStatus.PENDING), patent(grant_date=date(2020, 1, 1)),
              patent(application_date=date(2020, 1, 1), grant_date=date(2020, 2, 1)), patent(ipc="x"),
              patent(title="\x07", forms=[TransactionForm.EQUITY] * 2, maturity=Maturity.LAB),
              patent(inventors=["甲", "甲"])]  # fmt: skip
    errors: list[FieldError] = [e for d in drafts for e in validate(d, on=TODAY)]
    assert len({e.code for e in errors}) >= 15
    for error in errors:
        assert error.key in MESSAGES
        zh, en = error.message("zh"), error.message("en")
        assert zh != en and "{" not in zh + en
    for kind in ItemKind:
        for field in ListingDraft.__struct_fields__:
            assert field_key(kind, field) in MESSAGES


def test_the_draft_decodes_from_the_apis_json() -> None:
    body = (b'{"kind": "patent", "title": "t", "number": "ZL202110123456.7", "holder": "h", "grant_date": "2023-06-20",'
            b' "legal_status": "valid", "abstract": "a", "forms": ["transfer", "licence"], "start_price": 100,'
            b' "season": true, "agreement": true}')  # fmt: skip
    draft = msgspec.json.decode(body, type=ListingDraft)
    assert draft.grant_date == date(2023, 6, 20) and draft.forms == [TransactionForm.TRANSFER, TransactionForm.LICENCE]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"kind": "patent", "surprise": 1}', type=ListingDraft)


# ---------------------------------------------------------------------- ownership (LS-4)


@pytest.mark.parametrize("org", ["示例大学", " 示例 大学\u3000", "示例大学"])
def test_ls4_own_when_the_shops_organisation_is_the_right_holder(org: str) -> None:
    assert ownership(["示例大学"], org) is Ownership.OWN
    assert not needs_authorisation(Ownership.OWN)


def test_ls4_full_width_and_half_width_names_are_the_same_organisation() -> None:
    assert ownership(["中国科学院（南京）研究所"], "中国科学院(南京)研究所") is Ownership.OWN
    assert ownership(["ABC University"], "abc university") is Ownership.OWN


def test_ls4_agent_when_someone_else_holds_the_right_and_it_needs_their_authorisation() -> None:
    assert ownership(["另一所大学"], "示例大学") is Ownership.AGENT
    assert ownership(["示例大学"], "") is Ownership.AGENT
    assert needs_authorisation(Ownership.AGENT)


def test_ls4_a_co_owned_patent_is_agent_even_for_one_of_its_holders() -> None:
    draft = patent(co_holders=["合作企业有限公司"])
    assert draft.holders == ["示例大学", "合作企业有限公司"]
    assert ownership(draft.holders, "示例大学") is Ownership.AGENT


# ---------------------------------------------------------------------- the season (LS-6, LS-10)

RULES = SeasonRules.for_year(2025)


def test_ls10_the_season_takes_patents_granted_from_1_january_three_years_before() -> None:
    assert RULES.granted_from == date(2022, 1, 1)
    assert SeasonRules.for_year(2022).granted_from == date(2019, 1, 1)  # the 2022 notice: 2019年1月1日后授权


def test_ls10_grant_date_boundary_31_december_refused_1_january_accepted() -> None:
    late = eligible(patent(grant_date=date(2021, 12, 31)), Ownership.OWN, "university", RULES, 0)
    assert late is not None and (late.code, late.key, late.params) == ("not_eligible", "season_granted_before",
                                                                       {"date": "2022-01-01"})  # fmt: skip
    assert eligible(patent(grant_date=date(2022, 1, 1)), Ownership.OWN, "university", RULES, 0) is None


def test_ls10_a_season_patent_must_be_valid_and_granted() -> None:
    pending = patent(legal_status=LegalStatus.PENDING, grant_date=None)
    refused = eligible(pending, Ownership.OWN, "institute", RULES, 0)
    assert refused is not None and (refused.code, refused.key) == ("not_eligible", "season_not_valid")


@pytest.mark.parametrize("org_kind", ORG_KINDS)
def test_ls6_only_universities_institutes_and_soes_enter(org_kind: str) -> None:
    refused = eligible(patent(), Ownership.OWN, org_kind, RULES, 0)
    if org_kind in ("university", "institute", "soe"):
        assert refused is None
    else:
        assert refused is not None and (refused.code, refused.key) == ("not_eligible", "season_org_kind")


def test_ls6_only_own_items_enter_the_season() -> None:
    refused = eligible(patent(), Ownership.AGENT, "university", RULES, 0)
    assert refused is not None and (refused.code, refused.key) == ("not_eligible", "season_not_own")


def test_ls6_achievements_enter_without_the_patent_rules() -> None:
    assert eligible(achievement(), Ownership.OWN, "soe", RULES, 0) is None
    patents_only = msgspec.structs.replace(RULES, kinds=(ItemKind.PATENT,))
    refused = eligible(achievement(), Ownership.OWN, "soe", patents_only, 0)
    assert refused is not None and refused.key == "season_kind"


def test_ls10_the_50th_item_enters_and_the_51st_is_org_limit() -> None:
    assert eligible(patent(), Ownership.OWN, "university", RULES, 49) is None
    refused = eligible(patent(), Ownership.OWN, "university", RULES, 50)
    assert refused is not None and (refused.code, refused.params) == ("org_limit", {"max": 50})
    assert refused.status == 409
    assert "50" in text(refused.key, "zh", refused.params) and "50" in text(refused.key, "en", refused.params)


def test_season_rules_are_data_stored_and_changed_per_season() -> None:
    stored = msgspec.json.encode(msgspec.structs.replace(RULES, max_per_org=2))
    rules = msgspec.json.decode(stored, type=SeasonRules)
    assert rules.granted_from == date(2022, 1, 1) and rules.org_kinds == ("university", "institute", "soe")
    refused = eligible(patent(), Ownership.OWN, "university", rules, 2)
    assert refused is not None and refused.code == "org_limit"
    assert set(rules.org_kinds) <= set(ORG_KINDS)


# ---------------------------------------------------------------------- states (LS-7, LS-9)


def test_ls7_review_approves_or_rejects_and_a_rejected_item_is_edited_and_resubmitted() -> None:
    assert after(ListingState.PENDING, ListingAction.APPROVE) is ListingState.LISTED
    assert after(ListingState.PENDING, ListingAction.REJECT) is ListingState.REJECTED
    assert next_actions(ListingState.REJECTED) == [ListingAction.RESUBMIT]
    assert after(ListingState.REJECTED, ListingAction.RESUBMIT) is ListingState.PENDING


def test_ls9_a_listed_item_is_delisted_and_a_delisted_one_edited_and_resubmitted() -> None:
    assert next_actions(ListingState.LISTED) == [ListingAction.DELIST]
    assert after(ListingState.LISTED, ListingAction.DELIST) is ListingState.DELISTED
    assert next_actions(ListingState.DELISTED) == [ListingAction.RESUBMIT]


def test_ls9_delisting_an_item_in_a_session_is_refused_in_auction() -> None:
    assert not can(ListingState.IN_SESSION, ListingAction.DELIST)
    refused = refusal(ListingState.IN_SESSION, ListingAction.DELIST)
    assert refused is not None and refused.code == "in_auction"
    assert next_actions(ListingState.IN_SESSION) == []


def test_moves_outside_the_table_are_bad_state() -> None:
    refused = refusal(ListingState.LISTED, ListingAction.RESUBMIT)
    assert refused is not None and refused.code == "bad_state"
    assert refusal(ListingState.PENDING, ListingAction.APPROVE) is None
    with pytest.raises(ValueError, match="resubmit"):
        after(ListingState.SOLD, ListingAction.RESUBMIT)
    assert next_actions(ListingState.SOLD) == [] and next_actions(ListingState.SOLD, STAFF_ACTIONS) == []


def test_a_session_ends_sold_or_unsold_and_an_unsold_item_can_go_again() -> None:
    assert after(ListingState.IN_SESSION, ListingAction.SELL) is ListingState.SOLD
    assert after(ListingState.IN_SESSION, ListingAction.NO_SALE) is ListingState.UNSOLD
    assert next_actions(ListingState.UNSOLD, STAFF_ACTIONS) == [ListingAction.ENTER_SESSION]
    assert after(ListingState.IN_SESSION, ListingAction.LEAVE_SESSION) is ListingState.LISTED


def test_every_state_action_and_fixed_value_has_a_label() -> None:
    for state in ListingState:
        assert f"listing_state_{state.value}" in MESSAGES
    for action in ListingAction:
        assert f"listing_action_{action.value}" in MESSAGES
    for enum in (TransactionForm, LegalStatus, Maturity, ItemKind, Ownership):
        for value in enum:
            assert choice_key(value) in MESSAGES
    assert {a for _, a in TRANSITIONS} <= set(SELLER_ACTIONS) | set(STAFF_ACTIONS) | {ListingAction.SELL,
                                                                                      ListingAction.NO_SALE,
                                                                                      ListingAction.RELIST}
