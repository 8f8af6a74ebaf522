"""Matching at the edge (hall/web/matching.py): who sees a demand's matches, the solver's
recommendations and the hot lists, as pages and as JSON, with listings made and approved
through the listings' own flow (so the indexes follow them through migration 15's triggers), and
the demand posted and approved through piece A's (whose approval pushes it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from demandkit import approved, demand
from hallkit import Actor, FakeClock, anonymous, bearer_of, beijing_ms, call, hall, listing, rows, runtime, user
from starlette.testclient import TestClient

from hall.auctions import Industry
from hall.auth.roles import Role

NOW: Final = beijing_ms(2026, 3, 2, 10, 0)
SECRET: Final = "保密的技术指标甲乙丙"


class World:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seller = user(client, "13900000301", "示范大学", org="示范大学")
        listing(client, self.seller, title="一种锂离子电池热失控早期预警方法")
        self.side = user(client, "13800000001", "需求方", org="恒达科技有限公司")
        self.colleague = user(client, "13800000002", "同事", org="恒达科技有限公司")
        self.stranger = user(client, "13800000003", "路人", verified=True)
        self.staff = user(client, "13900000101", "审核员", roles=(Role.STAFF,))
        approved(client, self.side, "enterprise")
        self.demand = demand(client, self.side, title="动力电池热失控预警", industry=Industry.ENERGY,
                             description="需要动力电池热失控早期预警方案。", requirements=SECRET, hidden=["requirements"])
        self.pushed = [s for (s,) in rows(client, "SELECT solver FROM demand_pushes WHERE demand = ?", (self.demand,))]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with hall(tmp_path) as client:
        runtime(client).clock = FakeClock(NOW)
        yield World(client)


def test_the_side_a_colleague_and_staff_see_what_might_solve_the_demand_and_no_one_else(world: World) -> None:
    path = f"/api/demands/{world.demand}/patents"
    for who in (world.side, world.colleague, world.staff):
        answer = world.client.get(path, headers=bearer_of(world.client, who))
        assert answer.status_code == 200, answer.text
        assert [i["title"] for i in answer.json()["items"]] == ["一种锂离子电池热失控早期预警方法"]
        assert answer.json()["items"][0]["industry"] == "new_it"  # the listing helper's IPC, G06F 16/00
    for who in (world.stranger, world.seller):
        answer = world.client.get(path, headers=bearer_of(world.client, who))
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    assert anonymous(world.client).get(path).status_code == 401
    page = Actor(world.client, world.side).get(f"/demands/{world.demand}/patents")
    assert page.status_code == 200 and "一种锂离子电池热失控早期预警方法" in page.text
    assert Actor(world.client, world.stranger).get(f"/demands/{world.demand}/patents").status_code == 404


def test_a_solver_is_pushed_the_demand_and_finds_it_recommended_without_its_hidden_field(world: World) -> None:
    assert world.pushed == [world.seller]
    call(world.client, world.client.app.state.dispatcher.run_once)  # type: ignore[attr-defined]
    inbox = Actor(world.client, world.seller).get("/inbox")
    assert "动力电池热失控预警" in inbox.text and SECRET not in inbox.text
    answer = world.client.get("/api/recommendations", headers=bearer_of(world.client, world.seller))
    assert [d["id"] for d in answer.json()] == [world.demand] and SECRET not in answer.text
    page = Actor(world.client, world.seller).get("/recommendations")
    assert page.status_code == 200 and f'href="/demands/{world.demand}"' in page.text and SECRET not in page.text


def test_an_account_with_no_approved_identity_gets_no_recommendations(world: World) -> None:
    assert world.client.get("/api/recommendations", headers=bearer_of(world.client, world.stranger)).json() == []
    page = Actor(world.client, world.stranger).get("/recommendations")
    assert page.status_code == 200 and 'href="/account/identity"' in page.text
    assert world.client.get("/api/recommendations?limit=51",
                            headers=bearer_of(world.client, world.seller)).status_code == 400  # fmt: skip


def test_the_hot_lists_answer_anyone_per_industry(world: World) -> None:
    client = anonymous(world.client)
    lists = client.get("/api/demands/hot").json()
    assert [entry["industry"] for entry in lists] == [industry.value for industry in Industry]
    assert [d["id"] for d in lists[-1]["demands"]] == [world.demand]
    assert "requirements" not in lists[-1]["demands"][0] and SECRET not in str(lists)
    only = client.get("/api/demands/hot?industry=energy&limit=1").json()
    assert len(only) == 1 and only[0]["demands"][0]["number"] == "ZB20260001"
    assert client.get("/api/demands/hot?industry=steel").json()["error"]["code"] == "bad_request"
    page = client.get("/demands/hot?industry=energy")
    assert page.status_code == 200 and "动力电池热失控预警" in page.text and SECRET not in page.text
