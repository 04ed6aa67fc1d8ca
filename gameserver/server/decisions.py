"""Decisions saved together: every decision of a turn of the event loop in one store call.

A decision is the server's most frequent write. Awaited one by one, each costs a task, a future
and a wake-up of its own even though the store commits them together. Here the drivers hand
their decisions in (:meth:`DecisionSaves.add`); at the end of the turn one task saves them all
with :meth:`GameStore.save_decisions` (the SQLite adapter: one transaction, one fsync) and tells
each driver how its decision fared, in the order they came. First each game is offered its
decisions of the turn (:meth:`Driver.close_with`): those that complete its round are saved with
the round instead, in one write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from gameserver.errors import GameServerError, StorageFailure
from gameserver.server import events as ev
from gameserver.server.gamestore import GameStore
from gameserver.server.metrics import Metrics

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


class Driver(Protocol):
    """What a decision's owner is to the batch: a game, told how its save went."""

    @property
    def game_id(self) -> str: ...

    def decision_saved(self, save: ev.SaveDecision, error: GameServerError | None) -> None: ...

    def close_with(self, saves: list[ev.SaveDecision]) -> bool: ...


class DecisionSaves:
    """Collects decision saves during a loop turn and saves them at its end, in one call."""

    def __init__(self, store: GameStore, metrics: Metrics, spawn: Spawn) -> None:
        self._store = store
        self._metrics = metrics
        self._spawn = spawn
        self._batch: list[tuple[Driver, ev.SaveDecision]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, driver: Driver, save: ev.SaveDecision) -> None:
        if not self._batch:
            if self._loop is None:  # looked up once: on Python 3.11 each lookup is a getpid()
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._start)
        self._batch.append((driver, save))

    def _start(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        # A game whose round these decisions complete saves them with the round instead.
        by_game: dict[Driver, list[ev.SaveDecision]] = {}
        for driver, save in batch:
            by_game.setdefault(driver, []).append(save)
        closed = [driver for driver, saves in by_game.items() if driver.close_with(saves)]
        if closed:
            gone = set(closed)
            batch = [(driver, save) for driver, save in batch if driver not in gone]
        if batch:
            self._spawn(self._save(batch), "decisions")

    async def _save(self, batch: list[tuple[Driver, ev.SaveDecision]]) -> None:
        started = time.perf_counter()
        items = [(driver.game_id, save) for driver, save in batch]
        try:
            outcomes = await self._store.save_decisions(items)
        except Exception as exc:  # every decision must be answered, or its game stalls
            log.exception("saving %d decisions failed", len(batch))
            failure = StorageFailure(f"{type(exc).__name__}: {exc}")
            outcomes = [failure] * len(batch)
        elapsed = time.perf_counter() - started
        saved = 0
        for (driver, save), outcome in zip(batch, outcomes, strict=True):
            saved += outcome is None
            try:
                driver.decision_saved(save, outcome)
            except Exception:  # one game's fault must not keep the others from hearing
                log.exception("game %s could not take a decision's outcome", driver.game_id)
        self._metrics.decisions += saved
        if saved:
            self._metrics.saves.append(elapsed)
