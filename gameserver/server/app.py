"""The Starlette application, made by :func:`create_app` from a :class:`Config`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from gameserver.errors import ErrorCode, GameServerError
from gameserver.protocol import javascript_constants
from gameserver.server import api, classapi, models, openapi, presets, sessions
from gameserver.server.alive import AliveMark
from gameserver.server.classes import Classes
from gameserver.server.config import Config
from gameserver.server.endpoint import websocket_endpoint
from gameserver.server.gamestore import GameStore
from gameserver.server.http import ORJSONResponse, require_admin
from gameserver.server.hub import Hub
from gameserver.server.transport import SHUTDOWN_HOOK
from storage import open_store

log = logging.getLogger("gameserver")

STATIC = Path(__file__).resolve().parent.parent.parent / "static"


def resolve_admin_key(config: Config) -> tuple[str, bool]:
    """The admin key from the config, or ``<data>/admin.key``, or a new one saved there.
    Returns the key and whether it was generated now (so it is printed once)."""
    if config.admin_key:
        return config.admin_key, False
    path = config.data / "admin.key"
    if path.exists():
        return path.read_text().strip(), False
    key = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key, True


def create_app(config: Config | None = None) -> Starlette:
    config = config or Config.from_env()
    config.data.mkdir(parents=True, exist_ok=True)
    admin_key, generated = resolve_admin_key(config)
    if generated:
        print(f"admin key (saved in {config.data / 'admin.key'}): {admin_key}", flush=True)
    # Model games first: a stored game of one is restored only if its kind is known by then.
    shelf = models.ModelShelf(config)
    shelf.load_all()
    compression = None if config.compression.lower() in ("", "none", "off") else config.compression
    store = open_store(
        config.storage_url(), compression=compression, synchronous=config.synchronous.upper()
    )
    hub = Hub(config, GameStore(store), admin_key)
    alive = AliveMark(config.data / "alive", config.alive_interval)
    classes = Classes(hub)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # The last mark before this start says how long the server was down; a new one goes
        # down first, so a crash while restoring does not count that downtime twice.
        down_since = alive.read()
        alive.write(time.time())
        await hub.start(down_since=down_since)
        marking = asyncio.create_task(alive.run(), name="alive mark")
        log.info("ready: %d games restored, storage %s", len(hub.drivers), store.adapter.name)
        try:
            # The HTTP protocol calls this when the server begins to stop, before it waits for
            # the requests in flight: the students' long-polls answer at once (transport.py).
            yield {SHUTDOWN_HOOK: classes.stop}
        finally:
            marking.cancel()
            await asyncio.gather(marking, return_exceptions=True)
            classes.stop()
            await hub.stop()
            alive.write(time.time())  # the downtime of a graceful restart counts from here
            alive.close()
            log.info("stopped")

    async def health(request: Request) -> Response:
        body: dict[str, Any] = {
            "status": "ok",
            "games_in_memory": len(hub.drivers),
            "restored": hub.metrics.restored,
        }
        if hub.ownership is not None:  # sharing a database with other servers
            body["node"] = hub.ownership.name
            body["games_owned"] = len(hub.ownership.leases.held)
        return ORJSONResponse(body)

    async def metrics(request: Request) -> Response:
        require_admin(request)
        text = hub.metrics.prometheus(
            games_in_memory=len(hub.drivers),
            in_progress=hub.in_progress_count(),
            heap_trims=hub.heap.trims,
        )
        if hub.ownership is not None:
            text += hub.ownership.prometheus()
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    def page(name: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return FileResponse(STATIC / name)

        return Route("/" + name.removesuffix(".html").replace("index", ""), endpoint)

    async def protocol_js(request: Request) -> Response:
        return Response(javascript_constants(), media_type="text/javascript; charset=utf-8")

    # Built on first request, not at start-up: a route without a declaration fails its test
    # and this one request, never the server's start.
    described: list[dict[str, Any]] = []

    async def openapi_json(request: Request) -> Response:
        if not described:
            described.append(openapi.document(http_api))
        return ORJSONResponse(described[0])

    # The HTTP API, described route by route at /api/openapi.json; pages and /ws are not in it.
    http_api = [
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/protocol.js", protocol_js),
        Route("/api/openapi.json", openapi_json),
        *api.routes,
        *sessions.routes,
        *models.routes,
        *classapi.routes,
        *presets.routes,
    ]
    routes: list[BaseRoute] = [*http_api, WebSocketRoute("/ws", websocket_endpoint)]
    if STATIC.is_dir():
        routes += [page(p.name) for p in sorted(STATIC.glob("*.html"))]
        routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))

    async def app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GameServerError)
        body = {"error": {"code": exc.code, "message": exc.message}}
        return ORJSONResponse(body, status_code=exc.http_status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
        code = codes.get(exc.status_code, ErrorCode.HTTP_ERROR)
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return ORJSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={GameServerError: app_error, HTTPException: http_error},
    )
    app.state.hub = hub
    app.state.classes = classes
    app.state.config = config
    app.state.models = shelf
    return app
