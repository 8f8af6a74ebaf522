"""The PDF scan: active content found behind every standard filter chain, XFA refused, what
cannot be decoded refused, and the work bounded by bytes and time."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable

import pytest

from hall.pdfscan import Limits, Verdict, scan

SCRIPT = b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj"
LAUNCH = b"2 0 obj << /OpenAction << /S /Launch /F (cmd.exe) >> >> endobj"
PLAIN = b"3 0 obj << /Type /Page /Contents 4 0 R >> endobj"


def pdf(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def stream(payload: bytes, dictionary: bytes) -> bytes:
    return b"5 0 obj\n<< /Type /ObjStm /N 1 /First 4 " + dictionary + b" >>\nstream\n" + payload + b"\nendstream\nendobj"


def lzw(data: bytes) -> bytes:
    """LZW as PDF writes it (EarlyChange 1), without clearing the table before it fills."""
    table = {bytes([i]): i for i in range(256)}
    codes, word = [256], b""
    for byte in data:
        grown = word + bytes([byte])
        if grown in table:
            word = grown
            continue
        codes.append(table[word])
        table[grown] = len(table) + 2
        word = bytes([byte])
    codes += [table[word], 257]
    bits, width, size = 0, 9, 258
    out = 0
    for n, code in enumerate(codes):
        out = (out << width) | code
        bits += width
        size += 1 if 1 < n < len(codes) - 1 else 0
        if size + 1 >= 1 << width and width < 12:
            width += 1
    pad = -bits % 8
    return (out << pad).to_bytes((bits + pad) // 8, "big")


def run_length(data: bytes) -> bytes:
    return b"".join(bytes([len(data[i : i + 128]) - 1]) + data[i : i + 128] for i in range(0, len(data), 128)) + b"\x80"


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "FlateDecode": zlib.compress,
    "ASCIIHexDecode": lambda data: data.hex().encode() + b">",
    "ASCII85Decode": lambda data: base64.a85encode(data, wrapcol=64) + b"~>",
    "LZWDecode": lzw,
    "RunLengthDecode": run_length,
}
CHAINS = [
    ["FlateDecode"], ["ASCIIHexDecode"], ["ASCII85Decode"], ["LZWDecode"], ["RunLengthDecode"],
    ["ASCIIHexDecode", "FlateDecode"], ["ASCII85Decode", "FlateDecode"], ["ASCII85Decode", "LZWDecode"],
    ["ASCIIHexDecode", "ASCII85Decode", "RunLengthDecode", "FlateDecode"],
]  # fmt: skip


def encoded(chain: list[str], data: bytes) -> bytes:
    """``data`` as a stream with ``/Filter chain``: the last filter is applied first."""
    for name in reversed(chain):
        data = ENCODERS[name](data)
    return stream(data, b"/Filter [" + b" ".join(b"/" + name.encode() for name in chain) + b"]")


@pytest.mark.parametrize("chain", CHAINS, ids="+".join)
@pytest.mark.parametrize("hidden", [SCRIPT, LAUNCH], ids=["javascript", "launch"])
def test_active_content_behind_every_standard_filter_chain_is_found(chain: list[str], hidden: bytes) -> None:
    assert scan(pdf(encoded(chain, hidden))) is Verdict.ACTIVE


@pytest.mark.parametrize("chain", CHAINS, ids="+".join)
def test_the_same_chains_around_plain_objects_are_clean(chain: list[str]) -> None:
    assert scan(pdf(encoded(chain, PLAIN * 50))) is Verdict.CLEAN


def test_lzw_decoding_reads_what_grows_the_code_width_past_9_and_10_bits() -> None:
    long = bytes(range(256)) * 20 + SCRIPT  # more than 1,024 table entries before the name
    assert scan(pdf(encoded(["LZWDecode"], long))) is Verdict.ACTIVE
    assert scan(pdf(encoded(["LZWDecode"], bytes(range(256)) * 20 + PLAIN))) is Verdict.CLEAN


def test_an_xfa_form_is_active_content_in_plain_text_and_in_an_object_stream() -> None:
    xfa = b"1 0 obj << /AcroForm << /Fields [] /XFA 6 0 R >> >> endobj"
    assert scan(pdf(xfa)) is Verdict.ACTIVE
    assert scan(pdf(encoded(["FlateDecode"], xfa))) is Verdict.ACTIVE


def test_names_spelled_with_hex_escapes_are_found_in_decoded_streams_too() -> None:
    assert scan(pdf(encoded(["ASCIIHexDecode"], b"<< /S /J#61va#53cript >>"))) is Verdict.ACTIVE
    assert scan(pdf(encoded(["ASCIIHexDecode"], b"<< /S /JavaScripts >>"))) is Verdict.CLEAN  # another name


def test_a_png_predicted_object_stream_is_decoded_before_the_scan() -> None:
    columns = 8
    text = SCRIPT.ljust(-(-len(SCRIPT) // columns) * columns)
    rows = [text[i : i + columns] for i in range(0, len(text), columns)]
    above, predicted = bytes(columns), b""
    for kind, row in zip(range(len(rows)), rows, strict=True):
        kind = 2 if kind % 2 else 1  # "Up" and "Sub" rows, alternating
        if kind == 2:
            predicted += b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, above, strict=True))
        else:
            predicted += b"\x01" + bytes((row[i] - (row[i - 1] if i else 0)) & 0xFF for i in range(columns))
        above = row
    assert b"JavaScript" not in predicted
    dictionary = b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns %d >>" % columns
    assert scan(pdf(stream(zlib.compress(predicted), dictionary))) is Verdict.ACTIVE


def test_image_filters_are_not_decoded_since_pixels_hide_no_dictionary() -> None:
    image = stream(b"/JavaScript ".hex().encode() + b">", b"/Filter [/ASCIIHexDecode /DCTDecode]")
    assert scan(pdf(image)) is Verdict.CLEAN


@pytest.mark.parametrize(
    "body",
    [
        stream(b"abc", b"/Filter /NoSuchDecode"),
        stream(b"abc", b"/Filter 7 0 R"),  # named indirectly: the scan cannot follow it
        stream(b"zz>", b"/Filter /ASCIIHexDecode"),  # not hex
        stream(zlib.compress(SCRIPT), b"/Filter [/ASCIIHexDecode /FlateDecode] /DecodeParms << /Predictor 12 >>"),
        b"% stream\nno object around this stream keyword",
        b"1 0 obj << /Length 3 >> endobj\ntrailer << /Encrypt 9 0 R >>",
    ],
    ids=["unknown-filter", "indirect-filter", "bad-hex", "one-parms-for-a-chain", "no-dictionary", "encrypted"],
)
def test_what_cannot_be_decoded_is_refused(body: bytes) -> None:
    assert scan(pdf(body)) is Verdict.UNDECODABLE


def test_the_word_stream_inside_a_streams_data_is_not_taken_for_another_stream() -> None:
    content = b"BT (upstream\n) Tj ET"
    assert scan(pdf(b"4 0 obj << /Length 20 >>\nstream\n" + content + b"\nendstream endobj")) is Verdict.CLEAN


def test_an_inflate_bomb_stops_at_the_per_stream_limit() -> None:
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)  # 64 KiB that inflate to 64 MiB
    assert scan(pdf(stream(bomb, b"/Filter /FlateDecode"))) is Verdict.INFLATE_LIMIT


def test_many_small_streams_stop_at_the_total_limit() -> None:
    one = stream(zlib.compress(bytes(1024 * 1024)), b"/Filter /FlateDecode")
    assert scan(pdf(one * 5), Limits(total=4 * 1024 * 1024)) is Verdict.INFLATE_LIMIT
    assert scan(pdf(one * 3), Limits(total=4 * 1024 * 1024)) is Verdict.CLEAN


def test_more_streams_than_allowed_are_refused() -> None:
    assert scan(pdf(stream(b"x", b"") * 11), Limits(streams=10)) is Verdict.INFLATE_LIMIT


def cpu_heavy_pdf() -> bytes:
    """A stream the pure-Python run-length decoder takes seconds over: runs of one byte."""
    return pdf(stream(b"\x00A" * (4 * 1024 * 1024), b"/Filter /RunLengthDecode"))


def test_a_cpu_heavy_pdf_hits_the_time_limit() -> None:
    assert scan(cpu_heavy_pdf(), Limits(seconds=0.05)) is Verdict.TIME_LIMIT
