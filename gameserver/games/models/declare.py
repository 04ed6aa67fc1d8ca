"""What a model game declares, made from its description: the pages' display and its policies.

Policies: every model game has ``default`` (the decision a round would use without one) and
``random`` (uniform within each decision's range, from a seed, the role and the round). A
description may also borrow a built-in game's policy by name (``use = "beer.benchmark"``) when
its views carry the figures that policy reads (docs/models.md says which).
"""

from __future__ import annotations

from collections.abc import Callable

from gameserver.display import (
    Chart,
    Column,
    Debrief,
    DecisionInput,
    Display,
    Figure,
    Note,
    Score,
    Series,
)
from gameserver.errors import InvalidModel
from gameserver.game import Decision, Policy, PolicySpec, View
from gameserver.games import beer_policies, chance, fishery_policies
from gameserver.games.models.description import ChartSpec, Description

#: Built-in policies a model game may borrow, by ``<game>.<policy>``.
BORROWABLE: dict[str, PolicySpec] = {
    **{f"beer.{name}": spec for name, spec in beer_policies.POLICIES.items()},
    **{f"fishery.{name}": spec for name, spec in fishery_policies.POLICIES.items()},
}
_SEED = (0, 2**53 - 1)


def _history(path: str) -> str:
    return f"history.{path}"


def _chart(spec: ChartSpec, per_role_prefix: str) -> Chart:
    return Chart(
        title=spec.title,
        series=tuple(Series(per_role_prefix + s.figure, s.label) for s in spec.series),
        per_role=_history(spec.per_role) if spec.per_role else "",
        unit=spec.unit,
        start=spec.start,
    )


def display(d: Description) -> Display:
    """The declarations the pages draw this game from."""
    figures = tuple(
        Figure(f.key, f.label or f.key.replace("_", " ").capitalize(), f.unit, f.format)
        for f in d.figures
        if f.show
    )
    decisions = tuple(
        DecisionInput(
            x.key, x.label, x.unit, minimum=x.minimum,
            maximum=None if x.maximum_setting else x.maximum,
            maximum_from=f"max_{x.key}" if x.maximum_setting else "",
            whole=x.whole, default=x.default, help=x.help,
        )
        for x in d.decisions
    )  # fmt: skip
    score = Score(d.score_label, d.score_format, d.better)
    lead = tuple(Note(n.text, n.when) for n in d.debrief_lead)
    debrief = Debrief(
        roles_at="roles",
        score="score",
        team_score="team_score",
        charts=tuple(_chart(c, "") for c in d.debrief_charts),
        columns=(
            Column("score", d.score_label, d.score_format),
            Column(
                _history(d.decisions[0].key),
                f"{d.decisions[0].label}: lowest to highest",
                stat="range",
            ),
            Column(_history(d.decisions[0].key), "Standard deviation", stat="std"),
        ),
        lead=lead,
        decisions=_history(d.decisions[0].key),
        per_round="history.score_change" if d.score_adds_up else "",
    )
    roles = {r.id: r for r in d.roles}
    briefings = {rid: r.briefing for rid, r in roles.items() if r.briefing}
    if d.players is not None and d.players.briefing:
        briefings["*"] = d.players.briefing
    labels = {rid: r.label for rid, r in roles.items() if r.label}
    return Display(
        round_word=d.round_word,
        figures=figures,
        decisions=decisions,
        notes=tuple(Note(n.text, n.when) for n in d.notes),
        charts=tuple(_chart(c, "history.") for c in d.charts),
        debrief=debrief,
        score=score,
        briefing=d.briefing,
        role_briefings=briefings,
        role_labels=labels,
    )


def default_policy() -> Policy:
    """Decide what the round would use without a decision (the view's ``decide`` defaults)."""

    def policy(view: View) -> Decision:
        return {key: limits["default"] for key, limits in view["decide"].items()}

    return policy


def random_policy(seed: int = 0) -> Policy:
    """Each decision uniform within its range (whole when it must be), from seed, role and
    round: the same draw in any process."""

    def policy(view: View) -> Decision:
        out: Decision = {}
        for key, limits in view["decide"].items():
            low, high = limits["minimum"], limits["maximum"]
            if limits["whole"]:
                out[key] = chance.integer(
                    seed, int(low), int(high), "model", view["role"], view["round"], key
                )
            else:
                draw = chance.uniform(seed, "model", view["role"], view["round"], key)
                out[key] = low + draw * (high - low)
        return out

    return policy


GENERIC: dict[str, PolicySpec] = {
    "default": PolicySpec("default", "The decision a round uses without one.", default_policy),
    "random": PolicySpec(
        "random",
        "Each decision uniform within its range, determined by seed, role and round.",
        random_policy,
        {"seed": 0},
        {"seed": _SEED},
    ),
}


def policies(d: Description) -> dict[str, PolicySpec]:
    """The description's borrowed policies first (the first is the simulator's default), then
    ``default`` and ``random``."""
    out: dict[str, PolicySpec] = {}
    for i, ref in enumerate(d.policies):
        borrowed = BORROWABLE.get(ref.use)
        if borrowed is None:
            raise InvalidModel(
                f"{d.name}: policies[{i}].use: no policy {ref.use!r}; "
                f"one of {', '.join(sorted(BORROWABLE))}"
            )
        make: Callable[..., Policy] = borrowed.make
        out[ref.name] = PolicySpec(
            ref.name, ref.help or borrowed.help, make, borrowed.params, borrowed.ranges
        )
    for name, spec in GENERIC.items():
        out.setdefault(name, spec)
    return out
