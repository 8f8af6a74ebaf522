"""Recovery: how long a hall whose store holds a million bid events takes to serve again.

Builds (or, with ``--reuse``, reuses) a store the way a running hall writes one: in-process,
through ``Runtime`` and the group-commit ``Journal`` on the real SQLite store, with the
runtime's own snapshotting (every ``--snapshot-every`` events per lot, ``HALL_SNAPSHOT_EVERY``'s
default), bids interleaved across lots as concurrent bidders make them. Every lot is timed and
ends in 30 days, so all of them are still live when the server comes back and each must be
rebuilt from its snapshot plus the events after it.

The default shape is the issue's (100 live lots, 10,000 bids each on average), with the
counts per lot spread by up to a snapshot interval either way, so that the events after each
lot's last snapshot (what start replays) run from none to almost a whole interval, as they do
when a server stops at an arbitrary moment. ``--lots 10000 --events 1000000`` is the other
end: lots of 100 bids never reach a snapshot, so start replays every event.

Then, ``--runs`` times, it starts ``hall serve`` on the store as a real process, polls
``GET /healthz`` until 200 (uvicorn binds its socket only once the lifespan, i.e. recovery, is
done), and checks the lots against what the builder recorded: ``GET /api/lots`` for all of
them (state, seq, price, leader, bid count) and ``GET /api/lots/{id}`` for ``--sample`` of
them (the same and the recent bids), then stops the server. Times are from just before the
process is spawned; ``recovery_s`` is what ``Runtime.start`` logged it took. The same start
on an empty store is what the interpreter, the imports and uvicorn cost by themselves.
Prints one JSON line. Talks only to 127.0.0.1; the server is killed on exit, failure included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from hall.engine import LotSpec, Registrant, Rejection
from hall.engine.view import LotView
from hall.runtime import Pending, Runtime, wall_clock
from hall.store import SqliteStore

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
SELLER_ORGS = 5
CHUNK = 20_000
"""Bids judged between two waits for durability: a few group commits' worth, as under load."""


class Expected(msgspec.Struct):
    """What the builder saw durable for one lot, which the restarted server must show."""

    state: str
    seq: int
    price: int | None
    leader: str | None
    bid_count: int
    bids: list[tuple[int, int, str, int]]
    """The recent bids (seq, amount, bidder, ts), oldest first."""


class Built(msgspec.Struct):
    lots: dict[int, Expected]
    bids: int
    events: int
    snapshot_every: int
    build_s: float


# ---------------------------------------------------------------------- the store


def expect(view: LotView) -> Expected:
    return Expected(
        state=view.state.value, seq=view.seq, price=view.price, leader=view.leader,
        bid_count=view.bid_count, bids=[(b.seq, b.amount, b.bidder, b.ts) for b in view.recent],
    )  # fmt: skip


def _counts(lots: int, events: int, spread: int, rng: random.Random) -> list[int]:
    """Bids per lot summing to ``events``, moved pairwise by up to ``spread`` either way."""
    base, extra = divmod(events, lots)
    counts = [base + (1 if i < extra else 0) for i in range(lots)]
    for i in range(0, lots - 1, 2):
        shift = rng.randrange(min(spread, counts[i + 1]))
        counts[i] += shift
        counts[i + 1] -= shift
    return counts


async def build(db: Path, *, lots: int, events: int, bidders: int, snapshot_every: int, seed: int) -> Built:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    started = time.perf_counter()
    store = SqliteStore(db)
    await store.open()
    runtime = Runtime(store, snapshot_every=snapshot_every)
    await runtime.start()
    try:
        now = wall_clock()
        specs = []
        for i in range(lots):
            increment = rng.choice((1_000, 2_000, 5_000, 10_000))
            specs.append(LotSpec(
                seller_org=1 + i % SELLER_ORGS, start_price=increment * rng.randrange(20, 400), increment=increment,
                publicity_start=now - 8 * DAY, bidding_start=now - MINUTE, end=now + 30 * DAY,
            ))  # fmt: skip
        created = await asyncio.gather(*(
            runtime.create_lot(spec, f"一种技术成果的专利权转让（{i + 1}）", "新材料专场")
            for i, spec in enumerate(specs)
        ))  # fmt: skip
        ids = [lot.id for lot in created]

        # Admitted bidders: each lot its own draw from a pool of enterprises (each its own org).
        pool = range(1_000, 1_000 + max(bidders * 10, 200))
        admissions = [(lot_id, user, 100_000 + user) for lot_id in ids for user in rng.sample(pool, bidders)]
        registrants = await runtime.register_many(admissions)
        admitted: dict[int, list[tuple[int, Registrant]]] = {}
        for (lot_id, user, _), registrant in zip(admissions, registrants, strict=True):
            admitted.setdefault(lot_id, []).append((user, registrant))

        # Bids in a random interleaving of the lots, each raising its lot by one increment.
        left = dict(zip(ids, _counts(lots, events, snapshot_every, rng), strict=True))
        order = [lot_id for lot_id, n in left.items() for _ in range(n)]
        rng.shuffle(order)
        pending: Pending = None
        for k, lot_id in enumerate(order):
            lot = runtime.lots[lot_id]
            user, registrant = admitted[lot_id][rng.randrange(bidders)]
            amount = lot.spec.start_price if lot.price is None else lot.price + lot.spec.increment
            req = f"{k * 2654435761 % 2**64:016x}"  # 16 characters like the pages' request ids, all different
            result, pending = runtime.judge_bid(lot_id, user, registrant.org, amount, req)
            if isinstance(result, Rejection):
                raise RuntimeError(f"bid {k} on lot {lot_id} refused: {result}")
            if k % CHUNK == CHUNK - 1 and pending is not None:
                await pending  # a failed commit raises StoreError here: the store would not be what we record
        if pending is not None:
            await pending

        expected = {lot_id: expect(view) for lot_id, view in runtime.views.items()}
        for lot_id in ids:
            if runtime.durable[lot_id] != runtime.lots[lot_id].seq:
                raise RuntimeError(f"lot {lot_id} is not wholly durable")
    finally:
        await runtime.stop()
        await store.close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (stored,) = conn.execute("SELECT count(*) FROM events").fetchone()
    return Built(lots=expected, bids=len(order), events=stored, snapshot_every=snapshot_every,
                 build_s=round(time.perf_counter() - started, 1))  # fmt: skip


# ---------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child: be killed if the benchmark dies, however it dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def server(db: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALL_")}
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hall.cli", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=err, env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no other thread runs by now (the build's loop has ended)
        )  # fmt: skip
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        if time.perf_counter() > deadline:
            raise TimeoutError("the server was not ready in time")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            status, _ = _get(conn, "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.005)


class Summary(msgspec.Struct):
    id: int
    state: str
    seq: int
    price: int | None
    leader: str | None
    bid_count: int


class BidRecord(msgspec.Struct, array_like=False):
    seq: int
    amount: int
    bidder: str
    ts: int


class Snapshot(msgspec.Struct):
    lot: int
    state: str
    seq: int
    price: int | None
    leader: str | None
    bid_count: int
    bids: list[BidRecord]


def verify(port: int, lots: dict[int, Expected], sample: int) -> None:
    """Every lot as ``/api/lots`` lists it, and ``sample`` lots (spread over the ids) as
    ``/api/lots/{id}`` shows them, recent bids included, are what the builder saw."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, body = _get(conn, "/api/lots")
        if status != 200:
            raise AssertionError(f"/api/lots answered {status}")
        listed = {s.id: s for s in msgspec.json.decode(body, type=list[Summary])}
        if listed.keys() != lots.keys():
            raise AssertionError(f"/api/lots lists {len(listed)} lots, the store holds {len(lots)}")
        for lot_id, want in lots.items():
            got = listed[lot_id]
            if (got.state, got.seq, got.price, got.leader, got.bid_count) != (
                want.state, want.seq, want.price, want.leader, want.bid_count
            ):  # fmt: skip
                raise AssertionError(f"lot {lot_id} listed as {got}, expected {want}")
        ids = sorted(lots)
        for lot_id in ids[:: max(1, len(ids) // sample)] if sample else []:
            want = lots[lot_id]
            status, body = _get(conn, f"/api/lots/{lot_id}")
            if status != 200:
                raise AssertionError(f"/api/lots/{lot_id} answered {status}")
            snap = msgspec.json.decode(body, type=Snapshot)
            bids = [(b.seq, b.amount, b.bidder, b.ts) for b in snap.bids]
            if (snap.state, snap.seq, snap.price, snap.leader, snap.bid_count, bids) != (
                want.state, want.seq, want.price, want.leader, want.bid_count, want.bids
            ):  # fmt: skip
                raise AssertionError(f"lot {lot_id} is {snap}, expected {want}")
    finally:
        conn.close()


class LogLine(msgspec.Struct):
    logger: str = ""
    msg: str = ""


def recovery_seconds(log: Path) -> float | None:
    """What ``Runtime.start`` took, as the server logged it ("recovered … in S s")."""
    for line in log.read_bytes().splitlines():
        with contextlib.suppress(msgspec.DecodeError):
            record = msgspec.json.decode(line, type=LogLine)
            if record.logger == "hall.runtime" and record.msg.startswith("recovered "):
                return float(record.msg.rsplit(" ", 2)[-2])
    return None


def evict(db: Path) -> None:
    """Drop the store's files from the page cache, as after a reboot (those files only)."""
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def start_and_verify(
    db: Path, lots: dict[int, Expected], timeout: float, log: Path, sample: int, *, cold: bool = False
) -> dict[str, Any]:
    if cold:
        evict(db)
    port = _free_port()
    started = time.perf_counter()
    with server(db, port, log) as proc:
        try:
            wait_ready(proc, port, started + timeout)
            ready = time.perf_counter() - started
            verify(port, lots, sample)
            verified = time.perf_counter() - started
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
    return {"ready_s": round(ready, 3), "verified_s": round(verified, 3), "recovery_s": recovery_seconds(log)}


def import_time() -> float:
    """Interpreter start plus importing what ``hall serve`` imports before it recovers."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import uvicorn, uvloop, hall.cli, hall.web.app"], check=True)
    return time.perf_counter() - started


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=Path("var/recovery.db"))
    parser.add_argument("--reuse", action="store_true", help="use the store at --db as built before")
    parser.add_argument("--lots", type=int, default=100)
    parser.add_argument("--events", type=int, default=1_000_000, help="accepted bids in all")
    parser.add_argument("--bidders", type=int, default=20, help="admitted bidders per lot")
    parser.add_argument("--snapshot-every", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one start may take")
    parser.add_argument("--sample", type=int, default=100, help="lots also checked one by one (all are listed)")
    parser.add_argument("--cold", action="store_true", help="evict the store from the page cache before each start")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    # SIGTERM ends the benchmark through its finally blocks, which stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    expected_path = args.db.with_name(args.db.name + ".expected.json")
    if args.reuse:
        built = msgspec.json.decode(expected_path.read_bytes(), type=Built)
    else:
        import uvloop  # the loop the server runs on

        args.db.parent.mkdir(parents=True, exist_ok=True)
        built = uvloop.run(build(args.db, lots=args.lots, events=args.events, bidders=args.bidders,
                                 snapshot_every=args.snapshot_every, seed=args.seed))  # fmt: skip
        expected_path.write_bytes(msgspec.json.encode(built))
    db_bytes = sum(p.stat().st_size for p in args.db.parent.glob(args.db.name + "*") if not p.name.endswith(".json"))

    runs: list[dict[str, Any]] = []
    empty: list[float] = []
    imports: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):  # interleaved, so that all three see the same machine
            imports.append(import_time())
            empty_db = Path(tmp, "empty.db")
            empty.append(start_and_verify(empty_db, {}, args.timeout, Path(tmp, "empty.log"), 0)["ready_s"])
            runs.append(start_and_verify(args.db, built.lots, args.timeout, Path(tmp, "server.log"), args.sample,
                                         cold=args.cold))  # fmt: skip
    line: dict[str, Any] = {
        "scenario": "recovery",
        "events": built.events,
        "bids": built.bids,
        "lots": len(built.lots),
        "snapshot_every": built.snapshot_every,
        "page_cache": "cold" if args.cold else "warm",
        "runs": runs,
        "ready_median_s": statistics.median(r["ready_s"] for r in runs),
        "verified_median_s": statistics.median(r["verified_s"] for r in runs),
        "recovery_median_s": statistics.median(r["recovery_s"] or 0.0 for r in runs),
        "empty_store_ready_median_s": round(statistics.median(empty), 3),
        "import_median_s": round(statistics.median(imports), 3),
        "db_bytes": db_bytes,
        "build_s": built.build_s,
    }
    print(msgspec.json.encode(line).decode())


if __name__ == "__main__":
    main()
