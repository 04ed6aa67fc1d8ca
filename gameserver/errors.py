"""Every error the server raises on purpose, its code, and how it reaches a client.

The tree::

    GameServerError                  base; ``code`` (an :class:`ErrorCode`), ``http_status``
    ├── InvalidSettings              a game setting, option or policy parameter is refused
    │   ├── InvalidModel             a model file or game description is refused (names the
    │   │                            file, and the variable, line or field)
    │   └── ModelsUnavailable        a model game was asked for without the models extra
    ├── InvalidDecision              a decision the game refuses (``order must be ...``)
    ├── ProtocolError                a message or request body that parses but makes no sense
    │   └── UnsupportedVersion       the client speaks a protocol version we do not
    ├── NotAuthorized                a missing or wrong admin key, facilitator token or seat token
    ├── NotFound                     no such game, session, seat, role or join code
    ├── Conflict                     the request is valid but not now (game over, seat taken,
    │                                wrong round, game not running)
    ├── Unavailable                  the game is being moved between servers; try again soon
    └── StorageFailure               the storage adapter failed; the action was not done

Game rules raise only ``InvalidSettings`` and ``InvalidDecision`` (both ``ValueError``s, so pure
game code can be used and tested without the server).

This module is the one place that says how an error reaches a client: over HTTP, a JSON body
``{"error": {"code", "message"}}`` with the class's ``http_status``; over the WebSocket, an
``error`` message with the same code (:func:`gameserver.protocol.error`), and for the codes in
:data:`CLOSES_WITH` the connection is then closed with that :class:`CloseCode`. The codes and
close codes are the protocol's vocabulary: :mod:`gameserver.protocol` exports them to clients.
"""

from __future__ import annotations

import reprlib
from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """The ``code`` of every error a client can get (docs/protocol.md and docs/api.md)."""

    # joining (WebSocket hello)
    HELLO_EXPECTED = "hello_expected"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_TOKEN = "bad_token"
    NO_SUCH_ROLE = "no_such_role"
    SEAT_TAKEN = "seat_taken"
    WRONG_ROLE = "wrong_role"
    GAME_FULL = "game_full"
    # any message or request
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    TOO_DEEP = "too_deep"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    STORAGE_FAILURE = "storage_failure"
    ROUND_NOT_PLAYED = "round_not_played"
    UNAVAILABLE = "unavailable"
    # deciding
    INVALID_DECISION = "invalid_decision"
    NOT_STARTED = "not_started"
    PAUSED = "paused"
    GAME_OVER = "game_over"
    WRONG_ROUND = "wrong_round"
    ROUND_CLOSED = "round_closed"
    # the server ends the connection (followed by a close)
    SUPERSEDED = "superseded"
    SEAT_RESET = "seat_reset"
    CLOSING = "closing"
    # HTTP only
    INVALID_SETTINGS = "invalid_settings"
    NOT_AUTHORIZED = "not_authorized"
    NOT_ADMIN = "not_admin"
    BAD_JSON = "bad_json"
    TOO_BIG = "too_big"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    NAME_TAKEN = "name_taken"  # a class's lobby: that name is in the class already


class CloseCode(IntEnum):
    """WebSocket close codes the server sends (docs/protocol.md, "Close codes")."""

    NORMAL = 1000
    GOING_AWAY = 1001
    # A frame that breaks RFC 6455 (unmasked, a reserved opcode, a continuation out of place,
    # a bad close frame): closed by the WebSocket library, before the game sees it.
    PROTOCOL_ERROR = 1002
    MALFORMED = 1007  # a frame that is not a JSON object, or not UTF-8
    POLICY = 1008  # no valid hello in time
    TOO_BIG = 1009  # a message above the size limit
    SERVER_ERROR = 1011  # no answer to the server's keepalive ping in time, or a server fault
    RESTARTING = 1012  # server shutting down or restarting: reconnect and resume
    TOO_SLOW = 4000  # the client fell behind and its outbox overflowed: reconnect to resync
    FLOOD = 4001  # more messages than the rate limit allows
    SUPERSEDED = 4002  # the same seat connected again elsewhere
    SEAT_RESET = 4003  # the facilitator reset the seat: its token no longer opens it
    GAME_DELETED = 4004  # the game was deleted


#: Error codes that end the connection, and the close code that follows the ``error`` message.
CLOSES_WITH: dict[ErrorCode, CloseCode] = {
    ErrorCode.SUPERSEDED: CloseCode.SUPERSEDED,
    ErrorCode.SEAT_RESET: CloseCode.SEAT_RESET,
    # A game moving between servers: reconnect (through the proxy) and resume.
    ErrorCode.UNAVAILABLE: CloseCode.RESTARTING,
}


class GameServerError(Exception):
    """Base of every deliberate error; ``str(error)`` is the human message."""

    #: An :class:`ErrorCode` for the server's own errors; any string a server sent, for the
    #: errors the client library raises from a server's answer.
    code: str = ErrorCode.BAD_MESSAGE
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class InvalidSettings(GameServerError, ValueError):
    """A game setting is refused; the message names the setting and what it allows."""

    code = ErrorCode.INVALID_SETTINGS
    http_status = 422


class InvalidModel(InvalidSettings):
    """A model file or a model game's description is refused; the message names the file and
    the variable, line or field that is wrong."""


class ModelsUnavailable(InvalidSettings):
    """A model game needs the ``models`` extra (PySD), which is not installed; the message
    says how to add it."""


class InvalidDecision(GameServerError, ValueError):
    """A decision is refused by the game's rules; the message says what is allowed."""

    code = ErrorCode.INVALID_DECISION
    http_status = 422


class ProtocolError(GameServerError):
    """A message that parses but breaks the protocol (unknown type, missing or bad field)."""

    code = ErrorCode.BAD_MESSAGE
    http_status = 400


class UnsupportedVersion(ProtocolError):
    code = ErrorCode.UNSUPPORTED_VERSION


class NotAuthorized(GameServerError):
    code = ErrorCode.NOT_AUTHORIZED
    http_status = 401


class NotFound(GameServerError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(GameServerError):
    code = ErrorCode.CONFLICT
    http_status = 409


class Unavailable(GameServerError):
    """The game is held by another server that has not handed it over yet (several servers
    share a database): try again in a few seconds."""

    code = ErrorCode.UNAVAILABLE
    http_status = 503


class StorageFailure(GameServerError):
    code = ErrorCode.STORAGE_FAILURE
    http_status = 503


def short(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters, safe for any input (a list nested a
    thousand deep, a huge string or number), so that an error message never fails or floods."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# reprlib stops at a depth and a length of its own, where repr() would recurse or run long.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 3, 30, 30, 30
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 4
