"""``hall seed-demo``'s research crowdsourcing (``hall.demo.seed_demands``): the first enterprise's
demands in every situation, played through the real posting, review, response, roadshow and
outcome functions, as the pages and the API then show them to each party."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hallkit import seed_demo
from starlette.testclient import TestClient

from hall.config import Config
from hall.demo import DEMANDS, DEMO_FEE
from hall.web.app import create_app

Seed = tuple[Path, dict[str, Any], int]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    db = tmp_path_factory.mktemp("crowd") / "demo.db"
    out = seed_demo(db, "--lots", "1", "--bidders", "2")
    return db, out, int(time.time() * 1000)


def _rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def _bearer(client: TestClient, account: dict[str, Any]) -> dict[str, str]:
    answer = client.post("/api/login", json={"phone": account["phone"], "password": account["password"]})
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['token']}"}


def test_the_demo_has_a_demand_in_every_situation_a_demand_side_meets(seeded: Seed) -> None:
    db, out, _ = seeded
    made = out["demands"]
    assert list(made) == list(dict.fromkeys(spec.key for spec in DEMANDS))
    assert sum(len(ids) for ids in made.values()) == len(DEMANDS)
    found = {id_: row for id_, *row in _rows(db, "SELECT id, state, round, adopted IS NOT NULL, fee FROM demands")}
    expected = {"pending": ("pending", 1, 0, None), "rejected": ("rejected", 1, 0, None),
                "withdrawn": ("withdrawn", 1, 0, None), "published": ("published", 1, 0, None),
                "adopted": ("published", 1, 1, None), "resolved": ("resolved", 1, 1, DEMO_FEE),
                "unresolved": ("unresolved", 1, 0, None), "restarted": ("published", 2, 0, None)}  # fmt: skip
    assert {key: {tuple(found[i]) for i in ids} for key, ids in made.items()} == {
        key: {state} for key, state in expected.items()}
    enterprise = _rows(db, "SELECT DISTINCT u.phone FROM demands d JOIN users u ON u.id = d.enterprise")
    assert enterprise == [(out["enterprises"][0]["phone"],)]


def test_the_demo_plays_each_history_in_the_past_and_numbers_demands_in_the_order_they_were_approved(
    seeded: Seed,
) -> None:  # fmt: skip
    db, _, seeded_at = seeded
    stamps = _rows(db, "SELECT created_at, coalesce(published_at, created_at),"
                       " coalesce(adopted_at, published_at, created_at),"
                       " coalesce(resolved_at, adopted_at, published_at, created_at) FROM demands")  # fmt: skip
    assert all(list(row) == sorted(row) and row[-1] <= seeded_at for row in stamps)
    first_rounds = _rows(db, "SELECT d.number FROM demand_rounds r JOIN demands d ON d.id = r.demand WHERE r.round = 1"
                             " ORDER BY r.started_at")  # fmt: skip
    assert [n for (n,) in first_rounds] == sorted(n for (n,) in first_rounds)
    assert len(first_rounds) == 6 and all(n.startswith("ZB") and len(n) == 10 for (n,) in first_rounds)
    assert _rows(db, "SELECT count(*) FROM applications WHERE kind = 'demand' AND state = 'pending'") == [(1,)]


def test_the_restarted_demand_keeps_its_number_and_its_unresolved_first_round(seeded: Seed) -> None:
    db, out, _ = seeded
    (restarted,) = out["demands"]["restarted"]
    rounds = _rows(db, "SELECT round, outcome, ended_at IS NOT NULL FROM demand_rounds WHERE demand = ? ORDER BY round",
                   (restarted,))  # fmt: skip
    assert rounds == [(1, "unresolved", 1), (2, None, 0)]
    assert _rows(db, "SELECT count(*), count(DISTINCT number) FROM demands WHERE number IS NOT NULL") == [(6, 6)]


def test_the_resolved_demand_is_the_agencys_with_a_log_a_qualifying_fee_and_a_pending_reward_application(
    seeded: Seed,
) -> None:  # fmt: skip
    db, out, _ = seeded
    (resolved,) = out["demands"]["resolved"]
    [(agency_org, entrustment_state, manager)] = _rows(
        db, "SELECT d.agency_org, e.state, d.manager FROM demands d JOIN entrustments e ON e.id = d.entrustment"
            " WHERE d.id = ?", (resolved,))  # fmt: skip
    assert (agency_org, entrustment_state) == (out["agencies"][0]["org"], "accepted") and manager
    assert DEMO_FEE >= 200_000  # CR-12: qualifying
    assert _rows(db, "SELECT count(*) FROM demand_log WHERE demand = ?", (resolved,)) == [(2,)]
    assert _rows(db, "SELECT kind, state FROM applications WHERE kind = 'reward'") == [("reward", "pending")]


def test_the_demo_roadshows_one_scheduled_ahead_and_one_awarded_to_the_adopted_solver_and_a_pick(seeded: Seed) -> None:
    db, out, seeded_at = seeded
    shows = _rows(db, "SELECT demand, state, starts_at > ? FROM roadshows ORDER BY starts_at", (seeded_at,))
    assert shows == [(out["demands"]["resolved"][0], "awarded", 0), (out["demands"]["published"][0], "scheduled", 1)]
    [(winner, adopted)] = _rows(db, "SELECT i.response, d.adopted FROM roadshow_invites i"
                                    " JOIN roadshows r ON r.id = i.roadshow JOIN demands d ON d.id = r.demand"
                                    " WHERE i.winner = 1")  # fmt: skip
    assert winner == adopted
    assert _rows(db, "SELECT count(*), min(score) >= 0, max(score) <= 100 FROM roadshow_scores") == [(4, 1, 1)]
    assert _rows(db, "SELECT id FROM demands WHERE pick > 0") == [(out["demands"]["published"][0],)]


def test_hidden_fields_reach_the_side_and_never_the_public_or_a_solver(seeded: Seed) -> None:
    db, out, _ = seeded
    (demand,) = out["demands"]["adopted"]  # contact hidden
    with TestClient(create_app(Config(db=str(db)))) as client:
        side = client.get(f"/api/demands/{demand}", headers=_bearer(client, out["enterprises"][0])).json()
        solver = client.get(f"/api/demands/{demand}", headers=_bearer(client, out["sellers"][1])).json()
        public = client.get(f"/api/demands/{demand}").json()
    assert side["hidden"] == ["contact"] and side["contact_name"]
    for seen in (solver, public):
        assert "contact_name" not in seen and "contact_phone" not in seen and "hidden" not in seen
        assert seen["enterprise"] and seen["investment"]  # what was not hidden


def test_a_seller_finds_the_demands_matching_its_listings_in_its_recommendations_and_a_side_its_patents(
    seeded: Seed,
) -> None:  # fmt: skip
    db, out, _ = seeded
    published = out["demands"]["published"]
    with TestClient(create_app(Config(db=str(db)))) as client:
        seller = _bearer(client, out["sellers"][0])  # 南京大学, whose first lot is on remote-sensing images
        recommended = client.get("/api/recommendations", headers=seller).json()
        patents = client.get(f"/api/demands/{published[0]}/patents", headers=_bearer(client, out["enterprises"][0]))
    assert recommended[0]["id"] in published and "遥感影像" in recommended[0]["title"]
    assert patents.status_code == 200
    assert "污水" in patents.json()["patents"][0]["title"]
    pushed = _rows(db, "SELECT count(*) FROM outbox o JOIN users u ON u.id = o.user WHERE o.template = 'demand_pushed'"
                       " AND u.phone = ?", (out["sellers"][0]["phone"],))  # fmt: skip
    assert pushed[0][0] >= 1


def test_the_crowdsourcing_home_shows_each_industrys_hot_list_picks_first_and_links_to_the_hot_page(
    seeded: Seed,
) -> None:  # fmt: skip
    db, out, _ = seeded
    picked, other = out["demands"]["published"]
    with TestClient(create_app(Config(db=str(db)))) as client:
        page = client.get("/demands").text
    hot = page[page.index('class="hot-lists"'):page.index("</section>")]
    assert 'href="/demands/hot"' in hot
    environment = hot[hot.index('data-hot="environment"'):]
    assert environment.index(f'href="/demands/{picked}"') < environment.index("</ol>")  # picked: first of its list
    assert f'href="/demands/{other}"' in hot[hot.index('data-hot="new_it"'):]
    assert 'data-hot="materials"' not in hot  # an industry without a published demand has no list
    names = _rows(db, "SELECT o.name FROM demands d JOIN orgs o ON o.id = d.enterprise_org WHERE d.id = ?", (picked,))
    assert names[0][0] not in hot  # a hot list names no enterprise, hidden (CR-4) or not


def test_the_account_page_links_each_party_to_the_crowdsourcing_pages_it_uses(seeded: Seed) -> None:
    db, out, _ = seeded
    side = ["/demands/new", "/my/demands", "/entrustments"]
    solver = ["/recommendations", "/my/responses"]
    with TestClient(create_app(Config(db=str(db)))) as client:
        def links(account: dict[str, Any]) -> list[str]:
            page = client.get("/account", headers=_bearer(client, account)).text
            if "data-crowd" not in page:
                return []
            section = page[page.index("data-crowd"):]
            return [path for path in side + solver if f'href="{path}"' in section[:section.index("</ul>")]]

        assert links(out["enterprises"][0]) == side + solver  # posts demands, and responds to others'
        assert links(out["agencies"][0]) == side + solver
        assert links(out["sellers"][0]) == solver
        assert links(out["auctioneers"][0]) == []  # no identity: neither
