"""MemoryAdapter: records in dicts, for tests and for running without persistence."""

from __future__ import annotations

from storage.adapter import DecisionRecord, RoundRecord, Snapshot, StorageAdapter


class MemoryAdapter(StorageAdapter):
    """Keeps every record in this process; nothing survives :meth:`close` or a restart.

    Every method completes without yielding to the event loop, so each call is atomic.
    """

    name = "memory"
    durable = False

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._decisions: dict[str, dict[int, dict[str, DecisionRecord]]] = {}
        self._rounds: dict[str, dict[int, RoundRecord]] = {}

    async def close(self) -> None:
        """Forget everything, as a restart would."""
        self._snapshots.clear()
        self._decisions.clear()
        self._rounds.clear()

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Create or replace the game's snapshot."""
        self._snapshots[snapshot.game_id] = snapshot

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's snapshot, or None."""
        return self._snapshots.get(game_id)

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every snapshot, or those in progress."""
        snapshots = self._snapshots.values()
        if in_progress_only:
            return [s for s in snapshots if s.in_progress]
        return list(snapshots)

    async def delete_game(self, game_id: str) -> bool:
        """Drop everything stored for the game."""
        found = [
            self._snapshots.pop(game_id, None),
            self._decisions.pop(game_id, None),
            self._rounds.pop(game_id, None),
        ]
        return any(item is not None for item in found)

    async def save_decision(self, decision: DecisionRecord) -> None:
        """Create or replace the decision keyed (game, round, seat)."""
        rounds = self._decisions.setdefault(decision.game_id, {})
        rounds.setdefault(decision.round, {})[decision.seat] = decision

    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """The decisions of this round of this game."""
        return list(self._decisions.get(game_id, {}).get(round, {}).values())

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Store the round and the snapshot in one step."""
        self._rounds.setdefault(record.game_id, {})[record.round] = record
        self._snapshots[snapshot.game_id] = snapshot

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's rounds above ``after``, in order."""
        rounds = self._rounds.get(game_id, {})
        return [rounds[n] for n in sorted(rounds) if n > after]


def from_url(url: str, *, synchronous: str = "FULL") -> MemoryAdapter:
    """``memory://``; ``synchronous`` does not apply."""
    return MemoryAdapter()
