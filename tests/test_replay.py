"""The one replay function: a game's states follow from its start and its decisions."""

from __future__ import annotations

from collections.abc import Iterator

from gameserver.games import get_game, make_policy
from gameserver.replay import replay, replay_game


def test_replay_is_lazy_and_deterministic() -> None:
    game = get_game("beer")
    settings = game.validate_settings({"weeks": 8})
    start = game.initial_state(settings, 5)
    policy = make_policy("beer", "sterman")
    states = [start]

    def decide() -> Iterator[dict[str, dict[str, int]]]:
        while not game.is_over(states[-1]):
            yield {r: policy(game.view(states[-1], r)) for r in game.roles(settings)}

    for state in replay(game, start, decide()):
        states.append(state)
    assert len(states) == 9 and game.is_over(states[-1])
    again = replay_game(
        game,
        settings,
        5,
        ({r: policy(game.view(s, r)) for r in game.roles(settings)} for s in states[:-1]),
    )
    assert again == states
