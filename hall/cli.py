"""The ``hall`` command: ``serve`` (the default), ``seed-demo``, ``patents import`` and
``verify``; flags mirror ``HALL_*``."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import click
import msgspec

from hall.config import Config


_store_option = click.option(
    "--store", envvar="HALL_STORE", default="", show_default="SQLite alone",
    help="redis://HOST:PORT/DB: the lots' journals in Redis, beside the SQLite file.",
)  # fmt: skip
"""The lots' store, for every command that opens one (HALL_STORE)."""


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
@_store_option
@click.option("--workers", envvar="HALL_WORKERS", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port, as one hall (needs --store redis://...).")  # fmt: skip
@click.option("--fd", type=int, hidden=True, help="Serve on this inherited socket (a worker of --workers).")
def serve(db: str, host: str, port: int, store: str, workers: int, fd: int | None) -> None:
    """Run the hall server (uvicorn) on the given store."""
    import uvicorn

    from hall.config import uvicorn_settings
    from hall.logs import configure
    from hall.web.app import create_app

    configure()
    config = Config(db=db, host=host, port=port, store=store)
    _check_store(config)
    if workers > 1:
        if not store:
            raise click.UsageError("--workers needs --store redis://HOST:PORT/DB: only one process may write "
                                   "the lots' journals in SQLite (docs/scaling.md)")  # fmt: skip
        from hall.workers import supervise

        sys.exit(supervise(workers, host, port, ["--db", db, "--store", store]))
    settings = uvicorn_settings(config)
    if fd is not None:
        settings = {name: value for name, value in settings.items() if name not in ("host", "port")}
        settings["fd"] = fd
    uvicorn.run(create_app(config), **settings)  # type: ignore[arg-type]


@main.command("seed-demo")
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db")
@click.option("--lots", default=12, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--live", is_flag=True, help="Lots are live now instead of opening tomorrow.")
@click.option("--duration", default=3600, show_default=True, type=click.IntRange(60, 30 * 24 * 3600),
              help="Seconds of bidding per lot.")  # fmt: skip
@click.option("--bidders", default=20, show_default=True, type=click.IntRange(0, 9999),
              help="Verified bidder accounts, each of its own enterprise, admitted to every lot.")  # fmt: skip
@_store_option
def seed_demo(db: str, lots: int, live: bool, duration: int, bidders: int, store: str) -> None:
    """Create demo people (admin, staff, auctioneer, sellers, bidders) and a session of lots in
    the store; print the lot ids and every account's phone and password as one JSON object.

    Accounts are found by phone: a second run reuses them, resets their passwords to the
    printed ones and adds new lots. For demo databases only.
    """
    from hall.deals import Deals
    from hall.demo import Seeded, seed
    from hall.pdfscan import Limits
    from hall.runtime import Runtime
    from hall.store import open_store
    from hall.store.people import People
    from hall.uploads import FileStore, PdfChecker

    config = Config(db=db, store=store)
    _check_store(config)

    async def run() -> Seeded:
        lots_store = open_store(db, store)
        await lots_store.open()
        runtime = Runtime(lots_store)
        await runtime.start()
        files = FileStore(lots_store, config, PdfChecker(config.pdf_workers, Limits(seconds=config.pdf_seconds)))
        deals = Deals(lots_store, runtime, files)  # the showcase's sold lot gets its deal as on the server
        await deals.start(remind_every=None)
        try:
            return await seed(runtime, People(lots_store), files, lots=lots, live=live, duration=duration,
                              bidders=bidders)  # fmt: skip
        finally:
            await runtime.stop()
            await deals.stop()
            await lots_store.close()

    seeded = asyncio.run(run())
    sys.stdout.buffer.write(msgspec.json.encode(seeded) + b"\n")


@main.group()
def patents() -> None:
    """The local patent catalogue that patent lookup searches (LS-3)."""


@patents.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the report.")  # fmt: skip
def import_patents(file: Path, db: str, lang: str) -> None:
    """Add the patents of FILE (CSV in UTF-8, or xlsx; a header row naming the columns) to the
    catalogue, updating those whose number it has already. Bad rows are reported by row number
    and skipped; a file that cannot be read is refused whole (exit status 1). Safe beside a
    running hall: it writes a few hundred rows per transaction."""
    from hall.patent_import import FileRefused, ImportReport, import_file
    from hall.store import SqliteStore
    from hall.store.patents import PatentCatalogue

    async def run() -> ImportReport:
        store = SqliteStore(db)
        await store.open()
        try:
            return await import_file(PatentCatalogue(store), file, int(time.time() * 1000))
        finally:
            await store.close()

    try:
        report = asyncio.run(run())
    except FileRefused as exc:
        raise click.ClickException(exc.message(lang)) from None
    for line in report.lines(lang):
        click.echo(line)


@main.command()
@click.option("--db", envvar="HALL_DB", default=lambda: Config().db, show_default="var/hall.db",
              type=click.Path(exists=True, dir_okay=False))  # fmt: skip
@click.option("--lot", type=click.IntRange(1, 2**63 - 1), help="The lot to check.")
@click.option("--all", "every", is_flag=True, help="Check every lot, in id order.")
@_store_option
def verify(db: str, lot: int | None, every: bool, store: str) -> None:
    """Recompute lots' hash chains from the store (docs/durability.md) and print one JSON line
    per lot: {"lot", "ok": true, "events", "digest"} with the final digest, or {"lot", "ok":
    false, "events", "seq", "problem"} naming the first event that does not match. Exits 1 when
    a lot does not match. Reads only (once the store has the migrations a start would run), so
    it may run beside the server."""
    from hall.record import Verdict
    from hall.record import verify as verify_lot
    from hall.store import open_store

    if (lot is None) != every:
        raise click.UsageError("give --lot ID or --all")
    _check_store(Config(db=db, store=store))

    async def run() -> list[Verdict]:
        lots_store = open_store(db, store)
        await lots_store.open()
        try:
            found = await lots_store.fetchall("SELECT id FROM lots WHERE ? OR id = ? ORDER BY id", (every, lot))
            ids = [row[0] for row in found]
            if lot is not None and not ids:
                raise click.BadParameter(f"no lot {lot} in {db}", param_hint="--lot")
            verdicts = []
            for lot_id in ids:
                verdict = await verify_lot(lots_store, lot_id)
                sys.stdout.buffer.write(msgspec.json.encode(verdict) + b"\n")
                sys.stdout.flush()
                verdicts.append(verdict)
            return verdicts
        finally:
            await lots_store.close()

    if not all(verdict.ok for verdict in asyncio.run(run())):
        sys.exit(1)

def _check_store(config: Config) -> None:
    """A ``--store`` the hall cannot use is a usage error, before anything starts."""
    from hall.store import open_store

    try:
        open_store(config.db, config.store)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None


if __name__ == "__main__":
    main()
