"""The hall against its stack's ceiling, side by side in one run (``make bench``).

Starts a seeded hall (``hall serve``) and the bare ceiling app (``bench/ceiling.py``) as real
processes on 127.0.0.1, then runs ``bench/loadgen.py`` scenarios against each, alternating
between the two within every round so that a noisy spell of the shared machine hits both:

- ``echo`` (ceiling) and ``throughput`` (hall), saturated: accepted durable bids/s ÷ echo
  messages/s is the throughput ratio;
- ``throughput`` paced at 10, 50 and 90 % of the rate the hall accepted saturated in the round:
  ack p50, p99, p99.9 and max at each load, with ``bench/sideclient.py`` (another process and
  another WebSocket implementation) bidding beside it on a lot of its own, to check the load
  generator's own stalls;
- ``broadcast`` (ceiling) and ``fanout`` (hall) with ``--watchers`` sockets, saturated and at
  10 events/s: deliveries/s ratio, delivery latency, missing/duplicate events, drops; and the
  ceiling's ``broadcast --raw`` saturated, the floor under the hall's own way of writing.

After the rounds, ``--idle`` sockets subscribe to a hall lot and wait while the hall's resident
memory is read. Each scenario's JSON line is printed as it finishes; the last line is the
summary: medians over the rounds, ratios, and the servers' peak RSS (VmHWM).

The hall runs with ``HALL_PROFILE_STALLS`` (``hall/stalls.py``): its loop lag, collector
pauses, commit steps and WAL checkpoints are recorded, and the load generator records its own
loop's stalls and every ack over 15 ms. After the rounds the server writes what it recorded;
each throughput run then gets the server's loop lag over its window, and each of its long acks
a cause (``hall/stall_causes.py``). The summary's ``load`` holds, per load (10, 50, 90 and
100 % = saturated), the medians of ack and loop lag percentiles and the long acks' causes
summed over the rounds.

    python bench/run.py                       # 3 rounds × 10 s, 5,000 watchers, 10,000 idle
    python bench/run.py --quick               # 1 round × 3 s, 500 watchers, 1,000 idle
    python bench/run.py --save bench/results/before.json --svg docs/latency.svg
    python bench/run.py --chart bench/results/before.json bench/results/after.json --svg docs/latency.svg
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
sys.path.insert(0, str(HERE))
from chart import latency_svg  # noqa: E402

from hall.stall_causes import blame, cause_intervals, window  # noqa: E402

PACED = (10, 50, 90)
"""Loads of the paced runs, in per cent of the round's saturated rate."""


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


def with_side(port: int, seed: str, seconds: float, run: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``run()`` (a load generator scenario) with ``bench/sideclient.py`` bidding meanwhile."""
    argv = [PYTHON, str(HERE / "sideclient.py"), "--port", str(port), "--seed-file", seed, "--seconds", str(seconds)]
    side = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result: dict[str, Any] = run()
    out, err = side.communicate(timeout=300)
    if side.returncode != 0:
        raise SystemExit(f"sideclient failed:\n{err.decode()[-3000:]}")
    found: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    print(json.dumps(found), flush=True)
    return result, found


def read_profile(pid: int, path: Path, timeout: float = 60) -> dict[str, Any]:
    """Ask the hall for its stall profile (SIGUSR1) and read it once written."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no stall profile at {path} after {timeout} s")
        time.sleep(0.2)
    found: dict[str, Any] = json.loads(path.read_bytes())
    return found


def stalls(profile: dict[str, Any], run: dict[str, Any], trace: Path) -> dict[str, Any]:
    """The server's record over a throughput run's window, and the causes of its long acks."""
    start, end = run["window"]
    client = json.loads(trace.read_text())
    return {**window(profile, start, end), "long_acks": blame(client["acks"], cause_intervals(profile, client))}


def level(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One load's figures: medians over the rounds, long acks' causes summed over them."""
    causes: dict[str, int] = {}
    ms_in: dict[str, float] = {}
    for run in runs:
        for name, n in run["stalls"]["long_acks"]["cause_of"].items():
            causes[name] = causes.get(name, 0) + n
        for name, ms in run["stalls"]["long_acks"]["ms_in"].items():
            ms_in[name] = round(ms_in.get(name, 0.0) + ms, 1)
    lag = [{"loop_lag_p99_ms": r["stalls"]["loop_lag_ms"]["p99"], "loop_lag_max_ms": r["stalls"]["loop_lag_ms"]["max"],
            "loop_cpu_share": r["stalls"]["loop_cpu_share"]} for r in runs]  # fmt: skip
    side = [r["side"] for r in runs if "side" in r]
    return {
        "bids_per_s": median(runs, "accepted_per_s"),
        **{key: median(runs, key) for key in ("ack_p50_ms", "ack_p99_ms", "ack_p999_ms", "ack_max_ms",
                                                "client_lag_p99_ms", "client_lag_max_ms")},
        "loop_lag_p99_ms": median(lag, "loop_lag_p99_ms"), "loop_lag_max_ms": median(lag, "loop_lag_max_ms"),
        "loop_cpu_share": median(lag, "loop_cpu_share"),
        "side_ack_p50_ms": median(side, "ack_p50_ms"), "side_ack_p99_ms": median(side, "ack_p99_ms"),
        "side_ack_max_ms": median(side, "ack_max_ms"),
        "long_acks": sum(r["stalls"]["long_acks"]["acks"] for r in runs),
        "long_acks_cause_of": dict(sorted(causes.items(), key=lambda kv: -kv[1])),
        "long_acks_mean_ms_in": {name: round(ms / max(1, sum(causes.values())), 1)
                                 for name, ms in sorted(ms_in.items(), key=lambda kv: -kv[1])},
    }  # fmt: skip


def draw(saved: list[Path], svg: Path) -> None:
    """The latency-against-load chart of saved runs (``--save``), named by their ``label``."""
    runs = []
    for path in saved:
        data = json.loads(path.read_text())
        runs.append((str(data.get("label") or path.stem), data["summary"]))
    svg.write_text(latency_svg("Ack latency against load (bench/run.py)", runs))


def summarise(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace, idle: dict[str, Any] | None,
              peaks: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """The summary line: medians over the rounds, ratios within each round, memory."""
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
        "half_rate_bids_per_s": median(runs["paced_50"], "accepted_per_s"),
        "ack_p50_ms_half_rate": median(runs["paced_50"], "ack_p50_ms"),
        "ack_p99_ms_half_rate": median(runs["paced_50"], "ack_p99_ms"),
        "ack_p999_ms_half_rate": median(runs["paced_50"], "ack_p999_ms"),
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
        "load": {str(load): level(runs[f"paced_{load}"]) for load in PACED} | {"100": level(runs["throughput"])},
    }  # fmt: skip
    return summary


# ---------------------------------------------------------------------- issue 15: Redis and processes

SETUPS = (("sqlite_1", False, 1), ("redis_1", True, 1), ("redis_2", True, 2))
"""The halls of ``--scaling``: name, on Redis, server processes (``hall serve --workers``)."""


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children still running (a ``--workers``
    parent's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in [pid, *children_of(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def is_loadgen(pid: int) -> bool:
    try:
        return b"loadgen.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def measured(run: Any, pids: dict[str, int]) -> dict[str, Any]:
    """``run()``'s result with the share of a core each process took over its measuring window
    (the result's ``window``, on the system-wide monotonic clock that ``time.perf_counter`` reads
    here and in the load generator): the servers', and the load generator's, sampled from /proc
    every 0.1 s meanwhile and interpolated at the window's ends."""
    samples: list[tuple[float, dict[str, float]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
            cpu["loadgen"] = sum(cpu_seconds(child) for child in children_of(os.getpid()) if is_loadgen(child))
            samples.append((time.perf_counter(), cpu))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result: dict[str, Any] = run()
    finally:
        done.set()
        sampler.join()
    began, ended = result["window"]

    def at(t: float, name: str) -> float:
        for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
            if t0 <= t <= t1:
                return c0[name] + (c1[name] - c0[name]) * (t - t0) / max(t1 - t0, 1e-9)
        raise SystemExit("the CPU samples do not cover the measuring window")

    shares = {name: round((at(ended, name) - at(began, name)) / (ended - began), 2) for name in samples[0][1]}
    return {**result, "cpu_share": shares}


def scaling(args: argparse.Namespace) -> None:
    """The hall on SQLite with one process, on Redis with one and with two, side by side in each
    round: saturated throughput and fan-out to ``--watchers`` sockets (spread by the kernel over
    a ``--workers`` hall's processes). Each Redis hall has a ``redis-server`` of its own with
    ``appendfsync always`` (tests/rediskit.py), in the run's temporary folder."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import rediskit

    missing = rediskit.unavailable()
    if missing:
        raise SystemExit(missing)
    work = Path(tempfile.mkdtemp(prefix="hall-scaling-"))
    need = args.watchers + 1000
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < need:
        raise SystemExit(f"open files limit {hard} < {need}: raise it (ulimit -n) or lower --watchers")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = {**os.environ, "HALL_BID_RATE": "1000000", "HALL_BID_BURST": "1000000", "HALL_MAX_CONNECTIONS": str(need)}
    hall_bin = [PYTHON, "-m", "hall.cli"]
    runs: dict[str, list[dict[str, Any]]] = {}
    with ExitStack() as stack:
        halls: dict[str, tuple[int, Path, Path, dict[str, int]]] = {}
        for name, on_redis, workers in SETUPS:
            store: list[str] = []
            pids: dict[str, int] = {}
            if on_redis:
                redis = rediskit.RedisServer(work / f"{name}-redis")
                redis.start()
                stack.callback(redis.stop)
                assert redis.process is not None
                store, pids["redis"] = ["--store", redis.url], redis.process.pid
            db, seed, bidding = work / f"{name}.db", work / f"{name}-seed.json", work / f"{name}-bidding.json"
            with seed.open("wb") as out:
                subprocess.run([*hall_bin, "seed-demo", "--db", str(db), *store, "--live", "--lots", "40",
                                "--bidders", "40", "--duration", str(24 * 3600)], stdout=out, env=env, check=True)  # fmt: skip
            seeded = json.loads(seed.read_text())
            bidding.write_text(json.dumps({**seeded, "lots": seeded["lots"][:-1]}))
            port = free_port()
            argv = [*hall_bin, "serve", "--db", str(db), "--port", str(port), *store, "--workers", str(workers)]
            pids["hall"] = stack.enter_context(server(argv, port, "/healthz", env, work / f"{name}.log"))
            halls[name] = (port, seed, bidding, pids)
        time.sleep(5)  # the two-process hall's workers have shared the lots out (hall/cluster.py)
        seconds = ["--seconds", str(args.seconds)]
        fan = ["--watchers", str(args.watchers), "--seconds", str(args.seconds), "--rate", "0",
               "--inflight", str(args.fanout_inflight)]  # fmt: skip
        for _ in range(args.rounds):
            for name, (port, seed, bidding, pids) in halls.items():
                runs.setdefault(f"{name}_throughput", []).append(measured(lambda: loadgen(
                    "throughput", port, "--seed-file", str(bidding), *seconds), pids))  # fmt: skip
                runs.setdefault(f"{name}_fanout", []).append(measured(lambda: loadgen(
                    "fanout", port, "--seed-file", str(seed), *fan), pids))  # fmt: skip
    ratio = {
        "redis_1_over_sqlite_1_throughput": [r["accepted_per_s"] / s["accepted_per_s"] for r, s in
                                             zip(runs["redis_1_throughput"], runs["sqlite_1_throughput"], strict=True)],
        "redis_2_over_redis_1_fanout": [t["deliveries_per_s"] / o["deliveries_per_s"] for t, o in
                                        zip(runs["redis_2_fanout"], runs["redis_1_fanout"], strict=True)],
        "redis_2_over_redis_1_throughput": [t["accepted_per_s"] / o["accepted_per_s"] for t, o in
                                            zip(runs["redis_2_throughput"], runs["redis_1_throughput"], strict=True)],
    }  # fmt: skip
    summary: dict[str, Any] = {"scenario": "scaling", "rounds": args.rounds, "seconds": args.seconds,
                               "watchers": args.watchers}  # fmt: skip
    for name, _, _ in SETUPS:
        t, f = runs[f"{name}_throughput"], runs[f"{name}_fanout"]
        summary[name] = {
            "bids_per_s": median(t, "accepted_per_s"), "ack_p50_ms": median(t, "ack_p50_ms"),
            "ack_p99_ms": median(t, "ack_p99_ms"), "fanout_deliveries_per_s": median(f, "deliveries_per_s"),
            "fanout_p99_ms": median(f, "delivery_p99_ms"),
            "fanout_missing": sum(r["missing"] for r in f), "fanout_duplicates": sum(r["duplicates"] for r in f),
            "fanout_dropped": sum(r["dropped"] for r in f),
            "cpu_share_throughput": t[len(t) // 2]["cpu_share"], "cpu_share_fanout": f[len(f) // 2]["cpu_share"],
        }  # fmt: skip
    summary |= {name: round(statistics.median(values), 3) for name, values in ratio.items()}
    print(json.dumps(summary), flush=True)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        meta = {"label": args.label or args.save.stem, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average": os.getloadavg(), "argv": sys.argv[1:]}  # fmt: skip
        args.save.write_text(json.dumps({**meta, "summary": summary, "runs": runs}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--watchers", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=10000, help="idle sockets for the memory figure (0: skip)")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s, 500 watchers, 1,000 idle (development)")
    parser.add_argument("--save", type=Path, help="write the summary and every run to this JSON file")
    parser.add_argument("--label", default="", help="the run's name in the saved file and on the chart")
    parser.add_argument("--svg", type=Path, help="draw the latency-against-load chart here (with --chart: of those)")
    parser.add_argument("--chart", type=Path, nargs="+", help="draw --svg from these saved runs; run nothing")
    parser.add_argument("--fanout-inflight", type=int, default=128,
                        help="--scaling: bids the fan-out's driver keeps in flight, so that the event rate is "
                             "bounded by the hall's fan-out rather than by one socket's round trips")  # fmt: skip
    parser.add_argument("--scaling", action="store_true",
                        help="issue 15: the hall on SQLite (1 process) and on Redis (1 and 2 processes), side by side")
    args = parser.parse_args()
    if args.scaling:
        if args.quick:
            args.rounds, args.seconds, args.watchers = 1, 3.0, 500
        scaling(args)
        return
    if args.chart:
        if args.svg is None:
            raise SystemExit("--chart needs --svg")
        draw(args.chart, args.svg)
        return
    if args.quick:
        args.rounds, args.seconds, args.watchers, args.idle = 1, 3.0, 500, 1000
    load_before = os.getloadavg()  # the machine is shared: say how busy it was

    # Thousands of sockets each side: the children inherit the raised limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(args.watchers, args.idle) + 1000
    if hard < need:
        raise SystemExit(f"open files limit {hard} < {need}: raise it (ulimit -n) or lower --watchers/--idle")

    work = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    db, seed, bidding = work / "hall.db", work / "seed.json", work / "bidding.json"
    profile_path = work / "stalls.json"
    env = {**os.environ, "HALL_BID_RATE": "1000000", "HALL_BID_BURST": "1000000",
           "HALL_MAX_CONNECTIONS": str(need), "HALL_PROFILE_STALLS": str(profile_path)}  # fmt: skip
    hall_bin = [PYTHON, "-m", "hall.cli"]
    with seed.open("wb") as out:
        subprocess.run([*hall_bin, "seed-demo", "--db", str(db), "--live", "--lots", "40", "--bidders", "40",
                        "--duration", str(24 * 3600)], stdout=out, env=env, check=True)  # fmt: skip
    # The last lot is the fan-out's and the side client's; the throughput runs bid on the others.
    seeded = json.loads(seed.read_text())
    bidding.write_text(json.dumps({**seeded, "lots": seeded["lots"][:-1]}))
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
        for number in range(args.rounds):
            hall = ["--seed-file", str(seed)]
            bids = ["--seed-file", str(bidding)]
            record("echo", loadgen("echo", ceiling_port, *seconds))
            trace = work / f"trace-{number}-100.json"
            full = record("throughput", loadgen("throughput", hall_port, *bids, *seconds, "--trace", str(trace)))
            full["trace"] = str(trace)
            for load in PACED:
                rate = str(round(full["accepted_per_s"] * load / 100))
                trace = work / f"trace-{number}-{load}.json"
                paced, side = with_side(hall_port, str(seed), args.seconds, lambda: loadgen(
                    "throughput", hall_port, *bids, *seconds, "--rate", rate, "--trace", str(trace)))  # fmt: skip
                record(f"paced_{load}", {**paced, "side": side, "trace": str(trace)})
            record("broadcast_saturated", loadgen("broadcast", ceiling_port, *fan, "--rate", "0"))
            record("broadcast_raw_saturated", loadgen("broadcast", ceiling_port, *fan, "--rate", "0", "--raw"))
            record("fanout_saturated", loadgen("fanout", hall_port, *hall, *fan, "--rate", "0"))
            record("broadcast_10", loadgen("broadcast", ceiling_port, *fan, "--rate", "10"))
            record("fanout_10", loadgen("fanout", hall_port, *hall, *fan, "--rate", "10"))
        profile = read_profile(hall_pid, profile_path)
        for name in ("throughput", *(f"paced_{load}" for load in PACED)):
            for run in runs[name]:
                run["stalls"] = stalls(profile, run, Path(run["trace"]))
        idle = idle_rss(hall_pid, hall_port, args.idle, str(seed), 5) if args.idle else None
        peaks = {"hall_peak_rss_mib": round(memory_kib(hall_pid, "VmHWM") / 1024, 1),
                 "ceiling_peak_rss_mib": round(memory_kib(ceiling_pid, "VmHWM") / 1024, 1)}  # fmt: skip

    summary = summarise(runs, args, idle, peaks)
    print(json.dumps(summary), flush=True)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        meta = {"label": args.label or args.save.stem, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average_start": load_before, "load_average_end": os.getloadavg(), "argv": sys.argv[1:]}  # fmt: skip
        args.save.write_text(json.dumps({**meta, "summary": summary, "runs": runs}, indent=1) + "\n")
    if args.svg:
        runs_drawn = [(args.label or "this run", summary)]
        args.svg.write_text(latency_svg("Ack latency against load (bench/run.py)", runs_drawn))


if __name__ == "__main__":
    main()
