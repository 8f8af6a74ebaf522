"""bench/locustfile.py against a real ``hall serve``: a short headless locust run whose CSV
shows acks, deliveries and no failures, and whose accepted bids are in the lots' journals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from liveserver import ROOT, Server, running, seed

pytestmark = pytest.mark.slow

LOTS, BIDDERS, USERS, SECONDS = 4, 20, 10, 8
LOCUST_TIMEOUT = 90
"""Locust's own start, the run and its stop; far above what they take."""


def run_locust(server: Server, seed_file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "-u", str(USERS), "-r", str(USERS), "-t", f"{SECONDS}s", "--csv", str(out), "--host", server.url]  # fmt: skip
    return subprocess.run(command, cwd=out.parent, env={**os.environ, "HALL_SEED_FILE": str(seed_file)},
                          capture_output=True, text=True, timeout=LOCUST_TIMEOUT, check=False)  # fmt: skip


def stats(out: Path) -> dict[str, dict[str, str]]:
    """The rows of ``<out>_stats.csv`` by request name."""
    with Path(f"{out}_stats.csv").open(newline="") as rows:
        return {row["Name"]: row for row in csv.DictReader(rows)}


def open_sockets(server: Server) -> float:
    """The server's open JSON sockets, once the closes locust sent have been processed."""
    deadline = time.monotonic() + 5.0
    while (count := server.metric('hall_ws_open{kind="json"}')) and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def test_a_locust_run_bids_delivers_and_fails_nothing_and_its_bids_are_durable(tmp_path: Path) -> None:
    db, seed_file, out = tmp_path / "hall.db", tmp_path / "seed.json", tmp_path / "out"
    seed_file.write_text(json.dumps(seed(db, lots=LOTS, bidders=BIDDERS)))
    with running(db, tmp_path / "server.log") as server:
        done = run_locust(server, seed_file, out)
        assert done.returncode == 0, done.stderr[-3000:]
        rows = stats(out)
        assert int(rows["Aggregated"]["Failure Count"]) == 0, rows
        accepted, delivered = int(rows["ack bid"]["Request Count"]), int(rows["event bid"]["Request Count"])
        assert accepted > 0 and delivered > 0, rows
        assert int(rows["POST /api/login"]["Request Count"]) > 0
        with Path(f"{out}_failures.csv").open(newline="") as failures:
            assert list(csv.DictReader(failures)) == []

        bids = 0
        for lot in json.loads(seed_file.read_text())["lots"]:
            events = server.events(lot)
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            prices = [e["price"] for e in events if e["kind"] == "bid"]
            assert prices == sorted(set(prices))  # each accepted bid outbid the one before
            assert server.snapshot(lot)["bid_count"] == len(prices)
            bids += len(prices)
        # The CSV is written once a second, so it may lack the last acks; the journal has them all.
        assert bids >= accepted
        assert server.metric('hall_bids_total{result="accepted"}') == bids
        assert open_sockets(server) == 0  # every user closed its socket when locust stopped
