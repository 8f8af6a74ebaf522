"""Each lot's events in a hash chain (hall/record.py): computed as they are journaled, kept
across restarts and failed commits, served by ``/api/lots/{id}/record``, checked by ``hall verify``."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest
from click.testing import CliRunner
from hallkit import call, hall, runtime, user

from hall import _chain
from hall.cli import main as cli
from hall.engine import Accepted, Action, AnyEvent, LotSpec, Mode, Rejection
from hall.engine.events import (
    BidPlaced, Closed, Extended, FairWarning, Opened, Outcome, Paused, Resumed, Withdrawn, decode, encode,
)  # fmt: skip
from hall.protocol import event_frame
from hall.record import GENESIS, canonical, link, links, verify
from hall.runtime import Clock, Runtime
from hall.store import SqliteStore
from hall.store import sqlite as sqlite_module

if TYPE_CHECKING:
    from conftest import FakeClock

MINUTE = 60_000
HOUR = 60 * MINUTE
START = 10_000
INC = 1_000
AUCTIONEER = 1


def timed(now: int, **changes: Any) -> LotSpec:
    fields: dict[str, Any] = dict(seller_org=9, start_price=START, increment=INC, publicity_start=now - HOUR,
                                  bidding_start=now - MINUTE, end=now + HOUR)  # fmt: skip
    return LotSpec(**{**fields, **changes})


def chained(events: Sequence[AnyEvent]) -> list[bytes]:
    """The chain as its definition says, written out: SHA-256 of the previous digest and the
    event's public frame as Python's json writes it sorted and compact."""
    return chained_from_definition(GENESIS, events)


def _builtins(event: AnyEvent) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(event_frame(event))
    return found


@asynccontextmanager
async def running(db: Path, clock: Clock, **options: Any) -> AsyncIterator[Runtime]:
    store = SqliteStore(db)
    await store.open()
    rt = Runtime(store, clock=clock, **options)
    try:
        await rt.start()
        yield rt
    finally:
        await rt.stop()
        await store.close()


async def bids(rt: Runtime, lot: int, clock: FakeClock, n: int, tag: str) -> None:
    for i in range(n):
        price = rt.lots[lot].price
        result = await rt.bid(lot, 500 + i % 3, None, START if price is None else price + INC, f"{tag}{i}")
        assert isinstance(result, Accepted), result
        clock.advance(1_000)


async def admitted(rt: Runtime, lot: int) -> None:
    for uid in (500, 501, 502):
        await rt.register(lot, uid, None)


async def stored_chain(store: SqliteStore, lot: int) -> tuple[list[AnyEvent], list[bytes]]:
    rows = await store.chain(lot, 0)
    return [decode(body) for _, body, _ in rows], [digest for _, _, digest in rows]


# ---------------------------------------------------------------------- the definition


def test_a_fixed_event_has_a_fixed_canonical_form_and_digest() -> None:
    """The test vector of docs/durability.md. Python's json, sorted and compact without ASCII
    escapes, writes the same bytes as the msgspec encoder the store uses (Chinese, a quote and
    a newline included), so a client's recomputation matches."""
    bid = BidPlaced(lot=7, seq=1, ts=1_795_290_991_446, actor=501, req="b-1", amount=184_000, bidder="0003",
                    user=501, ends_at=1_795_294_568_517)  # fmt: skip
    withdrawn = Withdrawn(lot=7, seq=2, ts=1_795_290_994_972, actor=1, req="w-1", reason='权利人撤回委托 "原件"\n')
    assert canonical(bid) == (
        b'{"bidder":"0003","ends_at":1795294568517,"kind":"bid","lot":7,"price":184000,"seq":1,'
        b'"ts":1795290991446,"type":"event"}'
    )
    assert canonical(withdrawn) == (
        '{"kind":"withdrawn","lot":7,"reason":"权利人撤回委托 \\"原件\\"\\n","seq":2,"ts":1795290994972,"type":"event"}'
    ).encode()
    first = link(GENESIS, bid)
    assert first.hex() == "320eeb71485b7e003a9f9e4be130e02ef80ffdb683f6e32c8ef8803d674befef"
    assert link(first, withdrawn).hex() == "163d8f47dd13e30043ed9e746bf26dc2af6680dd0c5addb1b05296eb408939f1"
    assert chained([bid, withdrawn]) == [first, link(first, withdrawn)]


EVERY_SHAPE: list[AnyEvent] = [
    Opened(lot=3, seq=1, ts=10, ends_at=99),
    Opened(lot=3, seq=1, ts=10, ends_at=None),
    BidPlaced(lot=3, seq=2, ts=11, actor=5, req="r", amount=1_000, bidder="0001", user=5, ends_at=99),
    BidPlaced(lot=3, seq=2, ts=11, amount=1_000, bidder="现场 \"1\"\n", user=5, ends_at=None, floor=True),
    Extended(lot=3, seq=3, ts=12, seconds=300, ends_at=399),
    Paused(lot=3, seq=4, ts=13, actor=1),
    Resumed(lot=3, seq=5, ts=14, ends_at=499),
    Resumed(lot=3, seq=5, ts=14, ends_at=None),
    FairWarning(lot=3, seq=6, ts=15),
    Closed(lot=3, seq=7, ts=16, outcome=Outcome.SOLD, price=1_000, winner="0001", user=5),
    Closed(lot=3, seq=7, ts=16, outcome=Outcome.UNSOLD, price=None, winner=None, user=None),
    Withdrawn(lot=3, seq=8, ts=17, reason="权利人撤回\u2028 \\ \x01"),
]
"""Every event kind, each optional key of its frame present and absent, null values, and
strings JSON must escape."""


@pytest.mark.parametrize("event", EVERY_SHAPE, ids=lambda e: f"{type(e).__name__}-{e.ts}")
def test_the_chain_hashes_exactly_the_public_frame_of_every_kind_of_event(event: AnyEvent) -> None:
    """The store's own frames for the chain (hall/record.py) are ``event_frame`` sorted: the
    same bytes as Python's json writes from what ``/api/lots/{id}/events`` serves."""
    frame = json.dumps(_builtins(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(event) == frame.encode()


def test_every_code_point_is_written_as_pythons_json_writes_it() -> None:
    """Every character a string of a frame can hold (all but the surrogates, which UTF-8
    cannot carry), in a bidder number and a reason."""
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for event in (msgspec.structs.replace(EVERY_SHAPE[2], bidder=text), Withdrawn(lot=3, seq=8, ts=17, reason=text)):
        frame = json.dumps(_builtins(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical(event) == frame.encode()


def test_a_batch_of_several_lots_is_chained_as_each_lot_alone() -> None:
    """``links`` (the journal's loop) gives what ``link`` gives event by event, per lot, and
    leaves each lot's last digest in the heads it was given."""
    batch = [msgspec.structs.replace(e, lot=4) if i % 2 else e for i, e in enumerate(EVERY_SHAPE)]
    start = link(GENESIS, EVERY_SHAPE[0])
    heads = {3: start, 4: GENESIS}
    digests = links(heads, batch)
    expected = {3: chained_from_definition(start, batch[0::2]), 4: chained_from_definition(GENESIS, batch[1::2])}
    assert digests[0::2] == expected[3]
    assert digests[1::2] == expected[4]
    assert heads == {3: expected[3][-1], 4: expected[4][-1]}


def _bids() -> list[BidPlaced]:
    """Bids of every shape the C writer of hall/_chain.c meets: each optional key present and
    absent, integers at and past 64 bits (the latter written by ``canonical``), and bidders it
    writes itself (printable ASCII without a quote or a backslash) or leaves to ``canonical``."""
    plain = BidPlaced(lot=3, seq=2, ts=11, actor=5, req="r", amount=1_000, bidder="0001", user=5, ends_at=99)
    printable = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\')
    shapes: list[dict[str, Any]] = [
        {}, {"ends_at": None}, {"floor": True}, {"floor": True, "ends_at": None}, {"bidder": ""},
        {"bidder": printable}, {"bidder": "a\"b"}, {"bidder": "a\\b"}, {"bidder": "tab\there"},
        {"bidder": "\x7f"}, {"bidder": "现场"}, {"bidder": "0001\u2028"}, {"amount": 0}, {"amount": -5},
        {"amount": 2**63 - 1}, {"amount": -(2**63)}, {"amount": 2**63}, {"ts": 2**70}, {"ends_at": -(2**64)},
        {"seq": 10**18},
    ]  # fmt: skip
    return [msgspec.structs.replace(plain, **shape) for shape in shapes]


def test_the_chain_in_c_is_the_definitions_chain_for_bids_of_every_shape() -> None:
    batch = [msgspec.structs.replace(e, lot=4 + i % 3) for i, e in enumerate(_bids() + EVERY_SHAPE)]
    heads = {4: GENESIS, 5: GENESIS, 6: bytes(range(32))}
    digests = links(heads, batch)
    for lot in (4, 5, 6):
        mine = [i for i, e in enumerate(batch) if e.lot == lot]
        assert [digests[i] for i in mine] == chained_from_definition(GENESIS if lot != 6 else bytes(range(32)),
                                                                     [batch[i] for i in mine])  # fmt: skip
        assert heads[lot] == digests[mine[-1]]


def test_the_c_chain_writes_plain_bids_itself_and_asks_canonical_for_every_other_event() -> None:
    """Its fast path is taken: only the events it must not write itself reach ``canonical``
    (every kind but a bid, and bids whose bidder needs escaping or whose integers pass 64 bits)."""

    def slow(e: AnyEvent) -> bool:
        if not isinstance(e, BidPlaced):
            return True
        numbers = [e.lot, e.seq, e.ts, e.amount, *([] if e.ends_at is None else [e.ends_at])]
        return (any(not -(2**63) <= n < 2**63 for n in numbers)
                or any(not 0x20 <= ord(c) <= 0x7E or c in '"\\' for c in e.bidder))  # fmt: skip

    asked: list[AnyEvent] = []

    def spy(e: AnyEvent) -> bytes:
        asked.append(e)
        return canonical(e)

    batch = _bids() + EVERY_SHAPE
    _chain.links({3: GENESIS}, batch, BidPlaced, spy)
    assert asked == [e for e in batch if slow(e)]
    assert sum(isinstance(e, BidPlaced) for e in asked) == 10  # and the other 12 bids are written in C


def test_links_refuses_a_lot_without_a_head_and_changes_no_head() -> None:
    heads = {3: GENESIS}
    with pytest.raises(KeyError) as missing:
        links(heads, [EVERY_SHAPE[2], msgspec.structs.replace(EVERY_SHAPE[2], lot=9)])
    assert missing.value.args == (9,) and heads == {3: GENESIS}
    with pytest.raises(ValueError, match="not 32 bytes"):
        links({3: b"short"}, [EVERY_SHAPE[2]])
    assert links({}, []) == []


def chained_from_definition(previous: bytes, events: Sequence[AnyEvent]) -> list[bytes]:
    """``chained`` going on from any digest."""
    digests = []
    for event in events:
        frame = json.dumps(_builtins(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        previous = hashlib.sha256(previous + frame.encode()).digest()
        digests.append(previous)
    return digests




# ---------------------------------------------------------------------- the journal


@pytest.mark.anyio
async def test_the_digests_stored_are_the_chain_of_each_lots_whole_life(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "hall.db"
    async with running(db, clock) as rt:
        a = (await rt.create_lot(timed(clock.now))).id
        b = (await rt.create_lot(timed(clock.now, mode=Mode.LIVE))).id
        for lot in (a, b):
            await admitted(rt, lot)
        await rt.command(b, AUCTIONEER, Action.OPEN, "o")
        await bids(rt, a, clock, 3, "a")
        await bids(rt, b, clock, 2, "b")
        for action, req in ((Action.PAUSE, "p"), (Action.RESUME, "r")):
            assert isinstance(await rt.command(a, AUCTIONEER, action, req), Accepted)
        await rt.command(a, AUCTIONEER, Action.EXTEND, "x", seconds=60)
        await bids(rt, a, clock, 2, "a2")
        await rt.command(a, AUCTIONEER, Action.PAUSE, "p2")
        await rt.command(a, AUCTIONEER, Action.HAMMER, "h")
        await rt.command(b, AUCTIONEER, Action.WITHDRAW, "w", reason="权属争议")
        store = rt.store
        assert isinstance(store, SqliteStore)
        for lot in (a, b):
            events, digests = await stored_chain(store, lot)
            assert [e.seq for e in events] == list(range(1, rt.lots[lot].seq + 1))
            assert digests == chained(events)
            assert await store.head(lot) == (len(events), digests[-1])
            verdict = await verify(store, lot)
            assert (verdict.ok, verdict.events, verdict.digest) == (True, len(events), digests[-1].hex())
        assert await store.head(a + b + 1) == (0, GENESIS)


@pytest.mark.anyio
@pytest.mark.parametrize("snapshot_every", [1000, 2])
async def test_the_chain_continues_across_restarts(tmp_path: Path, clock: FakeClock, snapshot_every: int) -> None:
    """The lot's last digest is not in the snapshot: after a restart it is read once from the
    last stored event, and the chain goes on from it."""
    db = tmp_path / "hall.db"
    async with running(db, clock, snapshot_every=snapshot_every) as rt:
        lot = (await rt.create_lot(timed(clock.now))).id
        await admitted(rt, lot)
        await bids(rt, lot, clock, 5, "a")
    for run in range(2):
        async with running(db, clock, snapshot_every=snapshot_every) as rt:
            await bids(rt, lot, clock, 3, f"r{run}-")
    async with running(db, clock) as rt:
        assert isinstance(rt.store, SqliteStore)
        events, digests = await stored_chain(rt.store, lot)
        assert len(events) == 1 + 5 + 3 + 3
        assert digests == chained(events)
        assert (await verify(rt.store, lot)).ok


@pytest.mark.anyio
@pytest.mark.parametrize("written", [False, True], ids=["nothing-written", "written-then-raised"])
async def test_after_a_failed_commit_the_chain_goes_on_from_what_is_stored(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, written: bool
) -> None:
    """A failed commit makes the runtime reload the lot; the store forgets the lot's digest and
    reads it again, so the chain follows what is stored even when the failed commit reached the
    disk after all (an error reported after the data was written)."""
    db = tmp_path / "hall.db"
    real = sqlite_module._write_batch
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(*args: Any) -> None:
        if failures and written:
            real(*args)
        if failures:
            raise failures.pop()
        real(*args)

    async with running(db, clock) as rt:
        lot = (await rt.create_lot(timed(clock.now))).id
        await admitted(rt, lot)
        await bids(rt, lot, clock, 2, "a")
        monkeypatch.setattr(sqlite_module, "_write_batch", flaky)
        failed = await rt.bid(lot, 500, None, START + 5 * INC, "x")
        assert not isinstance(failed, Accepted)
        while isinstance(await rt.bid(lot, 501, None, START + 6 * INC, "probe"), Rejection):
            await asyncio.sleep(0.01)  # halted until the reload (a task) is done: `unavailable`
        await bids(rt, lot, clock, 2, "b")
        assert isinstance(rt.store, SqliteStore)
        events, digests = await stored_chain(rt.store, lot)
    assert len(events) == 1 + 2 + (1 if written else 0) + 1 + 2
    assert digests == chained(events)


# ---------------------------------------------------------------------- databases from before the chain


@pytest.mark.anyio
async def test_a_database_from_before_the_chain_gets_every_digest_in_its_migration(tmp_path: Path) -> None:
    """Events stored before the chain's migration are chained by it, lot by lot in seq order, whatever
    order they were stored in; what it computes is what the journal would have."""
    db = tmp_path / "old.db"
    now = 1_767_225_600_000
    spec = msgspec.msgpack.encode(timed(now))
    lots = {
        1: [BidPlaced(lot=1, seq=s, ts=now + s, actor=500, req=f"a{s}", amount=START + s * INC, bidder="0001",
                      user=500, ends_at=now + HOUR) for s in (1, 2, 3)],  # fmt: skip
        2: [Withdrawn(lot=2, seq=1, ts=now, actor=1, req="w", reason="撤回")],
    }
    order = [lots[1][1], lots[2][0], lots[1][0], lots[1][2]]  # seq 2 of lot 1 stored before its seq 1
    before = next(i for i, script in enumerate(sqlite_module.MIGRATIONS) if "hall_chain" in script)
    with closing(sqlite3.connect(db)) as conn:
        for script in sqlite_module.MIGRATIONS[:before]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version={before}")
        conn.executemany("INSERT INTO lots (id, spec, created_at) VALUES (?, ?, 0)", [(1, spec), (2, spec)])
        conn.executemany("INSERT INTO events (lot, seq, body) VALUES (?, ?, ?)", [(e.lot, e.seq, encode(e)) for e in order])
        conn.commit()
    store = SqliteStore(db)
    await store.open()
    try:
        for lot, events in lots.items():
            stored, digests = await stored_chain(store, lot)
            assert stored == events
            assert digests == chained(events)
            assert (await verify(store, lot)).ok
        # and the journal chains on from the migrated digests
        more = BidPlaced(lot=1, seq=4, ts=now + 4, actor=501, req="b", amount=START + 4 * INC, bidder="0002",
                         user=501, ends_at=now + HOUR)  # fmt: skip
        await store.write([more], [])
        assert (await stored_chain(store, 1))[1] == chained([*lots[1], more])
    finally:
        await store.close()


# ---------------------------------------------------------------------- hall verify


def _verify(db: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(cli, ["verify", "--db", str(db), *args])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


async def _played(db: Path, clock: FakeClock) -> tuple[int, int, list[bytes]]:
    async with running(db, clock) as rt:
        lot = (await rt.create_lot(timed(clock.now))).id
        other = (await rt.create_lot(timed(clock.now))).id
        await admitted(rt, lot)
        await bids(rt, lot, clock, 6, "a")
        assert isinstance(rt.store, SqliteStore)
        return lot, other, (await stored_chain(rt.store, lot))[1]


def _tamper(db: Path, sql: str, params: tuple[object, ...]) -> None:
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute(sql, params).rowcount == 1
        conn.commit()


@pytest.mark.anyio
async def test_hall_verify_prints_each_lots_final_digest(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "hall.db"
    lot, other, digests = await _played(db, clock)
    code, lines = await anyio.to_thread.run_sync(_verify, db, "--all")
    assert code == 0
    assert lines == [
        {"lot": lot, "ok": True, "events": 7, "digest": digests[-1].hex()},
        {"lot": other, "ok": True, "events": 1, "digest": lines[1]["digest"]},
    ]
    assert await anyio.to_thread.run_sync(_verify, db, "--lot", str(lot)) == (0, lines[:1])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "problem"),
    [("body", "digest"), ("digest", "digest"), ("delete", "missing"), ("garbage", "unreadable")],
)
async def test_hall_verify_names_the_seq_of_a_changed_event(
    tmp_path: Path, clock: FakeClock, change: str, problem: str
) -> None:
    """Someone with the database file raises the price of bid 4 (or changes its digest, or
    deletes it, or overwrites it): verification names seq 4 and exits 1; the other lot is fine."""
    db = tmp_path / "hall.db"
    lot, other, _ = await _played(db, clock)
    async with running(db, clock) as rt:
        [bid] = await rt.store.events_since(lot, 3, 1)
    assert isinstance(bid, BidPlaced) and bid.seq == 4
    where = "WHERE lot = ? AND seq = 4"
    if change == "body":
        forged = BidPlaced(**{**{f: getattr(bid, f) for f in bid.__struct_fields__}, "amount": bid.amount + 50 * INC})
        _tamper(db, f"UPDATE events SET body = ? {where}", (encode(forged), lot))
    elif change == "digest":
        _tamper(db, f"UPDATE events SET digest = ? {where}", (bytes(32), lot))
    elif change == "delete":
        _tamper(db, f"DELETE FROM events {where}", (lot,))
    else:
        _tamper(db, f"UPDATE events SET body = ? {where}", (b"\xc1", lot))
    code, lines = await anyio.to_thread.run_sync(_verify, db, "--all")
    assert code == 1
    assert lines[0] == {"lot": lot, "ok": False, "events": 3, "seq": 4, "problem": problem}
    assert lines[1]["ok"] is True and lines[1]["lot"] == other
    assert await anyio.to_thread.run_sync(_verify, db, "--lot", str(lot)) == (1, lines[:1])


def test_hall_verify_wants_one_lot_or_all_of_an_existing_store(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["verify", "--db", str(tmp_path / "none.db"), "--all"])
    assert missing.exit_code == 2 and not (tmp_path / "none.db").exists()
    db = tmp_path / "hall.db"
    with closing(sqlite3.connect(db)):
        pass
    assert runner.invoke(cli, ["verify", "--db", str(db)]).exit_code == 2
    assert runner.invoke(cli, ["verify", "--db", str(db), "--all", "--lot", "1"]).exit_code == 2
    unknown = runner.invoke(cli, ["verify", "--db", str(db), "--lot", "5"])
    assert unknown.exit_code == 2 and "5" in unknown.output


# ---------------------------------------------------------------------- GET /api/lots/{id}/record


def test_the_record_api_serves_digests_anyone_can_recompute_from_its_events(tmp_path: Path) -> None:
    with hall(tmp_path) as client:
        rt = runtime(client)
        now = rt.clock()
        lot_id = call(client, rt.create_lot, timed(now)).id
        bidders = [user(client, f"1380013800{i}", verified=True) for i in range(2)]
        for uid in bidders:
            call(client, rt.register, lot_id, uid, None)
        for i in range(4):
            price = rt.lots[lot_id].price
            assert isinstance(call(client, rt.bid, lot_id, bidders[i % 2], None, START if price is None else price + INC,
                                   f"r{i}"), Accepted)  # fmt: skip
        call(client, functools.partial(rt.command, reason="权利人撤回 “委托”"), lot_id, AUCTIONEER, Action.WITHDRAW, "w")
        whole = client.get(f"/api/lots/{lot_id}/record").json()
        events = client.get(f"/api/lots/{lot_id}/events").json()["events"]

        assert whole["events"] == events
        assert whole["previous"] == GENESIS.hex() and whole["next"] is None
        previous, digests = GENESIS, []
        for frame in whole["events"]:  # as a client would, from the answer alone
            text = json.dumps(frame, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            previous = hashlib.sha256(previous + text.encode()).digest()
            digests.append(previous.hex())
        assert whole["digests"] == digests and len(digests) == 6
        assert whole["digest"] == digests[-1]

        page = client.get(f"/api/lots/{lot_id}/record?since=2&limit=2").json()
        assert (page["previous"], page["digests"], page["digest"], page["next"]) == (
            digests[1], digests[2:4], digests[3], 4
        )
        assert [e["seq"] for e in page["events"]] == [3, 4]
        end = client.get(f"/api/lots/{lot_id}/record?since=6").json()
        assert (end["events"], end["previous"], end["digest"], end["next"]) == ([], digests[5], digests[5], None)

        beyond = client.get(f"/api/lots/{lot_id}/record?since=7")
        assert beyond.status_code == 400 and beyond.json()["error"]["code"] == "bad_request"
        assert client.get(f"/api/lots/{lot_id}/record?limit=0").status_code == 400
        assert client.get(f"/api/lots/{lot_id}/record?limit=5001").status_code == 400
        unknown = client.get(f"/api/lots/{lot_id + 100}/record")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_lot"
