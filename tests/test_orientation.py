"""A newcomer's bearings: the introduction and the rules page, the account's registrations and
bids (pages and JSON), logging in to where one was going, and the favicon."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import pytest
from hallkit import Actor, FakeClock, anonymous, beijing_ms, call, hall, org_id, page_csrf, runtime, user, wake
from starlette.testclient import TestClient

from hall.auth.passwords import hash_password
from hall.auth.roles import Role
from hall.engine import LotSpec
from hall.web.i18n import COOKIE
from hall.web.templating import local_path

NOW: Final = beijing_ms(2026, 1, 7, 10, 0)
HOUR: Final = 3_600_000
DAY: Final = 24 * HOUR
PDF: Final = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JSON: Final = {"accept": "application/json"}


@dataclass
class Scene:
    client: TestClient
    clock: FakeClock
    running: int
    publicity: int
    first: Actor
    second: Actor
    staff: Actor


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with hall(tmp_path) as client:
        clock = FakeClock(NOW)
        runtime(client).clock = clock
        user(client, "13900000301", "示范大学", org="示范大学")
        seller = org_id(client, "示范大学")

        def lot(title: str, bidding_start: int) -> int:
            spec = LotSpec(seller_org=seller, start_price=10_000, increment=1_000, publicity_start=NOW - 7 * DAY,
                           bidding_start=bidding_start, end=bidding_start + HOUR)  # fmt: skip
            return call(client, runtime(client).create_lot, spec, title, "新能源").id

        running = lot("一种竞价中的专利", NOW - HOUR // 2)
        publicity = lot("一种公示中的专利", NOW + 2 * DAY)
        first = user(client, "13800000001", "甲", org="甲公司")
        second = user(client, "13800000002", "乙", org="乙公司")
        for uid, org in ((first, "甲公司"), (second, "乙公司")):
            call(client, runtime(client).register, running, uid, org_id(client, org))
        staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
        yield Scene(client, clock, running, publicity, Actor(client, first), Actor(client, second), Actor(client, staff))


def _bid(scene: Scene, actor: Actor, org: str, amount: int, req: str) -> None:
    call(scene.client, runtime(scene.client).bid, scene.running, actor.id, org_id(scene.client, org), amount, req)


def _standings(actor: Actor) -> dict[int, str]:
    bids = actor.get("/api/me/bids").json()["bids"]
    return {row["lot"]: row["standing"] for row in bids}


def test_bids_read_leading_and_outbid_while_running_then_won_and_lost(scene: Scene) -> None:
    assert _standings(scene.first) == {scene.running: "none"}
    _bid(scene, scene.first, "甲公司", 10_000, "a1")
    _bid(scene, scene.second, "乙公司", 11_000, "b1")
    assert _standings(scene.first) == {scene.running: "outbid"}
    assert _standings(scene.second) == {scene.running: "leading"}
    page = scene.first.get("/account/bids")
    assert page.status_code == 200 and 'data-standing="outbid"' in page.text and "您的出价已被超越" in page.text
    scene.clock.now = NOW + HOUR
    wake(scene.client, scene.running)
    _bid(scene, scene.first, "甲公司", 12_000, "a2")  # refused, once the close is durable (a refusal waits for it)
    assert _standings(scene.first) == {scene.running: "lost"}
    assert _standings(scene.second) == {scene.running: "won"}
    client = anonymous(scene.client)
    client.cookies.set("hall_session", scene.first.cookie)
    client.cookies.set(COOKIE, "en")
    english = client.get("/account/bids")
    assert 'data-standing="lost"' in english.text and "You did not win" in english.text


def test_an_admitted_bidder_who_never_bid_did_not_lose_the_closed_lot(scene: Scene) -> None:
    idle = user(scene.client, "13800000003", "丙", org="丙公司")
    call(scene.client, runtime(scene.client).register, scene.running, idle, org_id(scene.client, "丙公司"))
    _bid(scene, scene.second, "乙公司", 10_000, "b1")
    scene.clock.now = NOW + HOUR
    wake(scene.client, scene.running)
    _bid(scene, scene.second, "乙公司", 12_000, "b2")  # refused, once the close is durable
    assert _standings(scene.second) == {scene.running: "won"}
    assert _standings(Actor(scene.client, idle)) == {scene.running: "none"}


def test_my_registrations_list_each_with_its_state_and_the_reason_it_was_rejected(scene: Scene) -> None:
    assert scene.first.get("/account/registrations").text.count("data-status=") == 0
    assert scene.first.upload(f"/lots/{scene.publicity}/register", "letter", "承诺函.pdf", PDF).status_code == 303
    rejected = scene.staff.post("/staff/reviews/1", {"decision": "reject", "reason": "承诺函未盖章"})
    assert rejected.status_code == 303
    page = scene.first.get("/account/registrations")
    assert page.status_code == 200
    assert 'data-status="rejected"' in page.text and "已驳回" in page.text and "承诺函未盖章" in page.text
    assert "公示中" in page.text and f'href="/lots/{scene.publicity}/register"' in page.text
    body = scene.first.get("/api/me/registrations").json()["registrations"]
    assert [(r["lot"], r["status"], r["reason"], r["lot_state"]) for r in body] == [
        (scene.publicity, "rejected", "承诺函未盖章", "publicity")
    ]
    assert scene.second.get("/api/me/registrations").json() == {"registrations": []}  # only one's own


def test_the_account_page_leads_to_my_registrations_and_my_bids_and_names_roles_in_words(scene: Scene) -> None:
    page = scene.first.get("/account").text
    assert 'href="/account/registrations"' in page and 'href="/account/bids"' in page
    assert "竞买人" in page and ">bidder<" not in page
    for path in ("/account/registrations", "/account/bids", "/api/me/bids"):
        assert anonymous(scene.client).get(path, follow_redirects=False).status_code in (303, 401)


def test_the_home_page_introduces_the_hall_and_the_help_page_explains_the_rules_in_both_languages(
    scene: Scene,
) -> None:
    client = anonymous(scene.client)
    home = client.get("/").text
    assert "欢迎来到技术产权交易拍卖大厅" in home and 'href="/help"' in home and 'href="/signup"' in home
    help_zh = client.get("/help")
    assert help_zh.status_code == 200
    for words in ("16:00", "承诺函", "加价幅度的整数倍", "延时", "拍卖师", "5 个工作日"):
        assert words in help_zh.text, words
    client.cookies.set(COOKIE, "en")
    help_en = client.get("/help").text
    assert "commitment letter" in help_en and "16:00" in help_en and "5 working days" in help_en


def test_login_lands_where_the_user_was_going_even_after_a_failed_attempt(scene: Scene) -> None:
    client = anonymous(scene.client)
    call(client, client.app.state.people.set_password_hash, scene.first.id,  # type: ignore[attr-defined]
         hash_password("correct horse battery"))  # fmt: skip
    going = f"/lots/{scene.running}?x=1"
    sent = client.get("/account/bids", follow_redirects=False)
    assert sent.headers["location"] == "/login?next=/account/bids"
    header = client.get(going).text
    assert f'href="/login?next={quote(going, safe="/")}"' in header
    form = client.get("/login", params={"next": going}).text
    assert f'name="next" value="{going}"'.replace("&", "&amp;") in form
    assert f'href="/login/code?next={quote(going, safe="/")}"' in form  # by code instead, to the same place
    csrf = page_csrf(client, "/login")
    wrong = client.post("/login", data={"phone": "13800000001", "password": "wrong one", "csrf": csrf, "next": going})
    assert wrong.status_code == 401 and f'name="next" value="{going}"'.replace("&", "&amp;") in wrong.text
    right = client.post("/login", data={"phone": "13800000001", "password": "correct horse battery", "csrf": csrf,
                                        "next": going}, follow_redirects=False)  # fmt: skip
    assert right.status_code == 303 and right.headers["location"] == going


def test_every_sign_in_page_passes_on_where_one_was_going_and_its_language_link_stays(scene: Scene) -> None:
    client = anonymous(scene.client)
    going = quote(f"/lots/{scene.running}?x=1", safe="/")
    for path in ("/login", "/signup", "/login/code", "/password-reset"):
        page = client.get(f"{path}?next={going}").text
        assert f'href="/login?next={going}"' in page and f'href="/signup?next={going}"' in page, path
        assert f'href="/lang/en?next={path}%3Fnext%3D' in page, path  # switching language stays on the page


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "javascript:alert(1)", "evil", "/" + "a" * 3000, "/login?next=/x"])
def test_next_is_only_ever_a_path_on_this_site(scene: Scene, target: str) -> None:
    client = anonymous(scene.client)
    call(client, client.app.state.people.set_password_hash, scene.first.id,  # type: ignore[attr-defined]
         hash_password("correct horse battery"))  # fmt: skip
    right = client.post("/login", data={"phone": "13800000001", "password": "correct horse battery",
                                        "csrf": page_csrf(client, "/login"), "next": target},
                        follow_redirects=False)  # fmt: skip
    assert right.headers["location"] == "/account"


def test_local_path_keeps_paths_with_queries_and_refuses_everything_else() -> None:
    assert local_path("/lots/3?session=新能源&x=1") == "/lots/3?session=新能源&x=1"
    for target in (None, "", "//x", "/\\x", "/a b", "/\x00", "http://x/", "x/y"):
        assert local_path(target) is None, target


def test_the_favicon_is_served_and_favicon_ico_leads_to_it(scene: Scene) -> None:
    client = anonymous(scene.client)
    moved = client.get("/favicon.ico", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml" and b"<svg" in icon.content
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text
