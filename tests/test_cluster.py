"""Three ``hall serve`` processes on one Redis behave as one hall (issue 15, hall/cluster.py).

Each test seeds a database on a Redis of its own (tests/rediskit.py), starts three servers on
it, and judges them as a client would: acks, the events each socket receives, and
``/api/lots/{id}/events`` of every process. Leases are short (``HALL_LEASE_MS``) so that a
takeover comes within a second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from hallkit import seed_demo
from liveserver import Frame, Peer, Server, free_port, peer, start
from rediskit import RedisServer, redis_server

from hall.cluster import preferred
from hall.store.redis import key

BEIJING = dt.timezone(dt.timedelta(hours=8))

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.redis]

PROCESSES = 3
LEASE_MS = 1000
ENV = {"HALL_BID_RATE": "100000", "HALL_BID_BURST": "100000", "HALL_LEASE_MS": str(LEASE_MS)}
TIMEOUT = 30.0
_reqs = itertools.count(1)


@dataclass
class Hall:
    redis: RedisServer
    servers: list[Server]
    lots: list[int]
    bidders: list[dict[str, Any]]
    tokens: dict[int, str] = field(default_factory=dict)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url)

    def token(self, bidder: int) -> str:
        if bidder not in self.tokens:
            account = self.bidders[bidder]
            self.tokens[bidder] = self.servers[0].login(account["phone"], account["password"])
        return self.tokens[bidder]

    def holder(self, lot: int) -> str | None:
        """The name of the process holding the lot's lease, None if free."""
        value = self.client().get(key(lot, "lease"))
        return None if value is None else value.decode().split(":", 1)[1]

    def owner(self, lot: int) -> Server | None:
        """The server holding the lot's lease (its name holds the process id), None if free."""
        value = self.client().get(key(lot, "lease"))
        if value is None:
            return None
        pid = int(value.decode().split(":", 1)[1].split("-")[-2])
        return next((s for s in self.servers if s.proc.pid == pid and s.proc.poll() is None), None)

    def wait_owned(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while any(self.owner(lot) is None for lot in self.lots):
            assert time.monotonic() < deadline, "lots left without an owner"
            time.sleep(0.05)


@contextlib.contextmanager
def hall(tmp_path: Path, *, lots: int, bidders: int) -> Iterator[Hall]:
    with redis_server(tmp_path / "redis") as server:
        env = {**ENV, "HALL_STORE": server.url}
        db = tmp_path / "hall.db"
        seeded = seed_demo(db, "--store", server.url, "--live", "--lots", str(lots), "--bidders", str(bidders),
                           "--duration", "3600")  # fmt: skip
        (tmp_path / "seed.json").write_text(json.dumps(seeded))
        servers: list[Server] = []
        try:
            for n in range(PROCESSES):
                servers.append(start(db, tmp_path / f"server-{n}.log", env))
            found = Hall(server, servers, seeded["lots"], seeded["bidders"])
            found.wait_owned()
            yield found
        finally:
            for s in servers:
                s.stop()


class Bidder:
    """One account's socket on one process: bids one at a time, learning prices from events."""

    def __init__(self, index: int, peer: Peer) -> None:
        self.index = index
        self.peer = peer
        self.acked: list[tuple[int, int, int]] = []
        """(lot, seq, amount) of each accepted bid."""

    def price(self, lot: int, start: int, increment: int) -> int:
        prices = [e["price"] for e in self.peer.events.get(lot, []) if e.get("price") is not None]
        return max(prices) + increment if prices else start

    async def bid(self, lot: int, start: int, increment: int, amount: int | None = None) -> Frame:
        """Bid until accepted (another bidder may have outbid the amount meanwhile)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert time.monotonic() < deadline, f"bidder {self.index} got no accepted bid on lot {lot}"
            amount = max(amount or 0, self.price(lot, start, increment))
            req = f"k{next(_reqs)}"
            await self.peer.send({"type": "bid", "lot": lot, "amount": amount, "req": req})
            ack = await self.peer.expect("ack", TIMEOUT, req=req)
            if ack["ok"]:
                self.acked.append((lot, ack["seq"], amount))
                return ack
            assert ack["code"] in ("too_low", "unavailable"), ack
            amount += increment
            await asyncio.sleep(0.01)


def terms(server: Server, lot: int) -> tuple[int, int]:
    snap = server.snapshot(lot)
    return snap["start_price"], snap["increment"]


async def subscribed(p: Peer, lots: list[int]) -> Peer:
    assert (await p.recv())["type"] == "welcome"
    for lot in lots:
        await p.send({"type": "subscribe", "lot": lot, "since": 0})
    return p


def seqs(p: Peer, lot: int) -> list[int]:
    return [e["seq"] for e in p.events.get(lot, [])]


async def drain(p: Peer, lot: int, last: int) -> None:
    """Read the peer's frames until it has seen the lot's event ``last``."""
    while not seqs(p, lot) or seqs(p, lot)[-1] < last:
        await p.recv(TIMEOUT)


def assert_record(server: Server, lot: int, acked: list[tuple[int, int, int]]) -> list[Frame]:
    """The lot's events on ``server``: no gap, and every acked bid in place with its amount."""
    events = server.events(lot)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), f"lot {lot} has a gap"
    for bid_lot, seq, amount in acked:
        if bid_lot == lot:
            assert events[seq - 1]["kind"] == "bid" and events[seq - 1]["price"] == amount, (seq, amount)
    return events


async def test_watchers_on_every_process_see_every_event_once_in_order_and_bids_go_through_every_process(
    tmp_path: Path,
) -> None:
    with hall(tmp_path, lots=8, bidders=3) as h:
        # The servers started one after the other, so the first took every lot; the lots the
        # others are preferred for are handed over to them within a few lease ticks.
        with contextlib.closing(sqlite3.connect(tmp_path / "hall.db")) as db:
            every = [lot for (lot,) in db.execute("SELECT id FROM lots")]
        running = [lot for lot in every if h.servers[0].snapshot(lot)["state"] not in ("closed", "withdrawn")]
        names = sorted(n.decode() for n in h.client().zrange("hall:procs", 0, -1))
        assert len(names) == PROCESSES
        share = {lot: preferred(names, lot) for lot in running}
        assert len(set(share.values())) > 1, "rendezvous hashing gave one process every lot"
        deadline = time.monotonic() + TIMEOUT
        while (held := {lot: h.holder(lot) for lot in running}) != share:
            assert time.monotonic() < deadline, f"lots not shared out as rendezvous hashing says: {held} != {share}"
            await asyncio.sleep(0.1)
        h.lots = h.lots[:2]  # bid on two of them
        owners = {lot: h.owner(lot) for lot in h.lots}
        async with contextlib.AsyncExitStack() as stack:
            watchers = [await subscribed(await stack.enter_async_context(peer(s)), h.lots) for s in h.servers]
            bidders = [Bidder(i, await subscribed(await stack.enter_async_context(peer(s, h.token(i))), h.lots))
                       for i, s in enumerate(h.servers)]  # fmt: skip
            lots = {lot: terms(h.servers[0], lot) for lot in h.lots}
            async def bid_in_turn(bidder: Bidder) -> None:
                for _ in range(4):
                    for lot in h.lots:
                        await bidder.bid(lot, *lots[lot])

            await asyncio.gather(*(bid_in_turn(b) for b in bidders))
            acked = [a for b in bidders for a in b.acked]
            assert len(acked) == 4 * len(bidders) * len(h.lots)
            # Every bidder bid on both lots, so the processes owning neither forwarded theirs,
            # and the owners' answers came back accepted.
            outsiders = [s for s in h.servers if all(owners[lot] is not s for lot in h.lots)]
            assert outsiders, "one lot per process at most: some process owns neither"
            for s in outsiders:
                assert s.metric('hall_forwarded_total{result="accepted"}') >= len(h.lots)
            for lot in h.lots:
                last = max(seq for a_lot, seq, _ in acked if a_lot == lot)
                for w in watchers:
                    await drain(w, lot, last)
                    assert seqs(w, lot) == list(range(1, len(seqs(w, lot)) + 1)), f"lot {lot}: gap or repeat"
                first = watchers[0].events[lot]
                assert all(w.events[lot] == first for w in watchers), "processes told the lot differently"
                for s in h.servers:
                    assert assert_record(s, lot, acked)[: len(first)] == first


async def test_sigkill_of_a_busy_lots_owner_loses_no_acknowledged_bid_and_another_process_takes_over(
    tmp_path: Path,
) -> None:
    with hall(tmp_path, lots=1, bidders=3) as h:
        (lot,) = h.lots
        owner = h.owner(lot)
        assert owner is not None
        survivors = [s for s in h.servers if s is not owner]
        fence = int(h.client().get(key(lot, "fence")) or 0)
        start_price, increment = terms(owner, lot)
        async with contextlib.AsyncExitStack() as stack:
            watcher = await subscribed(await stack.enter_async_context(peer(survivors[0])), h.lots)
            orphan = await subscribed(await stack.enter_async_context(peer(owner)), h.lots)
            acked: list[tuple[int, int, int]] = []
            stop = asyncio.Event()

            async def bid_on(index: int, server: Server) -> None:
                """Bid without pause; when the process dies, go on through a survivor."""
                while not stop.is_set():
                    async with peer(server, h.token(index)) as p:
                        bidder = Bidder(index, await subscribed(p, h.lots))
                        try:
                            while not stop.is_set():
                                await bidder.bid(lot, start_price, increment)
                        except Exception:  # noqa: BLE001 - the socket went with its process
                            if server.proc.poll() is None:
                                raise
                        finally:
                            acked.extend(bidder.acked)
                    server = survivors[index % len(survivors)]

            tasks = [asyncio.create_task(bid_on(i, s)) for i, s in enumerate(h.servers)]
            try:
                deadline = time.monotonic() + TIMEOUT
                while len(watcher.events.get(lot, [])) < 30:  # bidding under way on every process
                    await watcher.recv(TIMEOUT)
                owner.proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(owner.proc.wait, 10)
                killed = watcher.events[lot][-1]["seq"] if watcher.events.get(lot) else 0
                while not watcher.events.get(lot) or watcher.events[lot][-1]["seq"] < killed + 20:
                    assert time.monotonic() < deadline, "bidding did not resume after the takeover"
                    await watcher.recv(TIMEOUT)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
            new_owner = h.owner(lot)
            assert new_owner is not None and new_owner is not owner
            # A watcher of the dead process resumes on another from the last event it had.
            with contextlib.suppress(Exception):
                while True:
                    await orphan.recv(1.0)  # what reached it before its process died
            had = seqs(orphan, lot)
            assert had == list(range(1, len(had) + 1))
            async with peer(survivors[1]) as resumed:
                assert (await resumed.recv())["type"] == "welcome"
                await resumed.send({"type": "subscribe", "lot": lot, "since": had[-1]})
                await drain(resumed, lot, watcher.events[lot][-1]["seq"])
                assert had + seqs(resumed, lot) == list(range(1, len(had) + len(seqs(resumed, lot)) + 1))
            assert int(h.client().get(key(lot, "fence")) or 0) > fence, "the lease was taken with a new token"
            events = assert_record(survivors[0], lot, acked)
            assert assert_record(survivors[1], lot, acked) == events
            await drain(watcher, lot, events[-1]["seq"])
            assert seqs(watcher, lot) == list(range(1, len(events) + 1)), "the watcher saw a gap or a repeat"
            assert acked, "no bid was acknowledged"


async def test_an_owner_paused_past_its_lease_cannot_append_when_it_wakes(tmp_path: Path) -> None:
    with hall(tmp_path, lots=1, bidders=2) as h:
        (lot,) = h.lots
        owner = h.owner(lot)
        assert owner is not None
        others = [s for s in h.servers if s is not owner]
        start_price, increment = terms(owner, lot)
        async with contextlib.AsyncExitStack() as stack:
            paused = Bidder(0, await subscribed(await stack.enter_async_context(peer(owner, h.token(0))), h.lots))
            await paused.bid(lot, start_price, increment)
            h.token(1)  # signed in before the pause: any process may be the one paused
            owner.proc.send_signal(signal.SIGSTOP)
            try:
                # A bid sent to the paused owner waits in its socket; meanwhile another process
                # takes the lot over and bids go on there.
                late = {"type": "bid", "lot": lot, "amount": 10**9, "req": "late"}
                await paused.peer.send(late)
                deadline = time.monotonic() + TIMEOUT
                while h.owner(lot) in (None, owner):
                    assert time.monotonic() < deadline, "nobody took the lot over"
                    await asyncio.sleep(0.05)
                active = Bidder(1, await subscribed(await stack.enter_async_context(peer(others[0], h.token(1))),
                                                    h.lots))  # fmt: skip
                for _ in range(5):
                    await active.bid(lot, start_price, increment)
            finally:
                owner.proc.send_signal(signal.SIGCONT)
            answer = await paused.peer.expect("ack", TIMEOUT, req="late")
            # Judged by whoever owns the lot now (forwarded), or refused: never written twice.
            events = assert_record(others[0], lot, paused.acked + active.acked)
            prices = [e["price"] for e in events if e["kind"] == "bid"]
            assert prices == sorted(set(prices)), "two owners appended to the lot"
            if answer["ok"]:
                assert events[answer["seq"] - 1]["price"] == 10**9
            deadline = time.monotonic() + TIMEOUT
            while assert_record(owner, lot, []) != assert_record(others[0], lot, []):
                assert time.monotonic() < deadline, "the old owner did not catch up as a replica"
                await asyncio.sleep(0.1)


def test_serve_with_workers_runs_that_many_processes_as_one_hall_and_starts_a_dead_one_again(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as server:
        db = tmp_path / "hall.db"
        seeded = seed_demo(db, "--store", server.url, "--live", "--lots", "16", "--bidders", "2")
        with contextlib.closing(sqlite3.connect(db)) as conn:
            every = [lot for (lot,) in conn.execute("SELECT id FROM lots")]  # rendezvous gives each a share
        port = free_port()
        log = tmp_path / "workers.log"
        with log.open("wb") as out:
            parent = subprocess.Popen(
                [sys.executable, "-m", "hall.cli", "serve", "--db", str(db), "--store", server.url, "--workers", "2",
                 "--port", str(port)], env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis.from_url(server.url)

        def owners() -> set[int]:
            leases = [client.get(key(lot, "lease")) for lot in every]
            return {int(v.decode().split(":", 1)[1].split("-")[-2]) for v in leases if v is not None}

        try:
            deadline = time.monotonic() + TIMEOUT
            while len(owners()) < 2:
                assert parent.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            first = owners()
            answer = httpx.get(f"http://127.0.0.1:{port}/api/lots/{seeded['lots'][0]}", trust_env=False)
            assert answer.status_code == 200
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            # The other worker takes the dead one's lots; the parent starts a new worker, which
            # gets its share back.
            while not (len(owners()) == 2 and victim not in owners()):
                assert parent.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
        finally:
            parent.send_signal(signal.SIGTERM)
            assert parent.wait(30) == 0
        assert "starting it again" in log.read_text()


async def test_a_redis_killed_and_restarted_under_bidding_on_every_process_loses_no_acknowledged_bid(
    tmp_path: Path,
) -> None:
    with hall(tmp_path, lots=1, bidders=3) as h:
        (lot,) = h.lots
        start_price, increment = terms(h.servers[0], lot)
        acked: list[tuple[int, int, int]] = []
        stop = asyncio.Event()

        async def bid_on(index: int, server: Server) -> None:
            async with peer(server, h.token(index)) as p:
                bidder = Bidder(index, await subscribed(p, h.lots))
                try:
                    while not stop.is_set():
                        await bidder.bid(lot, start_price, increment)
                finally:
                    acked.extend(bidder.acked)

        tokens = [h.token(i) for i in range(len(h.servers))]  # signed in while Redis is up
        assert len(tokens) == PROCESSES
        tasks = [asyncio.create_task(bid_on(i, s)) for i, s in enumerate(h.servers)]
        try:
            await asyncio.sleep(1.0)
            h.redis.kill()
            await asyncio.sleep(1.5)
            h.redis.start()
            async with peer(h.servers[0]) as watcher:
                await subscribed(watcher, h.lots)
                seen = 0
                deadline = time.monotonic() + TIMEOUT
                while seen < 30:  # bids go on after the restart, on every process's sockets
                    assert time.monotonic() < deadline, "bidding did not resume after Redis came back"
                    frame = await watcher.recv(TIMEOUT)
                    seen += frame.get("type") == "event"
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException)], results
        events = assert_record(h.servers[1], lot, acked)
        for s in (h.servers[0], h.servers[2]):
            deadline = time.monotonic() + TIMEOUT
            while assert_record(s, lot, acked) != events:  # a replica may still be catching up
                assert time.monotonic() < deadline, "the processes disagree about the record"
                await asyncio.sleep(0.1)


async def test_a_session_published_on_one_process_shows_its_lots_on_every_other(tmp_path: Path) -> None:
    with hall(tmp_path, lots=1, bidders=1) as h:
        db = h.servers[0].db
        with contextlib.closing(sqlite3.connect(db)) as conn:
            (listing,) = conn.execute("SELECT id FROM listings WHERE state = 'listed' ORDER BY id LIMIT 1").fetchone()
        staff = json.loads((tmp_path / "seed.json").read_text())["staff"][0]
        token = h.servers[0].login(staff["phone"], staff["password"])
        day = dt.datetime.now(BEIJING).date() + dt.timedelta(days=3)
        at = lambda hour: dt.datetime.combine(day, dt.time(hour), BEIJING).isoformat()  # noqa: E731
        created = h.servers[0].post_json("/api/sessions", {
            "name": "跨进程专场", "industry": "energy", "date": day.isoformat(), "mode": "timed",
            "publicity_start": dt.datetime.now(BEIJING).isoformat(), "bidding_start": at(10), "bidding_end": at(12),
        }, token)  # fmt: skip
        assert created.status_code == 201, created.text
        session = created.json()["id"]
        added = h.servers[0].post_json(f"/api/sessions/{session}/lots", {"listing": listing, "increment": 1000}, token)
        assert added.status_code == 201, added.text
        published = h.servers[0].post_json(f"/api/sessions/{session}/publish", {}, token)
        assert published.status_code == 200, published.text
        (lot,) = published.json()["lots"]
        for s in h.servers[1:]:
            deadline = time.monotonic() + TIMEOUT
            while not [row for row in s.get_json("/api/lots?session=跨进程专场") if row["id"] == lot]:
                assert time.monotonic() < deadline, "the other process never showed the new lot"
                await asyncio.sleep(0.05)
            assert s.snapshot(lot)["state"] == "publicity"
            # Indexed in its session there too: the hall page filtered by the session's industry has it.
            page = s.get("/?industry=energy")
            assert page.status_code == 200 and s.snapshot(lot)["title"] in page.text
        h.lots = [lot]
        h.wait_owned()  # by one process (it may be on its way to the one rendezvous hashing prefers)
