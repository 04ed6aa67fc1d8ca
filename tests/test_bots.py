"""Bots against a real server process over real WebSockets, and the ``gameserver bots`` command.

Games played by bots must equal the offline simulator's for the same policies and seeds, round
by round; a bot must ride out a server crash by itself; bad command lines exit with one line.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gameserver import cli
from gameserver.client.api import Api, ApiError
from gameserver.client.bot import Bot, RoundTimer, Think, ws_url
from gameserver.client.teams import (
    Plan,
    Team,
    create_teams,
    percentiles,
    play,
    summarize,
    team_for,
)
from gameserver.errors import GameServerError
from gameserver.games import make_policy
from gameserver.tools.simulate import simulate
from tests.support import ADMIN_KEY, ROOT, ServerProcess, free_port


async def play_plan(server: ServerProcess, plan: Plan) -> tuple[list[Team], list[dict[str, Any]]]:
    async with Api(server.url, ADMIN_KEY) as api:
        teams = await create_teams(api, server.url, plan, give_up=20, max_seconds=60)
        await play(teams)
        exports = [await api.export(team.game_id) for team in teams]
    return teams, exports


def assert_equals_offline(export: dict[str, Any], report: dict[str, Any]) -> None:
    assert export["status"] == "finished"
    assert [r["round"] for r in export["rounds"]] == [w["week"] for w in report["weeks"]]
    for record, week in zip(export["rounds"], report["weeks"], strict=True):
        assert record["summary"] == week["roles"], f"week {week['week']}"
        assert record["defaulted"] == [] and record["closed_by"] == "all_submitted"
    assert export["results"] == report["results"]


@pytest.mark.parametrize(
    ("policy", "role_policies"),
    [("pass-through", {}), ("sterman", {}), ("sterman", {"factory": "pass-through"})],
)
async def test_bots_play_beer_games_equal_to_the_simulator(
    server: ServerProcess, policy: str, role_policies: dict[str, str]
) -> None:
    plan = Plan(kind="beer", games=2, policy=policy, role_policies=role_policies, seed=40)
    teams, exports = await play_plan(server, plan)
    for team, export in zip(teams, exports, strict=True):
        assert team.error is None
        assert export["seed"] == team.seed
        report = simulate("beer", {}, policy=policy, role_policies=role_policies, seed=team.seed)
        assert_equals_offline(export, report)
        for bot in team.bots:
            assert bot.done and bot.status == "finished" and bot.round == 36
            assert len(bot.acks) == 36 and len(bot.ack_latencies) == 36
            assert bot.reconnects == 0 and not bot.errors
            for week, (msg_id, decision) in bot.acks.items():
                assert export["rounds"][week - 1]["ids"][bot.role] == msg_id
                assert export["rounds"][week - 1]["decisions"][bot.role] == decision
        assert len(team.timer.latencies()) == 36
    figures = summarize(teams, 1.0, "beer")
    assert figures["finished"] == 2 and figures["decisions"] == 2 * 4 * 36
    assert figures["per_game"][0]["team_cost"] == exports[0]["results"]["team"]["cost"]


async def test_a_game_designers_bot_in_a_few_lines(server: ServerProcess) -> None:
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "settings": {"weeks": 4}}).json()

    def order_five(view: dict[str, Any]) -> dict[str, Any]:
        return {"order": 5}

    bots = [Bot(server.url, order_five, join=link["code"], think=(0.01, 0.03), seed=n)
            for n, link in enumerate(game["join"])]  # fmt: skip
    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for bot in bots:
            group.create_task(bot.run())
        await asyncio.gather(*(bot.joined.wait() for bot in bots))
        with server.http() as http:  # the bots wait, seated, until the game starts
            assert http.post(f"/api/games/{game['game_id']}/start").status_code == 200
    assert time.monotonic() - started >= 4 * 0.01
    assert all(bot.status == "finished" and bot.rounds == 4 and bot.token for bot in bots)
    assert sorted(bot.role or "" for bot in bots) == sorted(link["role"] for link in game["join"])
    with server.http() as http:
        export = http.get(f"/api/games/{game['game_id']}/export.json").json()
    assert all(
        r["decisions"][bot.role or ""] == {"order": 5} for r in export["rounds"] for bot in bots
    )
    assert export["status"] == "finished" and len(export["rounds"]) == 4


async def test_a_bot_finishes_its_game_through_a_server_restart(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    weeks = 10
    async with Api(fresh_server.url, ADMIN_KEY) as api:
        created = await api.create_game(
            kind="beer", settings={"weeks": weeks}, seed=5, autostart=True
        )
    policies = {link["role"]: make_policy("beer", "sterman") for link in created["join"]}
    team = team_for(
        fresh_server.url,
        created,
        policies,
        Think(0.02),
        seed=1,
        give_up=30,
        max_seconds=60,
        backoff=(0.02, 0.5),
    )
    playing = asyncio.create_task(play([team]))
    deadline = time.monotonic() + 20
    while team.timer.round < 3:
        assert time.monotonic() < deadline and not playing.done()
        await asyncio.sleep(0.005)
    await asyncio.to_thread(fresh_server.kill)
    await asyncio.sleep(0.3)  # the bots meet refused connections while the server is down
    await asyncio.to_thread(fresh_server.start)
    await asyncio.wait_for(playing, 40)
    assert team.error is None
    for bot in team.bots:
        assert bot.done and bot.reconnects >= 1 and bot.connect_failures >= 1
    async with Api(fresh_server.url, ADMIN_KEY) as api:
        export = await api.export(team.game_id)
    assert_equals_offline(export, simulate("beer", {"weeks": weeks}, policy="sterman", seed=5))
    for bot in team.bots:
        for week, (msg_id, decision) in bot.acks.items():
            assert export["rounds"][week - 1]["ids"][bot.role] == msg_id
            assert export["rounds"][week - 1]["decisions"][bot.role] == decision


async def test_bots_come_back_after_a_graceful_restart_with_1012(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    async with Api(fresh_server.url, ADMIN_KEY) as api:
        created = await api.create_game(kind="beer", settings={"weeks": 8}, seed=9, autostart=True)
    policies = {link["role"]: make_policy("beer", "pass-through") for link in created["join"]}
    team = team_for(fresh_server.url, created, policies, Think(0.02), give_up=30, max_seconds=60)
    playing = asyncio.create_task(play([team]))
    deadline = time.monotonic() + 20
    while team.timer.round < 2:
        assert time.monotonic() < deadline and not playing.done()
        await asyncio.sleep(0.005)
    code = await asyncio.to_thread(fresh_server.terminate)
    assert code in (0, -15)  # uvicorn raises SIGTERM again once it has shut down
    await asyncio.to_thread(fresh_server.start)
    await asyncio.wait_for(playing, 40)
    assert team.error is None
    for bot in team.bots:
        assert bot.done and bot.reconnects == 1 and bot.drops == {1012: 1}
    figures = summarize([team], 1.0, "beer")
    assert figures["drops"] == {"1012": 4} and figures["finished"] == 1


async def test_the_bots_of_a_game_that_ends_first_stay_until_every_game_is_over(
    fresh_server: ServerProcess,
) -> None:
    """As players stay on the debrief: a run's bots leave together, once every game is over
    (and then they do leave), not each as its own game ends."""
    fresh_server.start()
    teams = []
    async with Api(fresh_server.url, ADMIN_KEY) as api:
        for weeks in (2, 8):
            created = await api.create_game(
                kind="beer", settings={"weeks": weeks}, seed=3, autostart=True
            )
            policies = {link["role"]: make_policy("beer", "sterman") for link in created["join"]}
            teams.append(team_for(fresh_server.url, created, policies, Think(0.03), max_seconds=60))
        short, long = teams
        playing = asyncio.create_task(play(teams))

        async def connections() -> int:
            metrics = await api.request_text("GET", "/metrics")
            return int(re.search(r"^gameserver_connections (\d+)", metrics, re.M).group(1))  # type: ignore[union-attr]

        deadline = time.monotonic() + 30
        while not all(bot.done for bot in short.bots):
            assert time.monotonic() < deadline and not playing.done()
            await asyncio.sleep(0.005)
        assert long.timer.round < 8  # the short game is over, the long one plays on
        await asyncio.sleep(0.1)
        assert long.timer.round < 8 and await connections() == 8
        await asyncio.wait_for(playing, 30)
        assert all(team.error is None for team in teams)
        assert all(bot.done and bot.drops == {} for team in teams for bot in team.bots)
        while await connections() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert await connections() == 0


async def test_the_api_client_raises_what_the_server_refused(server: ServerProcess) -> None:
    async with Api(server.url, "not-the-admin-key") as api:
        with pytest.raises(ApiError) as refused:
            await api.create_game(kind="beer")
    assert refused.value.status == 401 and refused.value.code == "not_admin"
    assert "POST /api/games: 401" in str(refused.value)
    async with Api(server.url, ADMIN_KEY) as api:
        with pytest.raises(ApiError) as missing:
            await api.game("NOSUCHGAME")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    async with Api(f"http://127.0.0.1:{free_port()}", ADMIN_KEY) as api:
        with pytest.raises(ApiError) as unreachable:
            await api.health()
    assert unreachable.value.status == 0 and unreachable.value.code == "unreachable"
    assert isinstance(unreachable.value, GameServerError)  # one line from a command, exit 2
    assert "cannot reach the server at http://127.0.0.1:" in str(unreachable.value)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameserver", "bots", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_bots_command_plays_games_and_writes_json(server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = run_cli(
        "--url", server.url, "--admin-key", ADMIN_KEY, "--games", "2", "--settings", "weeks=6",
        "--policy", "sterman", "--think", "0-0.002", "--seed", "3", "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2/2 beer games finished" in done.stdout
    assert "decision -> ack" in done.stdout and "round close -> last view" in done.stdout
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    figures = json.loads(out.read_text())
    assert figures["games"] == figures["finished"] == 2
    assert figures["rounds"] == 12 and figures["decisions"] == 48
    assert figures["latency_ms"]["decision_to_ack"]["n"] == 48
    assert figures["latency_ms"]["round_to_last_view"]["n"] == 12
    for key in ("p50", "p95", "p99", "max"):
        assert 0 < figures["latency_ms"]["decision_to_ack"][key] < 5000
    assert figures["errors"] == {} and figures["reconnects"] == 0
    for n, game in enumerate(figures["per_game"]):
        offline = simulate("beer", {"weeks": 6}, policy="sterman", seed=3 + n)
        assert game["team_cost"] == offline["team_cost"]
        assert game["status"] == "finished" and game["rounds"] == 6
        assert game["game_id"] in done.stdout


def test_bots_command_joins_given_seats_with_a_progress_bar(server: ServerProcess) -> None:
    with server.http() as http:
        game = http.post(
            "/api/games", json={"kind": "beer", "settings": {"weeks": 3}, "open_join": True}
        ).json()
        http.post(f"/api/games/{game['game_id']}/start")
    seats = [game["open_join"]["code"]] * 4  # each bot takes the first free seat
    done = run_cli(
        "--url", server.url, "--join", *seats, "--policy", "pass-through", "--progress"
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1/1 beer games finished, 4 bots" in done.stdout
    assert "3 rounds" in done.stderr  # the progress line
    with server.http() as http:
        assert http.get(f"/api/games/{game['game_id']}").json()["status"] == "finished"


def test_bad_command_lines_exit_with_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = run_cli("--url", f"http://127.0.0.1:{port}", "--admin-key", "k", "--games", "1")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot reach the server" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--url", "not a url"], "bad --url"),
        (["--url", "ftp://example.org"], "bad --url"),
        (["--kind", "chess"], "no game 'chess'"),
        (["--policy", "clairvoyant"], "no policy 'clairvoyant'"),
        (["--role-policy", "brewer=sterman"], "no role 'brewer'"),
        (["--settings", "weeks=-1"], "weeks"),
        (["--param", "theta=lots"], "theta"),
        (["--games", "0"], "games"),
        (["--think", "soon"], "think time"),
        (["--role-think", "retailer=-2"], "think"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli.main(["bots", "--admin-key", "k", *args])
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_creating_games_needs_the_admin_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GAMESERVER_ADMIN_KEY", raising=False)
    assert cli.main(["bots", "--games", "1"]) == 2
    assert "admin-key" in capsys.readouterr().err


def test_think_urls_percentiles_and_the_round_timer() -> None:
    assert Think.parse("0.1") == Think(0.1, 0.1)
    assert Think.parse("0.05-0.2") == Think(0.05, 0.2)
    rng = random.Random(1)
    assert all(0.05 <= Think(0.05, 0.2).draw(rng) <= 0.2 for _ in range(100))
    for bad in ("x", "0.3-0.1", "-1", "5000"):
        with pytest.raises(ValueError):
            Think.parse(bad)
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws"
    assert ws_url("https://games.example.org/") == "wss://games.example.org/ws"
    assert ws_url("ws://h:1/ws") == "ws://h:1/ws"
    with pytest.raises(ValueError):
        ws_url("127.0.0.1:8000")
    figures = percentiles([n / 1000 for n in range(1, 101)])
    assert figures == {"n": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([])["n"] == 0
    timer = RoundTimer(2)
    timer.submitted(1, 10.0)
    timer.submitted(1, 10.5)
    timer.viewed(1, 10.7)
    timer.viewed(1, 10.9)
    timer.submitted(2, 11.0)
    timer.viewed(2, 11.1)  # one of the two bots missed round 2's message: not counted
    assert timer.latencies() == pytest.approx([0.4]) and timer.round == 2
    with pytest.raises(ValueError):
        Bot("http://127.0.0.1:1", lambda view: {})
