"""Fan-out: every durable event to every socket watching its lot, each form made once.

The runtime calls ``publish`` with each committed batch. For each lot in it the JSON frame of
every event is encoded once and, when pages watch the lot, one HTML fragment per page kind is
rendered once for the whole batch; then each watcher gets the same string appended to its
queue. Nothing here awaits, so publishing never waits for a socket: a watcher whose queue is
full is marked dropped (its connection closes it) and never slows the lot or anyone else.

New lots reach the hall's open pages the same way (``announce``): a page that follows a topic
(the whole hall, or one industry) gets the new lots' rows, rendered once per language for all
its watchers, and from then on follows those lots like the ones it named.

Resuming (``subscribe`` with ``since``) is served from a ring of each watched lot's recent
frames when it reaches back far enough, else from the store; either way the watcher gets
every event after ``since`` exactly once, in order, then the live ones.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final

from hall import metrics
from hall.engine import AnyEvent
from hall.engine.view import LotView
from hall.protocol import encoder, event_frame, framed, snapshot
from hall.runtime import Runtime

RING: Final = 256
"""Framed events each watched lot keeps for resuming without reading the store."""
ANNOUNCED: Final = 64
"""Recent announcements kept for pages that connect just after one (``follow``'s ``after``)."""
FOLLOWED_MAX: Final = 1000
"""Most lots one page watcher follows: those its page named and those announced to it."""


class Kind(StrEnum):
    JSON = "json"
    """The protocol of docs/protocol.md."""
    SUMMARY = "summary"
    """HTML fragments for pages that show a lot as a row or tile (the hall, the console)."""
    LOT = "lot"
    """HTML fragments for the lot page (the summary plus the bid record)."""


Renderer = Callable[[LotView, Sequence[AnyEvent] | None, Kind, str], str]
"""Renders a page fragment in a language: the lot's state after ``events`` (with rows for
them); ``events`` None: the whole of what the page shows of the lot."""
RowsRenderer = Callable[[Sequence[LotView], str], str]
"""Renders the hall's rows for new lots in a language: what ``announce`` sends."""
Form = tuple[Kind, str]
"""What a watcher is sent: the kind and, for pages, the language ("" for JSON)."""


class AheadError(ValueError):
    """A resume from an event the lot has not had yet: the ``since`` asked, the lot's last."""

    def __init__(self, since: int, last: int) -> None:
        super().__init__(f"no event {since} yet (the last is {last})")
        self.since = since
        self.last = last


class BehindError(Exception):
    """A resume asked for more missed events than a watcher's queue can hold: how many it
    missed, and how many a resume takes."""

    def __init__(self, missed: int, limit: int) -> None:
        super().__init__(f"{missed} events missed; at most {limit} are resumed")
        self.missed = missed
        self.limit = limit


class Watcher:
    """A socket's outgoing side: a bounded queue of WebSocket frames (``framed``; one object
    shared by every watcher it goes to), and the event that wakes its sender.

    When the socket can take bytes now (``write``) and nothing is queued ahead, a frame is
    written at once, from the publishing call, with no task woken per watcher: at 5,000
    watchers the wake-ups, not the bytes, were what fan-out cost. Otherwise it is queued
    for the sender, which writes all the queue holds at once when the peer has read enough."""

    __slots__ = ("id", "form", "queue", "pending", "limit", "wake", "dropped", "on_drop", "lots", "topics", "write")

    def __init__(self, watcher_id: int, form: Form, limit: int) -> None:
        self.id = watcher_id
        self.form = form
        self.queue: deque[bytes] = deque()
        self.pending = 0
        """Frames in ``queue`` (an item may hold several: a batch's events are joined)."""
        self.limit = limit
        self.wake = asyncio.Event()
        self.dropped = False
        """Fell ``limit`` frames behind: its connection must close; nothing more is queued."""
        self.on_drop: Callable[[], None] | None = None
        """Told once, when dropped, so the connection closes even while a send to it is stuck."""
        self.lots: set[int] = set()
        self.topics: set[str] = set()
        self.write: Callable[[bytes], bool] | None = None
        """Writes frames to the socket if it can take them now; False: queue them instead."""

    def push(self, frames: bytes, count: int = 1, *, whole: bool = False) -> None:
        """Send ``count`` frames joined in ``frames``, or queue them; drop this watcher when
        they would put it more than ``limit`` frames behind, unless ``whole``."""
        if self.dropped:
            return
        queue = self.queue
        if not queue and self.write is not None and self.write(frames):
            return
        if self.pending + count > self.limit and not whole:
            self.dropped = True
            queue.clear()
            self.pending = 0
            if self.on_drop is not None:
                self.on_drop()
        else:
            queue.append(frames)
            self.pending += count
        self.wake.set()

    def extend(self, frames: Sequence[bytes]) -> None:
        """Send a resume's backlog whole, before anything published after it (its size was
        checked against ``limit`` first)."""
        if frames:
            self.push(b"".join(frames), len(frames), whole=True)

    def take(self) -> bytes:
        """Everything queued, in order, as one write; the queue is left empty."""
        frames = b"".join(self.queue)
        self.queue.clear()
        self.pending = 0
        return frames


class _Channel:
    __slots__ = ("watchers", "ring", "catching")

    def __init__(self) -> None:
        self.watchers: dict[Form, dict[Watcher, None]] = {}
        self.ring: deque[tuple[int, bytes]] = deque(maxlen=RING)
        self.catching: dict[Watcher, list[AnyEvent]] = {}
        """Watchers resuming from the store: the events published while they read it."""


class Hub:
    def __init__(self, runtime: Runtime, render: Renderer, rows: RowsRenderer | None = None) -> None:
        self.runtime = runtime
        self.render = render
        self.rows = rows
        self.channels: dict[int, _Channel] = {}
        self.topics: dict[str, dict[Watcher, None]] = {}
        self.announced: deque[tuple[frozenset[str], tuple[int, ...]]] = deque(maxlen=ANNOUNCED)
        self.delivered = 0
        """Frames queued to watchers, for /metrics."""
        self.sockets = 0
        """Open sockets (the web layer counts them; ``HALL_MAX_CONNECTIONS`` caps them)."""
        self._ids = itertools.count(1)
        runtime.listen(self.publish)

    def watcher(self, kind: Kind, limit: int, lang: str = "") -> Watcher:
        return Watcher(next(self._ids), (kind, "" if kind is Kind.JSON else lang), limit)

    # ------------------------------------------------------------------ publishing

    def publish(self, events: Sequence[AnyEvent]) -> None:
        channels = self.channels
        by_lot: dict[int, list[AnyEvent]] = {}
        for event in events:
            if event.lot in channels:
                by_lot.setdefault(event.lot, []).append(event)
        views = self.runtime.views
        delivered = 0
        for lot, lot_events in by_lot.items():
            channel = channels[lot]
            frames = [framed(encoder.encode(event_frame(event))) for event in lot_events]
            channel.ring.extend(zip((event.seq for event in lot_events), frames, strict=True))
            for (kind, lang), watchers in channel.watchers.items():
                if not watchers:
                    continue
                if kind is Kind.JSON:
                    count = len(frames)
                    joined = frames[0] if count == 1 else b"".join(frames)
                    for watcher in watchers:
                        watcher.push(joined, count)
                    delivered += len(watchers) * count
                else:
                    fragment = framed(self.render(views[lot], lot_events, kind, lang))
                    for watcher in watchers:
                        watcher.push(fragment)
                    delivered += len(watchers)
            for held in channel.catching.values():
                held.extend(lot_events)
        self.delivered += delivered
        if delivered:
            metrics.FRAMES.inc(delivered)

    def announce(self, lots: Sequence[int], topics: Sequence[str]) -> None:
        """New lots on the hall: each page following one of ``topics`` gets their rows, the
        same string for every watcher of a language, and follows the lots from now on. Nothing
        awaits, so no event of these lots can slip between the rows and the following."""
        assert self.rows is not None, "announcing needs the rows renderer"
        views = self.runtime.views
        found = tuple(lot for lot in lots if lot in views)
        if not found:
            return
        self.announced.append((frozenset(topics), found))
        watchers: dict[Watcher, None] = {}
        for topic in topics:
            watchers.update(self.topics.get(topic, {}))
        rendered: dict[str, bytes] = {}
        for watcher in watchers:
            lang = watcher.form[1]
            frame = rendered.get(lang)
            if frame is None:
                frame = rendered[lang] = framed(self.rows([views[lot] for lot in found], lang))
            watcher.push(frame)
            self._join(watcher, found)
        self.delivered += len(watchers)
        if watchers:
            metrics.FRAMES.inc(len(watchers))

    def follow(self, watcher: Watcher, topic: str, after: int) -> None:
        """Send a page watcher ``topic``'s announcements from now on, first the rows of those it
        missed: lots announced on the topic (among the recent ``ANNOUNCED``) with ids above
        ``after``, the highest lot id its page knew when rendered."""
        assert self.rows is not None, "following a topic needs the rows renderer"
        views = self.runtime.views
        missed = list(dict.fromkeys(lot for topics, lots in self.announced if topic in topics
                                    for lot in lots if lot > after and lot not in watcher.lots))  # fmt: skip
        if missed:
            watcher.push(framed(self.rows([views[lot] for lot in missed], watcher.form[1])))
            self._join(watcher, missed)
        self.topics.setdefault(topic, {})[watcher] = None
        watcher.topics.add(topic)

    def _join(self, watcher: Watcher, lots: Sequence[int]) -> None:
        """Follow lots whose whole state the watcher was just sent, up to ``FOLLOWED_MAX``."""
        for lot in lots:
            if len(watcher.lots) >= FOLLOWED_MAX:
                return
            channel = self.channels.get(lot)
            if channel is None:
                channel = self.channels[lot] = _Channel()
            channel.watchers.setdefault(watcher.form, {})[watcher] = None
            watcher.lots.add(lot)

    # ------------------------------------------------------------------ subscriptions

    def snapshot_json(self, lot: int) -> bytes:
        runtime = self.runtime
        view = runtime.views[lot]
        return encoder.encode(snapshot(view, runtime.clock(), runtime.titles.get(lot, ""), runtime.sessions.get(lot, "")))

    async def subscribe(self, watcher: Watcher, lot: int, since: int | None = None) -> None:
        """Start sending ``lot`` to ``watcher``: JSON watchers get a snapshot (no ``since``) or
        the events after ``since``; page watchers get the lot's whole fragment unless ``since``
        says they have seen everything. Raises KeyError for an unknown lot, AheadError for a
        ``since`` beyond the lot's last event, BehindError, or the store's error."""
        view = self.runtime.views[lot]
        self.unsubscribe(watcher, lot)  # subscribing twice restarts the stream; a refused one ends it
        if since is not None and since > view.seq:
            raise AheadError(since, view.seq)
        channel = self.channels.get(lot)
        if channel is None:
            channel = self.channels[lot] = _Channel()
        kind, lang = watcher.form
        if kind is not Kind.JSON:
            if since is None or since < view.seq:
                watcher.push(framed(self.render(view, None, kind, lang)))
        elif since is None:
            watcher.push(framed(self.snapshot_json(lot)))
        elif since < view.seq:
            if view.seq - since > watcher.limit:
                raise BehindError(view.seq - since, watcher.limit)
            ring = channel.ring
            if ring and ring[0][0] <= since + 1:
                watcher.extend([frame for seq, frame in ring if seq > since])
            else:
                await self._catch_up(watcher, channel, lot, since)
        channel.watchers.setdefault(watcher.form, {})[watcher] = None
        watcher.lots.add(lot)

    async def _catch_up(self, watcher: Watcher, channel: _Channel, lot: int, since: int) -> None:
        """Send the events after ``since`` from the store, then those published meanwhile.

        The store holds everything published before the read began; what is published while
        it runs is held aside and appended, so the backlog ends exactly where the live stream
        (joined right after, with no await between) begins."""
        held: list[AnyEvent] = []
        channel.catching[watcher] = held
        try:
            stored = await self.runtime.store.events_since(lot, since)
        finally:
            del channel.catching[watcher]
        published = self.runtime.views[lot].seq
        backlog = [event for event in stored if event.seq <= published]  # the rest is on its way
        last = backlog[-1].seq if backlog else since
        backlog.extend(event for event in held if event.seq > last)
        watcher.extend([framed(encoder.encode(event_frame(event))) for event in backlog])

    def unsubscribe(self, watcher: Watcher, lot: int) -> None:
        channel = self.channels.get(lot)
        if channel is not None:
            watchers = channel.watchers.get(watcher.form)
            if watchers is not None:
                watchers.pop(watcher, None)
        watcher.lots.discard(lot)

    def forget(self, watcher: Watcher) -> None:
        """The socket is gone: stop publishing to it."""
        for lot in list(watcher.lots):
            self.unsubscribe(watcher, lot)
        for topic in watcher.topics:
            self.topics.get(topic, {}).pop(watcher, None)
        watcher.topics.clear()

    def watching(self) -> int:
        return sum(len(w) for channel in self.channels.values() for w in channel.watchers.values())
