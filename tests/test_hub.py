"""The fan-out hub over a real runtime and SQLite store: each frame encoded once and shared,
bounded queues that drop a slow watcher without touching the others, page fragments rendered
once per lot per batch per language, and resumes (ring or store) with no gap and no duplicate,
including events that are published while the store is being read."""

from __future__ import annotations

import asyncio
import inspect
import threading
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hall import hub as hub_module
from hall.engine import Accepted, AnyEvent, LotSpec
from hall.engine.view import LotView
from hall.hub import RING, BehindError, Hub, Kind, Watcher
from hall.protocol import unframed
from hall.runtime import Runtime
from hall.store import SqliteStore, StoreError
from hall.store.writer import Batch

if TYPE_CHECKING:
    from conftest import FakeClock

pytestmark = pytest.mark.anyio

SELLER = 9
START = 10_000
INC = 1_000
HOUR = 3_600_000


class GatedStore(SqliteStore):
    """The real store, whose event reads and commits the test can hold at chosen points."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.before_read = asyncio.Event()
        self.before_read.set()
        self.after_read = asyncio.Event()
        self.after_read.set()
        self.reading = asyncio.Event()
        self.reads = 0
        self.after_write = threading.Event()
        """Held: the events are in the database, but the journal has not been told (not
        published). Held on the writer thread, where commits run."""
        self.after_write.set()
        self.written = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        self.loop = asyncio.get_running_loop()
        await super().open()

    async def events_since(self, lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        self.reads += 1
        self.reading.set()
        await self.before_read.wait()
        found = await super().events_since(lot, seq, limit)
        await self.after_read.wait()
        return found

    def _commit(self, batches: Sequence[Batch]) -> None:
        assert self.loop is not None
        super()._commit(batches)
        self.loop.call_soon_threadsafe(self.written.set)
        self.after_write.wait()


class Renders:
    """A page renderer that records its calls and makes a new string object each time."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple[int, ...] | None, Kind, str]] = []

    def __call__(self, view: LotView, events: Sequence[AnyEvent] | None, kind: Kind, lang: str) -> str:
        seqs = None if events is None else tuple(e.seq for e in events)
        self.calls.append((view.id, seqs, kind, lang))
        return f"<{kind}:{lang}:{view.id}:{view.seq}:{seqs}>"


class Hall:
    def __init__(self, runtime: Runtime, store: GatedStore, hub: Hub, renders: Renders) -> None:
        self.runtime = runtime
        self.store = store
        self.hub = hub
        self.renders = renders
        self.batches: list[list[AnyEvent]] = []
        runtime.listen(lambda events: self.batches.append(list(events)))
        self._bidder = 1000
        self._req = 0

    async def lot(self) -> int:
        now = self.runtime.clock()
        spec = LotSpec(seller_org=SELLER, start_price=START, increment=INC, publicity_start=now - HOUR,
                       bidding_start=now - 60_000, end=now + HOUR)  # fmt: skip
        lot = (await self.runtime.create_lot(spec)).id
        await self.runtime.register(lot, self._bidder, None)
        return lot

    async def bids(self, lot: int, n: int) -> list[int]:
        """``n`` accepted bids on ``lot``, judged together (so they share commits); their seqs."""
        price = self.runtime.lots[lot].price
        first = START if price is None else price + INC
        reqs = [f"r{self._req + i}" for i in range(n)]
        self._req += n
        placing = (self.runtime.bid(lot, self._bidder, None, first + i * INC, req) for i, req in enumerate(reqs))
        results = await asyncio.wait_for(asyncio.gather(*placing), 5)
        assert all(isinstance(r, Accepted) for r in results), results
        return [r.seq for r in results if isinstance(r, Accepted)]


@pytest.fixture
async def hall(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Hall]:
    store = GatedStore(tmp_path / "hall.db")
    await store.open()
    runtime = Runtime(store, clock=clock)
    renders = Renders()
    try:
        await runtime.start()
        yield Hall(runtime, store, Hub(runtime, renders), renders)
    finally:
        for gate in (store.before_read, store.after_read, store.after_write):
            gate.set()
        await runtime.stop()
        await store.close()


def frames(watcher: Watcher) -> list[dict[str, Any]]:
    return [json.loads(payload) for item in watcher.queue for payload in unframed(item)]


def seqs(watcher: Watcher) -> list[int]:
    return [frame["seq"] for frame in frames(watcher) if frame["type"] == "event"]


# ---------------------------------------------------------------------- one encode, shared


def counting_encodes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What the hub encodes from now on, in order (it still encodes them)."""
    encoded: list[object] = []
    real = hub_module.encoder

    class Counting:
        def encode(self, obj: object) -> bytes:
            encoded.append(obj)
            return real.encode(obj)

    monkeypatch.setattr(hub_module, "encoder", Counting())
    return encoded


async def test_each_event_is_encoded_once_and_the_same_bytes_are_queued_to_every_watcher(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = await hall.lot()
    watchers = [hall.hub.watcher(Kind.JSON, 100) for _ in range(3)]
    for watcher in watchers:
        await hall.hub.subscribe(watcher, lot)
        watcher.queue.clear()  # the snapshots

    encoded = counting_encodes(monkeypatch)
    placed = await hall.bids(lot, 5)

    assert len(encoded) == 5, "one encode per event, not per watcher"
    assert [seqs(w) for w in watchers] == [placed] * 3
    for i, first in enumerate(watchers[0].queue):
        assert all(w.queue[i] is first for w in watchers[1:]), "one object, shared"
    assert hall.hub.delivered == 15


async def test_events_of_lots_nobody_watches_are_neither_encoded_nor_kept(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched, unwatched = await hall.lot(), await hall.lot()
    watcher = hall.hub.watcher(Kind.JSON, 100)
    await hall.hub.subscribe(watcher, watched)
    encoded = counting_encodes(monkeypatch)
    await hall.bids(unwatched, 3)
    assert encoded == []
    assert unwatched not in hall.hub.channels
    assert seqs(watcher) == []


# ---------------------------------------------------------------------- bounded queues


async def test_a_full_queue_drops_its_watcher_and_clears_it_while_the_others_keep_receiving(hall: Hall) -> None:
    lot = await hall.lot()
    slow = hall.hub.watcher(Kind.JSON, 3)
    fast = hall.hub.watcher(Kind.JSON, 1000)
    for watcher in (slow, fast):
        await hall.hub.subscribe(watcher, lot)  # one frame each: the snapshot
    slow.wake.clear()
    told: list[int] = []
    slow.on_drop = lambda: told.append(len(slow.queue))

    first = await hall.bids(lot, 2)  # 3 frames: exactly full
    assert not slow.dropped and slow.pending == 3
    more = await hall.bids(lot, 3)
    assert slow.dropped
    assert len(slow.queue) == slow.pending == 0, "a dropped watcher's backlog is let go at once"
    assert slow.wake.is_set(), "its connection is woken to close it"
    assert told == [0], "and told, once, after its backlog was let go"
    later = await hall.bids(lot, 4)
    assert len(slow.queue) == 0, "nothing more is queued to a dropped watcher"
    slow.extend([b"late"])
    assert len(slow.queue) == 0 and told == [0]
    assert seqs(fast) == first + more + later


async def test_publishing_queues_every_frame_before_it_returns_and_never_waits_for_a_reader(hall: Hall) -> None:
    assert not inspect.iscoroutinefunction(hall.hub.publish)
    lot = await hall.lot()
    never_read = hall.hub.watcher(Kind.JSON, 10)
    other = hall.hub.watcher(Kind.JSON, 1000)
    for watcher in (never_read, other):
        await hall.hub.subscribe(watcher, lot)
    woken: list[int] = []

    async def reader() -> None:  # wakes on its watcher's event, as a socket's sender does
        await other.wake.wait()
        woken.append(other.pending)

    other.wake.clear()
    task = asyncio.get_running_loop().create_task(reader())
    queued_when_published: list[int] = []
    # A listener after the hub runs in the same synchronous call: the frames are already queued.
    hall.runtime.listen(lambda events: queued_when_published.append(other.pending))
    await asyncio.sleep(0)

    placed = await hall.bids(lot, 50)
    await asyncio.wait_for(task, 1)
    assert queued_when_published and queued_when_published[-1] == 51
    assert woken and woken[0] >= 2, "the reader ran only after a publish had queued frames"
    assert never_read.dropped
    assert seqs(other) == placed


async def test_a_watcher_that_can_write_now_writes_its_frames_at_once_without_waking_its_sender(hall: Hall) -> None:
    lot = await hall.lot()
    watcher = hall.hub.watcher(Kind.JSON, 100)
    await hall.hub.subscribe(watcher, lot)
    written: list[bytes] = []
    watcher.write = lambda frames: written.append(frames) is None
    watcher.queue.clear()
    watcher.pending = 0
    watcher.wake.clear()

    placed = await hall.bids(lot, 4)

    got = [json.loads(payload)["seq"] for frames in written for payload in unframed(frames)]
    assert got == placed
    assert not watcher.queue and not watcher.wake.is_set(), "nothing queued, no task woken"


async def test_while_a_socket_cannot_take_bytes_frames_queue_in_order_and_go_out_in_one_write(hall: Hall) -> None:
    lot = await hall.lot()
    watcher = hall.hub.watcher(Kind.JSON, 100)
    await hall.hub.subscribe(watcher, lot)
    watcher.take()
    writable = False
    written: list[bytes] = []

    def write(frames: bytes) -> bool:
        if writable:
            written.append(frames)
        return writable

    watcher.write = write
    held = await hall.bids(lot, 2)
    writable = True  # the peer read: the transport drained, but the sender has not run yet
    later = await hall.bids(lot, 2)
    assert written == [], "nothing overtakes what is queued"
    assert watcher.pending == 4

    backlog = watcher.take()
    assert [json.loads(p)["seq"] for p in unframed(backlog)] == held + later
    assert watcher.pending == 0 and not watcher.queue
    last = await hall.bids(lot, 1)
    assert [json.loads(p)["seq"] for f in written for p in unframed(f)] == last, "queue empty: written at once"


# ---------------------------------------------------------------------- page fragments


async def test_page_watchers_get_one_fragment_per_lot_per_batch_per_form_and_language(hall: Hall) -> None:
    lots = [await hall.lot(), await hall.lot()]
    forms = [(Kind.LOT, "zh"), (Kind.LOT, "zh"), (Kind.LOT, "en"), (Kind.SUMMARY, "zh")]
    pages = {lot: [hall.hub.watcher(kind, 100, lang) for kind, lang in forms] for lot in lots}
    json_watcher = hall.hub.watcher(Kind.JSON, 100, "en")
    assert json_watcher.form == (Kind.JSON, ""), "JSON is the same in every language"
    for lot in lots:
        for watcher in pages[lot]:
            await hall.hub.subscribe(watcher, lot)
        await hall.hub.subscribe(json_watcher, lot)
    whole = [(lot, None, kind, lang) for lot in lots for kind, lang in forms]
    assert hall.renders.calls == whole, "a page subscribing gets the lot's whole fragment"
    hall.renders.calls.clear()
    for watcher in [*pages[lots[0]], *pages[lots[1]]]:
        watcher.queue.clear()
    hall.batches.clear()

    await asyncio.gather(hall.bids(lots[0], 6), hall.bids(lots[1], 4))

    expected = []
    for batch in hall.batches:
        for lot in lots:
            mine = tuple(e.seq for e in batch if e.lot == lot)
            if mine:
                expected += [(lot, mine, kind, lang) for kind, lang in dict.fromkeys(forms)]
    assert sorted(hall.renders.calls, key=str) == sorted(expected, key=str)
    assert any(sum(e.lot == lots[0] for e in batch) > 1 for batch in hall.batches), "a batch held several bids"
    assert len(hall.renders.calls) < 10 * 3, "fragments are per batch, not per event"
    for lot in lots:
        zh_a, zh_b, en, summary = pages[lot]
        batches = sum(1 for batch in hall.batches if any(e.lot == lot for e in batch))
        assert len(zh_a.queue) == len(zh_b.queue) == len(en.queue) == len(summary.queue) == batches
        assert all(a is b for a, b in zip(zh_a.queue, zh_b.queue, strict=True)), "rendered once, shared"
        assert all(b":zh:" in f for f in zh_a.queue) and all(b":en:" in f for f in en.queue)


async def test_a_page_that_has_seen_everything_gets_no_whole_fragment(hall: Hall) -> None:
    lot = await hall.lot()
    await hall.bids(lot, 2)
    seq = hall.runtime.views[lot].seq
    current = hall.hub.watcher(Kind.LOT, 100, "zh")
    await hall.hub.subscribe(current, lot, since=seq)
    assert list(current.queue) == [] and hall.renders.calls == []
    behind = hall.hub.watcher(Kind.LOT, 100, "zh")
    await hall.hub.subscribe(behind, lot, since=seq - 1)
    assert hall.renders.calls == [(lot, None, Kind.LOT, "zh")]
    await hall.bids(lot, 1)
    assert len(current.queue) == 1 and len(behind.queue) == 2


# ---------------------------------------------------------------------- subscriptions


async def test_unsubscribe_and_forget_stop_publishing_to_a_watcher(hall: Hall) -> None:
    a, b = await hall.lot(), await hall.lot()
    watcher = hall.hub.watcher(Kind.JSON, 100)
    other = hall.hub.watcher(Kind.JSON, 100)
    for lot in (a, b):
        await hall.hub.subscribe(watcher, lot)
        await hall.hub.subscribe(other, lot)
    assert watcher.lots == {a, b} and hall.hub.watching() == 4
    watcher.queue.clear()

    hall.hub.unsubscribe(watcher, a)
    assert watcher.lots == {b} and hall.hub.watching() == 3
    await hall.bids(a, 2)
    assert seqs(watcher) == []
    on_b = await hall.bids(b, 1)
    assert seqs(watcher) == on_b

    hall.hub.forget(watcher)
    assert watcher.lots == set() and hall.hub.watching() == 2
    await hall.bids(b, 2)
    assert seqs(watcher) == on_b
    assert len(seqs(other)) == 5, "the other watcher is untouched"
    hall.hub.unsubscribe(watcher, a)  # again, and of a lot it no longer watches: harmless
    hall.hub.forget(watcher)


async def test_subscribing_again_restarts_the_stream_without_doubling_it(hall: Hall) -> None:
    lot = await hall.lot()
    watcher = hall.hub.watcher(Kind.JSON, 100)
    await hall.hub.subscribe(watcher, lot)
    await hall.hub.subscribe(watcher, lot)
    assert [f["type"] for f in frames(watcher)] == ["snapshot", "snapshot"]
    assert hall.hub.watching() == 1
    watcher.queue.clear()
    assert seqs(watcher) == [] and await hall.bids(lot, 1) == seqs(watcher)


async def test_subscribe_refuses_an_unknown_lot_a_future_since_and_a_backlog_beyond_the_queue(hall: Hall) -> None:
    lot = await hall.lot()
    await hall.bids(lot, 5)
    last = hall.runtime.views[lot].seq
    watcher = hall.hub.watcher(Kind.JSON, 4)
    with pytest.raises(KeyError):
        await hall.hub.subscribe(watcher, lot + 100)
    with pytest.raises(ValueError, match="no event"):
        await hall.hub.subscribe(watcher, lot, since=last + 1)
    with pytest.raises(BehindError):
        await hall.hub.subscribe(watcher, lot, since=last - 5)
    assert list(watcher.queue) == [] and watcher.lots == set() and hall.hub.watching() == 0
    await hall.hub.subscribe(watcher, lot, since=last - 4)  # exactly the queue's size is fine
    assert seqs(watcher) == list(range(last - 3, last + 1))
    await hall.hub.subscribe(watcher, lot, since=last)  # up to date: nothing, then live ones
    assert seqs(watcher) == list(range(last - 3, last + 1))


# ---------------------------------------------------------------------- resuming


async def test_a_resume_the_ring_covers_is_served_without_reading_the_store(hall: Hall) -> None:
    lot = await hall.lot()
    first = hall.hub.watcher(Kind.JSON, 1000)
    await hall.hub.subscribe(first, lot)  # the lot's channel and ring start here
    since = hall.runtime.views[lot].seq
    placed = await hall.bids(lot, 20)
    resumed = hall.hub.watcher(Kind.JSON, 1000)
    await hall.hub.subscribe(resumed, lot, since=since + 7)
    assert hall.store.reads == 0
    assert seqs(resumed) == placed[7:]
    assert b"".join(first.queue).endswith(resumed.take()), "the ring holds the very frames sent live"
    live = await hall.bids(lot, 2)
    assert seqs(resumed) == live


async def test_a_resume_older_than_the_ring_reads_the_store_then_continues_live(hall: Hall) -> None:
    lot = await hall.lot()
    await hall.hub.subscribe(hall.hub.watcher(Kind.JSON, 1000), lot)
    since = hall.runtime.views[lot].seq
    placed = await hall.bids(lot, RING + 40)
    assert hall.hub.channels[lot].ring[0][0] > since + 1
    resumed = hall.hub.watcher(Kind.JSON, 1000)
    await hall.hub.subscribe(resumed, lot, since=since)
    assert hall.store.reads == 1
    live = await hall.bids(lot, 3)
    assert seqs(resumed) == placed + live


async def test_a_resume_on_a_lot_nobody_watched_reads_the_store(hall: Hall) -> None:
    lot = await hall.lot()
    placed = await hall.bids(lot, 5)
    resumed = hall.hub.watcher(Kind.JSON, 1000)
    await hall.hub.subscribe(resumed, lot, since=placed[1])
    assert hall.store.reads == 1
    assert seqs(resumed) == placed[2:]
    assert [f["kind"] for f in frames(resumed)] == ["bid"] * 3


@pytest.mark.parametrize("hold", ["before_read", "after_read"])
async def test_events_published_while_the_store_is_read_are_sent_once_in_order(hall: Hall, hold: str) -> None:
    """Held before the read, the store returns the new events too; held after it, only the
    hub's held-aside copies have them. Either way: each event exactly once, in order."""
    lot = await hall.lot()
    placed = await hall.bids(lot, 10)
    gate: asyncio.Event = getattr(hall.store, hold)
    gate.clear()
    resumed = hall.hub.watcher(Kind.JSON, 1000)
    subscribing = asyncio.get_running_loop().create_task(hall.hub.subscribe(resumed, lot, since=placed[2]))
    await asyncio.wait_for(hall.store.reading.wait(), 2)
    during = await hall.bids(lot, 5)  # committed and published while the read is held
    assert not subscribing.done() and seqs(resumed) == []
    gate.set()
    await asyncio.wait_for(subscribing, 2)
    after = await hall.bids(lot, 2)
    assert seqs(resumed) == placed[3:] + during + after
    assert hall.hub.channels[lot].catching == {}


async def test_an_event_in_the_store_but_not_yet_published_reaches_a_resume_once_live(hall: Hall) -> None:
    lot = await hall.lot()
    placed = await hall.bids(lot, 4)
    hall.store.after_write.clear()
    hall.store.written.clear()
    pending = asyncio.get_running_loop().create_task(hall.bids(lot, 1))
    await asyncio.wait_for(hall.store.written.wait(), 2)  # in the database; views and watchers not told
    assert hall.runtime.views[lot].seq == placed[-1]
    resumed = hall.hub.watcher(Kind.JSON, 1000)
    await hall.hub.subscribe(resumed, lot, since=placed[0])
    assert seqs(resumed) == placed[1:], "what is not yet published is not sent from the store"
    hall.store.after_write.set()
    last = await asyncio.wait_for(pending, 2)
    assert seqs(resumed) == placed[1:] + last


async def test_a_store_read_that_fails_leaves_no_half_subscription(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = await hall.lot()
    placed = await hall.bids(lot, 3)

    async def broken(lot: int, seq: int, limit: int = -1) -> list[AnyEvent]:
        raise StoreError("disk gone")

    monkeypatch.setattr(hall.store, "events_since", broken)
    watcher = hall.hub.watcher(Kind.JSON, 100)
    with pytest.raises(StoreError):
        await hall.hub.subscribe(watcher, lot, since=placed[0])
    assert watcher.lots == set() and hall.hub.watching() == 0
    assert hall.hub.channels[lot].catching == {}
    await hall.bids(lot, 1)
    assert list(watcher.queue) == []
