"""Chaos: bots play games while the server is killed with SIGKILL and restarted; nothing is lost.

``scripts/chaos`` runs :func:`main`; ``tests/test_chaos.py`` runs a small :func:`run_chaos`.

It starts ``python -m gameserver serve`` on a temporary data folder and a free port of
127.0.0.1 (or, with ``--nodes N --storage postgresql://...``, N nodes sharing that database behind
HAProxy, from ``deploy/haproxy.cfg``, with the bots and the API going through its one address),
creates G games of one kind (the Beer Game unless ``--kind`` says another, a model
game's with ``--models DIR``; fixed seeds; game ``n`` plays the deterministic policy
``n % P`` of the kind's P policies in every seat, ``random`` left out), and has one bot per
seat play them over the WebSocket protocol. Meanwhile it kills the server with SIGKILL K times,
each when the games together have played a random share of their rounds (drawn from the
seeded rng, plus a few milliseconds so that some kills fall between a submit and its ack), and
starts it again on the same data after a random pause; with several nodes, each kill takes a
node (drawn from the rng among those holding games in play), and the time from the kill to the
first round closed of a game that node held is measured (the failover). The bots reconnect by
themselves. At the end it checks that every game:

- finished, with every round closed by the bots' own decisions (none defaulted);
- equals its uninterrupted twin round by round: the export's decisions replayed offline give
  the export's per-round figures and results;
- equals the same policies played offline with no crash at all (``simulate``), round by round;
- lost no acknowledged decision: every ack a bot received names the id and decision the export
  has for that round and role. A bot changes nothing once decided, so an acked decision must be
  the one the round used.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameserver.client.api import Api
from gameserver.client.link import run
from gameserver.client.teams import Team, play, progress, team_for
from gameserver.client.timing import NO_THINK, Think
from gameserver.errors import GameServerError
from gameserver.games import add_game, get_game, make_policy
from gameserver.games.models import load_folder
from gameserver.protocol import GameStatus
from gameserver.replay import replay_game
from gameserver.tools.localserver import ServerError
from gameserver.tools.nodes import Servers
from gameserver.tools.proxy import ProxyUnavailable
from gameserver.tools.simulate import simulate

KIND = "beer"
POLICIES = ("sterman", "pass-through", "benchmark")


def policies_of(kind: str) -> tuple[str, ...]:
    """The policies games of ``kind`` are played with: the Beer Game's three, or every
    policy of another kind but ``random`` (its seed would differ offline)."""
    if kind == KIND:
        return POLICIES
    return tuple(name for name in get_game(kind).policies() if name != "random")


def length_setting(kind: str) -> str:
    """The setting that says how many rounds a game of ``kind`` plays."""
    names = {spec.name for spec in get_game(kind).settings_spec}
    return "weeks" if "weeks" in names else "rounds"


def settings_for(kind: str, rounds: int) -> dict[str, int]:
    """The settings of a game of ``kind`` that plays ``rounds`` (the Beer Game announces 50
    weeks, or all of them if it plays more)."""
    settings = {length_setting(kind): rounds}
    if "weeks_announced" in {spec.name for spec in get_game(kind).settings_spec}:
        settings["weeks_announced"] = max(50, rounds)
    return settings


class ChaosError(Exception):
    """The chaos run could not be carried out (bad options, games stuck)."""


@dataclass
class ChaosResult:
    seed: int
    games: int
    kills: int
    weeks: int
    finished: int = 0
    equal_replay: int = 0
    equal_offline: int = 0
    acks_checked: int = 0
    acks_lost: int = 0
    confirmed: int = 0
    reconnects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    nodes: int = 1
    #: Seconds from each kill to the first round closed of a game the killed node held.
    failovers: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def replayed_twin(export: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The uninterrupted twin: the per-round figures and results of the export's decisions
    played offline from its settings and seed, no crash."""
    game = get_game(export["kind"])
    settings = game.validate_settings(export["settings"])
    decisions = (record["decisions"] for record in export["rounds"])
    states = replay_game(game, settings, export["seed"], decisions)
    return [game.round_summary(state) for state in states[1:]], game.results(states[-1])


def check_game(
    export: dict[str, Any], team: Team, policy: str, weeks: int, kind: str = KIND
) -> list[str]:
    """Everything wrong with one played game (nothing, if it survived the chaos)."""
    gid = team.game_id
    problems = []
    if team.error:
        problems.append(f"{gid}: a bot failed: {team.error}")
    if export["status"] != GameStatus.FINISHED:
        problems.append(f"{gid}: status {export['status']}, not finished")
    rounds = export["rounds"]
    if [r["round"] for r in rounds] != list(range(1, len(rounds) + 1)) or len(rounds) != weeks:
        problems.append(f"{gid}: rounds {[r['round'] for r in rounds]}, expected 1..{weeks}")
    defaulted = [r["round"] for r in rounds if r["defaulted"]]
    if defaulted:
        problems.append(f"{gid}: rounds closed with default decisions: {defaulted}")
    summaries, results = replayed_twin(export)
    figures = [r["summary"] for r in rounds]
    if summaries != figures or results != export["results"]:
        first = next(
            (n for n, (a, b) in enumerate(zip(summaries, figures, strict=False), 1) if a != b), None
        )
        problems.append(f"{gid}: differs from its replayed twin (first at round {first})")
    twin = simulate(kind, settings_for(kind, weeks), policy=policy, seed=export["seed"])
    offline = [row["roles"] for row in twin[twin["round_label"] + "s"]]
    if offline != figures or twin["results"] != export["results"]:
        first = next(
            (n for n, (a, b) in enumerate(zip(offline, figures, strict=False), 1) if a != b), None
        )
        problems.append(f"{gid}: differs from {policy} played offline (first at round {first})")
    for bot in team.bots:
        for round_no, (msg_id, decision) in sorted(bot.acks.items()):
            record = rounds[round_no - 1] if 0 < round_no <= len(rounds) else None
            if (
                record is None
                or record["decisions"].get(bot.role) != decision
                or record["ids"].get(bot.role) != msg_id
            ):
                used = record and (record["ids"].get(bot.role), record["decisions"].get(bot.role))
                problems.append(
                    f"{gid}: {bot.role} round {round_no}: acked {msg_id} {decision}, "
                    f"the round used {used}"
                )
    return problems


#: How long a kill waits for a node to hold a game in play (see :func:`_victim`).
VICTIM_WAIT = 15.0


async def _kill_at_moments(
    servers: Servers,
    teams: Sequence[Team],
    total: int,
    moments: Sequence[float],
    rng: random.Random,
    out: Callable[[str], None],
    deadline: float,
    failovers: list[float],
) -> int:
    """Kill and restart a server as play passes each moment (a share of all ``total``
    rounds); the number of kills made before the games were over."""
    kills = 0
    watchers: list[asyncio.Task[None]] = []
    for n, moment in enumerate(moments, start=1):
        target = max(1, int(moment * total))
        while progress(teams) < target:
            if all(team.error or all(bot.done for bot in team.bots) for team in teams):
                return kills
            if time.monotonic() > deadline:
                raise ChaosError(f"stuck at {progress(teams)}/{total} rounds before kill {n}")
            await asyncio.sleep(0.002)
        victim, held = await _victim(servers, rng, teams, total // max(1, len(teams)))
        await asyncio.sleep(rng.choice((0.0, 0.0005, 0.002, 0.005)))
        at = progress(teams)
        node = servers.nodes[victim]
        await node.kill()
        killed_at = time.monotonic()
        kills += 1
        if held:
            its = [team for team in teams if team.game_id in held]
            watchers.append(asyncio.create_task(_failover(its, killed_at, n, failovers, out)))
        down = rng.uniform(0.0, 0.4)
        await asyncio.sleep(down)
        back = await node.start(within=120.0)
        what = "SIGKILL"
        if len(servers.nodes) > 1:
            what += f" of node {victim + 1} (holding {len(held)} games)"
        out(
            f"kill {n}/{len(moments)}: {what} at {at}/{total} rounds, "
            f"down {down:.2f} s, healthy {back:.2f} s after the restart"
        )
    if watchers:
        await asyncio.gather(*watchers)
    return kills


async def _victim(
    servers: Servers, rng: random.Random, teams: Sequence[Team], weeks: int
) -> tuple[int, set[str]]:
    """The node to kill, and the games in play it holds: with several nodes, one that holds
    some with a few rounds to go. A node may hold only finished games (until they leave its
    memory), a game in its last round may end before the kill lands, and the games of a node
    killed a moment ago belong to no one until their leases lapse: so this waits (up to
    VICTIM_WAIT seconds) for a node to hold a game in play."""
    if len(servers.nodes) == 1:
        return 0, set()
    until = time.monotonic() + VICTIM_WAIT
    while True:
        playing = {
            t.game_id
            for t in teams
            if not t.error and min(bot.rounds for bot in t.bots) <= weeks - 3
        } or {t.game_id for t in teams if not all(bot.done for bot in t.bots)}
        held = [await servers.owned(n) & playing for n in range(len(servers.nodes))]
        holding = [n for n, games in enumerate(held) if games]
        if holding or not playing or time.monotonic() > until:
            break
        await asyncio.sleep(0.05)
    victim = rng.choice(holding or list(range(len(held))))
    return victim, held[victim]


async def _failover(
    teams: Sequence[Team],
    killed_at: float,
    n: int,
    failovers: list[float],
    out: Callable[[str], None],
) -> None:
    """The time from kill ``n`` to the first round any of ``teams`` (the killed node's games)
    got after it: their service restored, on another node or the same one restarted."""
    before = {team.game_id: sum(bot.rounds for bot in team.bots) for team in teams}
    live = [team for team in teams if not all(bot.done for bot in team.bots)]
    while live and time.monotonic() - killed_at < 120:
        if any(sum(bot.rounds for bot in t.bots) > before[t.game_id] for t in live):
            seconds = time.monotonic() - killed_at
            failovers.append(seconds)
            out(f"kill {n}: its games' first round closed {seconds:.2f} s after the SIGKILL")
            return
        await asyncio.sleep(0.005)


async def run_chaos(
    *,
    games: int = 8,
    kills: int = 3,
    weeks: int = 36,
    seed: int | None = None,
    think: Think = NO_THINK,
    data: Path | None = None,
    time_limit: float = 600.0,
    out: Callable[[str], None] = print,
    kind: str = KIND,
    models: Path | None = None,
    model_cache: Path | None = None,
    nodes: int = 1,
    storage: str | None = None,
    lease_seconds: float = 2.0,
) -> ChaosResult:
    """Play ``games`` games of ``kind`` with bots through ``kills`` SIGKILLs; check every game.

    A model game's kind needs ``models``, the folder the server reads it from (and this
    process has it registered too: its bots' policies run here)."""
    if seed is None:
        seed = secrets.randbelow(1 << 31)
    if games < 1 or kills < 0 or not 1 <= weeks <= 500 or not 1 <= nodes <= 16:
        raise ChaosError("games must be 1 or more, kills 0 or more, weeks 1 to 500, nodes 1 to 16")
    if nodes > 1 and not (storage or "").startswith("postgresql://"):
        raise ChaosError(
            "several nodes share a PostgreSQL database: give --storage postgresql://..."
        )
    rng = random.Random(seed)
    result = ChaosResult(seed=seed, games=games, kills=kills, weeks=weeks, nodes=nodes)
    again = f"--seed {seed} --games {games} --kills {kills} --weeks {weeks}"
    if kind != KIND:
        again += f" --kind {kind} --models {models}"
    if nodes > 1:
        again += f" --nodes {nodes} --storage URL"
    where = f" on {nodes} nodes behind HAProxy" if nodes > 1 else ""
    out(
        f"chaos: seed {seed}; {games} {kind} games x {weeks} rounds{where}, {kills} kills, "
        f"think {think} s (again: scripts/chaos {again})"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gameserver-chaos-") as scratch:
        args = ("--models", str(models)) if models is not None else ()
        env = {"GAMESERVER_MODEL_CACHE": str(model_cache)} if model_cache is not None else {}
        servers = Servers(
            data or Path(scratch),
            secrets.token_hex(24),
            count=nodes,
            storage=storage,
            lease_seconds=lease_seconds,
            args=args,
            env=env,
        )
        try:
            await servers.start(within=120.0)
            await _play_and_check(servers, result, rng, think, started + time_limit, out, kind)
        except (ChaosError, ServerError) as exc:
            result.problems.append(str(exc))
        finally:
            await servers.stop()
        if result.problems:
            out(f"server logs, last lines:\n{servers.tail(15)}")
    result.seconds = time.monotonic() - started
    _report(result, out)
    return result


async def _play_and_check(
    server: Servers,
    result: ChaosResult,
    rng: random.Random,
    think: Think,
    deadline: float,
    out: Callable[[str], None],
    kind: str = KIND,
) -> None:
    settings = settings_for(kind, result.weeks)
    roles = get_game(kind).roles(get_game(kind).validate_settings(settings))
    teams: list[Team] = []
    chosen: dict[str, str] = {}
    policies = policies_of(kind)
    async with Api(server.url, server.admin_key) as api:
        for n in range(result.games):
            policy = policies[n % len(policies)]
            created = await api.create_game(
                kind=kind,
                settings=settings,
                seed=result.seed + n,
                autostart=True,
                title=f"chaos {n + 1} {policy}",
            )
            team = team_for(
                server.url,
                created,
                {role: make_policy(kind, policy) for role in roles},
                think,
                seed=result.seed + n,
                give_up=60.0,
                max_seconds=max(1.0, deadline - time.monotonic()),
                backoff=(0.02, 1.0),
            )
            teams.append(team)
            chosen[team.game_id] = policy
    total = result.games * result.weeks
    moments = sorted(rng.uniform(0.05, 0.9) for _ in range(result.kills))
    async with asyncio.TaskGroup() as group:
        killer = group.create_task(
            _kill_at_moments(server, teams, total, moments, rng, out, deadline, result.failovers)
        )
        await play(teams)
    made = killer.result()
    if made < result.kills:
        result.problems.append(f"only {made} of {result.kills} kills before the games ended")
    bots = [bot for team in teams for bot in team.bots]
    result.reconnects = sum(bot.reconnects for bot in bots)
    result.confirmed = sum(bot.confirmed for bot in bots)
    for bot in bots:
        result.errors.update(bot.errors)
    async with Api(server.url, server.admin_key) as api:
        for team in teams:
            export = await api.export(team.game_id)
            problems = check_game(export, team, chosen[team.game_id], result.weeks, kind)
            result.problems.extend(problems)
            result.finished += export["status"] == GameStatus.FINISHED
            result.equal_replay += not any("replayed twin" in p for p in problems)
            result.equal_offline += not any("played offline" in p for p in problems)
            acked = sum(len(bot.acks) for bot in team.bots)
            result.acks_checked += acked
            result.acks_lost += sum(" acked " in p for p in problems)


def _report(result: ChaosResult, out: Callable[[str], None]) -> None:
    errors = ", ".join(f"{code} {n}" for code, n in sorted(result.errors.items())) or "none"
    out(
        f"games finished {result.finished}/{result.games}; equal to their replayed twin "
        f"{result.equal_replay}/{result.games}; equal to the policies played offline "
        f"{result.equal_offline}/{result.games}"
    )
    out(
        f"acknowledged decisions checked {result.acks_checked}, lost {result.acks_lost}; "
        f"ack lost in a crash but saved (seen in the resync) {result.confirmed}; "
        f"reconnects {result.reconnects}; errors received: {errors}"
    )
    if result.failovers:
        ordered = sorted(result.failovers)
        out(
            f"failover (SIGKILL of a node to the first round closed of its games): "
            f"p50 {ordered[len(ordered) // 2]:.2f} s, max {ordered[-1]:.2f} s over "
            f"{len(ordered)} kills"
        )
    for problem in result.problems[:50]:
        out(f"  MISMATCH {problem}")
    verdict = "OK" if result.ok else f"FAILED ({len(result.problems)} problems)"
    out(f"{verdict}: seed {result.seed}, {result.seconds:.1f} s")


def _add_models(folder: Path, cache: Path) -> None:
    """The model games of ``folder``, here too: the bots' policies run in this process."""
    games, errors = load_folder(folder, cache)
    for path, error in errors.items():
        raise ChaosError(f"{path}: {error}")
    for game in games:
        add_game(game)


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/chaos``: 0 when every game survived, 1 on any mismatch, 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="Bots play games (Beer Games unless --kind says another) while the server "
        "is killed with SIGKILL and restarted; then every game must have finished, equal its "
        "uninterrupted twin round by round, and have lost no acknowledged decision.",
    )
    parser.add_argument("--kind", default=KIND, help="the game kind (default beer)")
    parser.add_argument(
        "--models", type=Path, help="a folder of model games, for a model game's --kind"
    )
    parser.add_argument("--games", type=int, default=8, help="games (default 8)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs (default 3)")
    parser.add_argument("--weeks", type=int, default=36, help="rounds per game (default 36)")
    parser.add_argument("--seed", type=int, help="the rng seed (default: random, printed)")
    parser.add_argument(
        "--think", default="0", help="bot think time: seconds or a range 0.01-0.05 (default 0)"
    )
    parser.add_argument("--data", type=Path, help="keep the server's data here")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="server nodes behind HAProxy (default 1; 2 or more need --storage postgresql://...)",
    )
    parser.add_argument("--storage", help="storage URL for the servers (default: SQLite)")
    parser.add_argument(
        "--lease-seconds", type=float, default=2.0, help="lease time of the nodes (default 2)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    try:
        think = Think.parse(args.think)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with tempfile.TemporaryDirectory(prefix="gameserver-chaos-models-") as cache:
            if args.models is not None:
                _add_models(args.models, Path(cache))
            get_game(args.kind)  # an unknown kind: one line, exit code 2
            result = run(
                run_chaos(
                    games=args.games,
                    kills=args.kills,
                    weeks=args.weeks,
                    seed=args.seed,
                    think=think,
                    data=args.data,
                    time_limit=args.timeout,
                    kind=args.kind,
                    models=args.models,
                    model_cache=Path(cache) if args.models is not None else None,
                    nodes=args.nodes,
                    storage=args.storage,
                    lease_seconds=args.lease_seconds,
                )
            )
    except (ChaosError, ServerError, GameServerError, ProxyUnavailable) as exc:
        print(f"scripts/chaos: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1
