"""The API of a class (a session): N games of one kind created at once and run together.

A class's token is ``<session id>.<secret>``: a request is refused before anything is read from
storage unless it carries the admin key or a token of that very session, and a class's games
are found by their group in storage, never by decoding every game.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver.errors import (
    Conflict,
    ErrorCode,
    GameServerError,
    InvalidSettings,
    NotAuthorized,
    NotFound,
)
from gameserver.server import tokens
from gameserver.server.api import ACTIONS, action_command, create_options, describe
from gameserver.server.http import (
    ORJSONResponse,
    claims,
    field,
    hub_of,
    is_admin,
    json_body,
    require_admin,
)
from gameserver.server.hub import check_id
from gameserver.server.records import GameRecord
from gameserver.server.room import Room


async def create_session(request: Request) -> Response:
    require_admin(request)
    data = await json_body(request)
    kind, settings, options = create_options(data)
    teams = field(data, "teams", int)
    if teams is None:
        raise InvalidSettings("'teams' is required: how many games to create")
    session_id, token, made = await hub_of(request).create_session(kind, settings, teams, options)
    return ORJSONResponse(
        {
            "session_id": session_id,
            "facilitator_token": token,
            "games": [describe(request, m.driver.room.record, m.driver.room) for m in made],
        },
        status_code=201,
    )


async def _session_games(request: Request) -> list[tuple[GameRecord, Room | None]]:
    session_id = request.path_params["session_id"]
    credential = claims(request, session_id, what="class")
    check_id(session_id, "session")
    games = await hub_of(request).list_games(session_id=session_id)
    if not games:
        raise NotFound(f"no session {session_id!r}")
    if not is_admin(request, credential) and not tokens.matches(
        credential, games[0][0].session_hash
    ):
        raise NotAuthorized("this token does not control that class", code=ErrorCode.BAD_TOKEN)
    return games


async def session_detail(request: Request) -> Response:
    games = await _session_games(request)
    return ORJSONResponse(
        {
            "session_id": request.path_params["session_id"],
            "games": [describe(request, record, room) for record, room in games],
        }
    )


def _session_action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        hub = hub_of(request)
        games = await _session_games(request)
        make = action_command(name, await json_body(request))
        results: list[dict[str, Any]] = []
        for record, _room in games:
            entry: dict[str, Any] = {"game_id": record.game_id, "ok": True}
            if not record.status.in_progress:
                entry.update(ok=False, error=f"game is {record.status}")
            else:
                try:
                    await (await hub.driver(record.game_id)).command(make)
                except (Conflict, InvalidSettings) as exc:
                    entry.update(ok=False, error=exc.message)
                except GameServerError as exc:
                    entry.update(ok=False, error=exc.message, code=str(exc.code))
            results.append(entry)
        return ORJSONResponse({"session_id": request.path_params["session_id"], "results": results})

    endpoint.__name__ = "session_" + name.replace("-", "_")
    return endpoint


routes = [
    Route("/api/sessions", create_session, methods=["POST"]),
    Route("/api/sessions/{session_id}", session_detail, methods=["GET"]),
    *[
        Route(f"/api/sessions/{{session_id}}/{a}", _session_action(a), methods=["POST"])
        for a in ACTIONS
    ],
]
