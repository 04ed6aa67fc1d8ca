"""HTTP helpers of the API: JSON in and out, typed fields, and who may do what.

Credentials come as ``Authorization: Bearer <key or token>``: the admin key may do everything;
a game's facilitator token, or its class's (session's), controls that game only. Credentials
are checked before anything is read from storage wherever the request allows it.
"""

from __future__ import annotations

import hmac
import math
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from gameserver.errors import ErrorCode, InvalidSettings, NotAuthorized, ProtocolError, short
from gameserver.protocol import check_json, game_of_token, loads_json
from gameserver.server import tokens
from gameserver.server.classes import Classes
from gameserver.server.hub import Hub
from gameserver.server.records import GameRecord
from gameserver.server.room import Room

#: Largest request body the API reads.
MAX_BODY = 64 * 1024


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def classes_of(request: Request) -> Classes:
    classes: Classes = request.app.state.classes
    return classes


def base_url(request: Request) -> str:
    """The server's address as links show it: ``--public-url`` if set, else the request's."""
    configured = hub_of(request).config.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


async def json_body(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """The request's JSON object body (``{}`` when empty), refused with a named 4xx when too
    big (``limit`` bytes), not JSON, not an object, nested too deep, or holding numbers a
    browser cannot hold."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProtocolError(
                    f"request body larger than {limit} bytes", code=ErrorCode.TOO_BIG
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise ProtocolError("the client left before the body was complete") from None
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = loads_json(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(
            f"request body is not valid JSON: {exc}", code=ErrorCode.BAD_JSON
        ) from exc
    if not isinstance(data, dict):
        raise ProtocolError("request body must be a JSON object", code=ErrorCode.BAD_JSON)
    check_json(data)
    return data


_KIND_NAMES = {str: "a string", bool: "true or false", int: "a whole number", float: "a number"}


def field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None
) -> Any:
    """``data[name]`` if it is of ``kind`` (``default`` when absent or null); otherwise
    :class:`InvalidSettings` naming the field and what it takes. A bool is never a number,
    a whole float is an int, and numbers must be finite."""
    value = data.get(name)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wanted = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
    ok = not (isinstance(value, bool) and bool not in kinds) and isinstance(value, kinds)
    if not ok and int in kinds and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if ok and isinstance(value, float) and not math.isfinite(value):
        ok = False
    if not ok:
        raise InvalidSettings(f"{name!r} must be {wanted}, got {short(value)}")
    return value


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthorized("send 'Authorization: Bearer <admin key or facilitator token>'")
    return value.strip()


def is_admin(request: Request, credential: str) -> bool:
    return hmac.compare_digest(credential.encode(), hub_of(request).admin_key.encode())


def require_admin(request: Request) -> None:
    if not is_admin(request, bearer(request)):
        raise NotAuthorized("this needs the server's admin key", code=ErrorCode.NOT_ADMIN)


def claims(request: Request, owner: str, *, classes: bool = False, what: str = "game") -> str:
    """The credential, checked as far as it can be before anything is read from storage: the
    admin key, or a token of ``owner`` (a game or a class), or with ``classes`` any class's
    token (a game's class is only known once the game is read: :func:`may_control` then
    checks it). Anything else is refused at once."""
    credential = bearer(request)
    if is_admin(request, credential):
        return credential
    token_owner = game_of_token(credential)
    if token_owner == owner or (classes and token_owner.startswith(tokens.SESSION_PREFIX)):
        return credential
    raise NotAuthorized(f"this token does not control that {what}", code=ErrorCode.BAD_TOKEN)


def may_control(request: Request, record: GameRecord, credential: str) -> None:
    """The credential (from :func:`claims`) controls this game."""
    if is_admin(request, credential):
        return
    if tokens.matches(credential, record.facilitator_hash):
        return
    if tokens.matches(credential, record.session_hash):
        return
    raise NotAuthorized("this token does not control that game", code=ErrorCode.BAD_TOKEN)


async def read_controlled(request: Request) -> tuple[GameRecord, Room | None]:
    """The game named in the path, once the credential is known to control it; read from
    memory or storage, never brought back into memory."""
    game_id = request.path_params["game_id"]
    credential = claims(request, game_id, classes=True)
    record, room = await hub_of(request).read(game_id)
    may_control(request, record, credential)
    return record, room
