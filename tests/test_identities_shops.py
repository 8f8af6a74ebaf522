"""Identities (AC-3) and shops (AC-4) through the one review mechanism (AC-5): an identity
needs a verified account (an organisational one for the organisation kinds) and its documents;
a shop needs an approved identity, the current shop terms and, for an organisation, the
organisation's own name; approval opens it and makes its owner a seller in the same decision,
closing it takes the role back. Each application is reviewed on its own, rejected ones are
resubmitted, and every step is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
from hallkit import PDF, Actor, application, call, hall, identity, rows, user
from starlette.testclient import TestClient

from hall.auth.roles import Role
from hall.shops import SHOP_TERMS_VERSION, open_shop_of

ORG = "某某科技大学"
SHOP = {"name": ORG, "contact_name": "王老师", "contact_phone": "138 0013 8000", "contact_email": "tt@example.cn",
        "intro": "学校技术转移中心", "terms_version": SHOP_TERMS_VERSION}  # fmt: skip


def api(actor: Actor, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A JSON API call on the actor's cookie session (its CSRF token in the header)."""
    actor.get("/")  # puts the actor's cookie on the shared client
    return actor.client.request(method, url, headers={"x-csrf-token": actor.csrf}, **kwargs)


def decide(staff: Actor, kind: str, subject: int, decision: str, reason: str = "") -> None:
    answer = staff.post(f"/staff/reviews/{application(staff.client, kind, subject)}",
                        {"decision": decision, "reason": reason})  # fmt: skip
    assert answer.status_code == 303, answer.text


def people(client: TestClient) -> tuple[Actor, Actor]:
    """Staff, and an account verified in the university ``ORG``."""
    return (Actor(client, user(client, "13800000009", "审核员", roles=(Role.STAFF,))),
            Actor(client, user(client, "13800000001", "王老师", org=ORG)))  # fmt: skip


def apply_identity(actor: Actor, kind: str = "university", name: str = "licence.pdf") -> httpx.Response:
    return actor.upload("/account/identity", "documents", name, PDF, {"kind": kind})


def test_an_identity_is_applied_for_rejected_with_its_reason_resubmitted_and_approved(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, seller = people(client)
        assert apply_identity(seller).status_code == 303
        [(iid, state, org)] = rows(client, "SELECT id, state, org FROM identities")
        assert state == "pending" and org == identity(client, seller.id).org
        again = api(seller, "POST", "/api/identities", data={"kind": "university"},
                    files={"documents": ("b.pdf", PDF, "application/pdf")})  # fmt: skip
        assert again.status_code == 409 and again.json()["error"]["code"] == "pending"
        [item] = staff.get("/api/reviews?kind=identity").json()
        assert item["title"] == ORG and [d["name"] for d in item["documents"]] == ["licence.pdf"]
        decide(staff, "identity", iid, "reject", "缺少法人证书")
        [(template, body)] = rows(client, "SELECT template, body FROM outbox WHERE user = ?", (seller.id,))
        assert template == "identity_rejected" and "缺少法人证书" in body
        page = seller.get("/account/identity")
        assert "缺少法人证书" in page.text and 'data-state="rejected"' in page.text
        assert apply_identity(seller, name="certificate.pdf").status_code == 303
        assert rows(client, "SELECT id, state FROM identities") == [(iid, "pending")]
        decide(staff, "identity", iid, "approve")
        assert rows(client, "SELECT state FROM identities") == [("approved",)]
        assert rows(client, "SELECT state, reason FROM applications WHERE kind = 'identity' ORDER BY id") == [
            ("rejected", "缺少法人证书"), ("approved", None)]
        assert [a for (a,) in rows(client, "SELECT t.action FROM application_audit t JOIN applications a"
                                           " ON a.id = t.application WHERE a.kind = 'identity' ORDER BY t.id")] == [
            "submitted", "rejected", "resubmitted", "approved"]  # fmt: skip
        [(documents,)] = rows(client, "SELECT group_concat(f.original_name) FROM identity_documents d"
                                      " JOIN files f ON f.id = d.file")  # fmt: skip
        assert documents == "certificate.pdf"
        mine = api(seller, "GET", "/api/identities?mine=1").json()
        assert [(i["kind"], i["state"], i["org"]["name"]) for i in mine] == [("university", "approved", ORG)]
        held = api(seller, "POST", "/api/identities", data={"kind": "university"},
                   files={"documents": ("c.pdf", PDF, "application/pdf")})  # fmt: skip
        assert held.status_code == 409 and held.json()["error"]["code"] == "identity_exists"


def test_identities_need_verification_an_organisation_for_organisation_kinds_and_documents(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        newcomer = Actor(client, user(client, "13800000002"))
        person = Actor(client, user(client, "13800000003", "李专家", verified=True))
        files = {"documents": ("a.pdf", PDF, "application/pdf")}
        unverified = api(newcomer, "POST", "/api/identities", data={"kind": "expert"}, files=files)
        assert unverified.status_code == 403 and unverified.json()["error"]["code"] == "not_verified"
        no_org = api(person, "POST", "/api/identities", data={"kind": "institute"}, files=files)
        assert no_org.status_code == 403 and no_org.json()["error"]["code"] == "org_required"
        bad_kind = api(person, "POST", "/api/identities", data={"kind": "pirate"}, files=files)
        assert bad_kind.status_code == 400 and bad_kind.json()["error"]["field"] == "kind"
        no_files = api(person, "POST", "/api/identities", data={"kind": "expert"})
        assert no_files.status_code == 400 and no_files.json()["error"]["code"] == "missing_file"
        assert rows(client, "SELECT count(*) FROM identities") == [(0,)]
        assert rows(client, "SELECT count(*) FROM files") == [(0,)]
        expert = api(person, "POST", "/api/identities", data={"kind": "expert"}, files=files)
        assert expert.status_code == 201 and (expert.json()["state"], expert.json()["org"]) == ("pending", None)
        assert api(person, "GET", "/api/identities?mine=2").status_code == 400


def test_a_shop_needs_an_approved_identity_the_terms_and_the_organisations_own_name(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, seller = people(client)
        early = api(seller, "POST", "/api/shops", json=SHOP)
        assert early.status_code == 409 and early.json()["error"]["code"] == "no_identity"
        apply_identity(seller)
        [(iid,)] = rows(client, "SELECT id FROM identities")
        pending = api(seller, "POST", "/api/shops", json=SHOP)
        assert pending.status_code == 409  # an identity under review opens nothing yet
        decide(staff, "identity", iid, "approve")
        for change, code in (({"name": "某某大学技术转移中心"}, "name_mismatch"), ({"terms_version": "2020-01"}, "terms"),
                             ({"contact_phone": "12345"}, "bad_phone"), ({"contact_email": "not-an-email"}, "invalid")):
            refused = api(seller, "POST", "/api/shops", json={**SHOP, **change})
            assert refused.status_code == 400 and refused.json()["error"]["code"] == code, change
        assert rows(client, "SELECT count(*) FROM shops") == [(0,)]
        assert seller.post("/account/shop", {k: v for k, v in SHOP.items() if k != "terms_version"}).status_code == 400
        created = api(seller, "POST", "/api/shops", json=SHOP)
        assert created.status_code == 201, created.text
        shop = created.json()
        assert (shop["state"], shop["contact_phone"], shop["terms_version"]) == ("pending", "13800138000", SHOP_TERMS_VERSION)
        assert call(client, open_shop_of, client.app.state.store, seller.id) is None  # type: ignore[attr-defined]
        second = api(seller, "POST", "/api/shops", json=SHOP)
        assert second.status_code == 409 and second.json()["error"]["code"] == "shop_exists"


def test_approving_a_shop_opens_it_and_grants_the_seller_role_closing_it_revokes_it(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, seller = people(client)
        apply_identity(seller)
        [(iid,)] = rows(client, "SELECT id FROM identities")
        decide(staff, "identity", iid, "approve")
        assert seller.post("/account/shop", SHOP).status_code == 303
        [(sid,)] = rows(client, "SELECT id FROM shops")
        decide(staff, "shop", sid, "reject", "简介不完整")
        page = seller.get("/account/shop")
        assert "简介不完整" in page.text and 'data-state="rejected"' in page.text
        stranger = Actor(client, user(client, "13800000005", verified=True))
        assert api(stranger, "GET", f"/api/shops/{sid}").status_code == 404
        assert api(stranger, "PUT", f"/api/shops/{sid}", json=SHOP).status_code == 404
        resubmitted = api(seller, "PUT", f"/api/shops/{sid}", json={**SHOP, "intro": "学校技术转移中心，专利两千余件"})
        assert resubmitted.status_code == 200 and resubmitted.json()["state"] == "pending"
        assert Role.SELLER not in identity(client, seller.id).roles
        decide(staff, "shop", sid, "approve")
        assert Role.SELLER in identity(client, seller.id).roles
        assert rows(client, "SELECT state FROM shops") == [("open",)]
        assert [t for (t,) in rows(client, "SELECT template FROM outbox WHERE user = ? ORDER BY id", (seller.id,))] == [
            "identity_approved", "shop_rejected", "shop_approved"]
        found = call(client, open_shop_of, client.app.state.store, seller.id)  # type: ignore[attr-defined]
        assert found is not None and found.name == ORG
        public = api(stranger, "GET", f"/api/shops/{sid}").json()
        assert public["name"] == ORG and "contact_phone" not in public
        assert stranger.get(f"/shops/{sid}").status_code == 200
        again = api(seller, "PUT", f"/api/shops/{sid}", json=SHOP)
        assert again.status_code == 409 and again.json()["error"]["code"] == "shop_open"
        assert seller.post("/account/shop/close").status_code == 303
        assert Role.SELLER not in identity(client, seller.id).roles
        assert rows(client, "SELECT state FROM shops") == [("closed",)]
        assert call(client, open_shop_of, client.app.state.store, seller.id) is None  # type: ignore[attr-defined]
        assert api(stranger, "GET", f"/api/shops/{sid}").status_code == 404


def test_api_me_tells_the_organisation_verification_identities_roles_and_shop(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, seller = people(client)
        newcomer = Actor(client, user(client, "13800000002"))
        fresh = api(newcomer, "GET", "/api/me").json()
        assert (fresh["org"], fresh["verification"], fresh["identities"], fresh["shop"]) == (
            None, {"state": "none"}, [], None)
        apply_identity(seller)
        [(iid,)] = rows(client, "SELECT id FROM identities")
        decide(staff, "identity", iid, "approve")
        seller.post("/account/shop", SHOP)
        [(sid,)] = rows(client, "SELECT id FROM shops")
        decide(staff, "shop", sid, "approve")
        me = api(seller, "GET", "/api/me").json()
        assert me["org"]["name"] == ORG and me["org"]["kind"] == "university"
        assert me["verification"] == {"state": "approved"}
        assert [(i["kind"], i["state"]) for i in me["identities"]] == [("university", "approved")]
        assert me["shop"] == {"id": sid, "name": ORG, "state": "open"}
        assert "seller" in me["user"]["roles"]


def test_staff_never_decide_their_own_identity_or_shop_and_nobody_decides_one_twice(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff, _ = people(client)
        colleague = Actor(client, user(client, "13800000008", "另一审核员", org="某研究所", roles=(Role.STAFF,)))
        assert apply_identity(colleague, "institute").status_code == 303
        [(iid,)] = rows(client, "SELECT id FROM identities")
        for kind, subject in (("identity", iid), ("shop", 0)):
            if kind == "shop":  # once the identity is approved
                assert colleague.post("/account/shop", {**SHOP, "name": "某研究所"}).status_code == 303
                [(subject,)] = rows(client, "SELECT id FROM shops")
            mine = application(client, kind, subject)
            own = api(colleague, "POST", f"/api/reviews/{mine}", json={"decision": "approve"})
            assert own.status_code == 403 and own.json()["error"]["code"] == "own_application", kind
            decide(staff, kind, subject, "approve")
            twice = api(staff, "POST", f"/api/reviews/{mine}", json={"decision": "reject", "reason": "再议"})
            assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_decided", kind
        assert Role.SELLER in identity(client, colleague.id).roles
        assert [t for (t,) in rows(client, "SELECT template FROM outbox WHERE user = ?", (colleague.id,))] == [
            "identity_approved", "shop_approved"]
