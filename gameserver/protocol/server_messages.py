"""The messages to a client, each a TypedDict and the function that builds it, and the one
encoding of a message (:func:`encode`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import orjson

from gameserver.errors import GameServerError
from gameserver.protocol.constants import PROTOCOL_VERSION, GameStatus

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


class RoundUpdate(GameInfo):
    """A round closed, for a player that takes updates (``view_updates`` in its hello): how
    its view changed (``view_update``, see :func:`gameserver.game.apply_view_update`), and
    ``defaulted`` as in :class:`Round`."""

    role: str
    view_update: Any
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
    | RoundUpdate
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


#: Encode a server message once; the bytes are shared by every client that gets it. orjson's
#: own function, not one that calls it: two messages a decision go through it.
encode: Callable[[ServerMessage], bytes] = orjson.dumps


class SharedPart:
    """A part that several messages hold (the same object), encoded once for them all: put
    :meth:`of` it in each message in its place, and :func:`encode` copies its JSON in. Keeps
    the last part it encoded."""

    __slots__ = ("_json", "_part")

    def __init__(self) -> None:
        self._part: object = None
        self._json = orjson.Fragment(b"null")

    def of(self, part: Any) -> Any:
        """``part`` as JSON to put in a message: encoded now, or taken from the last call if
        that was for this same object (which must not have changed since)."""
        if part is not self._part:
            self._json, self._part = orjson.Fragment(orjson.dumps(part)), part
        return self._json
