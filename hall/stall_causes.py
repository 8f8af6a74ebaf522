"""Why an ack was late: what ``hall.stalls`` recorded in the server and the load generator
recorded in itself, laid over each long ack's lifetime (issue 14; used by ``bench/run.py``).

Every record is on the one monotonic clock all processes share (``time.perf_counter``), so a
bid sent at S and acknowledged at R (the load generator's times) can be set against what the
server did between S and R. Each instant of [S, R] is given to the first of ``CAUSES`` that
was happening then; the ack's cause is the one that took most of its time.

The order is the order of blame. A collection holds the GIL, so nothing else in the server
moves while it runs (the database thread cannot bind its rows or return): it comes first. A
checkpoint is disk work inside a commit that every waiting bid waits for. A stall of the load
generator itself is not the server's latency at all. A stall of the server's loop is
``loop_off_cpu`` when its thread ran for less than half of it (the machine's other processes
had the cores: on this shared machine that is not the hall's doing) and ``loop_busy`` when it
ran (callbacks computing: reading, judging, encoding, acking, fanning out); either way it
delays whatever the loop should be doing. Only then come the ordinary steps every ack passes through: the
hand-over of a batch to the database thread, its inserts, its ``COMMIT`` (fsync), and the wait
until the loop sees the commit done. Time covered by none of these is ``other`` (framing,
judging, the kernel, queues not recorded).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

CAUSES: Final = ("gc_gen2", "gc_gen1", "gc_gen0", "checkpoint", "client_stall", "loop_off_cpu", "loop_busy",
                 "handoff_to_thread", "inserts", "commit_fsync", "commit_to_loop")  # fmt: skip
OTHER: Final = "other"
LONG_ACK_S: Final = 0.015
"""An ack longer than this is attributed: the issue's p99 target at half load."""
STALL_S: Final = 0.002
"""A lag sample later than this counts as a stall of its loop: above the timer's own 1 ms
granularity, so an idle loop's jitter does not."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """The value below which a fraction ``q`` of ``values`` lies (the load generator's rule:
    the sorted value at ``int(q * n)``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Intervals:
    """A union of closed intervals, merged and sorted, asked how much of a window it covers
    and whether it covers an instant."""

    def __init__(self, pairs: Iterable[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for start, end in sorted(p for p in pairs if p[1] > p[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def __len__(self) -> int:
        return len(self.starts)

    def covers(self, at: float) -> bool:
        i = bisect.bisect_right(self.starts, at) - 1
        return i >= 0 and at <= self.ends[i]

    def within(self, start: float, end: float) -> list[tuple[float, float]]:
        """The parts of the union inside [start, end]."""
        i = max(0, bisect.bisect_right(self.starts, start) - 1)
        parts = []
        while i < len(self.starts) and self.starts[i] < end:
            lo, hi = max(start, self.starts[i]), min(end, self.ends[i])
            if hi > lo:
                parts.append((lo, hi))
            i += 1
        return parts


def _lag_stalls(lag: Mapping[str, Sequence[float]], ran: bool | None = None) -> list[tuple[float, float]]:
    """A late timer firing at ``at`` after ``late`` seconds: its loop did nothing else in
    [at - late, at]. With ``ran``, only the stalls whose thread ran (True) for at least half
    of the time since the firing before (the timer's period plus the lateness), or not (False)."""
    period = lag["at"][1] - lag["at"][0] if len(lag["at"]) > 1 else 0.0
    found = []
    for i, (at, late) in enumerate(zip(lag["at"], lag["lag"], strict=True)):
        if late <= STALL_S:
            continue
        if ran is not None:
            span = (at - lag["at"][i - 1]) if i else period + late
            if (lag["ran"][i] >= span / 2) != ran:
                continue
        found.append((at - late, at))
    return found


def cause_intervals(server: Mapping[str, Any], client: Mapping[str, Any] | None) -> dict[str, Intervals]:
    """Each cause's intervals from a server profile (``hall.stalls.Profile.data``) and a load
    generator's trace (its lag samples), keyed as in ``CAUSES``."""
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in CAUSES}
    gcs = server["gc"]
    for start, end, generation in zip(gcs["start"], gcs["end"], gcs["generation"], strict=True):
        found[f"gc_gen{generation}"].append((start, end))
    c = server["commits"]
    for handed, began, inserted, committed, seen, checkpoint in zip(
        c["handed"], c["began"], c["inserted"], c["committed"], c["seen"], c["checkpoint"], strict=True
    ):
        found["handoff_to_thread"].append((handed, began))
        found["inserts"].append((began, inserted))
        found["checkpoint" if checkpoint else "commit_fsync"].append((inserted, committed))
        found["commit_to_loop"].append((committed, seen))
    found["loop_busy"] = _lag_stalls(server["lag"], ran=True)
    found["loop_off_cpu"] = _lag_stalls(server["lag"], ran=False)
    if client is not None:
        found["client_stall"] = _lag_stalls(client["lag"])
    return {name: Intervals(pairs) for name, pairs in found.items()}


class Timeline:
    """[start, end] cut where any cause's interval begins or ends, each piece given to the
    first cause of ``CAUSES`` covering it (or ``other``), with running totals per cause, so
    that the share of any window inside it takes a few look-ups however many pieces it spans
    (a run at 90 % load has hundreds of thousands of long acks, each spanning thousands)."""

    def __init__(self, causes: Mapping[str, Intervals], start: float, end: float) -> None:
        bounds = {start, end}
        for name in CAUSES:
            for lo, hi in causes[name].within(start, end):
                bounds.update((lo, hi))
        self.edges = sorted(bounds)
        self.owner = [next((n for n in CAUSES if causes[n].covers((lo + hi) / 2)), OTHER)
                      for lo, hi in zip(self.edges, self.edges[1:])]  # fmt: skip
        self.names = sorted(set(self.owner))
        self.totals: dict[str, list[float]] = {name: [0.0] for name in self.names}
        for (lo, hi), owner in zip(zip(self.edges, self.edges[1:]), self.owner):
            for name, running in self.totals.items():
                running.append(running[-1] + (hi - lo if name == owner else 0.0))

    def _upto(self, at: float) -> dict[str, float]:
        """Seconds given to each cause from the timeline's start to ``at`` (inside it)."""
        i = min(max(bisect.bisect_right(self.edges, at) - 1, 0), len(self.owner) - 1)
        found = {name: running[i] for name, running in self.totals.items()}
        if self.owner:
            found[self.owner[i]] += max(0.0, at - self.edges[i])
        return found

    def shares(self, sent: float, received: float) -> dict[str, float]:
        """Seconds of [sent, received] (inside the timeline) given to each cause; only those with some."""
        before, after = self._upto(sent), self._upto(received)
        return {name: after[name] - before[name] for name in self.names if after[name] - before[name] > 0}


def attribute(sent: float, received: float, causes: Mapping[str, Intervals]) -> dict[str, float]:
    """Seconds of [sent, received] given to each cause (first in ``CAUSES`` wins an instant),
    the rest to ``other``; only causes with some time are listed."""
    return Timeline(causes, sent, received).shares(sent, received)


def blame(acks: Sequence[Sequence[float]], causes: Mapping[str, Intervals]) -> dict[str, Any]:
    """For acks given as (sent, received): how many were longest in each cause, and the
    milliseconds each cause took across them all."""
    count: dict[str, int] = {}
    total: dict[str, float] = {}
    timeline = Timeline(causes, min((a[0] for a in acks), default=0.0), max((a[1] for a in acks), default=0.0))
    for sent, received in acks:
        shares = timeline.shares(sent, received)
        top = max(shares, key=lambda name: shares[name])
        count[top] = count.get(top, 0) + 1
        for name, seconds in shares.items():
            total[name] = total.get(name, 0.0) + seconds
    order = sorted(total, key=lambda name: -total[name])
    return {"acks": len(acks), "cause_of": dict(sorted(count.items(), key=lambda kv: -kv[1])),
            "ms_in": {name: round(total[name] * 1000, 1) for name in order}}  # fmt: skip


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def window(server: Mapping[str, Any], start: float, end: float) -> dict[str, Any]:
    """What the server profile says of [start, end]: loop lag, collections by generation,
    commits (their steps, checkpoints) and writes that waited in a socket's queue."""
    lag = server["lag"]
    lags = [late for at, late in zip(lag["at"], lag["lag"], strict=True) if start <= at <= end]
    # the share of the window's wall time the loop's thread ran (from the firing before it)
    inside = [i for i, at in enumerate(lag["at"]) if start <= at <= end]
    wall = ran = 0.0
    if inside and inside[0] > 0:
        wall = lag["at"][inside[-1]] - lag["at"][inside[0] - 1]
        ran = sum(lag["ran"][i] for i in inside)
    gcs = server["gc"]
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for s, e, generation in zip(gcs["start"], gcs["end"], gcs["generation"], strict=True):
        if start <= s <= end:
            pauses[generation].append(e - s)
    c = server["commits"]
    rows = [r for r in zip(c["handed"], c["began"], c["inserted"], c["committed"], c["seen"],
                           c["events"], c["checkpoint"], strict=True) if start <= r[0] <= end]  # fmt: skip
    checkpoints = [r[3] - r[2] for r in rows if r[6]]
    q = server["send_queue"]
    taken = [frames for at, frames in zip(q["at"], q["frames"], strict=True) if start <= at <= end]

    def steps(values: list[float]) -> dict[str, float | None]:
        return {"p50": _ms(percentile(values, 0.5)), "p99": _ms(percentile(values, 0.99)),
                "max": _ms(max(values) if values else None)}  # fmt: skip

    return {
        "loop_lag_ms": {**steps(lags), "samples": len(lags)},
        "loop_cpu_share": round(ran / wall, 3) if wall else None,
        "gc": {f"gen{g}": {"count": len(p), "total_ms": _ms(sum(p)), "max_ms": _ms(max(p) if p else None)}
               for g, p in pauses.items()},
        "commits": {
            "count": len(rows), "events_p50": percentile([r[5] for r in rows], 0.5),
            "handoff_to_thread_ms": steps([r[1] - r[0] for r in rows]),
            "inserts_ms": steps([r[2] - r[1] for r in rows]),
            "commit_ms": steps([r[3] - r[2] for r in rows if not r[6]]),
            "commit_to_loop_ms": steps([r[4] - r[3] for r in rows]),
            "cycle_ms": steps([r[4] - r[0] for r in rows]),
            "checkpoints": len(checkpoints), "checkpoint_ms": [_ms(x) for x in checkpoints],
        },
        "send_queue": {"writes": len(taken), "frames": sum(taken)},
    }  # fmt: skip
