"""The decisions of a game's open round: those saved, those being saved, the newest asked for.

A :class:`Ballot` is the room's bookkeeping of decisions (:mod:`gameserver.server.room`), with no
I/O. A decision counts once its save has completed; saves of one seat complete in the order they
were asked for, but one may fail, and then the decision before it stands. Each seat's earlier ids
in the open round are remembered, so that a resend of an old id never brings an older decision
back.
"""

from __future__ import annotations

from collections.abc import Mapping

from gameserver.server import events as ev
from gameserver.server.records import PendingDecision

#: Ids of earlier decisions a seat made in the open round that are remembered (newest kept).
EARLIER_IDS = 64


class Ballot:
    """The open round's decisions: each seat's durable one, the saves in flight, the newest
    asked for."""

    def __init__(self, pending: Mapping[str, PendingDecision] | None = None) -> None:
        #: The durable decision of each seat for the open round.
        self.pending: dict[str, PendingDecision] = dict(pending or {})
        self.in_flight: list[ev.SaveDecision] = []  # decision saves not done yet, oldest first
        self._latest: dict[str, PendingDecision] = {}  # each seat's newest decision asked for
        self._seq = 0  # numbers decision saves in the order they were asked for
        self._kept_seq: dict[str, int] = {}  # the number of each seat's pending decision

    def resent(self, role: str, decision_id: str) -> PendingDecision | None:
        """The seat's kept decision if ``decision_id`` is an id the seat used in the open round
        (its own or an earlier one), else None."""
        current = self.pending.get(role)
        if current is not None and decision_id in (current.id, *current.earlier_ids):
            return current
        return None

    def earlier_ids(self, role: str, decision_id: str) -> tuple[str, ...]:
        """The ids the seat used in the open round before a decision ``decision_id``."""
        latest = self._latest.get(role) or self.pending.get(role)
        if latest is None:
            return ()
        earlier = latest.earlier_ids
        if latest.id != decision_id:
            earlier = (*earlier, latest.id)[-EARLIER_IDS:]
        return earlier

    def asked(self, role: str) -> bool:
        """Whether the seat has a decision in the open round, saved or being saved."""
        return role in self.pending or role in self._latest

    def ask(
        self, role: str, round_no: int, pending: PendingDecision, peer: ev.Peer | None
    ) -> ev.SaveDecision:
        """The save of a seat's new decision, in flight from now."""
        self._seq += 1
        save = ev.SaveDecision(role, round_no, pending, peer, self._seq)
        self.in_flight.append(save)
        self._latest[role] = pending
        return save

    def done(self, save: ev.SaveDecision) -> None:
        """A decision's save is over, saved or failed."""
        self.in_flight.remove(save)

    def newer(self, save: ev.SaveDecision) -> bool:
        """Whether ``save`` was asked for after the seat's kept decision (or there is none)."""
        return save.seq > self._kept_seq.get(save.role, 0)

    def keep(self, save: ev.SaveDecision) -> None:
        """A decision of the open round was saved: it counts, unless a newer one already does."""
        if self.newer(save):
            self.pending[save.role] = save.pending
            self._kept_seq[save.role] = save.seq

    def clear(self) -> None:
        """A round closed: the next one starts with no decisions."""
        self.pending, self._latest, self._kept_seq = {}, {}, {}
