"""Patent lookup at the edge (LS-3): ``GET /api/patents`` and the as-you-type fragment
``GET /patents/lookup``, over the local catalogue and over an outside service that is down or
slow; who may call them, how the query is bounded, and that the fragment escapes what it shows
and carries each patent whole for the listing form."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hallkit import Actor, anonymous, call, hall, user
from patentservice import FakeService
from starlette.testclient import TestClient

from hall.patents import Patent, check_digit, make_patent
from hall.store.patents import PatentCatalogue
from hall.web.i18n import translate

HOSTILE = make_patent({
    "number": "ZL202110123456.7", "title": '一种<script>alert("x")</script>电池方法', "holder": "南京大学 & 'Co'",
    "grant_date": "2023-06-01", "ipc": "H01M 10/48", "legal_status": "有效", "abstract": "</button><b>摘要</b>",
})  # fmt: skip


def numbered(n: int) -> str:
    digits = f"20231{n:07d}"
    return f"ZL{digits}.{check_digit(digits)}"


def fill(client: TestClient, patents: list[Patent]) -> None:
    call(client, PatentCatalogue(client.app.state.store).upsert, patents, 1)  # type: ignore[attr-defined]


def signed_in(client: TestClient, phone: str = "13800000001") -> Actor:
    return Actor(client, user(client, phone, "卖方"))


class Picks(HTMLParser):
    """The patents the fragment's buttons carry (data-patent, decoded as a browser would)."""

    def __init__(self) -> None:
        super().__init__()
        self.patents: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "button" and found.get("data-patent"):
            assert found.get("type") == "button"  # a pick never submits the listing form
            self.patents.append(json.loads(found["data-patent"] or ""))
        if found.get("data-error"):
            self.errors.append(found["data-error"] or "")


def picks(html: str) -> Picks:
    parser = Picks()
    parser.feed(html)
    return parser


# ---------------------------------------------------------------------- who may look up


def test_looking_up_needs_an_account(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        anonymous(client)
        api = client.get("/api/patents", params={"q": "电池"})
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthenticated"
        page = client.get("/patents/lookup", params={"q": "电池"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=/patents/lookup")


# ---------------------------------------------------------------------- GET /api/patents


def test_the_api_answers_a_list_of_patents_with_every_field(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        fill(client, [HOSTILE, make_patent({"number": numbered(1), "title": "一种水稻育种方法", "holder": "江苏省农业科学院"})])
        answer = signed_in(client).get("/api/patents", params={"q": "电池"})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json() == [msgspec.to_builtins(HOSTILE)]
        assert list(answer.json()[0])[:7] == ["number", "title", "holder", "grant_date", "ipc", "legal_status", "abstract"]


@pytest.mark.parametrize("query", [{}, {"q": ""}, {"q": "   "}, {"q": "电" * 101}, {"q": "电池", "limit": "0"},
                                   {"q": "电池", "limit": "51"}, {"q": "电池", "limit": "ten"}])  # fmt: skip
def test_the_api_refuses_a_missing_or_overlong_query_or_a_limit_out_of_range(tmp_path: Path, query: dict[str, str]) -> None:
    with hall(tmp_path) as client:
        answer = signed_in(client).get("/api/patents", params=query)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "bad_request"


def test_the_api_takes_a_query_of_a_hundred_characters_and_its_limit(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        fill(client, [make_patent({"number": numbered(n), "title": f"一种专利方法{n}", "holder": "南京大学"}) for n in range(1, 8)])
        me = signed_in(client)
        assert me.get("/api/patents", params={"q": "电" * 100}).json() == []
        assert len(me.get("/api/patents", params={"q": "专利", "limit": "3"}).json()) == 3
        assert len(me.get("/api/patents", params={"q": "专利"}).json()) == 7


def test_the_api_says_when_the_service_is_down_or_slow_never_500(tmp_path: Path) -> None:
    with FakeService("down") as down, hall(tmp_path, patent_service=down.url) as client:
        answer = signed_in(client).get("/api/patents", params={"q": "电池"})
        assert answer.status_code == 503
        assert answer.json()["error"] == {"code": "patent_service_down", "message": translate("patent_service_down", "zh")}
    with FakeService("slow") as slow, hall(tmp_path / "slow", patent_service=slow.url, patent_timeout=0.3) as client:
        answer = signed_in(client).get("/api/patents", params={"q": "电池"})
        assert answer.status_code == 504 and answer.json()["error"]["code"] == "patent_service_timeout"


# ---------------------------------------------------------------------- GET /patents/lookup (the fragment)


def test_the_fragment_carries_each_match_whole_and_escapes_what_it_shows(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        fill(client, [HOSTILE])
        page = signed_in(client).get("/patents/lookup", params={"q": "电池"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<script>" not in page.text and "<b>" not in page.text and "</button><b>" not in page.text
        assert "&lt;script&gt;alert(" in page.text and "南京大学 &amp; " in page.text
        found = picks(page.text)
        assert found.patents == [msgspec.to_builtins(HOSTILE)]
        assert 'data-patent-results' in page.text and "<!doctype" not in page.text.lower()  # a fragment, not a page


def test_the_fragment_reads_the_form_s_title_or_number_field_when_there_is_no_q(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        rice = make_patent({"number": numbered(1), "title": "一种耐盐碱水稻新品种选育方法", "holder": "江苏省农业科学院"})
        fill(client, [HOSTILE, rice])
        me = signed_in(client)
        assert [p["number"] for p in picks(me.get("/patents/lookup", params={"title": "水稻"}).text).patents] == [rice.number]
        by_number = me.get("/patents/lookup", params={"title": "", "number": "2021101234"})
        assert [p["number"] for p in picks(by_number.text).patents] == [HOSTILE.number]


def test_the_fragment_is_empty_while_nothing_is_typed_and_says_when_nothing_matches(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        me = signed_in(client)
        empty = me.get("/patents/lookup", params={"q": "  "})
        assert (empty.status_code, empty.text) == (200, "")
        none = me.get("/patents/lookup", params={"q": "量子"})
        assert none.status_code == 200 and translate("patent_no_match", "zh") in none.text
        client.cookies.set("hall_lang", "en")
        english = client.get("/patents/lookup", params={"q": "量子"})
        assert translate("patent_no_match", "en") in english.text
        assert me.get("/patents/lookup", params={"q": "电" * 101}).status_code == 400


def test_the_fragment_says_in_place_that_the_service_timed_out(tmp_path: Path) -> None:
    with FakeService("trickle") as slow, hall(tmp_path, patent_service=slow.url, patent_timeout=0.3) as client:
        page = signed_in(client).get("/patents/lookup", params={"q": "电池"})
        assert page.status_code == 200  # htmx swaps only 2xx: the seller must read it in place
        assert picks(page.text).errors == ["patent_service_timeout"]
        assert translate("patent_service_timeout", "zh") in page.text


def test_the_script_that_fills_the_form_from_a_pick_is_served(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        script = client.get("/static/patents.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert "data-patent" in script.text and "patent:picked" in script.text
