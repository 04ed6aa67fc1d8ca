"""The facilitator API: JSON over HTTP. ``docs/api.md`` documents every endpoint.

Every client error is a 4xx with ``{"error": {"code": ..., "message": ...}}`` (the mapping is
:mod:`gameserver.errors`'). Creating games and listing all of them needs the admin key; a
game's facilitator token (or its class's) controls that game only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver.errors import ErrorCode, InvalidSettings, NotAuthorized, NotFound, short
from gameserver.games import all_games, get_game, make_policy, policies_for
from gameserver.protocol import game_of_code
from gameserver.server import events as ev
from gameserver.server import listing, tokens
from gameserver.server.classes import default_bot, fill_with_bots
from gameserver.server.driver import Driver
from gameserver.server.export import export_game
from gameserver.server.http import (
    ORJSONResponse,
    base_url,
    bearer,
    field,
    hub_of,
    is_admin,
    json_body,
    read_controlled,
    require_admin,
)
from gameserver.server.newgame import Options
from gameserver.server.records import BotSeat, GameRecord
from gameserver.server.room import Room


def describe(request: Request, record: GameRecord, room: Room | None) -> dict[str, Any]:
    """A game as the API shows it; ``active`` says whether it is in memory."""
    game = get_game(record.kind)
    out = listing.entry(base_url(request), record, room, game)
    out["settings"] = record.settings
    out["results"] = game.results(record.state)
    return out


async def _controlled(request: Request) -> Driver:
    """The game named in the path, authorised and in memory (brought back if evicted)."""
    record, _room = await read_controlled(request)
    return await hub_of(request).driver(record.game_id)


def _live(request: Request, driver: Driver) -> ORJSONResponse:
    return ORJSONResponse(describe(request, driver.room.record, driver.room))


# -- game kinds and creating --------------------------------------------------------------


async def list_kinds(request: Request) -> Response:
    kinds = []
    for name, game in all_games().items():
        kinds.append(
            {
                "kind": name,
                "title": game.title,
                "headline": game.headline,
                "display": game.display.describe(),
                "settings": game.describe_settings(),
                "policies": [p.describe() for p in policies_for(name).values()],
            }
        )
    return ORJSONResponse({"kinds": kinds})


def create_options(data: dict[str, Any]) -> tuple[str, dict[str, Any], Options]:
    """The kind, settings and options of a create request, each checked and named if wrong."""
    kind = data.get("kind")
    if kind is None:
        raise InvalidSettings(f"'kind' is required: one of {', '.join(all_games())}")
    if not isinstance(kind, str):
        raise InvalidSettings(f"'kind' must be one of {', '.join(all_games())}, got {short(kind)}")
    get_game(kind)
    settings = data.get("settings")
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise InvalidSettings(f"'settings' must be a JSON object, got {short(settings)}")
    round_seconds = field(data, "round_seconds", (int, float))
    options = Options(
        title=field(data, "title", str, ""),
        seed=field(data, "seed", int),
        open_join=field(data, "open_join", bool, False),
        round_seconds=float(round_seconds) if round_seconds is not None else None,
        autostart=field(data, "autostart", bool, False),
    )
    return kind, settings, options


async def create_game(request: Request) -> Response:
    require_admin(request)
    kind, settings, options = create_options(await json_body(request))
    made = await hub_of(request).create_game(kind, settings, options)
    out = describe(request, made.driver.room.record, made.driver.room)
    out["facilitator_token"] = made.facilitator_token
    return ORJSONResponse(out, status_code=201)


#: Most games one page of ``GET /api/games`` holds.
MAX_PAGE = 1000


async def list_games(request: Request) -> Response:
    """Every game, or a page of them, from the stored summaries: no game's state is read."""
    query = request.query_params
    credential = bearer(request)
    if not is_admin(request, credential):
        raise NotAuthorized("listing games needs the admin key", code=ErrorCode.NOT_ADMIN)
    limit: int | None = None
    if query.get("limit") is not None:
        text = query["limit"]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
            raise InvalidSettings(
                f"'limit' must be a whole number from 1 to {MAX_PAGE}, got {short(text)}"
            )
        limit = int(text)
    after: tuple[float, str] | None = None
    if query.get("after") is not None:
        after = listing.parse_cursor(query["after"])
        if after is None:
            raise InvalidSettings(
                f"'after' must be the 'next' of a page of this list, got {short(query['after'])}"
            )
    order = query.get("order") or "oldest"
    if order not in ("oldest", "newest"):
        raise InvalidSettings(f"'order' must be 'oldest' or 'newest', got {short(order)}")
    hub = hub_of(request)
    page, more = await hub.list_page(
        status=query.get("status"),
        session_id=query.get("session"),
        after=after,
        limit=limit,
        newest_first=order == "newest",
    )
    base = base_url(request)
    games = []
    for header, record, room in page:
        if record is None:
            games.append(listing.entry_of_summary(base, header))
        else:
            games.append(listing.entry(base, record, room, get_game(record.kind)))
    next_page = listing.cursor(page[-1][0]) if more and page else None
    return ORJSONResponse({"games": games, "next": next_page})


async def game_detail(request: Request) -> Response:
    record, room = await read_controlled(request)
    out = describe(request, record, room)
    if request.query_params.get("view") == "1":
        out["view"] = get_game(record.kind).facilitator_view(record.state)
    headers = {} if room is not None else {"Pragma": "persistent"}
    return ORJSONResponse(out, headers=headers)


# -- actions --------------------------------------------------------------------------------

_SIMPLE: dict[str, Callable[[ev.Ref], ev.Command]] = {
    "start": ev.Start,
    "pause": ev.Pause,
    "resume": ev.Resume,
    "end": ev.End,
    "close-round": ev.CloseRound,
}
ACTIONS = (*_SIMPLE, "deadline")


def action_command(name: str, body: dict[str, Any]) -> Callable[[ev.Ref], ev.Command]:
    """The command an action asks for, its body checked."""
    simple = _SIMPLE.get(name)
    if simple is not None:
        return simple
    seconds = field(body, "seconds", (int, float))
    extend = field(body, "extend", (int, float))
    clear = field(body, "clear", bool, False)
    if [seconds is not None, extend is not None, clear].count(True) != 1:
        raise InvalidSettings(
            "send one of {'seconds': N} to set, {'extend': N} to extend, {'clear': true}"
        )
    if clear:
        return lambda ref: ev.SetDeadline(ref, None)
    value = float(seconds if seconds is not None else extend)
    if not 0 < value <= 86400:
        raise InvalidSettings(f"seconds must be more than 0 and at most 86400, got {short(value)}")
    return lambda ref: ev.SetDeadline(ref, value, extend=extend is not None)


def _action(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        driver = await _controlled(request)
        await driver.command(action_command(name, await json_body(request)))
        return _live(request, driver)

    endpoint.__name__ = name.replace("-", "_")
    return endpoint


async def delete_game(request: Request) -> Response:
    record, _ = await read_controlled(request)
    await hub_of(request).delete_game(record.game_id)
    return Response(status_code=204)


async def clone_game(request: Request) -> Response:
    hub = hub_of(request)
    record, _ = await read_controlled(request)
    body = await json_body(request)
    round_no = field(body, "round", int)
    if round_no is None:
        raise InvalidSettings("'round' is required: the completed round to clone from")
    made = await hub.clone_game(record.game_id, round_no)
    out = describe(request, made.driver.room.record, made.driver.room)
    out["facilitator_token"] = made.facilitator_token
    return ORJSONResponse(out, status_code=201)


def _role(driver: Driver, request: Request) -> str:
    role: str = request.path_params["role"]
    roles = driver.room.record.roles
    if role not in roles:
        raise NotFound(
            f"no role {role!r}; roles are {', '.join(roles)}", code=ErrorCode.NO_SUCH_ROLE
        )
    return role


async def set_seat(request: Request) -> Response:
    """Hand a seat to a server-side bot (``{"policy": name, "params": {}}``) or back (DELETE)."""
    driver = await _controlled(request)
    role = _role(driver, request)
    bot: BotSeat | None = None
    if request.method != "DELETE":
        bot = bot_seat(driver.room.record.kind, await json_body(request))
    await driver.command(lambda ref: ev.SetBot(ref, role, bot))
    return _live(request, driver)


def bot_seat(kind: str, body: dict[str, Any]) -> BotSeat:
    """A bot of game ``kind`` from a request body, its policy and parameters checked now
    rather than when it first plays."""
    known = policies_for(kind)
    policy = body.get("policy")
    if not isinstance(policy, str) or policy not in known:
        raise InvalidSettings(f"'policy' must be one of {', '.join(known)}, got {short(policy)}")
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidSettings(f"'params' must be a JSON object, got {short(params)}")
    make_policy(kind, policy, **params)  # refuses unknown parameters and bad values
    return BotSeat(policy, params)


async def fill_seats(request: Request) -> Response:
    """A bot (``{"policy", "params"}``, or the kind's first policy) on every seat nobody holds."""
    driver = await _controlled(request)
    kind = driver.room.record.kind
    body = await json_body(request)
    bot = default_bot(kind) if body.get("policy") is None else bot_seat(kind, body)
    await fill_with_bots(driver, bot)
    return _live(request, driver)


async def reset_seat(request: Request) -> Response:
    """Free a seat (its player lost the token); the seat gets a new join code."""
    driver = await _controlled(request)
    role = _role(driver, request)
    code = tokens.new_join_code(driver.game_id)
    await driver.command(lambda ref: ev.ResetSeat(ref, role, code))
    return _live(request, driver)


async def join_info(request: Request) -> Response:
    """What a join code opens, for the player page: no credential (the code is the secret)."""
    code = request.path_params["code"].strip().upper()
    try:
        record, _room = await hub_of(request).read(game_of_code(code))
    except NotFound:
        raise NotFound(f"no game has the join code {short(code)}") from None
    roles = [
        {"role": s.role, "free": not s.claimed, "bot": s.bot is not None} for s in record.seats
    ]
    if code == record.open_code:
        role = None
    else:
        match = [s.role for s in record.seats if s.join_code == code]
        if not match:
            raise NotFound(f"no game has the join code {short(code)}")
        role = match[0]
    return ORJSONResponse(
        {
            "game_id": record.game_id,
            "kind": record.kind,
            "title": record.title,
            "status": str(record.status),
            "open": role is None,
            "role": role,
            "roles": roles,
        }
    )


routes = [
    Route("/api/kinds", list_kinds, methods=["GET"]),
    Route("/api/games", create_game, methods=["POST"]),
    Route("/api/games", list_games, methods=["GET"]),
    Route("/api/games/{game_id}", game_detail, methods=["GET"]),
    Route("/api/games/{game_id}", delete_game, methods=["DELETE"]),
    Route("/api/games/{game_id}/clone", clone_game, methods=["POST"]),
    Route("/api/games/{game_id}/export.{fmt}", export_game, methods=["GET"]),
    Route("/api/games/{game_id}/seats/{role}/bot", set_seat, methods=["PUT", "DELETE"]),
    Route("/api/games/{game_id}/seats/{role}/reset", reset_seat, methods=["POST"]),
    Route("/api/games/{game_id}/bots", fill_seats, methods=["POST"]),
    Route("/api/join/{code}", join_info, methods=["GET"]),
    *[Route(f"/api/games/{{game_id}}/{a}", _action(a), methods=["POST"]) for a in ACTIONS],
]
