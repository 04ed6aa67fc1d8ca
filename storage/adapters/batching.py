"""What the group-commit writers of SQLite and PostgreSQL share: a caller's write, a batch's
results, and the counters that say how well writes are batching."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class WriteStats:
    """Counters kept by a writer: how well group commit is batching."""

    batches: int = 0
    writes: int = 0
    failed: int = 0
    largest_batch: int = 0
    #: Seconds spent running and committing batches (summed over a writer's lanes; the rest of
    #: the time it waited for work).
    busy_seconds: float = 0.0


@dataclass(slots=True)
class Op:
    """One caller's write: what to do, with what, and the future its caller awaits."""

    kind: str
    game_id: str
    params: Any
    future: asyncio.Future[Any]


#: One write's outcome in a batch: its value, or the error that refused it.
Result = tuple[Any, BaseException | None]


def resolve(
    ops: list[Op], results: list[Result], error_for: Callable[[Op, BaseException], Exception]
) -> None:
    """On the event loop: wake every caller of a finished batch with its value, or with the
    error ``error_for`` makes of what refused its write (chained to it)."""
    for op, (value, exc) in zip(ops, results, strict=True):
        if op.future.done():
            continue  # the caller was cancelled; its write may still have been committed
        if exc is None:
            op.future.set_result(value)
        else:
            error = error_for(op, exc)
            error.__cause__ = exc
            op.future.set_exception(error)
