"""Granting and revoking roles: admins only, by phone, grantable roles only, and never an
admin's own admin role (no lock-out)."""

from __future__ import annotations

from pathlib import Path

from hall.auth.roles import Role
from starlette.testclient import TestClient

from hallkit import Actor, anonymous, hall, identity, user

JSON = {"accept": "application/json"}


def _roles(client: TestClient, uid: int) -> frozenset[Role]:
    return identity(client, uid).roles


def _form(phone: str, role: str, action: str) -> dict[str, str]:
    return {"phone": phone, "role": role, "action": action}


def test_an_admin_finds_an_account_by_phone_and_grants_then_revokes_a_role(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        admin = Actor(client, user(client, "13800000000", "管理员", roles=(Role.ADMIN,)))
        target = user(client, "13800000001", "王五")
        found = admin.get("/admin/roles", params={"phone": "+86 138-0000-0001"})
        assert found.status_code == 200 and "王五" in found.text and 'value="grant"' in found.text
        granted = admin.post("/admin/roles", _form("13800000001", "staff", "grant"))
        assert granted.status_code == 303 and granted.headers["location"] == "/admin/roles?phone=13800000001&done=grant"
        assert _roles(client, target) == {Role.STAFF}
        listing = admin.get("/admin/roles")
        assert "王五" in listing.text and "管理员" in listing.text
        revoked = admin.post("/admin/roles", _form("13800000001", "staff", "revoke"), headers=JSON)
        assert revoked.status_code == 200 and revoked.json() == {"user": target, "roles": []}
        assert _roles(client, target) == frozenset()


def test_an_admin_cannot_revoke_their_own_admin_role(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        admin = Actor(client, user(client, "13800000000", roles=(Role.ADMIN,)))
        response = admin.post("/admin/roles", _form("13800000000", "admin", "revoke"), headers=JSON)
        assert response.status_code == 409 and response.json()["error"]["code"] == "self_revoke"
        page = admin.post("/admin/roles", _form("13800000000", "admin", "revoke"))
        assert page.status_code == 409 and "不能撤销自己的管理员角色" in page.text
        assert Role.ADMIN in _roles(client, admin.id)
        other = user(client, "13800000001", roles=(Role.ADMIN,))
        assert admin.post("/admin/roles", _form("13800000001", "admin", "revoke")).status_code == 303
        assert Role.ADMIN not in _roles(client, other)


def test_bad_role_changes_are_clear_errors(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        admin = Actor(client, user(client, "13800000000", roles=(Role.ADMIN,)))
        user(client, "13800000001")
        cases = [
            ({"phone": "12345", "role": "staff", "action": "grant"}, 400),
            ({"phone": "13800000002", "role": "staff", "action": "grant"}, 404),
            ({"phone": "13800000001", "role": "bidder", "action": "grant"}, 400),  # follows from verification
            ({"phone": "13800000001", "role": "root", "action": "grant"}, 400),
            ({"phone": "13800000001", "role": "staff", "action": "promote"}, 400),
            ({}, 400),
        ]
        for form, status in cases:
            assert admin.post("/admin/roles", form, headers=JSON).status_code == status, form
            assert admin.post("/admin/roles", form).status_code == status, form
        assert admin.get("/admin/roles", params={"phone": "nope"}).status_code == 400
        assert admin.get("/admin/roles", params={"phone": "13800000009"}).status_code == 404


def test_only_admins_reach_role_management(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        staff = Actor(client, user(client, "13800000000", roles=(Role.STAFF,)))
        assert staff.get("/admin/roles").status_code == 403
        assert staff.post("/admin/roles", _form("13800000000", "admin", "grant")).status_code == 403
        assert _roles(client, staff.id) == {Role.STAFF}
        response = anonymous(client).get("/admin/roles", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login?next=/admin/roles"


def test_names_are_rendered_escaped_on_the_roles_page(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        admin = Actor(client, user(client, "13800000000", roles=(Role.ADMIN,)))
        user(client, "13800000001", "<script>alert(1)</script>", roles=(Role.SELLER,))
        for page in (admin.get("/admin/roles"), admin.get("/admin/roles", params={"phone": "13800000001"})):
            assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
