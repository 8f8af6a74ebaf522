"""``GET /openapi.json``: the JSON API as an OpenAPI 3.1 document, built from the routes themselves.

A JSON route declares its API once, where the route is declared, and nowhere else::

    route("/api/tokens/{token_id:id}", api_token_revoke, name="api_token_revoke", methods=("DELETE",),
          api=Api(tag="accounts", summary="Revoke one of your tokens", answer=Ok,
                  errors={404: ("not_found",)}))

Everything else is read from what the server enforces, so the document cannot drift from it:
the body, answer and query schemas from the msgspec Structs the handler decodes and encodes
with (``msgspec.json.schema_components``: one ``components/schemas`` section, ``$ref``s);
who may call it from the permission table (``hall.auth.roles.PERMISSIONS``), as the
operation's security requirement and its "Who" line; path parameters from the path's
convertors (``{x:id}``: an integer 1..2^63-1); and the errors every route of its kind can
meet (``implied_errors``) added to the ones it declares.

Adding a JSON route: give its ``route(...)`` an ``api=Api(...)`` (its body, answer and query
as Structs in the domain's module, encoded through ``hall.web.security.answer``), then give it a
section in docs/api.md under its tag's heading, with its "Who" line, its error codes and an
example. tests/test_api_docs.py fails until the route, this document and the page agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib.metadata import version
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from hall.auth.roles import PERMISSIONS, Access, describe
from hall.web.params import ID_MAX, IdConvertor
from hall.web.security import SAFE_METHODS, HallRoute

REF: Final = "#/components/schemas/{name}"
_CONVERTOR: Final = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True, kw_only=True)
class Api:
    """What a JSON route's declaration tells its callers (``route(..., api=Api(...))``).

    ``answer`` and ``body`` are types msgspec encodes and decodes (a Struct, ``list[Struct]``,
    …), the same the handler uses; ``query`` is a Struct whose fields are the query parameters.
    ``errors`` maps an HTTP status to the stable codes the route itself answers with; the ones
    every route of its kind can meet are added (``implied_errors``). A route that answers a
    file names its media type in ``media`` (``answer`` stays None); one that takes a multipart
    upload names the file's form field in ``upload`` instead of a ``body``."""

    tag: str
    """The domain: the OpenAPI tag and the ``##`` section of docs/api.md."""
    summary: str
    answer: Any = None
    status: int = 200
    body: Any = None
    query: type[msgspec.Struct] | None = None
    errors: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    media: str = "application/json"
    upload: str | None = None

    def __post_init__(self) -> None:
        if self.body is not None and self.upload is not None:
            raise ValueError(f"{self.summary!r}: a JSON body or a multipart upload, not both")


class ErrorDetail(msgspec.Struct):
    code: str
    """Stable, for programs: added, never renamed."""
    message: str
    """For people, in the caller's language (the ``hall_lang`` cookie, Chinese without one)."""


class ErrorAnswer(msgspec.Struct):
    """Every refusal of the JSON API (``hall.web.security.error``). Some codes add fields
    beside ``code`` and ``message`` (``retry_after``, ``detail``), documented with them."""

    error: ErrorDetail


def openapi_path(path: str) -> str:
    """A Starlette path as OpenAPI writes it: ``/api/lots/{lot:id}`` is ``/api/lots/{lot}``."""
    return _CONVERTOR.sub(r"{\1}", path)


def documented(routes: Iterable[BaseRoute]) -> list[tuple[HallRoute, str, Api]]:
    """(route, method, declaration) for every route that declares its API, in route order
    (``route`` made sure that each has one method)."""
    return [
        (route, min((route.methods or set()) - {"HEAD"}), route.api)
        for route in routes
        if isinstance(route, HallRoute) and route.api is not None
    ]


def implied_errors(route: HallRoute, method: str, api: Api) -> dict[int, tuple[str, ...]]:
    """The codes a route can answer with: those it declares, and those of the edge that every
    route of its kind meets (hall/web/security.py, hall/web/app.py's HTTP errors)."""
    codes: dict[int, list[str]] = {status: list(names) for status, names in api.errors.items()}

    def add(status: int, code: str) -> None:
        if code not in codes.setdefault(status, []):
            codes[status].append(code)

    rule = PERMISSIONS[str(route.name)]
    if rule is not Access.ANYONE:
        add(401, "unauthenticated")
    if isinstance(rule, frozenset):
        add(403, "forbidden")
    if method not in SAFE_METHODS:
        add(403, "csrf")  # a cookie session without its CSRF token; bearer tokens need none
    if api.body is not None or api.upload is not None:
        add(400, "bad_request")
        add(413, "too_large")
    if api.query is not None:
        add(400, "bad_request")
    if route.param_convertors:
        add(404, "not_found")  # a path parameter out of its convertor's range matches no route
    return {status: tuple(codes[status]) for status in sorted(codes)}


def _parameter_schema(convertor: object) -> dict[str, Any]:
    if isinstance(convertor, IdConvertor):
        return {"type": "integer", "minimum": 1, "maximum": ID_MAX}
    return {"type": "string"}


def build(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that declares its API."""
    operations = documented(routes)
    types: list[Any] = [ErrorAnswer]
    for _, _, api in operations:
        types += [t for t in (api.answer, api.body, api.query) if t is not None]
    refs, schemas = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(map(id, types), refs))
    error_ref = schema_of[id(ErrorAnswer)]

    paths: dict[str, dict[str, Any]] = {}
    for route, method, api in operations:
        rule = PERMISSIONS[str(route.name)]
        who = describe(rule)
        operation: dict[str, Any] = {
            "operationId": route.name,
            "tags": [api.tag],
            "summary": api.summary,
            "description": f"Who: {who}." + (f"\n\n{api.description}" if api.description else ""),
            "x-who": who,
            "security": [] if rule is Access.ANYONE else [{"bearer": []}, {"session": []}],
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _parameter_schema(convertor)}
            for name, convertor in route.param_convertors.items()
        ]
        if api.query is not None:
            component = schemas[schema_of[id(api.query)]["$ref"].rsplit("/", 1)[1]]
            for name, schema in component["properties"].items():
                schema = dict(schema)
                if "anyOf" in schema:  # None is an absent parameter: no query says null
                    schema["anyOf"] = [s for s in schema["anyOf"] if s != {"type": "null"}]
                    if len(schema["anyOf"]) == 1:
                        schema.update(schema.pop("anyOf")[0])
                    if schema.get("default", 0) is None:
                        del schema["default"]
                parameter = {"name": name, "in": "query", "required": name in component.get("required", ()),
                             "schema": {k: v for k, v in schema.items() if k != "description"}}  # fmt: skip
                if "description" in schema:
                    parameter["description"] = schema["description"]
                parameters.append(parameter)
        if parameters:
            operation["parameters"] = parameters
        if api.body is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": schema_of[id(api.body)]}}}  # fmt: skip
        elif api.upload is not None:
            upload = {"type": "object", "required": [api.upload],
                      "properties": {api.upload: {"type": "string", "contentMediaType": "application/octet-stream"}}}  # fmt: skip
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": upload}}}
        success: dict[str, Any] = {"description": HTTPStatus(api.status).phrase}
        if api.answer is not None:
            success["content"] = {api.media: {"schema": schema_of[id(api.answer)]}}
        elif api.media != "application/json":
            success["content"] = {api.media: {"schema": {"type": "string", "contentMediaType": api.media}}}
        responses: dict[str, Any] = {str(api.status): success}
        for status, codes in implied_errors(route, method, api).items():
            narrowed = {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}}
            responses[str(status)] = {
                "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in codes),
                "content": {"application/json": {"schema": {"allOf": [error_ref, narrowed]}}},
            }
        operation["responses"] = responses
        paths.setdefault(openapi_path(route.path), {})[method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hall",
            "version": version("hall"),
            "description": "The JSON API of the auction hall; the guide is docs/api.md, the live "
                           "protocol on /ws docs/protocol.md. Money is in whole yuan.",
        },  # fmt: skip
        "tags": [{"name": tag} for tag in dict.fromkeys(api.tag for _, _, api in operations)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token from POST /api/login or /api/signup: `Authorization: Bearer <token>`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "hall_session",
                            "description": "The hall's own pages. A state-changing request on it also "
                                           "sends its CSRF token in the `X-CSRF-Token` header."},
            },
        },  # fmt: skip
    }


async def document(request: Request) -> Response:
    """Built on the first request and kept: the routes do not change while the app runs."""
    encoded: bytes | None = getattr(request.app.state, "openapi", None)
    if encoded is None:
        encoded = request.app.state.openapi = msgspec.json.encode(build(request.app.routes))
    return Response(encoded, media_type="application/json")


API: Final = Api(tag="service", summary="This document: the JSON API as OpenAPI 3.1", answer=dict[str, Any])
"""The declaration of ``GET /openapi.json`` itself (made in hall/web/app.py)."""
