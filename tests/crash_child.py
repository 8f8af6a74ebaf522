"""The process tests/test_crash.py kills: it bids through the real store as fast as it can.

    python tests/crash_child.py DBPATH [STORE]

Opens (or creates) one live timed lot in DBPATH through the store (``open_store``: SQLite
alone, or with STORE a redis:// URL, the lots in Redis) and Runtime, registers
its bidders, prints ``start SEQ`` (the recovered lot's sequence number), then lets many
concurrent tasks outbid each other for ever, printing each accepted bid's sequence number
only once ``Runtime.bid`` has acknowledged it, i.e. once it is durable. It never stops by
itself: the parent ends it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import sys

from hall.engine import Accepted, LotSpec
from hall.runtime import Runtime
from hall.store import open_store

BIDDERS = 48
START = 1
INC = 1
SPEC = LotSpec(seller_org=9, start_price=START, increment=INC, publicity_start=0, bidding_start=1,
               end=4_102_444_800_000)  # 2100-01-01: live for every run  # fmt: skip
SNAPSHOT_EVERY = 100
"""Small, so that snapshots are being written when the kill comes, too."""


async def main(path: str, url: str) -> None:
    store = open_store(path, url)
    await store.open()
    runtime = Runtime(store, snapshot_every=SNAPSHOT_EVERY)
    try:
        await runtime.start()
        lot = min(runtime.lots) if runtime.lots else (await runtime.create_lot(SPEC, "crash")).id
        users = [1000 + i for i in range(BIDDERS)]
        for user in users:
            await runtime.register(lot, user, None)
        out = sys.stdout
        out.write(f"start {runtime.durable[lot]}\n")
        out.flush()
        run = os.getpid()

        async def bidder(user: int) -> None:
            n = 0
            while True:
                price = runtime.lots[lot].price
                n += 1
                result = await runtime.bid(lot, user, None, START if price is None else price + INC, f"{run}-{n}")
                if isinstance(result, Accepted):
                    out.write(f"{result.seq}\n")
                    out.flush()
                else:
                    await asyncio.sleep(0)

        await asyncio.gather(*(bidder(user) for user in users))
    finally:
        await runtime.stop()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
