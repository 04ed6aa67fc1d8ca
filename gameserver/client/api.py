"""The facilitator API (docs/api.md) as a Python client: :class:`Api`, and :class:`ApiError`,
the one exception it raises.

::

    async with Api("http://127.0.0.1:8000", admin_key) as api:
        created = await api.create_game(kind="beer", seed=1, autostart=True)
        detail = await api.game(created["game_id"], created["facilitator_token"])

Each call runs the standard library's HTTP client in a worker thread, so the client package
needs no HTTP dependency. A refusal by the server and a server that cannot be reached both
become an :class:`ApiError`, translated here at the boundary: callers never see
``urllib``'s exceptions.
"""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson

from gameserver.errors import GameServerError

__all__ = ["Api", "ApiError"]


class ApiError(GameServerError):
    """A call the server refused, or a server that could not be reached.

    ``code`` is the server's error code (docs/api.md), ``"http"`` when an error response had
    none, or ``"unreachable"``; ``status`` is the HTTP status, 0 when no response came. A
    :class:`GameServerError`, so a command line reports it as one line like any other.
    """

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status


class Api:
    """The facilitator API over the standard library's HTTP client, one call per worker thread.

    ``credential`` (the admin key or a facilitator token) is sent with every call unless the
    call names its own ``token``.
    """

    def __init__(self, url: str, credential: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        # No proxy from the environment: the server is usually 127.0.0.1, which a proxy breaks.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        """One call; the decoded JSON answer (``{}`` for an empty one)."""
        raw = await asyncio.to_thread(self._fetch, method, path, body, token)
        return orjson.loads(raw) if raw else {}

    async def request_text(self, method: str, path: str) -> str:
        """A response that is not JSON (``/metrics``, CSV exports), as text."""
        raw = await asyncio.to_thread(self._fetch, method, path, None, None)
        return raw.decode()

    def _fetch(
        self, method: str, path: str, body: Mapping[str, Any] | None, token: str | None
    ) -> bytes:
        credential = token or self.credential
        headers = {"Content-Type": "application/json"}
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        content = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=content, headers=headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            error = _loads(raw).get("error")
            error = error if isinstance(error, dict) else {}
            message = error.get("message") or raw[:200].decode(errors="replace") or exc.reason
            raise ApiError(
                f"{method} {path}: {exc.code} {message}",
                code=str(error.get("code") or "http"),
                status=exc.code,
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ApiError(
                f"cannot reach the server at {self.url}: {reason}", code="unreachable", status=0
            ) from exc
        data: bytes = raw
        return data

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", "/health")
        return data

    async def create_game(self, **body: Any) -> dict[str, Any]:
        """``POST /api/games``: the game with its join codes and facilitator token."""
        data: dict[str, Any] = await self.request("POST", "/api/games", body)
        return data

    async def game(self, game_id: str, token: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", f"/api/games/{game_id}", token=token)
        return data

    async def export(self, game_id: str, token: str | None = None) -> dict[str, Any]:
        """The game's whole record: settings, seed, every round's decisions and figures."""
        path = f"/api/games/{game_id}/export.json"
        data: dict[str, Any] = await self.request("GET", path, token=token)
        return data


def _loads(raw: bytes) -> dict[str, Any]:
    """An error response's JSON object, or ``{}`` for anything else (an HTML error page)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
