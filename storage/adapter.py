"""The storage adapter contract: the whole interface between the server and a store.

An adapter moves records to and from one store. It does no encoding, no compression and no game
logic: the layer above it (:class:`storage.store.Store`) turns payloads into bytes, compresses them
and reads them back. Every method is a coroutine; when one returns, what it wrote is durable (it
survives a kill -9 or a power cut, as far as the store can promise).

Three kinds of record, all keyed by ``game_id``:

``Snapshot``
    A game's current state, one per game, replaced when saved whole
    (:meth:`StorageAdapter.advance_round` moves its columns and keeps its payload). The payload
    holds whatever the game keeps in its state, which may grow with the game (a Beer Game keeps
    each role's history). It names the game's group (the class it is played in), so that one
    group's games can be found without reading every game.
``DecisionRecord``
    One submitted decision of one seat for one round, keyed ``(game_id, round, seat)``; saving
    again replaces it (a player changed their mind). Written before the decision is acknowledged.
``RoundRecord``
    One completed round (its decisions and what it produced), keyed ``(game_id, round)``;
    appended once per round, read back for replay, clone and export.

Beside them, two things with defaults, so that adapters written before them keep working:

``SnapshotHeader`` (:meth:`StorageAdapter.load_headers`)
    A snapshot without its payload: the columns and the snapshot's ``summary``, a short text
    the server writes for listings. Pages of headers list thousands of games without reading
    or decoding their states.
``Document`` (:meth:`StorageAdapter.save_document`, :meth:`StorageAdapter.load_document`)
    A record that belongs to no game, keyed ``(collection, key)``: the server keeps each
    class's lobby and its settings presets in documents.

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

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from storage.errors import StorageError
from storage.frozen import frozen

if TYPE_CHECKING:
    from storage.leases import Leases

#: ``schema_version`` of a record the adapter found but could not parse. Never a real version.
DAMAGED = 0

#: What a document's collection and key may look like (see :class:`Document`).
COLLECTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
DOCUMENT_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")


@frozen
class Snapshot:
    """A game's current state as stored.

    ``status`` is the server's word for the game (``created``, ``running``, ``paused``,
    ``finished``, ``ended``); ``in_progress`` is what start-up looks for. ``payload`` is opaque.
    Times are Unix seconds.

    ``group`` is the group the game belongs to (the server's class or session), any short
    string; ``""`` means the game is in no group. ``None`` means the group is unknown: the
    snapshot was written before snapshots had a group (or by code that did not say), or the
    adapter could not read it from a damaged record. The server always writes a string.

    ``summary`` is a short text (the server writes a JSON object of a few hundred bytes) that
    describes the game for listings: :meth:`StorageAdapter.load_headers` gives it back without
    the payload. None means not known (a snapshot written before summaries). Like ``group`` it
    comes after the older nine fields and has a default, so adapters that build snapshots
    positionally from those keep working.
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
    summary: str | None = None


@frozen
class SnapshotHeader:
    """A snapshot without its payload and record version: what a listing of games reads."""

    game_id: str
    kind: str
    status: str
    in_progress: bool
    round: int
    created_at: float
    updated_at: float
    group: str | None
    summary: str | None

    @classmethod
    def of(cls, s: Snapshot) -> SnapshotHeader:
        """The header of a whole snapshot."""
        return cls(
            s.game_id,
            s.kind,
            s.status,
            s.in_progress,
            s.round,
            s.created_at,
            s.updated_at,
            s.group,
            s.summary,
        )


@frozen
class HeaderQuery:
    """Which headers :meth:`StorageAdapter.load_headers` gives, and in what order.

    Headers come ordered by ``(created_at, game_id)``, oldest first (newest first with
    ``newest_first``). ``groups``: only snapshots whose group is one of these (None in it
    stands for the unknown group); None: every group. ``status``: only this status.
    ``after``: only those strictly after this ``(created_at, game_id)`` in that order, the last
    header of the previous page (a cursor). ``limit``: at most this many (None: all).
    """

    groups: frozenset[str | None] | None = None
    status: str | None = None
    after: tuple[float, str] | None = None
    limit: int | None = None
    newest_first: bool = False

    def select(self, headers: Iterable[SnapshotHeader]) -> list[SnapshotHeader]:
        """This query applied to ``headers`` (any order): what a store without an index
        answers."""
        found = [
            h
            for h in headers
            if (self.groups is None or h.group in self.groups)
            and (self.status is None or h.status == self.status)
        ]
        found.sort(key=_created, reverse=self.newest_first)
        if self.after is not None:
            after = self.after
            if self.newest_first:
                found = [h for h in found if _created(h) < after]
            else:
                found = [h for h in found if _created(h) > after]
        return found if self.limit is None else found[: self.limit]


def _created(header: SnapshotHeader) -> tuple[float, str]:
    return header.created_at, header.game_id


@frozen
class Document:
    """A record that belongs to no game, keyed ``(collection, key)``; saving again replaces it.

    ``collection`` is 1-32 lowercase letters, digits and ``_``, starting with a letter; ``key``
    is 1-64 letters, digits, ``_`` and ``-``, starting with a letter or digit (anything else is
    ``ValueError``). ``payload`` is opaque; ``updated_at`` is Unix seconds.
    """

    collection: str
    key: str
    schema_version: int
    updated_at: float
    payload: bytes


def advanced(snapshot: Snapshot, header: SnapshotHeader) -> Snapshot:
    """``snapshot`` with the columns :meth:`StorageAdapter.advance_round` writes taken from
    ``header``."""
    return replace(
        snapshot,
        status=header.status,
        in_progress=header.in_progress,
        round=header.round,
        updated_at=header.updated_at,
        summary=header.summary,
    )


def check_document_key(collection: str, key: str) -> None:
    """Raise ValueError naming the problem unless ``(collection, key)`` can name a document."""
    if not isinstance(collection, str) or not COLLECTION.fullmatch(collection):
        raise ValueError(
            f"document collection {collection!r}: use 1-32 lowercase letters, digits and '_',"
            " starting with a letter"
        )
    if not isinstance(key, str) or not DOCUMENT_KEY.fullmatch(key):
        raise ValueError(
            f"document key {key!r}: use 1-64 letters, digits, '_' and '-', starting with a"
            " letter or digit"
        )


def document_game_id(collection: str, key: str) -> str:
    """The reserved game id under which the default methods keep a document: ``_`` then the
    collection, ``.``, the key. No game id starts with ``_`` (the server's are letters and
    digits), so documents and games never meet."""
    check_document_key(collection, key)
    return f"_{collection}.{key}"


@frozen
class DecisionRecord:
    """A seat's decision for ``round`` (the round being played: completed rounds + 1)."""

    game_id: str
    round: int
    seat: str
    schema_version: int
    created_at: float
    payload: bytes


@frozen
class RoundRecord:
    """A completed round: ``round`` is the number of the round just played (1, 2, ...)."""

    game_id: str
    round: int
    schema_version: int
    created_at: float
    payload: bytes


class StorageAdapter(ABC):
    """Base class of every store. Implement the abstract methods; nothing else is needed.

    :meth:`load_group` and :meth:`load_headers` have defaults that filter
    :meth:`load_snapshots`; a store that can look snapshots up by group or by creation time (an
    index, say) should override them. :meth:`save_document` and :meth:`load_document` have
    defaults that keep documents as decision records of reserved game ids; a store may keep
    them in a place of their own instead.

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

    async def load_headers(self, query: HeaderQuery) -> list[SnapshotHeader]:
        """The headers of the snapshots ``query`` selects, in its order (see
        :class:`HeaderQuery`): a page of a listing, read without payloads where the store can.

        The default reads the snapshots (those of the query's groups through
        :meth:`load_group`, else every one) and filters them in Python: right for any store,
        but it reads every payload. An indexed store overrides it (SQLite, PostgreSQL).
        """
        if query.groups is None:
            snapshots = await self.load_snapshots()
        else:
            snapshots = [s for group in query.groups for s in await self.load_group(group)]
        return query.select(SnapshotHeader.of(s) for s in snapshots)

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

    async def advance_round(self, record: RoundRecord, header: SnapshotHeader) -> None:
        """Store a completed round and bring the game's snapshot's columns up to it, keeping
        the snapshot's payload as it is.

        From ``header`` only ``status``, ``in_progress``, ``round``, ``updated_at`` and
        ``summary`` are written; the rest of the snapshot (its payload, kind, group, creation
        time) stays. The server calls this for most rounds instead of :meth:`append_round`:
        the payload then lags behind the rounds, and the server brings a game read back up to
        date by replaying the rounds after its payload's own round. Atomic like
        :meth:`append_round`. The game must have a snapshot: if it has none, the adapter
        raises :class:`~storage.errors.StorageError` or stores nothing.

        Not abstract: this default reads the snapshot and writes it back whole with the round
        through :meth:`append_round`: right for any store. SQLite and PostgreSQL override it
        with an update of the columns alone.
        """
        snapshot = await self.load_snapshot(record.game_id)
        if snapshot is None:
            raise StorageError(
                f"{self.name}: game {record.game_id!r} has no snapshot to advance", record.game_id
            )
        await self.append_round(record, advanced(snapshot, header))

    @abstractmethod
    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's round records with ``round > after``, in round order."""

    # -- documents: not abstract, so that adapters written before documents keep working

    async def save_document(self, document: Document) -> None:
        """Create or replace the document keyed ``(collection, key)``; durable on return.

        The default keeps it as the decision of seat ``""`` in round 0 of the reserved game id
        :func:`document_game_id`: durable and atomic wherever decisions are, and invisible to
        every listing of games (a game is a snapshot, and that id never has one).
        """
        game_id = document_game_id(document.collection, document.key)
        record = DecisionRecord(
            game_id, 0, "", document.schema_version, document.updated_at, document.payload
        )
        await self.save_decision(record)

    async def load_document(self, collection: str, key: str) -> Document | None:
        """The document keyed ``(collection, key)``, or None if there is none."""
        found = await self.load_decisions(document_game_id(collection, key), 0)
        for record in found:
            if record.seat == "":
                return Document(
                    collection, key, record.schema_version, record.created_at, record.payload
                )
        return None
