"""Durable events per second through the SQLite store: group commit against one
transaction per event, with the same producers in the same run.

Producers are concurrent tasks that each append a bid event and wait for it to be durable,
then append the next, as bidders waiting for their acks do. Group commit lets every event
appended during one commit share the next; ``--max-batch 1`` is the one-transaction-per-event
baseline. Both at ``synchronous=FULL`` (the store's setting). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import msgspec

from hall.engine import BidPlaced, LotSpec
from hall.store import Journal, SqliteStore

SPEC = LotSpec(seller_org=1, start_price=1_000, increment=100, publicity_start=0, bidding_start=1, end=10**13)


async def measure(path: Path, *, events: int, producers: int, lots: int, max_batch: int) -> dict[str, float]:
    store = SqliteStore(path)
    await store.open()
    try:
        ids = [await store.create_lot(SPEC, "bench") for _ in range(lots)]
        seqs = dict.fromkeys(ids, 0)
        sizes: list[int] = []
        journal = Journal(store, max_batch=max_batch, on_commit=lambda batch: sizes.append(len(batch)))
        journal.start()
        per_producer = events // producers

        # Built before the clock starts: making events is the engine's work (bench/engine.py).
        # Each producer appends to its lot in order, and the seqs of a lot are handed out in
        # the order the producers will run, so every lot's journal stays gapless.
        plan: list[list[BidPlaced]] = [[] for _ in range(producers)]
        for i in range(per_producer):
            for p in range(producers):
                lot = ids[p % lots]
                seqs[lot] += 1
                seq = seqs[lot]
                plan[p].append(BidPlaced(lot=lot, seq=seq, ts=seq, actor=p, req=f"{p}-{i}",
                                         amount=1_000 + 100 * seq, bidder=f"{p:04d}", user=p, ends_at=10**13))  # fmt: skip

        async def producer(p: int) -> None:
            for event in plan[p]:
                await journal.append([event])

        start = time.perf_counter()
        await asyncio.gather(*(producer(p) for p in range(producers)))
        elapsed = time.perf_counter() - start
        await journal.close()
        done = per_producer * producers
        return {"events_per_s": done / elapsed, "commits": len(sizes), "mean_batch": done / len(sizes)}
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--baseline-events", type=int, default=3_000)
    parser.add_argument("--producers", type=int, default=2_000)
    parser.add_argument("--lots", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the database files go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        group, single = [], []
        for run in range(args.runs):  # interleaved, so that both see the same machine
            group.append(await measure(Path(tmp, f"g{run}.db"), events=args.events,
                                       producers=args.producers, lots=args.lots, max_batch=4096))  # fmt: skip
            single.append(await measure(Path(tmp, f"s{run}.db"), events=args.baseline_events,
                                        producers=args.producers // 10, lots=args.lots, max_batch=1))  # fmt: skip
    g = statistics.median(r["events_per_s"] for r in group)
    s = statistics.median(r["events_per_s"] for r in single)
    print(msgspec.json.encode({
        "bench": "journal", "synchronous": "FULL", "runs": args.runs, "producers": args.producers,
        "group_commit_events_per_s": round(g),
        "group_commit_mean_batch": round(statistics.median(r["mean_batch"] for r in group)),
        "one_txn_per_event_events_per_s": round(s),
        "ratio": round(g / s, 1),
    }).decode())


if __name__ == "__main__":
    asyncio.run(main())
