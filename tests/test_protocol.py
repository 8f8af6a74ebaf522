"""The JSON WebSocket protocol (``/ws``) and the HTTP reads under ``/api/lots``, end to end
through the app with Starlette's TestClient: every client message, every server message,
every code a socket can answer with, resuming without gap or duplicate, the frame limit, the
Origin rule, credentials that end while a socket is open, events only once durable, a slow
watcher dropped while the others go on, and what /metrics counts."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hallkit import call, identity, org_id, people, runtime, user
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from hall.auth.roles import Role
from hall.config import Config
from hall.engine import Accepted, LotSpec, Mode
from hall.protocol import MAX_FRAME, client_framed, framed, unframed
from hall.runtime import wall_clock
from hall.store import StoreError
from hall.web import live
from hall.web.app import create_app

START = 10_000
INC = 1_000
HOUR = 3_600_000
STALL = (b"x-test-stall", b"1")


class Stalls:
    """The app behind a network on which sockets opened with ``x-test-stall: 1`` deliver
    nothing while ``flowing`` is clear: a reader that stopped reading, as a real one does."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or STALL not in scope["headers"]:
            await self.app(scope, receive, send)
            return

        async def stalled(message: Message) -> None:
            if message["type"] == "websocket.send":
                await self.flowing.wait()
            await send(message)

        await self.app(scope, receive, stalled)


@contextmanager
def opened(tmp_path: Path, **config: Any) -> Iterator[TestClient]:
    with TestClient(Stalls(create_app(Config(db=str(tmp_path / "h.db"), **config)))) as client:
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with opened(tmp_path) as client:
        yield client


async def _within(receive: Callable[[], Awaitable[Message]], timeout: float) -> Message:
    with anyio.fail_after(timeout):
        return await receive()


class Socket:
    """One /ws connection, read with a timeout so that a missing frame fails instead of hanging."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.welcome = self.recv()
        assert self.welcome["type"] == "welcome"

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        message = self.ws.portal.call(_within, self.ws._send_rx.receive, timeout)
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
        frame: dict[str, Any] = json.loads(message["text"])
        return frame

    def send(self, **message: Any) -> None:
        self.ws.send_text(json.dumps(message))

    def raw(self, text: str) -> None:
        self.ws.send_text(text)

    def bid(self, lot: int, amount: object, req: str) -> dict[str, Any]:
        self.send(type="bid", lot=lot, amount=amount, req=req)
        return self.recv()

    def command(self, lot: int, action: str, req: str, **fields: Any) -> dict[str, Any]:
        self.send(type="command", lot=lot, action=action, req=req, **fields)
        return self.recv()

    def subscribe(self, lot: int, since: int | None = None) -> None:
        if since is None:
            self.send(type="subscribe", lot=lot)
        else:
            self.send(type="subscribe", lot=lot, since=since)

    def quiet(self) -> None:
        """Nothing is queued for this socket: the answer to a probe sent now comes first."""
        self.raw('{"type":"probe","req":"probe"}')
        frame = self.recv()
        assert frame["type"] == "error" and frame.get("req") == "probe", f"unexpected frame {frame}"


@contextmanager
def socket(client: TestClient, token: str | None = None, url: str = "/ws", **headers: str) -> Iterator[Socket]:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    with client.websocket_connect(url, headers=headers) as ws:
        yield Socket(ws)


@contextmanager
def stalled_socket(client: TestClient) -> Iterator[Socket]:
    with client.websocket_connect("/ws", headers={STALL[0].decode(): STALL[1].decode()}) as ws:
        yield Socket(ws)


def count_store_reads(client: TestClient) -> list[tuple[int, int]]:
    """Record each ``events_since`` the app's store serves from now on: (lot, since)."""
    store = client.app.state.store  # type: ignore[attr-defined]
    reads: list[tuple[int, int]] = []
    real = store.events_since

    async def counted(lot: int, seq: int, limit: int = -1) -> Any:
        reads.append((lot, seq))
        return await real(lot, seq, limit)

    store.events_since = counted
    return reads


def refused(ack: dict[str, Any]) -> str:
    assert ack["type"] == "ack" and ack["ok"] is False, ack
    assert set(ack) == {"type", "req", "ok", "lot", "code", "message"} and ack["message"], ack
    code: str = ack["code"]
    return code


def events_of(client: TestClient, lot: int, since: int = 0) -> list[dict[str, Any]]:
    page = client.get(f"/api/lots/{lot}/events?since={since}").json()
    assert page["next"] is None
    events: list[dict[str, Any]] = page["events"]
    return events


class Scene:
    """A seller's timed lot that is live now, bidders with tokens, and an auctioneer."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.seller = org_id(client, "卖方大学")
        self.lot = self.make_lot()
        self.alice, self.alice_token = self.person("13800000001", "甲", org="买方大学")
        self.bob, self.bob_token = self.person("13800000002", "乙")
        self.carol, self.carol_token = self.person("13800000003", "丙")  # verified, never registered
        self.insider, self.insider_token = self.person("13800000004", "丁", org="卖方大学")
        self.auctioneer, self.auctioneer_token = self.person("13800000005", "拍卖师", roles=(Role.AUCTIONEER,))
        self.register(self.lot, self.alice, self.bob)

    def person(self, phone: str, name: str, *, org: str | None = None,
               roles: tuple[Role, ...] = ()) -> tuple[int, str]:  # fmt: skip
        uid = user(self.client, phone, name, verified=True, org=org, roles=roles)
        _, token = call(self.client, people(self.client).new_token, uid)
        return uid, token

    def make_lot(self, *, mode: Mode = Mode.TIMED, opens_in: int = -60_000, session: str = "",
                 title: str = "一种专利") -> int:  # fmt: skip
        now = wall_clock()
        spec = LotSpec(seller_org=self.seller, start_price=START, increment=INC, publicity_start=now - HOUR,
                       bidding_start=now + opens_in, end=now + 3 * HOUR, mode=mode)  # fmt: skip
        return call(self.client, runtime(self.client).create_lot, spec, title, session).id

    def register(self, lot: int, *users: int) -> None:
        for uid in users:
            call(self.client, runtime(self.client).register, lot, uid, identity(self.client, uid).org)

    def bids(self, lot: int, n: int) -> list[int]:
        """``n`` accepted bids by alice straight through the runtime (judged together); their seqs."""
        rt = runtime(self.client)
        price = rt.lots[lot].price
        first = START if price is None else price + INC
        org = identity(self.client, self.alice).org

        async def place() -> list[int]:
            results = await asyncio.gather(*(rt.bid(lot, self.alice, org, first + i * INC, f"direct-{first + i}")
                                             for i in range(n)))  # fmt: skip
            assert all(isinstance(r, Accepted) for r in results), results
            return [r.seq for r in results if isinstance(r, Accepted)]

        return call(self.client, place)


@pytest.fixture
def scene(client: TestClient) -> Scene:
    return Scene(client)


# ---------------------------------------------------------------------- connecting


def test_welcome_names_the_user_or_none_and_the_servers_time(scene: Scene) -> None:
    before = wall_clock()
    with socket(scene.client) as anonymous, socket(scene.client, scene.auctioneer_token) as auctioneer:
        after = wall_clock()
        assert anonymous.welcome == {"type": "welcome", "user": None, "now": anonymous.welcome["now"]}
        assert before <= anonymous.welcome["now"] <= after
        assert auctioneer.welcome["user"] == {"id": scene.auctioneer, "name": "拍卖师",
                                              "roles": ["auctioneer", "bidder"]}  # fmt: skip


def test_a_token_in_the_query_string_identifies_the_socket_and_may_bid(scene: Scene) -> None:
    with socket(scene.client, url=f"/ws?token={scene.alice_token}") as alice:
        assert alice.welcome["user"]["id"] == scene.alice
        assert alice.bid(scene.lot, START, "q1")["ok"] is True
    with socket(scene.client, url="/ws?token=not-a-token") as nobody:
        assert nobody.welcome["user"] is None
        assert refused(nobody.bid(scene.lot, START + INC, "q2")) == "unauthenticated"


# ---------------------------------------------------------------------- malformed frames


@pytest.mark.parametrize(
    ("frame", "req"),
    [
        ("not json", None),
        ("{", None),
        ("", None),
        ("[]", None),
        ('"subscribe"', None),
        ("{}", None),
        ('{"lot": 1}', None),
        ('{"type": "dance", "req": "r-unknown"}', "r-unknown"),
        ('{"type": "subscribe"}', None),
        ('{"type": "subscribe", "lot": "1"}', None),
        ('{"type": "subscribe", "lot": 0}', None),
        ('{"type": "subscribe", "lot": 1, "since": -1}', None),
        ('{"type": "subscribe", "lot": 1, "extra": true}', None),
        ('{"type": "unsubscribe"}', None),
        ('{"type": "bid", "lot": 1, "amount": 10000}', None),
        ('{"type": "bid", "lot": 1, "req": "r-no-amount"}', "r-no-amount"),
        ('{"type": "bid", "lot": 1, "amount": "10000", "req": "r-text"}', "r-text"),
        ('{"type": "bid", "lot": 1, "amount": 10000.5, "req": "r-float"}', "r-float"),
        ('{"type": "bid", "lot": 1, "amount": 10000, "req": 7}', None),
        ('{"type": "bid", "lot": 1, "amount": 10000, "req": "' + "x" * 65 + '"}', None),
        ('{"type": "command", "lot": 1, "action": "dance", "req": "r-action"}', "r-action"),
        ('{"type": "command", "lot": 1, "action": "extend", "req": "r-secs", "seconds": "60"}', "r-secs"),
    ],
    ids=["not-json", "truncated", "empty", "array", "string", "no-type", "no-type-with-fields", "unknown-type",
         "missing-lot", "lot-as-text", "lot-zero", "since-negative", "unknown-field", "unsubscribe-no-lot",
         "bid-no-req", "bid-no-amount", "amount-as-text", "amount-float", "req-not-text", "req-too-long",
         "unknown-action", "seconds-as-text"],
)
def test_a_malformed_frame_gets_bad_request_and_the_socket_stays_open(
    scene: Scene, frame: str, req: str | None
) -> None:
    with socket(scene.client, scene.alice_token) as alice:
        alice.raw(frame)
        error = alice.recv()
        assert error["type"] == "error" and error["code"] == "bad_request" and error["message"], error
        assert error.get("req") == req
        assert set(error) <= {"type", "code", "message", "req"}
        alice.raw(frame)  # and again: still answered
        assert alice.recv()["code"] == "bad_request"
        assert alice.bid(scene.lot, START, "after")["ok"] is True, "the next frame works"


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 50_000,
        '{"type": "bid", "lot": 1, "amount": 10000, "req": "r", "x": ' + "[" * 30_000 + "]" * 30_000 + "}",
        '{"req": "r-deep", "pad": ' + "{\"a\":" * 8_000 + "1" + "}" * 8_000 + "}",
    ],
    ids=["deep-array", "deep-unknown-field", "deep-objects"],
)
def test_deeply_nested_json_gets_bad_request_and_the_socket_stays_open(scene: Scene, frame: str) -> None:
    """msgspec recurses once per level (skipping an unknown field's value too): past Python's
    recursion limit it raises RecursionError, which once killed the socket (1006)."""
    assert len(frame.encode()) <= MAX_FRAME
    with socket(scene.client, scene.alice_token) as alice:
        alice.raw(frame)
        error = alice.recv()
        assert (error["type"], error["code"]) == ("error", "bad_request"), error
        assert "req" not in error
        assert alice.bid(scene.lot, START, "after-deep")["ok"] is True, "the socket still works"


def test_a_binary_frame_carries_the_same_json(scene: Scene) -> None:
    with socket(scene.client, scene.alice_token) as alice:
        alice.ws.send_bytes(json.dumps({"type": "bid", "lot": scene.lot, "amount": START, "req": "b1"}).encode())
        assert alice.recv()["ok"] is True
        alice.ws.send_bytes(b"\xff\xfe")
        assert alice.recv()["code"] == "bad_request"


# ---------------------------------------------------------------------- bids and their codes


def test_an_accepted_bid_is_acked_with_its_seq_and_price_once_durable(scene: Scene) -> None:
    with socket(scene.client, scene.alice_token) as alice:
        ack = alice.bid(scene.lot, START, "c1-77")
        assert ack == {"type": "ack", "req": "c1-77", "ok": True, "lot": scene.lot, "seq": 2, "price": START}
    assert [e["seq"] for e in events_of(scene.client, scene.lot)] == [1, 2]


def test_bids_are_refused_with_the_engines_codes(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    with socket(client, scene.alice_token) as alice, socket(client, scene.carol_token) as carol, \
            socket(client, scene.insider_token) as insider:  # fmt: skip
        assert alice.bid(lot, START, "a1")["ok"] is True
        assert refused(alice.bid(lot, START, "a2")) == "too_low"
        assert refused(alice.bid(lot, START - INC, "a3")) == "too_low"
        assert refused(alice.bid(lot, START + INC + 1, "a4")) == "bad_increment"
        assert refused(alice.bid(lot, 0, "a5")) == "bad_request"
        assert refused(alice.bid(lot, -START, "a6")) == "bad_request"
        assert refused(alice.bid(lot + 100, START + INC, "a7")) == "unknown_lot"
        assert refused(carol.bid(lot, START + INC, "c1")) == "not_registered"
        assert refused(insider.bid(lot, START + INC, "i1")) == "own_lot"
        ack = alice.bid(lot, START + INC, "a8")
        assert ack["ok"] is True and ack["seq"] == 3 and ack["price"] == START + INC
    assert [e["price"] for e in events_of(client, lot)[1:]] == [START, START + INC]


def test_bids_are_refused_by_the_lots_state(scene: Scene) -> None:
    client = scene.client
    upcoming = scene.make_lot(opens_in=HOUR)
    floor = scene.make_lot(mode=Mode.LIVE)
    scene.register(upcoming, scene.alice)
    scene.register(floor, scene.alice)
    with socket(client, scene.alice_token) as alice, socket(client, scene.auctioneer_token) as auctioneer:
        assert refused(alice.bid(upcoming, START, "u1")) == "not_live"
        assert refused(alice.bid(floor, START, "f1")) == "not_live"  # a hall lot waits for the auctioneer
        assert auctioneer.command(floor, "open", "o1")["ok"] is True
        assert alice.bid(floor, START, "f2")["ok"] is True
        assert auctioneer.command(floor, "pause", "p1")["ok"] is True
        assert refused(alice.bid(floor, START + INC, "f3")) == "paused"
        assert auctioneer.command(floor, "hammer", "h1")["ok"] is True
        assert refused(alice.bid(floor, START + INC, "f4")) == "closed"
        assert auctioneer.command(scene.lot, "withdraw", "w1", reason="权属争议")["ok"] is True
        assert refused(alice.bid(scene.lot, START, "t1")) == "withdrawn"


def test_a_retried_request_gets_the_same_answer_and_makes_one_bid(scene: Scene) -> None:
    with socket(scene.client, scene.alice_token) as alice, socket(scene.client) as watcher:
        watcher.subscribe(scene.lot)
        assert watcher.recv()["type"] == "snapshot"
        first = alice.bid(scene.lot, START, "same")
        assert alice.bid(scene.lot, START, "same") == first
        assert alice.bid(scene.lot, START + 5 * INC, "same") == first, "the request id decides, not the amount"
        too_low = alice.bid(scene.lot, START, "low")
        assert alice.bid(scene.lot, START + INC, "low") == too_low, "a refusal is remembered too"
        assert watcher.recv()["seq"] == first["seq"]
        watcher.quiet()
    assert [e["kind"] for e in events_of(scene.client, scene.lot)] == ["opened", "bid"]


def test_bidding_and_commanding_need_a_signed_in_socket_and_commands_an_auctioneer(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    with socket(client) as anonymous, socket(client, scene.alice_token) as alice:
        assert refused(anonymous.bid(lot, START, "n1")) == "unauthenticated"
        assert refused(anonymous.command(lot, "pause", "n2")) == "unauthenticated"
        assert refused(alice.command(lot, "pause", "n3")) == "forbidden"
        anonymous.subscribe(lot)
        assert anonymous.recv()["type"] == "snapshot", "anonymous sockets may watch"
    assert runtime(client).views[lot].seq == 1, "nothing refused reached the lot"


def test_a_socket_bidding_beyond_its_rate_is_refused_rate_limited(tmp_path: Path) -> None:
    with opened(tmp_path, bid_rate=1, bid_burst=2) as client:
        scene = Scene(client)
        with socket(client, scene.alice_token) as alice, socket(client, scene.bob_token) as bob:
            for i in range(3):  # pipelined: the refusal does not wait for the accepted ones' commits
                alice.send(type="bid", lot=scene.lot, amount=START + i * INC, req=f"r{i}")
            acks = {ack["req"]: ack for ack in (alice.recv() for _ in range(3))}
            assert [acks[f"r{i}"]["ok"] for i in range(2)] == [True, True]
            assert refused(acks["r2"]) == "rate_limited"
            assert bob.bid(scene.lot, START + 2 * INC, "b1")["ok"] is True, "another socket has its own budget"


# ---------------------------------------------------------------------- auctioneer commands


def test_hall_commands_are_acked_and_produce_their_event_frames(scene: Scene) -> None:
    client = scene.client
    lot = scene.make_lot(mode=Mode.LIVE)
    scene.register(lot, scene.alice, scene.bob)  # 0001, 0002
    with socket(client, scene.auctioneer_token) as auctioneer, socket(client) as watcher:
        watcher.subscribe(lot)
        snapshot = watcher.recv()
        assert (snapshot["state"], snapshot["mode"], snapshot["ends_at"]) == ("publicity", "live", None)

        def event() -> dict[str, Any]:
            frame = watcher.recv()
            assert frame["type"] == "event" and frame["lot"] == lot and isinstance(frame.pop("ts"), int), frame
            del frame["type"], frame["lot"]
            return frame

        assert auctioneer.command(lot, "open", "c1") == {"type": "ack", "req": "c1", "ok": True, "lot": lot,
                                                         "seq": 1, "price": None}  # fmt: skip
        assert event() == {"seq": 1, "kind": "opened", "ends_at": None}
        with socket(client, scene.alice_token) as alice:
            assert alice.bid(lot, START, "a1")["ok"] is True
        assert event() == {"seq": 2, "kind": "bid", "price": START, "bidder": "0001", "ends_at": None}
        ack = auctioneer.command(lot, "floor_bid", "c2", amount=START + INC, bidder="0002")
        assert ack == {"type": "ack", "req": "c2", "ok": True, "lot": lot, "seq": 3, "price": START + INC}
        assert event() == {"seq": 3, "kind": "bid", "price": START + INC, "bidder": "0002", "ends_at": None,
                           "floor": True}  # fmt: skip
        assert auctioneer.command(lot, "fair_warning", "c3")["seq"] == 4
        assert event() == {"seq": 4, "kind": "fair_warning"}
        assert auctioneer.command(lot, "pause", "c4")["seq"] == 5
        assert event() == {"seq": 5, "kind": "paused"}
        assert auctioneer.command(lot, "resume", "c5")["seq"] == 6
        assert event() == {"seq": 6, "kind": "resumed", "ends_at": None}
        assert auctioneer.command(lot, "hammer", "c6") == {"type": "ack", "req": "c6", "ok": True, "lot": lot,
                                                           "seq": 7, "price": START + INC}  # fmt: skip
        assert event() == {"seq": 7, "kind": "closed", "outcome": "sold", "price": START + INC, "winner": "0002"}
        assert refused(auctioneer.command(lot, "hammer", "c7")) == "closed"
        watcher.quiet()
        watcher.subscribe(lot)
        closed = watcher.recv()
        assert (closed["state"], closed["outcome"], closed["winner"], closed["price"]) == ("closed", "sold", "0002",
                                                                                           START + INC)  # fmt: skip


def test_timed_lot_commands_extend_and_withdraw_carry_their_fields(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    with socket(client, scene.auctioneer_token) as auctioneer, socket(client) as watcher:
        watcher.subscribe(lot)
        ends_at = watcher.recv()["ends_at"]
        assert auctioneer.command(lot, "extend", "e1", seconds=60)["ok"] is True
        extended = watcher.recv()
        assert {k: extended[k] for k in ("kind", "seq", "seconds", "ends_at")} == {
            "kind": "extended", "seq": 2, "seconds": 60, "ends_at": ends_at + 60_000}
        assert auctioneer.command(lot, "withdraw", "w1", reason="  权属争议  ")["ok"] is True
        withdrawn = watcher.recv()
        assert (withdrawn["kind"], withdrawn["reason"]) == ("withdrawn", "权属争议")
        assert set(withdrawn) == {"type", "lot", "seq", "kind", "ts", "reason"}
        watcher.subscribe(lot)
        snapshot = watcher.recv()
        assert (snapshot["state"], snapshot["reason"]) == ("withdrawn", "权属争议")
        assert refused(auctioneer.command(lot, "extend", "e2", seconds=60)) == "withdrawn"


def test_an_unsold_hammer_closes_without_price_or_winner(scene: Scene) -> None:
    lot = scene.make_lot(mode=Mode.LIVE)
    with socket(scene.client, scene.auctioneer_token) as auctioneer, socket(scene.client) as watcher:
        assert auctioneer.command(lot, "open", "o")["ok"] is True
        watcher.subscribe(lot)
        assert watcher.recv()["state"] == "live"
        assert auctioneer.command(lot, "hammer", "h")["ok"] is True
        closed = watcher.recv()
        assert {k: closed[k] for k in ("kind", "outcome", "price", "winner")} == {
            "kind": "closed", "outcome": "unsold", "price": None, "winner": None}


def test_commands_the_lot_cannot_take_are_refused_with_their_codes(scene: Scene) -> None:
    floor = scene.make_lot(mode=Mode.LIVE)
    scene.register(floor, scene.alice)
    timed = scene.lot
    with socket(scene.client, scene.auctioneer_token) as auctioneer:
        assert refused(auctioneer.command(timed, "open", "x1")) == "bad_state"  # timed lots open by their clock
        assert refused(auctioneer.command(timed, "resume", "x2")) == "bad_state"
        assert refused(auctioneer.command(timed, "fair_warning", "x3")) == "bad_state"  # no bid yet
        assert refused(auctioneer.command(timed, "hammer", "x4")) == "bad_state"  # before its end
        assert refused(auctioneer.command(timed, "floor_bid", "x5", amount=START, bidder="0001")) == "bad_state"
        assert refused(auctioneer.command(timed, "extend", "x6")) == "bad_request"  # no seconds
        assert refused(auctioneer.command(timed, "extend", "x7", seconds=0)) == "bad_request"
        assert refused(auctioneer.command(timed, "withdraw", "x8")) == "bad_request"  # no reason
        assert refused(auctioneer.command(timed, "withdraw", "x9", reason="   ")) == "bad_request"
        assert refused(auctioneer.command(floor, "extend", "y1", seconds=60)) == "bad_state"
        assert refused(auctioneer.command(floor, "pause", "y2")) == "bad_state"  # not open yet
        assert auctioneer.command(floor, "open", "y3")["ok"] is True
        assert refused(auctioneer.command(floor, "open", "y4")) == "bad_state"
        assert refused(auctioneer.command(floor, "floor_bid", "y5", amount=START)) == "bad_request"  # no bidder
        assert refused(auctioneer.command(floor, "floor_bid", "y6", amount=START, bidder="0099")) == "not_registered"
        assert refused(auctioneer.command(floor + 100, "pause", "y7")) == "unknown_lot"
    assert runtime(scene.client).views[timed].seq == 1


# ---------------------------------------------------------------------- subscribing


def test_subscribe_without_since_sends_the_snapshot_the_http_api_serves(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    scene.bids(lot, 25)
    with socket(client) as watcher:
        watcher.subscribe(lot)
        snapshot = watcher.recv()
    served = client.get(f"/api/lots/{lot}").json()
    assert snapshot["type"] == served["type"] == "snapshot"
    assert abs(snapshot.pop("now") - served.pop("now")) < 60_000
    assert snapshot == served
    assert (snapshot["lot"], snapshot["seq"], snapshot["state"], snapshot["mode"]) == (lot, 26, "live", "timed")
    assert (snapshot["price"], snapshot["leader"], snapshot["bid_count"]) == (START + 24 * INC, "0001", 25)
    bids = snapshot["bids"]
    assert [b["seq"] for b in bids] == list(range(7, 27)), "the last 20 bids, oldest first"
    assert set(bids[0]) == {"seq", "amount", "bidder", "ts"}
    assert {"start_price", "increment", "ends_at", "warned", "bidding_start", "window", "extension",
            "title"} <= set(snapshot)  # fmt: skip
    assert "outcome" not in snapshot and "reason" not in snapshot


def test_subscribe_to_an_unknown_lot_is_an_unknown_lot_error(scene: Scene) -> None:
    with socket(scene.client) as watcher:
        watcher.subscribe(scene.lot + 100)
        error = watcher.recv()
        assert (error["type"], error["code"]) == ("error", "unknown_lot")
        watcher.subscribe(scene.lot)
        assert watcher.recv()["type"] == "snapshot"


def test_reconnecting_with_since_gives_exactly_the_missed_events_then_live_ones(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    reads = count_store_reads(client)
    with socket(client, scene.alice_token) as alice:
        with socket(client) as watcher:
            watcher.subscribe(lot)
            seen = watcher.recv()["seq"]
            for i in range(6):
                assert alice.bid(lot, START + i * INC, f"a{i}")["ok"] is True
            for _ in range(2):
                seen = watcher.recv()["seq"]
        # gone, with four events unread; four more happen while it is away
        for i in range(6, 10):
            assert alice.bid(lot, START + i * INC, f"a{i}")["ok"] is True
        with socket(client) as again:
            again.subscribe(lot, since=seen)
            missed = [again.recv() for _ in range(8)]
            assert [e["seq"] for e in missed] == list(range(seen + 1, seen + 9))
            assert alice.bid(lot, START + 10 * INC, "a10")["ok"] is True
            live_one = again.recv()
            assert live_one["seq"] == seen + 9
            again.quiet()
    assert reads == [], "the ring held them: the store was not read"
    assert missed + [live_one] == events_of(client, lot, seen), "the same frames as the HTTP API's"


def test_a_resume_further_back_than_the_ring_is_read_from_the_store(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    reads = count_store_reads(client)
    with socket(client) as keeper:
        keeper.subscribe(lot)  # the lot's ring starts filling
        since = keeper.recv()["seq"]
        placed = scene.bids(lot, 300)
        with socket(client, scene.alice_token) as alice, socket(client) as resumed:
            resumed.subscribe(lot, since=since)
            got = [resumed.recv()["seq"] for _ in range(300)]
            assert got == placed
            assert alice.bid(lot, START + 300 * INC, "next")["ok"] is True
            assert resumed.recv()["seq"] == placed[-1] + 1
            resumed.quiet()
    assert reads == [(lot, since)]


def test_subscribe_since_the_last_event_sends_nothing_until_the_next(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    placed = scene.bids(lot, 3)
    with socket(client) as watcher, socket(client, scene.bob_token) as bob:
        watcher.subscribe(lot, since=placed[-1])
        watcher.quiet()
        assert bob.bid(lot, START + 3 * INC, "b")["ok"] is True
        assert watcher.recv()["seq"] == placed[-1] + 1


def test_subscribe_since_beyond_the_last_event_is_bad_request(scene: Scene) -> None:
    with socket(scene.client) as watcher:
        watcher.subscribe(scene.lot, since=2)
        error = watcher.recv()
        assert (error["type"], error["code"]) == ("error", "bad_request")
        watcher.subscribe(scene.lot, since=1)
        watcher.quiet()


def test_a_resume_missing_more_than_the_queue_holds_is_too_far_behind(tmp_path: Path) -> None:
    with opened(tmp_path, ws_queue=8) as client:
        scene = Scene(client)
        placed = scene.bids(scene.lot, 10)
        with socket(client, cookie="hall_lang=en") as watcher:  # the message in the socket's language
            watcher.subscribe(scene.lot, since=1)
            error = watcher.recv()
            assert (error["type"], error["code"]) == ("error", "too_far_behind")
            assert error["message"].endswith("are resumed; subscribe without since for a snapshot")
            watcher.subscribe(scene.lot, since=placed[-1] - 8)
            assert [watcher.recv()["seq"] for _ in range(8)] == placed[2:]
            watcher.quiet()


def test_unsubscribe_stops_the_lots_events(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    other = scene.make_lot()
    scene.register(other, scene.alice)
    with socket(client) as watcher, socket(client, scene.alice_token) as alice:
        for each in (lot, other):
            watcher.subscribe(each)
            assert watcher.recv()["type"] == "snapshot"
        assert alice.bid(lot, START, "a1")["ok"] is True
        assert watcher.recv()["seq"] == 2
        watcher.send(type="unsubscribe", lot=lot)
        watcher.send(type="unsubscribe", lot=lot + 100)  # never watched: ignored, no answer
        watcher.quiet()
        assert alice.bid(lot, START + INC, "a2")["ok"] is True
        assert alice.bid(other, START, "a3")["ok"] is True
        frame = watcher.recv()
        assert (frame["lot"], frame["seq"]) == (other, 2), "the other lot still comes"
        watcher.quiet()


# ---------------------------------------------------------------------- limits


def _padded(frame: str, size: int) -> str:
    return frame[:-1] + " " * (size - len(frame.encode())) + "}"


def test_a_frame_of_exactly_64_kib_is_read(scene: Scene) -> None:
    frame = _padded(json.dumps({"type": "subscribe", "lot": scene.lot}), MAX_FRAME)
    assert len(frame.encode()) == MAX_FRAME
    with socket(scene.client) as watcher:
        watcher.raw(frame)
        assert watcher.recv()["type"] == "snapshot"


@pytest.mark.parametrize("form", ["text", "binary", "multibyte"])
def test_a_frame_over_64_kib_closes_the_socket_with_1009(scene: Scene, form: str) -> None:
    ascii_frame = _padded(json.dumps({"type": "subscribe", "lot": scene.lot}), MAX_FRAME + 1)
    # Fewer characters than the limit, more bytes: the limit is on bytes.
    wide = json.dumps({"type": "bid", "lot": scene.lot, "amount": START, "req": "拍" * (MAX_FRAME // 3)},
                      ensure_ascii=False)  # fmt: skip
    assert len(wide) < MAX_FRAME < len(wide.encode())
    with socket(scene.client) as watcher:
        match form:
            case "text":
                watcher.raw(ascii_frame)
            case "binary":
                watcher.ws.send_bytes(ascii_frame.encode())
            case "multibyte":
                watcher.raw(wide)
        with pytest.raises(WebSocketDisconnect) as closed:
            watcher.recv()
        assert closed.value.code == 1009


# ---------------------------------------------------------------------- identity and Origin


def _cookie(client: TestClient, uid: int) -> None:
    session, _ = call(client, people(client).new_session, uid)
    client.cookies.clear()
    client.cookies.set("hall_session", client.app.state.keys.sign(session))  # type: ignore[attr-defined]


def test_a_cookie_socket_from_a_foreign_origin_is_refused_before_accept(scene: Scene) -> None:
    client = scene.client
    _cookie(client, scene.alice)
    for origin in ("http://evil.example", None):
        headers = {} if origin is None else {"origin": origin}
        with pytest.raises(WebSocketDisconnect) as refused_socket, client.websocket_connect("/ws", headers=headers):
            pass
        assert refused_socket.value.code == 1008
    with socket(client, origin="http://testserver") as alice:
        assert alice.welcome["user"]["id"] == scene.alice
        assert alice.bid(scene.lot, START, "cookie")["ok"] is True


def test_a_bearer_socket_from_a_foreign_origin_is_accepted(scene: Scene) -> None:
    with socket(scene.client, scene.alice_token, origin="http://evil.example") as alice:
        assert alice.welcome["user"]["id"] == scene.alice
        assert alice.bid(scene.lot, START, "bearer")["ok"] is True


def test_a_token_revoked_while_the_socket_is_open_stops_bidding_and_commanding(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RECHECK_S", 0)
    client = scene.client
    token_id, token = call(client, people(client).new_token, scene.alice)
    auctioneer_id, auctioneer_token = call(client, people(client).new_token, scene.auctioneer)
    with socket(client, token) as alice, socket(client, auctioneer_token) as auctioneer:
        assert alice.bid(scene.lot, START, "before")["ok"] is True
        assert auctioneer.command(scene.lot, "pause", "p1")["ok"] is True
        assert call(client, people(client).revoke_token, scene.alice, token_id)
        assert call(client, people(client).revoke_token, scene.auctioneer, auctioneer_id)
        assert refused(alice.bid(scene.lot, START + INC, "after")) == "unauthenticated"
        assert refused(auctioneer.command(scene.lot, "resume", "p2")) == "unauthenticated"
        alice.subscribe(scene.lot)
        assert alice.recv()["type"] == "snapshot", "it may still watch"


def test_an_identity_is_looked_up_again_only_after_the_recheck_interval(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RECHECK_S", 3600)
    client = scene.client
    token_id, token = call(client, people(client).new_token, scene.alice)
    with socket(client, token) as alice:
        assert call(client, people(client).revoke_token, scene.alice, token_id)
        assert alice.bid(scene.lot, START, "cached")["ok"] is True, "within the interval, no lookup per bid"


# ---------------------------------------------------------------------- durability and fan-out


def test_no_event_or_ack_is_sent_before_its_commit_lands(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    client, lot = scene.client, scene.lot
    store = client.app.state.store  # type: ignore[attr-defined]
    # Commits run on the store's writer thread: held there, with threading events.
    gate, writing = threading.Event(), threading.Event()
    real_commit = store._commit

    def held_commit(*args: Any) -> None:
        writing.set()
        gate.wait()
        real_commit(*args)

    monkeypatch.setattr(store, "_commit", held_commit)
    with socket(client, scene.alice_token) as alice, socket(client) as watcher:
        watcher.subscribe(lot)
        assert watcher.recv()["price"] is None
        alice.send(type="bid", lot=lot, amount=START, req="held")
        assert writing.wait(5)
        watcher.quiet()
        alice.quiet()
        assert client.get(f"/api/lots/{lot}").json()["price"] is None, "the API shows only what is durable"
        with socket(client) as late:
            late.subscribe(lot)
            assert late.recv()["price"] is None
        gate.set()
        event = watcher.recv()
        assert (event["kind"], event["seq"], event["price"]) == ("bid", 2, START)
        assert alice.recv() == {"type": "ack", "req": "held", "ok": True, "lot": lot, "seq": 2, "price": START}


def test_a_commit_that_fails_is_answered_unavailable_and_never_shown(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, lot = scene.client, scene.lot
    store = client.app.state.store  # type: ignore[attr-defined]

    def failing(*args: Any) -> None:  # on the writer thread
        raise StoreError("disk full")

    with socket(client, scene.alice_token) as alice, socket(client) as watcher:
        watcher.subscribe(lot)
        assert watcher.recv()["seq"] == 1
        monkeypatch.setattr(store, "_commit", failing)
        assert refused(alice.bid(lot, START, "lost")) == "unavailable"
        watcher.quiet()
        assert client.get(f"/api/lots/{lot}").json()["price"] is None


def test_a_resume_whose_store_read_fails_is_answered_unavailable(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, lot = scene.client, scene.lot
    scene.bids(lot, 2)
    store = client.app.state.store  # type: ignore[attr-defined]

    async def failing(*args: Any) -> None:
        raise StoreError("disk gone")

    monkeypatch.setattr(store, "events_since", failing)
    with socket(client) as watcher:
        watcher.subscribe(lot, since=1)  # nobody watched the lot: no ring, so the store is read
        error = watcher.recv()
        assert (error["type"], error["code"]) == ("error", "unavailable")
        watcher.subscribe(lot)
        assert watcher.recv()["type"] == "snapshot", "the socket goes on"


def test_a_bidder_watching_its_lot_sees_the_event_before_its_ack(scene: Scene) -> None:
    with socket(scene.client, scene.alice_token) as alice:
        alice.subscribe(scene.lot)
        assert alice.recv()["type"] == "snapshot"
        alice.send(type="bid", lot=scene.lot, amount=START, req="mine")
        assert [alice.recv()["type"], alice.recv()["type"]] == ["event", "ack"]


def test_a_watcher_that_stops_reading_is_dropped_while_the_others_keep_receiving(tmp_path: Path) -> None:
    with opened(tmp_path, ws_queue=4) as client:
        scene = Scene(client)
        app: Stalls = client.app  # type: ignore[assignment]
        lot = scene.lot
        dropped_before = metric(client, "hall_ws_dropped_slow_total")
        with socket(client) as normal, stalled_socket(client) as slow, socket(client, scene.alice_token) as alice:
            for watcher in (normal, slow):
                watcher.subscribe(lot)
                assert watcher.recv()["type"] == "snapshot"
            client.portal.call(app.flowing.clear)  # type: ignore[union-attr]
            for i in range(10):  # the bidder is answered and the normal watcher served throughout
                assert alice.bid(lot, START + i * INC, f"a{i}")["ok"] is True
                assert normal.recv()["seq"] == i + 2
            # Closed while it still reads nothing: its sender, stuck in a send, must not hold it open.
            with pytest.raises(WebSocketDisconnect) as closed:
                slow.recv()
            assert (closed.value.code, closed.value.reason) == (1013, "too_slow")
            assert metric(client, "hall_ws_dropped_slow_total") == dropped_before + 1
            assert call(client, _watching, client) == 1, "only the normal watcher still watches"
            client.portal.call(app.flowing.set)  # type: ignore[union-attr]
            assert alice.bid(lot, START + 10 * INC, "after")["ok"] is True
            assert normal.recv()["seq"] == 12
            normal.quiet()
        assert call(client, _watching, client) == 0


async def _watching(client: TestClient) -> int:
    count: int = client.app.state.hub.watching()  # type: ignore[attr-defined]
    return count


# ---------------------------------------------------------------------- HTTP JSON


def test_api_lots_lists_summaries_filtered_by_state_and_session(scene: Scene) -> None:
    client = scene.client
    upcoming = scene.make_lot(opens_in=HOUR, session="生物医药专场", title="一种疫苗")
    energy = scene.make_lot(opens_in=-2 * 60_000, session="新能源专场", title="一种电池")
    every = client.get("/api/lots").json()
    assert [s["id"] for s in every] == [energy, scene.lot, upcoming], "by bidding start"
    assert set(every[0]) == {"id", "title", "session", "state", "mode", "seq", "start_price", "increment", "price",
                             "leader", "bid_count", "bidding_start", "ends_at"}  # fmt: skip
    assert (every[0]["title"], every[0]["session"], every[0]["state"]) == ("一种电池", "新能源专场", "live")

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/lots?{query}")
        assert response.status_code == 200
        return [s["id"] for s in response.json()]

    assert ids("state=live") == [energy, scene.lot]
    assert ids("state=publicity") == [upcoming]
    assert ids("state=closed") == []
    assert ids("session=新能源专场") == [energy]
    assert ids("state=publicity&session=生物医药专场") == [upcoming]
    assert ids("state=live&session=生物医药专场") == []
    bad = client.get("/api/lots?state=open")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_api_lot_of_an_unknown_lot_is_404_unknown_lot(scene: Scene) -> None:
    for path in (f"/api/lots/{scene.lot + 100}", f"/api/lots/{scene.lot + 100}/events"):
        response = scene.client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_lot"


def test_api_lot_events_pages_through_the_events_after_since(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    scene.bids(lot, 6)  # seqs 1 (opened) to 7

    def page(query: str) -> tuple[list[int], int | None]:
        response = client.get(f"/api/lots/{lot}/events?{query}")
        assert response.status_code == 200
        body = response.json()
        assert body["lot"] == lot
        return [e["seq"] for e in body["events"]], body["next"]

    assert page("") == (list(range(1, 8)), None)
    assert page("since=2&limit=3") == ([3, 4, 5], 5)
    assert page("since=5&limit=3") == ([6, 7], None)
    assert page("since=4&limit=3") == ([5, 6, 7], None)
    assert page("since=7") == ([], None)
    assert page("since=99") == ([], None)
    opened_event = client.get(f"/api/lots/{lot}/events?limit=1").json()["events"][0]
    assert opened_event["type"] == "event" and opened_event["kind"] == "opened" and opened_event["ends_at"]


@pytest.mark.parametrize("query", ["since=-1", "since=x", "limit=0", "limit=5001", "limit=x", "since=1.5"])
def test_api_lot_events_with_bad_parameters_is_400(scene: Scene, query: str) -> None:
    response = scene.client.get(f"/api/lots/{scene.lot}/events?{query}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


# ---------------------------------------------------------------------- /metrics


def metric(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_metrics_count_bids_by_result_ack_latency_commits_and_open_sockets(scene: Scene) -> None:
    client, lot = scene.client, scene.lot
    names = {
        "accepted": ("hall_bids_total", {"result": "accepted"}),
        "too_low": ("hall_bids_total", {"result": "too_low"}),
        "unauthenticated": ("hall_bids_total", {"result": "unauthenticated"}),
        "forbidden_bid": ("hall_bids_total", {"result": "forbidden"}),
        "forbidden_command": ("hall_commands_total", {"action": "pause", "result": "forbidden"}),
        "pause": ("hall_commands_total", {"action": "pause", "result": "accepted"}),
        "acks": ("hall_ack_seconds_count", {}),
        "batches": ("hall_commit_batch_events_count", {}),
        "batched": ("hall_commit_batch_events_sum", {}),
        "sockets": ("hall_ws_open", {"kind": "json"}),
        "bad": ("hall_ws_bad_frames_total", {}),
        "queued": ("hall_ws_frames_queued_total", {}),
    }

    def read() -> dict[str, float]:
        return {key: metric(client, name, **labels) for key, (name, labels) in names.items()}

    before = read()
    with socket(client, scene.alice_token) as alice, socket(client) as anonymous, \
            socket(client, scene.auctioneer_token) as auctioneer:  # fmt: skip
        anonymous.subscribe(lot)
        assert anonymous.recv()["type"] == "snapshot"
        for i in range(3):
            assert alice.bid(lot, START + i * INC, f"a{i}")["ok"] is True
            assert anonymous.recv()["type"] == "event"
        assert refused(alice.bid(lot, START, "low")) == "too_low"
        assert refused(anonymous.bid(lot, START * 2, "anon")) == "unauthenticated"
        assert refused(alice.command(lot, "pause", "nope")) == "forbidden"
        assert auctioneer.command(lot, "pause", "yes")["ok"] is True
        assert anonymous.recv()["kind"] == "paused"
        anonymous.raw("nonsense")
        assert anonymous.recv()["code"] == "bad_request"
        during = read()
    after = read()

    delta = {key: during[key] - before[key] for key in names}
    assert delta["accepted"] == 3 and delta["too_low"] == 1 and delta["unauthenticated"] == 1
    assert delta["forbidden_command"] == 1 and delta["pause"] == 1
    assert delta["forbidden_bid"] == 0, "a refused command is not counted as a bid"
    assert delta["acks"] == 4, "every judged bid's ack latency"
    assert delta["batches"] >= 4 and delta["batched"] >= 4, "three bids and the pause, committed"
    assert delta["sockets"] == 3
    assert delta["bad"] == 1
    assert delta["queued"] == 4, "three bids and the pause, to the one watcher"
    assert after["sockets"] == before["sockets"], "closed sockets are no longer counted"


def test_page_sockets_naming_one_lot_many_times_render_it_once_each(scene: Scene) -> None:
    hub = scene.client.app.state.hub  # type: ignore[attr-defined]
    rendered: list[int] = []
    real = hub.render

    def counted(view: Any, events: Any, kind: Any, lang: str) -> str:
        rendered.append(view.id)
        result: str = real(view, events, kind, lang)
        return result

    hub.render = counted
    other = scene.make_lot()
    named = ",".join([str(scene.lot)] * (live.PAGE_LOTS - 1) + [str(other)])
    with ExitStack() as stack:
        pages = [stack.enter_context(scene.client.websocket_connect(f"/ws/page?lots={named}&kind=summary"))
                 for _ in range(10)]  # fmt: skip
        for page in pages:
            assert page.receive_text().startswith('<meta id="hall-clock"')
            assert f'id="lot-{scene.lot}-' in page.receive_text()
            assert f'id="lot-{other}-' in page.receive_text()
        assert sorted(rendered) == sorted([scene.lot, other] * 10), "each socket renders each lot once"
        with socket(scene.client, scene.alice_token) as alice:
            assert alice.bid(scene.lot, START, "page-1")["ok"] is True
        for page in pages:  # and the one live fragment of the bid, rendered once for all of them
            assert f'id="lot-{scene.lot}-' in page.receive_text()
    assert rendered.count(scene.lot) == 11


def test_a_page_socket_naming_more_than_page_lots_is_refused_1008(scene: Scene) -> None:
    named = ",".join([str(scene.lot)] * (live.PAGE_LOTS + 1))
    with pytest.raises(WebSocketDisconnect) as refused, scene.client.websocket_connect(f"/ws/page?lots={named}"):
        pass
    assert refused.value.code == 1008


def test_sockets_beyond_the_connection_cap_are_refused_1013_before_accept(tmp_path: Path) -> None:
    with opened(tmp_path, max_connections=2) as client:
        with socket(client), client.websocket_connect("/ws/page?kind=summary") as page:
            assert page.receive_text().startswith('<meta id="hall-clock"')
            for path in ("/ws", "/ws/page?kind=summary"):
                with pytest.raises(WebSocketDisconnect) as full, client.websocket_connect(path):
                    pass
                assert (full.value.code, full.value.reason) == (1013, "server full")
        with socket(client) as again:  # closing one makes room
            assert again.welcome["type"] == "welcome"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_server_frames_carry_each_length_in_the_form_rfc_6455_gives_it(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = framed(payload)
    assert frame[0] == 0x81, "FIN and the text opcode"
    assert frame[1] & 0x80 == 0, "a server never masks"
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(frame) == header + size and frame[header:] == payload
    if size >= 126:
        assert frame[1] == (126 if size < 65536 else 127)
        assert int.from_bytes(frame[2:header], "big") == size
    assert unframed(frame + framed("尾")) == [payload, "尾".encode()]


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 65536])
def test_client_frames_set_the_mask_bit_and_xor_the_payload_with_the_key(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    mask = b"\x12\x34\x56\x78"
    frame = client_framed(payload, 0x1, mask)
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert frame[0] == 0x81 and frame[1] & 0x80, "FIN, text, masked"
    assert frame[header : header + 4] == mask
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(frame[header + 4 :])) == payload
    assert client_framed(payload)[header + 4 :] == payload, "an all-zero key leaves the payload as it is"
