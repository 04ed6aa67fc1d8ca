"""The facilitator API: JSON over HTTP. ``docs/api.md`` documents every endpoint.

Every client error is a 4xx with ``{"error": {"code": ..., "message": ...}}``. Creating games
and listing all of them needs the admin key; a game's facilitator token (or its session's)
controls that game only. Credentials come as ``Authorization: Bearer <key or token>``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver import controls, export, tokens
from gameserver.errors import Conflict, InvalidSettings, NotAuthorized, NotFound, ProtocolError
from gameserver.games import GAMES, get_game, policies_for
from gameserver.room import Room
from gameserver.seat import IN_PROGRESS
from gameserver.web import ORJSONResponse, bearer, hub_of, is_admin, may_control, require_admin

MAX_BODY = 64 * 1024


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ProtocolError(f"request body larger than {MAX_BODY} bytes", code="too_big")
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"request body is not valid JSON: {exc}", code="bad_json") from exc
    if not isinstance(data, dict):
        raise ProtocolError("request body must be a JSON object", code="bad_json")
    return data


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(name, default)
    if value is None or value is default:
        return value
    if isinstance(value, bool) and kind is not bool:
        raise InvalidSettings(f"{name!r} must be {_kind_name(kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise InvalidSettings(f"{name!r} must be {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "true or false", int: "a whole number", float: "a number"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _base_url(request: Request) -> str:
    configured = hub_of(request).config.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def _join_links(request: Request, data: dict[str, Any]) -> list[dict[str, Any]]:
    base = _base_url(request)
    return [
        {"role": s["role"], "code": s["join_code"], "url": f"{base}/play?code={s['join_code']}"}
        for s in data["seats"]
    ]


def describe(request: Request, data: dict[str, Any], room: Room | None) -> dict[str, Any]:
    """A game as the API shows it; ``active`` says whether it is in memory."""
    game = get_game(data["kind"])
    state = data["state"]
    online = set(room.online()) if room else set()
    submitted = set(room.submitted()) if room else set()
    seats = []
    for s in data["seats"]:
        seats.append(
            {
                "role": s["role"],
                "claimed": s.get("token_hash") is not None,
                "name": s.get("name"),
                "bot": s.get("bot"),
                "online": s["role"] in online,
                "submitted": s["role"] in submitted,
                "join_code": s["join_code"],
            }
        )
    base = _base_url(request)
    return {
        "game_id": data["game_id"],
        "kind": data["kind"],
        "title": data.get("title") or "",
        "status": data["status"],
        "active": room is not None,
        "restored": bool(room and room.restored_at),
        "round": game.current_round(state),
        "total_rounds": game.total_rounds(state),
        "deadline": data.get("deadline"),
        "paused_remaining": data.get("paused_remaining"),
        "round_seconds": data.get("round_seconds"),
        "session_id": data.get("session_id"),
        "created_at": data.get("created_at"),
        "cloned_from": data.get("cloned_from"),
        "settings": data["settings"],
        "seats": seats,
        "join": _join_links(request, data),
        "open_join": (
            {"code": data["open_code"], "url": f"{base}/play?code={data['open_code']}"}
            if data.get("open_code")
            else None
        ),
        "results": game.results(state),
    }


async def _controlled(request: Request) -> Room:
    """The game named in the path, authorised and in memory (brought back if evicted)."""
    hub = hub_of(request)
    game_id = request.path_params["game_id"]
    data, _active = await hub.read_game(game_id)
    may_control(request, data)
    return await hub.get_room(game_id)


# -- endpoints ----------------------------------------------------------------------------


async def list_kinds(request: Request) -> Response:
    kinds = []
    for name, game in GAMES.items():
        kinds.append(
            {
                "kind": name,
                "title": game.title,
                "settings": game.describe_settings(),
                "policies": [
                    {"name": p.name, "help": p.help, "params": dict(p.params)}
                    for p in policies_for(name).values()
                ],
            }
        )
    return ORJSONResponse({"kinds": kinds})


def _create_options(data: dict[str, Any]) -> dict[str, Any]:
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidSettings("'settings' must be a JSON object")
    round_seconds = _field(data, "round_seconds", (int, float), None)
    seed = _field(data, "seed", int, None)
    return {
        "title": _field(data, "title", str, "") or "",
        "seed": seed,
        "open_join": bool(_field(data, "open_join", bool, False)),
        "round_seconds": float(round_seconds) if round_seconds is not None else None,
        "autostart": bool(_field(data, "autostart", bool, False)),
        "settings": settings,
    }


def _kind(data: dict[str, Any]) -> str:
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise InvalidSettings(f"'kind' is required: one of {', '.join(GAMES)}")
    get_game(kind)
    return kind


async def create_game(request: Request) -> Response:
    require_admin(request)
    data = await _body(request)
    kind = _kind(data)
    options = _create_options(data)
    settings = options.pop("settings")
    room, secrets_out = await hub_of(request).create_game(kind, settings, **options)
    out = describe(request, room.to_data(), room)
    out["facilitator_token"] = secrets_out["facilitator_token"]
    return ORJSONResponse(out, status_code=201)


async def list_games(request: Request) -> Response:
    status = request.query_params.get("status")
    session_id = request.query_params.get("session")
    credential = bearer(request)
    if not is_admin(request, credential):
        raise NotAuthorized("listing games needs the admin key", code="not_admin")
    hub = hub_of(request)
    games = await hub.list_games(status=status, session_id=session_id)
    return ORJSONResponse(
        {"games": [describe(request, d, hub.rooms.get(d["game_id"])) for d, _ in games]}
    )


async def game_detail(request: Request) -> Response:
    hub = hub_of(request)
    data, active = await hub.read_game(request.path_params["game_id"])
    may_control(request, data)
    room = hub.rooms.get(data["game_id"]) if active else None
    out = describe(request, data, room)
    if request.query_params.get("view") == "1":
        out["view"] = get_game(data["kind"]).facilitator_view(data["state"])
    headers = {} if active else {"Pragma": "persistent"}
    return ORJSONResponse(out, headers=headers)


def _action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        room = await _controlled(request)
        await _do(room, name, await _body(request))
        return ORJSONResponse(describe(request, room.to_data(), room))

    endpoint.__name__ = name.replace("-", "_")
    return endpoint


async def _do(room: Room, name: str, body: dict[str, Any]) -> None:
    if name == "start":
        await controls.start(room)
    elif name == "pause":
        await controls.pause(room)
    elif name == "resume":
        await controls.resume(room)
    elif name == "end":
        await controls.end(room)
    elif name == "close-round":
        if room.status not in ("running", "paused"):
            raise Conflict(f"the game is {room.status}; there is no open round to close")
        await room.close_round("facilitator")
    elif name == "deadline":
        seconds = _field(body, "seconds", (int, float), None)
        extend = _field(body, "extend", (int, float), None)
        if (seconds is None) == (extend is None) and not body.get("clear"):
            raise InvalidSettings(
                "send {'seconds': N} to set, {'extend': N} to extend, {'clear': true}"
            )
        for value in (seconds, extend):
            if value is not None and (not math.isfinite(value) or not 0 < value <= 86400):
                raise InvalidSettings("seconds must be between 0 and 86400")
        if body.get("clear"):
            await controls.set_deadline(room, None)
        elif extend is not None:
            await controls.set_deadline(room, float(extend), extend=True)
        else:
            await controls.set_deadline(room, float(seconds))


async def delete_game(request: Request) -> Response:
    hub = hub_of(request)
    data, _ = await hub.read_game(request.path_params["game_id"])
    may_control(request, data)
    await hub.delete_game(data["game_id"])
    return Response(status_code=204)


async def clone_game(request: Request) -> Response:
    hub = hub_of(request)
    data, _ = await hub.read_game(request.path_params["game_id"])
    may_control(request, data)
    body = await _body(request)
    round_no = _field(body, "round", int, None)
    if round_no is None:
        raise InvalidSettings("'round' is required: the completed round to clone from")
    room, secrets_out = await hub.clone_game(data["game_id"], round_no)
    out = describe(request, room.to_data(), room)
    out["facilitator_token"] = secrets_out["facilitator_token"]
    return ORJSONResponse(out, status_code=201)


async def set_seat(request: Request) -> Response:
    """Hand a seat to a server-side bot (``{"policy": name, "params": {}}``) or back (DELETE)."""
    room = await _controlled(request)
    role = request.path_params["role"]
    if role not in room.seats:
        raise NotFound(f"no role {role!r}; roles are {', '.join(room.seats)}", code="no_such_role")
    if request.method == "DELETE":
        await controls.set_bot(room, role, None)
    else:
        body = await _body(request)
        policy = body.get("policy")
        params = body.get("params") or {}
        known = policies_for(room.kind)
        if policy not in known:
            raise InvalidSettings(f"'policy' must be one of {', '.join(known)}, got {policy!r}")
        if not isinstance(params, dict):
            raise InvalidSettings("'params' must be a JSON object")
        from gameserver.games import make_policy

        make_policy(room.kind, policy, **params)  # refuses unknown parameters now, not later
        await controls.set_bot(room, role, {"policy": policy, "params": params})
    return ORJSONResponse(describe(request, room.to_data(), room))


async def reset_seat(request: Request) -> Response:
    """Free a seat (its player lost the token); the seat gets a new join code."""
    room = await _controlled(request)
    role = request.path_params["role"]
    if role not in room.seats:
        raise NotFound(f"no role {role!r}; roles are {', '.join(room.seats)}", code="no_such_role")
    await controls.reset_seat(room, role)
    return ORJSONResponse(describe(request, room.to_data(), room))


async def join_info(request: Request) -> Response:
    """What a join code opens, for the player page: no credential (the code is the secret)."""
    code = request.path_params["code"].strip().upper()
    try:
        data, _active = await hub_of(request).read_game(tokens.owner_of_code(code))
    except NotFound:
        raise NotFound(f"no game has the join code {code!r}") from None
    seats = data["seats"]
    roles = [
        {"role": s["role"], "free": s.get("token_hash") is None, "bot": s.get("bot") is not None}
        for s in seats
    ]
    if code == data.get("open_code"):
        role = None
    else:
        match = [s["role"] for s in seats if s["join_code"] == code]
        if not match:
            raise NotFound(f"no game has the join code {code!r}")
        role = match[0]
    return ORJSONResponse(
        {
            "game_id": data["game_id"],
            "kind": data["kind"],
            "title": data.get("title") or "",
            "status": data["status"],
            "open": role is None,
            "role": role,
            "roles": roles,
        }
    )


# -- sessions (a class of games) ----------------------------------------------------------


async def create_session(request: Request) -> Response:
    require_admin(request)
    data = await _body(request)
    kind = _kind(data)
    teams = _field(data, "teams", int, None)
    if teams is None:
        raise InvalidSettings("'teams' is required: how many games to create")
    options = _create_options(data)
    settings = options.pop("settings")
    session_id, token, made = await hub_of(request).create_session(kind, settings, teams, **options)
    return ORJSONResponse(
        {
            "session_id": session_id,
            "facilitator_token": token,
            "games": [describe(request, room.to_data(), room) for room, _ in made],
        },
        status_code=201,
    )


async def _session_games(request: Request) -> list[dict[str, Any]]:
    session_id = request.path_params["session_id"]
    games = await hub_of(request).list_games(session_id=session_id)
    if not games:
        raise NotFound(f"no session {session_id!r}")
    credential = bearer(request)
    if not is_admin(request, credential) and not tokens.matches(
        credential, games[0][0].get("session_hash")
    ):
        raise NotAuthorized("this token does not control that session", code="bad_token")
    return [data for data, _ in games]


async def session_detail(request: Request) -> Response:
    hub = hub_of(request)
    games = await _session_games(request)
    return ORJSONResponse(
        {
            "session_id": request.path_params["session_id"],
            "games": [describe(request, d, hub.rooms.get(d["game_id"])) for d in games],
        }
    )


def _session_action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        hub = hub_of(request)
        body = await _body(request)
        results = []
        for data in await _session_games(request):
            entry: dict[str, Any] = {"game_id": data["game_id"], "ok": True}
            if data["status"] in IN_PROGRESS:
                try:
                    await _do(await hub.get_room(data["game_id"]), name, body)
                except (Conflict, InvalidSettings) as exc:
                    entry = {"game_id": data["game_id"], "ok": False, "error": exc.message}
            else:
                entry = {
                    "game_id": data["game_id"],
                    "ok": False,
                    "error": f"game is {data['status']}",
                }
            results.append(entry)
        return ORJSONResponse({"session_id": request.path_params["session_id"], "results": results})

    endpoint.__name__ = "session_" + name.replace("-", "_")
    return endpoint


ACTIONS = ("start", "pause", "resume", "end", "close-round", "deadline")

routes = [
    Route("/api/kinds", list_kinds, methods=["GET"]),
    Route("/api/games", create_game, methods=["POST"]),
    Route("/api/games", list_games, methods=["GET"]),
    Route("/api/games/{game_id}", game_detail, methods=["GET"]),
    Route("/api/games/{game_id}", delete_game, methods=["DELETE"]),
    Route("/api/games/{game_id}/clone", clone_game, methods=["POST"]),
    Route("/api/games/{game_id}/export.{fmt}", export.export_game, methods=["GET"]),
    Route("/api/games/{game_id}/seats/{role}/bot", set_seat, methods=["PUT", "DELETE"]),
    Route("/api/games/{game_id}/seats/{role}/reset", reset_seat, methods=["POST"]),
    Route("/api/join/{code}", join_info, methods=["GET"]),
    *[Route(f"/api/games/{{game_id}}/{a}", _action(a), methods=["POST"]) for a in ACTIONS],
    Route("/api/sessions", create_session, methods=["POST"]),
    Route("/api/sessions/{session_id}", session_detail, methods=["GET"]),
    *[
        Route(f"/api/sessions/{{session_id}}/{a}", _session_action(a), methods=["POST"])
        for a in ACTIONS
    ],
]
