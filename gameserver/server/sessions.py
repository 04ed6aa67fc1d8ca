"""The API of a class (a session): games of one kind run together, and its lobby.

A class's token is ``<session id>.<secret>``: a request is refused before anything is read from
storage unless it carries the admin key or a token of that very session, and a class's games
are found by their group in storage, never by decoding every game. A class made now has a
lobby (:mod:`gameserver.server.classapi`); its games are made at once (``teams``) or when the
lobby forms the teams (``teams: 0``).
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
from gameserver.server.classapi import lobby_view
from gameserver.server.classes import ClassLobby
from gameserver.server.http import (
    ORJSONResponse,
    claims,
    classes_of,
    field,
    hub_of,
    is_admin,
    json_body,
    require_admin,
)
from gameserver.server.newgame import check_id
from gameserver.server.records import GameRecord
from gameserver.server.room import Room
from gameserver.server.turn import in_turns


async def create_session(request: Request) -> Response:
    require_admin(request)
    data = await json_body(request)
    kind, settings, options = create_options(data)
    teams = field(data, "teams", int)
    if teams is None:
        raise InvalidSettings(
            "'teams' is required: how many games to make now (0: the lobby forms the teams)"
        )
    classes = classes_of(request)
    lobby, token, made = await classes.create(kind, settings, teams, options)
    return ORJSONResponse(
        {
            "session_id": lobby.session_id,
            "facilitator_token": token,
            "games": [describe(request, m.driver.room.record, m.driver.room) for m in made],
            "lobby": lobby_view(request, classes, lobby),
        },
        status_code=201,
    )


async def _session_games(
    request: Request,
) -> tuple[ClassLobby | None, list[tuple[GameRecord, Room | None]]]:
    """The class of the path (its lobby, None for a class made before lobbies) and its games,
    once the credential is known to control it."""
    session_id = request.path_params["session_id"]
    credential = claims(request, session_id, what="class")
    check_id(session_id, "session")
    lobby = await classes_of(request).find(session_id)
    games = await hub_of(request).list_games(session_id=session_id)
    if lobby is None and not games:
        raise NotFound(f"no session {session_id!r}")
    token_hash = lobby.record.token_hash if lobby is not None else games[0][0].session_hash
    if not is_admin(request, credential) and not tokens.matches(credential, token_hash):
        raise NotAuthorized("this token does not control that class", code=ErrorCode.BAD_TOKEN)
    return lobby, games


async def session_detail(request: Request) -> Response:
    lobby, games = await _session_games(request)
    if lobby is not None:  # the teams first, in order; then the others (clones)
        order = {game_id: n for n, game_id in enumerate(lobby.record.games)}
        games.sort(key=lambda item: (order.get(item[0].game_id, len(order)), item[0].created_at))
    described = [
        describe(request, record, room)
        async for record, room in in_turns(games, _DESCRIBED_PER_TURN)
    ]
    return ORJSONResponse(
        {
            "session_id": request.path_params["session_id"],
            "games": described,
            "lobby": None if lobby is None else lobby_view(request, classes_of(request), lobby),
        }
    )


#: Games a class's detail describes in one turn of the event loop (about 0.1 ms each, their
#: results most of it): the dashboard asks every 2.5 s, and a class of 250 games described in
#: one go held every game on the server for 26 ms.
_DESCRIBED_PER_TURN = 16


def _session_action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        hub = hub_of(request)
        _lobby, games = await _session_games(request)
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
