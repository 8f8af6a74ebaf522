"""/ws and /api/lots through a real ``hall serve`` process: uvicorn's WebSocket stack, its frame
limit, TCP back pressure and the handshake's headers, which the in-process test client skips.

Each server is seeded with ``hall seed-demo --live`` and shared by the tests of this module;
every test bids on lots of its own, so that none sees another's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx2 as httpx
import pytest
from liveserver import Frame, Live, Peer, RawSocket, Server, live, peer
from websockets.exceptions import InvalidStatus

from hall.hub import RING
from hall.protocol import MAX_FRAME

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

QUIET = 0.3
"""How long a socket must stay silent for a test to conclude that nothing more is coming."""
DROPPED = "hall_ws_dropped_slow_total"


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The server as ``hall serve`` runs by default."""
    with live(tmp_path_factory.mktemp("live"), lots=8, bidders=2) as found:
        yield found


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live(tmp_path_factory.mktemp("throttled"), lots=1, bidders=1,
              env={"HALL_BID_RATE": "5", "HALL_BID_BURST": "5"}) as found:  # fmt: skip
        yield found


LANES = 8
"""Lots bid on at once in the slow-watcher tests, one bid in flight on each: no commit then
carries more than LANES events to a watcher of them all, well under its queue of QUEUE."""
QUEUE = 16


@pytest.fixture(scope="module")
def slow_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = {"HALL_WS_QUEUE": str(QUEUE), "HALL_BID_RATE": "100000", "HALL_BID_BURST": "100000"}
    with live(tmp_path_factory.mktemp("slow"), lots=2 * LANES, bidders=1, env=env) as found:
        yield found


# ---------------------------------------------------------------------- helpers

_reqs = itertools.count(1)


@dataclass
class Ladder:
    """The next valid amounts on a lot, for a test that is the only one bidding on it."""

    lot: int
    increment: int
    next: int

    @classmethod
    def of(cls, server: Server, lot: int) -> Ladder:
        snap = server.snapshot(lot)
        price = snap["price"]
        return cls(lot, snap["increment"], snap["start_price"] if price is None else price + snap["increment"])

    def take(self, count: int) -> list[int]:
        amounts = [self.next + i * self.increment for i in range(count)]
        self.next += count * self.increment
        return amounts


async def bid(bidder: Peer, lot: int, amounts: list[int]) -> list[Frame]:
    """Send every bid at once (pipelined), then their acks in the order the bids were sent."""
    reqs = [f"t{next(_reqs)}" for _ in amounts]
    for req, amount in zip(reqs, amounts, strict=True):
        await bidder.send({"type": "bid", "lot": lot, "amount": amount, "req": req})
    acks: dict[str, Frame] = {}
    while len(acks) < len(reqs):
        frame = await bidder.until(lambda f: f.get("type") == "ack" and f.get("req") in reqs)
        acks[frame["req"]] = frame
    return [acks[req] for req in reqs]


async def silence(socket: Peer, timeout: float = QUIET) -> list[Frame]:
    """The frames that still arrive until the socket has been quiet for ``timeout``."""
    late = []
    with contextlib.suppress(TimeoutError):
        while True:
            late.append(await socket.recv(timeout))
    return late


def seqs(events: list[Frame]) -> list[int]:
    return [event["seq"] for event in events]


@contextlib.asynccontextmanager
async def bidder(hall: Live, n: int = 0) -> AsyncIterator[Peer]:
    async with peer(hall.server, hall.token(n)) as socket:
        await socket.expect("welcome")
        yield socket


# ---------------------------------------------------------------------- the protocol, end to end


async def test_welcome_says_who_holds_the_token_given_as_query_or_header(hall: Live) -> None:
    token = hall.token(0)
    me = hall.server.get_json("/api/me", token)["user"]
    async with peer(hall.server, token) as by_query:
        welcome = await by_query.recv()
    assert welcome["type"] == "welcome"
    assert welcome["user"] == me
    assert abs(welcome["now"] - time.time() * 1000) < 60_000
    async with peer(hall.server, additional_headers={"Authorization": f"Bearer {token}"}) as by_header:
        assert (await by_header.recv())["user"] == me
    async with peer(hall.server) as anonymous:
        assert (await anonymous.recv())["user"] is None


async def test_a_bid_without_a_token_is_refused_unauthenticated(hall: Live) -> None:
    lot = hall.lots[0]
    before = hall.server.snapshot(lot)
    async with peer(hall.server) as anonymous:
        await anonymous.expect("welcome")
        await anonymous.send({"type": "bid", "lot": lot, "amount": Ladder.of(hall.server, lot).next, "req": "r1"})
        ack = await anonymous.expect("ack")
    assert (ack["ok"], ack["code"], ack["req"], ack["lot"]) == (False, "unauthenticated", "r1", lot)
    assert hall.server.snapshot(lot)["seq"] == before["seq"]


async def test_subscribe_answers_with_the_snapshot_the_api_serves(hall: Live) -> None:
    lot = hall.lots[0]
    async with peer(hall.server) as watcher:
        await watcher.expect("welcome")
        await watcher.send({"type": "subscribe", "lot": lot})
        snap = await watcher.expect("snapshot")
    served = hall.server.snapshot(lot)
    assert snap["lot"] == lot and snap["state"] == "live"
    assert {k: v for k, v in snap.items() if k != "now"} == {k: v for k, v in served.items() if k != "now"}


async def test_a_bid_is_acked_with_its_seq_and_its_event_reaches_another_watcher(hall: Live) -> None:
    lot = hall.lots[1]
    async with peer(hall.server) as watcher, bidder(hall) as bidding:
        await watcher.expect("welcome")
        await watcher.send({"type": "subscribe", "lot": lot})
        seq = (await watcher.expect("snapshot"))["seq"]
        amount = Ladder.of(hall.server, lot).next
        [ack] = await bid(bidding, lot, [amount])
        assert ack == {"type": "ack", "req": ack["req"], "ok": True, "lot": lot, "seq": seq + 1, "price": amount}
        event = await watcher.expect("event")
        assert (event["lot"], event["seq"], event["kind"], event["price"]) == (lot, seq + 1, "bid", amount)
        assert await silence(watcher) == []
    assert hall.server.events(lot, seq) == [event]


async def test_a_malformed_frame_is_answered_bad_request_and_the_socket_stays_open(hall: Live) -> None:
    lot = hall.lots[2]
    async with peer(hall.server) as socket:
        await socket.expect("welcome")
        for text, req in [
            ("not json", None),
            ('{"type": "dance", "lot": 1}', None),
            ('{"type": "subscribe"}', None),
            (f'{{"type": "bid", "lot": {lot}, "amount": "much", "req": "r7"}}', "r7"),
            (f'{{"type": "subscribe", "lot": {lot}, "extra": 1}}', None),
        ]:
            await socket.send_raw(text)
            error = await socket.expect("error")
            assert error["code"] == "bad_request", (text, error)
            assert error.get("req") == req, (text, error)
        await socket.send({"type": "subscribe", "lot": lot})
        assert (await socket.expect("snapshot"))["lot"] == lot


async def test_a_frame_of_64_kib_is_read_and_a_bigger_one_closes_the_socket_with_1009(hall: Live) -> None:
    head = '{"type": "subscribe", "lot": 1, "pad": "'
    exactly = head + "x" * (MAX_FRAME - len(head) - 2) + '"}'
    assert len(exactly.encode()) == MAX_FRAME
    async with peer(hall.server) as socket:
        await socket.expect("welcome")
        await socket.send_raw(exactly)  # the limit itself is allowed: refused as JSON, not as size
        assert (await socket.expect("error"))["code"] == "bad_request"
        await socket.send_raw(exactly[:-2] + 'x"}')
        closed = await socket.closed()
    assert closed.rcvd is not None and closed.rcvd.code == 1009, closed


async def test_a_session_cookie_socket_is_refused_from_a_foreign_origin(hall: Live) -> None:
    server = hall.server
    account = hall.bidders[1]
    with httpx.Client(base_url=server.url, timeout=10.0) as browser:
        page = browser.get("/login")
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert found is not None
        signed_in = browser.post("/login", data={"phone": account["phone"], "password": account["password"],
                                                 "csrf": found[1]})  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        session = browser.cookies.get("hall_session")
    assert session
    cookie = {"Cookie": f"hall_session={session}"}
    with pytest.raises(InvalidStatus) as refused:
        async with peer(server, additional_headers=cookie, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):  # a cookie with no Origin at all is refused too
        async with peer(server, additional_headers=cookie):
            pass
    async with peer(server, additional_headers=cookie, origin=server.url) as own_page:
        welcome = await own_page.expect("welcome")
    assert welcome["user"] is not None and welcome["user"]["name"] == account["name"]


async def test_bids_beyond_the_rate_are_refused_rate_limited_until_the_bucket_refills(throttled: Live) -> None:
    lot = throttled.lots[0]
    ladder = Ladder.of(throttled.server, lot)
    async with bidder(throttled) as bidding:
        acks = await bid(bidding, lot, ladder.take(20))
        assert all(ack["ok"] for ack in acks[:5]), acks[:5]
        refused = [ack for ack in acks if not ack["ok"]]
        assert {ack["code"] for ack in refused} == {"rate_limited"}, refused
        assert len(refused) >= 10, acks  # the burst of 5 refills at 5 a second: not 10 more in 2 s
        accepted = [ack for ack in acks if ack["ok"]]
        await asyncio.sleep(1.1)
        [again] = await bid(bidding, lot, ladder.take(1))
    assert again["ok"], again
    events = throttled.server.events(lot)
    assert [e["price"] for e in events if e["kind"] == "bid"][-len(accepted) - 1:] == \
        [ack["price"] for ack in accepted] + [again["price"]]  # fmt: skip


# ---------------------------------------------------------------------- resuming


@pytest.mark.parametrize("missed", [30, RING + 44], ids=["from-the-ring", "beyond-the-ring"])
async def test_a_watcher_that_reconnects_with_since_gets_every_missed_event_then_live_ones(
    hall: Live, missed: int
) -> None:
    lot = hall.lots[3] if missed <= RING else hall.lots[4]
    server = hall.server
    ladder = Ladder.of(server, lot)
    async with bidder(hall) as bidding:
        async with peer(server) as first:
            await first.expect("welcome")
            await first.send({"type": "subscribe", "lot": lot})
            start = (await first.expect("snapshot"))["seq"]
            await bid(bidding, lot, ladder.take(10))
            while len(first.events.get(lot, [])) < 10:
                await first.recv()
            seen = first.events[lot]
        last = seen[-1]["seq"]
        assert seqs(seen) == list(range(start + 1, last + 1))

        for chunk in range(0, missed, 75):  # under the socket's burst of 100 bids
            async with bidder(hall) as more:
                assert all(a["ok"] for a in await bid(more, lot, ladder.take(min(75, missed - chunk))))
        behind = server.snapshot(lot)["seq"]
        assert behind == last + missed

        async with peer(server) as again, bidder(hall) as stream:
            await again.expect("welcome")
            # Bids keep landing while it resumes (some while the backlog is being read): the
            # backlog must meet the live stream exactly.
            acked: list[Frame] = []
            stop = asyncio.Event()

            async def keep_bidding() -> None:
                while not stop.is_set() and len(acked) < 90:  # under the socket's burst of 100
                    acked.extend(await bid(stream, lot, ladder.take(2)))

            during = asyncio.create_task(keep_bidding())
            while len(acked) < 10 and not during.done():
                await asyncio.sleep(0.001)
            await again.send({"type": "subscribe", "lot": lot, "since": last})
            await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(during, 10)
            assert all(a["ok"] for a in acked)
            after = await bid(bidding, lot, ladder.take(5))
            end = after[-1]["seq"]
            while not again.events.get(lot) or again.events[lot][-1]["seq"] < end:
                await again.recv()
            assert await silence(again) == []
        resumed = again.events[lot]
    assert seqs(resumed) == list(range(last + 1, end + 1))
    assert resumed == server.events(lot, last)
    assert not [f for f in again.frames if f["type"] in ("snapshot", "error")]


async def test_a_resume_from_a_seq_the_lot_has_not_reached_is_refused(hall: Live) -> None:
    lot = hall.lots[5]
    seq = hall.server.snapshot(lot)["seq"]
    async with peer(hall.server) as socket:
        await socket.expect("welcome")
        await socket.send({"type": "subscribe", "lot": lot, "since": seq + 1})
        assert (await socket.expect("error"))["code"] == "bad_request"
        await socket.send({"type": "subscribe", "lot": lot, "since": seq})
        assert await silence(socket) == []  # nothing missed, nothing sent


# ---------------------------------------------------------------------- a watcher that stops reading

CEILING = 512 << 10
"""Bytes of frames sent to a stalled socket after which its queue has certainly overflowed:
five times what the TCP buffers of a RawSocket hold on loopback (95 to 110 KiB on Linux 6)."""
STALL_LIMIT_S = 20.0


@dataclass
class Stall:
    raw: RawSocket
    watcher: Peer
    lots: list[int]
    dropped_before: float
    snapshots: dict[int, int] = field(default_factory=dict)
    dropped_while_stalled: bool = False
    offered: int = 0


@contextlib.asynccontextmanager
async def stalled(hall: Live, lots: list[int]) -> AsyncIterator[Stall]:
    """A RawSocket that subscribes to ``lots`` and never reads, and a Peer that watches them
    too and reads all the time, while LANES bidders each bid on a lot, one bid in flight:
    until the server reports a dropped socket, or until the stalled socket has been sent
    CEILING bytes (what the normal watcher got counts them: it is sent the same frames)."""
    server = hall.server
    before = await asyncio.to_thread(server.metric, DROPPED)
    raw = RawSocket(server)
    try:
        for lot in lots:
            raw.send_json({"type": "subscribe", "lot": lot})
        async with peer(server) as watcher, contextlib.AsyncExitStack() as stack:
            stall = Stall(raw, watcher, lots, before)
            await watcher.expect("welcome")
            for lot in lots:
                await watcher.send({"type": "subscribe", "lot": lot})
                stall.snapshots[lot] = (await watcher.expect("snapshot", lot=lot))["seq"]
            lanes = [await stack.enter_async_context(bidder(hall)) for _ in lots]
            ladders = [Ladder.of(server, lot) for lot in lots]
            stop = asyncio.Event()
            counted = len(watcher.raw_bytes)

            async def lane(socket: Peer, ladder: Ladder) -> None:
                while not stop.is_set():
                    [ack] = await bid(socket, ladder.lot, ladder.take(1))
                    assert ack["ok"], ack

            async def read() -> None:
                while True:
                    await watcher.recv(10)

            async def watch() -> None:
                deadline = time.monotonic() + STALL_LIMIT_S
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    stall.offered = sum(watcher.raw_bytes[counted:])
                    if await asyncio.to_thread(server.metric, DROPPED) > before:
                        stall.dropped_while_stalled = True
                        break
                    if stall.offered > CEILING:
                        break
                await asyncio.sleep(0.3)  # and the others carry on for a while after
                stop.set()

            reader = asyncio.create_task(read())
            try:
                bidding = [lane(socket, ladder) for socket, ladder in zip(lanes, ladders, strict=True)]
                await asyncio.wait_for(asyncio.gather(watch(), *bidding), STALL_LIMIT_S + 10)
                async with asyncio.timeout(10):  # the normal watcher gets everything up to the last ack
                    for lot in lots:
                        end = server.snapshot(lot)["seq"]
                        while not watcher.events.get(lot) or watcher.events[lot][-1]["seq"] < end:
                            await asyncio.sleep(0.01)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await reader
            yield stall
    finally:
        raw.close()


async def test_a_slow_watcher_is_dropped_while_a_normal_one_keeps_receiving(slow_hall: Live) -> None:
    server = slow_hall.server
    async with stalled(slow_hall, slow_hall.lots[:LANES]) as stall:
        # The slow one reads at last: what it was sent, then the end of the connection.
        frames, code = await asyncio.to_thread(stall.raw.drain, 10.0)
        assert code in (1013, None), code  # "too_slow", or closed without a close frame
        assert await asyncio.to_thread(server.metric, DROPPED) > stall.dropped_before

        total = 0
        for lot in stall.lots:
            everything = server.events(lot, stall.snapshots[lot])
            total += len(everything)
            # the normal watcher: every event, in order, the very frames the API serves
            assert stall.watcher.events[lot] == everything, lot
            # the slow one: a prefix of each lot's stream from its snapshot, never a gap
            snaps = [f for f in frames if f["type"] == "snapshot" and f["lot"] == lot]
            assert len(snaps) == 1, lot
            got = [f for f in frames if f["type"] == "event" and f["lot"] == lot]
            assert got == everything[: len(got)], lot
            assert seqs(got) == list(range(snaps[0]["seq"] + 1, snaps[0]["seq"] + 1 + len(got))), lot
        slow_events = sum(1 for f in frames if f["type"] == "event")
        assert slow_events < total, "the slow socket got everything: it was never behind"

        # and the normal one is still served
        lot = stall.lots[0]
        async with bidder(slow_hall) as bidding:
            [ack] = await bid(bidding, lot, Ladder.of(server, lot).take(1))
        event = await stall.watcher.expect("event", lot=lot, seq=ack["seq"])
        assert event["price"] == ack["price"]


async def test_a_stalled_watcher_is_dropped_before_it_reads_again(slow_hall: Live) -> None:
    """A send to a peer that reads nothing never returns (uvicorn waits for the transport to
    drain). The drop must not wait behind it: the server counts it and lets go of the socket
    while the peer still reads nothing, or a stalled client would keep its place for ever."""
    async with stalled(slow_hall, slow_hall.lots[LANES:]) as stall:
        dropped = stall.dropped_while_stalled
        offered = stall.offered
        # Not even the close frame can reach it, so the server cuts the connection (a reset,
        # which moves the peer's TCP state on while it still reads nothing).
        deadline = time.monotonic() + 10
        while tcp_state(stall.raw.sock) == TCP_ESTABLISHED and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        state = tcp_state(stall.raw.sock)
        await asyncio.to_thread(stall.raw.drain, 10.0)
    assert dropped, f"{offered} bytes sent to a socket that read none, and no drop on /metrics"
    assert state != TCP_ESTABLISHED, "the stalled connection is still open at the server"


TCP_ESTABLISHED = 1
"""Linux's ``tcpi_state`` for an open connection (include/net/tcp_states.h)."""


def tcp_state(sock: socket.socket) -> int:
    """The kernel's state of a TCP connection: the first byte of ``TCP_INFO`` (Linux)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
