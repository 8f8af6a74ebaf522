"""The ``hall`` command: ``serve`` (the default) and ``seed-demo``; flags mirror ``HALL_*``."""

from __future__ import annotations

import asyncio
import sys

import click
import msgspec

from hall.config import Config


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Real-time auction hall for technology property-rights exchanges."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db")
@click.option("--host", envvar="HALL_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="HALL_PORT", default=8000, show_default=True, type=int)
def serve(db: str, host: str, port: int) -> None:
    """Run the hall server (uvicorn) on the given store."""
    import uvicorn

    from hall.config import uvicorn_settings
    from hall.logs import configure
    from hall.web.app import create_app

    configure()
    config = Config(db=db, host=host, port=port)
    uvicorn.run(create_app(config), **uvicorn_settings(config))  # type: ignore[arg-type]


@main.command("seed-demo")
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db")
@click.option("--lots", default=12, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--live", is_flag=True, help="Lots are live now instead of opening tomorrow.")
@click.option("--duration", default=3600, show_default=True, type=click.IntRange(60, 30 * 24 * 3600),
              help="Seconds of bidding per lot.")  # fmt: skip
@click.option("--bidders", default=20, show_default=True, type=click.IntRange(0, 9999),
              help="Verified bidder accounts, each of its own enterprise, admitted to every lot.")  # fmt: skip
def seed_demo(db: str, lots: int, live: bool, duration: int, bidders: int) -> None:
    """Create demo people (admin, staff, auctioneer, sellers, bidders) and a session of lots in
    the store; print the lot ids and every account's phone and password as one JSON object.

    Accounts are found by phone: a second run reuses them, resets their passwords to the
    printed ones and adds new lots. For demo databases only.
    """
    from hall.deals import Deals
    from hall.demo import Seeded, seed
    from hall.pdfscan import Limits
    from hall.runtime import Runtime
    from hall.store import SqliteStore
    from hall.store.people import People
    from hall.uploads import FileStore, PdfChecker

    async def run() -> Seeded:
        store = SqliteStore(db)
        await store.open()
        runtime = Runtime(store)
        await runtime.start()
        config = Config(db=db)
        files = FileStore(store, config, PdfChecker(config.pdf_workers, Limits(seconds=config.pdf_seconds)))
        deals = Deals(store, runtime, files)  # the showcase's sold lot gets its deal as on the server
        await deals.start(remind_every=None)
        try:
            return await seed(runtime, People(store), files, lots=lots, live=live, duration=duration, bidders=bidders)
        finally:
            await runtime.stop()
            await deals.stop()
            await store.close()

    seeded = asyncio.run(run())
    sys.stdout.buffer.write(msgspec.json.encode(seeded) + b"\n")


if __name__ == "__main__":
    main()
