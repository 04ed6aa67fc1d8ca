"""The game contract: what a game implements so the server can run it without knowing it.

A game is pure rules. Every method here is a synchronous function of its arguments: no I/O, no
clock, no global random (a seed lives in the state), no asyncio. The server owns all of that.

State is a plain JSON-safe ``dict`` (str keys; int, float, str, bool, None, list and dict values)
that always holds at least::

    {"schema": <int, the game's STATE_SCHEMA>, "round": <int, rounds completed so far>, ...}

``step`` never mutates its input; it returns a new state whose ``round`` is one more. The same
state and decisions give the same new state in any process, so a game can be replayed from its
decisions and a game resumed after a crash ends exactly as an uninterrupted one.

A new game subclasses :class:`Game`, declares its settings with :class:`Setting` and what
the pages show with a :class:`~gameserver.display.Display`, and is registered in
:mod:`gameserver.games` under its ``name`` (or at run time, as model games are).

Two attributes tell the server how to call a game whose step is slow (a system-dynamics model
stepping an engine): with ``slow_step`` the server calls ``step``, ``is_over`` and
``round_summary`` of a closing round in a worker thread, off the event loop, so that one heavy
game never delays the others; a step that takes longer than ``step_timeout`` seconds pauses that
game and tells its facilitator, and nothing else stops. ``step`` must therefore be safe to call
from a worker thread: no state shared between games that a call changes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gameserver.display import Display
from gameserver.errors import InvalidDecision, InvalidSettings

State = dict[str, Any]
Decision = dict[str, Any]
View = dict[str, Any]
#: How a role's view changed in a round (:meth:`Game.view_update`): ``{"set": {key: value},
#: "extend": {key: [items] or {name: [items]}}}``, applied by :func:`apply_view_update`.
ViewUpdate = dict[str, Any]

SettingType = Literal["int", "float", "bool", "str", "int_list"]


@dataclass(frozen=True)
class Setting:
    """One typed game setting with its default and allowed range.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str`` (one of ``choices``) or ``int_list``
    (a list of whole numbers, each within ``minimum``..``maximum``). ``label`` and ``help`` are
    for people (the dashboard builds its form from them).
    """

    name: str
    kind: SettingType
    default: Any
    label: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is an allowed value (e.g. "use the pattern, not a list")

    def describe(self) -> dict[str, Any]:
        """JSON-safe description, for the API and the dashboard's settings form."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "label": self.label or self.name.replace("_", " "),
            "help": self.help,
        }
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if self.optional:
            out["optional"] = True
        return out

    def _range_text(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"between {_num(self.minimum)} and {_num(self.maximum)}"
        if self.minimum is not None:
            return f"at least {_num(self.minimum)}"
        if self.maximum is not None:
            return f"at most {_num(self.maximum)}"
        return ""

    def _check_range(self, value: float, what: str) -> None:
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            raise InvalidSettings(
                f"setting {self.name!r}: {what} must be {self._range_text()}, got {value!r}"
            )

    def coerce(self, value: Any) -> Any:
        """Return ``value`` checked and normalised, or raise :class:`InvalidSettings`."""
        if value is None:
            if self.optional:
                return None
            raise InvalidSettings(f"setting {self.name!r} must not be empty")
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise InvalidSettings(f"setting {self.name!r} must be true or false, got {value!r}")
        if self.kind == "int":
            if isinstance(value, bool) or not _is_whole(value):
                raise InvalidSettings(
                    f"setting {self.name!r} must be a whole number {self._range_text()}, "
                    f"got {value!r}".replace("  ", " ")
                )
            number = int(value)
            self._check_range(number, "value")
            return number
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidSettings(
                    f"setting {self.name!r} must be a number {self._range_text()}, got {value!r}"
                )
            if value != value or value in (float("inf"), float("-inf")):
                raise InvalidSettings(f"setting {self.name!r} must be a finite number")
            self._check_range(value, "value")
            return float(value)
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                allowed = ", ".join(self.choices) if self.choices else "a string"
                raise InvalidSettings(
                    f"setting {self.name!r} must be one of {allowed}, got {value!r}"
                )
            return value
        # int_list
        if not isinstance(value, list | tuple) or not value:
            raise InvalidSettings(
                f"setting {self.name!r} must be a non-empty list of whole numbers, got {value!r}"
            )
        items: list[int] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not _is_whole(item):
                raise InvalidSettings(
                    f"setting {self.name!r}: item {index} must be a whole number, got {item!r}"
                )
            self._check_range(int(item), f"item {index}")
            items.append(int(item))
        return items


def _is_whole(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Game(ABC):
    """Base class of every game. Subclasses set the class attributes and implement the rules."""

    #: Short identifier used in URLs, the API and the CLI (``beer``, ``fishery``).
    name: str
    #: Human title.
    title: str
    #: Version of this game's state layout; stored in every state as ``state["schema"]``.
    STATE_SCHEMA: ClassVar[int] = 1
    #: The last state :meth:`debrief` was asked for, and its debrief.
    _debrief: tuple[State, View] | None = None
    #: The settings this game accepts, with their defaults.
    settings_spec: tuple[Setting, ...] = ()
    #: What one round is called in this game's tables and reports (``week`` in the Beer Game).
    round_label: str = "round"
    #: The per-role figure of :meth:`results` and :meth:`round_summary` that scores a player
    #: (``cost`` in the Beer Game, ``income`` in the fishery); reports and tables lead with it.
    headline: str = ""
    #: What the pages show of this game (figures, decisions, charts, debrief, briefings).
    display: Display = Display()
    #: True when ``step`` may be slow (a big model): the server then plays each round
    #: (``step``, ``is_over``, ``round_summary``) in a worker thread, off the event loop. A
    #: game may set these per instance (a model game does, from its description).
    slow_step: bool = False
    #: Seconds a round may take to play; past them the round stays open and the game pauses
    #: with a ``round_not_played`` error to its facilitators (a result that comes later is
    #: not used).
    step_timeout: float = 10.0

    # -- settings -------------------------------------------------------------------------

    def validate_settings(self, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return complete settings (defaults filled in) or raise :class:`InvalidSettings`.

        Unknown names are refused. Subclasses that have rules across settings extend this.
        """
        raw = dict(raw or {})
        known = {s.name: s for s in self.settings_spec}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise InvalidSettings(
                f"unknown setting {unknown[0]!r} for {self.name}; "
                f"known settings: {', '.join(sorted(known))}"
            )
        return {name: spec.coerce(raw.get(name, spec.default)) for name, spec in known.items()}

    def describe_settings(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.settings_spec]

    # -- roles ----------------------------------------------------------------------------

    @abstractmethod
    def roles(self, settings: Mapping[str, Any]) -> list[str]:
        """The seats of a game with these (validated) settings, in display order."""

    # -- rules ----------------------------------------------------------------------------

    @abstractmethod
    def initial_state(self, settings: Mapping[str, Any], seed: int) -> State:
        """The state before round 1. ``settings`` are already validated."""

    @abstractmethod
    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        """Play one round with one validated decision per role; return the new state.

        Pure and deterministic; ``decisions`` has every role (the hub fills in
        :meth:`default_decision` for the missing ones). Must not mutate ``state``.
        """

    @abstractmethod
    def validate_decision(self, state: State, role: str, raw: Any) -> Decision:
        """Return the normalised decision or raise :class:`InvalidDecision` with a message
        that says what is allowed, e.g. ``order must be a whole number between 0 and 10000,
        got -3``."""

    @abstractmethod
    def default_decision(self, state: State, role: str) -> Decision:
        """The decision used when a round closes without one from this role."""

    @abstractmethod
    def is_over(self, state: State) -> bool:
        """True once the last round has been played."""

    # -- what people see ------------------------------------------------------------------

    @abstractmethod
    def view(self, state: State, role: str) -> View:
        """What this role may see: its own figures and history, nothing of other roles
        (unless the game is over, when a game may reveal everything for the debrief)."""

    def view_update(self, state: State, role: str) -> ViewUpdate | None:
        """How this role's view changed in the round that made ``state``, for the clients
        that take updates instead of whole views (docs/protocol.md, ``view_updates``): what
        :func:`apply_view_update` turns ``view(state before, role)`` into ``view(state,
        role)`` with, exactly. A view's history grows every round; an update carries the new
        entries only, so its size does not grow with the game. None (the default, and for a
        round that ends the game): the clients get the whole view."""
        return None

    @abstractmethod
    def facilitator_view(self, state: State) -> View:
        """Everything, for the facilitator and the debrief."""

    def debrief(self, state: State) -> View:
        """:meth:`facilitator_view` of ``state``, for the views of a finished game (every
        player's has it): made once for the players of one state, since the last state asked
        for is kept with its debrief. A game's last round makes one debrief, not one per player
        (with 250 Beer Games ending together, their last round's p50 went from 126-137 ms to
        70-115 ms in paired runs). The players' views share it: read it, never change it."""
        memo = self._debrief
        if memo is not None and memo[0] is state:  # the state is kept: its id is not reused
            return memo[1]
        debrief = self.facilitator_view(state)
        self._debrief = (state, debrief)
        return debrief

    @abstractmethod
    def results(self, state: State) -> dict[str, Any]:
        """``{"roles": {role: {figure: number}}, "team": {figure: number}}`` so far."""

    @abstractmethod
    def round_summary(self, state: State) -> dict[str, dict[str, float | int]]:
        """Per-role figures of the round just played (``state["round"]``), flat numbers only:
        one row per role in the CSV export and the live dashboard."""

    def current_round(self, state: State) -> int:
        """Rounds completed so far."""
        return int(state["round"])

    def total_rounds(self, state: State) -> int | None:
        """Rounds that will be played, if known (for progress displays)."""
        return None

    def announced_rounds(self, state: State) -> int | None:
        """Rounds the players are told the game lasts; what their screens may show.

        Differs from :meth:`total_rounds` when the end is hidden so that players do not game it
        (the Beer Game plays 36 weeks and announces 50): send this, not ``total_rounds``, to
        players, and ``total_rounds`` only to the facilitator.
        """
        return self.total_rounds(state)

    # -- policies -------------------------------------------------------------------------

    def policies(self) -> Mapping[str, PolicySpec]:
        """The named policies (bots) of this game; none unless the game declares some."""
        return {}


#: A policy: a pure function from a role's view to a decision (used by bots and bot seats).
Policy = Callable[[View], Decision]


@dataclass(frozen=True)
class PolicySpec:
    """A named policy of a game, with its parameters' defaults and ranges; ``make(**params)``
    builds it (through :func:`gameserver.games.make_policy`, which checks every value first).

    ``ranges`` maps every parameter to its ``(minimum, maximum)``, both included. Every
    parameter has one: a parameter arrives from a facilitator's request or a command line, and
    a value no policy was written for (an ``s_prime`` of 1e300) would fail deep in a round
    instead of being refused by name. A default of type ``int`` makes the parameter whole.
    """

    name: str
    help: str
    make: Callable[..., Policy]
    params: Mapping[str, float | int] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A policy declared without a range, or with a default outside it, is a programming
        # error: refuse it when the game module is imported, not when a client trips on it.
        if set(self.params) != set(self.ranges):
            raise ValueError(
                f"policy {self.name!r}: every parameter needs a range, and only parameters: "
                f"parameters {sorted(self.params)}, ranges {sorted(self.ranges)}"
            )
        for name, default in self.params.items():
            low, high = self.ranges[name]
            if not low <= default <= high:
                raise ValueError(
                    f"policy {self.name!r}: default {name}={default} is outside {low}..{high}"
                )

    def range_text(self, name: str) -> str:
        """``between 0 and 1``: the words every refusal of parameter ``name`` uses."""
        low, high = self.ranges[name]
        return f"between {_num(low)} and {_num(high)}"

    def describe(self) -> dict[str, Any]:
        """JSON-safe description, for the API and the dashboard: defaults and ranges."""
        return {
            "name": self.name,
            "help": self.help,
            "params": dict(self.params),
            "ranges": {
                name: {"minimum": low, "maximum": high} for name, (low, high) in self.ranges.items()
            },
        }


def require_roles(decisions: Mapping[str, Decision], roles: Sequence[str]) -> None:
    """Raise ``ValueError`` (not a ``KeyError`` deep in a step) unless ``decisions`` has
    exactly one entry per role."""
    if len(decisions) == len(roles):  # every round of every game: a plain loop, no lists
        for role in roles:
            if role not in decisions:
                break
        else:
            return
    missing = [r for r in roles if r not in decisions]
    extra = [r for r in decisions if r not in roles]
    if missing or extra:
        raise ValueError(f"step needs one decision per role; missing {missing}, unknown {extra}")


def apply_view_update(view: View, update: ViewUpdate, *, in_place: bool = False) -> View:
    """The view after ``update`` (:meth:`Game.view_update`): the keys of ``set`` take its
    values; in ``extend``, a key given a list of items has them appended to the list
    ``view[key]``, and a key given ``{name: [items]}`` to each list ``view[key][name]``. A new
    view, ``view`` unchanged; or, ``in_place``, ``view`` itself, changed (no list is copied:
    a bot's view grows by a week a round without copying the weeks before). Raises
    ``ValueError`` when ``update`` does not fit ``view`` (a list it extends is missing), before
    changing anything."""
    sets, extend = update.get("set", {}), update.get("extend", {})
    for key, more in extend.items():
        held = sets[key] if key in sets else view.get(key)
        if isinstance(more, list):
            if not isinstance(held, list):
                raise ValueError(f"the view has no list {key!r} to extend")
            continue
        if not isinstance(held, dict):
            raise ValueError(f"the view has no {key!r} to extend")
        for name in more:
            if not isinstance(held.get(name), list):
                raise ValueError(f"the view has no list {key}.{name} to extend")
    if in_place:
        view.update(sets)
        for key, more in extend.items():
            held = view[key]
            if isinstance(more, list):
                held.extend(more)
                continue
            for name, items in more.items():
                held[name].extend(items)
        return view
    out = {**view, **sets}
    for key, more in extend.items():
        held = out[key]
        if isinstance(more, list):
            out[key] = [*held, *more]
            continue
        grown = dict(held)
        for name, items in more.items():
            grown[name] = [*grown[name], *items]
        out[key] = grown
    return out


def whole_number_decision(raw: Any, key: str, low: int, high: int) -> Decision:
    """Read ``{key: n}`` with ``n`` a whole number in ``low..high``, or raise
    :class:`InvalidDecision` saying so: ``order must be a whole number between 0 and 10000,
    got -3``. Refuses bools, strings, fractions, a missing key and extra keys; accepts 3.0 as 3
    (JSON has one number type)."""
    # The usual decision, checked first: this runs for every decision a server receives.
    if isinstance(raw, dict) and len(raw) == 1:
        value = raw.get(key)
        if type(value) is int and low <= value <= high:
            return {key: value}
    allowed = f"{key} must be a whole number between {low} and {high}"
    if not isinstance(raw, Mapping):
        raise InvalidDecision(f'{allowed}, got {_short(raw)} instead of {{"{key}": <number>}}')
    extra = sorted(repr(name) for name in raw if name != key)
    if extra:
        raise InvalidDecision(f"{allowed}, got extra key {', '.join(extra)}")
    if key not in raw:
        raise InvalidDecision(f"{allowed}, got no {key}")
    value = raw[key]
    if isinstance(value, bool) or not _is_whole(value) or not low <= value <= high:
        raise InvalidDecision(f"{allowed}, got {_short(value)}")
    return {key: int(value)}


def round_half_up(value: float) -> int:
    """``value`` to the nearest whole number, halves up (Python's ``round`` sends 2.5 to 2)."""
    return math.floor(value + 0.5)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
