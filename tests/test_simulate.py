"""The offline simulator and ``python -m gameserver simulate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameserver.cli import main
from gameserver.errors import InvalidSettings, NotFound
from gameserver.tools.simulate import render_table, simulate

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameserver", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_benchmark_report() -> None:
    report = simulate("beer", {"forced_weeks": 4}, policy="benchmark")
    assert report["team_cost"] == 204.0
    assert report["role_cost"] == {
        "retailer": 46.0,
        "wholesaler": 50.0,
        "distributor": 54.0,
        "factory": 54.0,
    }
    assert len(report["weeks"]) == 36
    first = report["weeks"][0]
    assert first["week"] == 1
    assert (
        first["roles"]["retailer"].items()
        >= {
            "incoming_order": 4,
            "received": 4,
            "shipped": 4,
            "inventory": 12,
            "backlog": 0,
            "order": 4,
            "cost": 6.0,
        }.items()
    )
    assert sum(week["team_cost"] for week in report["weeks"]) == 204.0
    assert json.loads(json.dumps(report)) == report


def test_cli_json_in_a_subprocess() -> None:
    done = run_cli("simulate", "beer", "--policy", "benchmark", "--forced-weeks", "4", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON object
    assert report["team_cost"] == 204.0
    assert report["role_cost"]["retailer"] == 46.0


def test_other_processes_play_the_same_game() -> None:
    args = ["simulate", "fishery", "--policy", "random", "--seed", "11", "--json"]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == simulate("fishery", policy="random", seed=11)


def test_table_has_every_week_and_the_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "beer", "--policy", "benchmark", "--forced-weeks", "4"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "retailer" in lines[2] and "team" in lines[2]
    assert lines[-1].split() == ["total", "46.00", "50.00", "54.00", "54.00", "204.00"]
    assert len(lines) == 3 + 36 + 1


def test_settings_and_parameters_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "simulate", "beer", "--policy", "sterman", "--theta", "0.5", "--alpha-s", "0.3",
        "--beta", "0.2", "--s-prime", "20", "--weeks", "20", "--holding-cost", "1",
        "--set", "demand-list=4,6,8", "--role-policy", "factory=pass-through", "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["weeks"]) == 20
    assert report["settings"]["demand_list"] == [4, 6, 8]
    assert report["settings"]["holding_cost"] == 1.0
    assert report["policies"]["retailer"] == {
        "policy": "sterman",
        "params": {
            "theta": 0.5,
            "alpha_s": 0.3,
            "beta": 0.2,
            "s_prime": 20,
            "initial_expectation": 4.0,
        },
    }
    assert report["policies"]["factory"] == {"policy": "pass-through", "params": {}}
    factory = [week["roles"]["factory"] for week in report["weeks"]]
    assert all(row["order"] == row["incoming_order"] for row in factory)


def test_fishery_report() -> None:
    report = simulate("fishery", {"players": 3, "rounds": 12})
    assert set(report["role_income"]) == {"fleet-1", "fleet-2", "fleet-3"}
    assert report["policies"]["fleet-1"]["policy"] == "target-stock"
    assert [row["round"] for row in report["rounds"]] == list(range(1, 13))
    assert "income per round" in render_table(report)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "chess"], "no game 'chess'; known games: beer, fishery"),
        (["simulate", "beer", "--policy", "oracle"], "no policy 'oracle' for beer"),
        (["simulate", "beer", "--weeks", "0"], "setting 'weeks': value must be between 1 and 520"),
        (["simulate", "beer", "--weeks", "many"], "setting 'weeks' must be a whole number"),
        (["simulate", "beer", "--players", "3"], "unknown setting 'players' for beer"),
        (["simulate", "beer", "--set", "colour=red"], "unknown setting 'colour' for beer"),
        (["simulate", "beer", "--theta", "2"], "'theta' must be a number between 0 and 1, got 2"),
        (["simulate", "beer", "--theta", "x"], "argument --theta: not a number: 'x'"),
        (["simulate", "beer", "--param", "gamma=1"], "no chosen policy (sterman) has a parameter"),
        (["simulate", "beer", "--role-policy", "brewer=random"], "no role 'brewer' in beer"),
        (["simulate", "beer", "--role-policy", "brewer"], "expected NAME=VALUE, got 'brewer'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message in err


def exit_code(argv: list[str]) -> int | str | None:
    """``main``'s code, whether returned or (for argparse's own errors) raised."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_bad_input_in_a_subprocess_has_no_traceback() -> None:
    done = run_cli("simulate", "beer", "--forced-weeks", "-1", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "gameserver simulate: error: setting 'forced_weeks': value must be between 0 and 520, "
        "got -1"
    )


def test_simulate_refuses_bad_arguments() -> None:
    with pytest.raises(NotFound):
        simulate("beer", policy="nope")
    with pytest.raises(InvalidSettings, match="no chosen policy"):
        simulate("beer", policy="pass-through", params={"theta": 0.2})
