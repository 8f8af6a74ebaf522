"""Load generator for the hall and for the bare ceiling app (bench/ceiling.py); one JSON line
per scenario run.

    python bench/loadgen.py throughput --port 8000 --seed-file var/seed.json --seconds 10
    python bench/loadgen.py echo       --port 8001 --seconds 10
    python bench/loadgen.py fanout     --port 8000 --seed-file var/seed.json --watchers 5000 --rate 10
    python bench/loadgen.py broadcast  --port 8001 --watchers 5000 --rate 10
    python bench/loadgen.py idle       --port 8000 --watchers 10000

``throughput``: bidder connections, each pipelining bids (``--inflight``) on lots of its own, so
bids are accepted; accepted and refused per second, ack latency. With ``--rate R`` the
connections send R bids a second in all instead, whatever the acks (latency at a set load). ``echo`` sends the same frames
in the same pattern to the ceiling app, which sends each back. ``fanout``: watchers subscribed
to one lot while a bidder raises it at ``--rate`` events/s (0: as fast as acks allow);
deliveries per second, delivery latency (the event's server time to its receipt), and the
events each watcher missed or got twice, which must be none. ``broadcast`` is the same against
the ceiling app's bare broadcast (``--raw``: its broadcast through the hall's raw writer). ``idle`` opens sockets that subscribe and wait, and holds
them for ``--seconds`` (the caller reads the server's memory meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wsclient import Client, connect  # noqa: E402

from hall.stall_causes import LONG_ACK_S, STALL_S  # noqa: E402
from hall.stalls import LagProbe  # noqa: E402


class Frame(msgspec.Struct, gc=False):
    """The fields the generator reads of any frame (hall or ceiling). Not tracked by the
    cyclic collector: at 50,000 frames a second its passes would show up as latency."""

    type: str = ""
    req: str | None = None
    ok: bool = True
    seq: int = 0
    ts: int = 0
    lot: int = 0
    price: int | None = None
    code: str | None = None


_decode = msgspec.json.Decoder(Frame).decode

RUN = f"{os.getpid():x}.{time.time_ns() // 1_000_000 % 10**9:x}."
"""Prefixes this run's request ids: the hall answers a request id it has seen from the same
account with the first answer again (an idempotent retry), so runs must not reuse them."""


def now_ms() -> float:
    return time.time() * 1000


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def http_json(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def login_all(base: str, accounts: Sequence[dict[str, str]]) -> list[str]:
    """Bearer tokens for the accounts, a few logins at a time (argon2 is deliberately slow)."""
    gate = asyncio.Semaphore(4)

    async def one(account: dict[str, str]) -> str:
        async with gate:
            body = {"phone": account["phone"], "password": account["password"]}
            answer = await asyncio.to_thread(http_json, base, "/api/login", body)
            return str(answer["token"])

    return list(await asyncio.gather(*(one(a) for a in accounts)))


# ---------------------------------------------------------------------- throughput / echo


class Pipeline:
    """One connection keeping ``inflight`` bids outstanding, each next amount one increment up."""

    def __init__(self, lots: list[tuple[int, int]], inflight: int, stats: dict[str, Any]) -> None:
        self.lots = lots  # (lot, next amount) pairs; increments in self.steps
        self.steps: dict[int, int] = {}
        self.amounts: dict[int, int] = {}
        self.inflight = inflight
        self.stats = stats
        self.sent: dict[str, float] = {}
        self.counter = 0
        self.client: Client | None = None
        self.running = True
        self.refill = True
        """Send the next bid on each ack (saturation); False when ``pace`` sets the rate."""

    def on_text(self, payload: bytes) -> None:
        frame = _decode(payload)
        if frame.type not in ("ack", "bid") or frame.req is None:
            return
        started = self.sent.pop(frame.req, None)
        if started is None:
            return
        stats = self.stats
        if stats["measuring"]:
            now = time.perf_counter()
            stats["latency"].append((now - started) * 1000)
            if now - started > LONG_ACK_S:
                stats["long"].append((started, now))
            if frame.ok:
                stats["accepted"] += 1
            else:
                stats["rejected"] += 1
                stats["codes"][frame.code] = stats["codes"].get(frame.code, 0) + 1
        if self.running and self.refill:
            self.send_one()

    def send_one(self) -> None:
        lot, _ = self.lots[self.counter % len(self.lots)]
        self.counter += 1
        amount = self.amounts[lot]
        self.amounts[lot] = amount + self.steps[lot]
        req = f"{RUN}r{self.counter}"
        self.sent[req] = time.perf_counter()
        assert self.client is not None
        self.client.send(b'{"type":"bid","lot":%d,"amount":%d,"req":"%s"}' % (lot, amount, req.encode()))

    def start(self) -> None:
        for _ in range(self.inflight):
            self.send_one()


async def pace(lines: list[Pipeline], rate: float) -> None:
    """Send ``rate`` bids a second in all, round robin over the connections, whatever the acks."""
    began = time.perf_counter()
    sent = 0
    while True:
        due = int((time.perf_counter() - began) * rate)
        while sent < due:
            lines[sent % len(lines)].send_one()
            sent += 1
        await asyncio.sleep(0.001)


async def pipelines(args: argparse.Namespace, path_for: Callable[[int], str],
                    plans: list[list[tuple[int, int, int]]]) -> dict[str, Any]:  # fmt: skip
    stats: dict[str, Any] = {"accepted": 0, "rejected": 0, "latency": [], "long": [], "codes": {}, "measuring": False}
    probe = LagProbe()  # the generator's own stalls, to tell them from the server's
    probe.start()
    lines = []
    for i, plan in enumerate(plans):
        line = Pipeline([(lot, amount) for lot, amount, _ in plan], args.inflight, stats)
        line.amounts = {lot: amount for lot, amount, _ in plan}
        line.steps = {lot: step for lot, _, step in plan}
        line.client = await connect(args.host, args.port, path_for(i), line.on_text)
        lines.append(line)
    if args.rate:
        for line in lines:
            line.refill = False
        pacer = asyncio.get_running_loop().create_task(pace(lines, args.rate))
    else:
        for line in lines:
            line.start()
    await asyncio.sleep(args.warmup)
    stats["measuring"] = True
    began = time.perf_counter()
    await asyncio.sleep(args.seconds)
    stats["measuring"] = False
    ended = time.perf_counter()
    elapsed = ended - began
    probe.stop()
    for line in lines:
        line.running = False
    if args.rate:
        pacer.cancel()
    await asyncio.sleep(0.5)
    for line in lines:
        assert line.client is not None
        line.client.close()
    latency = stats["latency"]
    lags = [late * 1000 for at, late in zip(probe.at, probe.lag) if began <= at <= ended]
    if args.trace:
        # for bench/run.py's attribution (hall.stall_causes): the long acks and this loop's stalls
        stalls = [(at, late) for at, late in zip(probe.at, probe.lag) if late > STALL_S]
        trace = {"acks": stats["long"], "lag": {"at": [a for a, _ in stalls], "lag": [x for _, x in stalls]}}
        Path(args.trace).write_text(json.dumps(trace))
    return {
        "connections": len(lines), "inflight": None if args.rate else args.inflight, "rate": args.rate or None,
        "seconds": round(elapsed, 2), "window": [began, ended],
        "accepted_per_s": round(stats["accepted"] / elapsed), "rejected_per_s": round(stats["rejected"] / elapsed),
        "codes": stats["codes"], "ack_p50_ms": percentile(latency, 0.5), "ack_p99_ms": percentile(latency, 0.99),
        "ack_p999_ms": percentile(latency, 0.999), "ack_max_ms": round(max(latency), 3) if latency else None,
        "client_lag_p99_ms": percentile(lags, 0.99), "client_lag_max_ms": round(max(lags), 3) if lags else None,
    }  # fmt: skip


async def throughput(args: argparse.Namespace) -> dict[str, Any]:
    seed = json.loads(Path(args.seed_file).read_text())
    base = f"http://{args.host}:{args.port}"
    lots = seed["lots"]
    if len(lots) < args.connections:
        raise SystemExit(f"throughput needs at least {args.connections} lots (one bidder per lot), got {len(lots)}")
    tokens = await login_all(base, seed["bidders"][: args.connections])
    plans: list[list[tuple[int, int, int]]] = [[] for _ in range(args.connections)]
    for i, lot in enumerate(lots):
        snap = http_json(base, f"/api/lots/{lot}")
        if snap["state"] != "live":
            continue
        step = snap["increment"]
        plans[i % args.connections].append((lot, snap["start_price"] if snap["price"] is None else snap["price"] + step, step))
    result = await pipelines(args, lambda i: f"/ws?token={tokens[i]}", plans)
    return {"scenario": "throughput", **result}


async def echo(args: argparse.Namespace) -> dict[str, Any]:
    plans = [[(i + 1, 100_000, 1_000)] for i in range(args.connections)]
    result = await pipelines(args, lambda i: "/echo", plans)
    return {"scenario": "echo", **result}


# ---------------------------------------------------------------------- fan-out


class Watch:
    __slots__ = ("last", "count", "missing", "duplicate", "latency", "client", "sample")

    def __init__(self, sample: bool) -> None:
        self.last = -1
        self.count = 0
        self.missing = 0
        self.duplicate = 0
        self.latency: list[float] = []
        self.client: Client | None = None
        self.sample = sample

    def on_text(self, payload: bytes) -> None:
        frame = _decode(payload)
        if frame.type == "snapshot":
            self.last = frame.seq
            return
        if frame.type != "event":
            return
        seq = frame.seq
        if self.last < 0:
            self.last = seq - 1
        if seq <= self.last:
            self.duplicate += 1
            return
        self.missing += seq - self.last - 1
        self.last = seq
        self.count += 1
        if self.sample:
            self.latency.append(now_ms() - frame.ts)


async def open_watchers(args: argparse.Namespace, path: str, subscribe: bytes | None) -> list[Watch]:
    watches = [Watch(sample=i % max(1, args.watchers // 500) == 0) for i in range(args.watchers)]
    gate = asyncio.Semaphore(64)

    async def one(watch: Watch) -> None:
        async with gate:
            watch.client = await connect(args.host, args.port, path, watch.on_text)
            if subscribe is not None:
                watch.client.send(subscribe)

    await asyncio.gather(*(one(w) for w in watches))
    return watches


async def drive(args: argparse.Namespace, client: Client, make: Callable[[int], bytes], acks: asyncio.Queue[None]) -> int:
    """Send ``args.rate`` messages a second (0: keep ``args.inflight`` unanswered) for
    ``args.seconds``; returns how many were sent."""
    sent = 0
    deadline = time.perf_counter() + args.seconds
    if args.rate:
        interval = 1 / args.rate
        next_at = time.perf_counter()
        while (t := time.perf_counter()) < deadline:
            if t >= next_at:
                client.send(make(sent))
                sent += 1
                next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        return sent
    for _ in range(args.inflight):
        client.send(make(sent))
        sent += 1
    while time.perf_counter() < deadline:
        try:
            await asyncio.wait_for(acks.get(), max(0.001, deadline - time.perf_counter()))
        except TimeoutError:
            break
        client.send(make(sent))
        sent += 1
    return sent


async def settle(watches: list[Watch], target: int, grace: float) -> None:
    """Wait until every live watcher has seen ``target`` or ``grace`` seconds pass."""
    deadline = time.perf_counter() + grace
    while time.perf_counter() < deadline:
        if all(w.last >= target or (w.client is not None and w.client.closed.done()) for w in watches):
            return
        await asyncio.sleep(0.05)


def fanout_report(name: str, args: argparse.Namespace, watches: list[Watch], began: float, elapsed: float,
                  events: int) -> dict[str, Any]:  # fmt: skip
    latency = [x for w in watches for x in w.latency]
    dropped = sum(1 for w in watches if w.client is not None and w.client.closed.done())
    delivered = sum(w.count for w in watches)
    for w in watches:
        if w.client is not None:
            w.client.close()
    return {
        "scenario": name, "watchers": len(watches), "rate": args.rate, "events": events,
        "seconds": round(elapsed, 2), "window": [began, began + elapsed], "deliveries_per_s": round(delivered / elapsed),
        "delivery_p50_ms": percentile(latency, 0.5), "delivery_p99_ms": percentile(latency, 0.99),
        "delivery_max_ms": round(max(latency), 1) if latency else None,
        "missing": sum(w.missing for w in watches) + sum(max(0, events - w.count) for w in watches
                                                          if w.client is not None and not w.client.closed.done()),
        "duplicates": sum(w.duplicate for w in watches), "dropped": dropped,
    }  # fmt: skip


async def fanout(args: argparse.Namespace) -> dict[str, Any]:
    seed = json.loads(Path(args.seed_file).read_text())
    base = f"http://{args.host}:{args.port}"
    lot = seed["lots"][-1]
    [token] = await login_all(base, seed["bidders"][-1:])
    snap = http_json(base, f"/api/lots/{lot}")
    step = snap["increment"]
    first = snap["start_price"] if snap["price"] is None else snap["price"] + step
    watches = await open_watchers(args, "/ws", b'{"type":"subscribe","lot":%d}' % lot)
    await settle(watches, snap["seq"], 30)
    acks: asyncio.Queue[None] = asyncio.Queue()
    accepted: list[int] = []

    def on_ack(payload: bytes) -> None:
        frame = _decode(payload)
        if frame.type == "ack":
            if frame.ok:
                accepted.append(frame.seq)
            acks.put_nowait(None)

    bidder = await connect(args.host, args.port, f"/ws?token={token}", on_ack)
    began = time.perf_counter()
    await drive(args, bidder, lambda n: b'{"type":"bid","lot":%d,"amount":%d,"req":"%sf%d"}' % (lot, first + n * step, RUN.encode(), n), acks)
    elapsed = time.perf_counter() - began
    await asyncio.sleep(0.2)
    target = max(accepted, default=snap["seq"])
    await settle(watches, target, 10)
    bidder.close()
    return fanout_report("fanout", args, watches, began, elapsed, len(accepted))


async def broadcast(args: argparse.Namespace) -> dict[str, Any]:
    watches = await open_watchers(args, "/broadcast-raw" if args.raw else "/broadcast", None)
    await asyncio.sleep(0.5)
    acks: asyncio.Queue[None] = asyncio.Queue()
    published: list[int] = []

    def on_ack(payload: bytes) -> None:
        frame = _decode(payload)
        published.append(frame.seq)
        acks.put_nowait(None)

    driver = await connect(args.host, args.port, "/publish", on_ack)
    began = time.perf_counter()
    await drive(args, driver, lambda n: b'{"type":"event","lot":1,"seq":%d,"kind":"bid","ts":%d,"price":%d,"bidder":"0001","ends_at":1795293573123}'
                % (n + 1, int(now_ms()), 100_000 + n * 1000), acks)  # fmt: skip
    elapsed = time.perf_counter() - began
    await asyncio.sleep(0.2)
    await settle(watches, max(published, default=0), 10)
    driver.close()
    return fanout_report("broadcast-raw" if args.raw else "broadcast", args, watches, began, elapsed, len(published))


async def idle(args: argparse.Namespace) -> dict[str, Any]:
    lot = json.loads(Path(args.seed_file).read_text())["lots"][0] if args.seed_file else 1
    watches = await open_watchers(args, args.path, b'{"type":"subscribe","lot":%d}' % lot)
    await asyncio.sleep(args.seconds)
    open_now = sum(1 for w in watches if w.client is not None and not w.client.closed.done())
    for w in watches:
        if w.client is not None:
            w.client.close()
    return {"scenario": "idle", "watchers": len(watches), "open": open_now}


SCENARIOS = {"throughput": throughput, "echo": echo, "fanout": fanout, "broadcast": broadcast, "idle": idle}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seed-file", default="", help="the JSON `hall seed-demo` printed (hall scenarios)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--inflight", type=int, default=16)
    p.add_argument("--watchers", type=int, default=5000)
    p.add_argument("--rate", type=float, default=None,
                   help="fanout/broadcast: events per second (default 10; 0 saturates); "
                        "throughput/echo: bids per second in all (default 0: --inflight per connection)")
    p.add_argument("--path", default="/ws", help="idle: the socket path")
    p.add_argument("--raw", action="store_true", help="broadcast: through the hall's raw writer, not ASGI sends")
    p.add_argument("--trace", default="", help="throughput/echo: write the long acks and this process's stalls "
                                               "(JSON) to this file")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.rate is None:
        args.rate = 10.0 if args.scenario in ("fanout", "broadcast") else 0.0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # The generator's own collector pauses must not be measured as the server's latency; it
    # makes no reference cycles that matter in a run of seconds, so the collector is off.
    gc.disable()
    result = asyncio.run(SCENARIOS[args.scenario](args))
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
