"""``hall.logs``: one JSON object per record, the ids a record is about as fields of their own,
exceptions kept, and no bearer token in any line — the hall's records and uvicorn's alike,
including the line uvicorn writes for a WebSocket upgrade that carried ``?token=``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from hallkit import call, people, user
from liveserver import running
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from websockets.asyncio.client import connect

from hall import logs
from hall.config import Config
from hall.logs import FIELDS, JsonFormatter
from hall.web.app import create_app

SECRET = "s3cr3t-Tok3n_value"


def emit(name: str, level: int, msg: str, *args: object, **kwargs: Any) -> list[dict[str, Any]]:
    """Log one record on logger ``name`` through a JsonFormatter and return the parsed lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.log(level, msg, *args, **kwargs)
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
    return [json.loads(line) for line in out.getvalue().splitlines()]


@contextmanager
def configured() -> Iterator[io.StringIO]:
    """``hall.logs.configure()`` as ``hall serve`` calls it, writing to a buffer; the logging
    set-up it replaces (pytest's capture included) is put back afterwards."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    root = logging.getLogger()
    saved_root = root.handlers[:], root.level
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in names}
    out = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = out
    try:
        logs.configure()
    finally:
        sys.stderr = real_stderr
    try:
        yield out
    finally:
        root.handlers[:], _ = saved_root
        root.setLevel(saved_root[1])
        for name, (handlers, propagate) in saved.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


# ---------------------------------------------------------------------- the formatter


def test_a_record_is_one_json_object_with_ts_level_logger_msg_and_its_ids() -> None:
    ids = {"lot": 7, "conn": 12, "user": 3, "req": "b-1", "code": "too_low", "action": "pause", "kind": "json",
           "peer": "127.0.0.1:5000", "lots": [1, 2], "seq": 41, "queued": 1024}  # fmt: skip
    assert set(ids) == set(FIELDS), "a new id field needs a value here"
    [line] = emit("hall.web.live", logging.INFO, "bid refused", extra=ids)
    assert line == {"ts": line["ts"], "level": "info", "logger": "hall.web.live", "msg": "bid refused", **ids}
    parsed = datetime.fromisoformat(line["ts"])
    offset = parsed.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60


def test_ts_is_the_records_time_in_utc_to_the_millisecond() -> None:
    record = logging.LogRecord("hall", logging.WARNING, __file__, 1, "late", None, None)
    record.created = 1_767_225_600.123456  # 2026-01-01T00:00:00.123456Z
    line = json.loads(JsonFormatter().format(record))
    assert line["ts"] == "2026-01-01T00:00:00.123+00:00"
    assert line["level"] == "warning"


def test_only_the_known_ids_are_copied_and_none_is_left_out() -> None:
    [line] = emit("hall.hub", logging.DEBUG, "socket open", extra={"conn": 5, "lot": None, "password": "x"})
    assert line == {"ts": line["ts"], "level": "debug", "logger": "hall.hub", "msg": "socket open", "conn": 5}


def test_a_message_with_newlines_is_still_one_line() -> None:
    out = JsonFormatter().format(logging.LogRecord("hall", logging.INFO, __file__, 1, "a\nb\r\nc", None, None))
    assert "\n" not in out and json.loads(out)["msg"] == "a\nb\r\nc"


def test_the_message_is_formatted_with_its_args() -> None:
    [line] = emit("hall.runtime", logging.WARNING, "lot %s reloaded from the store at seq %s", 4, 17)
    assert line["msg"] == "lot 4 reloaded from the store at seq 17"


def test_an_exception_keeps_its_traceback() -> None:
    try:
        raise ValueError("commit failed: disk full")
    except ValueError:
        [line] = emit("hall.store.journal", logging.ERROR, "commit of %d events failed", 3, exc_info=True)
    assert line["level"] == "error" and line["msg"] == "commit of 3 events failed"
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: commit failed: disk full" in line["exc"]


def test_a_record_without_an_exception_has_no_exc() -> None:
    [line] = emit("hall", logging.INFO, "fine")
    assert "exc" not in line


# ---------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("message", "scrubbed"),
    [
        (f"GET /ws?token={SECRET}", "GET /ws?token=***"),
        (f"/ws?token={SECRET}&lots=1,2", "/ws?token=***&lots=1,2"),
        (f"/ws?lots=1&token={SECRET}", "/ws?lots=1&token=***"),
        (f'"WebSocket /ws?token={SECRET}" [accepted]', '"WebSocket /ws?token=***" [accepted]'),
        (f"token={SECRET} and again token={SECRET}x", "token=*** and again token=***"),
        (f"'/ws?token={SECRET}'", "'/ws?token=***'"),
    ],
)
def test_a_token_in_a_message_is_scrubbed(message: str, scrubbed: str) -> None:
    [line] = emit("hall", logging.INFO, message)
    assert line["msg"] == scrubbed
    assert SECRET not in json.dumps(line)


def test_a_token_passed_in_the_args_is_scrubbed_too() -> None:
    [line] = emit("hall.web.live", logging.INFO, "socket from %s", f"/ws?token={SECRET}")
    assert line["msg"] == "socket from /ws?token=***"


def test_an_access_log_record_in_uvicorns_form_is_scrubbed() -> None:
    """uvicorn's HTTP access line: the format and the args it logs them with."""
    [line] = emit("uvicorn.access", logging.INFO, '%s - "%s %s HTTP/%s" %d',
                  "127.0.0.1:51234", "GET", f"/ws?token={SECRET}", "1.1", 101)  # fmt: skip
    assert line["logger"] == "uvicorn.access"
    assert line["msg"] == '127.0.0.1:51234 - "GET /ws?token=*** HTTP/1.1" 101'


# ---------------------------------------------------------------------- configure()


def test_configure_sends_the_halls_and_uvicorns_records_as_json_lines() -> None:
    with configured() as out:
        logging.getLogger("hall.web.live").info("command %s", "pause", extra={"lot": 1, "conn": 3})
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/healthz", "1.1", 200)
        logging.getLogger("hall.x").debug("below the level: not written")
    assert [(line["logger"], line["msg"]) for line in lines(out)] == [
        ("hall.web.live", "command pause"),
        ("uvicorn.error", "Application startup complete."),
        ("uvicorn.access", '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200'),
    ]
    assert lines(out)[0]["lot"] == 1 and lines(out)[0]["conn"] == 3


class _Scopes:
    """Keeps the scope of every connection, as uvicorn's protocol has it when it logs."""

    def __init__(self, app: ASGIApp, seen: list[Scope]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope)
        await self.app(scope, receive, send)


def test_an_upgrade_with_a_token_is_scrubbed_from_uvicorns_lines(tmp_path: Path) -> None:
    """Through the app: a socket that signs in with ``?token=``, then the two lines uvicorn
    writes about such a request, made from the request's own scope as uvicorn makes them."""
    seen: list[Scope] = []
    app = create_app(Config(db=str(tmp_path / "h.db")))
    app.add_middleware(_Scopes, seen=seen)
    with TestClient(app) as client:
        uid = user(client, "13900010001", "南京恒达科技有限公司", verified=True)
        _, token = call(client, people(client).new_token, uid, "test")
        with client.websocket_connect(f"/ws?token={token}") as ws:
            assert ws.receive_json()["user"]["id"] == uid  # the token in the URL is the credential
    [scope] = [scope for scope in seen if scope["type"] == "websocket"]
    path = get_path_with_query_string(scope)  # type: ignore[arg-type]
    assert token in path
    client_addr = get_client_addr(scope)  # type: ignore[arg-type]
    with configured() as out:
        logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', client_addr, path)
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', client_addr, "GET", path,
                                                 scope.get("http_version", "1.1"), 101)  # fmt: skip
    written = out.getvalue()
    assert token not in written
    assert [line["msg"] for line in lines(out)] == [
        f'{client_addr} - "WebSocket /ws?token=***" [accepted]',
        f'{client_addr} - "GET /ws?token=*** HTTP/1.1" 101',
    ]


@pytest.mark.slow
def test_a_real_servers_log_holds_no_token(tmp_path: Path) -> None:
    """``hall serve`` itself: uvicorn's WebSocket and access lines for requests carrying a token
    in the URL reach the log file scrubbed, and every line of it is a JSON object."""
    log = tmp_path / "server.log"
    with running(tmp_path / "hall.db", log) as server:

        async def upgrade() -> dict[str, Any]:
            async with connect(f"{server.ws_url}?token={SECRET}") as ws:
                welcome: dict[str, Any] = json.loads(await ws.recv())
                return welcome

        welcome = asyncio.run(upgrade())
        assert welcome["type"] == "welcome" and welcome["user"] is None  # unknown: anonymous, not refused
        assert httpx.get(f"{server.url}/healthz?token={SECRET}", trust_env=False).status_code == 200
    text = log.read_text(encoding="utf-8")
    assert SECRET not in text
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    messages = [record["msg"] for record in records]
    assert any('"WebSocket /ws?token=***" [accepted]' in msg for msg in messages), messages
    assert any('"GET /healthz?token=*** HTTP/1.1" 200' in msg for msg in messages), messages
