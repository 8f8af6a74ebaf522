"""``hall seed-demo``: the people of a demo exchange, who can log in, who owns and who may bid
on the lots, and a second run on the same database."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hallkit import seed_demo
from starlette.testclient import TestClient

from hall.auth.roles import Identity, Role
from hall.config import Config
from hall.demo import REJECTION_REASON, SHOWCASE, Seeded, seed
from hall.demo_patents import demo_patents
from hall.pdfscan import Limits
from hall.engine import Accepted, Action, Lot, Mode, Outcome, Result, State
from hall.registration import deadline, eligibility
from hall.runtime import Runtime, wall_clock
from hall.store import SqliteStore
from hall.store.people import People
from hall.uploads import FileStore, PdfChecker
from hall.web.accounts import PHONE
from hall.web.app import create_app

ROLES = ("admins", "staff", "auctioneers", "sellers", "bidders", "agencies")
LOTS, BIDDERS = 6, 4
DAY = 24 * 3600 * 1000


class World:
    """What the store holds after seeding: the lots and every listed account's identity."""

    def __init__(self, lots: dict[int, Lot], identities: dict[str, Identity], org_kinds: dict[int, str],
                 titles: dict[int, str], sessions: dict[int, str]) -> None:  # fmt: skip
        self.lots = lots
        self.titles = titles
        self.sessions = sessions
        self.identities = identities
        self.org_kinds = org_kinds


@contextlib.asynccontextmanager
async def running(db: Path) -> AsyncIterator[tuple[SqliteStore, Runtime, People]]:
    """The store at ``db`` opened and its runtime started, for the block."""
    store = SqliteStore(db)
    await store.open()
    runtime = Runtime(store)
    try:
        await runtime.start()
        yield store, runtime, People(store)
    finally:
        await runtime.stop()
        await store.close()


async def read_world(db: Path, phones: list[str]) -> World:
    async with running(db) as (store, runtime, people):
        identities = {}
        for phone in phones:
            found = await people.find(phone)
            assert found is not None, phone
            identities[phone] = found
        kinds = {int(r[0]): str(r[1]) for r in await store.fetchall("SELECT id, kind FROM orgs")}
    return World(runtime.lots, identities, kinds, runtime.titles, runtime.sessions)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    db = tmp_path_factory.mktemp("seed") / "demo.db"
    return db, seed_demo(db, "--lots", str(LOTS), "--bidders", str(BIDDERS), "--live", "--duration", "600")


@pytest.fixture(scope="module")
def world(seeded: tuple[Path, dict[str, Any]]) -> World:
    db, out = seeded
    return anyio.run(read_world, db, [a["phone"] for key in ROLES for a in out[key]])


def test_seed_demo_prints_one_json_object_with_the_lots_and_an_account_list_per_role(
    seeded: tuple[Path, dict[str, Any]],
) -> None:
    _, out = seeded
    assert list(out) == ["lots", "bidders", "auctioneers", "staff", "sellers", "admins",
                         "live_mode_lots", "publicity_lots", "sold_lots", "unsold_lots",  # the showcase's lots
                         "enterprises", "agencies", "demands"]  # then research crowdsourcing's parties and demands
    assert out["lots"] == list(range(1, LOTS + 1))
    assert len(out["bidders"]) == BIDDERS
    assert all(out[key] for key in ROLES)
    phones = [a["phone"] for key in ROLES for a in out[key]]
    assert len(set(phones)) == len(phones)
    assert all(PHONE.fullmatch(p) for p in phones)
    assert all(len(a["password"]) >= 8 for key in ROLES for a in out[key])


def test_every_listed_account_can_log_in_through_the_api_with_its_role(seeded: tuple[Path, dict[str, Any]]) -> None:
    db, out = seeded
    expected = {"admins": "admin", "staff": "staff", "auctioneers": "auctioneer", "sellers": "seller",
                "bidders": "bidder"}  # fmt: skip
    with TestClient(create_app(Config(db=str(db)))) as client:
        for key, role in expected.items():
            for account in out[key]:
                response = client.post("/api/login", json={"phone": account["phone"], "password": account["password"]})
                assert response.status_code == 200, (key, account["phone"], response.text)
                assert role in response.json()["user"]["roles"]
        wrong = client.post("/api/login", json={"phone": out["admins"][0]["phone"], "password": "demo-wrong-pass"})
        assert wrong.status_code == 401


def test_bidders_are_verified_registered_for_every_lot_and_none_belongs_to_a_seller_org(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    _, out = seeded
    bidders = [world.identities[a["phone"]] for a in out["bidders"]]
    seller_orgs = {world.identities[a["phone"]].org for a in out["sellers"]}
    assert all(b.verified and b.org is not None and b.org not in seller_orgs for b in bidders)
    assert len({b.org for b in bidders}) == len(bidders)  # an enterprise of its own each
    assert {world.org_kinds[b.org] for b in bidders if b.org is not None} == {"enterprise"}
    assert all(Role.SELLER not in b.roles and Role.STAFF not in b.roles for b in bidders)
    for lot_id in out["lots"]:
        registrants = world.lots[lot_id].registrants
        assert {b.id for b in bidders} <= set(registrants)
        assert all(registrants[b.id].org == b.org for b in bidders)
        assert len({r.number for r in registrants.values()}) == len(registrants)


async def seed_and_bid(db: Path, lots: int, bidders: int) -> tuple[Seeded, dict[int, list[tuple[Result, str]]]]:
    """Seed, then, on the same runtime (the one whose lots the batch admitted the bidders to),
    have every bidder bid once on every lot in turn, each the next valid amount: per lot, each
    result and the bidder number it made the leader."""
    async with running(db) as (_, runtime, people):
        config = Config(db=str(db))
        files = FileStore(people.db, config, PdfChecker(1, Limits()))  # demo files are written, never scanned
        out = await seed(runtime, people, files, lots=lots, live=True, duration=600, bidders=bidders)
        found: dict[int, list[tuple[Result, str]]] = {}
        for account in out.bidders:
            bidder = await people.find(account.phone)
            assert bidder is not None
            for lot_id in out.lots:
                lot = runtime.lots[lot_id]
                result = await runtime.bid(lot_id, bidder.id, bidder.org, lot.price + lot.spec.increment
                                           if lot.price is not None else lot.spec.start_price, account.phone)  # fmt: skip
                found.setdefault(lot_id, []).append((result, lot.leader_number or ""))
    return out, found


def test_the_batched_admission_numbers_bidders_in_order_on_every_lot_and_each_can_bid(tmp_path: Path) -> None:
    db = tmp_path / "batch.db"
    out, results = anyio.run(seed_and_bid, db, 3, 5)
    numbers = ["0001", "0002", "0003", "0004", "0005"]
    for lot_id in out.lots:
        assert all(isinstance(result, Accepted) for result, _ in results[lot_id]), results[lot_id]
        assert [leader for _, leader in results[lot_id]] == numbers
    world = anyio.run(read_world, db, [a.phone for a in out.bidders])  # as the store has them
    bidders = [world.identities[a.phone] for a in out.bidders]
    for lot_id in out.lots:
        registrants = world.lots[lot_id].registrants
        assert [registrants[b.id].number for b in bidders] == numbers
        assert all(registrants[b.id].org == b.org for b in bidders)


def test_enterprise_bidders_and_the_transfer_organisation_hold_identities_staff_approved_in_the_review_queue(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    """Issue 13's parties: the bidders are enterprises that may post demands and respond (an
    approved ``enterprise`` identity each), and a technology-transfer organisation that
    enterprises may entrust (an approved ``transfer`` identity), each approved by the demo's
    staff member through the review mechanism, with the certificate on file."""
    db, out = seeded
    assert [a["phone"] for a in out["enterprises"]] == [a["phone"] for a in out["bidders"]][:20]
    assert [(a["phone"], a["name"]) for a in out["agencies"]] == [("13900000401", "江苏省技术转移中心")]
    staff = world.identities[out["staff"][0]["phone"]].id
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for key, kind in (("enterprises", "enterprise"), ("agencies", "transfer")):
            for account in out[key]:
                holder = world.identities[account["phone"]]
                found = conn.execute(
                    "SELECT i.state, i.org, a.state, a.decided_by, (SELECT count(*) FROM identity_documents d"
                    " WHERE d.identity = i.id) FROM identities i JOIN applications a ON a.kind = 'identity'"
                    " AND a.subject = i.id WHERE i.user = ? AND i.kind = ?", (holder.id, kind)).fetchall()  # fmt: skip
                assert found == [("approved", holder.org, "approved", staff, 1)], (key, account["phone"])
    agency = world.identities[out["agencies"][0]["phone"]]
    assert agency.verified and agency.org is not None and world.org_kinds[agency.org] == "transfer"


def test_sellers_are_university_and_institute_accounts_whose_orgs_own_the_lots(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    _, out = seeded
    sellers = [world.identities[a["phone"]] for a in out["sellers"]]
    assert all(s.has(Role.SELLER) and s.verified and s.org is not None for s in sellers)
    assert [s.org for s in sellers] == [a["org"] for a in out["sellers"]]
    assert {world.org_kinds[s.org] for s in sellers if s.org is not None} <= {"university", "institute"}
    assert any(s.name == "南京大学" for s in sellers)
    owners = {world.lots[i].spec.seller_org for i in out["lots"]}
    assert owners == {s.org for s in sellers}  # every seller's org owns a lot, and only they do
    for key, role in (("admins", Role.ADMIN), ("staff", Role.STAFF), ("auctioneers", Role.AUCTIONEER)):
        assert all(world.identities[a["phone"]].has(role) for a in out[key])


def test_seeding_twice_on_one_database_reuses_the_accounts_with_the_new_passwords(tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    first = seed_demo(db, "--lots", "1", "--bidders", "2")
    second = seed_demo(db, "--lots", "1", "--bidders", "2")
    assert first["lots"] == [1] and second["lots"] == [2 + len(SHOWCASE)]  # after the first run's showcase
    for key in ROLES:
        assert [a["phone"] for a in first[key]] == [a["phone"] for a in second[key]]
    bidder, old = second["bidders"][0], first["bidders"][0]["password"]
    with TestClient(create_app(Config(db=str(db)))) as client:
        assert client.post("/api/login", json={"phone": bidder["phone"], "password": bidder["password"]}).status_code == 200
        assert client.post("/api/login", json={"phone": bidder["phone"], "password": old}).status_code == 401
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert all(len(runtime.lots[i].registrants) == 2 for i in (first["lots"] + second["lots"]))
        store: SqliteStore = client.app.state.store  # type: ignore[attr-defined]
        assert client.portal is not None
        count = client.portal.call(store.fetchone, "SELECT count(*) FROM users")
        assert count is not None and count[0] == 3 + 5 + 1 + 2  # exchange, sellers, agency, bidders
        patents = client.portal.call(store.fetchone, "SELECT count(*) FROM patent_catalogue")
        assert patents is not None and patents[0] == len(demo_patents())  # updated, not added again


def test_the_demo_catalogue_lets_a_seller_find_its_own_patents_by_two_characters_of_a_title(
    seeded: tuple[Path, dict[str, Any]],
) -> None:
    db, out = seeded
    seller = out["sellers"][0]
    with TestClient(create_app(Config(db=str(db)))) as client:
        token = client.post("/api/login", json={"phone": seller["phone"], "password": seller["password"]}).json()["token"]
        found = client.get("/api/patents", params={"q": seller["name"], "limit": "50"},
                           headers={"authorization": f"Bearer {token}"}).json()  # fmt: skip
        assert found and all(p["holder"] == seller["name"] for p in found)
        title = found[0]["title"]
        again = client.get("/api/patents", params={"q": title[2:4]}, headers={"authorization": f"Bearer {token}"}).json()
        assert title in [p["title"] for p in again]


# ---------------------------------------------------------------------- the showcase: every state a newcomer should meet


def test_the_showcase_lots_are_each_in_the_state_they_stand_for_and_none_is_in_lots(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    _, out = seeded
    bidders = {world.identities[a["phone"]].id for a in out["bidders"]}
    showcase = out["live_mode_lots"] + out["publicity_lots"] + out["sold_lots"] + out["unsold_lots"]
    assert len(showcase) == len(SHOWCASE) and not set(showcase) & set(out["lots"])
    assert all(world.lots[i].state is State.LIVE and world.lots[i].spec.mode is Mode.TIMED for i in out["lots"])
    for lot_id in out["live_mode_lots"]:  # waiting for the auctioneer, every bidder admitted
        lot = world.lots[lot_id]
        assert (lot.spec.mode, lot.state) == (Mode.LIVE, State.PUBLICITY) and set(lot.registrants) == bidders
    now = wall_clock()
    for lot_id in out["publicity_lots"]:  # a newcomer can register: open, nobody admitted
        lot = world.lots[lot_id]
        assert lot.state is State.PUBLICITY and not lot.registrants
        assert lot.spec.bidding_start - now >= DAY and deadline(lot.spec.bidding_start) > now
        assert eligibility(now=now, spec=lot.spec, state=lot.state, verified=True, org=None, current=None) is None
    (sold,) = [world.lots[i] for i in out["sold_lots"]]
    (unsold,) = [world.lots[i] for i in out["unsold_lots"]]
    first, second = (sold.registrants[world.identities[a["phone"]].id].number for a in out["bidders"][:2])
    assert (sold.state, sold.outcome, sold.leader_number) == (State.CLOSED, Outcome.SOLD, first)
    assert [bid.bidder for bid in sold.recent] == [first, second, first]  # the second bidder was outbid
    assert (unsold.state, unsold.outcome) == (State.CLOSED, Outcome.UNSOLD) and unsold.bid_count == 2
    for lot in (sold, unsold):  # ran today, before now, on their own clock
        assert lot.spec.end < now and all(lot.spec.bidding_start < bid.ts < lot.spec.end for bid in lot.recent)


async def _run_the_auctioneer(db: Path, auctioneer_phone: str, lot_id: int) -> list[Result]:
    async with running(db) as (_, runtime, people):
        found = await people.find(auctioneer_phone)
        assert found is not None and found.has(Role.AUCTIONEER)
        steps: list[tuple[Action, dict[str, object]]] = [
            (Action.OPEN, {}), (Action.FLOOR_BID, {"bidder": "0001", "amount": runtime.lots[lot_id].spec.start_price}),
            (Action.FAIR_WARNING, {}), (Action.PAUSE, {}), (Action.RESUME, {}), (Action.HAMMER, {}),
        ]  # fmt: skip
        return [await runtime.command(lot_id, found.id, action, f"t{n}", **fields)
                for n, (action, fields) in enumerate(steps)]  # fmt: skip


def test_the_demo_auctioneer_can_run_the_auctioneer_run_lot_from_open_to_hammer(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db, out = seeded
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())  # the module's database stays as seeded for the other tests
    results = anyio.run(_run_the_auctioneer, copy, out["auctioneers"][0]["phone"], out["live_mode_lots"][0])
    assert all(isinstance(result, Accepted) for result in results), results


def test_sellers_are_sellers_through_identities_and_shops_staff_approved(seeded: tuple[Path, dict[str, Any]]) -> None:
    db, out = seeded
    with contextlib.closing(sqlite3.connect(db)) as conn:
        shops = conn.execute("SELECT u.phone, s.name, s.state, i.kind, i.state FROM shops s JOIN users u ON u.id = s.owner"
                             " JOIN identities i ON i.id = s.identity ORDER BY u.phone").fetchall()  # fmt: skip
        decided = conn.execute("SELECT a.kind, a.state, u.phone FROM applications a JOIN users u ON u.id = a.decided_by"
                               " ORDER BY a.id").fetchall()  # fmt: skip
        documents = conn.execute("SELECT count(*) FROM identity_documents d JOIN files f ON f.id = d.file").fetchone()
    assert [(phone, name) for phone, name, *_ in shops] == [(a["phone"], a["name"]) for a in out["sellers"]]
    assert {(state, kind in ("university", "institute"), identity) for _, _, state, kind, identity in shops} == {
        ("open", True, "approved")}
    staff = out["staff"][0]["phone"]
    listed = LOTS + len(SHOWCASE) + 1  # every lot's listing, and one listed in no session
    identified = len(out["sellers"]) + len(out["enterprises"]) + len(out["agencies"])
    assert sorted(decided) == sorted([("identity", "approved", staff)] * identified
                                     + [("shop", "approved", staff)] * len(out["sellers"])
                                     + [("listing", "approved", staff)] * listed
                                     + [("listing", "rejected", staff)]
                                     + [("demand", "approved", staff)] * 7  # six published, one of them twice
                                     + [("demand", "rejected", staff)])  # fmt: skip
    assert documents == (identified,)
    files = len(list((db.parent / "files").iterdir()))
    assert files == identified + 1  # the certificates and the reward application's proof exist on disk


def test_the_showcase_sold_lot_has_its_deal_with_the_winner_as_buyer(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    """``hall seed-demo`` runs the deals' listener as the server does: the sold lot's deal is
    waiting for its contract, its notice SMS sent to the first bidder and the seller."""
    db, out = seeded
    (sold,) = out["sold_lots"]
    winner = world.identities[out["bidders"][0]["phone"]].id
    with contextlib.closing(sqlite3.connect(db)) as conn:
        deals = conn.execute("SELECT lot, buyer, state, seller FROM deals").fetchall()
        told = {r[0] for r in conn.execute("SELECT user FROM outbox WHERE template = 'deal_notified'")}
    assert [(lot, buyer, state) for lot, buyer, state, _ in deals] == [(sold, winner, "notified")]
    assert told == {winner, deals[0][3]} and deals[0][3] is not None
# ---------------------------------------------------------------------- the supply side: listings, reviews, sessions


def test_every_demo_lot_comes_from_a_staff_approved_listing_of_its_seller_in_a_published_session(
    seeded: tuple[Path, dict[str, Any]], world: World
) -> None:
    """seed-demo builds its lots as the pages do: a seller's listing, approved in the review
    queue, added to a session staff created and published (issue 11), the timed lots in one
    session per industry named by its label."""
    db, out = seeded
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT al.lot, a.name, a.industry, a.mode, a.auctioneer, a.state, a.created_by, l.org, l.title, l.state,"
            " ap.state, ap.decided_by FROM auction_lots al JOIN auctions a ON a.id = al.auction"
            " JOIN listings l ON l.id = al.listing"
            " JOIN applications ap ON ap.kind = 'listing' AND ap.subject = l.id ORDER BY al.lot").fetchall()  # fmt: skip
    staff = world.identities[out["staff"][0]["phone"]].id
    auctioneer = world.identities[out["auctioneers"][0]["phone"]].id
    by_lot = {row[0]: row[1:] for row in rows}
    assert sorted(by_lot) == sorted(world.lots) and len(rows) == len(world.lots)  # every lot, one listing each
    states = {**{lot: "in_session" for lot in out["lots"] + out["live_mode_lots"] + out["publicity_lots"]},
              **{lot: "sold" for lot in out["sold_lots"]}, **{lot: "unsold" for lot in out["unsold_lots"]}}  # fmt: skip
    for lot, (name, industry, mode, assigned, session_state, creator, org, title, state, decision, decider) in by_lot.items():
        assert (session_state, creator, decision, decider) == ("published", staff, "approved", staff), lot
        assert (org, title, name, state) == (world.lots[lot].spec.seller_org, world.titles[lot], world.sessions[lot],
                                             states[lot])  # fmt: skip
        assert (mode == "live") == (assigned == auctioneer) == (world.lots[lot].spec.mode is Mode.LIVE)
    labels = {"新一代信息技术": "new_it", "生物医药": "biomedicine", "智能制造": "manufacturing", "节能环保": "environment",
              "新材料": "materials", "新能源": "energy"}  # fmt: skip
    assert {(by_lot[lot][0], by_lot[lot][1]) for lot in out["lots"]} <= set(labels.items())


def test_the_first_demo_seller_has_items_pending_rejected_with_its_reason_and_listed_in_no_session(
    seeded: tuple[Path, dict[str, Any]],
) -> None:
    db, out = seeded
    seller = out["sellers"][0]
    with TestClient(create_app(Config(db=str(db)))) as client:
        token = client.post("/api/login", json={"phone": seller["phone"], "password": seller["password"]}).json()["token"]
        mine = client.get("/api/listings", params={"mine": "1"},
                          headers={"authorization": f"Bearer {token}"})  # fmt: skip
        assert mine.status_code == 200, mine.text
        items = {item["state"]: item for item in mine.json() if item["state"] in ("pending", "rejected", "listed")}
        assert sorted(items) == ["listed", "pending", "rejected"]
        assert items["rejected"]["reason"] == REJECTION_REASON
        assert all(item["holder"] == seller["name"] and item["ownership"] == "own" for item in items.values())
        centre = client.get("/seller", headers={"authorization": f"Bearer {token}"})
        assert centre.status_code == 200 and REJECTION_REASON in centre.text
