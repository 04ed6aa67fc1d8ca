"""Every error the server raises on purpose, and how each reaches a client.

The tree::

    GameServerError                  base; ``code`` (a stable string), ``http_status``
    ├── InvalidSettings              a game setting is missing, of the wrong type or out of range
    ├── InvalidDecision              a decision the game refuses (``order must be ...``)
    ├── ProtocolError                a WebSocket message that parses but makes no sense here
    │   └── UnsupportedVersion       the client speaks a protocol version we do not
    ├── NotAuthorized                a missing or wrong admin key, facilitator token or seat token
    ├── NotFound                     no such game, session, seat or join code
    ├── Conflict                     the request is valid but not now (game over, seat taken,
    │                                wrong round, game not running)
    └── StorageFailure               the storage adapter failed; the action was not done

Game rules raise only ``InvalidSettings`` and ``InvalidDecision`` (both are ``ValueError``s, so
pure game code can be used and tested without the server). The hub turns every error into an
``{"type": "error", "code": ..., "message": ...}`` WebSocket message, and the HTTP layer into a
JSON body with ``http_status``. ``CloseCode`` names the codes with which the server closes a
WebSocket itself.
"""

from __future__ import annotations

from enum import IntEnum


class GameServerError(Exception):
    """Base of every deliberate error; ``str(error)`` is the human message."""

    code = "error"
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

    code = "invalid_settings"
    http_status = 422


class InvalidDecision(GameServerError, ValueError):
    """A decision is refused by the game's rules; the message says what is allowed."""

    code = "invalid_decision"
    http_status = 422


class ProtocolError(GameServerError):
    """A message that parses but breaks the protocol (unknown type, missing field)."""

    code = "bad_message"
    http_status = 400


class UnsupportedVersion(ProtocolError):
    code = "unsupported_version"


class NotAuthorized(GameServerError):
    code = "not_authorized"
    http_status = 401


class NotFound(GameServerError):
    code = "not_found"
    http_status = 404


class Conflict(GameServerError):
    code = "conflict"
    http_status = 409


class StorageFailure(GameServerError):
    code = "storage_failure"
    http_status = 503


class CloseCode(IntEnum):
    """WebSocket close codes the server sends."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MALFORMED = 1007  # a frame that is not a JSON object / not UTF-8
    POLICY = 1008  # not authorised, or a seat taken over by a newer connection
    TOO_BIG = 1009  # a message above the size limit
    SERVER_ERROR = 1011
    RESTARTING = 1012  # server shutting down or restarting: reconnect and resume
    TOO_SLOW = 4000  # the client fell behind and its outbox overflowed: reconnect to resync
    FLOOD = 4001  # more messages than the rate limit allows
    SUPERSEDED = 4002  # the same seat connected again elsewhere
    SEAT_RESET = 4003  # the facilitator reset the seat: its token no longer opens it
    GAME_DELETED = 4004  # the game was deleted
