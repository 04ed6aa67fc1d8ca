"""FileAdapter specifics: game ids as folder names, atomic writes, crash recovery, damage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import DAMAGED, CorruptRecord, DecisionRecord, RoundRecord, Snapshot, Store, StoredGame
from storage.adapters.files import FileAdapter, check_game_id
from storage.adapters.record_file import Damaged, metadata, pack, unpack


def snap(game_id: str, round: int = 0, payload: bytes = b"{}") -> Snapshot:
    return Snapshot(game_id, "beer", "running", True, round, 1, 1.0, 2.0, payload)


@pytest.fixture
async def adapter(tmp_path: Path) -> AsyncIterator[FileAdapter]:
    adapter = FileAdapter(tmp_path / "games")
    await adapter.open()
    yield adapter
    await adapter.close()


BAD_IDS: list[Any] = ["", ".", "..", "../x", "a/b", "a\\b", "x\x00", ".hidden", "-x", "a b"]
BAD_IDS += ["a" * 129, "é", 5, None]


@pytest.mark.parametrize("game_id", BAD_IDS)
async def test_unsafe_game_ids_are_refused(adapter: FileAdapter, game_id: Any) -> None:
    calls = [
        adapter.save_snapshot(snap(game_id)),
        adapter.load_snapshot(game_id),
        adapter.delete_game(game_id),
        adapter.save_decision(DecisionRecord(game_id, 1, "s", 1, 1.0, b"{}")),
        adapter.load_decisions(game_id, 1),
        adapter.append_round(RoundRecord(game_id, 1, 1, 1.0, b"{}"), snap(game_id)),
        adapter.load_rounds(game_id),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="cannot be a folder name"):
            await call
    assert not (adapter.root.parent / "x").exists()


@pytest.mark.parametrize("game_id", ["g1", "Game_2.v3", "0", "a" * 128, "a..b", "x-"])
def test_safe_game_ids_are_accepted(game_id: str) -> None:
    check_game_id(game_id)


async def test_writes_leave_no_temporary_files(adapter: FileAdapter) -> None:
    async def play(n: int) -> None:
        for r in range(1, 6):
            await adapter.save_decision(DecisionRecord(f"g{n}", r, "retailer", 1, 1.0, b"{}"))
            await adapter.append_round(RoundRecord(f"g{n}", r, 1, 1.0, b"{}"), snap(f"g{n}", r))

    await asyncio.gather(*(play(n) for n in range(10)))
    files = [p for p in adapter.root.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.name.startswith(".")]
    assert not list(adapter.root.glob("*/journal.rec"))
    for path in files:
        unpack(path.read_bytes())  # every file is a complete record


async def test_interrupted_write_is_ignored_and_cleaned(tmp_path: Path) -> None:
    root = tmp_path / "games"
    first = FileAdapter(root)
    await first.open()
    await first.save_snapshot(snap("g1", 1, b"complete"))
    await first.close()
    # A crash during the next write leaves its temporary file half written beside the target.
    torn = pack([({"kind": "beer"}, b"newer")])[:20]
    (root / "g1" / ".snapshot.rec.1234abcd.tmp").write_bytes(torn)
    second = FileAdapter(root)
    await second.open()
    assert await second.load_snapshot("g1") == snap("g1", 1, b"complete")
    assert not list((root / "g1").glob(".*.tmp"))
    await second.close()


async def test_journal_left_by_a_crash_is_rolled_forward(tmp_path: Path) -> None:
    root = tmp_path / "games"
    first = FileAdapter(root)
    await first.open()
    await first.save_snapshot(snap("g1", 1, b"round 1"))
    await first.close()
    # Crash after append_round's commit point (the journal) but before its two files.
    round_part = ({"round": 2, "version": 1, "created_at": 5.0}, b"round record")
    snapshot_meta = {"kind": "beer", "status": "running", "in_progress": True, "round": 2}
    snapshot_meta |= {"version": 1, "created_at": 1.0, "updated_at": 2.0}
    (root / "g1" / "journal.rec").write_bytes(pack([round_part, (snapshot_meta, b"round 2")]))
    second = FileAdapter(root)
    await second.open()
    try:
        assert await second.load_snapshot("g1") == snap("g1", 2, b"round 2")
        assert await second.load_rounds("g1") == [RoundRecord("g1", 2, 1, 5.0, b"round record")]
        assert not (root / "g1" / "journal.rec").exists()
    finally:
        await second.close()


async def test_stale_journal_never_overwrites_a_later_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "games"
    adapter = FileAdapter(root)
    await adapter.open()
    await adapter.save_snapshot(snap("g1", 1, b"round 1"))
    # An append_round whose journal was written but whose files were not (say the disk filled
    # up; its caller got an error), followed by a later save of the same game.
    round_part = ({"round": 2, "version": 1, "created_at": 5.0}, b"round record")
    snapshot_meta = {"kind": "beer", "status": "running", "in_progress": True, "round": 2}
    snapshot_meta |= {"version": 1, "created_at": 1.0, "updated_at": 2.0}
    (root / "g1" / "journal.rec").write_bytes(pack([round_part, (snapshot_meta, b"round 2")]))
    await adapter.save_snapshot(snap("g1", 3, b"round 3"))
    await adapter.close()
    reopened = FileAdapter(root)
    await reopened.open()
    try:
        assert await reopened.load_snapshot("g1") == snap("g1", 3, b"round 3")
        assert [r.round for r in await reopened.load_rounds("g1")] == [2]
    finally:
        await reopened.close()


async def test_interrupted_delete_is_finished_on_open(tmp_path: Path) -> None:
    root = tmp_path / "games"
    first = FileAdapter(root)
    await first.open()
    await first.save_snapshot(snap("g1"))
    await first.close()
    (root / "g1").rename(root / ".deleted-g1-0000")  # crash between rename and removal
    second = FileAdapter(root)
    await second.open()
    assert list(root.iterdir()) == []
    assert await second.load_snapshots() == []
    await second.close()


async def test_damaged_files_are_reported_per_game(adapter: FileAdapter) -> None:
    store = Store(adapter)
    for n in range(3):
        await store.save_game(StoredGame(f"ok{n}", "beer", "running", True, 1, data={"n": n}))
    await store.save_game(StoredGame("cut", "beer", "running", True, 1, data={"x": "y" * 300}))
    await store.save_game(StoredGame("flipped", "beer", "running", True, 1, data={"n": 1}))
    await store.save_decision("ok0", 1, "retailer", {"order": 3})
    cut = adapter.root / "cut" / "snapshot.rec"
    cut.write_bytes(cut.read_bytes()[:-10])
    flipped = adapter.root / "flipped" / "snapshot.rec"
    data = bytearray(flipped.read_bytes())
    data[-2] ^= 0x01
    flipped.write_bytes(bytes(data))
    (adapter.root / "stray-file.txt").write_text("not a game")
    result = await store.load_games(in_progress_only=True)
    assert sorted(g.game_id for g in result.games) == ["ok0", "ok1", "ok2"]
    assert sorted(str(e.game_id) for e in result.errors) == ["cut", "flipped"]
    assert all(isinstance(e, CorruptRecord) for e in result.errors)
    stored = await adapter.load_snapshot("cut")
    assert stored is not None and stored.schema_version == DAMAGED
    decision_file = next((adapter.root / "ok0" / "decisions" / "1").iterdir())
    decision_file.write_bytes(b"garbage")
    with pytest.raises(CorruptRecord, match="ok0"):
        await store.load_decisions("ok0", 1)


async def test_a_damaged_snapshot_is_reported_in_its_group(adapter: FileAdapter) -> None:
    store = Store(adapter)
    for game_id in ("ok", "cut", "flipped"):
        data = {"x": "y" * 300}
        await store.save_game(StoredGame(game_id, "beer", "running", True, 1, data=data, group="A"))
    cut = adapter.root / "cut" / "snapshot.rec"
    cut.write_bytes(cut.read_bytes()[:-10])
    flipped = adapter.root / "flipped" / "snapshot.rec"
    data = bytearray(flipped.read_bytes())
    data[-2] ^= 0x01
    flipped.write_bytes(bytes(data))
    result = await store.load_group("A")
    assert [g.game_id for g in result.games] == ["ok"]
    assert sorted(str(e.game_id) for e in result.errors) == ["cut", "flipped"]
    # A header that cannot be read cannot say the group either: the game's group is unknown.
    (adapter.root / "ok" / "snapshot.rec").write_bytes(b"garbage")
    unknown = await store.load_group(None)
    assert [e.game_id for e in unknown.errors] == ["ok"]


async def test_snapshot_group_of_another_type_is_damage(adapter: FileAdapter) -> None:
    meta = {"kind": "beer", "status": "running", "in_progress": True, "round": 0, "version": 1}
    meta |= {"created_at": 1.0, "updated_at": 2.0, "group": 7}
    (adapter.root / "g1").mkdir()
    (adapter.root / "g1" / "snapshot.rec").write_bytes(pack([(meta, b"{}")]))
    stored = await adapter.load_snapshot("g1")
    assert stored is not None and stored.schema_version == DAMAGED and stored.group is None


def test_record_file_checks() -> None:
    data = pack([({"a": 1}, b"xyz"), ({"b": 2}, b"")])
    assert unpack(data) == [({"a": 1}, b"xyz"), ({"b": 2}, b"")]
    for damaged in (b"", b"no header", data[:-1], data + b"!", b'{"format": 9}\n'):
        with pytest.raises(Damaged):
            unpack(damaged)
    assert metadata(data[:-1]) == [{"a": 1}, {"b": 2}]  # the header alone still reads
    for damaged in (b"", b"no header", b'{"format": 9}\n'):
        with pytest.raises(Damaged):
            metadata(damaged)


async def test_seat_longer_than_a_file_name_is_refused(adapter: FileAdapter) -> None:
    with pytest.raises(ValueError, match="longer than 100 bytes"):
        await adapter.save_decision(DecisionRecord("g1", 1, "s" * 101, 1, 1.0, b"{}"))
