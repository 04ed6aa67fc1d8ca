"""Replaying a game: the one place that plays decisions through a game's rules.

Rules are deterministic, so a game's state after any round follows from its initial state (which
holds the seed) and the decisions of each round. The server restores a game whose snapshot is
behind its round records with this, clones a game from a round with it, and the chaos tool,
the simulator and the tests check games against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from gameserver.game import Decision, Game, State


def replay(game: Game, state: State, rounds: Iterable[Mapping[str, Decision]]) -> Iterator[State]:
    """The state after each round, playing ``rounds`` (one decision per role each) from
    ``state``. Lazy: ``rounds`` may be a generator that decides from the states yielded so far
    (the simulator's policies do)."""
    for decisions in rounds:
        state = game.step(state, decisions)
        yield state


def replay_game(
    game: Game, settings: Mapping[str, Any], seed: int, rounds: Iterable[Mapping[str, Decision]]
) -> list[State]:
    """Every state of a game from its start: the initial state, then one per round."""
    start = game.initial_state(settings, seed)
    return [start, *replay(game, start, rounds)]
