"""A game's seats as stored, the decisions waiting in its open round, and its statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameserver.connection import Connection
from gameserver.game import Decision

#: Version of the layout of a stored game (``Room.to_data``).
SNAPSHOT_VERSION = 1

CREATED, RUNNING, PAUSED, FINISHED, ENDED = "created", "running", "paused", "finished", "ended"
IN_PROGRESS = frozenset({CREATED, RUNNING, PAUSED})


@dataclass
class Seat:
    """One role of a game and who holds it."""

    role: str
    join_code: str
    token_hash: str | None = None  # set once a player has claimed the seat
    name: str | None = None
    bot: dict[str, Any] | None = None  # {"policy": name, "params": {...}} when a bot plays it
    connections: list[Connection] = field(default_factory=list)

    @property
    def claimed(self) -> bool:
        return self.token_hash is not None

    def to_data(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "join_code": self.join_code,
            "token_hash": self.token_hash,
            "name": self.name,
            "bot": self.bot,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Seat:
        return cls(
            role=data["role"],
            join_code=data["join_code"],
            token_hash=data.get("token_hash"),
            name=data.get("name"),
            bot=data.get("bot"),
        )


@dataclass(frozen=True, slots=True)
class Pending:
    """A durable decision for the open round."""

    decision: Decision
    msg_id: str
    at: float
