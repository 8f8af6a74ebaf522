"""docs/protocol.md held against the code it describes, so that neither changes alone.

The Structs of ``hall.protocol`` are the protocol; the page is its description for people who
write clients from it. These tests read the page as data: its headings (a section per message),
its tables (codes, settings, constants, metrics, event kinds) and its code blocks (every JSON
example is decoded with the server's own decoders). A message, field, code, setting, constant,
metric or event kind added to the code without a word here fails; so does an example that the
server would not send or accept.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, Final, get_args

import msgspec
import pytest

from hall import logs, metrics, protocol
from hall.config import Config, uvicorn_settings
from hall.engine import Accepted, Action, AnyEvent, Code, Rejection
from hall.engine.events import (
    BidPlaced,
    Closed,
    Extended,
    FairWarning,
    Opened,
    Outcome,
    Paused,
    Resumed,
    Withdrawn,
)
from hall.protocol import ClientMessage, Wire, client_decoder, event_frame

ROOT: Final = Path(__file__).resolve().parent.parent
DOC: Final = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
HEADING: Final = re.compile(r"^(#{1,6}) +(.+?) *$")
TICKED: Final = re.compile(r"`([^`]+)`")


# ---------------------------------------------------------------------- reading the page


def _lines_outside_code(text: str) -> Iterator[tuple[int, str, bool]]:
    """(index, line, inside a fenced block) for every line."""
    fenced = False
    for index, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
            yield index, line, True
            continue
        yield index, line, fenced


def section(title: str, text: str = DOC) -> str:
    """The body under the heading ``title`` (exactly), up to the next heading of its level or above."""
    lines = text.splitlines()
    start = level = None
    for index, line, fenced in _lines_outside_code(text):
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        if start is None:
            if match[2] == title:
                start, level = index + 1, len(match[1])
        elif len(match[1]) <= (level or 0):
            return "\n".join(lines[start:index])
    if start is None:
        raise AssertionError(f"docs/protocol.md has no heading {title!r}")
    return "\n".join(lines[start:])


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in ``text``: rows of cells, header row first, separator dropped."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for _, line, fenced in _lines_outside_code(text):
        if not fenced and line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                current.append(cells)
            continue
        if current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def table(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the table in ``text`` whose first header cell is ``first_header``."""
    for rows in tables(text):
        if rows[0][0] == first_header:
            return rows[1:]
    raise AssertionError(f"no table headed {first_header!r} in this section")


def ticked(cell: str) -> list[str]:
    return TICKED.findall(cell)


def blocks(language: str, text: str = DOC) -> list[str]:
    """The contents of the fenced code blocks tagged ``language``."""
    found: list[str] = []
    body: list[str] | None = None
    for _, line, _ in _lines_outside_code(text):
        if body is None:
            if line.strip() == f"```{language}":
                body = []
        elif line.startswith("```"):
            found.append("\n".join(body))
            body = None
        else:
            body.append(line)
    return found


# ---------------------------------------------------------------------- the protocol's parts


def _tag(cls: type[msgspec.Struct]) -> str:
    return str(cls.__struct_config__.tag)


def _own_structs() -> list[type[msgspec.Struct]]:
    return [
        obj for obj in vars(protocol).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__module__ == protocol.__name__
    ]  # fmt: skip


CLIENT: Final[dict[str, type[msgspec.Struct]]] = {_tag(cls): cls for cls in get_args(ClientMessage)}
SERVER: Final[dict[str, type[msgspec.Struct]]] = {
    _tag(cls): cls for cls in _own_structs() if cls.__struct_config__.tag is not None and _tag(cls) not in CLIENT
}
UNTAGGED: Final[dict[str, str]] = {
    # Structs that are part of a message or an HTTP answer: the section that describes them.
    "BidRecord": "`snapshot`",
    "LotSummary": "`GET /api/lots`",
    "EventPage": "`GET /api/lots/{id}/events`",
}
INTERNAL: Final = {"_Req"}
"""Never on the wire as such: what is read from a frame that failed to decode."""


def _field_names(cls: type[msgspec.Struct]) -> list[str]:
    return [field.encode_name for field in msgspec.structs.fields(cls)]


def _message_section(tag: str) -> str:
    part = "Client messages" if tag in CLIENT else "Server messages"
    return section(f"`{tag}`", section(part))


def _codes_table() -> dict[str, list[str]]:
    rows = table(section("Errors and codes"), "code")
    codes = [ticked(row[0])[0] for row in rows]
    assert len(codes) == len(set(codes)), "a code has two rows"
    return {ticked(row[0])[0]: row for row in rows}


# ---------------------------------------------------------------------- messages and fields


def test_the_server_messages_found_are_the_ones_the_socket_sends() -> None:
    assert set(SERVER) == {"welcome", "snapshot", "event", "ack", "error"}
    assert set(CLIENT) == {"subscribe", "unsubscribe", "bid", "command"}


@pytest.mark.parametrize("tag", sorted(CLIENT) + sorted(SERVER))
def test_every_message_has_its_section_listing_its_fields(tag: str) -> None:
    """Its table of fields lists exactly the Struct's fields, plus ``type`` with its tag."""
    cls = CLIENT.get(tag) or SERVER[tag]
    rows = table(_message_section(tag), "field")
    documented = {ticked(row[0])[0]: row for row in rows}
    assert set(documented) == {"type", *_field_names(cls)}, f"the fields table of `{tag}`"
    assert ticked(documented["type"][1]) == [f'"{tag}"'], f"the section of `{tag}` does not give its type tag"


def test_every_struct_inside_an_answer_is_described_where_it_appears() -> None:
    untagged = {cls.__name__: cls for cls in _own_structs() if cls.__struct_config__.tag is None}
    assert set(untagged) == set(UNTAGGED) | INTERNAL, "a new Struct in hall/protocol.py needs a place in the doc"
    for name, title in UNTAGGED.items():
        body = section(title)
        missing = [field for field in _field_names(untagged[name]) if f"`{field}`" not in body]
        assert not missing, f"{name}: {missing} not described under {title}"


def test_every_command_action_is_in_the_actions_table_with_the_fields_it_needs() -> None:
    rows = table(section("`command`", section("Client messages")), "`action`")
    documented = {ticked(row[0])[0]: ticked(row[1]) for row in rows}
    assert set(documented) == {action.value for action in Action}
    fields = set(_field_names(protocol.Command))
    for action, needs in documented.items():
        assert set(needs) <= fields, f"{action} names fields a command does not have: {needs}"
    assert documented["extend"] == ["seconds"]
    assert documented["withdraw"] == ["reason"]
    assert set(documented["floor_bid"]) == {"bidder", "amount"}


# One event of every kind, with every optional part set (a floor bid), and an online bid.
SAMPLES: Final[list[AnyEvent]] = [
    Opened(lot=1, seq=1, ts=10, ends_at=99),
    BidPlaced(lot=1, seq=2, ts=11, actor=5, req="r", amount=1000, bidder="0001", user=5, ends_at=99),
    BidPlaced(lot=1, seq=3, ts=12, actor=3, req="f", amount=2000, bidder="0002", user=6, ends_at=None, floor=True),
    Extended(lot=1, seq=4, ts=13, actor=3, req="e", seconds=60, ends_at=159),
    Paused(lot=1, seq=5, ts=14, actor=3, req="p"),
    Resumed(lot=1, seq=6, ts=15, actor=3, req="q", ends_at=160),
    FairWarning(lot=1, seq=7, ts=16, actor=3, req="w"),
    Closed(lot=1, seq=8, ts=17, outcome=Outcome.SOLD, price=2000, winner="0002", user=6),
    Withdrawn(lot=2, seq=2, ts=18, actor=3, req="x", reason="权利人撤回委托"),
]
COMMON: Final = {"type", "lot", "seq", "kind", "ts"}


def test_the_kinds_table_says_which_fields_each_event_frame_carries() -> None:
    kinds = {_tag(cls) for cls in get_args(AnyEvent)}
    assert {_tag(type(event)) for event in SAMPLES} == kinds, "a new event kind needs a sample here"
    rows = table(section("`event`", section("Server messages")), "`kind`")
    documented = {ticked(row[0])[0]: set(ticked(row[1])) for row in rows}
    assert set(documented) == kinds
    carried: dict[str, set[str]] = {}
    for event in SAMPLES:
        frame = msgspec.to_builtins(event_frame(event))
        carried.setdefault(frame["kind"], set()).update(set(frame) - COMMON)
    assert carried == documented


def test_an_online_bid_has_no_floor_field_as_the_doc_says() -> None:
    online = msgspec.to_builtins(event_frame(SAMPLES[1]))
    assert "floor" not in online
    assert "absent for online bids" in section("`event`", section("Server messages"))


# ---------------------------------------------------------------------- codes


def test_every_engine_and_socket_code_is_in_the_codes_table() -> None:
    documented = _codes_table()
    missing = [code.value for code in (*Code, *Wire) if code.value not in documented]
    assert not missing, f"codes not in the table of docs/protocol.md: {missing}"


def test_every_http_error_code_a_client_of_the_protocol_can_meet_is_in_the_table() -> None:
    """The codes of the API's errors: /api/lots, login and tokens, the edge's checks, the app's
    HTTP errors. Written as ``error(404, "unknown_lot", …)`` or ``{404: "not_found"}``."""
    pattern = re.compile(r"\b([1-5]\d\d)[,:]\s*\"([a-z_]+)\"")
    sources = ["hall/web/live.py", "hall/web/security.py", "hall/web/app.py", "hall/web/accounts.py"]
    found = {code for path in sources for _, code in pattern.findall((ROOT / path).read_text(encoding="utf-8"))}
    assert found, "the pattern no longer finds the HTTP errors"
    missing = found - set(_codes_table())
    assert not missing, f"HTTP error codes not in the table: {sorted(missing)}"


def test_each_code_says_how_it_is_sent() -> None:
    for code, row in _codes_table().items():
        assert row[1] and row[2] and row[3], f"{code}: a column is empty"
    rows = _codes_table()
    assert "close" in rows[Wire.TOO_SLOW.value][1] and "1013" in rows[Wire.TOO_SLOW.value][1]
    assert "`error`" in rows[Wire.TOO_FAR_BEHIND.value][1]
    for code in Code:
        if code not in (Code.UNKNOWN_LOT, Code.BAD_REQUEST, Code.UNAVAILABLE):
            assert rows[code.value][1] == "`ack`", f"{code} is only ever in an ack"


# ---------------------------------------------------------------------- settings and constants


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Config:
    """The configuration with no ``HALL_*`` variable set."""
    for name in [name for name in os.environ if name.startswith("HALL_")]:
        monkeypatch.delenv(name)
    return Config()


def _env_names() -> set[str]:
    return set(re.findall(r"\bHALL_[A-Z_]+[A-Z]\b", (ROOT / "hall" / "config.py").read_text(encoding="utf-8")))


def test_every_hall_setting_is_in_the_settings_table_with_its_default(defaults: Config) -> None:
    rows = table(section("`HALL_*` settings"), "variable")
    documented = {ticked(row[0])[0]: row for row in rows}
    assert set(documented) == _env_names()
    fields = {field.name for field in dataclass_fields(Config)}
    for name, row in documented.items():
        field = name.removeprefix("HALL_").lower()
        assert field in fields, f"{name} is not a Config field"
        assert ast.literal_eval(ticked(row[1])[0]) == getattr(defaults, field), f"{name}'s default"


def test_the_uvicorn_settings_table_is_what_hall_serve_runs_with(defaults: Config) -> None:
    settings = uvicorn_settings(defaults)
    rows = table(section("Server settings"), "setting")
    documented = {ticked(row[0])[0]: ticked(row[1])[0] for row in rows}
    assert set(documented) == set(settings)
    for key, value in documented.items():
        if value.startswith("HALL_"):
            assert settings[key] == getattr(defaults, value.removeprefix("HALL_").lower()), key
        elif isinstance(settings[key], type):  # a protocol class, named by its dotted path
            assert value == f"{settings[key].__module__}.{settings[key].__qualname__}", key
        else:
            assert ast.literal_eval(value) == settings[key], key
    assert settings["ws_max_size"] == protocol.MAX_FRAME


def test_the_constants_table_gives_the_codes_values() -> None:
    rows = table(section("Constants"), "constant")
    assert rows
    for row in rows:
        module, _, name = ticked(row[0])[0].rpartition(".")
        assert getattr(importlib.import_module(module), name) == ast.literal_eval(ticked(row[1])[0]), row[0]


# ---------------------------------------------------------------------- operations


def test_every_metric_series_is_listed_and_no_other() -> None:
    exposed = {f"{m.name}_total" if m.type == "counter" else m.name for m in metrics.REGISTRY.collect()}
    rows = table(section("`/metrics`"), "series")
    assert {ticked(row[0])[0] for row in rows} == exposed


def test_every_log_field_is_described_and_the_log_examples_are_log_lines() -> None:
    body = section("Logs")
    missing = [name for name in ("ts", "level", "logger", "msg", "exc", *logs.FIELDS) if f"`{name}`" not in body]
    assert not missing, f"log fields not described: {missing}"
    lines = [line for block in blocks("jsonl", body) for line in block.splitlines()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= set(record)
        assert set(record) <= {"ts", "level", "logger", "msg", "exc", *logs.FIELDS}
        assert logs.TOKEN.sub(r"\1***", record["msg"]) == record["msg"], "an example shows a token"


# ---------------------------------------------------------------------- examples


EVENT_CLASSES: Final = {_tag(cls): cls for cls in get_args(AnyEvent)}
ON_THE_WIRE_AS: Final = {"amount": "price"}
"""Event fields whose frame field has another name."""
NEVER_SENT: Final = {"actor": None, "req": None, "user": 0}
"""Event fields that stay inside the server: any value rebuilds the same frame."""


def _rebuilt(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame the server makes of the event this example describes, made by the server's
    own functions: a field the server leaves out, or one it never sends for this kind, differs."""
    match frame["type"]:
        case "event":
            cls = EVENT_CLASSES[frame["kind"]]
            values = {}
            for field in msgspec.structs.fields(cls):
                name = ON_THE_WIRE_AS.get(field.name, field.name)
                if name in frame:
                    values[field.name] = msgspec.convert(frame[name], field.type)
                elif field.name in NEVER_SENT:
                    values[field.name] = NEVER_SENT[field.name]
            rebuilt: dict[str, Any] = msgspec.to_builtins(event_frame(cls(**values)))
            return rebuilt
        case "ack":
            req, lot = frame["req"], frame["lot"]
            if frame["ok"]:
                answer = protocol.ack(req, lot, Accepted(frame["seq"], frame["price"]))
            elif frame["code"] in set(Wire):
                answer = protocol.refusal(req, lot, Wire(frame["code"]), frame["message"])
            else:
                answer = protocol.ack(req, lot, Rejection(Code(frame["code"]), frame["message"]))
            built: dict[str, Any] = msgspec.to_builtins(answer)
            return built
        case "snapshot":
            state = frame["state"]
            assert ("outcome" in frame) == ("winner" in frame) == (state == "closed"), "outcome and winner: closed only"
            assert ("reason" in frame) == (state == "withdrawn"), "reason: withdrawn only"
            assert frame.get("title", "x") and frame.get("session", "x"), "an empty title or session is left out"
    return frame


def _server_frame(raw: str) -> None:
    """Decodes into its Struct, and encoding that gives the example back (no field the Struct
    lacks); and it is what the server's own functions make of the same content."""
    value = json.loads(raw)
    decoded = msgspec.json.decode(raw, type=SERVER[value["type"]])
    assert msgspec.to_builtins(decoded) == value, f"not what the Struct encodes: {raw}"
    assert _rebuilt(value) == value, f"the server would send this otherwise: {raw}"


def _check_example(raw: str) -> str:
    """Check one JSON example against the code; return what it was checked as."""
    value: Any = json.loads(raw)
    if isinstance(value, list):
        decoded = msgspec.json.decode(raw, type=list[protocol.LotSummary])
        assert msgspec.to_builtins(decoded) == value
        return "lots"
    assert isinstance(value, dict), raw
    if value.get("type") in CLIENT:
        client_decoder.decode(raw)
        return f"client:{value['type']}"
    if value.get("type") in SERVER:
        _server_frame(raw)
        return f"server:{value['type']}" + (f":{value['kind']}" if value["type"] == "event" else "")
    if "events" in value:
        page = msgspec.json.decode(raw, type=protocol.EventPage)
        assert msgspec.to_builtins(page) == value
        return "events"
    if "error" in value:
        assert set(value) == {"error"} and {"code", "message"} <= set(value["error"])
        assert value["error"]["code"] in _codes_table()
        return "http-error"
    shapes = {frozenset({"phone", "password"}): "login", frozenset({"token", "user"}): "token",
              frozenset({"ok", "lots"}): "healthz"}  # fmt: skip
    shape = shapes.get(frozenset(value))
    assert shape is not None, f"an example of nothing this test knows: {raw}"
    return shape


def _examples() -> list[str]:
    found = [block.strip() for block in blocks("json")]
    for block in blocks("text"):  # transcripts: → client frame, ← server frame
        for line in block.splitlines():
            if line.startswith(("→ ", "← ")):
                found.append(line[2:])
    return found


def test_every_json_example_decodes_as_the_message_it_shows() -> None:
    examples = _examples()
    assert len(examples) > 30, "the examples were not found"
    checked = {_check_example(raw) for raw in examples}
    wanted = {f"client:{tag}" for tag in CLIENT} | {f"server:{tag}" for tag in SERVER if tag != "event"}
    wanted |= {f"server:event:{_tag(cls)}" for cls in get_args(AnyEvent)}
    wanted |= {"lots", "events", "http-error"}
    missing = wanted - checked
    assert not missing, f"no example of {sorted(missing)}"


def test_a_transcript_direction_is_right() -> None:
    """A ``→`` line is something a client sends, a ``←`` line something the server does."""
    for block in blocks("text"):
        for line in block.splitlines():
            if line.startswith("→ "):
                assert json.loads(line[2:])["type"] in CLIENT, line
            elif line.startswith("← "):
                assert json.loads(line[2:])["type"] in SERVER, line


def test_an_example_the_server_would_not_send_is_caught() -> None:
    """The checks above are not vacuous: a field the Struct lacks, or one the server omits, fails."""
    with pytest.raises(AssertionError):
        _check_example('{"type":"event","lot":1,"seq":3,"kind":"paused","ts":1,"price":null}')
    with pytest.raises(AssertionError):
        _check_example('{"type":"event","lot":1,"seq":3,"kind":"bid","ts":1,"price":5,"bidder":"0001","ends_at":null,"floor":false}')
    with pytest.raises(AssertionError):
        _check_example('{"type":"ack","req":"r","ok":true,"lot":1,"seq":2,"price":5,"extra":1}')
    with pytest.raises(AssertionError):
        _check_example('{"type":"ack","req":"r","ok":false,"lot":1,"seq":2,"code":"too_low","message":"m"}')
    with pytest.raises(AssertionError):
        _check_example('{"type":"snapshot","lot":1,"seq":0,"state":"live","mode":"timed","start_price":1,'
                       '"increment":1,"price":null,"leader":null,"ends_at":null,"now":1,"bids":[],"bid_count":0,'
                       '"warned":false,"bidding_start":1,"window":0,"extension":0,"reason":"x"}')
    with pytest.raises(msgspec.ValidationError):
        _check_example('{"type":"bid","lot":1,"amount":5,"req":"r","extra":1}')
    with pytest.raises(AssertionError):
        section("no such heading")
