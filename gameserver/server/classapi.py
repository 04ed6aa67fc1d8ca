"""The HTTP API of a class's lobby: the class link, the students, teams, moves and messages.

Three kinds of caller (docs/api.md, "A class's lobby"):

- anyone with the class link (``/play?class=S…``): what the class is, and joining it with a
  name (``/api/sessions/{id}/lobby``); the class id is the link's secret, as a join code is;
- a student, with the lobby token the join gave: where they wait, or their seat and its token,
  answered at once or when something changes (a long-poll, ``/lobby/me?since=N``);
- the class's facilitator (the class's token or the admin key): the roster, forming teams,
  moving and removing students, a message to the class, bots for empty seats, the export.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver.errors import ErrorCode, InvalidSettings, NotAuthorized, short
from gameserver.protocol import MAX_ID
from gameserver.server import lobby as lb
from gameserver.server import tokens
from gameserver.server.api import bot_seat
from gameserver.server.classes import Classes, ClassLobby, default_bot, fill_with_bots
from gameserver.server.export import (
    Exported,
    check_format,
    csv_parts,
    csv_stream,
    json_parts,
    json_stream,
)
from gameserver.server.http import (
    ORJSONResponse,
    base_url,
    bearer,
    claims,
    classes_of,
    field,
    hub_of,
    is_admin,
    json_body,
)
from gameserver.server.records import BotSeat
from gameserver.server.turn import in_turns

#: Longest a student's ``/lobby/me`` waits for a change (``wait`` asks for less).
LONG_POLL = 25.0


def _link(request: Request, session_id: str) -> str:
    return f"{base_url(request)}/play?class={session_id}"


# -- views ----------------------------------------------------------------------------------


def _seat_json(record: lb.ClassRecord, seat: lb.Seat | None) -> dict[str, Any]:
    if seat is None:
        return {"game_id": None, "role": None, "team": None}
    return {"game_id": seat.game_id, "role": seat.role, "team": record.team_of(seat.game_id)}


def lobby_view(request: Request, classes: Classes, lobby: ClassLobby) -> dict[str, Any]:
    """The lobby as the facilitator sees it: every student, their seat and rejoin code."""
    record = lobby.record
    message = record.message
    return {
        "link": _link(request, record.session_id),
        "version": record.version,
        "roster": None if record.roster is None else list(record.roster),
        "teams": list(record.games),
        "waiting": record.indexed().waiting,
        "students": [
            {
                "id": s.id,
                "name": s.name,
                "arrived": s.arrived,
                "rejoin_code": classes.rejoin_code(record.session_id, s.id),
                **_seat_json(record, s.seat),
            }
            for s in record.students
        ],
        "message": _message(message),
    }


def _message(message: lb.Notice | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {"text": message.text, "at": message.at, "number": message.number}


def _own_seat(
    record: lb.ClassRecord, student: lb.Student, token: str | None
) -> dict[str, Any] | None:
    if student.seat is None:
        return None
    return {**_seat_json(record, student.seat), "token": token}


def student_view(
    classes: Classes, lobby: ClassLobby, student: lb.Student, seat_token: str | None
) -> dict[str, Any]:
    """The lobby as a student sees it: who waits, and their own seat with its token."""
    record = lobby.record
    index = record.indexed()
    return {
        "session_id": record.session_id,
        "title": record.title,
        "kind": record.kind,
        "version": record.version,
        "student": {
            "id": student.id,
            "name": student.name,
            "arrived": student.arrived,
            "rejoin_code": classes.rejoin_code(record.session_id, student.id),
        },
        "seat": _own_seat(record, student, seat_token),
        "waiting": list(index.waiting_shown),
        "waiting_count": index.waiting,
        "seated": index.seated,
        "message": _message(record.message),
    }


# -- who may do what --------------------------------------------------------------------------


async def controlled(request: Request) -> ClassLobby:
    """The class of the path, once the credential is known to control it."""
    session_id = request.path_params["session_id"]
    credential = claims(request, session_id, what="class")
    lobby = await classes_of(request).get(session_id)
    if not is_admin(request, credential) and not tokens.matches(
        credential, lobby.record.token_hash
    ):
        raise NotAuthorized("this token does not control that class", code=ErrorCode.BAD_TOKEN)
    return lobby


def _bot(kind: str, body: dict[str, Any]) -> BotSeat:
    return default_bot(kind) if body.get("policy") is None else bot_seat(kind, body)


# -- the class link and the students ----------------------------------------------------------


async def class_link(request: Request) -> Response:
    """What the class link opens, for the page: no credential (the class id is the secret)."""
    lobby = await classes_of(request).get(request.path_params["session_id"])
    record = lobby.record
    taken = record.indexed().by_key
    return ORJSONResponse(
        {
            "session_id": record.session_id,
            "title": record.title,
            "kind": record.kind,
            "roster": None
            if record.roster is None
            else [{"name": n, "taken": lb.name_key(n) in taken} for n in record.roster],
            "students": len(record.students),
            "teams": len(record.games),
        }
    )


async def join_class(request: Request) -> Response:
    """A student joins with a name: 201 the first time, 200 for the same student again."""
    classes = classes_of(request)
    lobby = await classes.get(request.path_params["session_id"])
    body = await json_body(request)
    client_id = field(body, "client_id", str)
    if client_id is None or not 8 <= len(client_id) <= MAX_ID:
        raise InvalidSettings(
            f"'client_id' must be the device's own id of 8 to {MAX_ID} characters"
            f" (kept, and sent again with a retried join), got {short(client_id)}"
        )
    name = body.get("name")
    if name is None:
        raise InvalidSettings("'name' is required: the student's name")
    student, new = await classes.join(lobby, name, client_id, field(body, "rejoin", str))
    student, seat_token = await classes.seat_of(lobby, student.id)
    out = student_view(classes, lobby, student, seat_token)
    out["token"] = classes.student_token(lobby.session_id, student.id)
    return ORJSONResponse(out, status_code=201 if new else 200)


async def student_me(request: Request) -> Response:
    """A student's lobby: at once if it changed since version ``since``, else when it does (or
    after ``wait`` seconds, at most 25)."""
    classes = classes_of(request)
    session_id = request.path_params["session_id"]
    claims(request, session_id, what="class")
    lobby = await classes.get(session_id)
    student = classes.student_of(lobby, bearer(request))
    since = _whole(request, "since", 0, 2**53)
    wait = _whole(request, "wait", 0, int(LONG_POLL))
    version = since if since is not None else -1
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LONG_POLL if wait is None else wait):
            await lobby.wait_past(version, lambda: classes.stopping)
    student, seat_token = await classes.seat_of(lobby, student.id)
    return ORJSONResponse(student_view(classes, lobby, student, seat_token))


def _whole(request: Request, name: str, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidSettings(f"{name!r} must be a whole number {low} to {high}, got {short(text)}")
    return int(text)


# -- the facilitator --------------------------------------------------------------------------


async def set_roster(request: Request) -> Response:
    lobby = await controlled(request)
    body = await json_body(request)
    names = body.get("names")
    if names is not None and not isinstance(names, list):
        raise InvalidSettings(f"'names' must be a list of names or null, got {short(names)}")
    classes = classes_of(request)
    await classes.set_roster(lobby, names)
    return ORJSONResponse(lobby_view(request, classes, lobby))


async def form_teams(request: Request) -> Response:
    lobby = await controlled(request)
    body = await json_body(request)
    order = body.get("order") or "arrival"
    if order not in lb.ORDERS:
        raise InvalidSettings(f"'order' must be 'arrival' or 'random', got {short(order)}")
    seed = field(body, "seed", int)
    if seed is None:
        seed = secrets.randbits(31)
    bot = _bot(lobby.record.kind, body)
    classes = classes_of(request)
    await classes.form(lobby, order, seed, bot)
    return ORJSONResponse(lobby_view(request, classes, lobby))


async def move_student(request: Request) -> Response:
    """PUT: to a seat ``{"game_id", "role"}``; DELETE: back to waiting."""
    lobby = await controlled(request)
    target: lb.Seat | None = None
    if request.method == "PUT":
        body = await json_body(request)
        game_id, role = field(body, "game_id", str), field(body, "role", str)
        if game_id is None or role is None:
            raise InvalidSettings("'game_id' and 'role' are required: the seat to move to")
        target = lb.Seat(game_id, role)
    classes = classes_of(request)
    bot = default_bot(lobby.record.kind)
    await classes.move(lobby, request.path_params["student_id"], target, bot)
    return ORJSONResponse(lobby_view(request, classes, lobby))


async def remove_student(request: Request) -> Response:
    lobby = await controlled(request)
    classes = classes_of(request)
    await classes.remove(lobby, request.path_params["student_id"], default_bot(lobby.record.kind))
    return ORJSONResponse(lobby_view(request, classes, lobby))


async def send_message(request: Request) -> Response:
    lobby = await controlled(request)
    body = await json_body(request)
    sent = await classes_of(request).announce(lobby, body.get("text"))
    assert lobby.record.message is not None
    return ORJSONResponse({**(_message(lobby.record.message) or {}), "sent": sent})


async def class_bots(request: Request) -> Response:
    """A bot on every seat nobody holds, in every game of the class still in progress."""
    lobby = await controlled(request)
    bot = _bot(lobby.record.kind, await json_body(request))
    hub = hub_of(request)
    results = []
    for record, _room in await hub.list_games(session_id=lobby.session_id):
        if record.status.over:
            continue
        filled = await fill_with_bots(await hub.driver(record.game_id), bot)
        results.append({"game_id": record.game_id, "roles": filled})
    return ORJSONResponse({"session_id": lobby.session_id, "games": results})


async def export_class(request: Request) -> Response:
    """Every game of the class, in team order, with the students' names and teams."""
    lobby = await controlled(request)
    fmt = check_format(request)
    hub = hub_of(request)
    record = lobby.record
    games = [g for g, _room in await hub.list_games(session_id=record.session_id)]
    order = {game_id: n for n, game_id in enumerate(record.games)}
    games.sort(key=lambda g: (order.get(g.game_id, len(order)), g.created_at))
    # Read inline (a game's rounds take well under a millisecond): a turn of the loop each.
    exported = [
        Exported(g, await hub.store.load_rounds(g.game_id), record.team_of(g.game_id))
        async for g in in_turns(games)
    ]
    if fmt == "csv":
        return csv_stream(record.session_id, csv_parts(exported))
    head = {
        "session_id": record.session_id,
        "title": record.title,
        "kind": record.kind,
        "settings": record.settings,
        "students": [
            {"id": s.id, "name": s.name, "arrived": s.arrived, **_seat_json(record, s.seat)}
            for s in record.students
        ],
    }
    return json_stream(json_parts(head, exported))


_S = "/api/sessions/{session_id}"
routes = [
    Route(f"{_S}/lobby", class_link, methods=["GET"]),
    Route(f"{_S}/lobby", join_class, methods=["POST"]),
    Route(f"{_S}/lobby/me", student_me, methods=["GET"]),
    Route(f"{_S}/roster", set_roster, methods=["PUT"]),
    Route(f"{_S}/teams", form_teams, methods=["POST"]),
    Route(f"{_S}/students/{{student_id}}/seat", move_student, methods=["PUT", "DELETE"]),
    Route(f"{_S}/students/{{student_id}}", remove_student, methods=["DELETE"]),
    Route(f"{_S}/message", send_message, methods=["POST"]),
    Route(f"{_S}/bots", class_bots, methods=["POST"]),
    Route(f"{_S}/export.{{fmt}}", export_class, methods=["GET"]),
]
