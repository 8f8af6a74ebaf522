"""The Starlette application; its lifespan owns the store, the runtime and the services."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Final

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from hall import metrics, stalls
from hall.auctions import Auctions
from hall.auth.addresses import parse_networks
from hall.auth.throttle import LoginThrottle
from hall.config import Config
from hall.deals import Deals
from hall.dispatch import Dispatcher
from hall.engine import AnyEvent, State
from hall.figures import Figures
from hall.hub import Hub
from hall.offline_deals import OfflineDeals
from hall.pdfscan import Limits
from hall.runtime import Runtime, wall_clock
from hall.store import SqliteStore, open_store
from hall.store.auctions import AuctionStore
from hall.store.codes import PhoneCodes
from hall.patents import HttpPatentSource, patent_source
from hall.store.patents import PatentCatalogue
from hall.store.people import People
from hall.uploads import FileStore, PdfChecker
from hall.web import accounts, admin, auctions as auction_pages, deals as deal_pages, fragments, identities, listings, live, openapi, orientation, pages, patents, reviews, shops
from hall.web import demands
from hall.web import figures as figure_pages
from hall.web import inbox as inbox_pages
from hall.web import responses as response_pages
from hall.web import matching
from hall.web import roadshows as roadshow_pages
from hall.web.errors import Refused, error
from hall.web.i18n import MESSAGES, lang_of, translate
from hall.web.security import BodyLimit, IdentityMiddleware, SessionKeys, answer, route, wants_json
from hall.web.templating import render

UPLOAD_PREFIXES = ("/lots/", "/account/verification", "/account/identity", "/api/identities", "/seller/", "/api/listings",
                   "/deals/", "/api/deals/", "/staff/offline-deals", "/api/offline-deals", "/demands/", "/api/demands/")

if TYPE_CHECKING:
    from hall.cluster import Cluster


class Health(msgspec.Struct):
    ok: bool
    lots: int
    """Lots loaded (every one restored from the store)."""


async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return answer(Health(ok=True, lots=len(runtime.lots)))


async def metrics_page(request: Request) -> Response:
    """Prometheus text format. Counts only, nothing about any person: open to anyone, like
    /healthz (put both behind the proxy's allow-list where the network calls for it)."""
    hub: Hub = request.app.state.hub
    states = Counter(view.state.value for view in hub.runtime.views.values())
    for state in State:
        metrics.LOTS.labels(state.value).set(states.get(state.value, 0))
    metrics.WATCHERS.set(hub.watching())
    cluster: Cluster | None = request.app.state.cluster
    if cluster is not None:
        metrics.OWNED.set(len(cluster.owned))
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


TITLES: Final = {403: "forbidden", 404: "not_found"}
"""An error page's heading by status; others use ``error_<status>`` when the catalogue has it."""
CODES: Final = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
"""The JSON error's code for Starlette's own errors, by status."""


async def http_error(request: Request, exc: Exception) -> Response:
    """An error in the asker's language: a ``Refused`` says its message; Starlette's own
    errors ("Not Found", in English words, not catalogue keys) say only their heading."""
    assert isinstance(exc, HTTPException)
    title = TITLES.get(exc.status_code) or f"error_{exc.status_code}"
    if title not in MESSAGES:
        title = "error"
    if wants_json(request):
        if isinstance(exc, Refused):
            return exc.answer(request)
        return error(exc.status_code, CODES.get(exc.status_code, "error"), translate(title, lang_of(request)))
    detail = exc.message(request) if isinstance(exc, Refused) and exc.key != title else ""
    return render(request, "error.html", status_code=exc.status_code, title=title, detail=detail)


def _count_batch(events: Sequence[AnyEvent]) -> None:
    metrics.COMMIT_BATCH.observe(len(events))


async def _join(store: SqliteStore, runtime: Runtime, config: Config) -> Cluster | None:
    """On Redis, the hall may run on several processes: this one joins them (hall/cluster.py)
    before the runtime reads the lots, which it then keeps as replicas until it owns them."""
    from hall.store.redis import RedisStore

    if not isinstance(store, RedisStore):
        return None
    from hall.cluster import Cluster

    cluster = Cluster(store, runtime, lease_ms=config.lease_ms)
    runtime.peers = cluster
    await cluster.open()
    return cluster


def create_app(config: Config | None = None) -> Starlette:
    config = config or Config()
    store = open_store(config.db, config.store)
    people = People(store)
    codes = PhoneCodes(store)
    dispatcher = Dispatcher(store)  # SMS from the outbox, through the in-app inbox sender
    keys = SessionKeys()
    pdf = PdfChecker(config.pdf_workers, Limits(seconds=config.pdf_seconds))
    patent_lookup = patent_source(config.patent_service, config.patent_timeout, PatentCatalogue(store))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if (shared := getattr(store, "redis", None)) is not None:  # several processes, one count
            from hall.store.throttle import RedisFailures

            app.state.throttle.failures = RedisFailures(shared)
        secret = config.secret or await people.secret_key()
        keys.load(secret)
        codes.load(secret)
        runtime = Runtime(store, max_batch=config.max_batch, snapshot_every=config.snapshot_every)
        cluster = app.state.cluster = await _join(store, runtime, config)
        await runtime.start()
        app.state.runtime = runtime
        hub = app.state.hub = Hub(runtime, fragments.renderer(lambda: runtime.clock()),  # the clock a test may swap later
                                  fragments.rows_renderer(runtime))
        auctions = app.state.auctions = Auctions(AuctionStore(store), runtime, people)
        auctions.announce = hub.announce
        if cluster is not None:
            auctions.on_publish, cluster.on_published, cluster.on_missed = cluster.published, auctions.learn, auctions.catch_up
        await auctions.start()
        deals = app.state.deals = Deals(store, runtime, FileStore(store, config, pdf))
        await deals.start()
        app.state.figures = Figures(store, runtime, auctions)
        app.state.offline_deals = OfflineDeals(store, runtime, FileStore(store, config, pdf))
        runtime.listen(_count_batch)
        dispatcher.start()
        pdf.start()
        profile = stalls.from_env()  # None unless HALL_PROFILE_STALLS names a file (bench/run.py)
        if cluster is not None:
            await cluster.start()
        try:
            yield
        finally:
            if profile is not None:
                profile.stop()
            if isinstance(patent_lookup, HttpPatentSource):
                await patent_lookup.aclose()
            await pdf.stop()
            await dispatcher.stop()
            if cluster is not None:
                cluster.stop_claiming()
            await runtime.stop()
            if cluster is not None:
                await cluster.stop()
            await auctions.stop()
            await deals.stop()
            await store.close()

    app = Starlette(
        routes=[
            *pages.routes,
            route("/healthz", healthz, name="healthz",
                  api=openapi.Api(tag="service", summary="Liveness: the store is open, every lot restored", answer=Health)),
            route("/openapi.json", openapi.document, name="openapi", api=openapi.API),
            route("/metrics", metrics_page, name="metrics"),
            *accounts.routes,
            *orientation.routes,
            *inbox_pages.routes,
            *reviews.routes, *identities.routes, *shops.routes, *admin.routes,
            *auction_pages.routes,
            *deal_pages.routes,
            *figure_pages.routes,
            *live.routes,
            *patents.routes,
            *listings.routes,
            *demands.routes,  # issue 13, piece A
            *response_pages.routes,
            *matching.routes,
            *roadshow_pages.routes,
        ],
        middleware=[
            Middleware(IdentityMiddleware, people=people, keys=keys),
            Middleware(BodyLimit, upload_prefixes=UPLOAD_PREFIXES),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.store = store
    app.state.people = people
    app.state.dispatcher = dispatcher
    app.state.pdf = pdf
    app.state.patents = patent_lookup
    app.state.throttle = LoginThrottle(wall_clock)
    app.state.codes = codes
    app.state.trusted_proxies = parse_networks(config.trusted_proxies)
    app.state.keys = keys
    return app
