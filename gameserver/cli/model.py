"""``gameserver model check``: an author's first run of a model game, before any server.

    gameserver model check examples/models/beer/beer.xmile --game examples/models/beer/beer.toml

It reads and checks the model (the same checks as a server's: no entity, no other file, no
module, no random function), lists its variables, checks the description against them, and
plays one round with every decision at its default, printing each role's view. Errors name the
file and the variable, line or field, and exit with code 2.

``--models DIR`` (here and on ``simulate`` and ``bots``) adds the model games of a folder, so
that they can be named like built-in games; ``simulate`` also takes a description's path as
the game.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from gameserver.errors import InvalidModel
from gameserver.games import add_game
from gameserver.games.models import ModelGame, load, load_folder
from gameserver.games.models.files import MAX_MODEL_BYTES, check_model, read_limited


def add_model(subparsers: Any) -> None:
    """Register ``model check`` on the ``gameserver`` command line."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "model", help="check a model game (a model file and its description)"
    )
    commands = p.add_subparsers(dest="model_command", metavar="command", required=True)
    check = commands.add_parser(
        "check",
        help="list a model's variables, check its description, play one round with defaults",
        description="Check a model file (XMILE .xmile/.stmx/.itmx or Vensim .mdl) and the game "
        "description that makes it a game: list the model's variables, check every name the "
        "description uses, and play one round with the default decisions. Compiling a model "
        "runs code generated from it: check only models you trust.",
    )
    check.add_argument("model", type=Path, help="the model file")
    check.add_argument("--game", type=Path, required=True, help="the description (.toml, .json)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    model: Path = args.model
    description: Path = args.game
    check_model(model.name, read_limited(model, MAX_MODEL_BYTES))
    if model.resolve() != (description.parent / model.name).resolve():
        raise InvalidModel(
            f"{description.name}: its model must be beside it; {model} is not in "
            f"{description.parent}"
        )
    with tempfile.TemporaryDirectory(prefix="gameserver-model-") as cache:
        game = load(description, Path(cache))
        if game.described.model != model.name:
            raise InvalidModel(
                f"{description.name}: model: names {game.described.model!r}, not {model.name!r}"
            )
        report = check_report(game)
    if args.json:
        print(json.dumps(report, separators=(",", ":")))
    else:
        print(render_check(report), end="")
    return 0


def check_report(game: ModelGame) -> dict[str, Any]:
    """What ``model check`` found: the model, its variables, and one round with defaults."""
    settings = game.validate_settings({})
    state = game.initial_state(settings, 0)
    roles = game.roles(settings)
    decisions = {role: game.default_decision(state, role) for role in roles}
    after = game.step(state, decisions)
    used = set(game.variables.values())
    return {
        "game": game.name,
        "title": game.title,
        "model": game.described.model,
        "dt": game.model.dt,
        "start": game.model.start,
        "stop": game.model.stop,
        "steps_per_round": game.steps,
        "roles": roles,
        "settings": settings,
        "variables": [
            {"name": v.name, "kind": v.kind, "units": v.units, "used": v.name in used}
            for v in sorted(game.model.variables.values(), key=lambda v: v.name.casefold())
        ],
        "decisions": decisions,
        "views": {role: _flat(game.view(after, role)) for role in roles},
        "results": game.results(after),
    }


def _flat(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if not isinstance(v, dict | list)}


def render_check(report: dict[str, Any]) -> str:
    lines = [
        f"{report['game']}: {report['title']}",
        f"model {report['model']}: dt {report['dt']:g}, time {report['start']:g} to "
        f"{report['stop']:g}, {report['steps_per_round']} steps of dt per round",
        f"roles: {', '.join(report['roles'])}",
        f"variables ({len(report['variables'])}; * used by the description):",
    ]
    for v in report["variables"]:
        mark = "*" if v["used"] else " "
        units = f" [{v['units']}]" if v["units"] else ""
        lines.append(f"  {mark} {v['name']} ({v['kind']}){units}")
    lines.append("one round with the default decisions:")
    for role, decision in report["decisions"].items():
        figures = ", ".join(f"{k} {v}" for k, v in report["views"][role].items())
        lines.append(f"  {role} decides {decision}: {figures}")
    lines.append("OK")
    return "\n".join(lines) + "\n"


def add_model_folder(folder: Path, cache: Path) -> list[str]:
    """Add every model game of ``folder`` to the registry of this process; their names.
    A description that does not load stops the command with its error."""
    games, errors = load_folder(folder, cache)
    for path, error in errors.items():
        raise InvalidModel(f"{path}: {error}" if str(path) not in error else error)
    for game in games:
        add_game(game)
    return [game.name for game in games]


def add_model_file(description: Path, cache: Path) -> str:
    """Add the model game a description file makes; its name."""
    game = load(description, cache)
    add_game(game)
    return game.name
