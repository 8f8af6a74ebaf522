"""Validated bids per second through the engine alone: one lot, in-process, one core.

Prints one JSON line. Two traffic mixes, each the median of several runs: every bid valid
(each raises the price by one increment), and one in four refused (too low or off the
increment), which is what a busy lot sees. No I/O, no event loop: only ``Lot.bid``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import msgspec

from hall.engine import Lot, LotSpec, Registrant

BIDDERS = 50


def _lot() -> Lot:
    spec = LotSpec(seller_org=1, start_price=100_000, increment=1_000,
                   publicity_start=0, bidding_start=1, end=10**13)  # fmt: skip
    lot = Lot(1, spec)
    for user in range(BIDDERS):
        lot.register(user, Registrant(f"{user + 1:04d}", 100 + user))
    lot.advance(1)
    return lot


def run(n: int, refused_every: int) -> tuple[float, int]:
    lot = _lot()
    reqs = [f"r{i}" for i in range(n)]
    outbox_cap = 4096
    accepted = 0
    start = time.perf_counter()
    for i in range(n):
        user = i % BIDDERS
        price = lot.price or 99_000
        amount = price + 1_000 if not refused_every or i % refused_every else price + 500
        if lot.bid(user, 100 + user, amount, reqs[i], 2).ok:
            accepted += 1
        if len(lot.outbox) >= outbox_cap:  # what the runtime does when it hands events on
            lot.outbox = []
    elapsed = time.perf_counter() - start
    return n / elapsed, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bids", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    result: dict[str, object] = {"bench": "engine", "bids": args.bids, "runs": args.runs,
                                 "python": sys.version.split()[0]}  # fmt: skip
    for name, every in (("all_valid", 0), ("quarter_refused", 4)):
        rates = [run(args.bids, every)[0] for _ in range(args.runs)]
        result[f"{name}_bids_per_s"] = round(statistics.median(rates))
        result[f"{name}_spread"] = [round(min(rates)), round(max(rates))]
    print(msgspec.json.encode(result).decode())


if __name__ == "__main__":
    main()
