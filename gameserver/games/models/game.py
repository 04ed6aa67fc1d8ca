"""A model game: a system-dynamics model and a description, played as a game like any other.

Each round sets the model's constants (the game's settings, and each role's decisions) and
advances the model by ``round / dt`` Euler steps (:mod:`gameserver.games.models.engine`). The
state is plain JSON, replayable from the decisions like every game's::

    {"schema": 1, "game": name, "round": r, "seed": n, "settings": {...},
     "engine": {"time": t, "stateful": {...}},      # PySD's state: restored exactly
     "series": {variable: [one value per record]},  # what the views and the debrief show
     "decisions": [{role: decision}, ...]}          # one per round played

A record is taken after the warm-up (the rounds the model plays with the decisions' defaults
before round 1, so that players see figures before they decide) and after every round: stocks
at the round's end, flows as declared (``over``: the total over the round, or the mean).
``history`` in a view has one row per round played: the record the round's decisions were made
on (``report = "before"``, the board game's order) or the one they produced (``"after"``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameserver.errors import InvalidDecision, InvalidModel
from gameserver.game import Decision, Game, PolicySpec, Setting, State, View, require_roles
from gameserver.games.models import declare
from gameserver.games.models.description import Description, FigureSpec
from gameserver.games.models.engine import CompiledModel, Over


class ModelGame(Game):
    """A game made of a compiled model and its description (see the module docstring)."""

    STATE_SCHEMA = 1
    slow_step = True

    def __init__(self, described: Description, model: CompiledModel, origin: Path) -> None:
        self.described = described
        self.model = model
        self.origin = origin
        self.name = described.name
        self.title = described.title
        self.round_label = described.round_word
        self.headline = described.score_key
        self.step_timeout = described.step_timeout
        steps = described.round_length / model.dt
        if steps < 1 or not math.isclose(steps, round(steps)):
            raise InvalidModel(
                f"{origin.name}: time.round: {described.round_length} is not a whole number "
                f"of the model's dt ({model.dt})"
            )
        self.steps = round(steps)
        room = (model.stop - model.start) / described.round_length - described.warm_up
        if described.rounds_maximum > room + 1e-9:
            needed = described.rounds_maximum + described.warm_up
            raise InvalidModel(
                f"{origin.name}: time.rounds_maximum: {described.rounds_maximum} rounds need "
                f"the model to run {needed} rounds of {described.round_length} from "
                f"{model.start}, past its stop time {model.stop}"
            )
        self.settings_spec = self._settings()
        self.variables = self._resolve()
        self.display = declare.display(described)
        self._policies = declare.policies(described)

    # -- set-up -------------------------------------------------------------------------

    def _settings(self) -> tuple[Setting, ...]:
        d = self.described
        rounds = Setting(
            "rounds", "int", d.rounds, f"{d.round_word.capitalize()}s played",
            minimum=1, maximum=d.rounds_maximum,
        )  # fmt: skip
        out = [rounds]
        if d.players is not None:
            p = d.players
            out.append(
                Setting(
                    p.setting, "int", p.default, "Players", minimum=p.minimum, maximum=p.maximum
                )
            )
        for s in d.settings:
            default = int(s.default) if s.kind == "int" else s.default
            out.append(Setting(s.name, s.kind, default, s.label or s.name.replace("_", " "), s.help,
                               minimum=s.minimum, maximum=s.maximum))  # fmt: skip
        return tuple(out)

    def model_names(self, settings: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Every role there can be (all of a counted game's), by id: its ``{role}``."""
        d = self.described
        if d.players is None:
            return {role.id: role.model for role in d.roles}
        top = d.players.maximum if settings is None else int(settings[d.players.setting])
        return {
            d.players.id.replace("{n}", str(n)): d.players.model.replace("{n}", str(n))
            for n in range(1, top + 1)
        }

    def _resolve(self) -> dict[str, str]:
        """Each variable template of the description, for each possible role, as the model
        names it; refuses a variable the model does not have, naming the field."""
        d, out = self.described, {}

        def check(template: str, where: str) -> None:
            names = [template.replace("{role}", m) for m in self.model_names().values()]
            for name in names if "{role}" in template else [template]:
                try:
                    out[name] = self.model.resolve(name)
                except InvalidModel as exc:
                    raise InvalidModel(f"{self.origin.name}: {where}: {exc}") from None

        for i, s in enumerate(d.settings):
            if s.variable:  # a setting without one only bounds a decision
                check(s.variable, f"settings[{i}].variable")
        for i, x in enumerate(d.decisions):
            check(x.variable, f"decisions[{i}].variable")
        for group, figures in (("figures", d.figures), ("facilitator", d.facilitator)):
            for i, f in enumerate(figures):
                if f.variable:
                    check(f.variable, f"{group}[{i}].variable")
        check(d.score_variable, "score.variable")
        if d.team_variable:
            check(d.team_variable, "score.team")
        return out

    def _var(self, template: str, model_role: str | None = None) -> str:
        return self.variables[template.replace("{role}", model_role or "")]

    def _sampled(self) -> list[tuple[str, Over]]:
        d, out = self.described, {}
        for f in (*d.figures, *d.facilitator):
            if not f.variable:
                continue
            for m in self.model_names().values() if f.per_role else [""]:
                out[self._var(f.variable, m)] = f.over
        for m in self.model_names().values():
            out.setdefault(self._var(d.score_variable, m), "end")
        if d.team_variable:
            out.setdefault(self._var(d.team_variable), "end")
        return list(out.items())

    def policies(self) -> Mapping[str, PolicySpec]:
        return self._policies

    def roles(self, settings: Mapping[str, Any]) -> list[str]:
        return list(self.model_names(settings))

    # -- rules --------------------------------------------------------------------------

    def _constants(
        self, settings: Mapping[str, Any], decisions: Mapping[str, Decision]
    ) -> dict[str, float]:
        """Every constant the game sets, every time: settings, and each possible role's decision
        (roles not in this game get the decision's minimum), so that an engine keeps nothing of
        the game that used it before."""
        d = self.described
        out = {self._var(s.variable): float(settings[s.name]) for s in d.settings if s.variable}
        for role, model_role in self.model_names().items():
            for x in d.decisions:
                value = decisions[role][x.key] if role in decisions else x.minimum
                out[self._var(x.variable, model_role)] = float(value)
        return out

    def _defaults(self, settings: Mapping[str, Any]) -> dict[str, Decision]:
        return {role: {x.key: _whole(x.default, x.whole) for x in self.described.decisions}
                for role in self.roles(settings)}  # fmt: skip

    def initial_state(self, settings: Mapping[str, Any], seed: int) -> State:
        settings = self.validate_settings(settings)
        defaults = self._defaults(settings)
        constants = self._constants(settings, defaults)
        engine = self.model.initial(constants)
        sample = self._sampled()
        if self.described.warm_up:
            steps = self.steps * self.described.warm_up
            engine, values = self.model.advance(engine, constants, steps, sample)
        else:
            # no round played yet: levels as they start, nothing flowed
            _, values = self.model.advance(engine, constants, 0, sample)
        return {
            "schema": self.STATE_SCHEMA,
            "game": self.name,
            "round": 0,
            "seed": int(seed),
            "settings": settings,
            "engine": engine,
            "series": {name: [values[name]] for name, _ in sample},
            "decisions": [],
        }

    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        settings = state["settings"]
        require_roles(decisions, self.roles(settings))
        if self.is_over(state):
            raise ValueError(f"the game is over after {settings['rounds']} rounds")
        sample = self._sampled()
        engine, values = self.model.advance(
            state["engine"], self._constants(settings, decisions), self.steps, sample
        )
        series = state["series"]
        return {
            **state,
            "round": state["round"] + 1,
            "engine": engine,
            "series": {name: [*series[name], values[name]] for name, _ in sample},
            "decisions": [*state["decisions"], {r: dict(x) for r, x in decisions.items()}],
        }

    def _limits(self, settings: Mapping[str, Any], key: str) -> tuple[float, float, bool]:
        x = next(d for d in self.described.decisions if d.key == key)
        high = float(settings[x.maximum_setting]) if x.maximum_setting else x.maximum
        return x.minimum, high, x.whole

    def validate_decision(self, state: State, role: str, raw: Any) -> Decision:
        roles = self.roles(state["settings"])
        if role not in roles:
            raise InvalidDecision(f"no role {role!r} in {self.title}; roles: {', '.join(roles)}")
        keys = [x.key for x in self.described.decisions]
        if not isinstance(raw, Mapping):
            raise InvalidDecision(
                f"a decision is an object with {', '.join(keys)}, got {raw!r}"[:200]
            )
        extra = sorted(repr(k) for k in raw if k not in keys)
        if extra:
            raise InvalidDecision(
                f"a decision has {', '.join(keys)}, got extra key {', '.join(extra)}"
            )
        out: Decision = {}
        for key in keys:
            low, high, whole = self._limits(state["settings"], key)
            kind = "a whole number" if whole else "a number"
            allowed = f"{key} must be {kind} between {_num(low)} and {_num(high)}"
            if key not in raw:
                raise InvalidDecision(f"{allowed}, got no {key}")
            value = raw[key]
            bad = isinstance(value, bool) or not isinstance(value, int | float) or value != value
            if bad or not low <= value <= high or (whole and not float(value).is_integer()):
                raise InvalidDecision(
                    f"{allowed}, got {str(value)[:40]!r}"
                    if isinstance(value, str)
                    else f"{allowed}, got {value!r}"
                )
            out[key] = _whole(value, whole)
        return out

    def default_decision(self, state: State, role: str) -> Decision:
        out: Decision = {}
        for x in self.described.decisions:
            made = [d[role][x.key] for d in state["decisions"] if role in d]
            if x.missing == "last" and made:
                out[x.key] = made[-1]
            elif x.missing in ("last", "default"):
                out[x.key] = _whole(x.default, x.whole)
            else:
                out[x.key] = _whole(float(x.missing), x.whole)
        return out

    def is_over(self, state: State) -> bool:
        return bool(state["round"] >= state["settings"]["rounds"])

    def total_rounds(self, state: State) -> int | None:
        return int(state["settings"]["rounds"])

    def announced_rounds(self, state: State) -> int | None:
        played = int(state["settings"]["rounds"])
        # never fewer than are played: a facilitator may set more rounds than the author announced
        return max(self.described.announced or played, played)

    # -- what people see ----------------------------------------------------------------

    def _rows(self, state: State, values: list[Any]) -> list[Any]:
        """One value per round played, from a series of records (see ``report``)."""
        played = state["round"]
        first = 0 if self.described.report == "before" else 1
        return list(values[first : first + played])

    def _figure(self, state: State, f: FigureSpec, role: str | None) -> tuple[Any, list[Any]]:
        """A figure's current value and its row per round played."""
        if f.setting:
            value = state["settings"][f.setting]
            return value, [value] * state["round"]
        if f.decision:
            made = [d[role][f.decision] for d in state["decisions"] if role in d] if role else []
            return (made[-1] if made else None), made
        model_role = self.model_names(state["settings"]).get(role or "", "")
        values = state["series"][self._var(f.variable, model_role if f.per_role else None)]
        return values[-1], self._rows(state, values)

    def _own(self, state: State, role: str) -> dict[str, Any]:
        """A role's figures, history and decision limits: what its view and its row of the
        facilitator's view hold (nothing of another role)."""
        out: dict[str, Any] = {}
        history: dict[str, list[Any]] = {}
        for f in self.described.figures:
            out[f.key], history[f.key] = self._figure(state, f, role)
        for x in self.described.decisions:
            history[x.key] = [d[role][x.key] for d in state["decisions"] if role in d]
        out["history"] = history
        model_role = self.model_names(state["settings"])[role]
        scores = state["series"][self._var(self.described.score_variable, model_role)]
        out["score"] = scores[-1]
        if self.described.score_adds_up:  # each round's share of the total
            ends = scores[len(scores) - 1 - state["round"] :]
            history["score_change"] = [after - before for before, after in itertools.pairwise(ends)]
        return out

    def view(self, state: State, role: str) -> View:
        over = self.is_over(state)
        view: View = {
            "game": self.name,
            "role": role,
            "round": state["round"] if over else state["round"] + 1,
            "rounds": self.announced_rounds(state),
            "over": over,
            **self._own(state, role),
        }
        default = self.default_decision(state, role)
        decide = {}
        for x in self.described.decisions:
            low, high, whole = self._limits(state["settings"], x.key)
            view[f"min_{x.key}"], view[f"max_{x.key}"] = low, high
            decide[x.key] = {
                "minimum": low,
                "maximum": high,
                "whole": whole,
                "default": default[x.key],
            }
        view["decide"] = decide
        if over:
            view["debrief"] = self.debrief(state)
        return view

    def facilitator_view(self, state: State) -> View:
        over = self.is_over(state)
        roles = {role: self._own(state, role) for role in self.roles(state["settings"])}
        out: View = {
            "game": self.name,
            "round": state["round"] if over else state["round"] + 1,
            "rounds": self.total_rounds(state),
            "over": over,
            "settings": dict(state["settings"]),
            "roles": roles,
        }
        for f in self.described.facilitator:
            out[f"{f.key}_now"], out[f.key] = self._figure(state, f, None)
        out["team_score"] = self._team(state, roles)
        return out

    def _team(self, state: State, roles: Mapping[str, Mapping[str, Any]]) -> float:
        if self.described.team_variable:
            return float(state["series"][self._var(self.described.team_variable)][-1])
        return float(sum(row["score"] for row in roles.values()))

    def results(self, state: State) -> dict[str, Any]:
        key = self.described.score_key
        roles = {role: self._own(state, role) for role in self.roles(state["settings"])}
        return {
            "roles": {role: {key: row["score"]} for role, row in roles.items()},
            "team": {key: self._team(state, roles), "rounds_played": state["round"]},
        }

    def round_summary(self, state: State) -> dict[str, dict[str, float | int]]:
        if state["round"] == 0:
            return {}
        summary: dict[str, dict[str, float | int]] = {}
        for role in self.roles(state["settings"]):
            own = self._own(state, role)
            row: dict[str, float | int] = {
                key: values[-1]
                for key, values in own["history"].items()
                if values and isinstance(values[-1], int | float)
            }
            # the score so far; a figure of the score's name (this round's cost) keeps its place
            key = self.described.score_key
            row[f"cumulative_{key}"] = own["score"]
            row.setdefault(key, own["score"])
            summary[role] = row
        return summary


def _whole(value: float, whole: bool) -> float | int:
    return int(value) if whole else float(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
