"""Typed records and their JSON at the storage edge: what 0.1.0 wrote reads back the same."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields, replace
from pathlib import Path

import pytest

from gameserver.protocol import GameStatus
from gameserver.server.records import (
    LAYOUT_VERSION,
    BotSeat,
    CloneSource,
    GameRecord,
    LayoutError,
    PendingDecision,
    RoundRecord,
    evolved,
    game_from_json,
    game_to_json,
    pending_from_json,
    pending_to_json,
    round_from_json,
    round_to_json,
)
from storage.adapter import SnapshotHeader
from storage.codec import Codec

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1.0" / "games.db"


def _stored_0_1_0() -> list[dict[str, object]]:
    """Every game's JSON exactly as gameserver 0.1.0 stored it."""
    with sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True) as db:
        payloads = [row[0] for row in db.execute("SELECT payload FROM games")]
    codec = Codec("zstd")
    return [codec.decode(payload) for payload in payloads]


def test_every_game_0_1_0_stored_reads_and_writes_back_with_only_the_new_fields() -> None:
    stored = _stored_0_1_0()
    assert len(stored) == 8
    for data in stored:
        assert data["v"] == 1
        record = game_from_json(data)
        assert isinstance(record.status, GameStatus)
        written = game_to_json(record)
        assert written["v"] == LAYOUT_VERSION == 2
        # Layout 2 adds a join id's hash to each seat (none for a seat claimed before) and
        # the defaults of the last round (unknown before: none); the rest is 0.1.0's.
        assert [seat.pop("join_hash") for seat in written["seats"]] == [None] * len(data["seats"])
        assert written.pop("last_defaulted") == {}
        assert {**written, "v": 1} == data
        assert game_from_json(game_to_json(record)) == record
    statuses = {game_from_json(d).status for d in stored}
    assert statuses == set(GameStatus)


def test_records_carry_what_the_room_needs() -> None:
    by_title = {game_from_json(d).title: game_from_json(d) for d in _stored_0_1_0()}
    clone = next(r for title, r in by_title.items() if "(from round 2)" in title)
    assert clone.cloned_from is not None and clone.cloned_from.round == 2
    secrets = json.loads((FIXTURE.parent / "secrets.json").read_text())
    fishery_id = secrets["games"]["fishery"]["game_id"]
    fishery = next(r for r in by_title.values() if r.game_id == fishery_id)
    assert fishery.seat("fleet-3").bot == BotSeat("target-stock", {})
    assert fishery.session_id == secrets["session"]["session_id"] and fishery.session_hash


def test_an_evolved_record_is_the_record_replaced() -> None:
    """:func:`evolved` (a round's new record) gives what ``dataclasses.replace`` gives, field
    by field, leaves the record it came from as it was, and refuses a field it does not have."""
    record = game_from_json(_stored_0_1_0()[0])
    kept = game_to_json(record)
    other = game_from_json(_stored_0_1_0()[1])
    for f in fields(GameRecord):
        changed = {f.name: getattr(other, f.name)}
        assert evolved(record, **changed) == replace(record, **changed)
    assert evolved(record) == record and evolved(record) is not record
    both = {"deadline": 12.5, "last_round_ids": {"retailer": "m9"}}
    assert evolved(record, **both) == replace(record, **both)
    assert game_to_json(record) == kept
    with pytest.raises(TypeError, match="no field 'weeks'"):
        evolved(record, weeks=3)


def test_a_layout_newer_than_this_release_or_missing_is_refused_by_name() -> None:
    data = _stored_0_1_0()[0]
    with pytest.raises(LayoutError, match="newer than this release"):
        game_from_json({**data, "v": LAYOUT_VERSION + 1})
    with pytest.raises(LayoutError, match="no layout version"):
        game_from_json({k: v for k, v in data.items() if k != "v"})
    with pytest.raises(LayoutError, match="bad field"):
        game_from_json({**data, "status": "dancing"})


def test_pending_and_round_records_round_trip_through_json() -> None:
    pending = PendingDecision({"order": 4}, "m2", 1.5, ("m0", "m1"))
    assert pending_from_json(json.loads(json.dumps(pending_to_json(pending)))) == pending
    # 0.1.0 wrote no earlier ids
    assert pending_from_json({"decision": {}, "id": "x", "at": 0}).earlier_ids == ()
    record = RoundRecord(3, {"a": {"order": 1}}, ("a",), {}, "deadline", 9.0, {"a": {"cost": 1}})
    assert round_from_json(json.loads(json.dumps(round_to_json(record)))) == record
    assert CloneSource("G", 2) == CloneSource("G", 2)


def test_records_are_read_only_to_the_type_checker_and_hash_by_their_fields(
    tmp_path: Path,
) -> None:
    """``@frozen`` (gameserver/frozen.py, storage/frozen.py): not frozen at run time, so the
    type checker is what keeps a record from being changed; it refuses an assignment to a
    field of the server's records and of the adapter contract's, and accepts reading one."""
    from mypy import api

    snippet = tmp_path / "change_a_record.py"
    snippet.write_text(
        "from gameserver.server.records import PendingDecision, RoundRecord\n"
        "from storage.adapter import SnapshotHeader\n"
        "def change(p: PendingDecision, r: RoundRecord, h: SnapshotHeader) -> str:\n"
        "    p.id = 'other'\n"
        "    r.round = 2\n"
        "    h.status = 'ended'\n"
        "    return p.id\n"
    )
    out, _, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(snippet)]
    )
    refused = [line for line in out.splitlines() if "read-only" in line]
    assert status == 1 and [line.split(":")[1] for line in refused] == ["4", "5", "6"], out

    one = PendingDecision({"order": 4}, "d1", 1.0, ("d0",))
    same = PendingDecision({"order": 4}, "d1", 1.0, ("d0",))
    assert one == same and one is not same
    header = SnapshotHeader("g", "beer", "running", True, 3, 1.0, 2.0, "", "")
    assert hash(header) == hash(replace(header)) and len({header, replace(header)}) == 1
    assert hash(header) != hash(replace(header, round=4))
