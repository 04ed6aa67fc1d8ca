"""A throwaway PostgreSQL cluster for the tests and scripts/bench-storage.

Debian's binaries (``/usr/lib/postgresql/<version>/bin``, the ``postgresql`` package, which
``scripts/test`` installs when they are missing), ``initdb`` into a temporary folder, the server
on a free port on 127.0.0.1 with its unix socket in that folder, stopped by its pid and removed
at the end. The system's own clusters are never touched. PostgreSQL refuses to run as root, so
as root the folder belongs to the ``postgres`` user and the binaries run as that user.

::

    with Cluster() as cluster:
        url = cluster.create_database("t1")   # postgresql://postgres:...@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

#: What a throwaway cluster needs to start fast and small: 16 MB of shared buffers instead of
#: 128 MB, a connection limit that fits the tests' pools. fsync stays on: the figures and the
#: tests are about a durable server. Autovacuum is off because its transactions would be
#: counted by the group-commit test, and the tables of a test live for seconds.
TEST_SETTINGS = {
    "shared_buffers": "16MB",
    "max_connections": "100",
    "autovacuum": "off",
    "fsync": "on",
    "synchronous_commit": "on",
}
START_TIMEOUT = 30.0


class ClusterUnavailable(Exception):
    """PostgreSQL cannot be run here; the message says why (tests skip with it)."""


def find_bindir() -> Path:
    """The newest Debian PostgreSQL ``bin`` folder that has ``initdb`` and ``postgres``."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if Path(d, "initdb").is_file() and Path(d, "postgres").is_file()
    ]
    if not found:
        raise ClusterUnavailable(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): scripts/test"
            " installs Debian's postgresql package when run as root with apt-get"
        )
    return max(found, key=lambda d: _version(d.parent.name))


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One throwaway cluster: :meth:`start`, :meth:`create_database`, :meth:`stop`."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(TEST_SETTINGS if settings is None else settings)
        self.bindir = find_bindir()
        self.password = secrets.token_hex(12)
        self.port = 0
        self.folder: Path | None = None
        self.start_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_user: dict[str, Any] = {}

    @property
    def version(self) -> str:
        return self.bindir.parent.name

    def url(self, database: str = "postgres") -> str:
        """A URL the adapter takes: TCP on 127.0.0.1, password authentication."""
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """initdb into a new temporary folder and start the server; raises if it cannot."""
        started = time.monotonic()
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterUnavailable("running as root and there is no postgres user") from None
            # PostgreSQL refuses root: the binaries run as postgres, who owns the folder.
            self._as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        folder = Path(tempfile.mkdtemp(prefix="gameserver-pg-"))
        self.folder = folder
        if self._as_user:
            os.chown(folder, self._as_user["user"], self._as_user["group"])
        pwfile = folder / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            os.chown(pwfile, self._as_user["user"], self._as_user["group"])
        self._run(
            "initdb",
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            # The cluster is thrown away at the end: syncing initdb's files to disk would
            # only make the start slower (about a second here). The server itself fsyncs.
            "--no-sync",
        )
        pwfile.unlink()
        for attempt in range(3):  # the free port may be taken between finding and binding it
            self.port = free_port()
            if self._launch():
                self.start_seconds = time.monotonic() - started
                return
            if attempt == 2:
                raise ClusterUnavailable(f"postgres did not start:\n{self.log()}")

    def _launch(self) -> bool:
        assert self.folder is not None
        args = [str(self.bindir / "postgres"), "-D", str(self.folder / "data")]
        settings = {
            **self.settings,
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
        }
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with (self.folder / "server.log").open("ab") as log:
            self._proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                **self._as_user,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            ready = subprocess.run(
                [
                    str(self.bindir / "pg_isready"),
                    "-q",
                    "-h",
                    str(self.folder),
                    "-p",
                    str(self.port),
                ],
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.02)
        self.stop()
        raise ClusterUnavailable(f"postgres not ready after {START_TIMEOUT} s:\n{self.log()}")

    def _run(self, binary: str, *args: str) -> str:
        assert self.folder is not None
        done = subprocess.run(
            [str(self.bindir / binary), *args],
            capture_output=True,
            text=True,
            cwd=self.folder,
            check=False,
            **self._as_user,
        )
        if done.returncode != 0:
            raise ClusterUnavailable(f"{binary} failed ({done.returncode}): {done.stderr.strip()}")
        return str(done.stdout)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one SQL statement with psql over the unix socket; its output, unaligned."""
        assert self.folder is not None
        return self._run(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.folder),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            statement,
        ).strip()

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        if self.folder is None:
            return ""
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server this object started (by its pid), then remove the folder."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # Immediate shutdown: no checkpoint (3 s here) for a cluster about to be removed.
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.folder is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.folder)
            self.folder = None

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
