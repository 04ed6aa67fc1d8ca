"""The server's one door to storage: typed records in and out, storage errors translated.

Everything the server saves or reads goes through :class:`GameStore`. Records become JSON here
and nowhere else (:mod:`gameserver.server.records`), and every failure of the store below, of
any kind, becomes a :class:`~gameserver.errors.StorageFailure` naming the game, so that a
client gets a 503 or a ``storage_failure`` error and never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from gameserver.errors import StorageFailure
from gameserver.game import Game
from gameserver.games import get_game
from gameserver.protocol import GameStatus
from gameserver.replay import replay
from gameserver.server.listing import summary_of
from gameserver.server.lobby import ClassRecord, class_from_json, class_to_json
from gameserver.server.records import (
    GameRecord,
    LayoutError,
    PendingDecision,
    RoundRecord,
    game_from_json,
    game_to_json,
    pending_from_json,
    pending_to_json,
    round_from_json,
    round_to_json,
)
from gameserver.server.turn import in_turns
from storage import CorruptRecord, GameHeader, HeaderQuery, StorageError, Store, StoredGame
from storage.leases import Leases

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The collection of documents that holds each class's lobby, keyed by the class's id.
CLASSES = "classes"
#: The collection of the settings presets (one document, ``all``).
PRESETS = "presets"


@dataclass(frozen=True, slots=True)
class LoadedGame:
    """A game read back whole: its record (caught up with its rounds) and the decisions of
    its open round."""

    record: GameRecord
    pending: dict[str, PendingDecision]


async def _guard(call: Awaitable[T], what: str, subject: object = "") -> T:
    """Await a store call; any failure becomes a StorageFailure saying ``what`` ``subject``
    (formatted only then)."""
    try:
        return await call
    except StorageFailure:
        raise
    except Exception as exc:
        raise _failure(exc, what, subject) from exc


def _failure(exc: Exception, what: str, subject: object) -> StorageFailure:
    if isinstance(exc, StorageError | LayoutError | ValueError):
        return StorageFailure(f"{what}{subject}: {exc}")
    # An adapter's own bug must still reach the client as a 503, and the log as a traceback.
    log.error("storage failed: %s%s", what, subject, exc_info=exc)
    return StorageFailure(f"{what}{subject}: {type(exc).__name__}: {exc}")


def _stored(
    record: GameRecord,
    game: Game,
    data: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> StoredGame:
    # Positional, in StoredGame's order: keywords make the call build a dict (every round).
    return StoredGame(
        record.game_id,
        record.kind,
        str(record.status),
        record.status.in_progress,
        game.current_round(record.state),  # round
        record.created_at,
        0.0,  # updated_at: the store's to set
        game_to_json(record) if data is None else data,
        record.session_id or "",  # group
        summary_of(record, game) if summary is None else summary,
    )


def _record(stored: StoredGame) -> GameRecord:
    try:
        return game_from_json(stored.data)
    except LayoutError as exc:
        raise StorageFailure(f"game {stored.game_id}: {exc}") from exc


#: A closed round rewrites its game's stored record whole at least every this many rounds.
SNAPSHOT_EVERY = 8


class Snapshots:
    """When a closed round rewrites its game's stored record whole; one per game in memory.

    Every round stores its round record and brings the game's columns (status, rounds played,
    summary) up to date. The record itself (the state, which holds the game's history and grows
    with it, and everything else) is encoded and written whole only for the first round saved
    after the game came into memory, once every ``every`` rounds, and whenever the record differs
    from the last one written whole in anything but what its rounds give back by replaying
    them (the state, the last round's ids and defaults): the last round, a deadline, a seat, a
    setting. Reading the game back replays the rounds after its stored state
    (:meth:`GameStore.read`, and restoring it): the rules are deterministic.
    """

    def __init__(self, every: int = SNAPSHOT_EVERY) -> None:
        self.every = max(1, every)
        # What replaying rounds does not give back, of the last record written whole.
        self._base: tuple[Any, ...] | None = None
        self._round = 0  # its round
        #: Whether rounds were stored after the last record written whole.
        self.behind = False
        # The listing summary of the last round saved, and what it was made from: a round
        # that changes none of it (most do not) stores it again rather than build it again.
        self._summary_from: tuple[Any, ...] | None = None
        self._summary: dict[str, Any] = {}

    def round_save(
        self, game: GameRecord, round_no: int, rules: Game
    ) -> tuple[bool, dict[str, Any]]:
        """For the round ``round_no`` that made ``game``: whether it writes the record whole,
        and the game's listing summary (:func:`summary_of`), built again only when something it
        is made from changed since the last round's."""
        kept = _not_from_rounds(game)
        whole = self._base is None or round_no - self._round >= self.every or kept != self._base
        made_from = (kept, rules.total_rounds(game.state))
        if made_from != self._summary_from:
            self._summary_from, self._summary = made_from, summary_of(game, rules)
        return whole, self._summary

    def saved(self, game: GameRecord, round_no: int, *, whole: bool) -> None:
        """``game``, as of round ``round_no``, is stored (``whole`` or not)."""
        if whole:
            self._base, self._round = _not_from_rounds(game), round_no
        self.behind = not whole


#: Every field of a game's record but those its rounds give back by replaying them. A tuple of
#: them compares field by field, and a field that did not change is the same object: this runs
#: every round, and building a record to compare was 2% of the server's time.
_not_from_rounds = attrgetter(
    *(
        f.name
        for f in fields(GameRecord)
        if f.name not in ("state", "last_round_ids", "last_defaulted")
    )
)


class GameStore:
    """Games, decisions and rounds as records, over a :class:`storage.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def name(self) -> str:
        return self.store.adapter.name

    async def open(self) -> None:
        await _guard(self.store.open(), "opening the store")

    async def close(self) -> None:
        await _guard(self.store.close(), "closing the store")

    def leases(self, name: str, seconds: float) -> Leases | None:
        """Leases for sharing the database with other servers (storage/leases.py), if the
        store has them and ``seconds`` is not 0."""
        if seconds <= 0:
            return None
        return self.store.adapter.leases(name, seconds)

    # -- writing ------------------------------------------------------------------------------

    async def save_game(self, record: GameRecord) -> None:
        stored = _stored(record, get_game(record.kind))
        await _guard(self.store.save_game(stored), "saving game ", record.game_id)

    async def save_decision(
        self, game_id: str, round_no: int, role: str, pending: PendingDecision
    ) -> None:
        # Inline rather than through _guard: one coroutine less on every decision.
        try:
            await self.store.save_decision(game_id, round_no, role, pending_to_json(pending))
        except StorageFailure:
            raise
        except Exception as exc:
            raise _failure(exc, "saving a decision of game ", game_id) from exc

    async def save_decisions(
        self, decisions: Sequence[tuple[str, SaveDecisionLike]]
    ) -> list[StorageFailure | None]:
        """Save ``(game_id, save)`` decisions together; one outcome each, in order."""
        items = [
            (game_id, save.round, save.role, pending_to_json(save.pending))
            for game_id, save in decisions
        ]
        try:
            outcomes = await self.store.save_decisions(items)
        except Exception as exc:  # every decision must hear, or its game stalls
            failure = _failure(exc, "saving decisions", "")
            return [failure] * len(items)
        return [
            None if outcome is None else _failure(outcome, "saving a decision of game ", game_id)
            for (game_id, _save), outcome in zip(decisions, outcomes, strict=True)
        ]

    async def append_round(
        self,
        record: RoundRecord,
        game: GameRecord,
        *,
        whole: bool = True,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """A closed round and the game's record after it, atomically. Not ``whole``: the
        stored record stays as it was and only its columns follow (see :class:`Snapshots`).
        ``summary``: the game's listing summary, if the caller has it (else it is made)."""
        data = round_to_json(record)
        if whole:
            stored = _stored(game, get_game(game.kind), summary=summary)
            call = self.store.append_round(game.game_id, record.round, data, stored)
        else:
            stored = _stored(game, get_game(game.kind), data={}, summary=summary)
            call = self.store.advance_round(game.game_id, record.round, data, stored)
        await _guard(call, "saving a round of game ", game.game_id)

    async def copy_rounds(self, source: str, target: GameRecord, up_to: int) -> None:
        """Give a clone the history of its source up to round ``up_to``."""
        stored = _stored(target, get_game(target.kind))
        for record in await self.load_rounds(source):
            if record.round <= up_to:
                data = round_to_json(record)
                call = self.store.append_round(target.game_id, record.round, data, stored)
                await _guard(call, "copying rounds to game ", target.game_id)

    async def delete(self, game_id: str) -> bool:
        return await _guard(self.store.delete_game(game_id), "deleting game ", game_id)

    # -- reading ------------------------------------------------------------------------------

    async def read(self, game_id: str) -> GameRecord | None:
        """The game's stored record, caught up with the rounds stored after it."""
        stored = await _guard(self.store.load_game(game_id), "reading game ", game_id)
        return None if stored is None else await self._caught_up(_record(stored), stored.round)

    async def load(self, game_id: str) -> LoadedGame | None:
        """The game whole, to bring into memory; None if there is none."""
        stored = await _guard(self.store.load_game(game_id), "reading game ", game_id)
        return None if stored is None else await self._whole(_record(stored))

    async def load_in_progress(
        self, claim: Callable[[list[str]], Awaitable[set[str]]] | None = None
    ) -> tuple[list[LoadedGame], list[str]]:
        """Every game in progress, whole (only those ``claim`` gives this server, if given);
        and one error per game that could not be read."""
        call = self.store.load_games(in_progress_only=True)
        result = await _guard(call, "reading the games in progress")
        errors = [str(error) for error in result.errors]
        found = result.games
        if claim is not None and found:
            ours = await claim([stored.game_id for stored in found])
            # Read again once ours: another server may have changed them before letting go.
            found = []
            for game_id in sorted(ours):
                stored = await _guard(self.store.load_game(game_id), "reading game ", game_id)
                if stored is not None:
                    found.append(stored)
        games: list[LoadedGame] = []
        for stored in found:
            try:
                games.append(await self._whole(_record(stored)))
            except Exception as exc:  # one bad game must not stop the others
                log.exception("restore failed game=%s", stored.game_id)
                errors.append(f"game {stored.game_id}: {exc}")
        return games, errors

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        call = self.store.load_rounds(game_id, after=after)
        rounds = await _guard(call, "reading the rounds of game ", game_id)
        try:
            return [round_from_json(r.data) for r in rounds]
        except (KeyError, TypeError) as exc:
            raise StorageFailure(f"game {game_id}: a round record is damaged: {exc!r}") from exc

    async def list_games(
        self, *, group: str | None = None, known: Container[str] = ()
    ) -> list[GameRecord]:
        """Every stored game, or those of one group (a class). Damaged ones are logged. The
        records are decoded off the event loop: this serves a request while games play.

        ``known``: games the caller has already (in memory). A group's are then not read: its
        headers say which games it has, and only the others are read, a turn of the loop each
        (a class in play is all in memory, and its dashboard asks for it every 2.5 s)."""
        if group is not None and known:
            return await self._group_but(group, known)
        if group is None:
            result = await _guard(self.store.load_games(in_thread=True), "listing games")
        else:
            call = self.store.load_group(group, in_thread=True)
            result = await _guard(call, "listing the games of ", group)
        for error in result.errors:
            log.error("listing: %s", error)
        records = await asyncio.to_thread(_records, result.games)
        # A turn of the loop each: catching up reads and replays a few rounds inline, and for a
        # class of 250 games in one go that held every game in play for 25 ms.
        return [await self._caught_up(record, played) async for record, played in in_turns(records)]

    async def _group_but(self, group: str, known: Container[str]) -> list[GameRecord]:
        headers = await self.list_headers(HeaderQuery(groups=frozenset({group})))
        out = []
        async for header in in_turns(h for h in headers if h.game_id not in known):
            try:
                stored = await self.store.load_game(header.game_id)
            except CorruptRecord as exc:  # damaged: logged, as the other listings do
                log.error("listing: %s", exc)
                continue
            except Exception as exc:
                raise _failure(exc, "listing the games of ", group) from exc
            if stored is None:
                continue  # deleted meanwhile
            try:
                record = _record(stored)
            except StorageFailure as exc:
                log.error("listing: %s", exc)
                continue
            out.append(await self._caught_up(record, stored.round))
        return out

    async def list_headers(self, query: HeaderQuery) -> list[GameHeader]:
        """A page of stored games, their summaries but not their records (see
        :mod:`gameserver.server.listing`)."""
        return await _guard(self.store.load_headers(query), "listing games")

    async def save_class(self, record: ClassRecord) -> None:
        """A class's lobby (a document of its own, beside its games); durable on return."""
        call = self.store.save_document(CLASSES, record.session_id, class_to_json(record))
        await _guard(call, "saving class ", record.session_id)

    async def read_class(self, session_id: str) -> ClassRecord | None:
        """A class's lobby, or None for a class without one (made before lobbies)."""
        call = self.store.load_document(CLASSES, session_id)
        data = await _guard(call, "reading class ", session_id)
        if data is None:
            return None
        try:
            return class_from_json(data)
        except LayoutError as exc:
            raise StorageFailure(f"class {session_id}: {exc}") from exc

    async def read_presets(self) -> dict[str, Any]:
        """The settings presets: name -> what creating a game from it takes."""
        data = await _guard(self.store.load_document(PRESETS, "all"), "reading the presets")
        presets = (data or {}).get("presets")
        return dict(presets) if isinstance(presets, dict) else {}

    async def save_presets(self, presets: Mapping[str, Any]) -> None:
        call = self.store.save_document(PRESETS, "all", {"presets": dict(presets)})
        await _guard(call, "saving the presets")

    async def regroup_legacy(self) -> int:
        """Give games stored before groups existed (0.1.0) their group; how many there were."""
        result = await _guard(self.store.load_group(None), "reading games of unknown group")
        for stored in result.games:
            await self.save_game(_record(stored))
        return len(result.games)

    async def _caught_up(self, record: GameRecord, played: int | None = None) -> GameRecord:
        """``record`` with the rounds stored after its state replayed: a record written a few
        rounds back (:class:`Snapshots`), or by a store that cannot write a round and its
        record atomically. ``played``: the rounds the stored columns say were played (when
        known, no rounds are read unless it is ahead of the record)."""
        game = get_game(record.kind)
        at = game.current_round(record.state)
        if played is not None and played <= at:
            return record
        later = await self.load_rounds(record.game_id, after=at)
        if not later:
            return record
        decisions = [r.decisions for r in later]
        if game.slow_step:  # a model's engine: off the loop, which serves other games
            states = await asyncio.to_thread(_replayed, game, record.state, decisions)
        else:
            states = _replayed(game, record.state, decisions)
        last = later[-1]
        changes: dict[str, Any] = {
            "state": states[-1],
            "last_round_ids": last.ids,
            "last_defaulted": {role: last.decisions[role] for role in last.defaulted},
        }
        if game.is_over(states[-1]):
            changes.update(status=GameStatus.FINISHED, deadline=None, paused_remaining=None)
        return replace(record, **changes)

    async def _whole(self, record: GameRecord) -> LoadedGame:
        game = get_game(record.kind)
        record = await self._caught_up(record)
        open_round = game.current_round(record.state) + 1
        call = self.store.load_decisions(record.game_id, open_round)
        raw = await _guard(call, "reading the decisions of game ", record.game_id)
        return LoadedGame(record, _pending(raw, set(record.roles)))


def _replayed(game: Game, state: Any, decisions: list[Any]) -> list[Any]:
    return list(replay(game, state, decisions))


class SaveDecisionLike(Protocol):
    """A decision to save: its round, seat and decision (the room's SaveDecision effect)."""

    round: int
    role: str
    pending: PendingDecision


def _records(games: list[StoredGame]) -> list[tuple[GameRecord, int]]:
    """Each game's record and the rounds its columns say were played."""
    out = []
    for stored in games:
        try:
            out.append((_record(stored), stored.round))
        except StorageFailure as exc:
            log.error("listing: %s", exc)
    return out


def _pending(raw: Mapping[str, Mapping[str, Any]], roles: set[str]) -> dict[str, PendingDecision]:
    return {role: pending_from_json(data) for role, data in raw.items() if role in roles}
