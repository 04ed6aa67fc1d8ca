"""A model game's description: a TOML (or JSON) file beside the model that makes it a game.

docs/models.md documents every field with an example; this module reads one into typed,
checked values, and refuses anything wrong with :class:`InvalidModel` naming the file and the
field (``beer.toml: decisions[0].maximum: must be a number, got 'many'``), or the line of a
syntax error. It reads text only: nothing here touches the model or runs anything.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from typing import Literal

from gameserver.errors import InvalidModel
from gameserver.games.models.reader import Reader

NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
MODEL_SUFFIXES = (".xmile", ".stmx", ".itmx", ".mdl")
#: What a round's row (its summary, the CSV) holds: the figures after the round is played, or
#: those its decisions were made on (the board game's order: a week's figures, then its order).
Report = Literal["after", "before"]


@dataclass(frozen=True)
class Role:
    id: str
    label: str
    #: What ``{role}`` stands for in this role's variable names (``Retailer``, ``Fleet 2``).
    model: str
    briefing: str = ""


@dataclass(frozen=True)
class Players:
    """Roles counted from a setting: ``{n}`` in ``id``, ``label`` and ``model`` is 1..count."""

    setting: str
    id: str
    label: str
    model: str
    minimum: int
    maximum: int
    default: int
    briefing: str = ""


@dataclass(frozen=True)
class Decision:
    key: str
    variable: str
    label: str
    unit: str = ""
    minimum: float = 0
    maximum: float = 1_000_000
    maximum_setting: str = ""
    whole: bool = True
    default: float = 0
    missing: str = "default"  # "default", "last", or a number as text
    help: str = ""


@dataclass(frozen=True)
class FigureSpec:
    """A value of the views: a model variable (``{role}`` makes it each role's own), a setting,
    or the role's last decision; ``show`` puts it in the figures list of the player page."""

    key: str
    label: str
    variable: str = ""
    setting: str = ""
    decision: str = ""
    unit: str = ""
    over: Literal["end", "total", "mean"] = "end"
    format: Literal["number", "money", "percent"] = "number"
    show: bool = True

    @property
    def per_role(self) -> bool:
        return "{role}" in self.variable


@dataclass(frozen=True)
class SettingSpec:
    name: str
    variable: str
    kind: Literal["int", "float"]
    default: float
    minimum: float
    maximum: float
    label: str = ""
    help: str = ""


@dataclass(frozen=True)
class SeriesSpec:
    figure: str
    label: str


@dataclass(frozen=True)
class ChartSpec:
    title: str
    series: tuple[SeriesSpec, ...] = ()
    per_role: str = ""
    unit: str = ""
    start: int = 1


@dataclass(frozen=True)
class NoteSpec:
    text: str
    when: str = ""


@dataclass(frozen=True)
class PolicyRef:
    name: str
    use: str
    help: str = ""


@dataclass(frozen=True)
class Description:
    """A checked description; model variable names are checked against the model later."""

    name: str
    title: str
    model: str
    round_word: str
    rounds: int
    rounds_maximum: int
    announced: int | None
    round_length: float
    warm_up: int
    report: Report
    step_timeout: float
    roles: tuple[Role, ...]
    players: Players | None
    decisions: tuple[Decision, ...]
    figures: tuple[FigureSpec, ...]
    facilitator: tuple[FigureSpec, ...]
    settings: tuple[SettingSpec, ...]
    score_variable: str
    score_key: str
    score_label: str
    score_format: Literal["number", "money", "percent"]
    better: Literal["lower", "higher"]
    team_variable: str
    #: The score adds up over the rounds (a total cost): its change each round is the round's
    #: score, for a class's charts.
    score_adds_up: bool
    charts: tuple[ChartSpec, ...]
    debrief_charts: tuple[ChartSpec, ...]
    debrief_lead: tuple[NoteSpec, ...]
    notes: tuple[NoteSpec, ...]
    briefing: str
    policies: tuple[PolicyRef, ...]


def parse(text: str, source: str) -> Description:
    """Read a description (TOML, or JSON when ``source`` ends in ``.json``)."""
    try:
        data = json.loads(text) if source.endswith(".json") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidModel(f"{source}: line {exc.lineno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidModel(f"{source}: {exc}") from None
    top = Reader(source, "", data)
    name = top.text("name")
    if not NAME.fullmatch(name):
        raise top.fail("name", f"must be lowercase letters, digits and dashes, got {name!r}")
    model = top.text("model")
    if "/" in model or "\\" in model or not model.lower().endswith(MODEL_SUFFIXES):
        raise top.fail(
            "model",
            f"must be a file name beside the description ending in {', '.join(MODEL_SUFFIXES)}, "
            f"got {model!r}",
        )
    time = top.table("time") or Reader(source, "time", {})
    round_length = time.number("round", 1.0)
    if not round_length > 0:
        raise time.fail("round", f"must be more than 0, got {round_length}")
    rounds = time.whole("rounds", low=1, high=10_000)
    rounds_max = time.whole("rounds_maximum", rounds, low=rounds, high=10_000)
    announced = time.optional_whole("announced", low=rounds, high=100_000)
    warm_up = time.whole("warm_up", 0, high=100)
    report = time.choice("report", ("after", "before"), "after")
    timeout = time.number("step_timeout", 10.0)
    if not 0 < timeout <= 600:
        raise time.fail("step_timeout", f"must be more than 0 and at most 600, got {timeout}")
    time.done()
    roles, players = _roles(top)
    settings = tuple(_setting(r) for r in top.tables("settings"))
    decisions = tuple(_decision(r) for r in top.tables("decisions"))
    if not decisions:
        raise top.fail("decisions", "a game needs at least one decision")
    figures = tuple(_figure(r) for r in top.tables("figures"))
    facilitator = tuple(_figure(r) for r in top.tables("facilitator"))
    score = top.table("score")
    if score is None:
        raise top.fail("score", "is required: the model variable that scores each role")
    description = Description(
        name=name,
        title=top.text("title"),
        model=model,
        round_word=top.text("round_word", "round"),
        rounds=rounds,
        rounds_maximum=rounds_max,
        announced=announced,
        round_length=round_length,
        warm_up=warm_up,
        report=report,  # type: ignore[arg-type]
        step_timeout=timeout,
        roles=roles,
        players=players,
        decisions=decisions,
        figures=figures,
        facilitator=facilitator,
        settings=settings,
        score_variable=score.text("variable"),
        score_key=score.text("key", "score"),
        score_label=score.text("label", "Score"),
        score_format=score.choice("format", ("number", "money", "percent"), "number"),  # type: ignore[arg-type]
        better=score.choice("better", ("lower", "higher"), "higher"),  # type: ignore[arg-type]
        team_variable=score.text("team", ""),
        score_adds_up=bool(score.get("adds_up", bool, False, "true or false")),
        charts=tuple(_chart(r) for r in top.tables("charts")),
        debrief_charts=(),
        debrief_lead=(),
        notes=tuple(_note(r) for r in top.tables("notes")),
        briefing=top.text("briefing", ""),
        policies=tuple(_policy(r) for r in top.tables("policies")),
    )
    score.done()
    debrief = top.table("debrief")
    if debrief is not None:
        description = _with_debrief(description, debrief)
    top.done()
    _check_references(description, top)
    return description


def _roles(top: Reader) -> tuple[tuple[Role, ...], Players | None]:
    listed = top.tables("roles")
    counted = top.table("players")
    if bool(listed) == (counted is not None):
        raise top.fail("roles", "give either a list of [[roles]] or one [players] table")
    if counted is not None:
        low = counted.whole("minimum", 1, low=1, high=100)
        high = counted.whole("maximum", low=low, high=100)
        players = Players(
            setting=counted.text("setting", "players"),
            id=counted.text("id", "player-{n}"),
            label=counted.text("label", "Player {n}"),
            model=counted.text("model"),
            minimum=low,
            maximum=high,
            default=counted.whole("default", high, low=low, high=high),
            briefing=counted.text("briefing", ""),
        )
        for key in ("id", "model"):
            if "{n}" not in getattr(players, key):
                raise counted.fail(key, "must hold {n}, the player's number")
        counted.done()
        return (), players
    roles = []
    for r in listed:
        role = Role(r.text("id"), r.text("label", ""), r.text("model"), r.text("briefing", ""))
        if not NAME.fullmatch(role.id):
            raise r.fail("id", f"must be lowercase letters, digits and dashes, got {role.id!r}")
        roles.append(role)
        r.done()
    ids = [role.id for role in roles]
    if len(set(ids)) != len(ids):
        raise top.fail("roles", f"ids must differ, got {ids}")
    return tuple(roles), None


def _key(r: Reader, field: str = "key") -> str:
    key = r.text(field)
    if not KEY.fullmatch(key):
        raise r.fail(field, f"must be lowercase letters, digits and _, got {key!r}")
    return key


def _setting(r: Reader) -> SettingSpec:
    kind = r.choice("kind", ("int", "float"), "float")
    low, high = r.number("minimum"), r.number("maximum")
    default = r.number("default")
    if not low <= default <= high:
        raise r.fail("default", f"must be between minimum {low} and maximum {high}, got {default}")
    spec = SettingSpec(
        name=_key(r, "name"),
        variable=r.text("variable", ""),
        kind=kind,  # type: ignore[arg-type]
        default=default,
        minimum=low,
        maximum=high,
        label=r.text("label", ""),
        help=r.text("help", ""),
    )
    r.done()
    return spec


def _decision(r: Reader) -> Decision:
    missing = r.get("missing", (str, int, float), "default", "'default', 'last' or a number")
    if isinstance(missing, str) and missing not in ("default", "last"):
        raise r.fail("missing", f"must be 'default', 'last' or a number, got {missing!r}")
    decision = Decision(
        key=_key(r),
        variable=r.text("variable"),
        label=r.text("label"),
        unit=r.text("unit", ""),
        minimum=r.number("minimum", 0.0),
        maximum=r.number("maximum", 1_000_000.0),
        maximum_setting=r.text("maximum_setting", ""),
        whole=bool(r.get("whole", bool, True)),
        default=r.number("default", 0.0),
        missing=str(missing),
        help=r.text("help", ""),
    )
    if "{role}" not in decision.variable:
        raise r.fail("variable", "must hold {role}: each role sets its own model constant")
    if not decision.minimum <= decision.default <= decision.maximum:
        raise r.fail("default", f"must be between minimum and maximum, got {decision.default}")
    r.done()
    return decision


def _figure(r: Reader) -> FigureSpec:
    figure = FigureSpec(
        key=_key(r),
        label=r.text("label", ""),
        variable=r.text("variable", ""),
        setting=r.text("setting", ""),
        decision=r.text("decision", ""),
        unit=r.text("unit", ""),
        over=r.choice("over", ("end", "total", "mean"), "end"),  # type: ignore[arg-type]
        format=r.choice("format", ("number", "money", "percent"), "number"),  # type: ignore[arg-type]
        show=bool(r.get("show", bool, True)),
    )
    if [bool(figure.variable), bool(figure.setting), bool(figure.decision)].count(True) != 1:
        raise r.fail("variable", "give exactly one of variable, setting or decision")
    r.done()
    return figure


def _chart(r: Reader) -> ChartSpec:
    series = []
    for s in r.tables("series"):
        series.append(SeriesSpec(s.text("figure"), s.text("label")))
        s.done()
    chart = ChartSpec(
        title=r.text("title"),
        series=tuple(series),
        per_role=r.text("per_role", ""),
        unit=r.text("unit", ""),
        start=r.whole("start", 1, high=1),
    )
    if not chart.series and not chart.per_role:
        raise r.fail("series", "a chart needs series, or per_role")
    r.done()
    return chart


def _note(r: Reader) -> NoteSpec:
    note = NoteSpec(r.text("text"), r.text("when", ""))
    r.done()
    return note


def _policy(r: Reader) -> PolicyRef:
    policy = PolicyRef(_name(r), r.text("use"), r.text("help", ""))
    r.done()
    return policy


def _name(r: Reader) -> str:
    name = r.text("name")
    if not NAME.fullmatch(name):
        raise r.fail("name", f"must be lowercase letters, digits and dashes, got {name!r}")
    return name


def _with_debrief(description: Description, debrief: Reader) -> Description:
    from dataclasses import replace

    out = replace(
        description,
        debrief_charts=tuple(_chart(r) for r in debrief.tables("charts")),
        debrief_lead=tuple(_note(r) for r in debrief.tables("lead")),
    )
    debrief.done()
    return out


def _check_references(d: Description, top: Reader) -> None:
    """Names that point inside the description must exist: a chart's figure, a decision's
    maximum setting, a figure's setting or decision."""
    figures = {f.key for f in d.figures}
    every = figures | {f.key for f in d.facilitator}
    settings = {s.name for s in d.settings}
    decisions = {x.key for x in d.decisions}
    keys = [f.key for f in (*d.figures, *d.facilitator)] + [x.key for x in d.decisions]
    clash = sorted({k for k in keys if keys.count(k) > 1})
    if clash:
        raise top.fail("figures", f"key {clash[0]!r} is used twice")
    for i, x in enumerate(d.decisions):
        if x.maximum_setting and x.maximum_setting not in settings:
            raise top.fail(f"decisions[{i}].maximum_setting", f"no setting {x.maximum_setting!r}")
    for group, items in (("figures", d.figures), ("facilitator", d.facilitator)):
        for i, f in enumerate(items):
            if f.setting and f.setting not in settings | {"rounds"}:
                raise top.fail(f"{group}[{i}].setting", f"no setting {f.setting!r}")
            if f.decision and f.decision not in decisions:
                raise top.fail(f"{group}[{i}].decision", f"no decision {f.decision!r}")
    for group, charts, known in (
        ("charts", d.charts, figures | decisions),
        ("debrief.charts", d.debrief_charts, every | decisions),
    ):
        for i, chart in enumerate(charts):
            for j, s in enumerate(chart.series):
                if s.figure not in known:
                    raise top.fail(f"{group}[{i}].series[{j}].figure", f"no figure {s.figure!r}")
            if chart.per_role and chart.per_role not in figures | decisions:
                raise top.fail(f"{group}[{i}].per_role", f"no figure {chart.per_role!r}")
    if d.players is not None and d.players.setting in settings:
        raise top.fail("players.setting", f"{d.players.setting!r} is also a [[settings]] name")
