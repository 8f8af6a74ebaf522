"""Looking for active content in an uploaded PDF, with bounded work. Pure: no I/O, no state.

Active content (scripts, launch actions, embedded files, XFA forms, rich media) is always
announced by a name in a dictionary: ``/JavaScript``, ``/JS``, ``/Launch``, ``/EmbeddedFile``,
``/XFA``... Dictionaries are either in the file's plain text or inside object streams, which
may be encoded by any chain of the standard filters. So the scan looks for those names (also
spelled with ``#xx`` escapes) in the plain bytes and in every stream decoded through its whole
filter chain, predictors included. It does not parse the document's object graph: a hostile
file's cross-reference table may say anything, while the bytes are what every reader sees.

What it cannot decode it refuses: an unknown filter, a filter named indirectly, a stream it
cannot find the dictionary of, an encrypted document (its object streams are ciphertext).
Image filters (DCTDecode, JPXDecode, CCITTFaxDecode, JBIG2Decode) are not decoded: their
output is pixels, which no reader parses as PDF objects, so no dictionary can hide there; a
stream that names one is skipped whole.

The work is bounded three ways (``Limits``): bytes decoded per stream and in all, streams
looked into, and a deadline checked between chunks of every decoder. The caller runs ``scan``
in a separate process (``hall.uploads.PdfChecker``), so the regular expressions and pure-Python
decoders never hold the server's GIL.
"""

from __future__ import annotations

import base64
import bisect
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Verdict(StrEnum):
    CLEAN = "clean"
    ACTIVE = "active"
    """Names active content."""
    INFLATE_LIMIT = "inflate_limit"
    """Decodes to more than the limits allow (a decompression bomb), or has too many streams."""
    TIME_LIMIT = "time_limit"
    UNDECODABLE = "undecodable"


@dataclass(frozen=True, slots=True)
class Limits:
    total: int = 64 * 1024 * 1024
    """Bytes decoded in all, over every stream and every filter of its chain."""
    per_stream: int = 16 * 1024 * 1024
    """Bytes one filter of one stream may produce."""
    seconds: float = 5.0
    streams: int = 50_000


ACTIVE_NAMES: Final = ("JavaScript", "JS", "Launch", "EmbeddedFile", "EmbeddedFiles", "XFA", "RichMedia")

_DELIMITER: Final = rb"\x00\t\n\x0c\r /<>\[\]()%{}"


def _spelled(name: str) -> bytes:
    """A pattern for ``/name`` however its characters are written (each may be ``#xx``)."""
    chars = (rb"(?:%s|#%s)" % (re.escape(c.encode()), b"".join(b"[%s%s]" % (d.encode(), d.upper().encode())
                                                                 for d in f"{ord(c):02x}")) for c in name)  # fmt: skip
    return b"/" + b"".join(chars)


_ACTIVE: Final = re.compile(rb"(?:%s)(?=[%s]|\Z)" % (b"|".join(_spelled(n) for n in ACTIVE_NAMES), _DELIMITER))
_ENCRYPT: Final = re.compile(rb"%s(?=[%s]|\Z)" % (_spelled("Encrypt"), _DELIMITER))
_STREAM: Final = re.compile(rb"(?<!end)stream(?:\r\n|\r|\n)")
_OBJECT: Final = re.compile(rb"\d+[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+obj(?=[%s])" % _DELIMITER)
_TOKEN: Final = re.compile(
    rb"[\x00\t\n\x0c\r ]+|%[^\r\n]*|<<|>>|\[|\]|/[^" + _DELIMITER + rb"]*|[+-]?(?:\d+\.?\d*|\.\d+)"
    rb"|<[0-9A-Fa-f\x00\t\n\x0c\r ]*>|[A-Za-z]+|\("
)
_HEX_ESCAPE: Final = re.compile(rb"#([0-9A-Fa-f]{2})")
_SPACE: Final = re.compile(rb"[\x00\t\n\x0c\r ]+")
MAX_DICTIONARY: Final = 64 * 1024
"""Bytes between an object's header and its ``stream`` keyword: a stream dictionary is small."""
MAX_DEPTH: Final = 32
CHUNK: Final = 1024 * 1024
"""Bytes decoded between two looks at the clock."""
IMAGE_FILTERS: Final = frozenset({"DCTDecode", "DCT", "JPXDecode", "CCITTFaxDecode", "CCF", "JBIG2Decode"})


class _Stop(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.value)
        self.verdict = verdict


class _Budget:
    """The clock and the bytes left; every decoder reports to it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.left = limits.total
        self.deadline = time.monotonic() + limits.seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Stop(Verdict.TIME_LIMIT)

    def spend(self, produced: int) -> None:
        """Count one filter's output so far."""
        if produced > self.limits.per_stream or produced > self.left:
            raise _Stop(Verdict.INFLATE_LIMIT)

    def spent(self, produced: int) -> None:
        self.left -= produced


def scan(data: bytes, limits: Limits = Limits()) -> Verdict:  # noqa: B008 - a frozen default
    """What ``data`` (a whole PDF file) holds, within ``limits``."""
    budget = _Budget(limits)
    try:
        if _ACTIVE.search(data):
            return Verdict.ACTIVE
        if _ENCRYPT.search(data):
            return Verdict.UNDECODABLE
        headers = [m.end() for m in _OBJECT.finditer(data)]
        streams = [m.span() for m in _STREAM.finditer(data)]
        if len(streams) > limits.streams:
            return Verdict.INFLATE_LIMIT
        for index, (keyword, start) in enumerate(streams):
            budget.tick()
            found = bisect.bisect_right(headers, keyword) - 1
            head = headers[found] if found >= 0 else 0
            if index and streams[index - 1][0] > head:
                continue  # "stream" inside the data of the stream before it, in the same object
            decoded = _decode(data, head, keyword, start, budget)
            if decoded is not None and _ACTIVE.search(decoded):
                return Verdict.ACTIVE
    except _Stop as stop:
        return stop.verdict
    return Verdict.CLEAN


def _decode(data: bytes, head: int, keyword: int, start: int, budget: _Budget) -> bytes | None:
    """The stream whose data begins at ``start`` decoded through its filters; None when it
    needs no look (no filter: its bytes were scanned with the file's; an image). Each filter
    reads from the stream's start and stops at its own end of data, as readers' do."""
    if keyword - head > MAX_DICTIONARY:
        raise _Stop(Verdict.UNDECODABLE)
    dictionary = _parse_dictionary(data[head:keyword])
    filters, parms = _names(dictionary.get("Filter")), dictionary.get("DecodeParms")
    if not filters or IMAGE_FILTERS.intersection(filters):
        return None
    if isinstance(parms, list):
        each = parms
    elif len(filters) == 1 or parms is None:
        each = [parms] * len(filters)
    else:
        raise _Stop(Verdict.UNDECODABLE)  # one parameter dictionary for a chain: which filter's?
    if len(each) != len(filters):
        raise _Stop(Verdict.UNDECODABLE)
    chunk: bytes | memoryview = memoryview(data)[start:]
    for name, parm in zip(filters, each, strict=True):
        decoder = DECODERS.get(name)
        if decoder is None or (parm is not None and not isinstance(parm, dict)):
            raise _Stop(Verdict.UNDECODABLE)
        chunk = decoder(chunk, parm or {}, budget)
        if decoder in (_flate, _lzw):
            chunk = _predicted(chunk, parm or {}, budget)
        budget.spent(len(chunk))
    return bytes(chunk)


# ---------------------------------------------------------------------- the stream dictionary


class _Ref:
    """An indirect reference (``5 0 R``): a filter named this way cannot be read here."""


def _parse_dictionary(region: bytes) -> dict[str, object]:
    tokens = _tokens(region)
    value, end = _value(tokens, 0, 0)
    if not isinstance(value, dict) or end != len(tokens):
        raise _Stop(Verdict.UNDECODABLE)
    return value


def _tokens(region: bytes) -> list[bytes]:
    tokens = []
    pos = 0
    while pos < len(region):
        match = _TOKEN.match(region, pos)
        if match is None:
            raise _Stop(Verdict.UNDECODABLE)
        token = match.group()
        if token == b"(":
            pos = _string_end(region, match.end())
            tokens.append(b"()")
            continue
        pos = match.end()
        if token[:1] not in b"\x00\t\n\x0c\r %":  # not white space or a comment
            tokens.append(token)
    return tokens


def _string_end(region: bytes, pos: int) -> int:
    """Past the literal string whose ``(`` ends at ``pos`` (balanced parentheses, escapes)."""
    depth = 1
    while depth:
        if pos >= len(region):
            raise _Stop(Verdict.UNDECODABLE)
        byte = region[pos]
        pos += 2 if byte == 0x5C else 1  # a backslash escapes the next byte
        depth += 1 if byte == 0x28 else -1 if byte == 0x29 else 0
    return pos


def _value(tokens: list[bytes], i: int, depth: int) -> tuple[object, int]:
    if depth > MAX_DEPTH or i >= len(tokens):
        raise _Stop(Verdict.UNDECODABLE)
    token = tokens[i]
    if token == b"<<":
        found: dict[str, object] = {}
        i += 1
        while i < len(tokens) and tokens[i] != b">>":
            key = tokens[i]
            if not key.startswith(b"/"):
                raise _Stop(Verdict.UNDECODABLE)
            found[_name(key)], i = _value(tokens, i + 1, depth + 1)
        return found, i + 1
    if token == b"[":
        items = []
        i += 1
        while i < len(tokens) and tokens[i] != b"]":
            item, i = _value(tokens, i, depth + 1)
            items.append(item)
        return items, i + 1
    if token.startswith(b"/"):
        return _name(token), i + 1
    if token.isdigit() and tokens[i + 1 : i + 2] and tokens[i + 1].isdigit() and tokens[i + 2 : i + 3] == [b"R"]:
        return _Ref(), i + 3
    if token == b"null":
        return None, i + 1
    return token, i + 1


def _name(token: bytes) -> str:
    return _HEX_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), token[1:]).decode("latin-1")


def _names(value: object) -> list[str]:
    """A ``/Filter`` value as a list of filter names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _Stop(Verdict.UNDECODABLE)


def _int(parms: dict[str, object], key: str, default: int) -> int:
    raw = parms.get(key)
    if raw is None:
        return default
    if not isinstance(raw, bytes) or not raw.isdigit() or len(raw) > 6:
        raise _Stop(Verdict.UNDECODABLE)
    return int(raw)


# ---------------------------------------------------------------------- filters

Decoder = Callable[[bytes | memoryview, dict[str, object], _Budget], bytes]


def _flate(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    """Inflate until the deflate stream ends (whatever follows is not its), a chunk at a time.
    A corrupt stream yields what came before the damage, as lenient readers show it."""
    inflater = zlib.decompressobj()
    out = bytearray()
    for pos in range(0, len(data), CHUNK):
        try:
            out += inflater.decompress(data[pos : pos + CHUNK], CHUNK)
            while inflater.unconsumed_tail and not inflater.eof:
                budget.spend(len(out))
                budget.tick()
                out += inflater.decompress(inflater.unconsumed_tail, CHUNK)
        except zlib.error:
            break
        budget.spend(len(out))
        budget.tick()
        if inflater.eof:
            break
    return bytes(out)


def _ascii_hex(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    raw = bytes(data)
    end = raw.find(b">")
    digits = _SPACE.sub(b"", raw if end < 0 else raw[:end])
    if len(digits) % 2:
        digits += b"0"
    try:
        out = bytes.fromhex(digits.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise _Stop(Verdict.UNDECODABLE) from None
    budget.spend(len(out))
    return out


def _ascii85(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    raw = bytes(data)
    end = raw.find(b"~>")
    body = _SPACE.sub(b"", raw if end < 0 else raw[:end]).removeprefix(b"<~")
    budget.spend(len(body) // 5 * 4 + body.count(b"z") * 4)
    try:
        out = base64.a85decode(body)
    except ValueError:
        raise _Stop(Verdict.UNDECODABLE) from None
    budget.spend(len(out))
    return out


def _run_length(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    out = bytearray()
    pos = 0
    runs = 0
    while pos < len(data):
        length = data[pos]
        if length == 128:
            break
        if length < 128:
            out += data[pos + 1 : pos + 2 + length]
            pos += 2 + length
        else:
            out += bytes(data[pos + 1 : pos + 2]) * (257 - length)
            pos += 2
        runs += 1
        if runs % 4096 == 0:
            budget.spend(len(out))
            budget.tick()
    budget.spend(len(out))
    return bytes(out)


def _lzw(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    """LZW as PDF uses it (ISO 32000-1 §7.4.4): codes of 9 to 12 bits, most significant bit
    first, 256 clears the table, 257 ends; ``EarlyChange`` 1 widens codes one entry early."""
    early = _int(parms, "EarlyChange", 1)
    out = bytearray()
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    width = 9
    previous: bytes | None = None
    bits = 0
    held = 0
    for count, byte in enumerate(data):
        held = (held << 8) | byte
        bits += 8
        if bits < width:
            continue
        bits -= width
        code = held >> bits
        held &= (1 << bits) - 1
        if code == 256:
            table, width, previous = table[:258], 9, None
            continue
        if code == 257:
            break
        if code < len(table):
            entry = table[code]
            if previous is not None and len(table) < 4096:
                table.append(previous + entry[:1])
        elif previous is not None and code == len(table) < 4096:
            entry = previous + previous[:1]
            table.append(entry)
        else:
            raise _Stop(Verdict.UNDECODABLE)
        out += entry
        previous = entry
        if len(table) + early >= 1 << width and width < 12:
            width += 1
        if count % 65536 == 0:
            budget.spend(len(out))
            budget.tick()
    budget.spend(len(out))
    return bytes(out)


def _crypt(data: bytes | memoryview, parms: dict[str, object], budget: _Budget) -> bytes:
    """Only the identity crypt filter passes data a reader sees as it is."""
    if parms.get("Name", "Identity") != "Identity":
        raise _Stop(Verdict.UNDECODABLE)
    return bytes(data)


DECODERS: Final[dict[str, Decoder]] = {
    "FlateDecode": _flate, "Fl": _flate,
    "ASCIIHexDecode": _ascii_hex, "AHx": _ascii_hex,
    "ASCII85Decode": _ascii85, "A85": _ascii85,
    "LZWDecode": _lzw, "LZW": _lzw,
    "RunLengthDecode": _run_length, "RL": _run_length,
    "Crypt": _crypt,
}  # fmt: skip
"""Every standard filter but the image ones, under its name and its inline abbreviation."""


def _predicted(data: bytes, parms: dict[str, object], budget: _Budget) -> bytes:
    """Undo a Flate or LZW predictor (§7.4.4.4): TIFF 2 on 8-bit samples, or PNG (10 to 15,
    each row saying its own). Object streams may be predicted too, hiding their names."""
    predictor = _int(parms, "Predictor", 1)
    if predictor == 1:
        return data
    colors, bpc, columns = _int(parms, "Colors", 1), _int(parms, "BitsPerComponent", 8), _int(parms, "Columns", 1)
    pixel = max(1, colors * bpc // 8)
    row = (colors * bpc * columns + 7) // 8
    if not 0 < row <= 1 << 20 or bpc not in (1, 2, 4, 8, 16) or colors > 32:
        raise _Stop(Verdict.UNDECODABLE)
    if predictor == 2:
        if bpc != 8:
            raise _Stop(Verdict.UNDECODABLE)
        out = bytearray(data)
        for start in range(0, len(out), row):
            for i in range(start + pixel, min(start + row, len(out))):
                out[i] = (out[i] + out[i - pixel]) & 0xFF
            budget.tick()
        return bytes(out)
    if predictor < 10:
        raise _Stop(Verdict.UNDECODABLE)
    return _png(data, row, pixel, budget)


def _png(data: bytes, row: int, pixel: int, budget: _Budget) -> bytes:
    out = bytearray()
    above = bytearray(row)
    for start in range(0, len(data), row + 1):
        kind, line = data[start], bytearray(data[start + 1 : start + 1 + row].ljust(row, b"\0"))
        if kind == 1:
            for i in range(pixel, row):
                line[i] = (line[i] + line[i - pixel]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
        elif kind == 3:
            for i in range(row):
                left = line[i - pixel] if i >= pixel else 0
                line[i] = (line[i] + (left + above[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(row):
                a = line[i - pixel] if i >= pixel else 0
                b, c = above[i], above[i - pixel] if i >= pixel else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise _Stop(Verdict.UNDECODABLE)
        out += line
        above = line
        budget.tick()
    return bytes(out)
