"""Research crowdsourcing in a real browser (issue 13), every step a click on the pages, as the
README's walk through the demo tells it: an enterprise posts a demand with its name hidden,
staff approve it in the review queue, a seller finds it in 推荐给我, asks a question and
responds, the enterprise adopts the response, and the seller reads the SMS in its inbox.

Three people, each in a browser context of their own: the demo's first enterprise (its first
bidder), the staff reviewer and the first seller (南京大学, whose lots and patents the demand's
words match). None of their pages may log a console error or answer an error status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import browserkit
import pytest
from browserkit import DemoHall, expect

from hall.notify import TEMPLATES
from hall.registration import SHANGHAI
from hall.web.i18n import translate

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "矿区生态修复的遥感影像变化检测"
DESCRIPTION = "我公司承担矿区生态修复监测，需要基于深度学习的遥感影像变化检测方法，自动识别植被恢复和地表扰动。"


def _(key: str) -> str:
    return translate(key, "zh")


def signed_in(browser: Browser, demo: DemoHall, role: str) -> tuple[Page, browserkit.PageLog]:
    page = browserkit.new_page(browser, demo.url)
    log = browserkit.watch(page)
    browserkit.login(page, demo.account(role))
    return page, log


def account_link(page: Page, key: str) -> None:
    """Open 我的账户 from the header (the account's name), then one of its crowdsourcing links."""
    page.locator("header").get_by_role("link", name=page.locator("header a.data").inner_text(), exact=True).click()
    page.locator("[data-crowd]").get_by_role("link", name=_(key), exact=True).click()


def test_an_enterprise_posts_staff_approve_a_seller_finds_it_recommended_asks_and_responds_and_is_adopted(
    chromium: Browser, demo: DemoHall
) -> None:
    enterprise, enterprise_log = signed_in(chromium, demo, "bidders")  # the first bidder is the demo's enterprise
    staff, staff_log = signed_in(chromium, demo, "staff")
    seller, seller_log = signed_in(chromium, demo, "sellers")
    today = datetime.now(SHANGHAI).date()

    # The enterprise posts, its name hidden from the public.
    account_link(enterprise, "crowd_a_post")
    form = enterprise.locator("main form", has=enterprise.locator("input[name=title]"))
    form.get_by_label(_("crowd_a_f_title")).fill(TITLE)
    form.get_by_label(_("crowd_a_f_industry")).select_option(label=_("industry_new_it"))
    form.get_by_label(_("crowd_a_f_description")).fill(DESCRIPTION)
    form.get_by_role("textbox", name=_("crowd_a_f_investment")).fill("800000")
    form.get_by_label(_("crowd_a_f_cooperation")).select_option(label=_("crowd_a_coop_licence"))
    form.get_by_label(_("crowd_a_f_response_deadline")).fill((today + timedelta(days=30)).isoformat())
    form.get_by_label(_("crowd_a_f_valid_until")).fill((today + timedelta(days=180)).isoformat())
    form.get_by_role("checkbox", name=_("crowd_a_f_enterprise"), exact=True).check()
    form.get_by_role("button", name=_("crowd_a_submit"), exact=True).click()
    expect(enterprise.get_by_role("heading", name=TITLE, exact=True)).to_be_visible()
    expect(enterprise.locator("[data-state]").first).to_have_text(_("crowd_a_state_pending"))

    # Staff approve it in the review queue: it is numbered and published.
    staff.locator("header").get_by_role("link", name=_("review_queue"), exact=True).click()
    staff.locator("nav.filters").get_by_role("link", name=_("crowd_a_review_kind"), exact=True).click()
    row = staff.locator("tr", has_text=TITLE)
    expect(row).to_have_count(1)
    row.get_by_role("button", name=_("approve"), exact=True).click()
    expect(staff.locator("tr", has_text=TITLE)).to_contain_text(_("approved"))

    # The seller finds it among its recommendations; the company is withheld from it (CR-4).
    account_link(seller, "crowd_a_recommended")
    seller.get_by_role("link", name=TITLE, exact=True).click()
    expect(seller.get_by_role("heading", name=TITLE, exact=True)).to_be_visible()
    expect(seller.locator("[data-number]")).to_contain_text(f"ZB{today.year}")
    number = seller.locator("[data-number]").inner_text()
    expect(seller.locator("main")).not_to_contain_text(demo.account("bidders")["name"])
    demand_url = seller.url

    seller.get_by_role("link", name=_("crowd_a_consult"), exact=True).click()
    seller.get_by_label(_("message")).fill("请问影像的时间分辨率和覆盖范围是多少？")
    seller.get_by_role("button", name=_("crowd_b_send"), exact=True).click()
    expect(seller.locator("main")).to_contain_text("时间分辨率")
    seller.goto(demand_url)
    seller.get_by_role("link", name=_("crowd_a_respond"), exact=True).click()
    seller.get_by_label(_("crowd_b_summary")).fill("基于孪生网络的遥感影像变化检测方案")
    seller.get_by_label(_("crowd_b_approach")).fill("以我校遥感影像变化检测专利为基础，用孪生卷积网络比对两期影像，输出变化图斑。")
    seller.get_by_label(_("crowd_b_budget")).fill("600000")
    seller.get_by_role("button", name=_("crowd_b_submit_response"), exact=True).click()
    expect(seller.locator("main")).to_contain_text("基于孪生网络的遥感影像变化检测方案")

    # The enterprise reads the response and the question, and adopts the response.
    enterprise.reload()
    enterprise.get_by_role("link", name=_("crowd_a_responses"), exact=True).first.click()
    card = enterprise.locator("article.response", has_text="基于孪生网络的遥感影像变化检测方案")
    card.get_by_role("button", name=_("crowd_b_adopt"), exact=True).click()
    expect(enterprise.locator("article.response[data-state=adopted]")).to_have_count(1)
    enterprise.get_by_role("link", name=_("crowd_b_messages"), exact=True).click()
    enterprise.get_by_role("link", name=demo.account("sellers")["name"], exact=True).click()
    expect(enterprise.locator("main")).to_contain_text("请问影像的时间分辨率和覆盖范围是多少？")

    # The seller's inbox has the SMS that its solution was adopted.
    seller.locator("header").get_by_role("link", name=_("inbox"), exact=True).click()
    sms = TEMPLATES["crowd_b_adopted"].format(title=TITLE, number=number)
    for _attempt in range(40):  # the dispatcher delivers the SMS (and its inbox copy) after the commit
        if sms in seller.locator("main").inner_text():
            break
        seller.wait_for_timeout(250)
        seller.reload()
    expect(seller.locator("main")).to_contain_text(sms)
    for log in (enterprise_log, staff_log, seller_log):
        log.assert_clean()
