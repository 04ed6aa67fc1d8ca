"""Stores written by older code open with this code and keep every record.

``tests/fixtures/pre_groups/`` was written by the code before games had a group (SQLite schema
2, snapshot files without a group; ``make_pre_group_stores.py`` there says how). Each test opens
a copy, since opening migrates it. Their games' group is unknown (None) until they are saved
again.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import open_store
from storage.adapters.sqlite import SCHEMA_VERSION

PRE_GROUPS = Path(__file__).parent / "fixtures" / "pre_groups"


def copy_of(kind: str, tmp_path: Path) -> str:
    """The URL of a fresh copy of the ``kind`` store in the fixture."""
    if kind == "sqlite":
        shutil.copy(PRE_GROUPS / "games.db", tmp_path / "games.db")
        return f"sqlite://{tmp_path}/games.db"
    shutil.copytree(PRE_GROUPS / "files", tmp_path / "files")
    return f"file://{tmp_path}/files"


@pytest.mark.parametrize("kind", ["sqlite", "files"])
async def test_a_store_from_before_groups_keeps_every_record(kind: str, tmp_path: Path) -> None:
    expected: dict[str, Any] = json.loads((PRE_GROUPS / "expected.json").read_text())[kind]
    async with open_store(copy_of(kind, tmp_path)) as store:
        result = await store.load_games()
        assert result.errors == []
        games = {game.game_id: game for game in result.games}
        assert sorted(games) == sorted(expected)
        for game_id, want in expected.items():
            game = games[game_id]
            got = {
                "kind": game.kind,
                "status": game.status,
                "in_progress": game.in_progress,
                "round": game.round,
                "created_at": game.created_at,
                "updated_at": game.updated_at,
                "data": game.data,
            }
            assert got == {key: want[key] for key in got}, game_id
            assert game.group is None, game_id
            for week, decisions in want["decisions"].items():
                assert await store.load_decisions(game_id, int(week)) == decisions
            rounds = await store.load_rounds(game_id)
            assert [(r.round, r.created_at, r.data) for r in rounds] == [
                (r["round"], r["created_at"], r["data"]) for r in want["rounds"]
            ]
        assert await store.load_game("deleted") is None
        running = await store.load_games(in_progress_only=True)
        assert sorted(g.game_id for g in running.games) == sorted(
            game_id for game_id, want in expected.items() if want["in_progress"]
        )


@pytest.mark.parametrize("kind", ["sqlite", "files"])
async def test_games_from_before_groups_are_the_unknown_group(kind: str, tmp_path: Path) -> None:
    expected: dict[str, Any] = json.loads((PRE_GROUPS / "expected.json").read_text())[kind]
    url = copy_of(kind, tmp_path)
    async with open_store(url) as store:
        unknown = await store.load_group(None)
        assert unknown.errors == []
        assert sorted(g.game_id for g in unknown.games) == sorted(expected)
        assert (await store.load_group("")).games == []
        old = await store.load_game("zstd-0")
        assert old is not None
        await store.save_game(dataclasses.replace(old, group="class-1"))
    async with open_store(url) as store:
        moved = await store.load_group("class-1")
        assert [(g.game_id, g.data) for g in moved.games] == [("zstd-0", old.data)]
        unknown = await store.load_group(None)
        assert sorted(g.game_id for g in unknown.games) == sorted(set(expected) - {"zstd-0"})


async def test_a_schema_2_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    async with open_store(copy_of("sqlite", tmp_path)):
        pass
    with sqlite3.connect(tmp_path / "games.db") as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("SELECT count(*) FROM games WHERE grp IS NOT NULL").fetchone() == (0,)
        plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM games WHERE grp = 'A'").fetchall()
        assert "games_grp" in str(plan)
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
