"""The messages from a client: the ``hello`` that opens a connection and those that follow it,
each a frozen dataclass made from a decoded frame by :func:`parse_hello` or
:func:`parse_client_message`.
"""

from __future__ import annotations

from typing import Any

from gameserver.errors import ErrorCode, ProtocolError, UnsupportedVersion, short
from gameserver.frozen import frozen
from gameserver.protocol.constants import MAX_ID, MIN_JOIN_ID, PROTOCOL_VERSION, SUPPORTED_VERSIONS


@frozen
class Join:
    """Take a seat with a join code (a seat's code, or a game's open code plus a role).

    ``join_id`` is the client's own id for this join: the same join sent again with it (its
    ``welcome`` was lost) gets the seat it claimed back, with a new token."""

    code: str
    role: str | None
    name: str | None
    join_id: str | None = None
    #: Each round's view comes as an update of the last one (docs/protocol.md).
    view_updates: bool = False


@frozen
class Resume:
    """Come back to a seat with the token received on joining."""

    token: str
    view_updates: bool = False


@frozen
class Watch:
    """Follow a game with the facilitator view (facilitator token or admin key)."""

    game_id: str
    token: str


Hello = Join | Resume | Watch


@frozen
class Submit:
    """A decision for ``round``; ``id`` is the client's own message id."""

    round: int
    id: str
    decision: Any


@frozen
class Ping:
    id: str | None


@frozen
class SyncRequest:
    pass


ClientMessage = Submit | Ping | SyncRequest


def _flag(data: dict[str, Any], key: str) -> bool:
    """A true/false field: absent or null -> False, anything but a boolean -> bad_field."""
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ProtocolError(
            f"{key!r} must be true or false, got {short(value)}", code=ErrorCode.BAD_FIELD
        )
    return value


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
        token = _text(data, "token", 200, required=True) or ""
        return Resume(token=token, view_updates=_flag(data, "view_updates"))
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
            view_updates=_flag(data, "view_updates"),
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
        # The usual submit first, checked in place (three calls fewer on every decision); the
        # helpers say what is wrong with any other. Positional: keywords make the call build a
        # dict (2.5 times the cost of making it).
        round_no, msg_id = data.get("round"), data.get("id")
        if (
            type(round_no) is int  # not a bool, nor a float
            and round_no >= 1
            and type(msg_id) is str
            and 0 < len(msg_id) <= MAX_ID
            and "decision" in data
        ):
            return Submit(round_no, msg_id, data["decision"])
        return Submit(_round(data), _message_id(data), _decision(data))
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
