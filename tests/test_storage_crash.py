"""Crash test with real processes: SIGKILL a writer at random moments, then check the store.

Over SQLite, the file adapter and PostgreSQL (a database on the session's throwaway cluster: the
writer is killed, the database server goes on, as when a game server dies).

tests/crash_writer.py saves games through the Store as fast as it can and prints one line per
acknowledged write. After each SIGKILL the store is reopened and every acknowledged write must
be there, readable, with nothing corrupt; a round record may never be newer than its game's
snapshot (append_round is atomic); each game's group must list exactly its games. Set
STORAGE_CRASH_SEED to replay a run; the seed is printed and is in every failure message.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from crash_writer import group_of

from storage import open_store

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = {"sqlite": 20, "files": 12, "postgresql": 12}  # 44 in all
READY_TIMEOUT = 15.0


@dataclass
class Acked:
    """What the writer reported as acknowledged, per game: the highest version of each record."""

    snapshot: dict[str, tuple[int, int]] = field(default_factory=dict)  # game -> (round, version)
    rounds: dict[tuple[str, int], int] = field(default_factory=dict)
    decisions: dict[tuple[str, int, str], int] = field(default_factory=dict)
    count: int = 0

    def read(self, text: str) -> None:
        # Only whole lines: the kill may cut the last one.
        for line in text.splitlines(keepends=True)[1:]:
            if not line.endswith("\n"):
                break
            kind, game, *rest = line.split()
            self.count += 1
            if kind == "decision":
                self.decisions[(game, int(rest[0]), rest[1])] = int(rest[2])
            else:
                self.snapshot[game] = (int(rest[0]), int(rest[1]))
                if kind == "round":
                    self.rounds[(game, int(rest[0]))] = int(rest[1])


def run_writer(url: str, run: int, seed: int, out: Path, kill_after: float) -> Acked:
    """Start a writer, SIGKILL it ``kill_after`` seconds after it is ready, return its acks."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), url, str(run), str(seed)],
            stdout=sink,
            stderr=subprocess.PIPE,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not out.read_bytes().startswith(b"ready\n"):
            assert proc.poll() is None, f"writer died: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, "writer never became ready"
            time.sleep(0.005)
        time.sleep(kill_after)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, f"writer ended by itself: {stderr.decode()}"
    acked = Acked()
    acked.read(out.read_text())
    return acked


async def check_store(url: str, acked: Acked, context: str) -> None:
    async with open_store(url) as store:
        result = await store.load_games()
        assert result.errors == [], f"{context}: damaged records {result.errors}"
        games = {g.game_id: g for g in result.games}
        for game_id, (round, version) in acked.snapshot.items():
            game = games.get(game_id)
            assert game is not None, f"{context}: acknowledged game {game_id} is missing"
            assert game.data["v"] >= version and game.round >= round, f"{context}: {game_id} old"
        for group in {group_of(game_id) for game_id in games}:
            members = await store.load_group(group)
            assert members.errors == [], f"{context}: damaged records in group {group!r}"
            found = sorted((g.game_id, g.group) for g in members.games)
            want = sorted((g, group) for g in games if group_of(g) == group)
            assert found == want, f"{context}: group {group!r} is not its games"
        for game_id in {g for g, _ in acked.rounds} | {g for g, _, _ in acked.decisions}:
            rounds = await store.load_rounds(game_id)
            stored = {r.round: r.data["v"] for r in rounds}
            if rounds:
                # Atomic append_round: no round is stored without the snapshot that followed it.
                assert games[game_id].round >= max(stored), f"{context}: {game_id} torn round"
            for (g, n), version in acked.rounds.items():
                if g == game_id:
                    assert stored.get(n, -1) >= version, f"{context}: {g} round {n} lost"
        for (game_id, n, seat), version in acked.decisions.items():
            decisions = await store.load_decisions(game_id, n)
            got = decisions.get(seat, {}).get("v", -1)
            assert got >= version, f"{context}: decision {game_id}/{n}/{seat} lost"


def store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgresql":
        # A database of its own on the session's throwaway cluster (tests/conftest.py).
        url: str = request.getfixturevalue("postgresql_url")
        return url
    return f"sqlite://{tmp_path}/games.db" if kind == "sqlite" else f"file://{tmp_path}/games"


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KILLS))
async def test_acknowledged_writes_survive_sigkill(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = int(os.environ.get("STORAGE_CRASH_SEED") or random.randrange(2**32))
    print(f"crash test {kind}: STORAGE_CRASH_SEED={seed}")
    rng = random.Random(seed)
    url = store_url(kind, tmp_path, request)
    total = 0
    for run in range(KILLS[kind]):
        # At once, within the first writes, or well into the run, in turn; random within each.
        kill_after = [0.0, rng.uniform(0.0, 0.05), rng.uniform(0.05, 0.6)][run % 3]
        context = f"{kind} seed={seed} run={run} kill_after={kill_after:.3f}s"
        acked = run_writer(url, run, rng.randrange(2**32), tmp_path / f"out{run}.txt", kill_after)
        total += acked.count
        await check_store(url, acked, context)
        if kind == "sqlite":
            with sqlite3.connect(tmp_path / "games.db") as db:
                assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
    print(f"crash test {kind}: {KILLS[kind]} kills, {total} acknowledged writes checked")
    assert total > 50, f"{kind} seed={seed}: too few writes to mean anything ({total})"
