"""The Jinja environment: autoescaped, with Shanghai time and whole-yuan filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

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


def yuan(amount: int | None) -> str:
    return "" if amount is None else f"{amount:,}"


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
        {"_": translator(lang), "lang": lang, "me": request.state.identity, "csrf": request.state.csrf, **context},
        status_code=status_code,
    )  # fmt: skip
    return response
