"""The one review mechanism (AC-5): one queue and one decision for every kind of application,
each submission reviewed on its own with its history kept, an audit row for every step, the
decision and its SMS together, never one's own application, never twice, never a rejection
without a reason; the JSON twins for staff clients."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx2 as httpx
from hallkit import PDF, Actor, application, hall, rows, user
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.reviews import KINDS
from hall.store.sqlite import MIGRATIONS, SqliteStore



def _staff_and_applicant(client: TestClient) -> tuple[Actor, Actor]:
    return (Actor(client, user(client, "13800000009", "审核员", roles=(Role.STAFF,))),
            Actor(client, user(client, "13800000001", "申请人")))  # fmt: skip


def decide(actor: Actor, application_id: int, body: dict[str, str]) -> httpx.Response:
    """``POST /api/reviews/{id}`` as a staff client on the cookie session (CSRF in the header)."""
    actor.get("/")  # puts the actor's cookie on the shared client
    return actor.client.post(f"/api/reviews/{application_id}", json=body, headers={"x-csrf-token": actor.csrf})


def test_a_resubmission_is_a_new_application_and_the_audit_trail_keeps_every_step(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, applicant = _staff_and_applicant(client)
        assert applicant.post("/account/verification", {"kind": "personal", "real_name": "张三"}).status_code == 303
        [(first_v,)] = rows(client, "SELECT id FROM verifications")
        first = application(client, "verification", first_v)
        rejected = staff.post(f"/staff/reviews/{first}", {"decision": "reject", "reason": "姓名与证件不符"})
        assert rejected.status_code == 303
        assert applicant.post("/account/verification", {"kind": "personal", "real_name": "张三丰"}).status_code == 303
        assert rows(client, "SELECT kind, state, reason, decided_by FROM applications ORDER BY id") == [
            ("verification", "rejected", "姓名与证件不符", staff.id), ("verification", "pending", None, None)]
        assert rows(client, "SELECT application, actor, action, reason FROM application_audit ORDER BY id") == [
            (first, applicant.id, "submitted", None), (first, staff.id, "rejected", "姓名与证件不符"),
            (first + 1, applicant.id, "submitted", None)]  # a new verification: a subject of its own
        page = staff.get(f"/staff/reviews/{first}")
        assert page.status_code == 200 and 'data-action="rejected"' in page.text and "姓名与证件不符" in page.text


def test_the_queue_filters_by_kind_and_state_oldest_first_and_refuses_unknown_filters(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, applicant = _staff_and_applicant(client)
        other = Actor(client, user(client, "13800000002", "另一人"))
        for who, name in ((applicant, "甲"), (other, "乙")):
            assert who.post("/account/verification", {"kind": "personal", "real_name": name}).status_code == 303
        listed = staff.get("/api/reviews?kind=verification&state=pending").json()
        assert [item["title"] for item in listed] == ["甲", "乙"]
        assert set(listed[0]) >= {"id", "kind", "subject", "state", "submitted_at", "applicant", "title", "documents"}
        assert listed[0]["submitted_at"].endswith("+08:00") and listed[0]["applicant"]["phone"] == "13800000001"
        assert staff.get("/api/reviews?kind=registration").json() == []
        assert staff.get("/api/reviews?state=approved").json() == []
        for query in ("kind=pirates", "state=maybe"):
            refused = staff.get(f"/api/reviews?{query}")
            assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
            assert staff.get(f"/staff/reviews?{query}").status_code == 400
        page = staff.get("/staff/reviews?kind=verification")
        assert page.text.index(">甲<") < page.text.index(">乙<")
        assert set(KINDS) >= {"verification", "registration"}


def test_the_api_decides_with_its_sms_and_refuses_own_double_and_reasonless_decisions(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, applicant = _staff_and_applicant(client)
        sent = applicant.upload("/account/verification", "document", "licence.pdf", PDF,
                                {"kind": "organisation", "org_name": "某某大学", "org_kind": "university"})  # fmt: skip
        assert sent.status_code == 303
        [item] = staff.get("/api/reviews?kind=verification").json()
        assert [d["name"] for d in item["documents"]] == ["licence.pdf"]
        assert staff.get(item["documents"][0]["url"]).content == PDF
        reasonless = decide(staff, item['id'], {"decision": "reject", "reason": " "})
        assert reasonless.status_code == 400 and reasonless.json()["error"]["code"] == "reason_required"
        bad = decide(staff, item['id'], {"decision": "maybe"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert rows(client, "SELECT count(*) FROM outbox") == [(0,)]
        rejected = decide(staff, item['id'], {"decision": "reject", "reason": "证照模糊"})
        assert rejected.status_code == 200
        assert (rejected.json()["state"], rejected.json()["reason"]) == ("rejected", "证照模糊")
        [(template, body)] = rows(client, "SELECT template, body FROM outbox WHERE user = ?", (applicant.id,))
        assert template == "verification_rejected" and "证照模糊" in body
        twice = decide(staff, item['id'], {"decision": "approve"})
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_decided"
        own = staff.post("/account/verification", {"kind": "personal", "real_name": "审核员"})
        assert own.status_code == 303
        [mine] = staff.get("/api/reviews?kind=verification").json()
        refused = decide(staff, mine["id"], {"decision": "approve"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "own_application"
        missing = decide(staff, mine["id"] + 100, {"decision": "approve"})
        assert missing.status_code == 404


def test_the_old_queue_addresses_lead_to_the_one_queue(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, _ = _staff_and_applicant(client)
        for old, kind in (("/staff/verifications", "verification"), ("/staff/registrations", "registration")):
            moved = staff.get(old, follow_redirects=False)
            assert moved.status_code == 308 and moved.headers["location"] == f"/staff/reviews?kind={kind}&state=pending"
        header = staff.get("/staff/reviews").text
        assert 'href="/staff/reviews"' in header and "/staff/verifications" not in header


def test_the_migration_moves_existing_verifications_and_registrations_onto_the_mechanism(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        for script in MIGRATIONS[:5]:
            conn.executescript(script)
        conn.executescript("""
            PRAGMA user_version = 5;
            INSERT INTO users (id, phone, password_hash, created_at) VALUES (1, '13800000001', 'x', 1), (2, '13800000009', 'x', 1);
            INSERT INTO files (id, owner, stored_name, original_name, media_type, size, sha256, created_at)
                VALUES (5, 1, 'a', 'licence.pdf', 'application/pdf', 1, 'h', 10), (6, 1, 'b', 'letter.pdf', 'application/pdf', 1, 'h', 30);
            INSERT INTO lots (id, spec, created_at) VALUES (1, x'00', 1);
            INSERT INTO verifications (id, user, kind, real_name, document, status, reason, reviewer, created_at, reviewed_at)
                VALUES (3, 1, 'personal', '张三', 5, 'rejected', '模糊', 2, 10, 20);
            INSERT INTO registrations (id, lot, user, letter, status, created_at) VALUES (4, 1, 1, 6, 'pending', 30);
        """)  # fmt: skip
    async def read() -> list[list[tuple[object, ...]]]:
        store = SqliteStore(db)
        await store.open()
        try:
            return [[tuple(r) for r in await store.fetchall(sql)] for sql in (
                "SELECT kind, subject, applicant, state, submitted_at, decided_by, reason FROM applications ORDER BY id",
                "SELECT application, actor, action, reason, at FROM application_audit ORDER BY at",
                "SELECT application, file FROM application_documents ORDER BY file")]
        finally:
            await store.close()

    applications, audit, documents = asyncio.run(read())
    assert applications == [("verification", 3, 1, "rejected", 10, 2, "模糊"), ("registration", 4, 1, "pending", 30, None, None)]
    assert audit == [(1, 1, "submitted", None, 10), (1, 2, "rejected", "模糊", 20), (2, 1, "submitted", None, 30)]
    assert documents == [(1, 5), (2, 6)]
