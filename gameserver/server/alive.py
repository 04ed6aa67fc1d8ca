"""The server's alive mark: when it was last known to run, so a restart knows how long it was down.

A small file, ``<data>/alive``, holds a Unix time. The server rewrites it in place every
``alive_interval`` seconds and flushes it to disk (one ``fdatasync`` in a worker thread: a few
bytes, not a write per decision), once more at start-up and once at a graceful stop. At start-up
it is read before the first new mark: each running round's deadline then moves on by the time
since (:func:`gameserver.server.changes.revived`), so the downtime does not eat the round's
time. The mark is at most one interval old at a crash, so a round gets back the time it had
left at the crash, and at most one interval more.

A missing or unreadable mark (a first start, a data folder that is new to the database) means
"unknown": deadlines then only get their grace, as before there were marks. Failing to write
the mark is logged and never stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Every mark has the same length, so a rewrite in place never leaves a tail of an older one.
_WIDTH = 24


class AliveMark:
    """The file ``path``, marked every ``interval`` seconds while :meth:`run` runs."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._fd: int | None = None
        self._failed = False

    def read(self) -> float | None:
        """The last mark: a Unix time, or None if there is none that can be read."""
        try:
            text = self.path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return None
        try:
            at = float(text.strip())
        except ValueError:
            log.warning("%s holds no time (%r): the downtime is unknown", self.path, text[:40])
            return None
        return at if math.isfinite(at) and at > 0 else None

    def write(self, at: float) -> None:
        """Mark ``at`` and flush it to disk (blocking: :meth:`run` calls it in a thread)."""
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            os.pwrite(self._fd, f"{at:.3f}".ljust(_WIDTH - 1).encode() + b"\n", 0)
            os.fdatasync(self._fd)
        except OSError as exc:
            if not self._failed:  # once, not every interval
                log.warning("cannot write the alive mark %s: %s", self.path, exc)
            self._failed = True
        else:
            self._failed = False

    async def run(self) -> None:
        """Mark every interval until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.write, time.time())

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
