"""Real-name verification (AC-2) and its review by staff (AC-5): one pending application at a
time, approval makes a bidder (in its organisation), rejection carries a reason, and each
decision's SMS is queued with it."""

from __future__ import annotations

from pathlib import Path

from hall.auth.roles import Role
from hallkit import PDF, Actor, anonymous, application, hall, identity, rows, user

JSON = {"accept": "application/json"}
ORG_FORM = {"kind": "organisation", "org_name": "某某科技大学", "org_kind": "university"}


def test_a_personal_application_is_pending_and_a_second_one_is_refused(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        first = applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"})
        assert first.status_code == 303 and first.headers["location"] == "/account/verification"
        again = applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"}, headers=JSON)
        assert again.status_code == 409 and again.json()["error"]["code"] == "pending"
        page = applicant.get("/account/verification")
        assert "正在审核" in page.text and 'name="real_name"' not in page.text
        assert rows(client, "SELECT kind, real_name, status FROM verifications") == [("personal", "张三", "pending")]


def test_approval_verifies_the_account_and_queues_an_sms_in_the_same_decision(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        assert applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"}).status_code == 303
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        decided = staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "approve", "reason": ""})
        assert decided.status_code == 303
        me = identity(client, applicant.id)
        assert me.verified and me.name == "张三" and me.org is None and Role.BIDDER in me.roles
        assert rows(client, "SELECT user, template FROM outbox") == [(applicant.id, "verification_approved")]
        again = applicant.post("/account/verification", {"kind": "personal", "real_name": "李四"}, headers=JSON)
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_verified"
        twice = staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "reject", "reason": "x"}, headers=JSON)
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_decided"


def test_an_organisational_approval_puts_the_account_in_its_organisation(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        sent = applicant.upload("/account/verification", "document", "licence.pdf", PDF, ORG_FORM)
        assert sent.status_code == 303
        [(vid, document)] = rows(client, "SELECT id, document FROM verifications")
        assert document is not None
        queue = staff.get("/staff/reviews?kind=verification")
        assert f'href="/files/{document}"' in queue.text and "某某科技大学" in queue.text
        assert staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "approve"}).status_code == 303
        me = identity(client, applicant.id)
        assert me.verified and me.name == "某某科技大学"
        assert rows(client, "SELECT id, name, kind FROM orgs") == [(me.org, "某某科技大学", "university")]


def test_rejection_needs_a_reason_stores_it_and_sends_it_by_sms(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        applicant.upload("/account/verification", "document", "licence.pdf", PDF, ORG_FORM)
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        no_reason = staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "reject", "reason": "  "})
        assert no_reason.status_code == 400 and "驳回须填写原因" in no_reason.text
        assert rows(client, "SELECT count(*) FROM outbox") == [(0,)]
        rejected = staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "reject", "reason": "营业执照模糊"})
        assert rejected.status_code == 303
        assert rows(client, "SELECT status, reason, reviewer FROM verifications") == [("rejected", "营业执照模糊", staff.id)]
        [(template, body)] = rows(client, "SELECT template, body FROM outbox WHERE user = ?", (applicant.id,))
        assert template == "verification_rejected" and "营业执照模糊" in body
        assert not identity(client, applicant.id).verified
        page = applicant.get("/account/verification")
        assert "营业执照模糊" in page.text and 'name="real_name"' in page.text  # may apply again
        assert applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"}).status_code == 303
        assert rows(client, "SELECT status FROM verifications ORDER BY id") == [("rejected",), ("pending",)]


def test_bad_form_input_is_a_clear_400_never_a_500(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        cases = [
            ({"kind": "robot", "real_name": "张三"}, "kind"),
            ({"kind": "personal", "real_name": " \t "}, "real_name"),
            ({"kind": "personal", "real_name": "张" * 51}, "real_name"),
            ({"kind": "organisation", "org_name": "", "org_kind": "university"}, "org_name"),
            ({"kind": "organisation", "org_name": "某大学", "org_kind": "pirates"}, "org_kind"),
        ]
        for form, field in cases:
            response = applicant.post("/account/verification", form, headers=JSON)
            assert response.status_code == 400, form
            assert response.json()["error"]["field"] == field
        assert applicant.post("/account/verification", {"kind": "robot"}).status_code == 400
        applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"})
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        assert staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "maybe"}).status_code == 400
        assert staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "reject", "reason": "长" * 201}).status_code == 400
        assert staff.post(f"/staff/reviews/{application(client, 'verification', vid) + 100}", {"decision": "approve"}).status_code == 404
        assert staff.post("/staff/reviews/abc", {"decision": "approve"}).status_code == 404
        assert rows(client, "SELECT status FROM verifications") == [("pending",)]


def test_staff_cannot_decide_their_own_application(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        staff.post("/account/verification", {"kind": "personal", "real_name": "审核员"})
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        response = staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "approve"}, headers=JSON)
        assert response.status_code == 403 and response.json()["error"]["code"] == "own_application"


def test_user_text_is_rendered_escaped_on_the_staff_page(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        form = {"kind": "organisation", "real_name": "<script>alert(1)</script>",
                "org_name": "<img src=x onerror=alert(2)>", "org_kind": "enterprise"}
        applicant.upload("/account/verification", "document", '"><svg onload=alert(3)>.pdf', PDF, form)
        page = staff.get("/staff/reviews?kind=verification")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(2)&gt;" in page.text
        assert "<svg" not in page.text and "&lt;svg onload=alert(3)&gt;.pdf" in page.text
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "reject", "reason": "<b>fake</b>"})
        page = staff.get("/staff/reviews?kind=verification")
        assert "<b>fake</b>" not in page.text and "&lt;b&gt;fake&lt;/b&gt;" in page.text
        mine = applicant.get("/account/verification")
        assert "<b>fake</b>" not in mine.text and "&lt;b&gt;fake&lt;/b&gt;" in mine.text


def test_staff_routes_refuse_non_staff_with_403_and_anonymous_with_a_login_redirect(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        bidder = Actor(client, user(client, "13800000001", verified=True))
        for path in ("/staff/reviews", "/staff/reviews/1", "/staff/verifications", "/staff/registrations"):
            assert bidder.get(path).status_code == 403
        assert bidder.post("/staff/reviews/1", {"decision": "approve"}).status_code == 403
        anon = anonymous(client)
        for path in ("/staff/reviews", "/staff/verifications", "/staff/registrations", "/account/verification"):
            response = anon.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


def test_a_decision_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        staff = Actor(client, user(client, "13800000009", roles=(Role.STAFF,)))
        applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"})
        [(vid,)] = rows(client, "SELECT id FROM verifications")
        staff.csrf = "forged"
        assert staff.post(f"/staff/reviews/{application(client, 'verification', vid)}", {"decision": "approve"}).status_code == 403
        assert rows(client, "SELECT status FROM verifications") == [("pending",)]


def test_a_personal_application_may_attach_a_document_which_is_checked_like_any_upload(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        applicant = Actor(client, user(client, "13800000001"))
        form = {"kind": "personal", "real_name": "张三"}
        bad = applicant.upload("/account/verification", "document", "id.pdf", b"MZ" + bytes(64), form, headers=JSON)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_file"
        assert rows(client, "SELECT count(*) FROM verifications") == [(0,)]
        assert applicant.upload("/account/verification", "document", "id.pdf", PDF, form).status_code == 303
        [(document, name)] = rows(client, "SELECT v.document, f.original_name FROM verifications v JOIN files f"
                                          " ON f.id = v.document")  # fmt: skip
        assert name == "id.pdf"
        assert applicant.get(f"/files/{document}").content == PDF
