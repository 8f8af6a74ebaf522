from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import pytest
from hallkit import seed_demo

from hall.demo import SHOWCASE
from hall.engine import Mode, State
from hall.runtime import Runtime
from hall.store import SqliteStore

HALL = [sys.executable, "-m", "hall.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _recovered(db: Path) -> Runtime:
    store = SqliteStore(db)
    await store.open()
    runtime = Runtime(store)
    await runtime.start()
    await runtime.stop()
    await store.close()
    return runtime


def test_seed_demo_prints_the_ids_of_live_lots_it_stored(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seeded = seed_demo(db, "--lots", "5", "--live", "--duration", "600")
    assert seeded["lots"] == [1, 2, 3, 4, 5]
    runtime = anyio.run(_recovered, db)
    assert sorted(runtime.lots) == list(range(1, 5 + len(SHOWCASE) + 1))  # the showcase after them
    assert all(runtime.lots[i].state is State.LIVE and runtime.lots[i].spec.mode is Mode.TIMED for i in seeded["lots"])
    assert all(runtime.titles[i] for i in seeded["lots"])


def test_seed_demo_without_live_leaves_lots_in_publicity(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seeded = seed_demo(db, "--lots", "2")
    runtime = anyio.run(_recovered, db)
    assert [runtime.lots[i].state for i in seeded["lots"]] == [State.PUBLICITY, State.PUBLICITY]


@pytest.mark.slow
def test_serve_starts_on_the_given_store_and_port(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    seed_demo(db, "--lots", "3", "--live")
    port = _free_port()
    env = {**os.environ, "HALL_DB": str(db)}  # the flag's environment twin
    server = subprocess.Popen([*HALL, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    body = json.load(response)
            except OSError:
                time.sleep(0.1)
        assert body == {"ok": True, "lots": 3 + len(SHOWCASE)}
    finally:
        server.terminate()
        server.wait(timeout=10)
