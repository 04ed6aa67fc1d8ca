"""Teams of bots, many in one process: games created through the facilitator API, played by
one :class:`~gameserver.client.bot.Bot` per seat, and measured.

``gameserver bots`` (:mod:`gameserver.cli.bots`) and ``scripts/chaos``
(:mod:`gameserver.tools.chaos`) are thin layers over this::

    from gameserver.client.api import Api
    from gameserver.client.teams import Plan, create_teams, fetch_details, play, summarize

    async with Api("http://127.0.0.1:8000", admin_key) as api:
        plan = Plan(kind="beer", games=10, policy="sterman", seed=1)
        teams = await create_teams(api, api.url, plan)
        seconds = await play(teams)
        await fetch_details(api, teams)
        figures = summarize(teams, seconds, plan.kind)

A :class:`Team` is the bots of one game, with the :class:`RoundTimer` they share. Game ``i`` of
a plan gets the seed ``plan.seed + i``, and so do its random policies, as in
:func:`gameserver.tools.simulate.simulate`: the same plan played offline gives the same games.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gameserver.client import link
from gameserver.client.api import Api
from gameserver.client.bot import Bot
from gameserver.client.timing import NO_THINK, RoundTimer, Think
from gameserver.errors import GameServerError, InvalidSettings
from gameserver.game import Policy
from gameserver.games import choose_policies, get_game
from gameserver.protocol import GameStatus, game_of_code

_CREATE_CONCURRENCY = 16


@dataclass(frozen=True)
class Plan:
    """What to play: G games of one kind, a policy per role, think times, settings, a seed."""

    kind: str = "beer"
    games: int = 1
    policy: str | None = None
    role_policies: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, float | int] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    think: Think = NO_THINK
    role_think: Mapping[str, Think] = field(default_factory=dict)

    def roles(self) -> list[str]:
        game = get_game(self.kind)
        return game.roles(game.validate_settings(dict(self.settings)))

    def check(self) -> None:
        """Refuse a bad plan before anything is created (a :class:`GameServerError`)."""
        if not 1 <= self.games <= 100_000:
            raise InvalidSettings(f"games must be between 1 and 100000, got {self.games}")
        roles = self.roles()
        unknown = sorted(set(self.role_think) - set(roles))
        if unknown:
            raise InvalidSettings(f"no role {unknown[0]!r} in {self.kind}; roles: {roles}")
        self.policies(self.seed)

    def policies(self, seed: int) -> dict[str, Policy]:
        game = get_game(self.kind)
        built, _ = choose_policies(
            game, self.roles(), self.policy, self.role_policies, self.params, seed
        )
        return built

    def thinks(self) -> Think | dict[str, Think]:
        if not self.role_think:
            return self.think
        return {role: self.role_think.get(role, self.think) for role in self.roles()}


@dataclass
class Team:
    """The bots of one game, all in this process."""

    game_id: str
    bots: list[Bot]
    timer: RoundTimer
    token: str | None = None  # the game's facilitator token, when this process created it
    seed: int | None = None
    detail: dict[str, Any] | None = None  # the game as the API shows it once played
    error: str | None = None

    @property
    def round(self) -> int:
        return self.timer.round


def team_for(
    url: str,
    created: Mapping[str, Any],
    policies: Mapping[str, Policy],
    think: Think | Mapping[str, Think] = NO_THINK,
    *,
    seed: int = 0,
    **bot_options: Any,
) -> Team:
    """One bot per seat of a game just created (the API's game object with its join codes)."""
    links = created["join"]
    timer = RoundTimer(len(links))
    bots = [
        Bot(
            url,
            policies[link["role"]],
            join=link["code"],
            name=f"bot {link['role']}",
            think=think,
            seed=f"{seed}:{link['role']}",
            timer=timer,
            **bot_options,
        )
        for link in links
    ]
    return Team(created["game_id"], bots, timer, created.get("facilitator_token"), seed)


def teams_for_codes(
    url: str,
    codes: Sequence[str],
    policy: Policy | Mapping[str, Policy],
    think: Think | Mapping[str, Think] = NO_THINK,
    *,
    seed: int = 0,
    **bot_options: Any,
) -> list[Team]:
    """One bot per join code, grouped by game (a join code starts with its game's id)."""
    by_game: dict[str, list[str]] = {}
    for code in codes:
        by_game.setdefault(game_of_code(code.strip().upper()), []).append(code)
    teams = []
    for game_id, game_codes in by_game.items():
        timer = RoundTimer(len(game_codes))
        bots = [
            Bot(
                url,
                policy,
                join=code,
                name="bot",
                think=think,
                seed=f"{seed}:{code}:{n}",
                timer=timer,
                **bot_options,
            )
            for n, code in enumerate(game_codes)
        ]
        teams.append(Team(game_id, bots, timer, seed=seed))
    return teams


async def create_teams(api: Api, url: str, plan: Plan, **bot_options: Any) -> list[Team]:
    """Create the plan's games (running at once) and a team of bots for each."""
    plan.check()
    limit = asyncio.Semaphore(_CREATE_CONCURRENCY)
    thinks = plan.thinks()

    async def one(n: int) -> Team:
        seed = plan.seed + n
        async with limit:
            created = await api.create_game(
                kind=plan.kind,
                settings=dict(plan.settings),
                seed=seed,
                autostart=True,
                title=f"bots {n + 1}",
            )
        return team_for(url, created, plan.policies(seed), thinks, seed=seed, **bot_options)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(n)) for n in range(plan.games)]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _play_team(team: Team) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            for bot in team.bots:
                group.create_task(bot.run())
    except* Exception as failed:
        team.error = "; ".join(
            f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
            for exc in failed.exceptions
        )


async def play(teams: Sequence[Team]) -> float:
    """Run every team's bots until their games are over; seconds it took. A team whose bot
    fails is stopped (its other bots too) and keeps the reason in ``error``.

    A bot whose game is over stays connected until every bot of the run is done, and then
    they all leave: as players stay on the debrief, and so that the bots of games that end
    together do not close their connections while other games play their last round (a
    thousand closing handshakes, the server's and the bots', were half of that round's time).
    """
    started = time.perf_counter()
    bots = [bot for team in teams for bot in team.bots]
    leave = asyncio.Event()
    for bot in bots:
        bot.stay_until(leave)
    async with asyncio.TaskGroup() as group:
        for team in teams:
            group.create_task(_play_team(team))
        for bot in bots:
            await _joined_or_over(bot)
        link.settled()
        for bot in bots:
            await bot.over.wait()
        leave.set()
    return time.perf_counter() - started


async def _joined_or_over(bot: Bot) -> None:
    if bot.joined.is_set() or bot.over.is_set():
        return  # most bots, by the time the first are: not a turn of the loop each
    waits = {asyncio.ensure_future(bot.joined.wait()), asyncio.ensure_future(bot.over.wait())}
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in pending:
        wait.cancel()


async def fetch_details(api: Api, teams: Sequence[Team]) -> None:
    """Read each game from the API (status, round, results), if this process may."""
    if api.credential is None and all(team.token is None for team in teams):
        return
    limit = asyncio.Semaphore(_CREATE_CONCURRENCY)

    async def one(team: Team) -> None:
        async with limit:
            try:
                team.detail = await api.game(team.game_id, team.token)
            except GameServerError as exc:
                team.error = team.error or f"could not read the game: {exc}"

    async with asyncio.TaskGroup() as group:
        for team in teams:
            group.create_task(one(team))


def progress(teams: Sequence[Team]) -> int:
    """Rounds closed so far, summed over the teams' games."""
    return sum(team.timer.round for team in teams)


def percentiles(seconds: Sequence[float]) -> dict[str, float | int]:
    """``n``, and p50/p95/p99/max in milliseconds (nearest rank), of a list of durations."""
    if not seconds:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(seconds)
    n = len(ordered)

    def rank(p: float) -> float:
        index = min(n - 1, max(0, -(-n * p // 100) - 1))
        return round(ordered[int(index)] * 1000, 3)

    return {"n": n, "p50": rank(50), "p95": rank(95), "p99": rank(99), "max": rank(100)}


def _game_figures(team: Team, headline: str) -> dict[str, Any]:
    detail = team.detail or {}
    status = detail.get("status") or next((b.status for b in team.bots if b.status), None)
    results = detail.get("results")
    if results is None:  # no API access: the debrief of a finished game's last view
        for bot in team.bots:
            debrief = (bot.view or {}).get("debrief")
            if isinstance(debrief, dict) and f"team_{headline}" in debrief:
                results = {"team": {headline: debrief[f"team_{headline}"]}}
                break
    team_result = None
    if isinstance(results, dict) and headline:
        team_result = results.get("team", {}).get(headline)
    errors: Counter[str] = Counter()
    for bot in team.bots:
        errors.update(bot.errors)
    return {
        "game_id": team.game_id,
        "seed": team.seed,
        "status": status,
        "rounds": detail.get("round", team.timer.round),
        "total_rounds": detail.get("total_rounds"),
        f"team_{headline or 'result'}": team_result,
        "roles": {b.role: b.round for b in team.bots},
        "reconnects": sum(b.reconnects for b in team.bots),
        "errors": dict(errors),
        "failure": team.error,
    }


def summarize(teams: Sequence[Team], seconds: float, kind: str) -> dict[str, Any]:
    """Every figure of a run, JSON-safe: games, rounds, decisions, errors, reconnects and the
    two latencies (decision -> ack; last submit -> last bot of the game has the new view)."""
    headline = get_game(kind).headline
    games = [_game_figures(team, headline) for team in teams]
    bots = [bot for team in teams for bot in team.bots]
    acks = [latency for bot in bots for latency in bot.ack_latencies]
    rounds = [latency for team in teams for latency in team.timer.latencies()]
    errors: Counter[str] = Counter()
    drops: Counter[int] = Counter()
    for bot in bots:
        errors.update(bot.errors)
        drops.update(bot.drops)
    rounds_played = sum(game["rounds"] or 0 for game in games)
    return {
        "kind": kind,
        "headline": headline,
        "games": len(teams),
        "finished": sum(1 for game in games if game["status"] == GameStatus.FINISHED),
        "bots": len(bots),
        "seconds": round(seconds, 3),
        "rounds": rounds_played,
        "decisions": len(acks),
        "rounds_per_second": round(rounds_played / seconds, 1) if seconds else 0.0,
        "decisions_per_second": round(len(acks) / seconds, 1) if seconds else 0.0,
        "errors": dict(sorted(errors.items())),
        "reconnects": sum(bot.reconnects for bot in bots),
        "drops": {str(code): n for code, n in sorted(drops.items())},
        "failed_games": sum(1 for team in teams if team.error),
        "latency_ms": {
            "decision_to_ack": percentiles(acks),
            "round_to_last_view": percentiles(rounds),
        },
        "per_game": games,
    }
