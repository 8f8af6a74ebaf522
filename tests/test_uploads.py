"""Uploaded documents: typed by their bytes, capped at 10 MiB, active content refused, kept
under random names outside the web root, served only to their owner and staff as downloads."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from hall.auth.roles import Role
from hall.config import Config
from hall.pdfscan import Verdict, scan
from hall.uploads import (
    JPEG as JPEG_TYPE,
    MAX_SIZE,
    MSG_ACTIVE_PDF,
    MSG_EXECUTABLE,
    MSG_WRONG_TYPE,
    PDF as PDF_TYPE,
    PNG as PNG_TYPE,
    UploadRefused,
    check,
    files_dir,
    sanitise_name,
    sniff,
)
from hallkit import JPEG, PDF, PNG, Actor, FakeClock, anonymous, call, hall, rows, runtime, user
from starlette.testclient import TestClient

from hall.runtime import wall_clock
from hall.store.sqlite import SqliteStore
from hall.web.i18n import COOKIE, translate

ORG_FORM = {"kind": "organisation", "org_name": "某某大学", "org_kind": "university"}
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48) + b"This program cannot be run in DOS mode"


def _pdf_with(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


# ------------------------------------------------------------------------------- pure checks


@pytest.mark.parametrize(("data", "media_type"), [(PDF, PDF_TYPE), (JPEG, JPEG_TYPE), (PNG, PNG_TYPE)])
def test_the_three_accepted_types_are_recognised_by_their_magic_bytes(data: bytes, media_type: str) -> None:
    assert sniff(data) == media_type
    assert check(data, "whatever.txt").media_type == media_type


@pytest.mark.parametrize("data", [b"GIF89a" + bytes(20), b"PK\x03\x04" + bytes(20), b"<html><script>", b" %PDF-1.4"])
def test_other_bytes_are_refused_whatever_the_name(data: bytes) -> None:
    with pytest.raises(UploadRefused) as refused:
        check(data, "scan.pdf")
    assert (refused.value.status, refused.value.code) == (400, "bad_file")
    assert refused.value.key == MSG_WRONG_TYPE


@pytest.mark.parametrize("data", [ELF, EXE, b"\xcf\xfa\xed\xfe" + bytes(28), b"#!/bin/sh\nrm -rf /\n"])
def test_executables_and_scripts_are_refused(data: bytes) -> None:
    with pytest.raises(UploadRefused) as refused:
        check(data, "letter.pdf")
    assert (refused.value.status, refused.value.code) == (400, "bad_file")
    assert refused.value.key == MSG_EXECUTABLE


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(UploadRefused) as refused:
        check(b"", "a.pdf")
    assert refused.value.code == "bad_file"


def test_more_than_10_mib_is_too_large_and_exactly_10_mib_is_not() -> None:
    assert check(b"%PDF-" + bytes(MAX_SIZE - 5), "a.pdf").size == MAX_SIZE
    with pytest.raises(UploadRefused) as refused:
        check(b"%PDF-" + bytes(MAX_SIZE - 4), "a.pdf")
    assert (refused.value.status, refused.value.code) == (413, "too_large")


@pytest.mark.parametrize(
    "body",
    [
        b"1 0 obj << /Type /Action /S /JavaScript /JS (app.alert(1)) >> endobj",
        b"1 0 obj << /OpenAction << /S /Launch /F (cmd.exe) >> >> endobj",
        b"1 0 obj << /Type /EmbeddedFile /Length 3 >> stream\nabc\nendstream endobj",
        b"1 0 obj << /Names << /EmbeddedFiles 2 0 R >> >> endobj",
        b"1 0 obj << /S /J#61vaScript /JS 2 0 R >> endobj",  # a name hidden behind #xx escapes
    ],
)
def test_a_pdf_with_scripts_launch_actions_or_embedded_files_is_refused(body: bytes) -> None:
    assert scan(_pdf_with(body)) is Verdict.ACTIVE


def test_active_content_hidden_in_a_compressed_object_stream_is_found() -> None:
    hidden = zlib.compress(b"<< /Type /Action /S /JavaScript /JS (this.exportDataObject()) >>")
    data = _pdf_with(b"5 0 obj << /Type /ObjStm /Filter /FlateDecode >> stream\n" + hidden + b"\nendstream endobj")
    assert scan(data) is Verdict.ACTIVE


def test_an_ordinary_pdf_with_compressed_page_content_is_accepted() -> None:
    content = zlib.compress(b"BT /F1 12 Tf 72 712 Td (Commitment letter) Tj ET")
    data = _pdf_with(b"4 0 obj << /Filter /FlateDecode >> stream\n" + content + b"\nendstream endobj")
    assert scan(data) is Verdict.CLEAN
    assert check(data, "letter.pdf").media_type == PDF_TYPE


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.pdf", "cmd.pdf"),
        ("C:\\Users\\张三\\承诺函.pdf", "承诺函.pdf"),
        ("evil\x00name\r\n.pdf", "evilname.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # the right-to-left override is dropped
        ("..", "upload.pdf"),
        ("", "upload.pdf"),
        ("/", "upload.pdf"),
    ],
)
def test_original_names_lose_paths_and_control_characters(raw: str, kept: str) -> None:
    assert sanitise_name(raw, PDF_TYPE) == kept


def test_a_very_long_name_is_trimmed_and_keeps_its_extension() -> None:
    name = sanitise_name("甲" * 500 + ".pdf", PDF_TYPE)
    assert len(name) == 200 and name.endswith(".pdf")


def test_files_live_beside_the_database_unless_configured(tmp_path: Path) -> None:
    assert files_dir(Config(db=str(tmp_path / "h.db"), files="")) == tmp_path.resolve() / "files"
    assert files_dir(Config(db=str(tmp_path / "h.db"), files=str(tmp_path / "docs"))) == tmp_path / "docs"


# ------------------------------------------------------------------------------- over HTTP


def test_a_path_traversal_name_is_stored_under_a_random_name_inside_the_files_dir(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        response = applicant.upload("/account/verification", "document", "../../etc/passwd", PDF, ORG_FORM)
        assert response.status_code == 303, response.text
        [(owner, stored_name, original, media_type, size, sha256)] = rows(
            client, "SELECT owner, stored_name, original_name, media_type, size, sha256 FROM files")
    assert (owner, original, media_type, size) == (applicant.id, "passwd", "application/pdf", len(PDF))
    directory = (tmp_path / "files").resolve()
    assert [p.name for p in directory.iterdir()] == [stored_name]
    assert len(stored_name) == 32 and all(c in "0123456789abcdef" for c in stored_name)
    assert (directory / stored_name).read_bytes() == PDF
    assert {p.name for p in tmp_path.iterdir()} <= {"h.db", "h.db-wal", "h.db-shm", "files"}  # nothing escaped
    assert len(sha256) == 64


def test_uploads_go_to_the_configured_files_dir(tmp_path: Path) -> None:
    with hall(tmp_path, files=str(tmp_path / "docs")) as client:
        applicant = Actor(client, user(client, "13800000001"))
        assert applicant.upload("/account/verification", "document", "licence.png", PNG, ORG_FORM).status_code == 303
    assert len(list((tmp_path / "docs").iterdir())) == 1
    assert not (tmp_path / "files").exists()


def test_an_oversize_file_is_refused_with_413_too_large(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        just_over = b"%PDF-1.4\n" + bytes(MAX_SIZE - 8)  # fits the request body limit; the file is 1 byte over
        response = applicant.upload("/account/verification", "document", "big.pdf", just_over, ORG_FORM,
                                    headers={"accept": "application/json"})  # fmt: skip
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        page = applicant.upload("/account/verification", "document", "big.pdf", just_over, ORG_FORM)
        assert page.status_code == 413 and "10 MiB" in page.text
        far_over = applicant.upload("/account/verification", "document", "huge.pdf", bytes(11 * 1024 * 1024), ORG_FORM)
        assert far_over.status_code == 413
        assert far_over.json()["error"]["code"] == "too_large"
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]
        assert rows(client, "SELECT count(*) FROM verifications") == [(0,)]
    assert not (tmp_path / "files").exists() or not list((tmp_path / "files").iterdir())


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("letter.pdf", b"GIF89a\x01\x00\x01\x00" + bytes(20), "application/pdf"),
        ("letter.pdf", ELF, "application/pdf"),
        ("letter.pdf", EXE, "application/pdf"),
        ("scan.png", b"#!/usr/bin/env python\nimport os\n", "image/png"),
        ("letter.pdf", _pdf_with(b"1 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj"), "application/pdf"),
    ],
)
def test_wrong_magic_bytes_executables_and_active_pdfs_are_refused_with_400(
    tmp_path: Path, name: str, content: bytes, declared: str
) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        response = applicant.upload("/account/verification", "document", name, content, ORG_FORM, declared=declared,
                                    headers={"accept": "application/json"})  # fmt: skip
        assert response.status_code == 400
        body = response.json()["error"]
        assert body["code"] == "bad_file"
        assert "(" not in body["message"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
        page = applicant.upload("/account/verification", "document", name, content, ORG_FORM, declared=declared)
        assert page.status_code == 400 and 'data-code="bad_file"' in page.text
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refusal_from_the_checker_process_is_said_in_the_askers_language(tmp_path: Path, lang: str) -> None:
    active = _pdf_with(b"1 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj")
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        cookie = f"hall_session={applicant.cookie}; {COOKIE}={lang}"
        response = applicant.upload("/account/verification", "document", "licence.pdf", active, ORG_FORM,
                                    headers={"accept": "application/json", "cookie": cookie})  # fmt: skip
        assert response.status_code == 400
        assert response.json()["error"]["message"] == translate(MSG_ACTIVE_PDF, lang)


def test_a_missing_document_for_an_organisation_is_a_clear_400(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        response = applicant.post("/account/verification", ORG_FORM)
        assert response.status_code == 400
        assert "机构认证须上传营业执照" in response.text


def test_a_file_is_served_as_an_attachment_with_its_sniffed_type_and_nosniff(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        response = applicant.upload("/account/verification", "document", "营业执照 <1>.png", PNG, ORG_FORM,
                                    declared="text/html")  # fmt: skip
        assert response.status_code == 303
        [(file_id,)] = rows(client, "SELECT id FROM files")
        served = applicant.get(f"/files/{file_id}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%20%3C1%3E.png"
    )


def test_a_file_is_hidden_from_other_users_but_open_to_staff(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        owner = Actor(client, user(client, "13800000001"))
        other = Actor(client, user(client, "13800000002", verified=True))
        staff = Actor(client, user(client, "13800000003", roles=(Role.STAFF,)))
        assert owner.upload("/account/verification", "document", "a.pdf", PDF, ORG_FORM).status_code == 303
        [(file_id,)] = rows(client, "SELECT id FROM files")
        assert other.get(f"/files/{file_id}").status_code == 404
        assert other.get(f"/files/{file_id + 1}").status_code == 404  # the same answer as for a missing file
        assert staff.get(f"/files/{file_id}").status_code == 200
        assert owner.get(f"/files/{file_id}").status_code == 200
        anonymous_response = anonymous(client).get(f"/files/{file_id}", follow_redirects=False)
        assert anonymous_response.status_code == 303
        assert anonymous_response.headers["location"].startswith("/login")


# ------------------------------------------------------------------------------- bounded PDF checks, quotas


def _hidden_behind_filters() -> bytes:
    hex_then_flate = zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>").hex().encode() + b">"
    return _pdf_with(b"5 0 obj << /Type /ObjStm /Filter [/ASCIIHexDecode /FlateDecode] >>\nstream\n"
                     + hex_then_flate + b"\nendstream endobj")  # fmt: skip


@pytest.mark.parametrize(
    ("content", "code", "config"),
    [
        (_hidden_behind_filters(), "bad_file", {}),
        (_pdf_with(b"1 0 obj << /AcroForm << /XFA 2 0 R >> >> endobj"), "bad_file", {}),
        (_pdf_with(b"5 0 obj << /Filter /FlateDecode >>\nstream\n" + zlib.compress(bytes(64 << 20), 9)
                   + b"\nendstream endobj"), "pdf_inflate_limit", {}),  # fmt: skip
        (_pdf_with(b"5 0 obj << /Filter /RunLengthDecode >>\nstream\n" + b"\x00A" * (4 << 20)
                   + b"\nendstream endobj"), "pdf_time_limit", {"pdf_seconds": 0.05}),  # fmt: skip
        (_pdf_with(b"5 0 obj << /Filter /JBIG3Decode >>\nstream\nabc\nendstream endobj"), "pdf_undecodable", {}),
    ],
    ids=["filter-chain", "xfa", "inflate-bomb", "cpu-heavy", "unknown-filter"],
)
def test_a_pdf_the_checker_process_refuses_is_answered_400_with_its_code(
    tmp_path: Path, content: bytes, code: str, config: dict[str, float]
) -> None:
    with hall(tmp_path, **config) as client:
        applicant = Actor(client, user(client, "13800000001"))
        response = applicant.upload("/account/verification", "document", "licence.pdf", content, ORG_FORM,
                                    headers={"accept": "application/json"})  # fmt: skip
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == code
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]


async def _reject_applications(client: TestClient) -> None:
    """Decide the pending applications, so their owners may apply (and upload) again."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    async with store.transaction() as tx:
        await tx.execute("UPDATE verifications SET status = 'rejected', reason = 'x'")


def test_an_account_past_its_hourly_files_is_refused_429_upload_quota(tmp_path: Path) -> None:
    with hall(tmp_path, upload_files_per_hour=1) as client:
        applicant = Actor(client, user(client, "13800000001"))
        other = Actor(client, user(client, "13800000002"))
        assert applicant.upload("/account/verification", "document", "a.png", PNG, ORG_FORM).status_code == 303
        call(client, _reject_applications, client)
        refused = applicant.upload("/account/verification", "document", "b.png", PNG, ORG_FORM,
                                   headers={"accept": "application/json"})  # fmt: skip
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "upload_quota"
        assert "1 个文件" in refused.json()["error"]["message"]
        assert other.upload("/account/verification", "document", "c.png", PNG, ORG_FORM).status_code == 303
        runtime(client).clock = FakeClock(wall_clock() + 3600 * 1000 + 1)
        assert applicant.upload("/account/verification", "document", "d.png", PNG, ORG_FORM).status_code == 303


def test_an_account_past_its_daily_bytes_is_refused_429_upload_quota(tmp_path: Path) -> None:
    with hall(tmp_path, upload_bytes_per_day=len(PNG) + len(PDF) - 1) as client:
        applicant = Actor(client, user(client, "13800000001"))
        assert applicant.upload("/account/verification", "document", "a.png", PNG, ORG_FORM).status_code == 303
        call(client, _reject_applications, client)
        page = applicant.upload("/account/verification", "document", "b.pdf", PDF, ORG_FORM)
        assert page.status_code == 429 and 'data-code="upload_quota"' in page.text
        assert rows(client, "SELECT count(*) FROM files") == [(1,)]
