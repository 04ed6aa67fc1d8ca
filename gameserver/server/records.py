"""A game as the server holds it: typed, immutable records, and their JSON at the storage edge.

The room changes a game by making a new :class:`GameRecord` (``dataclasses.replace``), never by
mutating one, so a record handed to a save is exactly what is saved. JSON exists only in
:func:`game_to_json` / :func:`game_from_json` and the like, which the game store calls.

Stored layout: a game's JSON carries ``"v"``, the layout version. :data:`LAYOUT_VERSION` is what
this code writes; :data:`MIGRATIONS` turns every older layout into the next, so databases
written by any earlier release load. Version 1 is the layout of gameserver 0.1.0; version 2
adds each seat's ``join_hash`` and the game's ``last_defaulted``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, fields
from operator import attrgetter
from typing import Any

from gameserver.frozen import frozen
from gameserver.game import Decision, State
from gameserver.protocol import GameStatus

#: The stored layout this code writes (``"v"`` in a game's JSON).
LAYOUT_VERSION = 2


def _layout_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Seats claimed before layout 2 have no join id: their joins cannot be retried."""
    seats = [{**seat, "join_hash": None} for seat in data["seats"]]
    return {**data, "v": 2, "seats": seats, "last_defaulted": {}}


#: MIGRATIONS[n] takes a game's JSON from layout n to n + 1. Never edit a released one: add one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _layout_1_to_2}


class LayoutError(ValueError):
    """A stored game in a layout this code cannot read."""


@frozen
class BotSeat:
    """A server-side bot playing a seat: a policy of the game and its parameters."""

    policy: str
    params: Mapping[str, float | int] = field(default_factory=dict)


@frozen
class SeatRecord:
    """One role of a game and who holds it."""

    role: str
    join_code: str
    token_hash: str | None = None  # set once a player has claimed the seat
    name: str | None = None
    bot: BotSeat | None = None
    #: The hash of the join id the player claimed the seat with (``hello``'s ``join_id``): a
    #: retry of that join gets the seat back. None when claimed without one (or not claimed).
    join_hash: str | None = None

    @property
    def claimed(self) -> bool:
        return self.token_hash is not None


@frozen
class CloneSource:
    """The game and completed round a clone started from."""

    game_id: str
    round: int


@frozen
class GameRecord:
    """Everything stored about a game but its history (the round records)."""

    game_id: str
    kind: str
    title: str
    settings: Mapping[str, Any]
    seed: int
    state: State
    status: GameStatus
    seats: tuple[SeatRecord, ...]
    facilitator_hash: str
    created_at: float
    open_code: str | None = None
    session_id: str | None = None
    session_hash: str | None = None
    round_seconds: float | None = None
    #: Unix time the open round closes at, while running; None without a deadline.
    deadline: float | None = None
    #: While paused: seconds the round will have when the game resumes (None: no deadline).
    paused_remaining: float | None = None
    cloned_from: CloneSource | None = None
    #: The message id of each seat's decision in the last closed round (resends are acked).
    last_round_ids: Mapping[str, str] = field(default_factory=dict)
    #: The decision the last closed round used for each seat that had none (the game's default).
    last_defaulted: Mapping[str, Decision] = field(default_factory=dict)

    @property
    def roles(self) -> list[str]:
        return [seat.role for seat in self.seats]

    def seat(self, role: str) -> SeatRecord:
        for seat in self.seats:
            if seat.role == role:
                return seat
        raise KeyError(role)

    def with_seat(self, seat: SeatRecord) -> GameRecord:
        """This record with ``seat`` in place of the seat of the same role."""
        seats = tuple(seat if s.role == seat.role else s for s in self.seats)
        return evolved(self, seats=seats)


#: The fields of a game record, in order: read all at once, and where each is (:func:`evolved`).
_GAME_FIELDS = tuple(f.name for f in fields(GameRecord))
_game_values = attrgetter(*_GAME_FIELDS)
_GAME_FIELD_AT = {name: at for at, name in enumerate(_GAME_FIELDS)}


def evolved(record: GameRecord, **changes: Any) -> GameRecord:
    """``dataclasses.replace(record, **changes)`` in a fraction of its time: the record's
    values read in one call, the changed ones put in their places, the new record made from
    them in order (a record has no checks to run). A closed round makes one."""
    values = list(_game_values(record))
    for name, value in changes.items():
        at = _GAME_FIELD_AT.get(name)
        if at is None:
            raise TypeError(f"a game record has no field {name!r}")
        values[at] = value
    return GameRecord(*values)


@frozen
class PendingDecision:
    """A seat's durable decision for the open round.

    ``earlier_ids`` are the ids this seat used before in the same round, newest last: a resend
    of one of them is acknowledged as a duplicate and does not bring the old decision back.
    """

    decision: Decision
    id: str
    at: float
    earlier_ids: tuple[str, ...] = ()


@frozen
class RoundRecord:
    """A closed round: the decisions it used and what it produced."""

    round: int
    decisions: Mapping[str, Decision]
    defaulted: tuple[str, ...]
    ids: Mapping[str, str]
    closed_by: str
    at: float
    summary: Mapping[str, Any]
    #: Who held each seat when the round closed (None: nobody); empty for rounds saved before
    #: names were kept. Exports name who decided, also for a student moved between teams.
    names: Mapping[str, str | None] = field(default_factory=dict)


# -- JSON at the storage edge -------------------------------------------------------------


def game_to_json(record: GameRecord) -> dict[str, Any]:
    """The stored JSON of a game, in layout :data:`LAYOUT_VERSION`."""
    return {
        "v": LAYOUT_VERSION,
        "game_id": record.game_id,
        "kind": record.kind,
        "title": record.title,
        "settings": record.settings,
        "seed": record.seed,
        "state": record.state,
        "status": str(record.status),
        "seats": [_seat_to_json(seat) for seat in record.seats],
        "open_code": record.open_code,
        "facilitator_hash": record.facilitator_hash,
        "session_id": record.session_id,
        "session_hash": record.session_hash,
        "round_seconds": record.round_seconds,
        "deadline": record.deadline,
        "paused_remaining": record.paused_remaining,
        "created_at": record.created_at,
        "cloned_from": (
            {"game_id": record.cloned_from.game_id, "round": record.cloned_from.round}
            if record.cloned_from
            else None
        ),
        "last_round_ids": record.last_round_ids,
        "last_defaulted": record.last_defaulted,
    }


def game_from_json(data: Mapping[str, Any]) -> GameRecord:
    """A game from its stored JSON, migrated from any older layout."""
    version = data.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise LayoutError(f"stored game has no layout version (v = {version!r})")
    if version > LAYOUT_VERSION:
        raise LayoutError(
            f"stored game has layout {version}, newer than this release reads ({LAYOUT_VERSION})"
        )
    current = dict(data)
    while version < LAYOUT_VERSION:
        current = MIGRATIONS[version](current)
        version += 1
    cloned = current.get("cloned_from")
    try:
        return GameRecord(
            game_id=current["game_id"],
            kind=current["kind"],
            title=current.get("title") or "",
            settings=current["settings"],
            seed=current["seed"],
            state=current["state"],
            status=GameStatus(current["status"]),
            seats=tuple(_seat_from_json(seat) for seat in current["seats"]),
            facilitator_hash=current["facilitator_hash"],
            created_at=current["created_at"],
            open_code=current.get("open_code"),
            session_id=current.get("session_id"),
            session_hash=current.get("session_hash"),
            round_seconds=current.get("round_seconds"),
            deadline=current.get("deadline"),
            paused_remaining=current.get("paused_remaining"),
            cloned_from=CloneSource(cloned["game_id"], cloned["round"]) if cloned else None,
            last_round_ids=current.get("last_round_ids") or {},
            last_defaulted=current.get("last_defaulted") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"stored game is missing or has a bad field: {exc!r}") from exc


def _seat_to_json(seat: SeatRecord) -> dict[str, Any]:
    return {
        "role": seat.role,
        "join_code": seat.join_code,
        "token_hash": seat.token_hash,
        "name": seat.name,
        "bot": {"policy": seat.bot.policy, "params": seat.bot.params} if seat.bot else None,
        "join_hash": seat.join_hash,
    }


def _seat_from_json(data: Mapping[str, Any]) -> SeatRecord:
    bot = data.get("bot")
    return SeatRecord(
        role=data["role"],
        join_code=data["join_code"],
        token_hash=data.get("token_hash"),
        name=data.get("name"),
        bot=BotSeat(bot["policy"], bot.get("params") or {}) if bot else None,
        join_hash=data.get("join_hash"),
    )


def pending_to_json(pending: PendingDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"decision": pending.decision, "id": pending.id, "at": pending.at}
    if pending.earlier_ids:
        out["earlier_ids"] = list(pending.earlier_ids)
    return out


def pending_from_json(data: Mapping[str, Any]) -> PendingDecision:
    return PendingDecision(
        decision=data["decision"],
        id=data["id"],
        at=data["at"],
        earlier_ids=tuple(data.get("earlier_ids") or ()),
    )


def round_to_json(record: RoundRecord) -> dict[str, Any]:
    return {
        "round": record.round,
        "decisions": record.decisions,
        "defaulted": list(record.defaulted),
        "ids": record.ids,
        "closed_by": record.closed_by,
        "at": record.at,
        "summary": record.summary,
        "names": record.names,
    }


def round_from_json(data: Mapping[str, Any]) -> RoundRecord:
    return RoundRecord(
        round=data["round"],
        decisions=data["decisions"],
        defaulted=tuple(data.get("defaulted") or ()),
        ids=data.get("ids") or {},
        closed_by=data.get("closed_by") or "",
        at=data.get("at") or 0.0,
        summary=data.get("summary") or {},
        names=data.get("names") or {},
    )
