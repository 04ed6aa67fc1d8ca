"""The WebSocket protocol, version 1: every message both ways, its version and its codes.

This is the edge. A frame from a client becomes a typed value here (:func:`parse_hello`,
:func:`parse_client_message`) and nothing past this module sees raw JSON; a message to a client
is a typed value here too, encoded once by :func:`encode` (a broadcast shares the bytes).
``docs/protocol.md`` describes every message; a test checks it against this module.

The server and the bot client both import this module; the pages get the same constants from
the server (``/protocol.js``, made from :func:`javascript_constants`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

import orjson

from gameserver.errors import (
    CLOSES_WITH,
    CloseCode,
    ErrorCode,
    GameServerError,
    ProtocolError,
    UnsupportedVersion,
    short,
)

__all__ = [
    "CLOSES_WITH",
    "MAX_DEPTH",
    "MAX_ID",
    "MIN_JOIN_ID",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "Ack",
    "Announcement",
    "ClientMessage",
    "CloseCode",
    "Error",
    "ErrorCode",
    "FacilitatorRound",
    "FacilitatorSync",
    "GameInfo",
    "GameStatus",
    "Hello",
    "Join",
    "MalformedFrame",
    "Ping",
    "Pong",
    "Progress",
    "Resume",
    "Round",
    "SeatInfo",
    "Submit",
    "Sync",
    "SyncRequest",
    "Watch",
    "Welcome",
    "ack",
    "announcement",
    "encode",
    "error",
    "error_message",
    "game_of_code",
    "game_of_token",
    "javascript_constants",
    "loads_frame",
    "loads_json",
    "parse_client_message",
    "parse_hello",
    "pong",
    "progress",
    "welcome",
]

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
#: Client message ids and player names: 1 to this many characters.
MAX_ID = 64
#: A join id (``hello``'s ``join_id``) is a secret of the client's: at least this many characters.
MIN_JOIN_ID = 16
#: JSON nested deeper than this is refused at the edge (no message needs more than a few).
MAX_DEPTH = 32
#: Whole numbers beyond this (2**53 - 1) do not survive a browser's JSON: refused at the edge.
MAX_SAFE_INTEGER = 2**53 - 1


class GameStatus(StrEnum):
    """A game's status, as every message and the API spell it."""

    CREATED = "created"  # seats can be taken, no decisions yet
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # the last round was played
    ENDED = "ended"  # ended by the facilitator

    @property
    def in_progress(self) -> bool:
        """Not over yet: restored at start-up, and controls still apply."""
        # Identity, not ``in``: an Enum's __hash__ and __eq__ are Python code, on a hot path.
        return self is not GameStatus.FINISHED and self is not GameStatus.ENDED

    @property
    def over(self) -> bool:
        return self is GameStatus.FINISHED or self is GameStatus.ENDED


class MalformedFrame(Exception):
    """A frame that is not a JSON object: the connection is closed (1007)."""


def game_of_code(code: str) -> str:
    """The game id a join code belongs to: codes look like ``<game id>-<4 characters>``."""
    return code.split("-", 1)[0]


def game_of_token(token: str) -> str:
    """The game (or session) id a token belongs to: tokens look like ``<id>.<secret>``."""
    return token.split(".", 1)[0]


# -- client messages ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join:
    """Take a seat with a join code (a seat's code, or a game's open code plus a role).

    ``join_id`` is the client's own id for this join: the same join sent again with it (its
    ``welcome`` was lost) gets the seat it claimed back, with a new token."""

    code: str
    role: str | None
    name: str | None
    join_id: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Come back to a seat with the token received on joining."""

    token: str


@dataclass(frozen=True, slots=True)
class Watch:
    """Follow a game with the facilitator view (facilitator token or admin key)."""

    game_id: str
    token: str


Hello = Join | Resume | Watch


@dataclass(frozen=True, slots=True)
class Submit:
    """A decision for ``round``; ``id`` is the client's own message id."""

    round: int
    id: str
    decision: Any


@dataclass(frozen=True, slots=True)
class Ping:
    id: str | None


@dataclass(frozen=True, slots=True)
class SyncRequest:
    pass


ClientMessage = Submit | Ping | SyncRequest


def loads_frame(frame: str | bytes) -> dict[str, Any]:
    """Decode one frame into a JSON object or raise :class:`MalformedFrame`; a JSON object
    nested too deep or holding a whole number a browser cannot represent raises
    :class:`ProtocolError` (answered with an ``error``; the connection stays)."""
    try:
        data = loads_json(frame)
    except orjson.JSONDecodeError as exc:
        raise MalformedFrame(f"frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedFrame(f"a frame must be a JSON object, got {type(data).__name__}")
    if _may_break_bounds(frame):
        check_json(data)
    return data


# 16 digits in a row: the shortest text of a whole number beyond 2**53 - 1.
_LONG_NUMBER = re.compile(rb"[0-9]{16}")


def _may_break_bounds(frame: str | bytes) -> bool:
    """Whether ``check_json`` must walk this frame: only if it has more brackets than the depth
    allowed, or a run of 16 digits. Both are counted in C; nearly every frame has neither
    (a submit has two brackets), and the Python walk was a cost on every message."""
    raw = frame.encode() if isinstance(frame, str) else frame
    brackets = raw.count(b"[") + raw.count(b"{")
    return brackets > MAX_DEPTH or _LONG_NUMBER.search(raw) is not None


def loads_json(text: str | bytes) -> Any:
    """Strict JSON (orjson's reading: UTF-8, no NaN, no lone surrogates), except that a number
    beyond a double's range is infinity, as in a browser's ``JSON.parse``, instead of failing
    the whole document: then the field holding it is refused by name (every number field
    refuses what is not finite) rather than the body as "not JSON". Raises
    ``orjson.JSONDecodeError``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not str(exc).startswith("number is infinity"):
            raise
        refused = exc
    # orjson read everything before that number; the standard library reads the rest, and
    # encoding the result again holds it to orjson's rules (no lone surrogates, no deeper
    # nesting than orjson allows). Anything it cannot read is orjson's error after all.
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
        orjson.dumps(data)
    except (ValueError, TypeError, RecursionError):
        raise refused from None
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_json(value: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` or holding whole numbers beyond
    +-(2**53 - 1), without recursion (so that no input can exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, int) and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise ProtocolError(
                    f"whole numbers must be within +-{MAX_SAFE_INTEGER}, got {short(item)}",
                    code=ErrorCode.BAD_FIELD,
                )
            continue
        if depth > MAX_DEPTH:
            raise ProtocolError(
                f"JSON nested deeper than {MAX_DEPTH} levels", code=ErrorCode.TOO_DEEP
            )
        stack.extend((child, depth + 1) for child in children)


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    """A short non-empty string field: absent -> None (or missing_field), wrong -> bad_field."""
    value = data.get(key)
    if value is None:
        if required:
            raise ProtocolError(
                f"{short(data.get('type'))} message needs {key!r}", code=ErrorCode.MISSING_FIELD
            )
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(
            f"{key!r} must be a string of 1 to {limit} characters, got {short(value)}",
            code=ErrorCode.BAD_FIELD,
        )
    return value


def parse_hello(data: dict[str, Any]) -> Hello:
    """The first message of every connection."""
    if data.get("type") != "hello":
        raise ProtocolError(
            f"the first message must be 'hello', got {short(data.get('type'))}",
            code=ErrorCode.HELLO_EXPECTED,
        )
    version = data.get("v")
    if version is None:
        version = PROTOCOL_VERSION
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON has one number type: 1.0 is 1, as a round's 3.0 is 3
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnsupportedVersion(
            f"'v' must be a protocol version number, got {short(version)}; this server "
            f"speaks {sorted(SUPPORTED_VERSIONS)}"
        )
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(
            f"protocol version {version} is not supported; this server speaks "
            f"{sorted(SUPPORTED_VERSIONS)}"
        )
    if data.get("watch") is not None:
        return Watch(
            game_id=_text(data, "watch", 200, required=True) or "",
            token=_text(data, "token", 200, required=True) or "",
        )
    # A page may still hold the code it joined with: the token, when there is one, wins.
    if data.get("token") is not None:
        return Resume(token=_text(data, "token", 200, required=True) or "")
    if data.get("join") is not None:
        code = (_text(data, "join", 200, required=True) or "").strip().upper()
        join_id = _text(data, "join_id", MAX_ID, required=False)
        if join_id is not None and len(join_id) < MIN_JOIN_ID:
            raise ProtocolError(
                f"'join_id' must be a string of {MIN_JOIN_ID} to {MAX_ID} characters (a random "
                f"id the client keeps for this join), got {short(join_id)}",
                code=ErrorCode.BAD_FIELD,
            )
        return Join(
            code=code,
            role=_text(data, "role", 200, required=False),
            name=_text(data, "name", MAX_ID, required=False),
            join_id=join_id,
        )
    raise ProtocolError(
        "'hello' needs one of 'join' (a join code), 'token' (to resume a seat) or 'watch' "
        "(a game id, with a facilitator token)",
        code=ErrorCode.MISSING_FIELD,
    )


def parse_client_message(data: dict[str, Any]) -> ClientMessage:
    """Any message after ``hello``."""
    kind = data.get("type")
    if kind == "submit":
        return Submit(round=_round(data), id=_message_id(data), decision=_decision(data))
    if kind == "ping":
        ping_id = data.get("id")
        return Ping(id=ping_id if isinstance(ping_id, str) and len(ping_id) <= MAX_ID else None)
    if kind == "sync":
        return SyncRequest()
    if kind == "hello":
        raise ProtocolError(
            "already joined: 'hello' is only the first message", code=ErrorCode.BAD_MESSAGE
        )
    raise ProtocolError(
        f"unknown message type {short(kind)}; expected 'submit', 'sync' or 'ping'",
        code=ErrorCode.UNKNOWN_TYPE,
    )


def _round(data: dict[str, Any]) -> int:
    round_no = data.get("round")
    if round_no is None:
        raise ProtocolError(
            "'submit' needs 'round', the round number (1 or more) the decision is for",
            code=ErrorCode.MISSING_FIELD,
        )
    # JSON has one number type: 3.0 is 3, as it is in a decision.
    whole = isinstance(round_no, int) or (isinstance(round_no, float) and round_no.is_integer())
    if isinstance(round_no, bool) or not whole or round_no < 1:
        raise ProtocolError(
            f"'round' must be a whole number, 1 or more, got {short(round_no)}",
            code=ErrorCode.BAD_FIELD,
        )
    return int(round_no)


def _message_id(data: dict[str, Any]) -> str:
    msg_id = data.get("id")
    if msg_id is None:
        raise ProtocolError(
            f"'submit' needs 'id', a client message id of 1 to {MAX_ID} characters",
            code=ErrorCode.MISSING_FIELD,
        )
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= MAX_ID:
        raise ProtocolError(
            f"'id' must be a string of 1 to {MAX_ID} characters, got {short(msg_id)}",
            code=ErrorCode.BAD_FIELD,
        )
    return msg_id


def _decision(data: dict[str, Any]) -> Any:
    if "decision" not in data:
        raise ProtocolError("'submit' needs 'decision'", code=ErrorCode.MISSING_FIELD)
    return data["decision"]


# -- server messages ----------------------------------------------------------------------
# Each is a TypedDict: a plain dict at run time, typed for mypy. orjson encodes a dict faster
# than a dataclass, and building one is cheaper too: on the path of every decision and round,
# measured (a round's message: 1.7 us to encode as a dict, 2.8 us as a dataclass). ``type``
# comes first; fields that do not apply are null (or false), never absent.


class Welcome(TypedDict):
    """A hello succeeded; ``token`` only when a seat was just claimed with a join code."""

    type: str
    v: int
    game_id: str
    role: str | None
    token: str | None
    resumed: bool


class GameInfo(TypedDict):
    """What every message about a game's progress says; sent alone as the ``status``
    message (the facilitator started, paused, resumed, ended or moved the deadline)."""

    type: str
    game_id: str
    kind: str
    status: GameStatus
    round: int
    open_round: int
    announced_rounds: int | None
    deadline: float | None
    paused_remaining: float | None
    submitted: Sequence[str]
    online: Sequence[str]
    bots: Sequence[str]
    roles: Sequence[str]
    server_time: float


class Sync(GameInfo):
    """A player's full picture, on every (re)connection and on request. ``defaulted``: the
    decision the last closed round used for this seat because it had none, or None."""

    role: str
    view: Any
    decision: Any
    decision_id: str | None
    defaulted: Any


class SeatInfo(TypedDict):
    role: str
    claimed: bool
    name: str | None
    bot: Any
    online: bool
    submitted: bool


class FacilitatorSync(GameInfo):
    """A facilitator's full picture: the facilitator view and every seat. ``defaulted``: the
    decision the last closed round used for each seat that had none, by role."""

    role: None
    view: Any
    seats: Sequence[SeatInfo]
    total_rounds: int | None
    defaulted: Mapping[str, Any]


class Round(GameInfo):
    """A round closed: a player's new view, and the decision the round used for this seat
    because it had none (``defaulted``, else None)."""

    role: str
    view: Any
    defaulted: Any


class FacilitatorRound(GameInfo):
    """A round closed: the facilitator's new view, and the decision it used for each seat
    that had none, by role."""

    role: None
    view: Any
    total_rounds: int | None
    defaulted: Mapping[str, Any]


class Progress(TypedDict):
    """Who has submitted and who is online changed."""

    type: str
    round: int
    open_round: int
    submitted: Sequence[str]
    online: Sequence[str]
    bots: Sequence[str]


class Ack(TypedDict):
    """A decision is durable. ``duplicate``: a resend of an id already taken; then
    ``superseded_by`` names the newer id of the same round that replaced it, if one did."""

    type: str
    id: str
    round: int
    decision: Any
    duplicate: bool
    superseded_by: str | None


class Error(TypedDict):
    type: str
    code: str
    message: str
    id: str | None


class Pong(TypedDict):
    type: str
    id: str | None
    time: float


class Announcement(TypedDict):
    """The facilitator's message to everyone in a class (``number`` counts them)."""

    type: str
    text: str
    at: float
    number: int


ServerMessage = (
    Welcome
    | GameInfo
    | Sync
    | FacilitatorSync
    | Round
    | FacilitatorRound
    | Progress
    | Ack
    | Error
    | Pong
    | Announcement
)


def welcome(
    game_id: str, role: str | None, *, token: str | None = None, resumed: bool = False
) -> Welcome:
    return {
        "type": "welcome",
        "v": PROTOCOL_VERSION,
        "game_id": game_id,
        "role": role,
        "token": token,
        "resumed": resumed,
    }


def ack(
    msg_id: str,
    round_no: int,
    decision: Any,
    *,
    duplicate: bool = False,
    superseded_by: str | None = None,
) -> Ack:
    return {
        "type": "ack",
        "id": msg_id,
        "round": round_no,
        "decision": decision,
        "duplicate": duplicate,
        "superseded_by": superseded_by,
    }


def progress(
    round_no: int,
    open_round: int,
    submitted: Sequence[str],
    online: Sequence[str],
    bots: Sequence[str],
) -> Progress:
    return {
        "type": "progress",
        "round": round_no,
        "open_round": open_round,
        "submitted": submitted,
        "online": online,
        "bots": bots,
    }


def error_message(code: str, message: str, ref: str | None = None) -> Error:
    """An ``error``; ``ref`` echoes the id of the client message it answers."""
    return {"type": "error", "code": code, "message": message, "id": ref}


def error(exc: GameServerError, ref: str | None = None) -> Error:
    """The ``error`` message for ``exc``; ``ref`` echoes the id of the message it answers."""
    return error_message(str(exc.code), exc.message, ref)


def pong(ref: str | None, now: float) -> Pong:
    return {"type": "pong", "id": ref, "time": now}


def announcement(text: str, at: float, number: int) -> Announcement:
    return {"type": "announcement", "text": text, "at": at, "number": number}


def encode(message: ServerMessage) -> bytes:
    """Encode a server message once; the bytes are shared by every client that gets it."""
    return orjson.dumps(message)


def javascript_constants() -> str:
    """The protocol's constants as an ES module, served to the pages as ``/protocol.js``."""
    closes = {code.name: int(code) for code in CloseCode}
    errors = {code.name: str(code) for code in ErrorCode}
    statuses = {status.name: str(status) for status in GameStatus}
    in_progress = [str(status) for status in GameStatus if status.in_progress]
    lines = [
        "// Made by the server from gameserver/protocol.py: the pages' copy of the protocol.",
        f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};",
        f"export const CLOSE = Object.freeze({orjson.dumps(closes).decode()});",
        f"export const ERROR = Object.freeze({orjson.dumps(errors).decode()});",
        f"export const STATUS = Object.freeze({orjson.dumps(statuses).decode()});",
        f"export const IN_PROGRESS = Object.freeze({orjson.dumps(in_progress).decode()});",
        "",
    ]
    return "\n".join(lines)
