"""Settings presets: what creating a game or a class takes, saved under a name and reused.

A preset is the body of ``POST /api/games`` (kind, settings, title, round_seconds, open_join,
seed), checked as creating would check it and saved as it was given. The dashboard's form
fills itself from one. All presets are one document of the store, changed one request at a
time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver.errors import InvalidSettings, NotFound, short
from gameserver.games import get_game
from gameserver.server.api import create_options
from gameserver.server.http import ORJSONResponse, hub_of, json_body, require_admin
from gameserver.server.lobby import clean_name
from gameserver.server.newgame import check_options

MAX_PRESETS = 200
#: What a preset keeps of a create body.
FIELDS = ("kind", "settings", "title", "round_seconds", "open_join", "seed")


def _changing(request: Request) -> asyncio.Lock:
    """The app's lock of the presets. They change seldom: one change at a time over the whole
    server is no bottleneck, and it keeps two saves from overwriting each other."""
    state = request.app.state
    lock: asyncio.Lock | None = getattr(state, "presets_lock", None)
    if lock is None:
        lock = state.presets_lock = asyncio.Lock()
    return lock


def _listed(presets: dict[str, Any]) -> dict[str, Any]:
    return {"presets": [{"name": name, **body} for name, body in sorted(presets.items())]}


async def list_presets(request: Request) -> Response:
    require_admin(request)
    return ORJSONResponse(_listed(await hub_of(request).store.read_presets()))


async def save_preset(request: Request) -> Response:
    """Create or replace the preset of the path's name."""
    require_admin(request)
    name = clean_name(request.path_params["name"])
    body = await json_body(request)
    kind, settings, options = create_options(body)
    get_game(kind).validate_settings(settings)
    check_options(options)
    kept = {key: body.get(key) for key in FIELDS}
    kept["settings"] = settings
    store = hub_of(request).store
    async with _changing(request):
        presets = await store.read_presets()
        if name not in presets and len(presets) >= MAX_PRESETS:
            raise InvalidSettings(f"at most {MAX_PRESETS} presets: delete one first")
        presets[name] = kept
        await store.save_presets(presets)
    return ORJSONResponse(_listed(presets))


async def delete_preset(request: Request) -> Response:
    require_admin(request)
    name = request.path_params["name"]
    store = hub_of(request).store
    async with _changing(request):
        presets = await store.read_presets()
        if presets.pop(name, None) is None:
            raise NotFound(f"no preset {short(name)}")
        await store.save_presets(presets)
    return ORJSONResponse(_listed(presets))


routes = [
    Route("/api/presets", list_presets, methods=["GET"]),
    Route("/api/presets/{name}", save_preset, methods=["PUT"]),
    Route("/api/presets/{name}", delete_preset, methods=["DELETE"]),
]
