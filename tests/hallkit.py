"""Helpers for the web tests of uploads, verification, registration and roles.

Accounts are made straight in the store (one argon2 hash, reused); a signed-in browser is an
``Actor``: its session cookie goes into the client's jar before each request, and its CSRF
token is read from the page's ``<meta name="csrf-token">`` as a browser script would.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx2 as httpx
from starlette.testclient import TestClient

from hall import listing_actions as actions
from hall import shops
from hall.auth.passwords import hash_password
from hall.auth.roles import Identity, Role
from hall.config import Config
from hall.engine import LotSpec
from hall.listing import ItemKind, TransactionForm
from hall.listings import ListingDraft, needs_authorisation, ownership
from hall.patents import LegalStatus, parse_number
from hall.runtime import Runtime
from hall.store import listings as listings_sql
from hall.store.people import People
from hall.store.sqlite import SqliteStore
from hall.uploads import check
from hall.web.app import create_app
from hall.web.reviews import reviews_of

T = TypeVar("T")

SHANGHAI = ZoneInfo("Asia/Shanghai")
HASH = hash_password("correct horse battery")
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def beijing_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Epoch ms of a Beijing wall-clock time: ``beijing_ms(2026, 1, 4, 16, 0, 0)``."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).timestamp() * 1000)


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@contextmanager
def hall(tmp_path: Path, **config: Any) -> Iterator[TestClient]:
    with TestClient(create_app(Config(db=str(tmp_path / "h.db"), **config))) as client:
        yield client


def seed_demo(db: Path, *args: str) -> dict[str, Any]:
    """Run ``hall seed-demo`` as a user would and return the JSON it printed."""
    out = subprocess.run([sys.executable, "-m", "hall.cli", "seed-demo", "--db", str(db), *args],
                         check=True, capture_output=True, timeout=60)  # fmt: skip
    seeded: dict[str, Any] = json.loads(out.stdout)
    return seeded


def page_csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page of the hall hands to its forms (the anonymous one or the session's)."""
    found = META.search(client.get(path).text)
    assert found is not None
    return found[1]


def call(client: TestClient, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Await ``fn(*args)`` on the app's event loop."""
    assert client.portal is not None, "use the client as a context manager"
    result: T = client.portal.call(fn, *args)
    return result


def wake(client: TestClient, lot_id: int) -> None:
    """Let a lot's clock act now (the runtime's timers run on real time, the tests' clock is fake)."""
    assert client.portal is not None
    client.portal.call(runtime(client).wake, lot_id)


def runtime(client: TestClient) -> Runtime:
    found: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return found


def people(client: TestClient) -> People:
    found: People = client.app.state.people  # type: ignore[attr-defined]
    return found


def bearer_of(client: TestClient, uid: int) -> dict[str, str]:
    """The ``Authorization`` header of a fresh API token of account ``uid``."""
    _, secret = call(client, people(client).new_token, uid, "test")
    return {"authorization": f"Bearer {secret}"}


def identity(client: TestClient, uid: int) -> Identity:
    found = call(client, people(client).identity, uid)
    assert found is not None
    return found


def user(client: TestClient, phone: str, name: str = "", *, verified: bool = False, org: str | None = None,
         roles: tuple[Role, ...] = ()) -> int:  # fmt: skip
    """An account; ``verified`` makes it a bidder, ``org`` puts it (verified) in that organisation."""
    uid = call(client, people(client).create_user, phone, HASH, name)
    if verified or org:
        call(client, people(client).verify, uid, name or phone, org_id(client, org) if org else None)
    for role in roles:
        call(client, people(client).grant, uid, role, None)
    return uid


def org_id(client: TestClient, name: str) -> int:
    """The organisation of that name (a university), made if new."""
    return call(client, people(client).org, name, "university")


def open_shop(client: TestClient, owner: int, org_name: str, kind: str = "university") -> int:
    """An approved identity of ``kind`` in the organisation ``org_name`` (which ``user(...,
    org=org_name)`` made) and an open shop of it for ``owner`` (AC-3, AC-4), as the shops' own
    review leaves them, and the seller role that follows; the shop's id."""

    async def run() -> int:
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        now = runtime(client).clock()
        async with store.transaction() as tx:
            [(org,)] = list(await tx.execute_fetchall("SELECT id FROM orgs WHERE name = ?", (org_name,)))
            await tx.execute("UPDATE orgs SET kind = ? WHERE id = ?", (kind, org))
            cursor = await tx.execute("INSERT INTO identities (user, org, kind, state, created_at, updated_at)"
                                      " VALUES (?, ?, ?, 'approved', ?, ?)", (owner, org, kind, now, now))  # fmt: skip
            cursor = await tx.execute(
                "INSERT INTO shops (owner, identity, org, name, contact_name, contact_phone, terms_version,"
                " terms_accepted_at, state, created_at, updated_at) VALUES (?, ?, ?, ?, '联系人', '13900000000',"
                " '2026-01', ?, 'open', ?, ?)", (owner, cursor.lastrowid, org, org_name, now, now, now))  # fmt: skip
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    shop = call(client, run)
    call(client, people(client).grant, owner, Role.SELLER, None)
    return shop


def lot(client: TestClient, *, seller_org: int, publicity_start: int, bidding_start: int, title: str = "一种专利",
        hours: int = 2) -> int:  # fmt: skip
    spec = LotSpec(seller_org=seller_org, start_price=10_000, increment=1_000, publicity_start=publicity_start,
                   bidding_start=bidding_start, end=bidding_start + hours * 3_600_000)  # fmt: skip
    return call(client, runtime(client).create_lot, spec, title).id


def application(client: TestClient, kind: str, subject: int) -> int:
    """The id of the newest application (``hall.reviews``) for a subject of a kind."""
    [(found,)] = rows(client, "SELECT max(id) FROM applications WHERE kind = ? AND subject = ?", (kind, subject))
    assert found is not None, (kind, subject)
    return int(found)


def rows(client: TestClient, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    return [tuple(r) for r in call(client, store.fetchall, sql, params)]


CODE = re.compile(r"\b([0-9]{6})\b")


def sms_code(source: TestClient | Path, phone: str, purpose: str = "signup") -> str:
    """The live code last sent to ``phone`` for ``purpose``, read from the SMS outbox as a test
    reads it (through the app's store, or for a browser test from the database file of a running
    ``hall serve``): the newest ``code_<purpose>`` row."""
    query = "SELECT body FROM outbox WHERE phone = ? AND template = ? ORDER BY id DESC LIMIT 1"
    params = (phone, f"code_{purpose}")
    if isinstance(source, Path):
        with closing(sqlite3.connect(source)) as db:
            found = db.execute(query, params).fetchall()
    else:
        found = rows(source, query, params)
    assert found, f"no {purpose} code was sent to {phone}"
    digits = CODE.search(found[0][0])
    assert digits is not None, f"the code is no longer live: {found[0][0]}"
    return digits[1]


def send_code(client: TestClient, path: str, phone: str, **fields: str) -> httpx.Response:
    """Press a code page's send-code button (``/signup``, ``/login/code``, ``/password-reset``)."""
    data = {"phone": phone, "action": "send_code", "csrf": page_csrf(client, path), **fields}
    return client.post(path, data=data, follow_redirects=False)


def signup(client: TestClient, phone: str, password: str = "correct horse battery", name: str = "",
           **extra: str) -> httpx.Response:  # fmt: skip
    """Sign up through the page as a person does: ask for a code, read it, send the form.
    The answer to the last step (303 to the account page when it worked)."""
    sent = send_code(client, "/signup", phone)
    assert sent.status_code == 200, sent.text
    data = {"phone": phone, "code": sms_code(client, phone), "name": name, "password": password,
            "csrf": page_csrf(client, "/signup"), **extra}  # fmt: skip
    return client.post("/signup", data=data, follow_redirects=False)


class Actor:
    """A signed-in browser on the shared client."""

    def __init__(self, client: TestClient, uid: int) -> None:
        self.client = client
        self.id = uid
        session, _ = call(client, people(client).new_session, uid)
        self.cookie: str = client.app.state.keys.sign(session)  # type: ignore[attr-defined]
        page = self.get("/account")
        assert page.status_code == 200, page.text
        found = META.search(page.text)
        assert found is not None
        self.csrf = found[1]

    def _wear(self) -> None:
        self.client.cookies.clear()
        self.client.cookies.set("hall_session", self.cookie)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        self._wear()
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        self._wear()
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(url, data={"csrf": self.csrf, **(data or {})}, **kwargs)

    def upload(self, url: str, field: str, name: str, content: bytes, data: dict[str, str] | None = None,
               declared: str = "application/pdf", **kwargs: Any) -> httpx.Response:  # fmt: skip
        return self.post(url, data, files={field: (name, content, declared)}, **kwargs)


def anonymous(client: TestClient) -> TestClient:
    client.cookies.clear()
    return client


REVIEWER_PHONE = "13900009999"
"""The staff member ``listing`` has decide its applications (made on first use)."""


def reviewer(client: TestClient) -> int:
    """The staff account that decides the applications the helpers submit."""
    found = call(client, people(client).credentials, REVIEWER_PHONE)
    return found[0] if found is not None else user(client, REVIEWER_PHONE, "样例审核员", roles=(Role.STAFF,))


def listing(client: TestClient, owner: int, *, title: str = "一种专利", number: str = "ZL202110123456.7",
            holder: str | None = None, start_price: int = 100_000, state: str = "listed") -> int:  # fmt: skip
    """An invention patent of ``owner``'s open shop (opened with ``open_shop`` for the owner's
    organisation when it has none) brought to ``state`` as a seller and staff bring it there:
    submitted through ``hall.listing_actions.create`` with the agreement accepted (an ``agent``
    item, whose ``holder`` is not the shop's organisation, with an authorisation PDF), then
    decided by a staff member through ``Reviews.decide``: approved (``listed``), rejected with a
    reason (``rejected``), approved and delisted by its seller (``delisted``); ``pending`` is
    left undecided. The states only a session brings (``in_session``, ``sold``, ``unsold``)
    come from ``hall.auctions`` in the tests that need them."""
    if state not in ("pending", "listed", "rejected", "delisted"):
        raise ValueError(f"a session brings a listing to {state!r}: use hall.auctions")
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    reviews = reviews_of(client.app.state)  # type: ignore[attr-defined]
    staff = reviewer(client)
    if call(client, shops.open_shop_of, store, owner) is None:
        org = identity(client, owner).org
        assert org is not None, "the owner belongs to no organisation: make it with user(..., org=...)"
        [(org_name,)] = rows(client, "SELECT name FROM orgs WHERE id = ?", (org,))
        open_shop(client, owner, org_name)
    filed = parse_number(number)
    assert filed is not None, number

    async def run() -> int:
        seller = await actions.seller_of(store, owner)
        draft = ListingDraft(
            kind=ItemKind.PATENT, title=title, number=number, holder=holder or seller.org_name,
            inventors=["张三", "李四"], application_date=date(filed.year, 3, 1), grant_date=date(2023, 5, 6),
            ipc="G06F 16/00", legal_status=LegalStatus.VALID, abstract=f"{title}的摘要",
            forms=[TransactionForm.LICENCE, TransactionForm.TRANSFER], start_price=start_price, agreement=True,
        )  # fmt: skip
        agent = needs_authorisation(ownership(draft.holders, seller.org_name))
        document = await reviews.files.write(check(PDF, "授权委托书.pdf")) if agent else None
        now = reviews.runtime.clock()
        item = await actions.create(reviews, seller, draft, authorisation=document, now=now)
        if state != "pending":
            (application,) = (await reviews.latest(actions.LISTING, [item])).values()
            await reviews.decide(application.id, reviewer=staff, approve=state != "rejected",
                                 reason="材料不全" if state == "rejected" else "", now=now)  # fmt: skip
        if state == "delisted":
            await actions.delist(store, seller, item, now=now)
        return item

    return call(client, run)


def listing_state(client: TestClient, listing_id: int) -> str:
    """The listing's state as the listings store reads it."""
    store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
    found = call(client, listings_sql.listing, store, listing_id)
    assert found is not None, listing_id
    return found.state.value


def sold(client: TestClient, *, seller_org: int, buyer: int, buyer_org: int | None, price: int = 120_000,
         title: str = "一种成交的专利") -> int:  # fmt: skip
    """A lot of ``seller_org`` that ``buyer`` wins at ``price`` now, on the runtime's clock (a
    ``FakeClock``, which this moves to the close); its deal's id, once the listener made it."""
    rt = runtime(client)
    clock = rt.clock
    assert isinstance(clock, FakeClock), "sold() moves the runtime's FakeClock to the close"
    spec = LotSpec(seller_org=seller_org, start_price=price, increment=1_000, publicity_start=clock.now - 2 * DAY_MS,
                   bidding_start=clock.now - HOUR_MS, end=clock.now + 60_000)  # fmt: skip
    lot_id = call(client, rt.create_lot, spec, title, "新能源").id
    call(client, rt.register, lot_id, buyer, buyer_org)
    call(client, rt.bid, lot_id, buyer, buyer_org, price, f"sold-{lot_id}")
    ends = rt.lots[lot_id].ends_at
    assert ends is not None
    clock.now = ends  # minutes later (the bid extended it) the lot closes, and its notice is issued
    wake(client, lot_id)
    return deal_of(client, lot_id)


def deal_of(client: TestClient, lot_id: int) -> int:
    """The deal of a sold lot, letting the app's loop run the deals' listener."""
    for _ in range(400):
        found = rows(client, "SELECT id FROM deals WHERE lot = ?", (lot_id,))
        if found:
            return int(found[0][0])
        call(client, asyncio.sleep, 0.005)
    raise AssertionError(f"lot {lot_id} got no deal")
