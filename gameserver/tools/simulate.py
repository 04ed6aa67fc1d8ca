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

from collections.abc import Iterator, Mapping
from typing import Any

from gameserver.game import Decision, Game, Policy
from gameserver.games import choose_policies, get_game
from gameserver.replay import replay


def play(
    game: Game, settings: Mapping[str, Any], policies: Mapping[str, Policy], seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, dict[str, float | int]]]]:
    """Play to the end; return the final state and every round's summary.

    Every decision a policy makes passes ``validate_decision``, as it would on the server.
    """
    states = [game.initial_state(settings, seed)]

    def decide() -> Iterator[dict[str, Decision]]:
        # Lazy: each round's decisions come from the state the previous round left.
        while not game.is_over(state := states[-1]):
            yield {
                role: game.validate_decision(state, role, policy(game.view(state, role)))
                for role, policy in policies.items()
            }

    states.extend(replay(game, states[0], decide()))
    return states[-1], [game.round_summary(state) for state in states[1:]]


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
