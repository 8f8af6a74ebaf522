"""What /metrics exposes, in Prometheus's text format (prometheus-client).

One registry per process: the counters describe the process, whichever app object served the
request (tests build several apps in one process, so they read deltas, never absolute values).
Gauges of things that are simply counted (lots by state, watchers) are set when scraped.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from hall.engine import Rejection, Result

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only double the page
REGISTRY: Final = CollectorRegistry(auto_describe=True)

BIDS: Final = Counter("hall_bids", "Bids answered, by result (accepted or the refusal code).",
                      ["result"], registry=REGISTRY)  # fmt: skip
COMMANDS: Final = Counter("hall_commands", "Auctioneer commands answered, by action and result.",
                          ["action", "result"], registry=REGISTRY)  # fmt: skip
ACK_SECONDS: Final = Histogram(
    "hall_ack_seconds", "From a bid frame's arrival to its ack being queued (includes the commit).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
COMMIT_BATCH: Final = Histogram(
    "hall_commit_batch_events", "Events per group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096), registry=REGISTRY,
)
SOCKETS: Final = Gauge("hall_ws_open", "Open WebSockets, by kind (json, page).", ["kind"], registry=REGISTRY)
DROPPED: Final = Counter("hall_ws_dropped_slow", "Sockets closed for falling too far behind.", registry=REGISTRY)
FRAMES: Final = Counter("hall_ws_frames_queued", "Event frames and fragments queued to watchers.",
                        registry=REGISTRY)  # fmt: skip
BAD_FRAMES: Final = Counter("hall_ws_bad_frames", "Client frames refused as malformed or unknown.",
                            registry=REGISTRY)  # fmt: skip
LOTS: Final = Gauge("hall_lots", "Lots, by state.", ["state"], registry=REGISTRY)
WATCHERS: Final = Gauge("hall_watchers", "Socket subscriptions to lots.", registry=REGISTRY)
# issue 15: the hall on several processes (hall/cluster.py)
OWNED: Final = Gauge("hall_lots_owned", "Lots this process owns (holds the lease of).", registry=REGISTRY)
FORWARDED: Final = Counter("hall_forwarded", "Bids and commands forwarded to their lot's owner, by result.",
                           ["result"], registry=REGISTRY)  # fmt: skip
LEASES_LOST: Final = Counter("hall_leases_lost", "Leases this process found taken by another.", registry=REGISTRY)


_ACCEPTED: Final = BIDS.labels("accepted")


def result_label(result: Result) -> str:
    """``accepted``, or the refusal's code."""
    return result.code.value if isinstance(result, Rejection) else "accepted"


def bid_answered(result: Result, seconds: float) -> None:
    """Count an answered bid by its result (accepted, or the refusal's code) and time it."""
    (BIDS.labels(result.code.value) if isinstance(result, Rejection) else _ACCEPTED).inc()
    ACK_SECONDS.observe(seconds)
