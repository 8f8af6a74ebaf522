"""The hall against its stack's ceiling, side by side in one run (``make bench``).

Starts a seeded hall (``hall serve``) and the bare ceiling app (``bench/ceiling.py``) as real
processes on 127.0.0.1, then runs ``bench/loadgen.py`` scenarios against each, alternating
between the two within every round so that a noisy spell of the shared machine hits both:

- ``echo`` (ceiling) and ``throughput`` (hall), saturated: accepted durable bids/s ÷ echo
  messages/s is the throughput ratio;
- ``throughput`` paced at half the rate the hall accepted saturated in the round: ack latency
  at half load;
- ``broadcast`` (ceiling) and ``fanout`` (hall) with ``--watchers`` sockets, saturated and at
  10 events/s: deliveries/s ratio, delivery latency, missing/duplicate events, drops; and the
  ceiling's ``broadcast --raw`` saturated, the floor under the hall's own way of writing.

After the rounds, ``--idle`` sockets subscribe to a hall lot and wait while the hall's resident
memory is read. Each scenario's JSON line is printed as it finishes; the last line is the
summary: medians over the rounds, ratios, and the servers' peak RSS (VmHWM).

    python bench/run.py                       # 3 rounds × 10 s, 5,000 watchers, 10,000 idle
    python bench/run.py --rounds 1 --seconds 3 --watchers 500 --idle 1000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory line in KiB (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def wait_ready(port: int, path: str | None, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until the server answers ``path`` with 200 (None: accepts a connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on port {port} not ready after {timeout} s")


@contextmanager
def server(argv: list[str], port: int, ready: str | None, env: dict[str, str], log: Path) -> Iterator[int]:
    """Run a server process for the block; yields its pid; stops it (SIGINT, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_ready(port, ready, process)
            yield process.pid
        finally:
            process.send_signal(2)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def loadgen(scenario: str, port: int, *extra: str, timeout: float = 300) -> dict[str, Any]:
    argv = [PYTHON, str(HERE / "loadgen.py"), scenario, "--port", str(port), *extra]
    done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"loadgen {scenario} failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def idle_rss(pid: int, port: int, watchers: int, seed: str, hold: float) -> dict[str, Any]:
    """Open ``watchers`` subscribed sockets, hold them, read the server's RSS meanwhile."""
    before = memory_kib(pid, "VmRSS")
    argv = [PYTHON, str(HERE / "loadgen.py"), "idle", "--port", str(port), "--seed-file", seed,
            "--watchers", str(watchers), "--seconds", str(hold)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = before
    while process.poll() is None:
        peak = max(peak, memory_kib(pid, "VmRSS"))
        time.sleep(0.2)
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"loadgen idle failed:\n{err.decode()[-3000:]}")
    opened = json.loads(out.decode().strip().splitlines()[-1])
    result = {"scenario": "idle", "watchers": watchers, "open": opened["open"], "rss_before_mib": round(before / 1024, 1),
              "rss_with_sockets_mib": round(peak / 1024, 1),
              "kib_per_socket": round((peak - before) / max(1, opened["open"]), 1)}  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--watchers", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=10000, help="idle sockets for the memory figure (0: skip)")
    args = parser.parse_args()

    # Thousands of sockets each side: the children inherit the raised limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(args.watchers, args.idle) + 1000
    if hard < need:
        raise SystemExit(f"open files limit {hard} < {need}: raise it (ulimit -n) or lower --watchers/--idle")

    work = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    db, seed = work / "hall.db", work / "seed.json"
    env = {**os.environ, "HALL_BID_RATE": "1000000", "HALL_BID_BURST": "1000000",
           "HALL_MAX_CONNECTIONS": str(need)}  # fmt: skip
    hall_bin = [PYTHON, "-m", "hall.cli"]
    with seed.open("wb") as out:
        subprocess.run([*hall_bin, "seed-demo", "--db", str(db), "--live", "--lots", "40", "--bidders", "40",
                        "--duration", str(24 * 3600)], stdout=out, env=env, check=True)  # fmt: skip
    hall_port, ceiling_port = free_port(), free_port()
    hall_argv = [*hall_bin, "serve", "--db", str(db), "--port", str(hall_port)]
    ceiling_argv = [PYTHON, str(HERE / "ceiling.py"), "--port", str(ceiling_port)]
    seconds = ["--seconds", str(args.seconds)]
    fan = ["--watchers", str(args.watchers), "--seconds", str(args.seconds)]
    runs: dict[str, list[dict[str, Any]]] = {}

    def record(name: str, result: dict[str, Any]) -> dict[str, Any]:
        runs.setdefault(name, []).append(result)
        return result

    with (
        server(hall_argv, hall_port, "/healthz", env, work / "hall.log") as hall_pid,
        server(ceiling_argv, ceiling_port, None, env, work / "ceiling.log") as ceiling_pid,
    ):
        for _ in range(args.rounds):
            hall = ["--seed-file", str(seed)]
            record("echo", loadgen("echo", ceiling_port, *seconds))
            full = record("throughput", loadgen("throughput", hall_port, *hall, *seconds))
            half = str(round(full["accepted_per_s"] / 2))
            record("throughput_half", loadgen("throughput", hall_port, *hall, *seconds, "--rate", half))
            record("broadcast_saturated", loadgen("broadcast", ceiling_port, *fan, "--rate", "0"))
            record("broadcast_raw_saturated", loadgen("broadcast", ceiling_port, *fan, "--rate", "0", "--raw"))
            record("fanout_saturated", loadgen("fanout", hall_port, *hall, *fan, "--rate", "0"))
            record("broadcast_10", loadgen("broadcast", ceiling_port, *fan, "--rate", "10"))
            record("fanout_10", loadgen("fanout", hall_port, *hall, *fan, "--rate", "10"))
        idle = idle_rss(hall_pid, hall_port, args.idle, str(seed), 5) if args.idle else None
        peaks = {"hall_peak_rss_mib": round(memory_kib(hall_pid, "VmHWM") / 1024, 1),
                 "ceiling_peak_rss_mib": round(memory_kib(ceiling_pid, "VmHWM") / 1024, 1)}  # fmt: skip

    ratios = {
        "throughput_ratio": [t["accepted_per_s"] / e["accepted_per_s"] for t, e in zip(runs["throughput"], runs["echo"], strict=True)],
        "fanout_ratio": [f["deliveries_per_s"] / b["deliveries_per_s"]
                         for f, b in zip(runs["fanout_saturated"], runs["broadcast_saturated"], strict=True)],
        "fanout_ratio_raw": [f["deliveries_per_s"] / b["deliveries_per_s"]
                             for f, b in zip(runs["fanout_saturated"], runs["broadcast_raw_saturated"], strict=True)],
    }  # fmt: skip
    summary = {
        "scenario": "summary", "rounds": args.rounds, "seconds": args.seconds, "watchers": args.watchers,
        "echo_msgs_per_s": median(runs["echo"], "accepted_per_s"),
        "hall_accepted_bids_per_s": median(runs["throughput"], "accepted_per_s"),
        "throughput_ratio": round(statistics.median(ratios["throughput_ratio"]), 3),
        "ack_p99_ms_saturated": median(runs["throughput"], "ack_p99_ms"),
        "half_rate_bids_per_s": median(runs["throughput_half"], "accepted_per_s"),
        "ack_p50_ms_half_rate": median(runs["throughput_half"], "ack_p50_ms"),
        "ack_p99_ms_half_rate": median(runs["throughput_half"], "ack_p99_ms"),
        "broadcast_deliveries_per_s": median(runs["broadcast_saturated"], "deliveries_per_s"),
        "fanout_deliveries_per_s": median(runs["fanout_saturated"], "deliveries_per_s"),
        "fanout_ratio": round(statistics.median(ratios["fanout_ratio"]), 3),
        "broadcast_raw_deliveries_per_s": median(runs["broadcast_raw_saturated"], "deliveries_per_s"),
        "fanout_ratio_raw": round(statistics.median(ratios["fanout_ratio_raw"]), 3),
        "fanout_10_p50_ms": median(runs["fanout_10"], "delivery_p50_ms"),
        "fanout_10_p99_ms": median(runs["fanout_10"], "delivery_p99_ms"),
        "broadcast_10_p99_ms": median(runs["broadcast_10"], "delivery_p99_ms"),
        "fanout_missing": sum(r["missing"] for name in ("fanout_10", "fanout_saturated") for r in runs[name]),
        "fanout_duplicates": sum(r["duplicates"] for name in ("fanout_10", "fanout_saturated") for r in runs[name]),
        "fanout_dropped": sum(r["dropped"] for name in ("fanout_10", "fanout_saturated") for r in runs[name]),
        "idle_sockets": idle and idle["open"], "idle_rss_mib": idle and idle["rss_with_sockets_mib"],
        **peaks,
    }  # fmt: skip
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
