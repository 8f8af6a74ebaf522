"""Real-name verification's JSON twin (AC-2): ``GET /api/verification`` says where the caller
stands, ``POST /api/verification`` applies with the page's own checks and refusals, and a staff
approval through the review API turns the state to approved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hallkit import PDF, PNG, Actor, application, bearer_of, hall, identity, rows, user

PERSON = {"kind": "personal", "real_name": "张三"}
ORG = {"kind": "organisation", "org_name": "某某科技大学", "org_kind": "university"}


def _apply(client: TestClient, auth: dict[str, str], fields: dict[str, str],
           document: tuple[str, bytes, str] | None = None) -> httpx.Response:  # fmt: skip
    files: Any = {"document": document} if document else None
    if files is None:  # still multipart, as the page's form is
        files = {"document": ("", b"", "application/octet-stream")}
    return client.post("/api/verification", headers=auth, data=fields, files=files)


def test_an_account_that_never_applied_is_none(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        got = client.get("/api/verification", headers=bearer_of(client, user(client, "13800000001")))
        assert got.status_code == 200
        assert got.json() == {"state": "none", "kind": None, "real_name": None, "org_name": None, "org_kind": None,
                              "reason": None, "submitted_at": None, "document": None}  # fmt: skip


def test_a_personal_application_with_a_png_is_pending_and_shown_by_get(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = user(client, "13800000001")
        auth = bearer_of(client, applicant)
        made = _apply(client, auth, PERSON, ("身份证.png", PNG, "image/png"))
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["state"], body["kind"], body["real_name"], body["org_name"]) == ("pending", "personal", "张三", None)
        [(vid, document)] = rows(client, "SELECT id, document FROM verifications WHERE user = ?", (applicant,))
        assert body["document"] == {"id": document, "name": "身份证.png", "url": f"/files/{document}"}
        assert client.get("/api/verification", headers=auth).json() == body
        assert application(client, "verification", vid)


def test_an_organisational_application_with_a_pdf_carries_its_organisation(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        made = _apply(client, bearer_of(client, user(client, "13800000001")), ORG, ("营业执照.pdf", PDF, "application/pdf"))
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["state"], body["kind"], body["org_name"], body["org_kind"]) == (
            "pending", "organisation", "某某科技大学", "university")  # fmt: skip
        assert body["document"]["name"] == "营业执照.pdf"
        assert rows(client, "SELECT kind, org_name, org_kind, status FROM verifications") == [
            ("organisation", "某某科技大学", "university", "pending")]  # fmt: skip


def test_refusals_have_the_pages_codes_and_keep_nothing(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        auth = bearer_of(client, user(client, "13800000001"))
        no_name = _apply(client, auth, {"kind": "personal", "real_name": "  "})
        assert no_name.status_code == 400
        assert no_name.json()["error"] == {"code": "invalid", "message": "请填写真实姓名", "field": "real_name"}
        no_document = _apply(client, auth, ORG)
        assert no_document.status_code == 400 and no_document.json()["error"]["field"] == "document"
        bad_file = _apply(client, auth, ORG, ("营业执照.pdf", b"MZ\x90\x00 not a document", "application/pdf"))
        assert bad_file.status_code == 400 and bad_file.json()["error"]["code"] == "bad_file"
        bad_kind = _apply(client, auth, {"kind": "robot", "real_name": "张三"})
        assert bad_kind.status_code == 400 and bad_kind.json()["error"]["field"] == "kind"
        assert rows(client, "SELECT count(*) FROM verifications") == [(0,)]
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]
        assert client.get("/api/verification", headers=auth).json()["state"] == "none"


def test_a_second_application_while_one_is_pending_is_409(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        auth = bearer_of(client, user(client, "13800000001"))
        assert _apply(client, auth, PERSON).status_code == 201
        again = _apply(client, auth, ORG, ("营业执照.pdf", PDF, "application/pdf"))
        assert again.status_code == 409 and again.json()["error"]["code"] == "pending"
        assert rows(client, "SELECT count(*) FROM verifications") == [(1,)]
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]


def test_the_api_refuses_what_the_page_refuses_and_the_page_sees_the_api_application(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = user(client, "13800000001")
        assert _apply(client, bearer_of(client, applicant), PERSON).status_code == 201
        page = Actor(client, applicant).post("/account/verification", PERSON)
        assert page.status_code == 409 and "已有一份认证申请正在审核" in page.text


def test_staff_approval_through_the_review_api_turns_the_state_to_approved(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = user(client, "13800000001")
        auth = bearer_of(client, applicant)
        staff = bearer_of(client, user(client, "13800000009", roles=(Role.STAFF,)))
        assert _apply(client, auth, ORG, ("营业执照.png", PNG, "image/png")).status_code == 201
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        decided = client.post(f"/api/reviews/{application(client, 'verification', vid)}", headers=staff,
                              json={"decision": "approve"})  # fmt: skip
        assert decided.status_code == 200, decided.text
        got = client.get("/api/verification", headers=auth).json()
        assert (got["state"], got["kind"], got["org_name"], got["reason"]) == ("approved", "organisation", "某某科技大学", None)
        assert identity(client, applicant).verified
        again = _apply(client, auth, PERSON)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_verified"


def test_a_rejection_shows_its_reason_and_a_new_application_is_taken(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        auth = bearer_of(client, user(client, "13800000001"))
        staff = bearer_of(client, user(client, "13800000009", roles=(Role.STAFF,)))
        assert _apply(client, auth, PERSON).status_code == 201
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        rejected = client.post(f"/api/reviews/{application(client, 'verification', vid)}", headers=staff,
                               json={"decision": "reject", "reason": "姓名与证件不符"})  # fmt: skip
        assert rejected.status_code == 200, rejected.text
        got = client.get("/api/verification", headers=auth).json()
        assert (got["state"], got["reason"]) == ("rejected", "姓名与证件不符")
        assert _apply(client, auth, {"kind": "personal", "real_name": "张三丰"}).json()["state"] == "pending"


def test_the_api_needs_a_signed_in_caller(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        client.cookies.clear()
        assert client.get("/api/verification").status_code == 401
        assert client.post("/api/verification", data=PERSON, files={"document": ("", b"")}).status_code in (401, 403)
