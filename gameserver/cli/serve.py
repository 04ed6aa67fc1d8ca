"""``gameserver serve``: run the server with uvicorn on the embedded default (SQLite in ./data)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from typing import Any, cast

from gameserver.server.config import Config


def add_serve(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the server",
        description="Run the game server. Every flag is also a GAMESERVER_<NAME> variable.",
    )
    p.add_argument("--host", help="address to bind (GAMESERVER_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (GAMESERVER_PORT, default 8000)")
    p.add_argument("--data", help="data folder (GAMESERVER_DATA, default ./data)")
    p.add_argument(
        "--storage",
        help="storage URL: sqlite:///path.db, postgresql://..., memory://, file:///dir"
        " (GAMESERVER_STORAGE)",
    )
    p.add_argument("--admin-key", help="admin key (GAMESERVER_ADMIN_KEY; default: generated)")
    p.add_argument("--idle-timeout", type=float, help="seconds before an idle game leaves memory")
    p.add_argument("--synchronous", choices=["FULL", "NORMAL", "OFF"], help="SQLite synchronous")
    p.add_argument("--compression", choices=["zstd", "zlib", "none"], help="record compression")
    p.add_argument("--public-url", help="base URL used in join links")
    p.add_argument(
        "--request-timeout",
        type=float,
        help="seconds an HTTP request has to arrive whole (GAMESERVER_REQUEST_TIMEOUT, default 10)",
    )
    p.add_argument(
        "--node-name",
        help="this server's name among servers sharing a database (GAMESERVER_NODE_NAME,"
        " default <host name>:<port>)",
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        help="seconds a game's lease lasts when servers share a PostgreSQL database; 0 for one"
        " server (GAMESERVER_LEASE_SECONDS, default 5)",
    )
    p.add_argument(
        "--models",
        help="a folder of model games read at start, besides <data>/models (GAMESERVER_MODELS;"
        " docs/models.md); compiling a model runs code made from it: only trusted models",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        config = Config.from_env(
            host=args.host,
            port=args.port,
            data=args.data,
            storage=args.storage,
            admin_key=args.admin_key,
            idle_timeout=args.idle_timeout,
            synchronous=args.synchronous,
            compression=args.compression,
            public_url=args.public_url,
            request_timeout=args.request_timeout,
            node_name=args.node_name,
            lease_seconds=args.lease_seconds,
            log_level=args.log_level,
            models=args.models,
        )
    except ValueError as exc:
        print(f"gameserver serve: {exc}", file=sys.stderr)
        return 2
    if not config.request_timeout > 0:
        print("gameserver serve: --request-timeout must be more than 0 seconds", file=sys.stderr)
        return 2
    if config.lease_seconds != 0 and not 0.5 <= config.lease_seconds <= 3600:
        print(
            "gameserver serve: --lease-seconds must be 0 (one server) or from 0.5 to 3600",
            file=sys.stderr,
        )
        return 2
    return serve(config)


def tune_gc() -> None:
    """Collect cyclic garbage less often.

    Game states are thousands of small acyclic dicts and lists per game; with the default
    thresholds the collector walks all of them again and again (measured: a third of the
    event loop with 1,000 games in play, 2,865 -> 4,495 decisions/s when raised). The
    collector stays on for the few cycles asyncio makes.
    """
    gc.set_threshold(100_000, 50, 1000)


def skip_log_record_extras() -> None:
    """Log records leave out what the server's log lines do not show: where the call was made
    (a walk up the stack for every record), and the thread, process and process name (the
    "Optimization" table of the logging HOWTO). A line is logged for every seat claimed: this
    is 26k fewer instructions a join, 2% (callgrind, 400 joins)."""
    logging._srcfile = None  # the HOWTO's way of turning off findCaller()
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def serve(config: Config) -> int:
    import uvicorn

    from gameserver.server.app import create_app
    from gameserver.server.transport import http_protocol
    from gameserver.server.websocket import Upgrades

    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    skip_log_record_extras()
    try:
        app = create_app(config)
    except (OSError, ValueError) as exc:
        print(f"gameserver serve: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    print(f"gameserver listening on http://{config.host}:{config.port}", flush=True)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        # uvloop where it is installed (a dependency where it builds), else asyncio's loop.
        # 750 games x 36 weeks, four pairs: server CPU 10.79/10.54/10.60/11.08 s on asyncio's
        # loop, 10.28/10.11/9.95/10.64 s on uvloop; no more memory per game. (Measured when
        # the server's own costs were higher, it had made no difference.)
        loop="auto",
        # h11, always (not httptools when it is installed): the request deadline and the
        # JSON refusals are built on it.
        http=http_protocol(config.request_timeout),
        # Upgrades go to our own WebSocket connections, not through ASGI (server/websocket.py);
        # uvicorn only ever calls its ``ws`` to make a protocol, so a factory object will do.
        ws=cast("type[asyncio.Protocol]", Upgrades(app.state.hub)),
        timeout_graceful_shutdown=10,
        access_log=False,
    )
    return 0
