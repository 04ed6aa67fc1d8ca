"""The games this server runs, by name, and their policies (bots).

To add a game, subclass :class:`gameserver.game.Game` in a module here and add an instance to
``GAMES``; nothing else in the server changes (see docs/games.md). Model games
(:mod:`gameserver.games.models`) are added at run time with :func:`add_game`; :func:`get_game`
finds built-in and added games alike, and is the one way the server finds a game.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameserver.errors import InvalidSettings, NotFound, short
from gameserver.game import Game, Policy, PolicySpec
from gameserver.games.beer import BeerGame
from gameserver.games.fishery import FisheryGame

#: The built-in games, keyed by their ``name``.
GAMES: dict[str, Game] = {game.name: game for game in (BeerGame(), FisheryGame())}

#: Games added at run time (model games), by name; changed by the event loop's thread only.
_added: dict[str, Game] = {}
#: Games that were meant to be added and could not be (a broken or missing model): the reason,
#: so that a stored game of that kind is refused with it rather than as an unknown game.
_unavailable: dict[str, str] = {}


def all_games() -> dict[str, Game]:
    """Every game there is now: the built-in ones, then those added at run time."""
    return {**GAMES, **_added}


def get_game(name: str) -> Game:
    """The game called ``name``, or :class:`NotFound` naming the games there are (or why a
    model game of that name is not available)."""
    game = GAMES.get(name) or _added.get(name)
    if game is not None:
        return game
    if name in _unavailable:
        raise NotFound(f"model game {name!r} is not available: {_unavailable[name]}")
    raise NotFound(
        f"no game {name!r}; known games: {', '.join(sorted(all_games()))} "
        "(a model game's model must be in the server's models folders: docs/models.md)"
    )


def add_game(game: Game) -> None:
    """Make ``game`` playable by its name (a model game; replaces one of the same name)."""
    if game.name in GAMES:
        raise InvalidSettings(f"{game.name!r} is a built-in game's name; choose another")
    _added[game.name] = game
    _unavailable.pop(game.name, None)


def mark_unavailable(name: str, reason: str) -> None:
    """Remember why the model game ``name`` could not be added (unless it is)."""
    if name not in _added and name not in GAMES:
        _unavailable[name] = reason


def remove_game(name: str) -> None:
    """Forget an added game (tests, and a model folder read again)."""
    _added.pop(name, None)
    _unavailable.pop(name, None)


def unavailable() -> dict[str, str]:
    """Model games that could not be added, with the reason."""
    return dict(_unavailable)


def policies_for(game_name: str) -> dict[str, PolicySpec]:
    """The named policies of a game (:class:`NotFound` for an unknown game)."""
    return dict(get_game(game_name).policies())


def make_policy(game_name: str, policy_name: str, **params: Any) -> Policy:
    """Build a game's policy with ``params`` over its defaults.

    Raises :class:`NotFound` for an unknown game or policy and :class:`InvalidSettings` for a
    parameter the policy does not have or a value it does not accept.
    """
    policies = policies_for(game_name)
    if policy_name not in policies:
        raise NotFound(
            f"no policy {policy_name!r} for {game_name}; "
            f"known policies: {', '.join(sorted(policies))}"
        )
    spec = policies[policy_name]
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        known = ", ".join(sorted(spec.params)) or "none"
        raise InvalidSettings(
            f"policy {policy_name!r} has no parameter {unknown[0]!r}; its parameters: {known}"
        )
    values = {name: _param(spec, name, value) for name, value in params.items()}
    return spec.make(**values)


def _param(spec: PolicySpec, name: str, value: Any) -> float | int:
    """``value`` checked against the parameter's range, as the type of its default (whole
    numbers stay whole); :class:`InvalidSettings` naming the policy, parameter and range."""
    allowed = spec.range_text(name)
    whole = isinstance(spec.params[name], int)
    wanted = f"policy {spec.name!r}: parameter {name!r} must be a " + (
        f"whole number {allowed}" if whole else f"number {allowed}"
    )
    # NaN compares false with everything, so it is refused here rather than slipping past
    # the range; infinities (a JSON number beyond a double's range) fail the range below.
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidSettings(f"{wanted}, got {short(value)}")
    low, high = spec.ranges[name]
    if not low <= value <= high:
        raise InvalidSettings(f"{wanted}, got {short(value)}")
    if whole:
        if not float(value).is_integer():
            raise InvalidSettings(f"{wanted}, got {short(value)}")
        return int(value)
    return float(value)


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
