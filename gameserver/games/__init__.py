"""The games this server runs, by name, and their policies (bots).

To add a game, subclass :class:`gameserver.game.Game` in a module here and add an instance to
``GAMES``; nothing else in the server changes (see docs/games.md).
"""

from __future__ import annotations

from typing import Any

from gameserver.errors import InvalidSettings, NotFound
from gameserver.game import Game, Policy, PolicySpec
from gameserver.games.beer import BeerGame
from gameserver.games.fishery import FisheryGame

#: Every game, keyed by its ``name``.
GAMES: dict[str, Game] = {game.name: game for game in (BeerGame(), FisheryGame())}


def get_game(name: str) -> Game:
    """The game called ``name``, or :class:`NotFound` naming the games there are."""
    try:
        return GAMES[name]
    except KeyError:
        raise NotFound(f"no game {name!r}; known games: {', '.join(sorted(GAMES))}") from None


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
    values = {
        name: _param(policy_name, name, value, spec.params[name]) for name, value in params.items()
    }
    return spec.make(**values)


def _param(policy: str, name: str, value: Any, default: float | int) -> float | int:
    """``value`` as the type of the parameter's default (whole numbers stay whole)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidSettings(
            f"policy {policy!r}: parameter {name!r} must be a number, got {value!r}"
        )
    if isinstance(default, int):
        if not float(value).is_integer():
            raise InvalidSettings(
                f"policy {policy!r}: parameter {name!r} must be a whole number, got {value!r}"
            )
        return int(value)
    if value in (float("inf"), float("-inf")):
        raise InvalidSettings(
            f"policy {policy!r}: parameter {name!r} must be finite, got {value!r}"
        )
    return float(value)
