"""When a room wants to be woken: its open round's deadline, or the next try of a round whose
save failed.

The room (:mod:`gameserver.server.room`) has no clock: it asks the driver for one timer at a
time (a :class:`~gameserver.server.events.SetTimer`) and hears when it fires. An :class:`Alarm`
remembers the timer asked for, so a timer is only asked for when the time wanted changes, and
the backoff of an automatic close whose save failed, so a round never silently stays open past
its deadline.
"""

from __future__ import annotations

from gameserver.server import events as ev

#: Seconds between attempts to save a round whose save failed, doubling up to the last.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class Alarm:
    """The room's one timer, and the retry of a round whose save failed."""

    def __init__(self) -> None:
        #: The time of the timer asked for, if any.
        self.at: float | None = None
        #: When to try again to close a round whose save failed, and why it was closing.
        self.retry_at: float | None = None
        self.retry_reason = ""
        self.retries = 0  # failed saves in a row of the open round

    def want(self, deadline: float | None) -> list[ev.Effect]:
        """A :class:`SetTimer` if the time to wake up at changed: the retry of a round if one
        is due (it comes first), else ``deadline``."""
        wanted = self.retry_at if self.retry_at is not None else deadline
        if wanted == self.at:
            return []
        self.at = wanted
        return [ev.SetTimer(wanted)]

    def retry(self, now: float, reason: str) -> float:
        """A round closed for ``reason`` failed to save: try again after a delay (returned)
        that doubles with each failure in a row."""
        delay = RETRY_DELAYS[min(self.retries, len(RETRY_DELAYS) - 1)]
        self.retries += 1
        self.retry_at = now + delay
        self.retry_reason = reason
        return delay
