"""Research crowdsourcing in a real browser, every step a click on the pages (issue 13): an
enterprise posts a demand with its investment hidden, staff approve it in the review queue, a
university finds it under 推荐给我, responds with a solution and asks a question, the enterprise
answers and adopts the solution, and the university reads the adoption SMS in its inbox.

The enterprise is the demo's first bidder (an approved enterprise identity, ``enterprises``), the
solver the demo's first seller (南京大学), whose listed patent on remote-sensing change detection
is what the demand asks for: the recommendation comes from the ranking, not from a fixture.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect, header_link
from browserkit import zh as _

from hall.workdays import beijing_date
from hall.runtime import wall_clock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "卫星遥感影像变化检测算法研发"
DESCRIPTION = "需要基于深度学习的遥感影像变化检测方法，用于国土资源监测，自动识别新增建设用地与违法占地。"
INVESTMENT = "680000"
"""Hidden from the public (CR-4): the solver's pages must never show it."""
QUESTION = "请问影像的空间分辨率和重访周期是多少？"
ANSWER = "亚米级高分影像，每月一期。"


def main(page: Page) -> Locator:
    return page.locator("main")


def test_an_enterprise_posts_staff_approve_a_solver_is_recommended_it_responds_asks_and_is_adopted(
    chromium: Browser, demo: DemoHall
) -> None:
    enterprise, enterprise_log = browserkit.signed_in(chromium, demo, demo.account("enterprises"))
    staff, staff_log = browserkit.signed_in(chromium, demo, demo.account("staff"))
    solver, solver_log = browserkit.signed_in(chromium, demo, demo.account("sellers"))
    today = beijing_date(wall_clock())

    # The enterprise posts from the crowdsourcing home, hiding the investment.
    enterprise.goto("/")
    header_link(enterprise, "crowd_a_home").click()
    main(enterprise).get_by_role("link", name=_("crowd_a_post"), exact=True).first.click()
    form = enterprise.locator("#demand-form")
    form.get_by_label(_("crowd_a_f_title")).fill(TITLE)
    form.get_by_label(_("crowd_a_f_industry")).select_option(label=_("industry_new_it"))
    form.get_by_label(_("crowd_a_f_description")).fill(DESCRIPTION)
    form.locator("input[name=investment]").fill(INVESTMENT)  # its label also names the hide box
    form.get_by_label(_("crowd_a_f_cooperation")).select_option(label=_("crowd_a_coop_licence"))
    form.get_by_label(_("crowd_a_f_response_deadline")).fill((today + timedelta(days=30)).isoformat())
    form.get_by_label(_("crowd_a_f_valid_until")).fill((today + timedelta(days=180)).isoformat())
    form.locator("input[name=hidden][value=investment]").check()
    form.get_by_role("button", name=_("crowd_a_submit"), exact=True).click()
    enterprise.wait_for_url(re.compile(r"/demands/\d+"))
    demand = int(re.search(r"/demands/(\d+)", enterprise.url).group(1))  # type: ignore[union-attr]
    expect(main(enterprise)).to_contain_text(_("crowd_a_state_pending"))

    # Staff approve it in the review queue: it is published with a ZB number.
    header_link(staff, "review_queue").click()
    staff.locator("nav.filters").get_by_role("link", name=_("crowd_a_review_kind"), exact=True).click()
    pending = staff.locator("tr", has_text=TITLE)
    expect(pending).to_have_count(1)
    pending.get_by_role("button", name=_("approve"), exact=True).click()
    expect(staff.locator("tr", has_text=TITLE)).to_contain_text(_("approved"))
    enterprise.reload()
    expect(main(enterprise)).to_contain_text(re.compile(rf"ZB{today.year}\d{{4}}"))

    # The university finds it among its recommendations, without the hidden investment.
    solver.goto("/recommendations")
    card = main(solver).get_by_role("link", name=TITLE, exact=True)
    expect(card).to_be_visible()
    card.click()
    solver.wait_for_url(f"**/demands/{demand}")
    expect(main(solver)).not_to_contain_text(INVESTMENT)
    expect(main(solver)).not_to_contain_text("680,000")

    # It responds with a solution, then asks a question (立即咨询).
    main(solver).get_by_role("link", name=_("crowd_a_respond"), exact=True).click()
    solver.get_by_label(_("crowd_b_summary")).fill("基于孪生网络的多时相变化检测方案")
    solver.get_by_label(_("crowd_b_approach")).fill("以孪生卷积网络提取双时相特征，结合注意力机制输出变化图斑。")
    solver.get_by_label(_("crowd_b_budget")).fill("500000")
    solver.get_by_role("button", name=_("crowd_b_submit_response"), exact=True).click()
    expect(main(solver)).to_contain_text("基于孪生网络的多时相变化检测方案")
    solver.goto(f"/demands/{demand}/messages")
    solver.get_by_label(_("message")).fill(QUESTION)
    solver.get_by_role("button", name=_("crowd_b_send"), exact=True).click()
    expect(main(solver)).to_contain_text(QUESTION)

    # The enterprise reads the question, answers it, and adopts the solution.
    enterprise.goto(f"/demands/{demand}/messages")
    main(enterprise).locator("[data-thread] a").first.click()
    expect(main(enterprise)).to_contain_text(QUESTION)
    enterprise.get_by_label(_("message")).fill(ANSWER)
    enterprise.get_by_role("button", name=_("crowd_b_send"), exact=True).click()
    expect(main(enterprise)).to_contain_text(ANSWER)
    enterprise.goto(f"/demands/{demand}")
    main(enterprise).get_by_role("link", name=_("crowd_a_responses"), exact=True).click()
    main(enterprise).get_by_role("button", name=_("crowd_b_adopt"), exact=True).click()
    expect(main(enterprise)).to_contain_text(_("crowd_b_adopted_at"))

    # The university sees the answer in its thread and the adoption SMS in its inbox.
    solver.goto(f"/demands/{demand}/messages")
    expect(main(solver)).to_contain_text(ANSWER)
    solver.goto("/inbox")
    expect(main(solver)).to_contain_text(TITLE, timeout=20_000)
    for log in (enterprise_log, staff_log, solver_log):
        log.assert_clean()


def test_an_enterprise_entrusts_a_transfer_organisation_which_accepts_and_posts_its_demand(
    chromium: Browser, demo: DemoHall
) -> None:
    """CR-2: the second enterprise chooses the demo's transfer organisation from the list; the
    organisation accepts and posts a demand for it; the enterprise sees that demand as its own."""
    account = demo.account("enterprises", 1)
    enterprise, enterprise_log = browserkit.signed_in(chromium, demo, account)
    agency, agency_log = browserkit.signed_in(chromium, demo, demo.account("agencies"))
    today = beijing_date(wall_clock())

    enterprise.goto("/entrustments")
    main(enterprise).get_by_label(_("crowd_a_entrust_agency")).select_option(label=demo.account("agencies")["name"])
    main(enterprise).get_by_label(_("crowd_a_entrust_note")).fill("请代为挖掘并发布高温合金检测需求")
    main(enterprise).get_by_role("button", name=_("crowd_a_entrust_submit"), exact=True).click()
    expect(main(enterprise).locator("tr[data-state=pending]", has_text=account["name"])).to_have_count(1)

    agency.goto("/entrustments")
    row = main(agency).locator("tr[data-entrustment]", has_text=account["name"]).filter(has_text="高温合金")
    row.get_by_role("button", name=_("crowd_a_entrust_accept"), exact=True).click()
    row = main(agency).locator("tr[data-state=accepted]", has_text="高温合金")
    row.get_by_role("link", name=_("crowd_a_entrust_post"), exact=True).click()
    form = agency.locator("#demand-form")
    form.get_by_label(_("crowd_a_f_title")).fill("高温合金叶片内部缺陷无损检测")
    form.get_by_label(_("crowd_a_f_industry")).select_option(label=_("industry_manufacturing"))
    form.get_by_label(_("crowd_a_f_description")).fill("需要检测航空发动机高温合金叶片内部微裂纹的无损检测方法。")
    form.locator("input[name=manager]").fill("王经理")  # the organisation's person: required of it
    form.locator("input[name=investment]").fill("900000")
    form.get_by_label(_("crowd_a_f_cooperation")).select_option(label=_("crowd_a_coop_licence"))
    form.get_by_label(_("crowd_a_f_response_deadline")).fill((today + timedelta(days=30)).isoformat())
    form.get_by_label(_("crowd_a_f_valid_until")).fill((today + timedelta(days=180)).isoformat())
    form.get_by_role("button", name=_("crowd_a_submit"), exact=True).click()
    agency.wait_for_url(re.compile(r"/demands/\d+"))
    expect(main(agency)).to_contain_text(_("crowd_a_state_pending"))

    enterprise.goto("/my/demands")
    expect(main(enterprise)).to_contain_text("高温合金叶片内部缺陷无损检测")
    for log in (enterprise_log, agency_log):
        log.assert_clean()


def test_the_demand_side_keeps_its_service_log_and_ends_the_round_resolved_with_a_qualifying_fee(
    chromium: Browser, demo: DemoHall
) -> None:
    """CR-8, CR-12 on the demo's adopted demand, posted by the first enterprise itself."""
    (demand,) = demo.seeded["demands"]["adopted"]
    side, side_log = browserkit.signed_in(chromium, demo, demo.account("enterprises"))

    side.goto(f"/demands/{demand}/log")
    side.get_by_label(_("crowd_b_log_body")).fill("与应答方召开技术对接会，确定中试方案。")
    side.get_by_role("button", name=_("crowd_b_log_add"), exact=True).click()
    expect(main(side)).to_contain_text("与应答方召开技术对接会，确定中试方案。")

    side.goto(f"/demands/{demand}/outcome")
    resolved = main(side).locator("form[data-outcome=resolved]")
    resolved.get_by_label(_("crowd_b_fee")).fill("250000")
    resolved.get_by_role("button", name=_("crowd_b_set_resolved"), exact=True).click()
    expect(main(side).locator("#fee")).to_contain_text("250,000")
    expect(main(side).locator("[data-qualifying]")).to_have_text(_("crowd_b_qualifying"))
    side.goto(f"/demands/{demand}")
    expect(main(side)).to_contain_text(_("crowd_a_state_resolved"))
    side_log.assert_clean()
