"""Run a coroutine on uvloop when it is installed (it is, except on Windows), else asyncio.

uvicorn picks uvloop by itself for the server; the bots, the benchmark and chaos use this, so a
thousand bots on the same machine cost the server less of the CPU they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
