"""Locust users that speak the hall's JSON WebSocket protocol (docs/protocol.md), so that
locust's console, CSV files and web UI show the hall's bids and deliveries as requests.

    HALL_SEED_FILE=var/load.json locust -f bench/locustfile.py --headless -u 500 -r 50 -t 60s \\
        --host http://127.0.0.1:8000

``Bidder`` signs in with a seeded account (``hall seed-demo`` prints them; ``HALL_SEED_FILE`` is
where that JSON was saved), subscribes to a few lots and keeps bidding the next valid amount on
them, one bid in flight at a time. ``Watcher`` subscribes anonymously to a few lots and follows
their events. Both check that each lot's events arrive numbered without gaps.

Every ack and every event delivered is fired as a locust request of type ``WS``; its name says
what it was (docs/loadtesting.md lists them). A request fails only when the answer means the
hall (or this file's reading of its state) is at fault; a refusal an auction gives in the
ordinary course (outbid, lot closed, rate limited) is a success under its own name, so that its
count and latency show without drowning the real failures.

Locust monkeypatches the standard library for gevent before this file is imported, so
websocket-client's blocking sockets become cooperative: one greenlet per user reads its socket
while the user's own greenlet sends.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import msgspec
from gevent.event import AsyncResult
from gevent.lock import BoundedSemaphore
from locust import HttpUser, between, task

import websocket  # after locust, which has patched the socket module by now

BIDDER_LOTS = 3
"""Lots each bidder bids on; bidder i takes lots 3i, 3i+1, 3i+2 of the seed (wrapping), so the
seed's lots are shared out evenly and each lot has several bidders outbidding each other."""
WATCHER_LOTS = 5
"""Lots each watcher follows, taken the same way."""
PAUSE = float(os.environ.get("HALL_BID_PAUSE", "0.5"))
"""Mean seconds a bidder waits between two bids (after the ack of the first)."""
ACK_TIMEOUT = 10.0
"""An ack slower than this is counted as lost: far beyond any commit."""
CONNECT_TIMEOUT = 10.0
RATE_LIMIT_BACKOFF = 1.0
"""Seconds a bidder stops after ``rate_limited``: the server's token bucket refills meanwhile."""
UNAVAILABLE_RETRIES = 3
LOGINS_AT_ONCE = 2
"""Logins this process has in flight at most. The hall counts a login as failed until its
password is checked, per address too (hall/auth/throttle.py), and slows an address with 3
such and refuses it (429) with 10: a ramp of bidders signing in all at once from one load
machine would lock that machine out of logging in."""

ORDINARY = frozenset({"too_low", "not_live", "paused", "closed", "withdrawn", "rate_limited"})
"""Refusals an auction under load gives in the ordinary course: a success under their own name.
Every other code is a failure: ``unavailable`` is a store fault; ``bad_increment`` and
``bad_request`` mean a bid computed from the hall's own snapshot and events was malformed in its
eyes; ``not_registered``, ``own_lot``, ``unauthenticated``, ``forbidden`` and ``unknown_lot``
mean the seeded accounts and lots are not what the seed file says."""
OVER = frozenset({"closed", "withdrawn"})
LIVE = "live"

finished: set[int] = set()
"""Lots this process has seen close or be withdrawn: no user moves on to them."""
logins = BoundedSemaphore(LOGINS_AT_ONCE)

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class HallFault(Exception):
    """What the hall answered (or failed to) that a correct hall under load would not."""


def _seeded() -> dict[str, Any]:
    """The accounts and lots ``hall seed-demo`` printed; without them no user can do anything,
    so a missing file stops locust at once rather than every user as it starts."""
    path = os.environ.get("HALL_SEED_FILE")
    if not path:
        sys.exit("HALL_SEED_FILE must name the JSON file that hall seed-demo printed")
    found: dict[str, Any] = msgspec.json.decode(Path(path).read_bytes())
    if not found["lots"] or not found["bidders"]:
        sys.exit(f"{path} lists no lots or no bidders")
    return found


SEED = _seeded()


def now_ms() -> float:
    return time.time() * 1000


def spread(index: int, count: int) -> list[int]:
    """``count`` consecutive lots of the seed (wrapping) for the ``index``-th user of a kind."""
    lots: list[int] = SEED["lots"]
    return [lots[(index * count + k) % len(lots)] for k in range(min(count, len(lots)))]


class Lot:
    """What a user knows of one lot: enough to bid the next valid amount and to check that
    its events follow on."""

    __slots__ = ("id", "seq", "state", "price", "start_price", "increment", "synced", "asked_at")

    def __init__(self, lot_id: int) -> None:
        self.id = lot_id
        self.seq = 0
        self.state = ""
        self.price: int | None = None
        self.start_price = 0
        self.increment = 0
        self.synced = False
        """A snapshot has been applied and the stream followed it since."""
        self.asked_at = 0.0

    def next_amount(self) -> int:
        return self.start_price if self.price is None else self.price + self.increment

    def apply_snapshot(self, frame: dict[str, Any]) -> None:
        self.seq, self.state, self.price = frame["seq"], frame["state"], frame["price"]
        self.start_price, self.increment = frame["start_price"], frame["increment"]
        self.synced = True

    def apply_event(self, frame: dict[str, Any]) -> None:
        match frame["kind"]:
            case "bid":
                self.price = frame["price"]
            case "opened" | "resumed":
                self.state = LIVE
            case "paused" | "closed" | "withdrawn" as kind:
                self.state = kind
        self.seq = frame["seq"]


class HallUser(HttpUser):
    """One /ws connection, a greenlet reading it, and the lots it follows. Connecting happens
    in the task, not in ``on_start``, so that a failed connection is reported and retried
    rather than ending the user."""

    abstract = True
    reports_events = False
    """Fire a request per event delivered (watchers), or only follow the lots (bidders)."""
    signs_in = False
    """Connects with a bearer token, so the ``welcome`` must name the account."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ws: websocket.WebSocket | None = None
        self.reader: gevent.Greenlet | None = None
        self.lots: dict[int, Lot] = {}
        self.stopping = False

    # ------------------------------------------------------------------ reporting

    def report(self, name: str, started: float, length: int = 0, exception: Exception | None = None) -> None:
        """One locust request; ``started`` in epoch ms, so an event's ``ts`` fits too."""
        self.environment.events.request.fire(request_type="WS", name=name, response_time=max(now_ms() - started, 0.0),
                                             response_length=length, exception=exception, context={})  # fmt: skip

    def fault(self, name: str, message: str) -> None:
        self.report(name, now_ms(), exception=HallFault(message))

    # ------------------------------------------------------------------ the connection

    def url(self) -> str:
        return "ws" + self.host.removeprefix("http") + "/ws"

    def headers(self) -> list[str]:
        return []

    def connected(self) -> bool:
        """Connect (again) if the socket is gone; False when that failed (already reported)."""
        if self.reader is not None and not self.reader.dead:
            return True
        self.drop()  # the socket that ended, if any: its descriptor
        started = now_ms()
        try:
            ws = websocket.create_connection(self.url(), header=self.headers(), timeout=CONNECT_TIMEOUT,
                                             skip_utf8_validation=True, enable_multithread=True)  # fmt: skip
        except (websocket.WebSocketException, OSError) as exc:
            self.report("connect", started, exception=exc)
            gevent.sleep(1.0)
            return False
        ws.settimeout(None)
        self.report("connect", started)
        self.ws = ws
        self.reader = gevent.spawn(self.read, ws)
        for lot in self.lots.values():
            self.subscribe(lot)
        return True

    def drop(self) -> None:
        """End the socket without a word: the next task connects afresh. Not for the reader
        greenlet to call: it would kill itself."""
        if self.reader is not None:
            self.reader.kill()
        if self.ws is not None:
            self.ws.shutdown()
        self.reader = self.ws = None

    def subscribe(self, lot: Lot) -> None:
        """Ask for a snapshot; until it comes, the lot's events belong to the old stream."""
        assert self.ws is not None
        lot.synced, lot.asked_at = False, now_ms()
        self.ws.send(_encode({"type": "subscribe", "lot": lot.id}))

    def read(self, ws: websocket.WebSocket) -> None:
        """The receive greenlet: every frame until the socket ends (websocket-client answers
        the server's pings itself)."""
        try:
            while True:
                opcode, data = ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                    ended = f"server closed the socket: {code} {data[2:].decode(errors='replace')}"
                    break
                if not self.stopping:  # what comes after the stop is not measured
                    self.dispatch(_decode(data), len(data))
        except (websocket.WebSocketException, OSError) as exc:
            ended = f"socket ended: {exc!r}"
        if not self.stopping:
            self.fault("closed", ended)

    def dispatch(self, frame: dict[str, Any], length: int) -> None:
        match frame.get("type"):
            case "event":
                self.on_event(frame, length)
            case "ack":
                self.on_ack(frame, length)
            case "snapshot":
                lot = self.lots.get(frame["lot"])
                if lot is not None:  # else a lot left since subscribing: its frames may still come
                    lot.apply_snapshot(frame)
                    self.report("snapshot", lot.asked_at, length)
            case "welcome":
                if self.signs_in and frame["user"] is None:
                    self.fault("welcome anonymous", "the hall did not know the token it had just issued")
            case "error":
                self.on_error(frame, length)
            case other:
                self.fault("unexpected frame", f"frame of type {other!r}")

    def on_event(self, frame: dict[str, Any], length: int) -> None:
        lot = self.lots.get(frame["lot"])
        if lot is None or not lot.synced:  # an unsubscribed lot's queued frames, or the old stream
            return
        if frame["seq"] != lot.seq + 1:
            self.fault("seq gap", f"lot {lot.id}: event {frame['seq']} after {lot.seq}")
            self.subscribe(lot)
            return
        lot.apply_event(frame)
        if self.reports_events:
            self.report(f"event {frame['kind']}", frame["ts"], length)
        if lot.state in OVER:
            self.retire(lot)

    def retire(self, lot: Lot) -> None:
        """Leave a lot that is over for the next one of the seed that nobody has seen end, so
        that the load stays on as lots close (a user whose every lot is over idles)."""
        finished.add(lot.id)
        if self.lots.pop(lot.id, None) is None or self.ws is None:
            return
        self.ws.send(_encode({"type": "unsubscribe", "lot": lot.id}))
        lots: list[int] = SEED["lots"]
        start = lots.index(lot.id) if lot.id in lots else 0
        for k in range(1, len(lots)):
            candidate = lots[(start + k) % len(lots)]
            if candidate not in self.lots and candidate not in finished:
                self.lots[candidate] = Lot(candidate)
                self.subscribe(self.lots[candidate])
                return

    def on_error(self, frame: dict[str, Any], length: int) -> None:
        code, lot = frame["code"], self.lots.get(frame.get("lot", 0))
        self.report(f"error {code}", now_ms(), length, HallFault(f"{code}: {frame['message']}"))
        if lot is not None:  # a failed subscribe leaves the lot unsubscribed: forget it
            del self.lots[lot.id]

    def on_ack(self, frame: dict[str, Any], length: int) -> None:
        self.fault("unexpected frame", f"ack {frame.get('req')!r} to a socket that sent no request")

    def on_stop(self) -> None:
        """Close the handshake's way: send a close frame, let the reader take the server's
        answer, then drop the socket, whatever state it is in."""
        self.stopping = True
        if self.ws is None:
            return
        try:
            self.ws.send_close()
        except (websocket.WebSocketException, OSError):
            pass
        if self.reader is not None:
            self.reader.join(timeout=2.0)
            self.reader.kill(block=False)
        self.ws.shutdown()


class Bidder(HallUser):
    """A seeded bidder on its lots: bids the next valid amount, one bid in flight at a time,
    on its live lots in turn; the ack's delay is the request's response time."""

    weight = 4
    wait_time = between(PAUSE / 2, PAUSE * 3 / 2)
    signs_in = True
    _index = itertools.count()
    _tag = f"{os.getpid():x}"
    """Part of every request id: a second locust process bidding as the same account must not
    replay this one's answers (the hall remembers answers per account and request id)."""

    def on_start(self) -> None:
        index = next(Bidder._index)
        self.account = SEED["bidders"][index % len(SEED["bidders"])]
        self.lots = {lot_id: Lot(lot_id) for lot_id in spread(index, BIDDER_LOTS)}
        self.turns = 0
        self.reqs = (f"{self._tag}-{index}-{n}" for n in itertools.count())
        self.token: str | None = None
        self.pending: dict[str, tuple[float, AsyncResult]] = {}

    def headers(self) -> list[str]:
        return [f"Authorization: Bearer {self.token}"]

    def signed_in(self) -> bool:
        """A bearer token for the account, asked for once (False: the login failed, reported)."""
        if self.token is not None:
            return True
        credentials = {"phone": self.account["phone"], "password": self.account["password"]}
        with logins, self.client.post("/api/login", json=credentials, name="POST /api/login",
                                      catch_response=True) as answer:  # fmt: skip
            if answer.status_code == 200:
                self.token = answer.json()["token"]
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
        if self.token is None:
            gevent.sleep(1.0)
        return self.token is not None

    @task
    def bid(self) -> None:
        if not self.signed_in() or not self.connected():
            return
        lot = self.next_lot()
        if lot is None:
            return
        amount, req = lot.next_amount(), next(self.reqs)
        for _ in range(UNAVAILABLE_RETRIES):  # the protocol's rule: retry ``unavailable`` with the same req
            ack = self.send_bid(lot, amount, req)
            if ack is None or ack.get("code") != "unavailable":
                break
            gevent.sleep(0.5)
        if ack is not None and not ack["ok"]:
            self.refused(lot, amount, ack["code"])

    def next_lot(self) -> Lot | None:
        """The next of this bidder's lots, in turn, that is live and in step with its stream."""
        ids = list(self.lots)
        for k in range(len(ids)):
            lot = self.lots[ids[(self.turns + k) % len(ids)]]
            if lot.synced and lot.state == LIVE:
                self.turns += k + 1
                return lot
        return None

    def send_bid(self, lot: Lot, amount: int, req: str) -> dict[str, Any] | None:
        """Send, and wait for the ack the reader hands over (None: none came, reported)."""
        assert self.ws is not None
        answer: AsyncResult = AsyncResult()
        self.pending[req] = (now_ms(), answer)
        try:
            self.ws.send(_encode({"type": "bid", "lot": lot.id, "amount": amount, "req": req}))
            ack: dict[str, Any] = answer.get(timeout=ACK_TIMEOUT)
        except gevent.Timeout:
            self.fault("ack timeout", f"no ack for {req} on lot {lot.id} in {ACK_TIMEOUT} s")
            return None
        except (websocket.WebSocketException, OSError):
            return None  # the reader reports the socket's end; the next task reconnects
        finally:
            self.pending.pop(req, None)
        return ack

    def on_error(self, frame: dict[str, Any], length: int) -> None:
        """An ``error`` instead of an ack (the bid did not decode) still ends the wait."""
        super().on_error(frame, length)
        waiting = self.pending.get(frame.get("req", ""))
        if waiting is not None:
            waiting[1].set({**frame, "ok": False})

    def on_ack(self, frame: dict[str, Any], length: int) -> None:
        waiting = self.pending.get(frame["req"])
        if waiting is None:
            super().on_ack(frame, length)
            return
        sent, answer = waiting
        code = frame.get("code")
        if frame["ok"]:
            self.report("ack bid", sent, length)
        elif code in ORDINARY:
            self.report(f"ack rejected:{code}", sent, length)
        else:
            self.report(f"ack rejected:{code}", sent, length, HallFault(f"{code}: {frame.get('message')}"))
        answer.set(frame)

    def refused(self, lot: Lot, amount: int, code: str) -> None:
        """What a refusal means for the next bid."""
        if code in OVER:
            self.retire(lot)  # the event saying so may not have come yet
        elif code == "rate_limited":
            gevent.sleep(RATE_LIMIT_BACKOFF)
        elif code == "unauthenticated":
            self.drop()  # whatever the socket's identity became, a new one has the token's
        elif code in ("too_low", "bad_increment") and lot.next_amount() <= amount:
            # The events that outbid us should have arrived before the ack; read afresh.
            self.subscribe(lot)
        # not_live, paused: the lot's state says so now, and ``next_lot`` passes it over until
        # its ``opened`` or ``resumed`` event.


class Watcher(HallUser):
    """An anonymous socket following a few lots, as a display board does; each event's
    delivery delay (the hall's ``ts`` to its arrival here) is the request's response time."""

    weight = 1
    wait_time = between(1.0, 2.0)
    reports_events = True
    _index = itertools.count()

    def on_start(self) -> None:
        self.lots = {lot_id: Lot(lot_id) for lot_id in spread(next(Watcher._index), WATCHER_LOTS)}

    @task
    def follow(self) -> None:
        """The reader does the work; this only reconnects, with a fresh snapshot of each lot,
        when the socket has ended."""
        self.connected()
