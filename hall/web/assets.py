"""The files the pages load: the hall's own script and style, and the two vendor scripts.

htmx and its WebSocket extension come from the npm registry, pinned in package.json and
package-lock.json, installed into node_modules/ by ``make setup`` (``npm ci``), and are never
copied into the repository. Only the files named in ``VENDOR`` are served from there, and only
the files in ``hall/web/static`` from the hall's own, both by exact name: no path a request
builds ever reaches the file system. Without node_modules (npm never ran) the vendor scripts
answer 404 and the pages still render and work as they do without JavaScript.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from hall.web.errors import Refused
from hall.web.security import route

ROOT: Final = Path(__file__).resolve().parents[2]
"""The checkout the hall runs from (``make`` installs it editable), where node_modules/ is."""
NODE_MODULES: Final = ROOT / "node_modules"
VENDOR: Final[dict[str, Path]] = {
    "htmx.min.js": NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js",
    "ws.min.js": NODE_MODULES / "htmx-ext-ws" / "dist" / "ws.min.js",
}
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
OWN: Final[dict[str, Path]] = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in _TYPES}
FAVICON: Final = "/static/favicon.svg"


def _serve(request: Request, path: Path | None) -> Response:
    """The file, revalidated on every use (no-cache + ETag, 304 when unchanged): the pages pick
    up a new pin or a new hall.js without a versioned URL."""
    if path is None:
        raise Refused(404, "not_found", "not_found")
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise Refused(404, "not_found", "not_found") from None
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}
    response = FileResponse(path, media_type=_TYPES[path.suffix], headers=headers, stat_result=stat)
    etag = response.headers["etag"]
    if etag in [tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={**headers, "etag": etag})
    return response


async def vendor_asset(request: Request) -> Response:
    return _serve(request, VENDOR.get(request.path_params["name"]))


async def static_asset(request: Request) -> Response:
    return _serve(request, OWN.get(request.path_params["name"]))


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico by themselves on every page whatever the page links (a 404
    there is a console error): send them to the one icon, the SVG base.html links."""
    return RedirectResponse(FAVICON, status_code=301)


routes = [
    route("/favicon.ico", favicon, name="favicon"),
    route("/static/vendor/{name}", vendor_asset, name="vendor_asset"),
    route("/static/{name}", static_asset, name="static_asset"),
]
