"""Published demands for piece C's tests (matching), made through SQL until piece A's flow
(post, review, publish) lands: the ONE place these tests write ``demands``, ``demand_rounds``
and ``demand_fts``, so that the lead can point it at A's real publication.

Every NOT NULL column of migration 14 is filled. The index row follows BRIEF13's rule, as A's
publication writes it: ``title`` the title, ``body`` the description plus every hideable text
field the side did not hide (the enterprise's name, requirements, manager, contact name), each
as character pairs (``hall.store.patents.grams``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from hall.auctions import Industry
from hall.demands import DemandState, beijing_year, number
from hall.store.patents import grams
from hall.store.rows import insert, one


async def published_demand(
    tx: aiosqlite.Connection, *, enterprise: int, title: str, industry: Industry, description: str, now: int,
    enterprise_name: str = "示范企业有限公司", requirements: str = "", manager: str = "", contact_name: str = "",
    hidden: Sequence[str] = (), enterprise_org: int | None = None, agency_org: int | None = None,
    state: DemandState = DemandState.PUBLISHED, pick: int = 0, views: int = 0,
    response_deadline: str = "2026-06-30", investment: int = 500_000,
) -> int:  # fmt: skip
    """A demand of ``enterprise`` in ``state`` (numbered and indexed unless pending), in the
    caller's transaction; its id."""
    year = beijing_year(now)
    given = None
    if state is not DemandState.PENDING:
        counter = await one(tx, "SELECT last FROM demand_numbers WHERE year = ?", (year,))
        sequence = (counter[0] if counter else 0) + 1
        await tx.execute("INSERT OR REPLACE INTO demand_numbers (year, last) VALUES (?, ?)", (year, sequence))
        given = number(year, sequence)
    demand = await insert(tx, "demands", {
        "number": given, "enterprise": enterprise, "enterprise_org": enterprise_org, "agency_org": agency_org,
        "title": title, "industry": industry.value, "description": description, "requirements": requirements,
        "manager": manager, "service_mode": "cooperation", "investment": investment, "cooperation": "transfer",
        "contact_name": contact_name, "contact_phone": "13700000000" if contact_name else "",
        "valid_until": "2026-12-31", "response_deadline": response_deadline, "hidden": json.dumps(list(hidden)),
        "state": state.value, "pick": pick, "views": views, "created_by": enterprise, "created_at": now,
        "updated_at": now, "published_at": None if given is None else now,
    })  # fmt: skip
    if given is not None:
        await insert(tx, "demand_rounds", {"demand": demand, "round": 1, "valid_until": "2026-12-31",
                                           "response_deadline": response_deadline, "started_at": now})  # fmt: skip
        body = [description, *([requirements] if "requirements" not in hidden and requirements else [])]
        names = [value for field, value in (("enterprise", enterprise_name), ("manager", manager),
                                            ("contact", contact_name)) if field not in hidden and value]  # fmt: skip
        await tx.execute("INSERT INTO demand_fts (rowid, title, body, names) VALUES (?, ?, ?, ?)",
                         (demand, grams(title), grams("\n".join(body)), grams("\n".join(names))))  # fmt: skip
    return demand


async def account(tx: aiosqlite.Connection, phone: str, name: str, now: int, *, org: str | None = None,
                  identity: str | None = None) -> int:  # fmt: skip
    """A verified account (in organisation ``org``, made if new), with an approved identity of
    kind ``identity`` when given (a solver); its id."""
    org_id = None
    if org is not None:
        found = await one(tx, "SELECT id FROM orgs WHERE name = ?", (org,))
        org_id = found[0] if found else await insert(tx, "orgs", {"name": org, "kind": identity or "enterprise",
                                                                   "created_at": now})  # fmt: skip
    user = await insert(tx, "users", {"phone": phone, "password_hash": "x", "name": name, "org": org_id,
                                      "verified": 1, "created_at": now})  # fmt: skip
    if identity is not None:
        await insert(tx, "identities", {"user": user, "org": org_id if identity != "expert" else None,
                                        "kind": identity, "state": "approved", "created_at": now, "updated_at": now})
    return user
