"""The OpenAPI 3.1 description of the HTTP API, served at ``GET /api/openapi.json``.

The paths and methods come from the app's real routes; what each one takes, needs and answers
comes from a short declaration here (:data:`OPERATIONS`). :func:`document` refuses a route
without a declaration and a declaration without a route, so neither can be forgotten silently
(``tests/test_openapi.py`` holds the document a running server serves against its routes,
docs/api.md and its answers). The schemas
of the bodies live in :mod:`gameserver.server.apischemas`; ``docs/api.md`` says the same for
people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.routing import BaseRoute, Route

from gameserver import __version__
from gameserver.errors import (
    Conflict,
    ErrorCode,
    InvalidSettings,
    NotAuthorized,
    NotFound,
    ProtocolError,
    StorageFailure,
    Unavailable,
)
from gameserver.protocol import PROTOCOL_VERSION
from gameserver.server.apischemas import PARAMETERS, components, ref

#: The status of every error code an HTTP client can get, from the exception that carries it.
#: ``bad_message`` is missing on purpose: over HTTP it only marks a client that left before its
#: body was complete, so nobody receives it.
HTTP_ERRORS: dict[ErrorCode, int] = {
    ErrorCode.BAD_JSON: ProtocolError.http_status,
    ErrorCode.TOO_BIG: ProtocolError.http_status,
    ErrorCode.TOO_DEEP: ProtocolError.http_status,
    ErrorCode.BAD_FIELD: ProtocolError.http_status,
    ErrorCode.NOT_AUTHORIZED: NotAuthorized.http_status,
    ErrorCode.NOT_ADMIN: NotAuthorized.http_status,
    ErrorCode.BAD_TOKEN: NotAuthorized.http_status,
    ErrorCode.NOT_FOUND: NotFound.http_status,
    ErrorCode.NO_SUCH_ROLE: NotFound.http_status,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: Conflict.http_status,
    ErrorCode.ROUND_NOT_PLAYED: Conflict.http_status,
    ErrorCode.INVALID_SETTINGS: InvalidSettings.http_status,
    ErrorCode.STORAGE_FAILURE: StorageFailure.http_status,
    ErrorCode.UNAVAILABLE: Unavailable.http_status,
    ErrorCode.NAME_TAKEN: Conflict.http_status,
}
#: Codes that no single operation declares: a wrong method on any path (405), and
#: ``http_error`` for any other HTTP-level error Starlette raises (none is known to happen).
ANY_ROUTE = (ErrorCode.METHOD_NOT_ALLOWED, ErrorCode.HTTP_ERROR)

Auth = Literal["none", "admin", "game", "session", "student"]
_CREDENTIALS: dict[Auth, list[dict[str, list[str]]]] = {
    "none": [],
    "admin": [{"adminKey": []}],
    "game": [{"adminKey": []}, {"facilitatorToken": []}, {"sessionToken": []}],
    "session": [{"adminKey": []}, {"sessionToken": []}],
    "student": [{"studentToken": []}],
}
_AUTH_ERRORS: dict[Auth, tuple[ErrorCode, ...]] = {
    "none": (),
    "admin": (ErrorCode.NOT_AUTHORIZED, ErrorCode.NOT_ADMIN),
    "game": (ErrorCode.NOT_AUTHORIZED, ErrorCode.BAD_TOKEN, ErrorCode.NOT_FOUND),
    "session": (ErrorCode.NOT_AUTHORIZED, ErrorCode.BAD_TOKEN, ErrorCode.NOT_FOUND),
    "student": (ErrorCode.NOT_AUTHORIZED, ErrorCode.BAD_TOKEN, ErrorCode.NOT_FOUND),
}
#: What any request whose JSON body is read can get (see ``http.json_body``).
_BODY_ERRORS = (ErrorCode.BAD_JSON, ErrorCode.TOO_BIG, ErrorCode.TOO_DEEP, ErrorCode.BAD_FIELD)


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path: what it is for, who may call it, what it reads and answers.

    ``body``/``returns`` name a schema of :mod:`apischemas`; ``reads_body`` is for endpoints
    that read a body without needing one (every action). ``errors`` are the codes beyond those
    of the credential, the body and storage, which are added from ``auth`` and ``stored``."""

    summary: str
    auth: Auth
    returns: str | None = None
    status: int = 200
    body: str | None = None
    reads_body: bool = False
    errors: tuple[ErrorCode, ...] = ()
    media: str = "application/json"
    stored: bool = True  # reads or writes storage, so it can fail with storage_failure
    query: tuple[str, ...] = ()
    also: tuple[int, ...] = ()  # other success statuses, with the same body
    #: Runs the game, so with servers sharing a database it may have to be handed over first
    #: (and fail with ``unavailable``).
    runs: bool = False

    def error_codes(self) -> list[ErrorCode]:
        """Every error code this operation can answer with, declared or implied."""
        codes = [*_AUTH_ERRORS[self.auth], *self.errors]
        if self.body or self.reads_body:
            codes += _BODY_ERRORS
        if self.stored:
            codes.append(ErrorCode.STORAGE_FAILURE)
        if self.runs:
            codes.append(ErrorCode.UNAVAILABLE)
        return list(dict.fromkeys(codes))


_G = "/api/games/{game_id}"
_S = "/api/sessions/{session_id}"
_MOVE_ERRORS = (ErrorCode.NO_SUCH_ROLE, ErrorCode.CONFLICT, ErrorCode.INVALID_SETTINGS)
#: What each action does, for a game and for every game of a class.
ACTION_SUMMARIES: dict[str, str] = {
    "start": "Start the game (created -> running); the first deadline starts",
    "pause": "Pause the game (running -> paused); the deadline's clock freezes",
    "resume": "Resume the game (paused -> running) with the time that was left",
    "end": "End the game now (-> ended)",
    "close-round": "Close the open round now; seats without a decision get the default",
    "deadline": "Set, extend or clear the open round's deadline",
}


def _actions() -> dict[tuple[str, str], Operation]:
    out = {}
    for name, summary in ACTION_SUMMARIES.items():
        # Only the deadline action has a body to refuse; a game action can be refused for
        # the game's status (409), a class's actions report that per game instead.
        body, refused = (
            ("Deadline", (ErrorCode.INVALID_SETTINGS,)) if name == "deadline" else (None, ())
        )
        # A close plays the round: the game's rules may fail or take too long.
        played = (ErrorCode.ROUND_NOT_PLAYED,) if name == "close-round" else ()
        out["POST", f"{_G}/{name}"] = Operation(
            summary,
            "game",
            "Game",
            body=body,
            reads_body=True,
            errors=(ErrorCode.CONFLICT, *played, *refused),
            runs=True,
        )
        out["POST", f"{_S}/{name}"] = Operation(
            f"{summary}: every game of the class still in progress",
            "session",
            "SessionResults",
            body=body,
            reads_body=True,
            errors=refused,
        )
    return out


#: Every operation of the HTTP API, keyed by method and route path.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/health"): Operation("Whether the server is up", "none", "Health", stored=False),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics", "admin", media="text/plain; version=0.0.4", stored=False
    ),
    ("GET", "/protocol.js"): Operation(
        "The WebSocket protocol's constants as an ES module, for the pages",
        "none",
        media="text/javascript",
        stored=False,
    ),
    ("GET", "/api/openapi.json"): Operation(
        "This document", "none", "OpenAPIDocument", stored=False
    ),
    ("GET", "/api/kinds"): Operation(
        "Every game kind, its settings and its bot policies", "none", "Kinds", stored=False
    ),
    ("POST", "/api/games"): Operation(
        "Create a game",
        "admin",
        "CreatedGame",
        status=201,
        body="CreateGame",
        errors=(ErrorCode.NOT_FOUND, ErrorCode.INVALID_SETTINGS),
    ),
    ("GET", "/api/games"): Operation(
        "Every game, or a page of them, from their stored summaries (no game's state is read)",
        "admin",
        "GameList",
        errors=(ErrorCode.INVALID_SETTINGS,),
        query=("status", "session", "limit", "after", "order"),
    ),
    ("GET", _G): Operation(
        "One game (not brought back into memory)", "game", "Game", query=("view",)
    ),
    ("DELETE", _G): Operation(
        "Delete a game, its decisions and rounds", "game", status=204, runs=True
    ),
    ("POST", f"{_G}/clone"): Operation(
        "A new game from the end of a completed round of this one",
        "game",
        "CreatedGame",
        status=201,
        body="Clone",
        errors=(ErrorCode.CONFLICT, ErrorCode.INVALID_SETTINGS),
    ),
    ("GET", f"{_G}/export.{{fmt}}"): Operation(
        "The per-round record, as JSON or CSV (one row per round and role)", "game", "Export"
    ),
    ("PUT", f"{_G}/seats/{{role}}/bot"): Operation(
        "Hand a seat to a server-side bot",
        "game",
        "Game",
        body="HandToBot",
        errors=(ErrorCode.NO_SUCH_ROLE, ErrorCode.INVALID_SETTINGS),
        runs=True,
    ),
    ("DELETE", f"{_G}/seats/{{role}}/bot"): Operation(
        "Hand a seat back to a person",
        "game",
        "Game",
        errors=(ErrorCode.NO_SUCH_ROLE,),
        runs=True,
    ),
    ("POST", f"{_G}/seats/{{role}}/reset"): Operation(
        "Free a seat: its token stops working and it gets a new join code",
        "game",
        "Game",
        errors=(ErrorCode.NO_SUCH_ROLE,),
        runs=True,
    ),
    ("GET", "/api/join/{code}"): Operation(
        "What a join code opens (the code is the secret)",
        "none",
        "JoinInfo",
        errors=(ErrorCode.NOT_FOUND,),
    ),
    ("POST", "/api/sessions"): Operation(
        "Create a class: N games of one kind under one token",
        "admin",
        "CreatedSession",
        status=201,
        body="CreateSession",
        errors=(ErrorCode.NOT_FOUND, ErrorCode.INVALID_SETTINGS),
    ),
    ("GET", _S): Operation("A class's games and its lobby", "session", "Session"),
    ("POST", f"{_G}/bots"): Operation(
        "A bot on every seat nobody holds",
        "game",
        "Game",
        body="BotChoice",
        errors=(ErrorCode.CONFLICT, ErrorCode.INVALID_SETTINGS),
        runs=True,
    ),
    ("GET", f"{_S}/lobby"): Operation(
        "What the class link opens (the class id is the secret)",
        "none",
        "ClassLink",
        errors=(ErrorCode.NOT_FOUND,),
    ),
    ("POST", f"{_S}/lobby"): Operation(
        "Join the class with a name: 201 the first time, 200 for the same student again",
        "none",
        "StudentJoined",
        status=201,
        also=(200,),
        body="JoinClass",
        errors=(
            ErrorCode.NOT_FOUND,
            ErrorCode.NAME_TAKEN,
            ErrorCode.CONFLICT,
            ErrorCode.INVALID_SETTINGS,
        ),
        runs=True,
    ),
    ("GET", f"{_S}/lobby/me"): Operation(
        "A student's lobby or seat; with `since`, once it changed after that version",
        "student",
        "StudentLobby",
        errors=(ErrorCode.INVALID_SETTINGS,),
        query=("since", "wait"),
        runs=True,
    ),
    ("PUT", f"{_S}/roster"): Operation(
        "The names students pick from (null: any name)",
        "session",
        "Lobby",
        body="Roster",
        errors=(ErrorCode.INVALID_SETTINGS,),
    ),
    ("POST", f"{_S}/teams"): Operation(
        "Form teams of every student waiting; bots fill the seats a short team leaves",
        "session",
        "Lobby",
        body="FormTeams",
        errors=(ErrorCode.CONFLICT, ErrorCode.INVALID_SETTINGS),
        runs=True,
    ),
    ("PUT", f"{_S}/students/{{student_id}}/seat"): Operation(
        "Move a student to a seat of a class's game (swapping with its student)",
        "session",
        "Lobby",
        body="MoveTo",
        errors=_MOVE_ERRORS,
        runs=True,
    ),
    ("DELETE", f"{_S}/students/{{student_id}}/seat"): Operation(
        "Send a student back to waiting; a bot takes their seat", "session", "Lobby", runs=True
    ),
    ("DELETE", f"{_S}/students/{{student_id}}"): Operation(
        "Take a student out of the class; a bot takes their seat",
        "session",
        "Lobby",
        runs=True,
    ),
    ("POST", f"{_S}/message"): Operation(
        "A message to everyone in the class (an `announcement` on the WebSocket)",
        "session",
        "Sent",
        body="Message",
        errors=(ErrorCode.INVALID_SETTINGS,),
    ),
    ("POST", f"{_S}/bots"): Operation(
        "A bot on every seat nobody holds, in every game of the class in progress",
        "session",
        "ClassBots",
        body="BotChoice",
        errors=(ErrorCode.INVALID_SETTINGS,),
        runs=True,
    ),
    ("GET", f"{_S}/export.{{fmt}}"): Operation(
        "Every game of the class with the students' names, as JSON or CSV",
        "session",
        "ClassExport",
    ),
    ("GET", "/api/presets"): Operation("The settings presets", "admin", "Presets"),
    ("PUT", "/api/presets/{name}"): Operation(
        "Save a settings preset (what creating a game takes) under a name",
        "admin",
        "Presets",
        body="CreateGame",
        errors=(ErrorCode.NOT_FOUND, ErrorCode.INVALID_SETTINGS),
    ),
    ("DELETE", "/api/presets/{name}"): Operation(
        "Delete a settings preset", "admin", "Presets", errors=(ErrorCode.NOT_FOUND,)
    ),
    ("GET", "/api/models"): Operation(
        "The model games this server plays, and those that could not be loaded",
        "admin",
        "Models",
        stored=False,
    ),
    ("POST", "/api/models"): Operation(
        "Add a model game: a description and a model file (compiled: admin only)",
        "admin",
        "ModelGame",
        status=201,
        body="AddModel",
        errors=(ErrorCode.INVALID_SETTINGS, ErrorCode.CONFLICT),
        stored=False,
    ),
    **_actions(),
}


def served(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every HTTP operation of ``routes``; HEAD goes with GET."""
    out = []
    for route in routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return out


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` (the app's HTTP API); :class:`LookupError` naming
    every route without a declaration and every declaration without a route."""
    operations = served(routes)
    missing = [f"{m} {p}" for m, p in operations if (m, p) not in OPERATIONS]
    stale = [f"{m} {p}" for m, p in OPERATIONS if (m, p) not in operations]
    if missing or stale:
        raise LookupError(
            f"routes without a declaration in openapi.OPERATIONS: {missing or 'none'}; "
            f"declarations without a route: {stale or 'none'}"
        )
    paths: dict[str, dict[str, Any]] = {}
    for method, path in operations:
        paths.setdefault(path, {})[method.lower()] = _operation(
            method, path, OPERATIONS[method, path]
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gameserver facilitator API",
            "version": __version__,
            "description": (
                "JSON over HTTP (docs/api.md). Errors are "
                '`{"error": {"code", "message"}}`; a method a path does not have is 405 '
                f"`method_not_allowed`. The players' WebSocket (`/ws`, protocol version "
                f"{PROTOCOL_VERSION}) is described in docs/protocol.md."
            ),
        },
        "paths": paths,
        "components": components(),
    }


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    words = [w.strip("{}") for w in path.replace(".", "/").replace("-", "_").split("/")]
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": "_".join([method.lower(), *(w for w in words if w and w != "api")]),
        "security": _CREDENTIALS[op.auth],
    }
    names = [part[1:-1] for part in path.replace(".", "/").split("/") if part.startswith("{")]
    parameters = [PARAMETERS[name] for name in names]
    parameters += [{**PARAMETERS[name], "in": "query", "required": False} for name in op.query]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None or op.reads_body:
        out["requestBody"] = {
            "required": op.body is not None,
            "content": {"application/json": {"schema": ref(op.body or "Ignored")}},
        }
    success = _success(op)
    out["responses"] = {
        **{str(status): success for status in (op.status, *op.also)},
        **_errors(op.error_codes()),
    }
    return out


def _success(op: Operation) -> dict[str, Any]:
    if op.status == 204:
        return {"description": "Done; no body."}
    if op.media != "application/json":
        return {"description": op.summary, "content": {op.media: {"schema": {"type": "string"}}}}
    assert op.returns is not None, op.summary
    content: dict[str, Any] = {"application/json": {"schema": ref(op.returns)}}
    if op.returns in ("Export", "ClassExport"):
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"description": op.summary, "content": content}


def _errors(codes: Sequence[ErrorCode]) -> dict[str, Any]:
    """One response per status, its body's ``code`` limited to the codes of that status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(HTTP_ERRORS[code], []).append(str(code))
    out = {}
    for status, names in sorted(by_status.items()):
        schema = {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string", "enum": names},
                        "message": {"type": "string"},
                    },
                }
            },
        }
        description = "Error: " + ", ".join(f"`{n}`" for n in names)
        out[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    return out
