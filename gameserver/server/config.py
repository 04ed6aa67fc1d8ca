"""Server settings, from flags and ``GAMESERVER_*`` environment variables.

Every setting has a default that runs the embedded configuration: SQLite in ``./data``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "GAMESERVER_"


@dataclass
class Config:
    """Everything the app factory needs. Field names map to ``GAMESERVER_<NAME>`` variables."""

    host: str = "127.0.0.1"
    port: int = 8000
    data: Path = field(default_factory=lambda: Path("data"))
    #: Storage URL; empty means ``sqlite:///<data>/games.db``.
    storage: str = ""
    #: Record compression: ``zstd``, ``zlib`` or ``none``.
    compression: str = "zstd"
    #: SQLite ``synchronous``: FULL (default, survives power loss), NORMAL or OFF.
    synchronous: str = "FULL"
    #: Admin key; empty means read ``<data>/admin.key`` or generate it on first start.
    admin_key: str = ""
    #: Seconds without any action after which a game leaves memory (every step is already saved).
    idle_timeout: float = 1800.0
    #: How often the eviction sweep runs.
    sweep_interval: float = 30.0
    #: Seconds added to a round deadline that passed while the server was down.
    deadline_grace: float = 30.0
    #: Largest accepted WebSocket message, in bytes.
    max_message_bytes: int = 16 * 1024
    #: Sustained messages per second per connection, and the burst allowed above it.
    rate_limit: float = 20.0
    rate_burst: int = 40
    #: Messages queued for one connection before it is dropped as too slow.
    outbox_limit: int = 256
    #: Seconds a WebSocket may stay quiet before it is pinged; twice that and it is closed (1011).
    ping_interval: float = 20.0
    #: Seconds a new connection has to send its ``hello``.
    hello_timeout: float = 10.0
    #: Seconds an HTTP request has to arrive whole (head and body), from the connection's
    #: opening or the request's first byte; then 408 and closed (closed alone if nothing
    #: came). 10 s, as for the hello: a phone on a poor link sends a request head (under 1 KB)
    #: and an API body (at most 64 KB) in far less, while a client that holds sockets open by
    #: sending slowly (slowloris) or not at all must keep opening new ones.
    request_timeout: float = 10.0
    #: Public base URL for join links; empty means the URL the request came in on.
    public_url: str = ""
    log_level: str = "info"
    #: Per-message deflate costs more than it saves on these small messages; off by default.
    ws_deflate: bool = False
    #: This server's name among servers sharing a database (logs, /health, the lease table);
    #: empty means ``<host name>:<port>``.
    node_name: str = ""
    #: Seconds a game's lease lasts without renewal, when servers share a PostgreSQL database:
    #: a server that dies has its games taken over by the others within about this long. 0
    #: turns leases off (one server on the database). SQLite serves one server and has none.
    lease_seconds: float = 5.0

    def node(self) -> str:
        return self.node_name or f"{socket.gethostname()}:{self.port}"

    def storage_url(self) -> str:
        if self.storage:
            return self.storage
        return f"sqlite:///{self.data.resolve() / 'games.db'}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then environment variables, then ``overrides`` (flags) that are not None."""
        env = os.environ if environ is None else environ
        config = cls()
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                setattr(config, f.name, _convert(f.name, getattr(config, f.name), raw))
        for name, value in overrides.items():
            if value is not None:
                setattr(config, name, _convert(name, getattr(config, name), value))
        return config


def _convert(name: str, current: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        if isinstance(current, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, Path):
            return Path(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_PREFIX}{name.upper()}: expected {type(current).__name__}, got {raw!r}"
        ) from None
    return raw
