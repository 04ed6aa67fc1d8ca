"""``python -m tests.slowserver serve ...``: the real server, with test games whose step is slow.

``slowbeer`` is the Beer Game whose every week sleeps ``step_seconds`` (a setting) before it is
played, declared :attr:`~gameserver.game.Game.slow_step` with a 3 s timeout: what a big model
looks like to the server, without the model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from gameserver.cli.main import main
from gameserver.game import Decision, Setting, State
from gameserver.games import GAMES
from gameserver.games.beer import BeerGame


class SlowBeer(BeerGame):
    name = "slowbeer"
    title = "Beer Game, slowly"
    settings_spec = (
        *BeerGame.settings_spec,
        Setting("step_seconds", "float", 0.0, "Seconds each week takes", minimum=0, maximum=60),
    )
    slow_step = True
    step_timeout = 3.0

    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        time.sleep(state["settings"]["step_seconds"])
        return super().step(state, decisions)


def register() -> None:
    GAMES[SlowBeer.name] = SlowBeer()


if __name__ == "__main__":
    register()
    sys.exit(main(sys.argv[1:]))
