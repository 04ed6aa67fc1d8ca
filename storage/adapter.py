"""The storage adapter contract: the whole interface between the server and a store.

An adapter moves records to and from one store. It does no encoding, no compression and no game
logic: the layer above it (:class:`storage.store.Store`) turns payloads into bytes, compresses them
and reads them back. Every method is a coroutine; when one returns, what it wrote is durable (it
survives a kill -9 or a power cut, as far as the store can promise).

Three kinds of record, all keyed by ``game_id``:

``Snapshot``
    A game's current state, one per game, replaced on every save. O(1) in the game's length:
    the history lives in rounds, never in the snapshot. It names the game's group (the class
    it is played in), so that one group's games can be found without reading every game.
``DecisionRecord``
    One submitted decision of one seat for one round, keyed ``(game_id, round, seat)``; saving
    again replaces it (a player changed their mind). Written before the decision is acknowledged.
``RoundRecord``
    One completed round (the decisions and the resulting state), keyed ``(game_id, round)``;
    appended once per round, read back for replay, clone and export.

Game ids are short strings of letters, digits, ``_``, ``-`` and ``.`` (the file adapter refuses
anything else with ``ValueError``, because it names folders after them); seats are any short
string; rounds are non-negative integers. Payloads are opaque bytes and come back byte for byte.

Errors: a failure of the store raises :class:`storage.errors.StorageError` (translated from the
driver's exception with ``raise ... from exc``). A record the adapter cannot parse at all (a
damaged file, say) is not an exception: it is returned with ``schema_version`` set to
:data:`DAMAGED` and whatever bytes were found as its payload, so the layer above reports that one
game as damaged and goes on loading the others.

Writing your own adapter: subclass :class:`StorageAdapter`, implement the abstract methods
below, and run the conformance suite (:class:`storage.testing.AdapterConformance`) against it.
``docs/storage.md`` has a complete example for a key-value store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.leases import Leases

#: ``schema_version`` of a record the adapter found but could not parse. Never a real version.
DAMAGED = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A game's current state as stored.

    ``status`` is the server's word for the game (``created``, ``running``, ``paused``,
    ``finished``, ``ended``); ``in_progress`` is what start-up looks for. ``payload`` is opaque.
    Times are Unix seconds.

    ``group`` is the group the game belongs to (the server's class or session), any short
    string; ``""`` means the game is in no group. ``None`` means the group is unknown: the
    snapshot was written before snapshots had a group (or by code that did not say), or the
    adapter could not read it from a damaged record. The server always writes a string. It is
    the last field and has a default, so adapters that build snapshots positionally from the
    older nine fields keep working.
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
    group: str | None = None


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

    :meth:`load_group` has a default that filters :meth:`load_snapshots`; a store that can look
    snapshots up by group (an index, say) should override it.

    Methods may be called concurrently from many games at once. An adapter that can batch many
    callers' writes into one commit (group commit) should, but each caller's await must return
    only after its own write is durable.
    """

    #: Short name shown in logs and errors.
    name: str = "adapter"
    #: False if what is written does not survive :meth:`close` (the conformance suite then skips
    #: its reopen tests).
    durable: bool = True

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (create tables, folders). Called once before anything else."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Finish pending writes and release the store."""

    def leases(self, name: str, seconds: float) -> Leases | None:
        """Leases for several servers sharing this store (:mod:`storage.leases`), for a server
        called ``name`` and leases of ``seconds``; None (the default) if the store serves one
        server only."""
        return None

    @abstractmethod
    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Create or replace the snapshot of ``snapshot.game_id``."""

    @abstractmethod
    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's snapshot, or None if there is no such game."""

    @abstractmethod
    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every stored snapshot (only those with ``in_progress`` if asked), in any order."""

    async def load_group(self, group: str | None) -> list[Snapshot]:
        """The snapshots whose ``group`` equals ``group``, in any order.

        ``load_group(None)`` returns the snapshots of unknown group (written before groups), and
        ``load_group("")`` those in no group. The default reads every snapshot and filters them.
        """
        return [s for s in await self.load_snapshots() if s.group == group]

    @abstractmethod
    async def delete_game(self, game_id: str) -> bool:
        """Remove the game's snapshot, decisions and rounds.

        True if anything at all was stored under ``game_id``, False if nothing was.
        """

    @abstractmethod
    async def save_decision(self, decision: DecisionRecord) -> None:
        """Create or replace the decision keyed ``(game_id, round, seat)``."""

    async def save_decisions(
        self, decisions: Sequence[DecisionRecord]
    ) -> list[BaseException | None]:
        """Save several decisions (of any games) as :meth:`save_decision` would, one result
        per decision in order: None once it is durable, or the exception that stopped it (one
        failing decision does not fail the others).

        Not abstract: this default saves them one after the other. An adapter that commits
        many writes at once overrides it to save them in one commit (the server hands it every
        decision of a turn of the event loop at once).
        """
        results: list[BaseException | None] = []
        for decision in decisions:
            try:
                await self.save_decision(decision)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    @abstractmethod
    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """The decisions saved for this round of this game, in any order."""

    @abstractmethod
    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Store a completed round and the game's new snapshot together.

        Atomic: after a crash either both are stored or neither is (SQLite: one transaction;
        files: a journal file written first and rolled forward on open). A store that cannot
        make two writes atomic writes the round first and the snapshot second, so a crash leaves
        at worst a snapshot one round behind its last round record, which the server can detect
        by comparing ``snapshot.round`` with :meth:`load_rounds`. A round already stored under
        the same key is replaced.
        """

    @abstractmethod
    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's round records with ``round > after``, in round order."""
