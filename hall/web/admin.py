"""Granting and revoking roles (admins only): find an account by phone, see who holds what.

Bidder is not granted (it follows from real-name verification). An admin cannot take the
admin role from themselves, so the hall is never left without one by a slip.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hall.auth.roles import GRANTABLE, Identity, Role
from hall.store.people import People
from hall.web.accounts import normalise_phone
from hall.web.i18n import lang_of, translate
from hall.web.errors import error
from hall.web.security import route, wants_json
from hall.web.templating import render

ACTIONS: Final = ("grant", "revoke")


def _people(request: Request) -> People:
    people: People = request.app.state.people
    return people


async def _page(request: Request, phone: str, status: int = 200, message: str = "", done: str = "") -> Response:
    people = _people(request)
    found: Identity | None = None
    if phone:
        normalised = normalise_phone(phone)
        found = await people.find(normalised) if normalised else None
        if message:
            pass
        elif normalised is None:
            status, message = 400, "err_phone_invalid"
        elif found is None:
            status, message = 404, "err_no_account_phone"
    holders = {role.value: await people.with_role(role) for role in GRANTABLE}
    return render(request, "admin_roles.html", status_code=status, phone=phone, found=found, message=message,
                  done=done, holders=holders, grantable=[r.value for r in GRANTABLE])  # fmt: skip


async def admin_roles(request: Request) -> Response:
    done = request.query_params.get("done", "")
    phone = request.query_params.get("phone", "").strip()[:32]
    return await _page(request, phone, done=done if done in ACTIONS else "")


async def admin_role_change(request: Request) -> Response:
    me: Identity = request.state.identity
    form = await request.form(max_files=0, max_fields=16)
    try:
        phone_raw, role_raw, action = (str(form.get(k, "")).strip()[:32] for k in ("phone", "role", "action"))
    finally:
        await form.close()
    status, code, message = 200, "", ""
    phone = normalise_phone(phone_raw)
    target = await _people(request).find(phone) if phone else None
    if phone is None:
        status, code, message = 400, "invalid", "err_phone_invalid"
    elif target is None:
        status, code, message = 404, "not_found", "err_no_account_phone"
    elif role_raw not in {r.value for r in GRANTABLE}:
        status, code, message = 400, "invalid", "err_choose_role"
    elif action not in ACTIONS:
        status, code, message = 400, "invalid", "err_choose_grant"
    elif action == "revoke" and target.id == me.id and role_raw == Role.ADMIN:
        status, code, message = 409, "self_revoke", "err_self_revoke"
    if message:
        if wants_json(request):
            return error(status, code, translate(message, lang_of(request)))
        return await _page(request, phone_raw, status, message)
    assert target is not None
    role = Role(role_raw)
    if action == "grant":
        await _people(request).grant(target.id, role, by=me.id)
    else:
        await _people(request).revoke(target.id, role)
    if wants_json(request):
        updated = await _people(request).identity(target.id)
        return JSONResponse({"user": target.id, "roles": sorted(updated.roles) if updated else []})
    return RedirectResponse(f"/admin/roles?phone={target.phone}&done={action}", status_code=303)


routes = [
    route("/admin/roles", admin_roles, name="admin_roles"),
    route("/admin/roles", admin_role_change, name="admin_role_change", methods=("POST",)),
]
