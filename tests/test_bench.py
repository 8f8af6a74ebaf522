"""The speed tools themselves work: ``bench/run.py`` end to end, made small.

No figure is judged here (speed targets live in the benchmarks' output, never in tests);
what is checked is that every scenario ran against real processes and reported what it
claims: bids accepted, events delivered to every watcher exactly once, the idle sockets held
open, memory read, and ratios taken from the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_run_drives_the_hall_and_the_ceiling_and_reports_every_scenario() -> None:
    argv = [sys.executable, str(ROOT / "bench" / "run.py"), "--rounds", "1", "--seconds", "1",
            "--watchers", "50", "--idle", "100"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    lines = [json.loads(line) for line in done.stdout.decode().splitlines() if line.startswith("{")]
    by_name: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_name.setdefault(str(line["scenario"]), []).append(line)
    assert set(by_name) == {"echo", "throughput", "side", "broadcast", "broadcast-raw", "fanout", "idle", "summary"}

    [echo] = by_name["echo"]
    saturated, *paced = by_name["throughput"]
    assert isinstance(echo["accepted_per_s"], int) and echo["accepted_per_s"] > 0
    assert isinstance(saturated["accepted_per_s"], int) and saturated["accepted_per_s"] > 0
    assert saturated["rejected_per_s"] == 0, saturated["codes"]  # every bid was the next valid one
    assert [run["rate"] for run in paced] == [round(saturated["accepted_per_s"] * load / 100) for load in (10, 50, 90)]
    for side in by_name["side"]:  # the independent client bid beside each paced run, on a lot of its own
        assert isinstance(side["acks"], int) and side["acks"] > 0 and side["refused"] == 0
    for fanout in by_name["fanout"]:
        assert fanout["watchers"] == 50 and fanout["events"] > 0
        assert (fanout["missing"], fanout["duplicates"], fanout["dropped"]) == (0, 0, 0), fanout
        assert fanout["deliveries_per_s"] > 0
    [idle] = by_name["idle"]
    assert idle["open"] == 100

    [summary] = by_name["summary"]
    assert summary["throughput_ratio"] == round(saturated["accepted_per_s"] / echo["accepted_per_s"], 3)
    assert summary["idle_sockets"] == 100
    assert isinstance(summary["hall_peak_rss_mib"], float) and summary["hall_peak_rss_mib"] > 0
    # the server's stall profile was read back: loop lag at every load, long acks given causes
    load = summary["load"]
    assert isinstance(load, dict) and set(load) == {"10", "50", "90", "100"}
    for figures in load.values():
        assert figures["loop_lag_p99_ms"] is not None and figures["ack_p999_ms"] is not None
        assert sum(figures["long_acks_cause_of"].values()) == figures["long_acks"]
