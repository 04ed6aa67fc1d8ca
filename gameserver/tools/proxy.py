"""HAProxy in front of local server nodes, from the shipped ``deploy/haproxy.cfg``.

Chaos, the benchmark and the tests run several ``gameserver serve`` nodes on one PostgreSQL
database behind the proxy that docs/deploy.md describes, started from the very file that ships:
:func:`test_config` keeps its routing (the route key, the consistent hash, the health checks,
the retries, the timeouts) and changes only what a test cannot have: the node addresses, the
address it listens on, TLS (no certificate: plain HTTP on 127.0.0.1), and the connection limit
(to what this machine's file limit allows).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from gameserver.tools.localserver import ROOT, ServerError, free_port

#: The shipped configuration.
SHIPPED = ROOT / "deploy" / "haproxy.cfg"

_SERVERS = re.compile(r"(    server n\d+ \S+\n)+")


class ProxyUnavailable(Exception):
    """HAProxy is not installed here (Debian: ``apt-get install haproxy``)."""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/bin/haproxy") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise ProxyUnavailable("HAProxy is not installed (Debian: apt-get install haproxy)")
    return found


def test_config(text: str, nodes: Sequence[int], listen: int) -> str:
    """The shipped configuration with these node ports, on 127.0.0.1:``listen``, no TLS."""
    servers = "".join(f"    server n{n} 127.0.0.1:{port}\n" for n, port in enumerate(nodes, 1))
    text, count = _SERVERS.subn(servers, text)
    if count != 1:
        raise ValueError(f"{SHIPPED}: expected one list of servers")
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("bind :443") or stripped.startswith("http-request redirect"):
            continue  # TLS: no certificate here
        if stripped == "bind :80":
            line = f"    bind 127.0.0.1:{listen}"
        elif stripped.startswith("maxconn "):
            # Two descriptors per connection: within this process's limit (not root's).
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            line = f"    maxconn {max(256, min(50_000, (limit - 200) // 2))}"
        kept.append(line)
    return "\n".join(kept) + "\n"


class Proxy:
    """HAProxy on 127.0.0.1 in front of the nodes' ports, owned by this process."""

    def __init__(self, folder: Path, nodes: Sequence[int], port: int | None = None) -> None:
        self.folder = folder
        self.nodes = list(nodes)
        self.port = port or free_port()
        self.log_path = folder / "haproxy.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 10.0) -> None:
        binary = haproxy_binary()
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "haproxy.cfg"
        conf.write_text(test_config(SHIPPED.read_text(), self.nodes, self.port))
        check = await asyncio.create_subprocess_exec(
            binary, "-c", "-q", "-f", str(conf),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await check.communicate()
        if check.returncode != 0:
            raise ServerError(f"HAProxy refused {conf}: {output.decode(errors='replace')}")
        log = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                binary, "-db", "-f", str(conf), stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        finally:
            os.close(log)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise ServerError(f"HAProxy exited with {self.proc.returncode}: {self.tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return
        raise ServerError(f"HAProxy did not listen on {self.port} within {within:g} s")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # a soft stop would wait for every WebSocket
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
