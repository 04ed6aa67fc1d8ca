"""The server's bots: what a seat played by a bot decides, with no I/O.

A seat may be played by a bot (:attr:`SeatRecord.bot <gameserver.server.records.SeatRecord>`):
the room (:mod:`gameserver.server.room`) asks :class:`BotPolicies` for its decision in each
round. A broken or refused policy never stalls a round: the seat plays the game's default
decision, and the failure is logged.
"""

from __future__ import annotations

import logging

from gameserver.errors import GameServerError
from gameserver.game import Decision, Game, Policy
from gameserver.games import make_policy
from gameserver.server.records import GameRecord, SeatRecord

log = logging.getLogger(__name__)


class BotPolicies:
    """The policy of each bot seat of one game, made once per bot and kept."""

    def __init__(self) -> None:
        self._policies: dict[str, tuple[object, Policy]] = {}

    def decision(self, game: Game, record: GameRecord, seat: SeatRecord) -> Decision:
        """The bot's policy on the seat's view; the game's default decision if the policy
        fails, so that a broken bot never stalls a round (the failure is logged)."""
        assert seat.bot is not None
        state, role = record.state, seat.role
        try:
            cached = self._policies.get(role)
            if cached is None or cached[0] is not seat.bot:
                cached = (
                    seat.bot,
                    make_policy(record.kind, seat.bot.policy, **seat.bot.params),
                )
                self._policies[role] = cached
            raw = cached[1](game.view(state, role))
            return game.validate_decision(state, role, raw)
        except GameServerError as exc:
            # A bot seat saved before its policy's parameters had ranges may hold a value now
            # refused, or its policy may be gone: a line each round, not a traceback.
            log.warning(
                "bot policy refused game=%s role=%s: %s; using the default",
                record.game_id,
                role,
                exc,
            )
            return game.default_decision(state, role)
        except Exception:
            log.exception(
                "bot policy failed game=%s role=%s; using the default", record.game_id, role
            )
            return game.default_decision(state, role)
