"""Durable events per second through the SQLite store: group commit against one
transaction per event, with the same producers in the same run.

Producers are concurrent tasks that each append a bid event and wait for it to be durable,
then append the next, as bidders waiting for their acks do. Group commit lets every event
appended during one commit share the next; ``--max-batch 1`` is the one-transaction-per-event
baseline. Both at ``synchronous=FULL`` (the store's setting). Beside them, plain sqlite3
writing the same rows in the same batches gives the ceiling this disk allows at the time of
the run (``share_of_raw``). Prints one JSON line.
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


def raw_ceiling(path: Path, *, events: int, batch: int, lots: int) -> float:
    """Plain sqlite3 on the store's own schema and pragmas, same batch size, no asyncio:
    the most the journal could do on this disk at this moment."""
    import sqlite3

    from hall.store.sqlite import MIGRATIONS

    db = sqlite3.connect(path, isolation_level="IMMEDIATE")
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536", "wal_autocheckpoint=10000"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript(MIGRATIONS[0])
    db.executemany("INSERT INTO lots (id, spec, created_at) VALUES (?, x'', 0)", [(i,) for i in range(lots)])
    db.commit()
    seqs = [0] * lots
    body = bytes(32)  # the size of an encoded bid event
    rows = []
    for i in range(events):
        seqs[i % lots] += 1
        rows.append((i % lots, seqs[i % lots], body))
    start = time.perf_counter()
    for k in range(0, events, batch):
        db.executemany("INSERT INTO events (lot, seq, body) VALUES (?, ?, ?)", rows[k : k + batch])
        db.commit()
    elapsed = time.perf_counter() - start
    db.close()
    return events / elapsed


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
        group, single, raw = [], [], []
        for run in range(args.runs):  # interleaved, so that all three see the same machine
            raw.append(raw_ceiling(Path(tmp, f"r{run}.db"), events=args.events, batch=args.producers, lots=args.lots))
            group.append(await measure(Path(tmp, f"g{run}.db"), events=args.events,
                                       producers=args.producers, lots=args.lots, max_batch=4096))  # fmt: skip
            single.append(await measure(Path(tmp, f"s{run}.db"), events=args.baseline_events,
                                        producers=args.producers // 10, lots=args.lots, max_batch=1))  # fmt: skip
    ceiling = statistics.median(raw)
    g = statistics.median(r["events_per_s"] for r in group)
    s = statistics.median(r["events_per_s"] for r in single)
    print(msgspec.json.encode({
        "bench": "journal", "loop": "uvloop", "synchronous": "FULL", "runs": args.runs, "producers": args.producers,
        "group_commit_events_per_s": round(g),
        "group_commit_mean_batch": round(statistics.median(r["mean_batch"] for r in group)),
        "one_txn_per_event_events_per_s": round(s),
        "ratio": round(g / s, 1),
        "raw_sqlite3_rows_per_s": round(ceiling),
        "share_of_raw": round(g / ceiling, 2),
    }).decode())


if __name__ == "__main__":
    import uvloop  # the loop the server runs on (uvicorn[standard] picks it)

    uvloop.run(main())
