"""``gameserver backup``: consistent copies of a live SQLite database, and its refusals."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameserver.cli import main
from storage import StoredGame, open_store
from tests.support import ADMIN_KEY, ROOT, ServerProcess

WEEKS = 50


def backup_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameserver", "backup", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


async def check_copy(path: Path) -> dict[str, int]:
    """Open a copy with the storage layer: every game and round readable. Game -> round."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not path.with_name(path.name + "-wal").exists()
    async with open_store(f"sqlite:///{path}") as store:
        result = await store.load_games()
        assert result.errors == []
        rounds = {}
        for game in result.games:
            assert await store.load_game(game.game_id) == game
            stored = await store.load_rounds(game.game_id)
            # append_round is one transaction, and the copy is one moment: they agree.
            assert [r.round for r in stored] == list(range(1, game.round + 1)), game.game_id
            rounds[game.game_id] = game.round
    return rounds


def test_backup_while_a_server_plays(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    bots = None
    try:
        server.start()
        bots = subprocess.Popen(
            [sys.executable, "-m", "gameserver", "bots", "--url", server.url,
             "--admin-key", ADMIN_KEY, "--games", "4", "--settings", f"weeks={WEEKS}",
             "--policy", "sterman", "--think", "0.01-0.03"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        copies: list[Path] = []
        deadline = time.monotonic() + 120
        while bots.poll() is None and time.monotonic() < deadline:
            copy = tmp_path / f"copy-{len(copies)}.db"
            done = backup_cli(str(copy), "--data", str(data))
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith("backed up ") and str(copy) in done.stdout
            copies.append(copy)
        _, err = bots.communicate(timeout=30)
        assert bots.returncode == 0, err
        final = tmp_path / "final.db"
        assert backup_cli(str(final), "--data", str(data)).returncode == 0
    finally:
        if bots is not None and bots.poll() is None:
            bots.kill()
            bots.wait()
        server.stop()
    mid_game = 0
    for copy in copies:
        rounds = asyncio.run(check_copy(copy))
        mid_game += any(0 < r < WEEKS for r in rounds.values())
    # The copies were taken while games were being played, not only before or after.
    print(f"{len(copies)} copies, {mid_game} with a game mid-play")
    assert mid_game >= 1, f"no copy caught a game mid-play among {len(copies)}"
    final_rounds = asyncio.run(check_copy(final))
    assert sorted(final_rounds.values()) == [WEEKS] * 4


def seed_database(path: Path) -> None:
    async def write() -> None:
        async with open_store(f"sqlite:///{path}") as store:
            await store.save_game(StoredGame("g1", "beer", "running", True, 0, group=""))

    asyncio.run(write())


def test_backup_of_a_stopped_servers_database(tmp_path: Path) -> None:
    seed_database(tmp_path / "data" / "games.db")
    assert main(["backup", str(tmp_path / "copy.db"), "--data", str(tmp_path / "data")]) == 0
    assert asyncio.run(check_copy(tmp_path / "copy.db")) == {"g1": 0}


def test_never_overwrites_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_database(tmp_path / "data" / "games.db")
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"an earlier backup")
    args = ["backup", str(dest), "--data", str(tmp_path / "data")]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"gameserver backup: error: {dest} exists: choose another name, or --force to replace it\n"
    )
    assert dest.read_bytes() == b"an earlier backup"
    assert main([*args, "--force"]) == 0
    assert asyncio.run(check_copy(dest)) == {"g1": 0}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("postgresql://gs:secret@db.example/games", "postgresql:// storage cannot be backed up"
         " here: use pg_dump (docs/deploy.md)"),
        ("memory://", "memory:// storage cannot be backed up here: a memory store keeps nothing"),
        ("file:///srv/games", "file:// storage cannot be backed up here: stop the server, then"
         " copy the folder"),
    ],
)  # fmt: skip
def test_refuses_stores_that_are_not_sqlite(
    storage: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", str(tmp_path / "copy.db"), "--storage", storage]) == 2
    assert capsys.readouterr().err == f"gameserver backup: error: {message}\n"
    assert not (tmp_path / "copy.db").exists()


def test_refuses_a_missing_database_and_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", str(tmp_path / "copy.db"), "--data", str(tmp_path / "none")]) == 2
    assert "error: no database at " in capsys.readouterr().err
    assert not (tmp_path / "none").exists()  # the backup created nothing where it looked
    seed_database(tmp_path / "data" / "games.db")
    dest = tmp_path / "no" / "such" / "copy.db"
    assert main(["backup", str(dest), "--data", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err == (
        f"gameserver backup: error: no folder {dest.parent} to write copy.db in\n"
    )


def test_reads_the_storage_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_database(tmp_path / "elsewhere.db")
    monkeypatch.setenv("GAMESERVER_STORAGE", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert main(["backup", str(tmp_path / "copy.db")]) == 0
    assert asyncio.run(check_copy(tmp_path / "copy.db")) == {"g1": 0}


def test_the_copy_holds_the_same_games(tmp_path: Path) -> None:
    async def many() -> None:
        async with open_store(f"sqlite:///{tmp_path / 'games.db'}") as store:
            for n in range(50):
                data = {"n": n, "history": list(range(n * 10))}
                await store.save_game(StoredGame(f"g{n}", "beer", "running", True, 0, data=data))

    asyncio.run(many())
    assert main(["backup", str(tmp_path / "copy.db"), "--storage",
                 f"sqlite:///{tmp_path / 'games.db'}"]) == 0  # fmt: skip

    async def compare() -> None:
        live = open_store(f"sqlite:///{tmp_path / 'games.db'}")
        copy = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
        async with live, copy:
            a = sorted((g.game_id, g.data) for g in (await live.load_games()).games)
            b = sorted((g.game_id, g.data) for g in (await copy.load_games()).games)
            assert a == b and len(a) == 50

    asyncio.run(compare())
