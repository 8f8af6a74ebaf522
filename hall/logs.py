"""Logging as JSON lines, one object per record, with the ids a record is about.

``log.info("bid refused", extra={"lot": 7, "conn": 12})`` becomes
``{"ts": "...", "level": "info", "logger": "hall.web.live", "msg": "bid refused", "lot": 7, "conn": 12}``:
a log shipper can filter on ``lot`` or ``conn`` without parsing prose. Bearer tokens given as
``?token=`` on a WebSocket URL are scrubbed from every record, uvicorn's included, so that no log
file holds a credential.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Final

import msgspec

TOKEN: Final = re.compile(r"(token=)[^&\s\"']+")
FIELDS: Final = ("lot", "conn", "user", "req", "code", "action", "kind", "peer", "lots", "seq", "queued")
"""The ``extra`` keys copied into the JSON object."""

_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": TOKEN.sub(r"\1***", record.getMessage()),
        }
        for key in FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = TOKEN.sub(r"\1***", self.formatException(record.exc_info))
        return _encoder.encode(line).decode()


def configure(level: int = logging.INFO) -> None:
    """Route the hall's and uvicorn's loggers to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
