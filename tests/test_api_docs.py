"""/openapi.json and docs/api.md held against the routes they describe.

/openapi.json is built from each JSON route's ``Api`` declaration (hall/web/openapi.py). These
tests make sure every ``/api`` route declares one, that the document is valid OpenAPI 3.1 and
says what the permission table and the server do, and that docs/api.md, the guide for people,
describes exactly the same operations: each under its tag's heading, with the permission table's
rule as its "Who" line, its declared error codes, and example transcripts whose requests the
route accepts and whose answers decode, field for field, as the Structs it declares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest
from demandkit import demand, party, response
from hallkit import PNG, FakeClock, bearer_of, beijing_ms, call, listing, lot, org_id, people, rows, runtime, sold, user
from openapi_spec_validator import validate
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from hall.auth.roles import PERMISSIONS, Role, describe
from hall.config import Config
from hall.web import openapi
from hall.web.app import create_app
from hall.web.openapi import Api, ErrorAnswer, build, documented, openapi_path
from hall.web.params import ID_MAX
from hall.web.security import HallRoute, route

DOC: Final = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
ROUTES: Final = list(create_app(Config(db=":memory:")).routes)
SPEC: Final = build(ROUTES)
OPERATIONS: Final = {(method, openapi_path(r.path)): (r, api) for r, method, api in documented(ROUTES)}
HEADING: Final = re.compile(r"^(#{2,3}) (.+?)\s*$", re.MULTILINE)
OPERATION_HEADING: Final = re.compile(r"`([A-Z]+) (/\S*)`")
NAMED: Final = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)")


def _sections() -> Iterator[tuple[str, str, str]]:
    """(tag heading, operation heading, body) for every ``###`` section of the page."""
    tag = ""
    matches = list(HEADING.finditer(DOC))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(DOC)
        if match[1] == "##":
            tag = match[2]
        else:
            yield tag, match[2], DOC[match.end() : end]


def _operation_sections() -> dict[tuple[str, str], tuple[str, str]]:
    """(method, path) → (tag heading, body), from the ``### `METHOD /path``` headings."""
    found = {}
    for tag, heading, body in _sections():
        named = OPERATION_HEADING.fullmatch(heading)
        assert named, f"a ### heading of docs/api.md that is not `METHOD /path`: {heading!r}"
        key = (named[1], named[2])
        assert key not in found, f"two sections for {key}"
        found[key] = (tag, body)
    return found


SECTIONS: Final = _operation_sections()


def _spec_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in SPEC["paths"].items() for method in item}


def _codes(response: dict[str, Any]) -> list[str]:
    """The codes an error response of the document narrows ``error.code`` to."""
    narrowed = response["content"]["application/json"]["schema"]["allOf"][1]
    codes: list[str] = narrowed["properties"]["error"]["properties"]["code"]["enum"]
    return codes


# ---------------------------------------------------------------------- the routes and the document


def test_every_api_route_declares_its_api() -> None:
    undeclared = [
        r.name for r in ROUTES
        if isinstance(r, Route) and r.path.startswith("/api/") and not (isinstance(r, HallRoute) and r.api)
    ]  # fmt: skip
    assert not undeclared, f"/api routes without api=Api(...) in their route(...): {undeclared}"
    assert {"healthz", "openapi"} <= {str(r.name) for r, _, _ in documented(ROUTES)}


def test_the_document_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC)  # raises on a document that is not OpenAPI 3.1
    assert json.loads(msgspec.json.encode(SPEC)) == SPEC, "the document is plain JSON"


def test_the_document_describes_every_declared_operation() -> None:
    assert _spec_operations() == set(OPERATIONS)
    for (method, path), (r, _) in OPERATIONS.items():
        assert SPEC["paths"][path][method.lower()]["operationId"] == r.name


def test_security_and_who_follow_the_permission_table() -> None:
    for (method, path), (r, _) in OPERATIONS.items():
        operation = SPEC["paths"][path][method.lower()]
        who = describe(PERMISSIONS[str(r.name)])
        assert operation["x-who"] == who and operation["description"].startswith(f"Who: {who}.")
        if who == "anyone":
            responses = operation["responses"]
            assert operation["security"] == []
            assert "401" not in responses or "unauthenticated" not in _codes(responses["401"])
        else:
            assert operation["security"] == [{"bearer": []}, {"session": []}]
            assert _codes(operation["responses"]["401"]) == ["unauthenticated"]


def test_an_id_in_a_path_is_an_integer_from_1_to_2_63_minus_1() -> None:
    parameters = SPEC["paths"]["/api/lots/{lot}/events"]["get"]["parameters"]
    lot_id = next(p for p in parameters if p["in"] == "path")
    assert lot_id == {"name": "lot", "in": "path", "required": True,
                      "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}  # fmt: skip
    assert "404" in SPEC["paths"]["/api/lots/{lot}/events"]["get"]["responses"]
    query = {p["name"]: p for p in parameters if p["in"] == "query"}
    assert query["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 5000, "default": 5000}
    assert query["since"]["required"] is False


def test_structs_are_shared_components_referenced_by_the_operations() -> None:
    schemas = SPEC["components"]["schemas"]
    assert {"ErrorAnswer", "User", "TokenIssued", "LotSummary", "Snapshot", "EventPage"} <= set(schemas)
    login = SPEC["paths"]["/api/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/LoginBody"}
    assert login["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TokenIssued"}
    assert _codes(login["responses"]["429"]) == ["password_rate_limited"]
    lots = SPEC["paths"]["/api/lots"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert lots == {"type": "array", "items": {"$ref": "#/components/schemas/LotSummary"}}
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(SPEC)))
    assert refs <= set(schemas), "a $ref to no component"


async def _endpoint(request: Request) -> Response:
    return Response()


def test_a_staff_upload_route_is_declared_with_its_roles_upload_and_edge_errors() -> None:
    """What no route of today declares yet (a role rule, a multipart upload, a file answer) is
    described all the same, and still validates."""
    routes = [
        route("/api/things/{thing:id}", _endpoint, name="staff_review_decide", methods=("POST",),
              api=Api(tag="things", summary="Upload a thing", upload="file", errors={409: ("taken",)})),
        route("/api/things.xlsx", _endpoint, name="staff_verifications",
              api=Api(tag="things", summary="A template", media="application/vnd.ms-excel")),
    ]  # fmt: skip
    spec = build(routes)
    validate(spec)
    post = spec["paths"]["/api/things/{thing}"]["post"]
    assert post["x-who"] == "staff" and post["security"] == [{"bearer": []}, {"session": []}]
    responses = post["responses"]
    assert _codes(responses["403"]) == ["forbidden", "csrf"] and _codes(responses["401"]) == ["unauthenticated"]
    assert _codes(responses["400"]) == ["bad_request"] and _codes(responses["413"]) == ["too_large"]
    assert _codes(responses["404"]) == ["not_found"] and _codes(responses["409"]) == ["taken"]
    assert post["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["file"]
    template = spec["paths"]["/api/things.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(template) == ["application/vnd.ms-excel"] and "403" in spec["paths"]["/api/things.xlsx"]["get"]["responses"]


def test_a_json_route_with_two_methods_is_refused() -> None:
    with pytest.raises(ValueError, match="one method"):
        route("/api/x", _endpoint, name="api_me", methods=("GET", "POST"), api=Api(tag="t", summary="s"))
    with pytest.raises(ValueError, match="not both"):
        Api(tag="t", summary="s", body=ErrorAnswer, upload="file")


# ---------------------------------------------------------------------- served


def test_openapi_json_is_served_to_anyone_and_built_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []

    def counted(routes: Any) -> dict[str, Any]:
        builds.append(1)
        return build(routes)

    monkeypatch.setattr(openapi, "build", counted)
    first, second = client.get("/openapi.json"), client.get("/openapi.json")
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.content == second.content and builds == [1]
    assert first.json() == json.loads(msgspec.json.encode(build(client.app.routes)))  # type: ignore[attr-defined]


REQUIRED_QUERIES: Final = {"/api/patents": {"q": "电池"}, "/api/stats": {"by": "month"}}
"""A query for each GET operation that cannot be called without one."""


def test_every_read_answers_as_its_declaration_says(client: TestClient) -> None:
    """Each GET operation, called for real by a verified staff member (so that staff-only reads
    answer too) on ids that exist, answers its status with a body that decodes as its declared
    answer type and encodes back to the same JSON (no field the Struct lacks)."""
    caller = user(client, "13800138000", "张三", verified=True, roles=(Role.STAFF,))
    _, token = call(client, people(client).new_token, caller, "test")
    bearer = {"authorization": f"Bearer {token}"}
    ids = {"lot": lot(client, seller_org=org_id(client, "南京大学"), publicity_start=0, bidding_start=10**13)}
    ids["listing_id"] = listing(client, user(client, "13800138001", "卖方", org="示范大学"))
    [(ids["shop_id"],)] = rows(client, "SELECT id FROM shops")
    session = client.post("/api/sessions", headers=bearer, json={
        "name": "新能源专场", "industry": "energy", "date": "2099-01-09", "mode": "timed",
        "publicity_start": "2099-01-07T09:00:00+08:00", "bidding_start": "2099-01-09T10:00:00+08:00",
        "bidding_end": "2099-01-09T12:00:00+08:00"})  # fmt: skip
    assert session.status_code == 201, session.text
    ids["session_id"] = session.json()["id"]
    ids["deal_id"], ids["verify_code"] = _certified_deal(client)
    ids["demand_id"], ids["roadshow_id"] = _roadshow(client, bearer)
    for (method, path), (_, api) in OPERATIONS.items():
        if method != "GET":
            continue
        response = client.get(path.format_map(ids), params=REQUIRED_QUERIES.get(path), headers=bearer)
        assert response.status_code == api.status, (path, response.text)
        if api.answer is None:  # a file: its declared type
            assert response.headers["content-type"].startswith(api.media), path
            continue
        decoded = msgspec.json.decode(response.content, type=api.answer)
        assert msgspec.to_builtins(decoded) == response.json(), path


def _roadshow(client: TestClient, bearer: dict[str, str]) -> tuple[int, int]:
    """A published demand with a roadshow scheduled through the API: (the demand, the roadshow)."""
    demand_id = demand(client, party(client, "13800138004", "恒达储能科技有限公司", "enterprise", "企业"))
    invited = response(client, demand_id, party(client, "13800138005", "东南大学", "university", "应答方"))
    made = client.post("/api/roadshows", headers=bearer, json={
        "demand": demand_id, "title": "储能专场路演", "starts_at": "2099-01-20T14:00:00+08:00", "place": "科技会堂",
        "responses": [invited]})  # fmt: skip
    assert made.status_code == 201, made.text
    return demand_id, int(made.json()["id"])


def _certified_deal(client: TestClient) -> tuple[int, str]:
    """A deal taken to its certificate through the API: (its id, its verification code)."""
    runtime(client).clock = FakeClock(beijing_ms(2026, 1, 7, 10))
    buyer = user(client, "13800138002", "买方", org="恒达科技有限公司")
    seller = user(client, "13800138003", "卖方", org="南京大学")
    deal = sold(client, seller_org=org_id(client, "南京大学"), buyer=buyer, buyer_org=org_id(client, "恒达科技有限公司"))

    def post(uid: int, step: str, **kwargs: Any) -> None:
        answered = client.post(f"/api/deals/{deal}/{step}", headers=bearer_of(client, uid), **kwargs)
        assert answered.status_code == 200, answered.text

    for uid, step, kwargs in ((buyer, "contract", {"files": {"file": ("合同.png", PNG)}}),
                              (seller, "contract", {"files": {"file": ("合同.png", PNG)}}),
                              (buyer, "payment", {"files": {"file": ("回单.png", PNG)}}),
                              (seller, "confirm-payment", {"json": {}}), (buyer, "handover", {}),
                              (seller, "handover", {})):  # fmt: skip
        post(uid, step, **kwargs)
    [(code,)] = rows(client, "SELECT verify_code FROM deals WHERE id = ?", (deal,))
    return deal, str(code)


# ---------------------------------------------------------------------- docs/api.md


def test_the_doc_has_a_section_for_every_operation_and_no_other() -> None:
    assert set(SECTIONS) == _spec_operations(), "docs/api.md's ### headings and /openapi.json disagree"


def test_the_doc_names_no_route_that_does_not_exist() -> None:
    def shape(path: str) -> str:
        return re.sub(r"{[^}]*}", "{}", path)

    existing = {(m, shape(r.path)) for r in ROUTES if isinstance(r, Route) for m in (r.methods or ())}
    named = {(m, shape(p)) for m, p in NAMED.findall(DOC)}
    assert named, "the pattern finds no route in the page"
    assert not named - existing, f"docs/api.md names routes that do not exist: {sorted(named - existing)}"


def test_each_operation_sits_under_its_tags_heading() -> None:
    for key, (_, api) in OPERATIONS.items():
        assert SECTIONS[key][0].lower() == api.tag, f"{key} is under {SECTIONS[key][0]!r}, its tag is {api.tag!r}"


def test_each_operations_who_line_is_the_permission_tables_rule() -> None:
    for key, (r, _) in OPERATIONS.items():
        lines = re.findall(r"^\*\*Who:\*\* (.+)$", SECTIONS[key][1], re.MULTILINE)
        assert lines == [describe(PERMISSIONS[str(r.name)])], f"{key}: **Who:** {lines}"


def test_each_declared_error_code_is_named_in_its_section_and_every_code_on_the_page() -> None:
    for key, (_, api) in OPERATIONS.items():
        for codes in api.errors.values():
            missing = [code for code in codes if f"`{code}`" not in SECTIONS[key][1]]
            assert not missing, f"{key}: error codes not named in its section: {missing}"
    every = {code for item in SPEC["paths"].values() for op in item.values()
             for status, response in op["responses"].items() if status >= "400" for code in _codes(response)}  # fmt: skip
    assert not {code for code in every if f"`{code}`" not in DOC}, "a code of /openapi.json not on the page"


def _transcripts(body: str) -> list[tuple[str, str]]:
    """(request line, answer line) pairs from the ``text`` blocks of a section."""
    lines = [line for block in re.findall(r"```text\n(.*?)```", body, re.DOTALL) for line in block.splitlines()]
    assert len(lines) % 2 == 0 and all(
        a.startswith("→ ") and b.startswith("← ") for a, b in zip(lines[::2], lines[1::2])
    ), "a transcript is → request, ← answer, in pairs"  # fmt: skip
    return [(a[2:], b[2:]) for a, b in zip(lines[::2], lines[1::2])]


def check_example(key: tuple[str, str], request: str, answer: str) -> bool:
    """Check one exchange against the operation ``key``; True when it was a success."""
    r, api = OPERATIONS[key]
    method, _, rest = request.partition(" ")
    target, _, body = rest.partition(" ")
    url = urlsplit(target)
    assert method == key[0] and r.path_regex.fullmatch(url.path), f"{request!r} is not {key}"
    query = dict(parse_qsl(url.query))
    assert api.body is not None or not body, f"{key} takes no body"
    assert api.query is not None or not query, f"{key} takes no query"
    status, _, raw = answer.partition(" ")
    if 200 <= int(status) < 300:  # then the request is one the declaration accepts
        if api.body is not None:
            msgspec.json.decode(body, type=api.body)
        if api.query is not None:
            msgspec.convert(query, api.query, strict=False)
        assert int(status) == api.status, f"{key} answers {api.status}, the example {status}"
        if api.answer is None and api.media != "application/json":  # a file: its first bytes, or words
            return True
        decoded = msgspec.json.decode(raw, type=api.answer)
        assert msgspec.to_builtins(decoded) == json.loads(raw), f"{key}: a field the answer does not have"
        return True
    error = msgspec.json.decode(raw, type=ErrorAnswer).error
    responses = SPEC["paths"][key[1]][key[0].lower()]["responses"]
    assert status in responses and error.code in _codes(responses[status]), f"{key}: {status} {error.code}"
    return False


def test_every_example_is_what_the_route_accepts_and_answers() -> None:
    for key, (_, body) in SECTIONS.items():
        results = [check_example(key, request, answer) for request, answer in _transcripts(body)]
        assert any(results), f"{key}: no example of a successful call"


def test_an_example_the_server_would_not_send_is_caught() -> None:
    me, lots = ("GET", "/api/me"), ("GET", "/api/lots")
    wrong = [
        (me, "GET /api/me", '200 {"user":{"id":1,"name":"x","roles":[],"phone":"13800138000"}}'),
        (me, "GET /api/me", '201 {"user":{"id":1,"name":"x","roles":[]}}'),
        (me, "GET /api/me", '404 {"error":{"code":"unknown_lot","message":"x"}}'),
        (me, "POST /api/me", '200 {"user":{"id":1,"name":"x","roles":[]}}'),
        (lots, "GET /api/lots?state=sold", "200 []"),
        (("POST", "/api/login"), 'POST /api/login {"phone":"1","pass":"x"}', '200 {"token":"t","user":{"id":1,"name":"x","roles":[]}}'),
        (("POST", "/api/login"), 'POST /api/login {"phone":"1","password":"x"}', '404 {"error":{"code":"not_found","message":"x"}}'),
    ]  # fmt: skip
    for key, request, answer in wrong:
        with pytest.raises((AssertionError, msgspec.ValidationError)):
            check_example(key, request, answer)
    assert check_example(lots, "GET /api/lots?state=live", "200 []")
