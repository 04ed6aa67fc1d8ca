"""The WebSocket protocol: client messages parsed into typed values, server messages encoded.

This is the edge: nothing past :func:`parse_client_message` sees raw JSON. Every frame is one
JSON object with a ``type``. ``docs/protocol.md`` describes each message; ``PROTOCOL_VERSION``
is the version it documents. A client says which version it speaks in its ``hello``.

Server messages meant for many clients are encoded once (:func:`encode`) and the same bytes go to
every outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gameserver.errors import ProtocolError, UnsupportedVersion

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

_MAX_ID = 64  # client message ids and names are short strings


class MalformedFrame(Exception):
    """A frame that is not a JSON object: the connection is closed (1007)."""


@dataclass(frozen=True, slots=True)
class Join:
    """Take a seat with a join code (a seat's code, or a game's open code plus a role)."""

    code: str
    role: str | None
    name: str | None


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
    """Decode one frame into a JSON object or raise :class:`MalformedFrame`."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise MalformedFrame(f"frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedFrame(f"a frame must be a JSON object, got {type(data).__name__}")
    return data


def _optional(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ProtocolError(f"{key!r} must be a non-empty string of at most 200 characters")
    return value


def _required(data: dict[str, Any], key: str) -> str:
    value = _optional(data, key)
    if value is None:
        raise ProtocolError(f"{data.get('type')!r} message needs {key!r}", code="missing_field")
    return value


def parse_hello(data: dict[str, Any]) -> Hello:
    """The first message of every connection."""
    if data.get("type") != "hello":
        raise ProtocolError(
            f"the first message must be 'hello', got {data.get('type')!r}", code="hello_expected"
        )
    version = data.get("v", PROTOCOL_VERSION)
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(
            f"protocol version {version!r} is not supported; this server speaks "
            f"{sorted(SUPPORTED_VERSIONS)}"
        )
    name = _optional(data, "name")
    if name is not None and len(name) > _MAX_ID:
        raise ProtocolError(f"'name' must be at most {_MAX_ID} characters")
    if "watch" in data:
        return Watch(game_id=_required(data, "watch"), token=_required(data, "token"))
    if "token" in data:
        return Resume(token=_required(data, "token"))
    if "join" in data:
        code = _required(data, "join").strip().upper()
        return Join(code=code, role=_optional(data, "role"), name=name)
    raise ProtocolError(
        "'hello' needs one of 'join' (a join code), 'token' (to resume a seat) or 'watch' "
        "(a game id, with a facilitator token)",
        code="missing_field",
    )


def parse_client_message(data: dict[str, Any]) -> ClientMessage:
    """Any message after ``hello``."""
    kind = data.get("type")
    if kind == "submit":
        round_no = data.get("round")
        if isinstance(round_no, bool) or not isinstance(round_no, int) or round_no < 1:
            raise ProtocolError(
                "'submit' needs 'round', the round number (1 or more) the decision is for",
                code="missing_field",
            )
        msg_id = data.get("id")
        if not isinstance(msg_id, str) or not 0 < len(msg_id) <= _MAX_ID:
            raise ProtocolError(
                f"'submit' needs 'id', a client message id of 1 to {_MAX_ID} characters",
                code="missing_field",
            )
        if "decision" not in data:
            raise ProtocolError("'submit' needs 'decision'", code="missing_field")
        return Submit(round=round_no, id=msg_id, decision=data["decision"])
    if kind == "ping":
        ping_id = data.get("id")
        return Ping(id=ping_id if isinstance(ping_id, str) and len(ping_id) <= _MAX_ID else None)
    if kind == "sync":
        return SyncRequest()
    if kind == "hello":
        raise ProtocolError("already joined: 'hello' is only the first message", code="bad_message")
    raise ProtocolError(
        f"unknown message type {kind!r}; expected 'submit', 'sync' or 'ping'",
        code="unknown_type",
    )


def encode(message: dict[str, Any]) -> bytes:
    """Encode a server message once; the bytes are shared by every client that gets it."""
    return orjson.dumps(message)


def error_message(code: str, message: str, ref: str | None = None) -> bytes:
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        out["id"] = ref
    return encode(out)
