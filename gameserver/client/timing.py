"""Time for bots: think times, and the timer that measures a game's rounds.

:class:`Think` is how long a bot waits between a view arriving and its submit: fixed, or drawn
from a range with the bot's own seeded ``random.Random``. :class:`RoundTimer` is shared by the
bots of one game in one process and measures, per round, from the last submit sent to the last
``round`` message received (docs/bots.md says exactly what that covers).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Think:
    """A think time in seconds: fixed (``Think(0.1)``) or uniform in ``[low, high]``."""

    low: float = 0.0
    high: float = -1.0  # left out (or negative): the same as low, a fixed time

    def __post_init__(self) -> None:
        if self.high < 0:
            object.__setattr__(self, "high", self.low)
        if not 0 <= self.low <= self.high < 3600:
            raise ValueError(f"think time must be 0 <= low <= high < 3600 s, got {self}")

    @classmethod
    def parse(cls, text: str) -> Think:
        """``"0.1"`` (fixed) or ``"0.05-0.2"`` (a range)."""
        low, sep, high = text.strip().partition("-")
        try:
            return cls(float(low), float(high if sep else low))
        except ValueError:
            raise ValueError(
                f"think time must be seconds (0.1) or a range (0.05-0.2), got {text!r}"
            ) from None

    @classmethod
    def of(cls, value: Think | float | tuple[float, float]) -> Think:
        if isinstance(value, Think):
            return value
        if isinstance(value, tuple):
            return cls(float(value[0]), float(value[1]))
        return cls(float(value), float(value))

    def draw(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


#: No think time: decide as soon as the view arrives.
NO_THINK = Think()


class RoundTimer:
    """Round latency for the bots of one game that run in this process.

    For each round: when the last submit was sent by any of them, and when the last of them
    received the ``round`` message (``time.perf_counter``). A round counts only when every one
    of them received that message (not a ``sync`` after a reconnect).

    Kept in dicts of numbers, which Python's cycle collector does not track: a list or tuple a
    round would be a thousand more objects for it to scan every few rounds in a process of
    bots, and its pauses would be counted in the rounds it measures.
    """

    __slots__ = ("_last", "_seen", "_submits", "players", "round")

    def __init__(self, players: int) -> None:
        self.players = players
        self.round = 0  # the highest round any of the bots saw closed
        self._submits: dict[int, float] = {}
        self._seen: dict[int, int] = {}  # round: how many of the bots received its message
        self._last: dict[int, float] = {}  # round: when the last of them did

    def submitted(self, round_no: int, at: float) -> None:
        if at > self._submits.get(round_no, 0.0):
            self._submits[round_no] = at

    def seen(self, round_no: int) -> None:
        if round_no > self.round:
            self.round = round_no

    def viewed(self, round_no: int, at: float) -> None:
        self._seen[round_no] = self._seen.get(round_no, 0) + 1
        if at > self._last.get(round_no, 0.0):
            self._last[round_no] = at
        if round_no > self.round:
            self.round = round_no

    def latencies(self) -> list[float]:
        """Seconds from the last submit to the last ``round`` message, per complete round."""
        return list(self.by_round().values())

    def timed(self) -> list[tuple[float, float]]:
        """``(when its last submit was sent, its latency)`` per complete round, for a run that
        looks at when its rounds were played (``scripts/bench``'s class-joining row)."""
        return [(self._submits[r], latency) for r, latency in self.by_round().items()]

    def by_round(self) -> dict[int, float]:
        """:meth:`latencies` by round number."""
        submits, last = self._submits, self._last
        return {
            r: last[r] - submits[r]
            for r, count in self._seen.items()
            if count == self.players and r in submits
        }
