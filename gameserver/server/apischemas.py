"""The JSON Schemas of the HTTP API's bodies, for its OpenAPI document (:mod:`openapi`).

Request bodies say what :mod:`gameserver.server.api` and :mod:`gameserver.server.sessions`
accept, with the ranges :mod:`gameserver.server.hub` enforces; response bodies say what
:func:`gameserver.server.api.describe` and the other endpoints return, field by field and
closed (``additionalProperties: false``), so that a test can hold real answers against them.
A game's settings are described from its :class:`~gameserver.game.Setting` list.
"""

from __future__ import annotations

from typing import Any

from gameserver.games import GAMES
from gameserver.protocol import GameStatus
from gameserver.server.lobby import WAITING_SHOWN
from gameserver.server.newgame import MAX_TEAMS, MAX_TITLE

#: Largest whole number a browser's JSON keeps exactly; the API refuses larger ones (400).
MAX_SAFE_INTEGER = 2**53 - 1
MAX_SECONDS = 86400

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
NUM: dict[str, Any] = {"type": "number"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def closed(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly these properties; all required except ``optional``."""
    return {
        "type": "object",
        "properties": props,
        "required": [name for name in props if name not in optional],
        "additionalProperties": False,
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_STATUS = {"type": "string", "enum": [str(s) for s in GameStatus]}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9]{1,32}$"}

#: Path and query parameters by name (a route's ``{name}``, or an operation's ``query``).
PARAMETERS: dict[str, dict[str, Any]] = {
    "game_id": {"name": "game_id", "in": "path", "required": True, "schema": _ID},
    "session_id": {
        "name": "session_id",
        "in": "path",
        "required": True,
        "schema": _ID,
        "description": "A class's id (`S` and eight letters and digits).",
    },
    "role": {"name": "role", "in": "path", "required": True, "schema": STR},
    "code": {
        "name": "code",
        "in": "path",
        "required": True,
        "schema": STR,
        "description": "A join code, `<game id>-<4 characters>`, in any case.",
    },
    "fmt": {"name": "fmt", "in": "path", "required": True, "schema": {"enum": ["json", "csv"]}},
    "student_id": {
        "name": "student_id",
        "in": "path",
        "required": True,
        "schema": STR,
        "description": "A student's id in the class (`p1`, `p2`, … in order of arrival).",
    },
    "name": {"name": "name", "in": "path", "required": True, "schema": STR},
    "since": {
        "name": "since",
        "schema": {"type": "integer", "minimum": 0},
        "description": "The `version` last seen: answer once the lobby is past it.",
    },
    "wait": {
        "name": "wait",
        "schema": {"type": "integer", "minimum": 0, "maximum": 25},
        "description": "Seconds to wait at most for a change (default 25).",
    },
    "status": {"name": "status", "schema": _STATUS, "description": "Only games in this status."},
    "session": {"name": "session", "schema": STR, "description": "Only the games of this class."},
    "limit": {
        "name": "limit",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        "description": "A page of at most this many games, with `next` to ask for the rest.",
    },
    "after": {
        "name": "after",
        "schema": STR,
        "description": "The `next` of the page before: the games after it.",
    },
    "order": {
        "name": "order",
        "schema": {"enum": ["oldest", "newest"]},
        "description": "Oldest first (the default) or newest first.",
    },
    "view": {
        "name": "view",
        "schema": {"enum": ["1"]},
        "description": "`1` adds the facilitator view (everything) as `view`.",
    },
}


def _setting(spec: dict[str, Any]) -> dict[str, Any]:
    """One game setting as a schema, from its description (``Setting.describe``)."""
    kind = spec["kind"]
    bounds: dict[str, Any] = {k: spec[k] for k in ("minimum", "maximum") if k in spec}
    if kind == "int":
        schema: dict[str, Any] = {"type": "integer", **bounds}
    elif kind == "float":
        schema = {"type": "number", **bounds}
    elif kind == "bool":
        schema = dict(BOOL)
    elif kind == "str":
        schema = {"type": "string", "enum": spec.get("choices", [])}
    else:  # int_list
        schema = array({"type": "integer", **bounds})
    if spec.get("optional"):
        schema = nullable(schema)
    text = spec["label"] + (f". {spec['help']}" if spec.get("help") else "")
    return {**schema, "default": spec["default"], "description": text}


def _settings(kind: str) -> dict[str, Any]:
    game = GAMES[kind]
    return {
        "type": "object",
        "title": f"{game.title} settings",
        "description": "Every setting is optional (its default is used); unknown names are "
        "refused (422). The game may have rules across settings; its message names them.",
        "properties": {spec["name"]: _setting(spec) for spec in game.describe_settings()},
        "additionalProperties": False,
    }


def _create_game() -> dict[str, Any]:
    # Model games are added at run time (docs/models.md): their kinds and settings are in
    # GET /api/kinds, not in this document, which describes the built-in kinds in full.
    model_settings = {**ANY_OBJECT, "description": "A model game's settings (GET /api/kinds)."}
    settings = {
        "anyOf": [*(ref(f"{kind}_settings") for kind in GAMES), model_settings, {"type": "null"}]
    }
    props = {
        "kind": {
            "type": "string",
            "description": f"The game kind: {', '.join(GAMES)}, or a model game's "
            "(GET /api/kinds lists every kind).",
        },
        "settings": {**settings, "description": "The kind's settings: a JSON object or null."},
        "title": nullable({"type": "string", "maxLength": MAX_TITLE}),
        "seed": nullable({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER}),
        "round_seconds": nullable({"type": "number", "minimum": 1, "maximum": MAX_SECONDS}),
        "open_join": nullable(BOOL),
        "autostart": nullable(BOOL),
    }
    return {
        "type": "object",
        "description": "Fields other than these are ignored; null is the same as absent.",
        "properties": props,
        "required": ["kind"],
    }


_SEAT = closed(
    {
        "role": STR,
        "claimed": BOOL,
        "name": nullable(STR),
        "bot": nullable(ref("Bot")),
        "online": BOOL,
        "submitted": BOOL,
        "join_code": STR,
    }
)
_GAME_PROPS: dict[str, Any] = {
    "game_id": STR,
    "kind": STR,
    "title": STR,
    "status": _STATUS,
    "active": {**BOOL, "description": "In memory; false: read from storage."},
    "restored": {**BOOL, "description": "Brought back into memory from storage."},
    "round": {"type": "integer", "minimum": 0, "description": "Rounds completed."},
    "total_rounds": nullable({"type": "integer"}),
    "deadline": nullable(NUM),
    "paused_remaining": nullable(NUM),
    "round_seconds": nullable(NUM),
    "session_id": nullable(STR),
    "created_at": NUM,
    "cloned_from": nullable(closed({"game_id": STR, "round": {"type": "integer"}})),
    "settings": ANY_OBJECT,
    "seats": array(_SEAT),
    "join": array(closed({"role": STR, "code": STR, "url": STR})),
    "open_join": nullable(closed({"code": STR, "url": STR})),
    "results": ANY_OBJECT,
    "view": {"description": "With `?view=1` only: the facilitator view."},
}
_ROUND = closed(
    {
        "round": {"type": "integer", "minimum": 1},
        "decisions": ANY_OBJECT,
        "defaulted": array(STR),
        "ids": ANY_OBJECT,
        "closed_by": {"enum": ["all_submitted", "deadline", "facilitator"]},
        "at": NUM,
        "summary": ANY_OBJECT,
        "names": {"type": "object", "additionalProperties": nullable(STR)},
    }
)
_EXPORT = {
    "game_id": STR,
    "kind": STR,
    "title": STR,
    "settings": ANY_OBJECT,
    "seed": {"type": "integer"},
    "status": _STATUS,
    "cloned_from": nullable(closed({"game_id": STR, "round": {"type": "integer"}})),
    "seats": array(closed({"role": STR, "name": nullable(STR)})),
    "rounds": array(_ROUND),
    "results": ANY_OBJECT,
}
_TEAM_SEAT = {"game_id": nullable(STR), "role": nullable(STR), "team": nullable(INT)}
_MESSAGE = closed({"text": STR, "at": NUM, "number": INT})
_LOBBY = closed(
    {
        "link": {**STR, "description": "The class link: `/play?class=<class id>`."},
        "version": INT,
        "roster": nullable(array(STR)),
        "teams": {**array(STR), "description": "The games of the teams, in order."},
        "waiting": INT,
        "students": array(
            closed(
                {
                    "id": STR,
                    "name": STR,
                    "arrived": INT,
                    "rejoin_code": STR,
                    **_TEAM_SEAT,
                }
            )
        ),
        "message": nullable(_MESSAGE),
    }
)
_STUDENT_LOBBY: dict[str, Any] = {
    "session_id": STR,
    "title": STR,
    "kind": STR,
    "version": INT,
    "student": closed({"id": STR, "name": STR, "arrived": INT, "rejoin_code": STR}),
    "seat": nullable(closed({**_TEAM_SEAT, "token": STR})),
    "waiting": {
        **array(STR),
        "description": (
            f"The names of the students waiting, in order of arrival: the first {WAITING_SHOWN}."
        ),
    },
    "waiting_count": {**INT, "description": "How many students wait in all."},
    "seated": INT,
    "message": nullable(_MESSAGE),
}
_RANGE = closed({"minimum": NUM, "maximum": NUM})
_POLICY = closed(
    {
        "name": STR,
        "help": STR,
        "params": {"type": "object", "additionalProperties": NUM},
        "ranges": {"type": "object", "additionalProperties": _RANGE},
    }
)
_KIND = closed(
    {
        "kind": STR,
        "title": STR,
        "headline": {**STR, "description": "The per-role figure that scores a player."},
        "display": {
            **ANY_OBJECT,
            "description": "What the pages show of this kind (gameserver/display.py).",
        },
        "settings": array(ANY_OBJECT),
        "policies": array(_POLICY),
    }
)
_FILE = closed({"name": STR, "text": STR})
_MODEL = closed(
    {
        "kind": STR,
        "title": STR,
        "model": STR,
        "folder": STR,
        "round_word": STR,
        "rounds": {"type": "integer"},
        "steps_per_round": {"type": "integer"},
        "dt": NUM,
        "variables": {"type": "integer"},
    }
)
_RESULT = closed(
    {"game_id": STR, "ok": BOOL, "error": STR, "code": STR}, optional=("error", "code")
)
_POSITIVE = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SECONDS}


def components() -> dict[str, Any]:
    """The ``components`` of the OpenAPI document: schemas and the three credentials."""
    game = closed(_GAME_PROPS, optional=("view",))
    schemas: dict[str, Any] = {
        "Bot": closed({"policy": STR, "params": {"type": "object"}}),
        "Game": game,
        "CreatedGame": closed({**_GAME_PROPS, "facilitator_token": STR}, optional=("view",)),
        "GameList": closed(
            {
                "games": array(ref("ListedGame")),
                "next": {
                    **nullable(STR),
                    "description": "Pass it as `after` for the next page; null: no more.",
                },
            }
        ),
        "ListedGame": closed(
            {k: v for k, v in _GAME_PROPS.items() if k not in ("settings", "results", "view")}
        ),
        "CreateGame": _create_game(),
        "CreateSession": {
            "allOf": [ref("CreateGame")],
            "properties": {
                "teams": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_TEAMS,
                    "description": "Games made now; 0: the lobby forms the teams.",
                }
            },
            "required": ["teams"],
        },
        "CreatedSession": closed(
            {
                "session_id": STR,
                "facilitator_token": STR,
                "games": array(ref("Game")),
                "lobby": ref("Lobby"),
            }
        ),
        "Session": closed(
            {
                "session_id": STR,
                "games": array(ref("Game")),
                "lobby": {**nullable(ref("Lobby")), "description": "Null: made before lobbies."},
            }
        ),
        "Lobby": _LOBBY,
        "ClassLink": closed(
            {
                "session_id": STR,
                "title": STR,
                "kind": STR,
                "roster": nullable(array(closed({"name": STR, "taken": BOOL}))),
                "students": INT,
                "teams": INT,
            }
        ),
        "JoinClass": {
            "type": "object",
            "properties": {
                "name": {**STR, "description": "1-64 characters; with a roster, one of it."},
                "client_id": {
                    **STR,
                    "minLength": 8,
                    "maxLength": 64,
                    "description": "The device's own id: a retried join is the same student.",
                },
                "rejoin": nullable({**STR, "description": "A student's rejoin code."}),
            },
            "required": ["name", "client_id"],
        },
        "StudentLobby": closed(_STUDENT_LOBBY),
        "StudentJoined": closed({**_STUDENT_LOBBY, "token": STR}),
        "Roster": {
            "type": "object",
            "properties": {"names": nullable(array(STR))},
        },
        "FormTeams": {
            "type": "object",
            "properties": {
                "order": nullable({"enum": ["arrival", "random"]}),
                "seed": nullable({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER}),
                "policy": nullable(STR),
                "params": nullable({"type": "object", "additionalProperties": NUM}),
            },
        },
        "MoveTo": {
            "type": "object",
            "properties": {"game_id": STR, "role": STR},
            "required": ["game_id", "role"],
        },
        "Message": {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 500}},
            "required": ["text"],
        },
        "Sent": closed({**_MESSAGE["properties"], "sent": INT}),
        "BotChoice": {
            "type": "object",
            "description": "A bot of the kind (`/api/kinds`); none: its first policy.",
            "properties": {
                "policy": nullable(STR),
                "params": nullable({"type": "object", "additionalProperties": NUM}),
            },
        },
        "ClassBots": closed(
            {"session_id": STR, "games": array(closed({"game_id": STR, "roles": array(STR)}))}
        ),
        "ClassExport": closed(
            {
                "session_id": STR,
                "title": STR,
                "kind": STR,
                "settings": ANY_OBJECT,
                "students": array(closed({"id": STR, "name": STR, "arrived": INT, **_TEAM_SEAT})),
                "games": array(closed({"team": nullable(INT), **_EXPORT})),
            }
        ),
        "Presets": closed(
            {
                "presets": array(
                    {
                        "type": "object",
                        "properties": {"name": STR, "kind": STR},
                        "required": ["name", "kind"],
                    }
                )
            }
        ),
        "SessionResults": closed({"session_id": STR, "results": array(_RESULT)}),
        "Deadline": {
            "description": "Exactly one of the three (`clear: false` counts as absent).",
            "oneOf": [
                closed({"seconds": _POSITIVE}),
                closed({"extend": _POSITIVE}),
                closed({"clear": {"const": True}}),
            ],
        },
        "Ignored": {**ANY_OBJECT, "description": "Not used: an empty body or any JSON object."},
        "Clone": {
            "type": "object",
            "properties": {"round": {"type": "integer", "minimum": 0}},
            "required": ["round"],
        },
        "HandToBot": {
            "type": "object",
            "properties": {
                "policy": {**STR, "description": "A policy of the game's kind (/api/kinds)."},
                "params": nullable({"type": "object", "additionalProperties": NUM}),
            },
            "required": ["policy"],
        },
        "JoinInfo": closed(
            {
                "game_id": STR,
                "kind": STR,
                "title": STR,
                "status": _STATUS,
                "open": BOOL,
                "role": nullable(STR),
                "roles": array(closed({"role": STR, "free": BOOL, "bot": BOOL})),
            }
        ),
        "Export": closed(_EXPORT),
        "Kinds": closed({"kinds": array(_KIND)}),
        "ModelGame": _MODEL,
        "Models": closed(
            {"models": array(_MODEL), "errors": array(closed({"where": STR, "error": STR}))}
        ),
        "AddModel": closed(
            {
                "description": {**_FILE, "description": "The description: a .toml or .json"},
                "model": {**_FILE, "description": "The model: .xmile, .stmx, .itmx or .mdl"},
            }
        ),
        "Health": closed(
            {
                "status": {"const": "ok"},
                "games_in_memory": {"type": "integer"},
                "restored": {"type": "integer"},
            }
        ),
        "OpenAPIDocument": ANY_OBJECT,
        **{f"{kind}_settings": _settings(kind) for kind in GAMES},
    }
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "schemas": schemas,
        "securitySchemes": {
            "adminKey": {**bearer, "description": "The server's admin key: everything."},
            "facilitatorToken": {**bearer, "description": "A game's token: that game."},
            "sessionToken": {**bearer, "description": "A class's token: its games."},
            "studentToken": {**bearer, "description": "A student's lobby token: their lobby."},
        },
    }
