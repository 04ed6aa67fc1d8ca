"""A real ``gameserver serve`` process on 127.0.0.1, owned by a script (chaos, bench)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gameserver.client.api import Api
from gameserver.errors import GameServerError

#: The checkout this module is in (gameserver/tools/ -> the repository), put on the server's
#: PYTHONPATH so that ``python -m gameserver`` runs this code even where it is not installed.
ROOT = Path(__file__).resolve().parents[2]


class ServerError(Exception):
    """The server could not be started (or died while starting)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LocalServer:
    """``python -m gameserver serve`` on 127.0.0.1, owned by this process."""

    def __init__(
        self,
        data: Path,
        admin_key: str,
        port: int | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.data = data
        self.args = list(args)
        self.admin_key = admin_key
        self.port = port or free_port()
        self.log_path = data / "server.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 30.0) -> float:
        """Start and wait until ``/health`` answers; seconds from spawn to healthy."""
        self.data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.pop("GAMESERVER_ADMIN_KEY", None)
        cmd = [sys.executable, "-m", "gameserver", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data", str(self.data), f"--admin-key={self.admin_key}"]
        cmd += self.args
        started = time.monotonic()
        log = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env
            )
        finally:
            os.close(log)  # the child has its own copy
        probe = Api(self.url, timeout=1.0)
        while time.monotonic() - started < within:
            if self.proc.returncode is not None:
                raise ServerError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                await probe.health()
                return time.monotonic() - started
            except GameServerError:
                await asyncio.sleep(0.02)
        raise ServerError(f"server not healthy within {within:g} s:\n{self.tail()}")

    async def kill(self) -> None:
        """SIGKILL: nothing of the server's shutdown runs, as in a crash."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self, grace: float = 15.0) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            await self.kill()

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
