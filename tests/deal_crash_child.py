"""The process tests/test_deals_crash.py kills: it sells lots through the real store and runtime,
with the deals' service following the closes as the server's does.

    python tests/deal_crash_child.py DBPATH

Makes a buyer and a seller organisation (once), then for ever: an auctioneer-run lot, opened,
one bid, hammered; prints ``closed LOT`` once the hammer is acknowledged, i.e. durable. The
parent ends it with SIGKILL. With ``HALL_KILL_AFTER_CLOSE=1`` it kills itself instead, from a
runtime listener, as soon as its first close is durable: after the close and before the deals'
listener has written anything, the very window a deal derived beside the close would be lost in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from hall.deals import Deals
from hall.engine import Accepted, AnyEvent, Closed, LotSpec, Mode
from hall.runtime import Action, Runtime
from hall.store import SqliteStore
from hall.store.people import People

AUCTIONEER = 999
DAY = 24 * 3_600_000


def kill_after_close(events: Sequence[AnyEvent]) -> None:
    if any(isinstance(event, Closed) for event in events):
        os.kill(os.getpid(), signal.SIGKILL)


async def main(path: str) -> None:
    store = SqliteStore(path)
    await store.open()
    runtime = Runtime(store)
    deals = Deals(store, runtime)
    try:
        await runtime.start()
        if os.environ.get("HALL_KILL_AFTER_CLOSE") == "1":
            runtime.listen(kill_after_close)
        await deals.start(remind_every=None)
        people = People(store)
        found = await people.credentials("13800000001")
        seller_org = await people.org("示范大学", "university")
        buyer_org = await people.org("恒达科技有限公司", "enterprise")
        buyer = found[0] if found else await people.create_user("13800000001", "x", "恒达科技有限公司", buyer_org)
        if not await people.credentials("13900000301"):
            await people.create_user("13900000301", "x", "示范大学", seller_org)
        out = sys.stdout
        n = 0
        while True:
            n += 1
            now = runtime.clock()
            spec = LotSpec(seller_org=seller_org, start_price=1_000 + n, increment=1, publicity_start=now - 2 * DAY,
                           bidding_start=now - DAY, end=now + DAY, mode=Mode.LIVE)  # fmt: skip
            lot = (await runtime.create_lot(spec, f"拍品 {n}")).id
            await runtime.command(lot, AUCTIONEER, Action.OPEN, f"open-{lot}")
            await runtime.register(lot, buyer, buyer_org)
            if not isinstance(await runtime.bid(lot, buyer, buyer_org, spec.start_price, f"bid-{lot}"), Accepted):
                raise RuntimeError(f"the bid on lot {lot} was refused")
            if not isinstance(await runtime.command(lot, AUCTIONEER, Action.HAMMER, f"hammer-{lot}"), Accepted):
                raise RuntimeError(f"lot {lot} was not hammered")
            out.write(f"closed {lot}\n")
            out.flush()
    finally:
        await deals.stop()
        await runtime.stop()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
