"""How the web layer says no: the one JSON error shape, and ``Refused``, the refusal that
carries no words, only a catalogue key (hall/web/i18n.py) and the key's parameters, put into
the asker's language where it is answered.

``json_body`` is the one reading of a JSON request body (every JSON API that takes one), so
that each refuses a wrong one with the same status, code and detail.

Raised and not caught, a ``Refused`` reaches the app's HTTP error handler (hall/web/app.py),
which answers it as the JSON error or the error page. It lives apart from hall/web/security.py
so that hall/web/params.py, which security.py imports, can raise it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from hall.web.i18n import lang_of, text


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The one shape of an API error: a stable code for programs, a message for people."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


class Refused(HTTPException):
    """A request refused: the HTTP status, the stable code, the catalogue key of the message
    with its parameters, and the extra fields of the API's error object."""

    def __init__(self, status: int, code: str, key: str, params: Mapping[str, object] | None = None,
                 **extra: object) -> None:  # fmt: skip
        super().__init__(status, key)
        self.status = status
        self.code = code
        self.key = key
        self.params = dict(params or {})
        self.extra = extra

    def message(self, conn: HTTPConnection) -> str:
        return text(self.key, lang_of(conn), self.params)

    def answer(self, conn: HTTPConnection) -> JSONResponse:
        return error(self.status, self.code, self.message(conn), **self.extra)


B = TypeVar("B")


async def json_body(request: Request, kind: type[B]) -> B:
    """The JSON body as ``kind`` (a msgspec Struct, usually ``forbid_unknown_fields``), or
    ``Refused``: 415 ``unsupported_media_type`` unless it is sent as ``application/json``, 400
    ``bad_request`` when it is not JSON or not that shape (with the field in ``detail`` when
    the JSON itself was well formed). JSON only: a cross-site form cannot send that content type
    without the browser asking first, so no page elsewhere can make its visitors call the API."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Refused(415, "unsupported_media_type", "err_json_only")
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        raise Refused(400, "bad_request", "code_bad_request", detail=str(exc)) from None
    except msgspec.DecodeError:
        raise Refused(400, "bad_request", "code_bad_request") from None
