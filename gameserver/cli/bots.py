"""``gameserver bots``: play games with bots over the network against a running server.

It creates G games through the facilitator API (or joins given seats), plays them with one bot
per seat in this one process, shows a progress bar on stderr, and prints a summary: games
finished, each game's team result, errors, reconnects, and the latency figures (see
docs/bots.md for what they measure). ``--json FILE`` writes every figure to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from gameserver.cli.args import add_policy_flags, pair, params_from, settings_from
from gameserver.cli.model import add_model_folder
from gameserver.client.api import Api
from gameserver.client.bot import ws_url
from gameserver.client.link import run
from gameserver.client.teams import (
    Plan,
    Team,
    create_teams,
    fetch_details,
    play,
    progress,
    summarize,
    teams_for_codes,
)
from gameserver.client.timing import NO_THINK, Think
from gameserver.errors import InvalidSettings
from gameserver.games import GAMES, get_game

_BAR = 30
_MAX_GAMES_LISTED = 50


def _think(text: str) -> Think:
    try:
        return Think.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_bots(subparsers: Any) -> None:
    """Register ``bots`` on the ``gameserver`` command line."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bots",
        help="play games with bots against a running server",
        description="Play games with bots over the WebSocket protocol against a running "
        "server: create G games through the facilitator API (or join given seats), play them "
        "to the end, and print games finished, team results, errors, reconnects and latency "
        "percentiles. Needs the admin key to create games.",
    )
    p.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the server (default %(default)s)"
    )
    p.add_argument(
        "--admin-key",
        default=os.environ.get("GAMESERVER_ADMIN_KEY"),
        help="admin key (default: GAMESERVER_ADMIN_KEY)",
    )
    p.add_argument(
        "--kind",
        default="beer",
        help=f"game kind: {', '.join(sorted(GAMES))}, or a model game of --models",
    )
    p.add_argument(
        "--models",
        type=Path,
        metavar="DIR",
        help="the folder of model games the server plays: the bots' policies run here",
    )
    p.add_argument("--games", type=int, default=1, help="games to create and play (default 1)")
    p.add_argument(
        "--join",
        nargs="+",
        default=[],
        metavar="CODE",
        help="play these seats (join codes) "
        "instead of creating games; one bot per code (repeat a game's open code to fill seats)",
    )
    add_policy_flags(p)
    p.add_argument(
        "--settings",
        "--set",
        action="append",
        type=pair,
        default=[],
        metavar="NAME=VALUE",
        help="a game setting, e.g. weeks=12 (repeatable)",
    )
    p.add_argument(
        "--think",
        type=_think,
        default=NO_THINK,
        metavar="SECONDS",
        help="think time per decision: 0.1, or a range 0.05-0.2 (default 0)",
    )
    p.add_argument("--role-think", action="append", type=pair, default=[], metavar="ROLE=SECONDS")
    p.add_argument("--seed", type=int, default=0, help="game i gets seed+i (default 0)")
    p.add_argument("--progress", action="store_true", help="progress bar even if not a TTY")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE as JSON")
    p.add_argument(
        "--timeout", type=float, default=3600.0, help="give up a game after this many seconds"
    )
    p.add_argument(
        "--give-up",
        type=float,
        default=60.0,
        help="a bot gives up after this many seconds without a connection (default 60)",
    )
    p.set_defaults(run=run_bots)


def _plan(args: argparse.Namespace) -> Plan:
    game = get_game(args.kind)
    specs = {spec.name: spec for spec in game.settings_spec}
    settings = settings_from(specs, args.settings)
    params = params_from(args.param)
    role_think = {}
    for role, text in args.role_think:
        try:
            role_think[role] = Think.parse(text)
        except ValueError as exc:
            raise InvalidSettings(f"--role-think {role}: {exc}") from None
    plan = Plan(
        kind=game.name,
        games=args.games,
        policy=args.policy,
        role_policies=dict(args.role_policy),
        params=params,
        settings=settings,
        seed=args.seed,
        think=args.think,
        role_think=role_think,
    )
    plan.check()
    return plan


def run_bots(args: argparse.Namespace) -> int:
    try:
        url = ws_url(args.url)
    except ValueError as exc:
        raise InvalidSettings(f"bad --url: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="gameserver-models-") as cache:
        if args.models is not None:
            add_model_folder(args.models, Path(cache))
        plan = _plan(args)
    if not args.join and not args.admin_key:
        raise InvalidSettings("creating games needs --admin-key or GAMESERVER_ADMIN_KEY")
    if args.timeout <= 0 or args.give_up <= 0:
        raise InvalidSettings("--timeout and --give-up must be positive")
    _raise_file_limit()
    show = args.progress or sys.stderr.isatty()
    figures = run(_run(args, plan, url, show))
    print(render(figures), end="")
    if args.json:
        with open(args.json, "wb") as out:
            out.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    ok = figures["finished"] == figures["games"] and not figures["failed_games"]
    return 0 if ok else 1


async def _run(args: argparse.Namespace, plan: Plan, url: str, show: bool) -> dict[str, Any]:
    options = {"give_up": args.give_up, "max_seconds": args.timeout}
    async with Api(args.url, args.admin_key) as api:
        await api.health()
        if args.join:
            # the role of a seat is known once the server welcomes its bot: one policy per role
            policies = plan.policies(plan.seed)
            teams = teams_for_codes(
                url, args.join, policies, plan.thinks(), seed=plan.seed, **options
            )
            total = None
        else:
            teams = await create_teams(api, url, plan, **options)
            total = plan.games * _total_rounds(plan)
        bar = asyncio.create_task(_progress(teams, total, sys.stderr)) if show else None
        try:
            seconds = await play(teams)
        finally:
            if bar is not None:
                bar.cancel()
                await asyncio.gather(bar, return_exceptions=True)
                _draw(sys.stderr, progress(teams), total, end="\n")
        await fetch_details(api, teams)
    figures = summarize(teams, seconds, plan.kind)
    figures["plan"] = {
        "url": args.url,
        "joined": list(args.join),
        "policy": plan.policy or next(iter(get_game(plan.kind).policies()), None),
        "role_policies": dict(plan.role_policies),
        "params": dict(plan.params),
        "settings": dict(plan.settings),
        "seed": plan.seed,
        "think": str(plan.think),
        "role_think": {role: str(think) for role, think in plan.role_think.items()},
    }
    return figures


def _total_rounds(plan: Plan) -> int:
    game = get_game(plan.kind)
    state = game.initial_state(game.validate_settings(dict(plan.settings)), 0)
    return game.total_rounds(state) or 0


async def _progress(teams: Sequence[Team], total: int | None, out: TextIO) -> None:
    for _ in range(10_000_000):  # stopped by the caller; bounded all the same
        _draw(out, progress(teams), total)
        await asyncio.sleep(0.25)


def _draw(out: TextIO, done: int, total: int | None, end: str = "") -> None:
    if total:
        filled = min(_BAR, done * _BAR // total)
        out.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total} rounds{end}")
    else:
        out.write(f"\r{done} rounds{end}")
    out.flush()


def render(figures: dict[str, Any]) -> str:
    """The summary as text: totals, errors, reconnects, latency table, per-game results."""
    kind, headline = figures["kind"], figures["headline"] or "result"
    seconds = figures["seconds"]
    plan = figures.get("plan", {})
    lines = [
        f"{figures['finished']}/{figures['games']} {kind} games finished, {figures['bots']} bots "
        f"(policy {plan.get('policy')}, think {plan.get('think')} s), {seconds:.1f} s",
        f"{figures['rounds']} rounds ({figures['rounds_per_second']:,.0f}/s), "
        f"{figures['decisions']} decisions acknowledged ({figures['decisions_per_second']:,.0f}/s)",
        "errors: "
        + (", ".join(f"{code} {n}" for code, n in figures["errors"].items()) or "none")
        + f"; reconnects: {figures['reconnects']}"
        + "".join(f", {n} dropped with {code}" for code, n in figures["drops"].items())
        + f"; failed games: {figures['failed_games']}",
        "",
        f"{'latency (ms)':<28}{'n':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    names = {
        "decision_to_ack": "decision -> ack",
        "round_to_last_view": "round close -> last view",
    }
    for key, label in names.items():
        f = figures["latency_ms"][key]
        lines.append(
            f"{label:<28}{f['n']:>8}{f['p50']:>9.2f}{f['p95']:>9.2f}{f['p99']:>9.2f}"
            f"{f['max']:>9.2f}"
        )
    lines.append("")
    games = figures["per_game"]
    lines.append(f"{'game':<10} {'status':<9} {'rounds':>6} {'team ' + headline:>14}  notes")
    for game in games[:_MAX_GAMES_LISTED]:
        value = game[f"team_{headline}"]
        shown = f"{value:,.2f}" if isinstance(value, int | float) else "-"
        notes = game["failure"] or ""
        if game["reconnects"]:
            notes = f"{game['reconnects']} reconnects {notes}".strip()
        lines.append(
            f"{game['game_id']:<10} {game['status'] or '-':<9} {game['rounds']:>6} "
            f"{shown:>14}  {notes}"
        )
    if len(games) > _MAX_GAMES_LISTED:
        lines.append(f"... and {len(games) - _MAX_GAMES_LISTED} more (all in --json)")
    values = sorted(v for g in games if isinstance(v := g[f"team_{headline}"], int | float))
    if len(values) > 1:
        lines.append(
            f"team {headline}: min {values[0]:,.2f}, median {values[len(values) // 2]:,.2f}, "
            f"max {values[-1]:,.2f}"
        )
    return "\n".join(lines) + "\n"


def _raise_file_limit() -> None:
    """Thousands of bots need thousands of sockets: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
