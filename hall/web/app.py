"""The Starlette application; its lifespan owns the store and the runtime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hall.config import Config
from hall.runtime import Runtime
from hall.store import SqliteStore


async def healthz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    return JSONResponse({"ok": True, "lots": len(runtime.lots)})


def create_app(config: Config | None = None) -> Starlette:
    config = config or Config()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = SqliteStore(config.db)
        await store.open()
        runtime = Runtime(store, max_batch=config.max_batch, snapshot_every=config.snapshot_every)
        await runtime.start()
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.stop()
            await store.close()

    return Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)
