"""What the conformance tests share: the records they write, with plausible fixed defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from storage import DecisionRecord, Document, RoundRecord, Snapshot, StorageAdapter

AdapterFactory = Callable[[], StorageAdapter]
ALL_BYTES = bytes(range(256)) * 3


def snap(game_id: str, round: int = 0, *, payload: bytes = b"{}", **kw: Any) -> Snapshot:
    """A snapshot with plausible defaults; keyword arguments override any field."""
    fields: dict[str, Any] = {
        "kind": "beer",
        "status": "running",
        "in_progress": True,
        "schema_version": 1,
        "created_at": 1_700_000_000.25,
        "updated_at": 1_700_000_100.5 + round,
    }
    fields.update(kw)
    return Snapshot(game_id=game_id, round=round, payload=payload, **fields)


def decision(game_id: str, round: int, seat: str, payload: bytes = b"{}") -> DecisionRecord:
    """A decision with fixed version and time."""
    return DecisionRecord(game_id, round, seat, 1, 1_700_000_050.125, payload)


def round_record(game_id: str, round: int, payload: bytes = b"{}") -> RoundRecord:
    """A round record with fixed version and a time that grows with the round."""
    return RoundRecord(game_id, round, 1, 1_700_000_060.0 + round, payload)


def document(collection: str, key: str, payload: bytes = b"{}") -> Document:
    """A document with fixed version and time."""
    return Document(collection, key, 1, 1_700_000_070.75, payload)


def grouped_games() -> list[Snapshot]:
    """Games in groups "A", "B", "" (no group) and None (unknown), sorted by id."""
    groups: list[str | None] = ["A", "B", "A", "", "B", "A", None, "", "A"]
    games = [snap(f"g{n}", n, group=group) for n, group in enumerate(groups)]
    return by_id(games)


def by_id(snapshots: Iterable[Snapshot]) -> list[Snapshot]:
    """The snapshots sorted by game id."""
    return sorted(snapshots, key=lambda s: s.game_id)
