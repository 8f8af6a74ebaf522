"""A second, independent bidder beside the load generator: one JSON line.

The load generator (``bench/loadgen.py``) shares two cores with the server and measures acks
in its own event loop; if that loop stalls, its acks look late though the server was quick.
This client is another process on another WebSocket implementation (the ``websocket-client``
library, blocking, no event loop): it bids on a lot of its own at a low rate, one bid at a
time, and times each ack. Where its tail is far below the generator's, the difference is
the generator's.

    python bench/sideclient.py --port 8000 --seed-file var/seed.json --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket  # websocket-client, already a dev dependency (locust's WebSocket users)


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else None


def http_json(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seed-file", required=True)
    p.add_argument("--lot", type=int, default=-1, help="index into the seed's lots (default: the last)")
    p.add_argument("--bidder", type=int, default=-2, help="index into the seed's bidders")
    p.add_argument("--rate", type=float, default=50.0, help="bids a second (one in flight at a time)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--min-acks", type=int, default=5,
                   help="go on past --seconds (for at most 30 s more) until this many acks are timed")
    args = p.parse_args()

    seed = json.loads(Path(args.seed_file).read_text())
    base = f"http://{args.host}:{args.port}"
    account = seed["bidders"][args.bidder]
    token = http_json(base, "/api/login", {"phone": account["phone"], "password": account["password"]})["token"]
    lot = seed["lots"][args.lot]
    snap = http_json(base, f"/api/lots/{lot}")
    step = snap["increment"]
    amount = snap["start_price"] if snap["price"] is None else snap["price"] + step
    ws = websocket.create_connection(f"ws://{args.host}:{args.port}/ws?token={token}", timeout=10)
    ws.recv()  # welcome
    run = f"side{os.getpid():x}.{time.time_ns() % 10**9:x}."
    latency: list[float] = []
    refused = 0
    interval = 1 / args.rate
    began = time.perf_counter()
    measure_from, end = began + args.warmup, began + args.warmup + args.seconds
    # On a starved machine one ack can outlast a short window; a report of no acks says nothing.
    deadline = end + 30
    n = 0
    while (now := time.perf_counter()) < end or (len(latency) < args.min_acks and now < deadline):
        req = f"{run}{n}"
        sent = time.perf_counter()
        ws.send(json.dumps({"type": "bid", "lot": lot, "amount": amount, "req": req}))
        while True:
            frame = json.loads(ws.recv())
            if frame.get("req") == req:
                break
        received = time.perf_counter()
        if frame.get("ok"):
            amount += step
        else:
            refused += 1
        if sent >= measure_from:
            latency.append((received - sent) * 1000)
        n += 1
        time.sleep(max(0.0, began + n * interval - time.perf_counter()))
    ws.close()
    print(json.dumps({"scenario": "side", "lot": lot, "rate": args.rate, "acks": len(latency), "refused": refused,
                      "window": [measure_from, max(end, time.perf_counter())], "ack_p50_ms": percentile(latency, 0.5),
                      "ack_p99_ms": percentile(latency, 0.99), "ack_max_ms": percentile(latency, 1.0)}))  # fmt: skip


if __name__ == "__main__":
    main()
