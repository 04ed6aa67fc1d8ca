"""A small chaos run: bots play while the server is killed with SIGKILL and restarted.

``scripts/chaos`` runs any size; this runs 4 games x 12 weeks through 3 kills. The seed comes
from ``CHAOS_SEED`` or is drawn, and is printed (and named in any failure) to replay a run.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from gameserver.tools.chaos import run_chaos
from tests.conftest import EXAMPLES
from tests.support import ROOT


async def test_chaos_kills_lose_nothing() -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 30))
    lines: list[str] = []
    result = await run_chaos(games=4, kills=3, weeks=12, seed=seed, out=lines.append)
    print("\n".join(lines))
    assert result.ok, "\n".join(lines)
    assert result.finished == result.equal_replay == result.equal_offline == 4
    assert result.acks_checked > 0 and result.acks_lost == 0
    assert sum(line.startswith("kill ") for line in lines) == 3
    assert result.reconnects > 0


def test_chaos_script_runs_and_says_ok() -> None:
    script = [sys.executable, str(ROOT / "scripts" / "chaos")]
    done = subprocess.run(
        [*script, "--games", "2", "--kills", "1", "--weeks", "6", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chaos: seed 7" in done.stdout and "OK: seed 7" in done.stdout
    bad = subprocess.run(
        [*script, "--think", "later"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "think time" in bad.stderr


async def test_chaos_kills_lose_nothing_of_a_model_game(
    model_cache: Path, model_games: Any
) -> None:
    """The same through SIGKILLs for the Beer Game as a stock-and-flow model: every game
    finishes, equals its replay and the same policies played offline, and no ack is lost."""
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 30))
    lines: list[str] = []
    result = await run_chaos(
        games=3,
        kills=2,
        weeks=10,
        seed=seed,
        out=lines.append,
        kind="beer-model",
        models=EXAMPLES,
        model_cache=model_cache,
    )
    print("\n".join(lines))
    assert result.ok, "\n".join(lines)
    assert result.finished == result.equal_replay == result.equal_offline == 3
    assert result.acks_checked > 0 and result.acks_lost == 0
    assert sum(line.startswith("kill ") for line in lines) == 2
