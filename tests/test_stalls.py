"""The stall profile (hall/stalls.py) and its attribution to long acks (hall/stall_causes.py).

Clocks are fake wherever a figure is checked: what is pinned is what gets recorded and how it
is blamed, never how long anything took.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hall.engine import LotSpec
from hall.runtime import Runtime, wall_clock
from hall.stall_causes import CAUSES, OTHER, Intervals, attribute, blame, cause_intervals, percentile, window
from hall.stalls import CommitLog, GcTimer, LagProbe, Profile, from_env
from hall.store import SqliteStore
from hall.store.writer import Writer

ROOT = Path(__file__).resolve().parent.parent


def ticking(*times: float) -> Iterator[float]:
    return iter(times)


# ---------------------------------------------------------------------- recording


def test_lag_probe_records_how_late_each_firing_is_and_counts_early_as_on_time() -> None:
    times = ticking(10.0, 10.051, 10.0515)
    cpu = ticking(1.0, 1.04, 1.0405)

    async def run() -> LagProbe:
        probe = LagProbe(interval=0.001, clock=lambda: next(times), cpu=lambda: next(cpu))
        probe.start()  # due at 10.001
        probe.fire()  # at 10.051: 50 ms late; next due at 10.052
        probe.fire()  # at 10.0515: early by half a millisecond
        probe.stop()
        return probe

    probe = asyncio.run(run())
    assert list(probe.at) == [10.051, 10.0515]
    assert list(probe.lag) == [pytest.approx(0.05), 0.0]
    assert list(probe.ran) == [pytest.approx(0.04), pytest.approx(0.0005)]  # the thread's CPU time between firings


def test_lag_probe_stops_rearming_once_stopped() -> None:
    async def run() -> LagProbe:
        probe = LagProbe(interval=0.001)
        probe.start()
        probe.stop()
        probe.fire()  # a firing already queued when stopped records, but arms nothing
        return probe

    probe = asyncio.run(run())
    assert len(probe.at) == 1 and probe._handle is None


def test_gc_timer_records_each_collection_with_its_generation_and_leaves_gc_callbacks_as_found() -> None:
    times = ticking(1.0, 1.25, 2.0, 2.5)
    timer = GcTimer(clock=lambda: next(times))
    timer("start", {"generation": 2})
    timer("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    timer("start", {"generation": 0})
    timer("stop", {"generation": 0, "collected": 3, "uncollectable": 0})
    assert (list(timer.start), list(timer.end), list(timer.generation)) == ([1.0, 2.0], [1.25, 2.5], [2, 0])
    before = list(gc.callbacks)
    timer.install()
    assert timer in gc.callbacks
    timer.remove()
    assert gc.callbacks == before


def test_commit_log_keeps_a_commit_the_thread_timed_and_drops_one_that_failed_before_commit() -> None:
    log = CommitLog()
    row = log.open(handed=1.0, events=3)
    row.update(began=1.1, inserted=1.2, committed=1.3, checkpoint=1.0)
    log.seen(row, 1.4)
    failed = log.open(handed=2.0, events=1)
    log.seen(failed, 2.5)  # never committed: not a commit
    assert {name: list(values) for name, values in log.rows.items()} == {
        "handed": [1.0], "began": [1.1], "inserted": [1.2], "committed": [1.3], "seen": [1.4], "events": [3.0],
        "checkpoint": [1.0],
    }  # fmt: skip


def test_profile_dump_writes_every_record_as_json(tmp_path: Path) -> None:
    profile = Profile(str(tmp_path / "stalls.json"), clock=lambda: 5.0)
    profile.lag.record(4.0, 0.003, 0.002)
    profile.gc("start", {"generation": 1})
    profile.gc("stop", {"generation": 1})
    profile.taken(7)
    profile.dump()
    data = json.loads((tmp_path / "stalls.json").read_text())
    assert data["lag"] == {"at": [4.0], "lag": [0.003], "ran": [0.002]}
    assert data["gc"] == {"start": [5.0], "end": [5.0], "generation": [1]}
    assert data["send_queue"] == {"at": [5.0], "frames": [7]}
    assert set(data["commits"]) == {"handed", "began", "inserted", "committed", "seen", "events", "checkpoint"}
    assert not (tmp_path / "stalls.json.partial").exists()


def test_profile_is_off_unless_the_environment_names_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HALL_PROFILE_STALLS", raising=False)
    assert from_env() is None


def test_a_group_commit_through_the_real_store_is_recorded_step_by_step_in_order(tmp_path: Path) -> None:
    async def run() -> dict[str, Any]:
        store = SqliteStore(tmp_path / "hall.db")
        await store.open()
        runtime = Runtime(store)
        await runtime.start()
        profile = Profile(str(tmp_path / "stalls.json"))
        profile.start()
        try:
            now = wall_clock()
            await runtime.create_lot(LotSpec(seller_org=1, start_price=10_000, increment=1_000,
                                             publicity_start=now - 86_400_000, bidding_start=now - 60_000,
                                             end=now + 3_600_000))  # fmt: skip
        finally:
            profile.stop()
            await runtime.stop()
            await store.close()
        return json.loads((tmp_path / "stalls.json").read_text())

    original = Writer._take
    data = asyncio.run(run())
    assert Writer._take is original  # stopping the profile put the writer back
    commits = data["commits"]
    assert len(commits["handed"]) >= 1 and commits["events"][0] >= 1
    first = [commits[name][0] for name in ("handed", "began", "inserted", "committed", "seen")]
    assert first == sorted(first)  # handed over, begun, inserted, committed, then seen by the loop
    assert commits["checkpoint"] == [0.0] * len(commits["handed"])  # no checkpoint inside a commit
    assert data["lag"]["at"] == sorted(data["lag"]["at"])


# ---------------------------------------------------------------------- attribution


def test_percentile_is_the_load_generators_rule() -> None:
    assert percentile([], 0.99) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([float(x) for x in range(1000)], 0.999) == 999.0


def test_intervals_merge_overlaps_and_clip_to_a_window() -> None:
    union = Intervals([(5.0, 7.0), (1.0, 2.0), (1.5, 3.0), (4.0, 4.0)])
    assert (union.starts, union.ends) == ([1.0, 5.0], [3.0, 7.0])  # an empty one is no interval
    assert union.covers(2.5) and not union.covers(4.0) and union.covers(7.0)
    assert union.within(2.0, 6.0) == [(2.0, 3.0), (5.0, 6.0)]
    assert union.within(3.5, 4.5) == []


def none_but(**found: list[tuple[float, float]]) -> dict[str, Intervals]:
    return {name: Intervals(found.get(name, [])) for name in CAUSES}


def test_each_instant_goes_to_the_first_cause_in_the_order_of_blame() -> None:
    # A bid sent at 0 and acked at 100 (ms as seconds here): a commit's fsync spans 10-60, a
    # full collection 40-70 (it holds the GIL: it is blamed where both happen), the loop
    # takes until 80 to see the commit done.
    causes = none_but(commit_fsync=[(10.0, 60.0)], gc_gen2=[(40.0, 70.0)], commit_to_loop=[(60.0, 80.0)])
    shares = attribute(0.0, 100.0, causes)
    assert shares == {OTHER: 30.0, "commit_fsync": 30.0, "gc_gen2": 30.0, "commit_to_loop": 10.0}


def test_blame_counts_each_long_ack_under_the_cause_that_took_most_of_it() -> None:
    causes = none_but(checkpoint=[(10.0, 50.0)], client_stall=[(100.0, 130.0)])
    found = blame([(0.0, 60.0), (95.0, 140.0), (200.0, 210.0)], causes)
    assert found["acks"] == 3
    assert found["cause_of"] == {"checkpoint": 1, "client_stall": 1, OTHER: 1}
    # other: 0-10 and 50-60 of the first, 95-100 and 130-140 of the second, all of the third
    assert found["ms_in"] == {OTHER: 45000.0, "checkpoint": 40000.0, "client_stall": 30000.0}


def profile_of(**parts: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "lag": {"at": [], "lag": [], "ran": []}, "gc": {"start": [], "end": [], "generation": []},
        "commits": {name: [] for name in ("handed", "began", "inserted", "committed", "seen", "events", "checkpoint")},
        "send_queue": {"at": [], "frames": []},
    }  # fmt: skip
    return {**empty, **parts}


def test_cause_intervals_split_a_commit_into_its_steps_and_a_checkpoint_from_an_fsync() -> None:
    commits = {"handed": [1.0, 2.0], "began": [1.1, 2.1], "inserted": [1.2, 2.2], "committed": [1.3, 2.9],
               "seen": [1.4, 3.0], "events": [10.0, 10.0], "checkpoint": [0.0, 1.0]}  # fmt: skip
    # the loop stalled twice for half a second: it ran through the first, it was not running in the second
    lag = {"at": [5.0, 6.0, 7.0], "lag": [0.001, 0.5, 0.5], "ran": [0.001, 0.9, 0.1]}
    server = profile_of(commits=commits, lag=lag,
                        gc={"start": [7.0], "end": [7.1], "generation": [1]})  # fmt: skip
    client = {"lag": {"at": [9.0], "lag": [0.25]}}
    found = cause_intervals(server, client)
    assert found["commit_fsync"].within(0, 10) == [(1.2, 1.3)]
    assert found["checkpoint"].within(0, 10) == [(2.2, 2.9)]
    assert found["handoff_to_thread"].within(0, 10) == [(1.0, 1.1), (2.0, 2.1)]
    assert found["loop_busy"].within(0, 10) == [(5.5, 6.0)]  # the 1 ms sample is no stall
    assert found["loop_off_cpu"].within(0, 10) == [(6.5, 7.0)]
    assert found["gc_gen1"].within(0, 10) == [(7.0, 7.1)]
    assert found["client_stall"].within(0, 10) == [(8.75, 9.0)]


def test_window_reports_only_what_happened_inside_it() -> None:
    commits = {"handed": [1.0, 20.0], "began": [1.001, 20.0], "inserted": [1.002, 20.0], "committed": [1.012, 20.0],
               "seen": [1.013, 20.0], "events": [250.0, 1.0], "checkpoint": [1.0, 0.0]}  # fmt: skip
    server = profile_of(commits=commits, lag={"at": [0.5, 1.5, 1.6], "lag": [0.9, 0.001, 0.003], "ran": [0.0, 0.5, 0.05]},
                        gc={"start": [1.7, 30.0], "end": [1.75, 30.5], "generation": [2, 2]},
                        send_queue={"at": [1.8], "frames": [4]})  # fmt: skip
    found = window(server, 1.0, 2.0)
    assert found["loop_lag_ms"]["samples"] == 2 and found["loop_lag_ms"]["max"] == 3.0
    assert found["loop_cpu_share"] == 0.5  # ran 0.55 s of the 1.1 s from the firing before the window
    assert found["gc"]["gen2"] == {"count": 1, "total_ms": 50.0, "max_ms": 50.0}
    assert found["gc"]["gen0"]["count"] == 0
    assert found["commits"]["count"] == 1 and found["commits"]["checkpoints"] == 1
    assert found["commits"]["checkpoint_ms"] == [10.0]
    assert found["send_queue"] == {"writes": 1, "frames": 4}


# ---------------------------------------------------------------------- the chart


def summary_with(p99: float) -> dict[str, Any]:
    level = {"ack_p50_ms": 2.0, "ack_p99_ms": p99, "ack_p999_ms": p99 * 2, "loop_lag_p99_ms": 1.5}
    return {"load": {"10": level, "50": level, "90": level, "100": level}}


def test_run_draws_before_and_after_from_saved_runs_without_running_anything(tmp_path: Path) -> None:
    for name, p99 in (("before", 200.0), ("after", 12.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"label": name, "summary": summary_with(p99), "runs": {}}))
    svg = tmp_path / "latency.svg"
    argv = [sys.executable, str(ROOT / "bench" / "run.py"), "--chart", str(tmp_path / "before.json"),
            str(tmp_path / "after.json"), "--svg", str(svg)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    root = ET.fromstring(svg.read_text())
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert len(lines) == 8  # four measures, two runs
    assert sum(1 for line in lines if line.get("stroke-dasharray")) == 4  # the second run dashed
    texts = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "before" in texts and "after" in texts
