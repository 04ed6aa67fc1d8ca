"""The ``gameserver`` command line: one function per subcommand, each adding its own subparser.

Add a subcommand by writing ``add_<name>(subparsers)``, which registers a parser and sets
``run`` to a function ``(args) -> int``, and calling it from :func:`build_parser`. A
:class:`GameServerError` raised by ``run`` becomes one line on stderr and exit code 2, like
every usage error: no tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from gameserver.cli.args import (
    add_policy_flags,
    flag,
    number,
    pair,
    params_from,
    setting_value,
    settings_from,
)
from gameserver.cli.backup import add_backup
from gameserver.cli.bots import add_bots
from gameserver.cli.model import add_model, add_model_file, add_model_folder
from gameserver.cli.serve import add_serve
from gameserver.errors import GameServerError
from gameserver.games import GAMES, get_game
from gameserver.tools.simulate import render_table, simulate

Subparsers = Any  # argparse's _SubParsersAction is private; nothing typed to name here


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gameserver", description="A server for multiplayer round-based simulation games."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    add_serve(subparsers)
    add_simulate(subparsers)
    add_bots(subparsers)
    add_backup(subparsers)
    add_model(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except GameServerError as exc:
        print(f"gameserver {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader left (`... | head`): point stdout at devnull so that the interpreter's
        # final flush does not raise again, and exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# -- simulate -----------------------------------------------------------------------------


def add_simulate(subparsers: Subparsers) -> None:
    """``simulate GAME``: play a whole game with policies, print costs per round and totals."""
    parser = subparsers.add_parser(
        "simulate",
        help="play a whole game offline with policies in every seat",
        description="Play a whole game offline with a policy in every seat and print each "
        "role's and the team's figures per round and in total. Every game setting and policy "
        "parameter has a flag; --set and --param take any NAME=VALUE.",
    )
    parser.add_argument(
        "game",
        help=f"one of: {', '.join(sorted(GAMES))}; a model game of --models; or the path of a "
        "model game's description (.toml, .json)",
    )
    parser.add_argument(
        "--models", type=Path, metavar="DIR", help="add the model games of this folder"
    )
    add_policy_flags(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="the game's seed, and random policies' (default 0)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--set", action="append", type=pair, default=[], metavar="NAME=VALUE", help="a setting"
    )
    settings = parser.add_argument_group("game settings (each applies to the games named)")
    seen: dict[str, list[str]] = {}
    for game in GAMES.values():
        for spec in game.settings_spec:
            if spec.name not in seen:
                seen[spec.name] = [spec.label or spec.name.replace("_", " ")]
            seen[spec.name].append(f"{game.name} default {spec.default}")
    for name, (label, *defaults) in seen.items():
        settings.add_argument(
            flag(name),
            dest=f"setting:{name}",
            metavar="VALUE",
            help=f"{label} ({'; '.join(defaults)})",
        )
    params = parser.add_argument_group(
        "policy parameters (each applies to the policies named; their defaults shown)"
    )
    owners: dict[str, list[str]] = {}
    for game in GAMES.values():
        for policy in game.policies().values():
            for param, default in policy.params.items():
                if param != "seed" and param not in seen:
                    owners.setdefault(param, []).append(f"{game.name} {policy.name} {default}")
    for name, policies in owners.items():
        params.add_argument(
            flag(name), dest=f"param:{name}", type=number, metavar="N", help=", ".join(policies)
        )
    parser.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="gameserver-models-") as cache:
        name = args.game
        if args.models is not None:
            add_model_folder(args.models, Path(cache))
        if name.endswith((".toml", ".json")):
            name = add_model_file(Path(name), Path(cache))
        return _simulate(args, name)


def _simulate(args: argparse.Namespace, name: str) -> int:
    game = get_game(name)
    specs = {spec.name: spec for spec in game.settings_spec}
    raw_settings: dict[str, Any] = {}
    params: dict[str, float | int] = {}
    for dest, value in vars(args).items():
        if value is None:
            continue
        if dest.startswith("setting:"):
            name = dest.removeprefix("setting:")
            raw_settings[name] = setting_value(specs.get(name), value)
        elif dest.startswith("param:"):
            params[dest.removeprefix("param:")] = value
    raw_settings.update(settings_from(specs, args.set))
    params.update(params_from(args.param))
    report = simulate(
        game.name,
        raw_settings,
        policy=args.policy,
        role_policies=dict(args.role_policy),
        params=params,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(report, separators=(",", ":")))
    else:
        print(render_table(report), end="")
    return 0
