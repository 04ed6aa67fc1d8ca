"""The author's commands: ``gameserver model check`` and ``gameserver simulate`` of a model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.support import ROOT
from tests.test_model_files import TOML, XMILE, folder_with

pytest.importorskip("pysd", reason="the models extra is not installed")
BEER = EXAMPLES / "beer"


def gameserver(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameserver", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_model_check_lists_the_variables_and_plays_a_round() -> None:
    done = gameserver("model", "check", str(BEER / "beer.xmile"), "--game", str(BEER / "beer.toml"))
    assert done.returncode == 0, done.stderr
    assert "beer-model: The Beer Game (a stock-and-flow model)" in done.stdout
    assert "1 steps of dt per round" in done.stdout
    assert "  * Retailer Inventory (Stateful)" in done.stdout
    assert "    Demand Before (Constant)" in done.stdout  # in the model, not in the game
    assert "retailer decides {'order': 4}: " in done.stdout and done.stdout.endswith("OK\n")
    as_json = gameserver(
        "model", "check", str(BEER / "beer.xmile"), "--game", str(BEER / "beer.toml"), "--json"
    )
    report = json.loads(as_json.stdout)
    assert report["roles"] == ["retailer", "wholesaler", "distributor", "factory"]
    assert report["views"]["factory"]["inventory"] == 12


def test_model_check_names_what_is_wrong(tmp_path: Path) -> None:
    description = folder_with(
        tmp_path, TOML.replace('label = "Level"', 'label = "Level"\nover = "always"')
    )
    done = gameserver("model", "check", str(tmp_path / "tank.xmile"), "--game", str(description))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gameserver model: error: tank.toml: figures[0].over: must be one of end, total, mean, "
        "got 'always'"
    )
    (tmp_path / "tank.xmile").write_text(XMILE.format(fill="NORMAL(0, 1)"))
    done = gameserver("model", "check", str(tmp_path / "tank.xmile"), "--game", str(description))
    assert done.returncode == 2 and "variable 'Fill' uses NORMAL" in done.stderr


def test_simulate_plays_a_model_game_by_its_description_or_its_folder() -> None:
    done = gameserver(
        "simulate",
        str(BEER / "beer.toml"),
        "--policy",
        "benchmark",
        "--set",
        "forced_weeks=4",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["team_cost"] == 204 and report["round_label"] == "week"
    market = gameserver("simulate", "market", "--models", str(EXAMPLES), "--policy", "random")
    assert market.returncode == 0, market.stderr
    assert market.stdout.startswith("market: alpha random, beta random, gamma random")
    assert "profit per quarter" in market.stdout
    unknown = gameserver("simulate", "market")
    assert unknown.returncode == 2 and "no game 'market'" in unknown.stderr


def test_bench_step_prints_a_model_round_beside_the_built_in_beer_game() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench-step"),
            "--games",
            "3",
            "--model-games",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split()[:3]) for line in done.stdout.splitlines()}
    assert ("beer", "(36", "weeks)") in rows
    steps = [line.split() for line in done.stdout.splitlines() if " step " in line]
    assert [row[0] for row in steps] == ["beer", "fishery", "fishery", "beer-model"]
    assert steps[-1][2:4] == ["step", "72"]  # two games of 36 weeks, each round timed
