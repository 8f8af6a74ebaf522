"""SIGKILL a real server under bidding load over WebSockets, ten times on the same database:
after each restart every acknowledged bid is in /api/lots/{id}/events with the values it was
acknowledged with, the sequence has no gap, and new bids continue right after it.

tests/test_crash.py kills a process bidding through the Runtime; this one kills ``hall serve``
itself (uvicorn, the hub, the socket's ack path) while bidders pipeline bids over /ws, and
judges it only by what a client can see: the acks it was sent and the HTTP API. On both
stores: SQLite alone, and the lots in Redis (``HALL_STORE``, which ``hall seed-demo`` and
``hall serve`` read).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from liveserver import Frame, Server, seed, start
from rediskit import redis_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROUNDS = 10
LOTS = 3
BIDDERS = 4
WINDOW = 8
"""Bids each socket keeps in flight."""
MIN_ACKS = 40
"""Acks a round must have seen before the kill may come..."""
MAX_EXTRA_DELAY = 0.3
"""...which then comes after a random delay of up to this many seconds."""
ENV = {"HALL_BID_RATE": "100000", "HALL_BID_BURST": "100000", "HALL_SNAPSHOT_EVERY": "50"}
"""No rate limit in the way of the load; snapshots every 50 events, so some are being written
when the kill comes and recovery replays from one."""
TIMEOUT = 30.0

_reqs = itertools.count(1)


@dataclass(frozen=True)
class Acked:
    """A bid the server acknowledged: what it must find in the events after any crash."""

    lot: int
    seq: int
    amount: int
    bidder: int  # the account's index in seed-demo's list


class Bidder:
    """One account's socket: the bids it sent, the acks it was sent, the prices it has seen."""

    def __init__(self, index: int, conn: ClientConnection, increments: dict[int, int], seen: dict[int, int]) -> None:
        self.index = index
        self.conn = conn
        self.increments = increments
        self.seen = seen
        """The highest price known on each lot (the start price less an increment before any)."""
        self.sent: dict[str, tuple[int, int]] = {}
        self.acked: list[Acked] = []
        self.last_ack = 0.0
        self.slots = asyncio.Semaphore(WINDOW)
        self.closed = False

    async def send_bid(self, lot: int) -> str:
        """Bid the next valid amount above everything seen or sent on the lot."""
        amount = self.seen[lot] + self.increments[lot]
        self.seen[lot] = amount
        req = f"c{next(_reqs)}"
        self.sent[req] = (lot, amount)
        await self.conn.send(json.dumps({"type": "bid", "lot": lot, "amount": amount, "req": req}))
        return req

    def take(self, frame: Frame) -> None:
        """Learn the prices a frame shows; keep an accepted ack."""
        kind = frame.get("type")
        if kind in ("snapshot", "event") and frame.get("price") is not None:
            self.seen[frame["lot"]] = max(self.seen[frame["lot"]], frame["price"])
        elif kind == "ack":
            lot, amount = self.sent[frame["req"]]
            if frame["ok"]:
                assert (frame["lot"], frame["price"]) == (lot, amount), frame
                self.acked.append(Acked(lot, frame["seq"], amount, self.index))
                self.last_ack = time.monotonic()
            self.slots.release()

    async def one(self, lot: int) -> Frame:
        """Bid once on ``lot`` and return its ack."""
        await self.slots.acquire()
        req = await self.send_bid(lot)
        while True:
            frame: Frame = json.loads(await asyncio.wait_for(self.conn.recv(), 10.0))
            self.take(frame)
            if frame.get("type") == "ack" and frame["req"] == req:
                return frame

    async def load(self, lots: list[int]) -> None:
        """Bid on the lots in turn, WINDOW bids in flight, until the connection is gone."""

        async def receive() -> None:
            try:
                async for text in self.conn:
                    self.take(json.loads(text))
            finally:
                self.closed = True
                for _ in range(WINDOW):
                    self.slots.release()  # wake the sender

        receiver = asyncio.create_task(receive())
        try:
            for lot in itertools.cycle(lots):
                await self.slots.acquire()
                if self.closed:
                    break
                await self.send_bid(lot)
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(receiver, 10.0)


async def open_bidders(server: Server, tokens: list[str], lots: list[int]) -> list[Bidder]:
    snapshots = {lot: server.snapshot(lot) for lot in lots}
    increments = {lot: snap["increment"] for lot, snap in snapshots.items()}
    bidders = []
    for index, token in enumerate(tokens):
        conn = await connect(f"{server.ws_url}?token={token}", proxy=None, open_timeout=10, close_timeout=1,
                             ping_interval=None, compression=None)  # fmt: skip
        seen = {lot: snap["start_price"] - snap["increment"] if snap["price"] is None else snap["price"]
                for lot, snap in snapshots.items()}  # fmt: skip
        bidders.append(Bidder(index, conn, increments, seen))
        assert json.loads(await asyncio.wait_for(conn.recv(), 10.0))["type"] == "welcome"
    return bidders


def check(server: Server, lots: list[int], acked: list[Acked], numbers: dict[tuple[int, int], str],
          offered: dict[int, set[tuple[int, int]]], where: str) -> dict[int, int]:  # fmt: skip
    """Hold what the (re)started server serves against every ack ever received, and every bid
    it holds against what was sent; return each lot's last seq."""
    owners = {(lot, number): index for (index, lot), number in numbers.items()}
    ends = {}
    for lot in lots:
        events = server.events(lot)
        seqs = [event["seq"] for event in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"{where}: lot {lot} has a gap: {seqs}"
        assert server.snapshot(lot)["seq"] == len(seqs), where
        for bid in (a for a in acked if a.lot == lot):
            assert bid.seq <= len(events), f"{where}: {bid} acked, but lot {lot} ends at {len(events)}"
            event = events[bid.seq - 1]
            found = (event["kind"], event.get("price"), event.get("bidder"))
            assert found == ("bid", bid.amount, numbers[bid.bidder, lot]), f"{where}: {bid} is {event}"
        bids = [event for event in events if event["kind"] == "bid"]
        phantom = [e for e in bids if (owners.get((lot, e["bidder"])), e["price"]) not in offered[lot]]
        assert phantom == [], f"{where}: bids nobody sent: {phantom[:5]}"
        prices = [event["price"] for event in bids]
        assert prices == sorted(set(prices)), f"{where}: lot {lot}'s prices do not rise"
        ends[lot] = len(events)
    return ends


async def continue_sequence(server: Server, bidders: list[Bidder], lots: list[int], ends: dict[int, int],
                            numbers: dict[tuple[int, int], str], where: str) -> None:  # fmt: skip
    """Each bidder bids once on each lot, in turn: the acks continue each lot's sequence right
    after what was recovered, and their events give each bidder's number on the lot."""
    for lot in lots:
        for bidder in bidders:
            ack = await bidder.one(lot)
            ends[lot] += 1
            assert (ack["ok"], ack.get("seq")) == (True, ends[lot]), f"{where}: {ack}"
            for other in bidders:
                other.seen[lot] = max(other.seen[lot], ack["price"])
        events = server.events(lot, ends[lot] - len(bidders))
        for bidder, event in zip(bidders, events, strict=True):
            assert numbers.setdefault((bidder.index, lot), event["bidder"]) == event["bidder"], where


async def load_then_kill(server: Server, bidders: list[Bidder], lots: list[int], rng: random.Random,
                         where: str) -> None:  # fmt: skip
    """Every bidder pipelines bids on every lot; once MIN_ACKS more acks have come, and a
    random delay later, SIGKILL the server; read what the sockets still deliver."""
    for bidder in bidders:
        for lot in lots:
            await bidder.conn.send(json.dumps({"type": "subscribe", "lot": lot}))
    base = sum(len(b.acked) for b in bidders)
    loads = [asyncio.create_task(bidder.load(lots)) for bidder in bidders]
    try:
        deadline = time.monotonic() + TIMEOUT
        while sum(len(b.acked) for b in bidders) - base < MIN_ACKS:
            assert time.monotonic() < deadline, f"{where}: too few acks:\n{server.tail()}"
            assert not any(task.done() for task in loads), f"{where}: a socket ended:\n{server.tail()}"
            await asyncio.sleep(0.005)
        await asyncio.sleep(rng.uniform(0, MAX_EXTRA_DELAY))
        killed_at = time.monotonic()
        server.proc.send_signal(signal.SIGKILL)  # the uvicorn process itself (see the pid check)
        await asyncio.to_thread(server.proc.wait, 10)
        # The acks already on their way when it died count as much as any other.
        await asyncio.wait_for(asyncio.gather(*loads), TIMEOUT)
    finally:
        for task in loads:
            task.cancel()
    assert all(bidder.closed for bidder in bidders), where
    assert killed_at - max(bidder.last_ack for bidder in bidders) < 1.0, f"{where}: acks were not flowing"


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``HALL_STORE`` for the hall's processes: empty (SQLite alone), or a Redis of the test's own."""
    if request.param == "sqlite":
        monkeypatch.setenv("HALL_STORE", "")
        yield ""
        return
    with redis_server(tmp_path / "redis") as server:
        monkeypatch.setenv("HALL_STORE", server.url)
        yield server.url


async def test_every_acked_bid_survives_sigkill_of_the_server_and_the_sequence_continues(
    tmp_path: Path, store: str
) -> None:
    db = tmp_path / "hall.db"
    seeded = seed(db, lots=LOTS, bidders=BIDDERS)
    lots: list[int] = seeded["lots"]
    rng_seed = random.randrange(2**32)
    rng = random.Random(rng_seed)
    acked: list[Acked] = []
    numbers: dict[tuple[int, int], str] = {}
    offered: dict[int, set[tuple[int, int]]] = {lot: set() for lot in lots}
    tokens: list[str] = []
    server: Server | None = None
    try:
        for run in range(ROUNDS + 1):
            where = f"round {run} (seed {rng_seed})"
            server = start(db, tmp_path / f"server-{run}.log", ENV)  # on this thread: see liveserver.start
            assert f"Started server process [{server.proc.pid}]" in server.log.read_text(), server.tail()
            if not tokens:  # tokens are stored: they outlive every restart
                tokens = [server.login(b["phone"], b["password"]) for b in seeded["bidders"]]
            ends = check(server, lots, acked, numbers, offered, where)
            bidders = await open_bidders(server, tokens, lots)
            try:
                await continue_sequence(server, bidders, lots, ends, numbers, where)
                if run < ROUNDS:
                    await load_then_kill(server, bidders, lots, rng, where)
            finally:
                for bidder in bidders:
                    acked.extend(bidder.acked)
                    for lot, amount in bidder.sent.values():
                        offered[lot].add((bidder.index, amount))
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(bidder.conn.close(), 2)
        assert server is not None
        check(server, lots, acked, numbers, offered, "after the last round")
        server.stop()
    finally:
        if server is not None:
            server.kill()
    assert len(acked) >= ROUNDS * (MIN_ACKS + LOTS * BIDDERS)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
