"""A complete storage adapter for any key-value store (docs/storage.md shows this file).

Give it a client with four async methods (get, put, delete, scan by key prefix): Redis, etcd,
DynamoDB or FoundationDB clients all have these. Game ids must not contain "/".
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from storage import DAMAGED, DecisionRecord, RoundRecord, Snapshot, StorageAdapter


class KVClient(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def put(self, key: str, value: bytes) -> None: ...  # durable when it returns
    async def delete(self, key: str) -> None: ...
    async def scan(self, prefix: str) -> list[tuple[str, bytes]]: ...  # keys with this prefix


def pack(record: Any) -> bytes:
    """The record's fields as a JSON line, then its payload bytes."""
    fields = dataclasses.asdict(record)
    payload: bytes = fields.pop("payload")
    return json.dumps(fields).encode() + b"\n" + payload


BLANK = {"kind": "", "status": "", "in_progress": True, "round": 0, "updated_at": 0.0}


def unpack(cls: Any, value: bytes, **key: Any) -> Any:
    """The record packed in ``value``, or if damaged a DAMAGED one the Store will report."""
    head, _, payload = value.partition(b"\n")
    try:
        return cls(**json.loads(head), payload=payload)
    except (ValueError, TypeError):
        names = {f.name for f in dataclasses.fields(cls)} - set(key)
        blank = {name: v for name, v in BLANK.items() if name in names}
        return cls(**blank, **key, schema_version=DAMAGED, created_at=0.0, payload=value)


class KVAdapter(StorageAdapter):
    """Keys: ``snap/<game>``, ``dec/<game>/<round>/<seat>``, ``round/<game>/<round>``."""

    name = "kv"

    def __init__(self, client: KVClient) -> None:
        self.kv = client

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        await self.kv.put(f"snap/{snapshot.game_id}", pack(snapshot))

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        value = await self.kv.get(f"snap/{game_id}")
        return None if value is None else unpack(Snapshot, value, game_id=game_id)

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        found = [unpack(Snapshot, v, game_id=k[5:]) for k, v in await self.kv.scan("snap/")]
        return [s for s in found if s.in_progress or not in_progress_only]

    async def delete_game(self, game_id: str) -> bool:
        keys = [k for k, _ in await self.kv.scan(f"dec/{game_id}/")]
        keys += [k for k, _ in await self.kv.scan(f"round/{game_id}/")]
        if await self.kv.get(f"snap/{game_id}") is not None:
            keys.append(f"snap/{game_id}")  # last, so a crash midway leaves the game listed
        for key in keys:
            await self.kv.delete(key)
        return bool(keys)

    async def save_decision(self, decision: DecisionRecord) -> None:
        d = decision
        await self.kv.put(f"dec/{d.game_id}/{d.round}/{d.seat}", pack(d))

    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        prefix = f"dec/{game_id}/{round}/"
        found = await self.kv.scan(prefix)
        key = {"game_id": game_id, "round": round}
        return [unpack(DecisionRecord, v, **key, seat=k[len(prefix) :]) for k, v in found]

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        # Not atomic in a plain KV store: round first, so a crash leaves the snapshot behind.
        await self.kv.put(f"round/{record.game_id}/{record.round}", pack(record))
        await self.save_snapshot(snapshot)

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        found = await self.kv.scan(f"round/{game_id}/")
        key = {"game_id": game_id}
        rounds = [unpack(RoundRecord, v, **key, round=int(k.rsplit("/", 1)[1])) for k, v in found]
        return sorted((r for r in rounds if r.round > after), key=lambda r: r.round)
