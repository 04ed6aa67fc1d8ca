"""Test support: a real ``gameserver serve`` process and a small real WebSocket client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from gameserver.games import get_game
from gameserver.replay import replay_game
from gameserver.tools.localserver import free_port

ADMIN_KEY = "test-admin-key"
ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """``python -m gameserver serve`` on 127.0.0.1, a free port and a data folder."""

    def __init__(
        self, data: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None
    ):
        self.data = data
        self.port = free_port()
        self.extra_env = env or {}
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data / "server.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 20.0) -> float:
        """Start and wait for /health; returns seconds from spawn to healthy."""
        self.data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "GAMESERVER_ADMIN_KEY": ADMIN_KEY,
                "GAMESERVER_LOG_LEVEL": "info",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        cmd = [sys.executable, "-m", "gameserver", "serve", "--port", str(self.port)]
        cmd += ["--data", str(self.data), *self.args]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"server did not become healthy in {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """The end of a test: a graceful stop (so that the coverage of the server process is
        saved), a SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.terminate(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> float:
        self.kill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def http(self, token: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


class WSClient:
    """A real WebSocket client that keeps every message it receives, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, hello: dict[str, Any] | None = None) -> WSClient:
        ws = await connect(url, max_size=2**20, open_timeout=10)
        client = cls(ws)
        if hello is not None:
            await client.send(hello)
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        if self._unread:
            return self._unread.pop(0)
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = orjson.loads(raw)
        self.received.append(message)
        return message

    async def expect(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next message of type ``kind`` (matching ``match``), skipping others."""
        deadline = time.monotonic() + timeout
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no {kind!r} {match} within {timeout} s; got {skipped[-5:]}"
                    )
                message = await self.recv(remaining)
                if message.get("type") == kind and all(
                    message.get(k) == v for k, v in match.items()
                ):
                    return message
                skipped.append(message)
        finally:
            kept = [m for m in skipped if m.get("type") in ("ack", "error", "round", "welcome")]
            self._unread = kept + self._unread

    async def closed_with(self, timeout: float = 10.0) -> int | None:
        """Wait until the server closes the connection; its close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except Exception:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


def replay_summaries(export: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-round summaries of an uninterrupted offline game with the export's decisions."""
    game = get_game(export["kind"])
    decisions = (record["decisions"] for record in export["rounds"])
    states = replay_game(game, export["settings"], export["seed"], decisions)
    return [game.round_summary(state) for state in states[1:]]


async def join(
    url: str, code: str, **extra: Any
) -> tuple[WSClient, dict[str, Any], dict[str, Any]]:
    """Join a seat: the client, the welcome and the first sync."""
    client = await WSClient.open(url, {"type": "hello", "v": 1, "join": code, **extra})
    welcome = await client.expect("welcome")
    sync = await client.expect("sync")
    return client, welcome, sync


async def resume(url: str, token: str) -> tuple[WSClient, dict[str, Any]]:
    client = await WSClient.open(url, {"type": "hello", "v": 1, "token": token})
    await client.expect("welcome")
    return client, await client.expect("sync")
