"""What the pages show of a game: its declarations, so that no page needs to know any game.

Every game declares a :class:`Display`: the word for a round, the figures of a role's view with
labels and units, the decision inputs with their ranges, notes shown when a view flag is set,
the charts of the player page and of the debrief, each role's name and briefing, and the score.
``GET /api/kinds`` sends it as JSON (:meth:`Display.describe`); the player page, the debrief and
the dashboard draw any game from it and from the views the game makes.

Paths. A figure, series or score names a value of a view by a dotted path (``inventory``,
``history.order``, ``team_cost``). A debrief chart with ``per_role`` draws one line per role:
the path is read in each role's entry of the facilitator view's ``roles_at`` mapping
(``roles.retailer.history.order``).

Texts. A label, note or briefing may hold ``{path}``, replaced by that view value
(``This week every order is {forced_order}``), and ``{path|min}``, ``{path|max}``,
``{path|first}`` or ``{path|last}`` of a list.

Ranges. A decision's ``maximum`` (or ``minimum``) may come from the view instead:
``maximum_from="max_order"`` reads the view's ``max_order`` (the Beer Game's largest order is a
setting). The page checks a decision as the server will: a number within the range, whole when
``whole`` is set; the server's refusal is shown if the two ever disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["number", "money", "percent"]


def _clean(out: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is not set, so that the JSON says only what a game declared."""
    return {key: value for key, value in out.items() if value not in (None, "", (), [], {})}


@dataclass(frozen=True)
class Figure:
    """One number of a role's view: ``key`` is its path, shown as ``label`` in ``unit``."""

    key: str
    label: str
    unit: str = ""
    format: Format = "number"

    def describe(self) -> dict[str, Any]:
        return _clean(
            {"key": self.key, "label": self.label, "unit": self.unit, "format": self.format}
        )


@dataclass(frozen=True)
class DecisionInput:
    """One input of the decision box: the decision's ``key`` and how it is asked for."""

    key: str
    label: str
    unit: str = ""
    minimum: float = 0
    maximum: float | None = None
    #: A view path whose value is the maximum (the Beer Game's ``max_order``), over ``maximum``.
    maximum_from: str = ""
    minimum_from: str = ""
    whole: bool = True
    default: float | None = None
    help: str = ""

    def describe(self) -> dict[str, Any]:
        out = _clean(
            {
                "key": self.key,
                "label": self.label,
                "unit": self.unit,
                "maximum_from": self.maximum_from,
                "minimum_from": self.minimum_from,
                "help": self.help,
            }
        )
        out.update(minimum=self.minimum, whole=self.whole)
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class Note:
    """A sentence shown while the view's ``when`` path is true (always, if ``when`` is empty)."""

    text: str
    when: str = ""

    def describe(self) -> dict[str, Any]:
        return _clean({"text": self.text, "when": self.when})


@dataclass(frozen=True)
class Series:
    """One line of a chart: the list at path ``key``, named ``label``."""

    key: str
    label: str

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label}


@dataclass(frozen=True)
class Chart:
    """A line chart over rounds. ``per_role``: one line per role, read at this path in each
    role's entry (debrief only); ``series``: fixed lines. ``start`` is the round of the first
    value (0 when the first value is the level before round 1)."""

    title: str
    series: tuple[Series, ...] = ()
    per_role: str = ""
    unit: str = ""
    start: int = 1

    def describe(self) -> dict[str, Any]:
        out = _clean(
            {
                "title": self.title,
                "series": [s.describe() for s in self.series],
                "per_role": self.per_role,
                "unit": self.unit,
            }
        )
        out["start"] = self.start
        return out


@dataclass(frozen=True)
class Column:
    """A column of the debrief's table: a number at ``key`` in each role's entry, or a
    statistic (``range`` or ``std``) of the list at ``key``."""

    key: str
    label: str
    format: Format = "number"
    stat: Literal["", "range", "std"] = ""

    def describe(self) -> dict[str, Any]:
        return _clean(
            {"key": self.key, "label": self.label, "format": self.format, "stat": self.stat}
        )


@dataclass(frozen=True)
class Debrief:
    """The end-of-game page, drawn from the facilitator view.

    ``roles_at`` is the path of the mapping from role to that role's entry; ``score`` the path
    of a role's score in its entry and ``team_score`` the team's in the view; ``lead`` the
    sentences above the charts; ``columns`` the table below them (the score comes first).
    """

    roles_at: str
    score: str
    team_score: str
    charts: tuple[Chart, ...] = ()
    columns: tuple[Column, ...] = ()
    lead: tuple[Note, ...] = ()
    #: The path of each role's decisions, for the swing of decisions the dashboard compares.
    decisions: str = ""
    #: The path of each role's score in each round (a list): the class's charts add the roles'
    #: up into the team's score per round, so that teams of different lengths compare.
    per_round: str = ""

    def describe(self) -> dict[str, Any]:
        return _clean(
            {
                "roles_at": self.roles_at,
                "score": self.score,
                "team_score": self.team_score,
                "charts": [c.describe() for c in self.charts],
                "columns": [c.describe() for c in self.columns],
                "lead": [n.describe() for n in self.lead],
                "decisions": self.decisions,
                "per_round": self.per_round,
            }
        )


@dataclass(frozen=True)
class Score:
    """How a player is scored: the label and format of ``Game.headline``; ``better`` says
    whether a lower or a higher figure wins (a cost, an income)."""

    label: str
    format: Format = "number"
    better: Literal["lower", "higher"] = "higher"

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "format": self.format, "better": self.better}


@dataclass(frozen=True)
class Display:
    """Everything the pages show of one game kind (see the module docstring)."""

    round_word: str = "round"
    figures: tuple[Figure, ...] = ()
    decisions: tuple[DecisionInput, ...] = ()
    notes: tuple[Note, ...] = ()
    charts: tuple[Chart, ...] = ()
    debrief: Debrief | None = None
    score: Score | None = None
    #: The same for every role, above the role's own briefing.
    briefing: str = ""
    #: Per role (or ``*`` for every role not named): its briefing; ``{role}`` is its name.
    role_briefings: Mapping[str, str] = field(default_factory=dict)
    #: Per role: the name shown for it; others are the role's id, capitalised.
    role_labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "round_word": self.round_word,
            "figures": [f.describe() for f in self.figures],
            "decisions": [d.describe() for d in self.decisions],
            "notes": [n.describe() for n in self.notes],
            "charts": [c.describe() for c in self.charts],
            "debrief": self.debrief.describe() if self.debrief else None,
            "score": self.score.describe() if self.score else None,
            "briefing": self.briefing,
            "role_briefings": dict(self.role_briefings),
            "role_labels": dict(self.role_labels),
        }
        return out
