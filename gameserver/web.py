"""HTTP helpers shared by the API modules: JSON responses, and who may do what.

Credentials come as ``Authorization: Bearer <key or token>``: the admin key may do everything; a
game's facilitator token, or its session's, controls that game only.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from gameserver import tokens
from gameserver.errors import NotAuthorized
from gameserver.hub import Hub


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


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
        raise NotAuthorized("this needs the server's admin key", code="not_admin")


def may_control(request: Request, data: dict[str, Any]) -> None:
    credential = bearer(request)
    if is_admin(request, credential):
        return
    if tokens.matches(credential, data.get("facilitator_hash")):
        return
    if tokens.matches(credential, data.get("session_hash")):
        return
    raise NotAuthorized("this token does not control that game", code="bad_token")
