"""Offline simulation: play a whole game with policies in every seat, no server, no I/O.

:func:`simulate` returns one JSON-safe report; :func:`render_table` turns it into text. The
command line (``python -m gameserver simulate``) is a thin layer over both, in
:mod:`gameserver.cli`.

The report leads with the game's headline figure (``Game.headline``: the Beer Game's ``cost``)::

    {"game": "beer", "seed": 0, "settings": {...}, "policies": {role: {"policy", "params"}},
     "team_cost": 204.0, "role_cost": {"retailer": 46.0, ...}, "results": {...},
     "weeks": [{"week": 1, "team_cost": 24.0, "roles": {"retailer": {"incoming_order": 4, ...}}}]}

(``rounds``/``round`` and ``income`` for the fishery: the words follow ``Game.round_label``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameserver.errors import InvalidSettings
from gameserver.game import Game, Policy
from gameserver.games import get_game, make_policy


def choose_policies(
    game: Game,
    roles: list[str],
    policy: str | None = None,
    role_policies: Mapping[str, str] | None = None,
    params: Mapping[str, float | int] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Policy], dict[str, dict[str, Any]]]:
    """Build one policy per role and describe them.

    ``policy`` (default: the game's first) plays every role not in ``role_policies``. Each
    parameter goes to every chosen policy that has it; one that no chosen policy has is refused.
    A policy's ``seed`` parameter defaults to the game's ``seed``.
    """
    specs = game.policies()
    if not specs:
        raise InvalidSettings(f"{game.name} has no policies to simulate with")
    role_policies = dict(role_policies or {})
    params = dict(params or {})
    unknown_roles = sorted(set(role_policies) - set(roles))
    if unknown_roles:
        raise InvalidSettings(
            f"no role {unknown_roles[0]!r} in {game.name}; roles: {', '.join(roles)}"
        )
    names = {role: role_policies.get(role, policy or next(iter(specs))) for role in roles}
    used: set[str] = set()
    built: dict[str, Policy] = {}
    described: dict[str, dict[str, Any]] = {}
    for role, name in names.items():
        accepted = specs[name].params if name in specs else {}
        own = {key: value for key, value in params.items() if key in accepted}
        if "seed" in accepted and "seed" not in own:
            own["seed"] = seed
        used.update(own)
        built[role] = make_policy(game.name, name, **own)
        described[role] = {"policy": name, "params": {**accepted, **own}}
    unused = sorted(set(params) - used)
    if unused:
        chosen = ", ".join(sorted(set(names.values())))
        raise InvalidSettings(f"no chosen policy ({chosen}) has a parameter {unused[0]!r}")
    return built, described


def play(
    game: Game, settings: Mapping[str, Any], policies: Mapping[str, Policy], seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, dict[str, float | int]]]]:
    """Play to the end; return the final state and every round's summary.

    Every decision a policy makes passes ``validate_decision``, as it would on the server.
    """
    state = game.initial_state(settings, seed)
    summaries = []
    while not game.is_over(state):
        decisions = {
            role: game.validate_decision(state, role, policy(game.view(state, role)))
            for role, policy in policies.items()
        }
        state = game.step(state, decisions)
        summaries.append(game.round_summary(state))
    return state, summaries


def simulate(
    game_name: str,
    settings: Mapping[str, Any] | None = None,
    policy: str | None = None,
    role_policies: Mapping[str, str] | None = None,
    params: Mapping[str, float | int] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Play ``game_name`` with policies in every seat; return the JSON-safe report.

    Raises :class:`gameserver.errors.NotFound` for an unknown game or policy and
    :class:`gameserver.errors.InvalidSettings` for a bad setting, role or parameter.
    """
    game = get_game(game_name)
    valid = game.validate_settings(settings)
    roles = game.roles(valid)
    policies, described = choose_policies(game, roles, policy, role_policies, params, seed)
    state, summaries = play(game, valid, policies, seed)
    results = game.results(state)
    label, headline = game.round_label, game.headline or "score"
    rounds = []
    for number, summary in enumerate(summaries, start=1):
        row: dict[str, Any] = {label: number}
        if game.headline:
            row[f"team_{headline}"] = sum(figures[headline] for figures in summary.values())
        row["roles"] = summary
        rounds.append(row)
    report: dict[str, Any] = {"game": game.name, "seed": seed}
    if game.headline:
        report[f"team_{headline}"] = results["team"][headline]
        report[f"role_{headline}"] = {role: results["roles"][role][headline] for role in roles}
    report.update(
        settings=valid,
        policies=described,
        results=results,
        headline=game.headline,
        round_label=label,
    )
    report[f"{label}s"] = rounds
    return report


def render_table(report: Mapping[str, Any]) -> str:
    """The report as a text table: each role's headline figure per round, the team's, totals."""
    label, headline = report["round_label"], report["headline"]
    roles = list(report["policies"])
    plays = ", ".join(f"{role} {d['policy']}" for role, d in report["policies"].items())
    lines = [f"{report['game']}: {plays}"]
    if not headline:
        lines.append(f"{len(report[label + 's'])} {label}s played")
        return "\n".join(lines) + "\n"
    lines.append(f"{headline} per {label}")
    widths = [max(len(label), 5)] + [max(len(role), 9) for role in [*roles, "team"]]
    header = [label, *roles, "team"]
    lines.append("  ".join(text.rjust(width) for text, width in zip(header, widths, strict=True)))
    for row in report[label + "s"]:
        cells = [str(row[label])]
        cells += [_money(row["roles"][role][headline]) for role in roles]
        cells.append(_money(row[f"team_{headline}"]))
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    totals = ["total", *(_money(report[f"role_{headline}"][r]) for r in roles)]
    totals.append(_money(report[f"team_{headline}"]))
    lines.append("  ".join(c.rjust(w) for c, w in zip(totals, widths, strict=True)))
    return "\n".join(lines) + "\n"


def _money(value: float) -> str:
    return f"{value:,.2f}"
