"""Test support: a real ``gameserver serve`` process and a small real WebSocket client."""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from gameserver.game import Game, State, ViewUpdate, apply_view_update
from gameserver.games import get_game
from gameserver.replay import replay_game
from gameserver.tools.localserver import free_port

ADMIN_KEY = "test-admin-key"
ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """``python -m gameserver serve`` on 127.0.0.1, a free port and a data folder (``module``
    runs another entry point: one that registers test games first)."""

    def __init__(
        self,
        data: Path,
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        module: str = "gameserver",
    ):
        self.data = data
        self.module = module
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
        cmd = [sys.executable, "-m", self.module, "serve", "--port", str(self.port)]
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

    def forget_unread(self) -> None:
        """Drop what :meth:`expect` skipped and kept back: the next :meth:`recv` reads what
        the server sends from now on."""
        self._unread.clear()

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


# -- raw sockets: what no well-behaved client library sends -----------------------------------

#: A valid WebSocket upgrade request for /ws (the key is RFC 6455's example).
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One WebSocket frame as a client sends it (masked), whatever its payload."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 2**16:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of each whole unmasked frame a server sent in ``data``."""
    frames = []
    while len(data) >= 2:
        opcode, size, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, at = int.from_bytes(data[2:10], "big"), 10
        if len(data) < at + size:
            break
        frames.append((opcode, data[at : at + size]))
        data = data[at + size :]
    return frames


def close_code_of(frames: list[tuple[int, bytes]]) -> int | None:
    """The code of the close frame among ``frames``, if there is one."""
    for opcode, payload in frames:
        if opcode == 8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    return None


class RawConnection:
    """A TCP connection to the server that sends exactly the bytes it is given."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.opened = time.monotonic()
        self.received = b""

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> bool:
        """Write ``data``; False once the server has closed the connection."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError:
            return False
        return True

    async def read_until_closed(self, timeout: float) -> float | None:
        """Read everything until the server closes; seconds from opening to the close, or
        None if the connection is still open after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                return None
            except OSError:
                return time.monotonic() - self.opened  # reset: closed with data unread
            if not chunk:
                return time.monotonic() - self.opened
            self.received += chunk
        return None

    async def read_head(self, timeout: float = 10.0) -> bytes:
        """The HTTP response head (up to the blank line); what follows stays in ``received``."""
        async with asyncio.timeout(timeout):
            while b"\r\n\r\n" not in self.received:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                self.received += chunk
        head, _, self.received = self.received.partition(b"\r\n\r\n")
        return head

    def status(self) -> int | None:
        """The status code of the first HTTP response received, if one was."""
        line = self.received.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) >= 2 and line[0].startswith(b"HTTP/") else None

    def json_body(self) -> Any:
        """The JSON body of the (single, Content-Length framed) response received."""
        return orjson.loads(self.received.partition(b"\r\n\r\n")[2])

    def close(self) -> None:
        self.writer.close()


@dataclass(eq=False)
class _Pipe:
    """One connection through a :class:`Link`: its two sockets, and whether it was cut."""

    writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]
    dead: bool = False


class Link:
    """A TCP proxy on 127.0.0.1 in front of a server, in a thread of its own: a network link
    that can fail the way Wi-Fi does. :meth:`cut` makes every connection open at that moment
    silent both ways, for good, without closing anything (neither end hears a thing, not even
    a close: only a heartbeat or a keepalive can tell), and refuses new connections;
    :meth:`mend` lets new connections through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.cut_at: float | None = None
        self._pipes: set[_Pipe] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._closing: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def url(self, url: str) -> str:
        """``url`` of the server, through this link."""
        return url.replace(f":{self.target_port}", f":{self.port}", 1)

    def cut(self) -> None:
        self.cut_at = time.monotonic()
        for pipe in list(self._pipes):
            pipe.dead = True

    def mend(self) -> None:
        self.cut_at = None

    def close(self) -> None:
        """Drop every connection and stop the thread."""
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._closing = asyncio.Event()
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _shutdown(self) -> None:
        assert self._closing is not None
        self._closing.set()  # dead pipes stop waiting
        for pipe in list(self._pipes):
            for writer in pipe.writers:
                writer.close()  # live ones read their end
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_at is not None:  # no network: the connection fails at once
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            self._handlers.discard(task)
            return
        pipe = _Pipe((writer, up_writer))
        self._pipes.add(pipe)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, pipe), self._pump(up_reader, writer, pipe)
            )
        finally:
            self._pipes.discard(pipe)
            self._handlers.discard(task)
            writer.close()
            up_writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pipe: _Pipe
    ) -> None:
        try:
            while data := await source.read(65536):
                if not pipe.dead:
                    sink.write(data)
                    await sink.drain()
        except OSError:
            return
        if pipe.dead:  # a dead link carries no close either: until the link itself closes
            assert self._closing is not None
            await self._closing.wait()
        sink.close()


def markdown_table(text: str, header: str) -> list[list[str]]:
    """The rows of the table in ``text`` whose header row starts with ``header``, as cells."""
    lines = text[text.index("\n" + header) + 1 :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def updates_rebuild_views(game: Game, states: list[State], roles: list[str]) -> list[ViewUpdate]:
    """Check that each round's view update, applied to the view of the state before, gives the
    whole view (and leaves the view it was given as it was, or, applied in place as a bot does,
    becomes it); that there is none before the first round nor for the round that ends the
    game. The updates, for checks of their own."""
    assert game.view_update(states[0], roles[0]) is None  # no round closed yet
    updates = []
    for before, after in itertools.pairwise(states):
        for role in roles:
            update = game.view_update(after, role)
            if game.is_over(after):
                assert update is None  # the whole view, with the debrief
                continue
            assert update is not None
            held = game.view(before, role)
            kept = copy.deepcopy(held)
            assert apply_view_update(held, update) == game.view(after, role)
            assert held == kept
            grown = apply_view_update(held, copy.deepcopy(update), in_place=True)
            assert grown is held
            assert held == game.view(after, role)
            updates.append(update)
    return updates
