"""scripts/bench runs end to end at a tiny size and prints its table (figures are not judged)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from gameserver.server.gamestore import SNAPSHOT_EVERY

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_its_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = ["--games", "3", "--paced-games", "4", "--restore-games", "6", "--think", "0.02"]
    args += ["--storm-playing", "2", "--storm-games", "3"]
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench"),
            *args,
            "--weeks",
            "5",
            "--one-game-weeks",
            "5",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["scenario", "games", "bots"]
    assert [line.split()[0] for line in lines[2:18:4]] == ["one", "paced", "saturated", "big"]
    figures = json.loads(out.read_text())
    for name in ("one game", "paced", "saturated", "big paced"):
        scenario = figures["scenarios"][name]
        assert scenario["finished"] == scenario["games"]
        assert scenario["decisions"] == scenario["games"] * 4 * 5
        assert scenario["errors"] == {} and scenario["failed_games"] == 0
        # A rate even for a run too short to sample its middle (these are)
        assert scenario["decisions_per_s"] > 0 and scenario["rounds_per_s"] > 0
        # CPU per decision of the server and of the bots, over the steady middle of the run
        assert scenario["server_us_per_decision"] > 0 and scenario["bots_us_per_decision"] > 0
        # The round latency in parts of the games: of 5 weeks, rounds 1-4 are the first, 5 last
        parts = scenario["round_ms_by_part"]
        games = scenario["games"]
        assert [parts[p]["n"] for p in ("first", "middle", "last")] == [games * 4, 0, games]
        assert 0 < parts["first"]["p50"] <= parts["first"]["p99"]
        # How fast the machine ran, just before the row and just after
        before, after = scenario["reference_ms"]
        assert before > 0 and after > 0
        # The server's side of a round (from its close to its views made), every round counted
        told = scenario["server_round_ms"]
        assert told["n"] == games * 5 and 0 < told["p50"] <= told["p99"]
        row = next(i for i, line in enumerate(lines) if line.startswith(name))
        assert lines[row + 2].split()[:9] == [
            "server:",
            "round",
            "closed",
            "->",
            "its",
            "views",
            "made",
            "p50",
            "/",
        ]
        assert lines[row + 3].split() == [
            "machine:",
            "reference",
            str(before),
            "ms",
            "before",
            "the",
            "row,",
            str(after),
            "after",
        ]
    target_lines = [line for line in lines if line.strip().startswith("target:")]
    assert len(target_lines) >= 4  # and the PostgreSQL rows' where it is installed
    assert all("first 5 rounds " in line and "last round " in line for line in target_lines)
    # The class joining beside games in progress: its 12 bots all connected, the playing games'
    # rounds timed in the second before it came and while it came
    storm = figures["storm"]
    assert storm["playing_games"] == 2 and storm["joining_bots"] == 12 and storm["came_s"] > 0
    assert storm["before_ms"]["n"] > 0 and storm["coming_ms"]["n"] > 0
    assert 0 < storm["coming_ms"]["p50"] <= storm["coming_ms"]["p99"] <= storm["coming_ms"]["max"]
    assert (
        "class joining: 3 games created (HTTP), then their 12 bots join at once, beside 2 games "
        "playing every 0.02 s or so -> the playing games' round p99 / longest: "
    ) in result.stdout
    assert figures["restore"]["games"] == 6 and figures["restore"]["restored_and_resumed_s"] > 0
    # at the round whose restore replays the most rounds: every one since the game was made
    assert figures["restore"]["rounds"] == SNAPSHOT_EVERY - 1
    replayed = f"(round {SNAPSHOT_EVERY - 1}, every round replayed)"
    assert f"restore: 6 games in progress {replayed}" in result.stdout
    # The Python that ran the rows, which their speed depends on
    interpreter = os.path.realpath(sys.executable)
    assert lines[-1].startswith(f"python: {platform.python_version()}, {interpreter} (")
    assert figures["python"] == {"version": platform.python_version(), "executable": interpreter}


def test_bench_refuses_bad_sizes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench"), "--games", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
