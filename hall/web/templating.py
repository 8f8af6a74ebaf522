"""The Jinja environment: autoescaped, with Shanghai time and whole-yuan filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from hall.money import figures
from hall.web.i18n import lang_of, translator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(ms: int | None) -> str:
    """Epoch ms as Beijing time, the only time the interface shows."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def shanghai_seconds(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%H:%M:%S")


def iso(ms: int | None) -> str | None:
    """Epoch ms as ISO 8601 with Beijing's offset (``2026-01-07T10:00:00+08:00``): how the JSON
    API writes an instant."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).isoformat(timespec="seconds")


MAX_NEXT: Final = 2000
"""The longest ``next`` path kept; a longer one is dropped."""


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/…``), else None: what ``next`` may hold.

    Never an open redirect: a scheme-relative ``//host``, a backslash (some browsers read it as
    a slash) and any whitespace or control character (browsers drop tabs and newlines inside a
    URL, so a slash, a tab and ``/host`` would become ``//host``) are refused."""
    if not target or len(target) > MAX_NEXT or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


SIGN_IN_PAGES: Final = ("/login", "/signup", "/login/code", "/password-reset")
"""The pages that sign someone in: each carries on the ``next`` it was given."""


def here(request: Request) -> str:
    """Where the asker is, this page with its query: the ``next`` of the language links."""
    query = request.url.query
    return local_path(request.url.path + (f"?{query}" if query else "")) or "/"


def going(request: Request) -> str:
    """Where the asker is going, as the ``next`` of the header's login and sign-up links: here,
    but on a page that signs in, where that page was to lead (so that a round trip does not loop)."""
    if request.url.path in SIGN_IN_PAGES:
        return local_path(request.query_params.get("next")) or "/"
    return here(request)


def yuan(amount: int | None) -> str:
    return "" if amount is None else figures(amount)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["shanghai"] = shanghai
_env.filters["yuan"] = yuan
_env.filters["shanghai_seconds"] = shanghai_seconds
templates = Jinja2Templates(env=_env)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    response: HTMLResponse = templates.TemplateResponse(
        request, template,
        {"_": translator(lang), "lang": lang, "me": request.state.identity, "csrf": request.state.csrf,
         "here": here(request), "going": going(request), **context},
        status_code=status_code,
    )  # fmt: skip
    return response
