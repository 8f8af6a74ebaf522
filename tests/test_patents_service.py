"""The outside patent information service (LS-3) through ``HttpPatentSource``, against fake
services on 127.0.0.1 (tests/patentservice.py): the contract of docs/api.md, and a clear,
catalogued refusal — never an exception of the HTTP client — when the service is slow, down or
answers garbage."""

from __future__ import annotations

import socket
from datetime import date
from collections.abc import AsyncIterator, Iterator

import pytest
from patentservice import BAD, GOOD, FakeService

from hall.patents import HttpPatentSource, LegalStatus, LookupFailed, Patent, check_digit, make_patent, patent_source
from hall.web.i18n import translate

pytestmark = pytest.mark.anyio

SHORT = 0.3
"""The deadline, in seconds, of the sources that talk to a slow service (which waits it out)."""
LONG = 30.0
"""The deadline of the others, never reached on a busy machine."""


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[FakeService]:
    with FakeService(request.param) as fake:
        yield fake


@pytest.fixture
async def source(service: FakeService) -> AsyncIterator[HttpPatentSource]:
    found = HttpPatentSource(service.url, SHORT if service.mode in ("slow", "trickle") else LONG)
    try:
        yield found
    finally:
        await found.aclose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("service", ["ok"], indirect=True)
async def test_a_search_sends_q_and_limit_and_keeps_only_patents_that_pass_the_checks(
    service: FakeService, source: HttpPatentSource
) -> None:
    found = await source.search("电池 健康", 5)
    assert found == [make_patent(GOOD)]  # BAD's check digit is wrong: left out; "family" is not read
    assert found[0] == Patent(number="ZL202110123456.7", title=GOOD["title"], holder="南京大学",
                              grant_date=date(2023, 6, 1), ipc="H01M 10/48", legal_status=LegalStatus.VALID,
                              abstract=GOOD["abstract"], application_date=date(2021, 1, 4), inventors="王伟；李娜")  # fmt: skip
    assert service.targets == ["/api/search?q=%E7%94%B5%E6%B1%A0+%E5%81%A5%E5%BA%B7&limit=5"]
    assert BAD["number"] not in {p.number for p in found}


@pytest.mark.parametrize("service", ["ok"], indirect=True)
async def test_get_asks_for_the_canonical_number_and_an_unknown_one_is_none(
    service: FakeService, source: HttpPatentSource
) -> None:
    assert await source.get("CN 202110123456.7") == make_patent(GOOD)
    unknown = f"ZL202210654321.{check_digit('202210654321')}"
    assert await source.get(unknown) is None  # 404
    assert await source.get("ZL202110123456.8") is None  # not a number: never asked
    assert service.targets == ["/api/patents/ZL202110123456.7", f"/api/patents/{unknown}"]


@pytest.mark.parametrize("service", ["slow", "trickle"], indirect=True)
async def test_a_slow_service_is_cut_off_at_the_deadline_with_the_timeout_message(source: HttpPatentSource) -> None:
    with pytest.raises(LookupFailed) as caught:
        await source.search("电池", 5)
    assert (caught.value.status, caught.value.code) == (504, "patent_service_timeout")
    assert translate(caught.value.key, "zh") == "专利信息服务响应超时，请稍后重试，或直接填写专利信息"


@pytest.mark.parametrize("service", ["garbage", "huge"], indirect=True)
async def test_an_answer_that_is_not_the_contract_or_too_big_is_refused_as_a_bad_answer(
    source: HttpPatentSource,
) -> None:
    for call in (source.search("电池", 5), source.get(GOOD["number"])):
        with pytest.raises(LookupFailed) as caught:
            await call
        assert (caught.value.status, caught.value.code) == (502, "patent_service_bad_answer")


@pytest.mark.parametrize("service", ["down"], indirect=True)
async def test_a_service_answering_500_is_down(source: HttpPatentSource) -> None:
    with pytest.raises(LookupFailed) as caught:
        await source.search("电池", 5)
    assert (caught.value.status, caught.value.code, caught.value.key) == (503, "patent_service_down", "patent_service_down")


async def test_a_service_nobody_listens_for_is_down() -> None:
    source = HttpPatentSource(f"http://127.0.0.1:{closed_port()}", LONG)
    try:
        with pytest.raises(LookupFailed) as caught:
            await source.search("电池", 5)
        assert caught.value.code == "patent_service_down"
    finally:
        await source.aclose()


@pytest.mark.parametrize("url", ["", "ftp://example.org", "example.org/api", "http://x/?key=1", "http:///path"])
def test_a_service_url_that_is_not_http_refuses_to_start(url: str) -> None:
    with pytest.raises(ValueError):
        HttpPatentSource(url, 3.0)


def test_the_service_is_used_when_configured_else_the_catalogue() -> None:
    catalogue = HttpPatentSource("http://127.0.0.1:9/", 3.0)  # any PatentSource stands for the catalogue
    assert patent_source("", 3.0, catalogue) is catalogue
    chosen = patent_source("https://patents.example.org/api", 2.5, catalogue)
    assert isinstance(chosen, HttpPatentSource) and (chosen.url, chosen.timeout) == ("https://patents.example.org/api", 2.5)
