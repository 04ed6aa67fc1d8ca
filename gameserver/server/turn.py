"""The end of a turn of the event loop: what is sent to clients leaves here, together.

Within one turn many things happen for one client: its decision is acknowledged, the progress
of its game changes (several seats' decisions are saved by one commit), a round closes. Sent one
by one that is a socket write (a system call) each, and a progress message per decision. Instead
the drivers ask for their game's progress message here (:meth:`Turn.progress`) and connections
ask to be flushed (:meth:`Turn.flush`); once the turn's other callbacks have run, every progress
message is built once, then every connection writes everything it has in one write. A round's
views do not wait for that: :meth:`Turn.now` does it at once.

:func:`in_turns` is the other way round: work over many games that gives the loop a turn
between them, so that the rounds of games in play go between.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def in_turns(items: Iterable[T], per_turn: int = 1) -> AsyncIterator[T]:
    """``items``, giving the event loop a turn before each ``per_turn`` of them: for work over
    many games that would otherwise hold every game in play for its whole length (a class's
    export, its detail, reading its games)."""
    for n, item in enumerate(items):
        if n % per_turn == 0:
            await asyncio.sleep(0)
        yield item


class Turn:
    """Work to do once, at the end of the current turn of one event loop."""

    __slots__ = ("_flushes", "_loop", "_progress", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._progress: dict[int, Callable[[], None]] = {}
        self._flushes: dict[int, Callable[[], None]] = {}
        self._scheduled = False

    def progress(self, key: int, send: Callable[[], None]) -> None:
        """Call ``send`` (a driver's progress broadcast) once, at the end of this turn."""
        self._progress[key] = send
        self._schedule()

    def flush(self, key: int, write: Callable[[], None]) -> None:
        """Call ``write`` (a connection's flush) once, after the turn's progress messages."""
        self._flushes[key] = write
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._end)

    def now(self) -> None:
        """Send and write what is waiting now, not at the end of the turn: after a round's
        views, which would otherwise wait for the loop's next turn, and so for every socket
        read before it (a hop that was a fifth of a round's latency in the server under load).
        The end of the turn, still scheduled, then writes only what comes after."""
        # Progress first: it sends to connections, which then flush with the rest.
        while self._progress:
            progress, self._progress = self._progress, {}
            for send in progress.values():
                send()
        flushes, self._flushes = self._flushes, {}
        for write in flushes.values():
            write()

    def _end(self) -> None:
        self._scheduled = False
        self.now()
