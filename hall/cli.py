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

    from hall.web.app import create_app

    config = Config(db=db, host=host, port=port)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


@main.command("seed-demo")
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db")
@click.option("--lots", default=12, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--live", is_flag=True, help="Lots are live now instead of opening tomorrow.")
@click.option("--duration", default=3600, show_default=True, type=click.IntRange(60, 30 * 24 * 3600),
              help="Seconds of bidding per lot.")  # fmt: skip
def seed_demo(db: str, lots: int, live: bool, duration: int) -> None:
    """Create a demo session in the store and print its ids as one JSON object."""
    from hall.demo import seed
    from hall.runtime import Runtime
    from hall.store import SqliteStore

    async def run() -> list[int]:
        store = SqliteStore(db)
        await store.open()
        runtime = Runtime(store)
        await runtime.start()
        try:
            return await seed(runtime, lots=lots, live=live, duration=duration)
        finally:
            await runtime.stop()
            await store.close()

    ids = asyncio.run(run())
    sys.stdout.buffer.write(msgspec.json.encode({"lots": ids}) + b"\n")


if __name__ == "__main__":
    main()
