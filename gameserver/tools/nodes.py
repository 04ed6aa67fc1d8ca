"""One server, or several nodes on one PostgreSQL database behind HAProxy, owned by a script.

``Servers(count=1)`` is a single ``gameserver serve`` on its own SQLite (or the storage URL
given). ``Servers(count=3, storage="postgresql://...")`` starts three nodes sharing that database
and the proxy of docs/deploy.md (:mod:`gameserver.tools.proxy`) in front of them: :attr:`url` is
the one address players, facilitators and bots use. Chaos and the benchmark kill and restart
nodes through it; :meth:`owned` asks a node which games it holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from gameserver.client.api import Api, ApiError
from gameserver.tools.localserver import LocalServer, ServerError
from gameserver.tools.proxy import Proxy

_OWNED = re.compile(r'^gameserver_game_owned\{game="([^"]+)"\} \d+$', re.MULTILINE)


class Servers:
    """``count`` server processes (nodes) and, for more than one, the proxy in front."""

    def __init__(
        self,
        folder: Path,
        admin_key: str,
        *,
        count: int = 1,
        storage: str | None = None,
        lease_seconds: float = 2.0,
    ) -> None:
        if count < 1:
            raise ServerError("there must be at least one server")
        if count > 1 and not (storage or "").startswith("postgresql://"):
            raise ServerError(
                "several nodes share a PostgreSQL database: give its postgresql:// URL"
            )
        self.admin_key = admin_key
        self.nodes: list[LocalServer] = []
        for n in range(count):
            args = []
            if count > 1:
                # PostgreSQL shows which node a connection (a write) is from: pg_stat_activity.
                assert storage is not None
                joiner = "&" if urlsplit(storage).query else "?"
                args += ["--storage", f"{storage}{joiner}application_name=gameserver-n{n + 1}"]
                args += ["--node-name", f"n{n + 1}", "--lease-seconds", f"{lease_seconds:g}"]
            elif storage:
                args += ["--storage", storage]
            self.nodes.append(LocalServer(folder / f"n{n + 1}", admin_key, args=args))
        self.proxy = Proxy(folder / "haproxy", [n.port for n in self.nodes]) if count > 1 else None

    @property
    def url(self) -> str:
        return self.proxy.url if self.proxy is not None else self.nodes[0].url

    async def start(self) -> None:
        for node in self.nodes:
            await node.start()
        if self.proxy is not None:
            await self.proxy.start()

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
        for node in self.nodes:
            await node.stop()

    async def owned(self, index: int) -> set[str]:
        """The games node ``index`` holds, from its /metrics (empty if it does not answer)."""
        try:
            text = await Api(self.nodes[index].url, self.admin_key, timeout=5).request_text(
                "GET", "/metrics"
            )
        except ApiError:
            return set()
        return set(_OWNED.findall(text))

    def tail(self, lines: int = 15) -> str:
        parts = [
            f"-- node {n + 1} ({node.log_path}):\n{node.tail(lines)}"
            for n, node in enumerate(self.nodes)
        ]
        if self.proxy is not None:
            parts.append(f"-- haproxy:\n{self.proxy.tail(lines)}")
        return "\n".join(parts)
