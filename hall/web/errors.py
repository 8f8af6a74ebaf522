"""How the web layer says no: the one JSON error shape, and ``Refused``, the refusal that
carries no words, only a catalogue key (hall/web/i18n.py) and the key's parameters, put into
the asker's language where it is answered.

Raised and not caught, a ``Refused`` reaches the app's HTTP error handler (hall/web/app.py),
which answers it as the JSON error or the error page. It lives apart from hall/web/security.py
so that hall/web/params.py, which security.py imports, can raise it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
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
