"""The web page: static files served by the same process (no build step).

``/`` is the page (``web/static/index.html``); ``/static/{name}`` its scripts, styles and
the vendored chart library. Only files inside the static folder are served, each with its
content type and an entity tag (a matching ``If-None-Match`` gets ``304``); files are read
in a worker thread, never on the event loop. The page is revalidated on every load, the
other files are cached for a few minutes. Everything under ``/v1`` and ``/docs`` is the
API's and is never shadowed here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenfutures.service.context import ApiError
from tokenfutures.web import STATIC_DIR

router = APIRouter(include_in_schema=False)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}
MAX_NAME = 200
PAGE_CACHE = "no-cache"  # revalidate: a new release is picked up at once
ASSET_CACHE = "public, max-age=300"


def _static_file(name: str) -> Path:
    """The file ``name`` inside the static folder; 404 for anything else (a path leading
    outside it, a folder, a name the file system refuses)."""
    root = STATIC_DIR.resolve()
    missing = ApiError(404, "not_found", "no such static file", "path")
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise missing
    try:
        found = (root / name).resolve()
        served = root in found.parents and found.is_file() and found.suffix in CONTENT_TYPES
    except (OSError, ValueError):
        raise missing from None
    if not served:
        raise missing
    return found


def _send(request: Request, path: Path, cache: str) -> Response:
    content = path.read_bytes()
    tag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=CONTENT_TYPES[path.suffix], headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
def page(request: Request) -> Response:
    """The single page: market, contract, trading and risk views (hash navigation)."""
    return _send(request, _static_file("index.html"), PAGE_CACHE)


@router.api_route("/static/{name:path}", methods=["GET", "HEAD"])
def static(request: Request, name: str) -> Response:
    return _send(request, _static_file(name), ASSET_CACHE)
