"""The live hall on the wire: ``/ws`` (the JSON protocol of docs/protocol.md), ``/ws/page``
(HTML fragments for the htmx pages) and the HTTP JSON reads under ``/api/lots``.

Each socket has two halves. Its receive loop decodes frames and judges bids synchronously
(``Runtime.judge_bid``), so a client may pipeline bids without a task per bid; each answer is
queued when the commit it waits for lands. Its sender drains the socket's bounded queue, which
the hub and the answers fill; a socket that falls ``HALL_WS_QUEUE`` frames behind is closed
with 1013 and its queue dropped, so a slow reader costs the lot and the other sockets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Container
from typing import Annotated, Final, NamedTuple

import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1009_MESSAGE_TOO_BIG,
    WS_1013_TRY_AGAIN_LATER,
)
from starlette.websockets import WebSocket, WebSocketDisconnect

from hall import metrics
from hall.auctions import HALL_TOPICS, Auctions
from hall.auth.roles import Identity, allowed
from hall.auth.throttle import TokenBucket
from hall.config import Config
from hall.engine import Action, Code, Result, State
from hall.engine.events import decode
from hall.hub import AheadError, BehindError, Hub, Kind, Watcher
from hall.protocol import (
    MAX_FRAME,
    Bid,
    Command,
    Error,
    EventPage,
    LotSummary,
    Snapshot,
    Subscribe,
    Unsubscribe,
    Welcome,
    Wire,
    ack,
    client_decoder,
    encoder,
    event_frame,
    framed,
    refusal,
    req_decoder,
    summary,
    unframed,
)
from hall.record import GENESIS, RecordPage
from hall.runtime import Runtime
from hall.store import StoreError
from hall.web.accounts import identity_json
from hall.web.errors import Refused
from hall.web.i18n import lang_of, text
from hall.web.openapi import Api
from hall.web.params import ID_MAX, whole
from hall.web.security import answer, identify, route
from hall.web.wsserver import wire_of

log = logging.getLogger(__name__)

RECHECK_S: Final = 5.0
"""How stale a socket's identity may be when it bids: a revoked token or a logged-out session
stops bidding within this long, for the cost of one lookup per socket per interval."""
PAGE_LOTS: Final = 500
"""Most lots one page socket follows (the hall page of a busy day)."""
EVENTS_PAGE: Final = 5000


_Answer = tuple[str, int, Result, float]
"""A judged bid waiting for its commit: request id, lot, result, when its frame arrived."""


class _Socket:
    """A /ws connection's state: who it is, its watcher, its bid budget."""

    def __init__(self, websocket: WebSocket, hub: Hub, config: Config, watcher: Watcher) -> None:
        self.websocket = websocket
        self.hub = hub
        self.runtime: Runtime = hub.runtime
        self.watcher = watcher
        self.identity: Identity | None = websocket.state.identity
        self.authenticated = self.identity is not None
        self.checked = time.monotonic()
        self.bucket = TokenBucket(config.bid_rate, config.bid_burst, self.checked)
        self.awaiting: dict[asyncio.Future[None], list[_Answer]] = {}
        """Bids judged and waiting for a commit, by the commit: answered together when it lands."""

    def send(self, message: msgspec.Struct) -> None:
        self.watcher.push(framed(encoder.encode(message)))

    async def handle(self, raw: str | bytes) -> None:
        try:
            message = client_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            metrics.BAD_FRAMES.inc()
            self.send(Error(code=Wire.BAD_REQUEST.value, message=str(exc), req=_req_of(raw)))
            return
        except RecursionError:
            # msgspec recurses once per nesting level (skipping an unknown field's value too):
            # a frame of 64 KiB can nest 32,000 deep. The decoder raises cleanly at Python's
            # recursion limit; the frame is refused like any other malformed one.
            metrics.BAD_FRAMES.inc()
            self.send(Error(code=Wire.BAD_REQUEST.value, message=self.say("ws_too_deep")))
            return
        match message:
            case Bid():
                await self.bid(message)
            case Command():
                await self.command(message)
            case Subscribe():
                await self.subscribe(message)
            case Unsubscribe():
                self.hub.unsubscribe(self.watcher, message.lot)

    async def subscribe(self, message: Subscribe) -> None:
        lot = message.lot
        try:
            await self.hub.subscribe(self.watcher, lot, message.since)
        except KeyError:
            self.send(Error(code=Code.UNKNOWN_LOT.value, message=self.say("code_unknown_lot"), lot=lot))
        except AheadError as exc:
            self.send(Error(code=Wire.BAD_REQUEST.value, message=self.say("ws_since_ahead", since=exc.since, last=exc.last),
                            lot=lot))  # fmt: skip
        except BehindError as exc:
            self.send(Error(code=Wire.TOO_FAR_BEHIND.value, lot=lot,
                            message=self.say("ws_too_far_behind", missed=exc.missed, limit=exc.limit)))  # fmt: skip
        except StoreError:
            self.send(Error(code=Code.UNAVAILABLE.value, message=self.say("code_unavailable"), lot=lot))

    def say(self, key: str, **params: object) -> str:
        """A catalogue message in the socket's language (its cookie, as on the pages)."""
        return text(key, lang_of(self.websocket), params)

    def stale(self) -> bool:
        """Whether the identity is older than RECHECK_S (checked first, so that a bid on a
        fresh identity makes no coroutine)."""
        return self.authenticated and time.monotonic() - self.checked > RECHECK_S

    async def current(self) -> Identity | None:
        """The socket's identity, looked up again when older than RECHECK_S."""
        if self.stale():
            self.checked = time.monotonic()
            found, *_ = await identify(self.websocket.app.state.people, self.websocket.app.state.keys,
                                       self.websocket)  # fmt: skip
            if found is None:
                log.info("socket's credential ended", extra={"conn": self.watcher.id, "user": self.identity
                                                             and self.identity.id})  # fmt: skip
            self.identity = found
        return self.identity

    async def bid(self, message: Bid) -> None:
        started = time.perf_counter()
        identity = await self.current() if self.stale() else self.identity
        if identity is None or not allowed("ws_bid", identity):
            self._refuse(message.req, message.lot, Wire.UNAUTHENTICATED, "err_sign_in_to_bid")
            return
        if not self.bucket.take(time.monotonic()):
            self._refuse(message.req, message.lot, Wire.RATE_LIMITED, "err_too_many_bids")
            return
        result, pending = self.runtime.judge_bid(message.lot, identity.id, identity.org, message.amount, message.req)
        answer = (message.req, message.lot, result, started)
        if pending is None:
            self._answer([answer], None)
            return
        group = self.awaiting.get(pending)
        if group is None:
            group = self.awaiting[pending] = []
            self.runtime.then(pending, self._answered)
        group.append(answer)

    def _answered(self, committed: asyncio.Future[None]) -> None:
        self._answer(self.awaiting.pop(committed), committed)

    def _answer(self, answers: list[_Answer], committed: asyncio.Future[None] | None) -> None:
        """Ack bids whose commit is done, in the order they came, with one write: a pipelining
        client's bids in one group commit would otherwise cost a system call each."""
        outcome = self.runtime.outcome
        done = time.perf_counter()
        frames = []
        for req, lot, result, started in answers:
            if committed is not None:
                result = outcome(result, committed)
            metrics.bid_answered(result, done - started)
            frames.append(framed(encoder.encode(ack(req, lot, result))))
        self.watcher.push(b"".join(frames), len(frames))

    async def command(self, message: Command) -> None:
        identity = await self.current()
        if identity is None:
            self._refuse(message.req, message.lot, Wire.UNAUTHENTICATED, "err_sign_in", message.action)
            return
        if not allowed("ws_command", identity):
            self._refuse(message.req, message.lot, Wire.FORBIDDEN, "err_auctioneers_only", message.action)
            return
        auctions: Auctions = self.websocket.app.state.auctions
        if not auctions.runs(message.lot, identity.id):
            self._refuse(message.req, message.lot, Wire.FORBIDDEN, "au_err_not_your_session", message.action)
            return
        result = await self.runtime.settled(*self.runtime.judge_command(
            message.lot, identity.id, message.action, message.req, seconds=message.seconds,
            reason=message.reason, amount=message.amount, bidder=message.bidder))  # fmt: skip
        code = metrics.result_label(result)
        metrics.COMMANDS.labels(message.action.value, code).inc()
        log.info("command %s", message.action.value, extra={"lot": message.lot, "conn": self.watcher.id,
                 "user": identity.id, "req": message.req, "action": message.action.value, "code": code})  # fmt: skip
        self.send(ack(message.req, message.lot, result))

    def _refuse(self, req: str, lot: int, code: Wire, key: str, action: Action | None = None) -> None:
        """Refuse a bid, or with ``action`` a command, counting it as such; ``key`` is the
        message's catalogue key, said in the socket's language."""
        if action is None:
            metrics.BIDS.labels(code.value).inc()
        else:
            metrics.COMMANDS.labels(action.value, code.value).inc()
        self.send(refusal(req, lot, code, self.say(key)))


def _req_of(raw: str | bytes) -> str | msgspec.UnsetType:
    """The ``req`` of a frame that failed to decode, when it has a readable one."""
    try:
        req = req_decoder.decode(raw).req
    except (msgspec.DecodeError, RecursionError):
        return msgspec.UNSET
    return req if isinstance(req, str) and len(req) <= 64 else msgspec.UNSET


async def _send(websocket: WebSocket, watcher: Watcher) -> None:
    """Write what the watcher queued until it is dropped.

    On the hall's own server (``hall.web.wsserver``) the watcher writes frames itself while
    the transport keeps up; what it queued meanwhile goes out here in one write once the
    transport has drained, so a peer that reads slowly piles frames up in its bounded queue
    and is dropped. Elsewhere (the test client) each payload is an ASGI send."""
    wire = wire_of(websocket.scope)
    if wire is not None:
        watcher.write = wire.try_write
        while not watcher.dropped and wire.open:
            await watcher.wake.wait()
            watcher.wake.clear()
            await wire.drained()
            if watcher.queue:
                wire.write(watcher.take())
        return
    while not watcher.dropped:
        await watcher.wake.wait()
        watcher.wake.clear()
        for payload in unframed(watcher.take()):
            await websocket.send_text(payload.decode())


async def _serve(websocket: WebSocket, watcher: Watcher, label: str, receive_loop: asyncio.Task[None]) -> None:
    """Run a socket: its sender beside ``receive_loop``, both gone when either ends.

    A watcher dropped as too slow is closed from here, not by its sender: the sender may be
    stuck in a send to a peer that reads nothing (the server waits for the transport to
    drain), and must not keep the socket open until the peer reads again. When even the close
    frame cannot leave within a second, the hall's server aborts the connection."""
    hub: Hub = websocket.app.state.hub
    loop = asyncio.get_running_loop()
    dropped: asyncio.Future[None] = loop.create_future()
    watcher.on_drop = lambda: None if dropped.done() else dropped.set_result(None)
    sender = loop.create_task(_send(websocket, watcher))
    metrics.SOCKETS.labels(label).inc()
    hub.sockets += 1
    peer = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
    log.debug("socket open", extra={"conn": watcher.id, "kind": label, "peer": peer})
    try:
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await asyncio.wait((receive_loop, sender, dropped), return_when=asyncio.FIRST_COMPLETED)
            if receive_loop.done():
                receive_loop.result()  # a failure is the server's to log; the sender's end with the socket
        if watcher.dropped:
            metrics.DROPPED.inc()
            log.warning("slow socket dropped", extra={"conn": watcher.id, "lots": sorted(watcher.lots)})
            receive_loop.cancel()
            sender.cancel()  # out of a send that may never return
            try:
                await asyncio.wait_for(websocket.close(WS_1013_TRY_AGAIN_LATER, Wire.TOO_SLOW.value), 1.0)
            except TimeoutError:
                # The peer reads nothing, so even the close frame cannot leave: let it go.
                if (wire := wire_of(websocket.scope)) is not None:
                    wire.abort()
            except Exception:  # noqa: BLE001 - the peer left meanwhile; nothing to close
                pass
    finally:
        hub.forget(watcher)
        receive_loop.cancel()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        metrics.SOCKETS.labels(label).dec()
        hub.sockets -= 1
        log.debug("socket closed", extra={"conn": watcher.id, "kind": label})


async def _admitted(websocket: WebSocket) -> bool:
    """Refuse an upgrade before accepting it: a cookie socket from a foreign page (1008), or
    one beyond ``HALL_MAX_CONNECTIONS`` open sockets (1013; uvicorn's own limit counts only
    plain HTTP requests)."""
    if not websocket.state.origin_ok:
        # A cookie rides along on any page's socket: only the hall's own pages may use it.
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return False
    hub: Hub = websocket.app.state.hub
    config: Config = websocket.app.state.config
    if hub.sockets >= config.max_connections:
        await websocket.close(code=WS_1013_TRY_AGAIN_LATER, reason="server full")
        return False
    return True


async def _frames(websocket: WebSocket) -> str | bytes | None:
    """The next client frame; None once the socket is gone or the frame was too big (closed)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    raw: str | bytes = message.get("text") or message.get("bytes") or b""
    # The limit is on bytes; a text frame needs encoding only when its characters might exceed it.
    size = len(raw) if isinstance(raw, bytes) or len(raw) * 4 <= MAX_FRAME else len(raw.encode())
    if size > MAX_FRAME:
        await websocket.close(WS_1009_MESSAGE_TOO_BIG, f"frames are at most {MAX_FRAME} bytes")
        return None
    return raw


async def ws(websocket: WebSocket) -> None:
    if not await _admitted(websocket):
        return
    await websocket.accept()
    app = websocket.app
    hub: Hub = app.state.hub
    config: Config = app.state.config
    watcher = hub.watcher(Kind.JSON, config.ws_queue)
    socket = _Socket(websocket, hub, config, watcher)
    identity = socket.identity
    socket.send(Welcome(user=identity_json(identity) if identity else None, now=hub.runtime.clock()))

    async def receive() -> None:
        while (raw := await _frames(websocket)) is not None:
            await socket.handle(raw)

    await _serve(websocket, watcher, "json", asyncio.get_running_loop().create_task(receive()))


class _PageQuery(NamedTuple):
    kind: Kind
    lots: list[int]
    since: int | None
    topic: str | None
    """The hall's topic whose new lots the page shows (``Hub.follow``): ``hall`` or ``hall:<industry>``."""
    after: int


def _page_lots(params: QueryParams, views: Container[int]) -> _PageQuery:
    """A page socket's query: its kind, its lots (each once, in the order named, at most
    ``PAGE_LOTS`` names in all), ``since``, and the topic it follows with the highest lot id
    its page knew (``after``). Raises ValueError (or ``whole``'s ``Refused``) for anything else."""
    kind = Kind(params.get("kind", "summary"))
    names = params.get("lots", "").split(",")
    if kind is Kind.JSON or len(names) > PAGE_LOTS:
        raise ValueError(kind)
    lots = list(dict.fromkeys(whole(name, "lots", low=1) for name in names if name))
    if any(lot not in views for lot in lots):
        raise ValueError(lots)
    since = whole(params["since"], "since") if "since" in params and len(lots) == 1 else None
    topic = params.get("topic")
    if topic is not None and (topic not in HALL_TOPICS or kind is not Kind.SUMMARY):
        raise ValueError(topic)
    return _PageQuery(kind, lots, since, topic, whole(params.get("after"), "after", default=0))


async def ws_page(websocket: WebSocket) -> None:
    """The htmx pages' socket: ``?lots=1,2,3&kind=summary|lot[&since=S][&topic=T&after=N]``
    (``since`` for a single lot: the page has seen up to S and wants nothing it already shows;
    ``topic``, for the hall, to be sent the rows of lots published later, and those announced
    since its page was rendered, with ids above N: ``Hub.follow``). Receive-only:
    pages act through ordinary form posts, which also work without JavaScript.

    Each named lot costs a render of its whole fragment, so the names are bounded and
    de-duplicated before anything is rendered, and the socket yields to the event loop after
    each render: opening pages must never hold back other sockets' acks."""
    if not await _admitted(websocket):
        return
    hub: Hub = websocket.app.state.hub
    try:
        kind, lots, since, topic, after = _page_lots(websocket.query_params, hub.runtime.views)
    except (ValueError, Refused):
        await websocket.close(code=WS_1008_POLICY_VIOLATION, reason="bad lots, kind or since")
        return
    await websocket.accept()
    config: Config = websocket.app.state.config
    watcher = hub.watcher(kind, config.ws_queue, lang_of(websocket))
    # First the server's clock, so the page's countdowns hold even when the browser's is wrong.
    watcher.push(framed(f'<meta id="hall-clock" hx-swap-oob="true" data-now="{hub.runtime.clock()}">'))
    for lot in lots:
        seen = since if since is not None and since <= hub.runtime.views[lot].seq else None
        await hub.subscribe(watcher, lot, seen)
        await asyncio.sleep(0)  # one render at a time between other sockets' work
    if topic is not None:
        hub.follow(watcher, topic, after)

    async def receive() -> None:
        while await _frames(websocket) is not None:
            pass

    await _serve(websocket, watcher, "page", asyncio.get_running_loop().create_task(receive()))


# ---------------------------------------------------------------------- HTTP JSON


class LotsQuery(msgspec.Struct):
    """The filters of ``GET /api/lots``, as ``api_lots`` reads them."""

    state: Annotated[State | None, msgspec.Meta(description="only lots in this state")] = None
    session: Annotated[str | None, msgspec.Meta(description="only lots of this session (exact name)")] = None


class EventsQuery(msgspec.Struct):
    """The page of ``GET /api/lots/{id}/events``, for /openapi.json: ``api_lot_events`` reads
    each with ``params.whole`` (ASCII digits only, its own messages) under these same bounds."""

    since: Annotated[int, msgspec.Meta(ge=0, le=ID_MAX, description="events after this seq")] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=EVENTS_PAGE, description="at most this many")] = EVENTS_PAGE


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def api_lots(request: Request) -> Response:
    runtime = _runtime(request)
    try:  # only ``state`` can be wrong: ``session`` is any text
        query = msgspec.convert(dict(request.query_params), LotsQuery, strict=False)
    except msgspec.ValidationError:
        return Refused(400, "bad_request", "err_state_filter", {"states": ", ".join(State)}).answer(request)
    state, session = query.state, query.session
    found = [
        summary(view, runtime.titles[lot], runtime.sessions[lot])
        for lot, view in runtime.views.items()
        if (state is None or view.state == state) and (session is None or runtime.sessions[lot] == session)
    ]
    found.sort(key=lambda s: (s.bidding_start, s.id))
    return answer(found)


async def api_lot(request: Request) -> Response:
    lot: int = request.path_params["lot"]
    hub: Hub = request.app.state.hub
    if lot not in hub.runtime.views:
        return Refused(404, "unknown_lot", "code_unknown_lot").answer(request)
    return Response(hub.snapshot_json(lot), media_type="application/json")


async def api_lot_events(request: Request) -> Response:
    lot: int = request.path_params["lot"]
    runtime = _runtime(request)
    if lot not in runtime.views:
        return Refused(404, "unknown_lot", "code_unknown_lot").answer(request)
    since = whole(request.query_params.get("since"), "since", default=0)
    limit = whole(request.query_params.get("limit"), "limit", default=EVENTS_PAGE, low=1, high=EVENTS_PAGE)
    try:
        events = await runtime.store.events_since(lot, since, limit + 1)
    except StoreError:
        return Refused(503, "unavailable", "code_unavailable").answer(request)
    more = len(events) > limit
    events = events[:limit]
    return answer(EventPage(lot=lot, events=[event_frame(e) for e in events], next=events[-1].seq if more else None))


async def api_lot_record(request: Request) -> Response:
    """The lot's hash chain (hall/record.py), paged as ``/events`` is: a lot has a few thousand
    events at most in practice, so one page of ``EVENTS_PAGE`` is its whole record."""
    lot: int = request.path_params["lot"]
    runtime = _runtime(request)
    if lot not in runtime.views:
        return Refused(404, "unknown_lot", "code_unknown_lot").answer(request)
    since = whole(request.query_params.get("since"), "since", default=0)
    limit = whole(request.query_params.get("limit"), "limit", default=EVENTS_PAGE, low=1, high=EVENTS_PAGE)
    try:
        rows = await runtime.store.chain(lot, since, limit + 2)  # event `since`, the page, one more
    except StoreError:
        return Refused(503, "unavailable", "code_unavailable").answer(request)
    previous = GENESIS
    if since:
        if not rows or rows[0][0] != since:
            return Refused(400, "bad_request", "err_record_since").answer(request)
        previous, rows = rows[0][2], rows[1:]
    more = len(rows) > limit
    rows = rows[:limit]
    digests = [digest.hex() for _, _, digest in rows]
    return answer(RecordPage(
        lot=lot, previous=previous.hex(), events=[event_frame(decode(body)) for _, body, _ in rows],
        digests=digests, digest=digests[-1] if digests else previous.hex(), next=rows[-1][0] if more else None,
    ))  # fmt: skip


routes = [
    WebSocketRoute("/ws", ws, name="ws"),
    WebSocketRoute("/ws/page", ws_page, name="ws_page"),
    route("/api/lots", api_lots, name="api_lots", api=Api(
        tag="lots", summary="Every lot, summarised", query=LotsQuery, answer=list[LotSummary])),
    route("/api/lots/{lot:id}", api_lot, name="api_lot", api=Api(
        tag="lots", summary="One lot's snapshot", answer=Snapshot, errors={404: ("unknown_lot",)})),
    route("/api/lots/{lot:id}/events", api_lot_events, name="api_lot_events", api=Api(
        tag="lots", summary="A lot's durable events, paged", query=EventsQuery, answer=EventPage,
        errors={404: ("unknown_lot",), 503: ("unavailable",)})),
    route("/api/lots/{lot:id}/record", api_lot_record, name="api_lot_record", api=Api(
        tag="lots", summary="A lot's events with their hash chain, paged", query=EventsQuery, answer=RecordPage,
        errors={400: ("bad_request",), 404: ("unknown_lot",), 503: ("unavailable",)})),
]  # fmt: skip
