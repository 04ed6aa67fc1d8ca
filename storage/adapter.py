"""The storage adapter contract: the whole interface between the server and a store.

An adapter moves records to and from one store. It does no encoding, no compression and no game
logic: the layer above it (:class:`storage.store.Store`) turns payloads into bytes, compresses them
and reads them back. Every method is a coroutine; when one returns, what it wrote is durable (it
survives a kill -9 or a power cut, as far as the store can promise).

Three kinds of record, all keyed by ``game_id``:

``Snapshot``
    A game's current state, one per game, replaced on every save. O(1) in the game's length:
    the history lives in rounds, never in the snapshot.
``DecisionRecord``
    One submitted decision of one seat for one round, keyed ``(game_id, round, seat)``; saving
    again replaces it (a player changed their mind). Written before the decision is acknowledged.
``RoundRecord``
    One completed round (the decisions and the resulting state), keyed ``(game_id, round)``;
    appended once per round, read back for replay, clone and export.

Writing your own adapter: subclass :class:`StorageAdapter`, implement the methods below, and run
the conformance suite (``tests/storage_conformance.py``) against it. ``docs/storage.md`` has a
complete example for a key-value store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A game's current state as stored.

    ``status`` is the server's word for the game (``created``, ``running``, ``paused``,
    ``finished``, ``ended``); ``in_progress`` is what start-up looks for. ``payload`` is opaque.
    Times are Unix seconds.
    """

    game_id: str
    kind: str
    status: str
    in_progress: bool
    round: int
    schema_version: int
    created_at: float
    updated_at: float
    payload: bytes


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A seat's decision for ``round`` (the round being played: completed rounds + 1)."""

    game_id: str
    round: int
    seat: str
    schema_version: int
    created_at: float
    payload: bytes


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """A completed round: ``round`` is the number of the round just played (1, 2, ...)."""

    game_id: str
    round: int
    schema_version: int
    created_at: float
    payload: bytes


class StorageAdapter(ABC):
    """Base class of every store. Implement the abstract methods; nothing else is needed.

    Methods may be called concurrently from many games at once. An adapter that can batch many
    callers' writes into one commit (group commit) should, but each caller's await must return
    only after its own write is durable.
    """

    #: Short name shown in logs and errors.
    name: str = "adapter"

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (create tables, folders). Called once before anything else."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Finish pending writes and release the store."""

    @abstractmethod
    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Create or replace the snapshot of ``snapshot.game_id``."""

    @abstractmethod
    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's snapshot, or None if there is no such game."""

    @abstractmethod
    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every stored snapshot (only those with ``in_progress`` if asked), in any order."""

    @abstractmethod
    async def delete_game(self, game_id: str) -> bool:
        """Remove the game's snapshot, decisions and rounds; False if there was no such game."""

    @abstractmethod
    async def save_decision(self, decision: DecisionRecord) -> None:
        """Create or replace the decision keyed ``(game_id, round, seat)``."""

    @abstractmethod
    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """The decisions saved for this round of this game, in any order."""

    @abstractmethod
    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Store a completed round and the game's new snapshot together.

        Atomic where the store allows it (SQLite: one transaction). Where it does not, write
        the round first and the snapshot second: the layer above reconciles a snapshot that is
        older than the last round. A round already stored under the same key is replaced.
        """

    @abstractmethod
    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's round records with ``round > after``, in round order."""
