"""The hub and the drivers in-process, on a real SQLite file: no server process, no sockets.

Connections are :class:`Outbox` objects that keep what they are sent, as the driver asks of a
connection. Saves go to a real SQLite adapter; one test puts a failing adapter in front of it
to see a round whose save fails be reported and retried, never left open.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from gameserver.errors import Conflict, ErrorCode, GameServerError
from gameserver.games import get_game
from gameserver.protocol import GameStatus, Submit
from gameserver.replay import replay_game
from gameserver.server import events as ev
from gameserver.server.config import Config
from gameserver.server.gamestore import SNAPSHOT_EVERY, GameStore
from gameserver.server.hub import Hub
from gameserver.server.newgame import Options
from gameserver.server.records import BotSeat
from storage import RoundRecord, Snapshot, SnapshotHeader, open_store
from storage.adapters.sqlite import SQLiteAdapter

ROLES = ["retailer", "wholesaler", "distributor", "factory"]


@dataclass(eq=False)
class Outbox:
    """A connection as the driver sees it: bytes in, a close code at the end."""

    got: list[dict[str, Any]] = field(default_factory=list)
    closed: int | None = None

    def send(self, data: bytes) -> None:
        self.got.append(orjson.loads(data))

    def close(self, code: int) -> None:
        self.closed = code

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.got if m["type"] == kind]

    async def wait_for(self, test: Callable[[dict[str, Any]], bool], within: float = 5) -> dict:
        for _ in range(int(within / 0.01)):
            for message in self.got:
                if test(message):
                    return message
            await asyncio.sleep(0.01)
        raise AssertionError(f"nothing matched within {within} s: {self.got[-5:]}")


class FlakyAdapter(SQLiteAdapter):
    """A real SQLite store whose next ``fail_rounds`` round saves fail, as a full disk would."""

    fail_rounds = 0

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        if self.fail_rounds:
            self.fail_rounds -= 1
            raise OSError("disk full")
        await super().append_round(record, snapshot)

    async def advance_round(self, record: RoundRecord, header: SnapshotHeader) -> None:
        if self.fail_rounds:
            self.fail_rounds -= 1
            raise OSError("disk full")
        await super().advance_round(record, header)


def make_hub(path: Path, adapter: SQLiteAdapter | None = None, **config: Any) -> Hub:
    store = open_store(adapter or SQLiteAdapter(path / "games.db"))
    return Hub(Config(data=path, **config), GameStore(store), "admin")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = make_hub(tmp_path)
    await hub.start()
    yield hub
    await hub.stop()


async def seat_all(hub: Hub, game_id: str) -> dict[str, Outbox]:
    driver = await hub.driver(game_id)
    outboxes = {}
    for role in ROLES:
        await driver.command(lambda ref, r=role: ev.ClaimSeat(ref, r, None, f"hash-{r}"))
        outboxes[role] = Outbox()
        driver.connect(outboxes[role], role)
    return outboxes


async def play_round(hub: Hub, game_id: str, outboxes: dict[str, Outbox], week: int) -> None:
    driver = await hub.driver(game_id)
    for n, (role, outbox) in enumerate(outboxes.items()):
        await driver.submit(outbox, role, Submit(week, f"{week}-{role}", {"order": 4 + n}))


async def test_a_game_played_in_process_equals_its_replay(hub: Hub) -> None:
    made = await hub.create_game("beer", {"weeks": 5}, Options(seed=3, autostart=True))
    game_id = made.driver.game_id
    outboxes = await seat_all(hub, game_id)
    for week in range(1, 6):
        await play_round(hub, game_id, outboxes, week)
    assert made.driver.room.status == GameStatus.FINISHED
    rounds = await hub.store.load_rounds(game_id)
    states = replay_game(get_game("beer"), {"weeks": 5}, 3, (r.decisions for r in rounds))
    assert made.driver.room.record.state == states[-1]
    assert [m["round"] for m in outboxes["factory"].of("round")] == [1, 2, 3, 4, 5]
    assert all(m["duplicate"] is False for m in outboxes["retailer"].of("ack"))


async def stored_state_round(hub: Hub, game_id: str) -> tuple[int, int]:
    """The rounds played as the stored columns say, and as the stored record's state says."""
    stored = await hub.store.store.load_game(game_id)
    assert stored is not None
    return stored.round, get_game("beer").current_round(stored.data["state"])


async def test_rounds_between_whole_records_are_read_and_restored_by_replay(
    tmp_path: Path,
) -> None:
    """Most rounds store the round and the game's columns, not its whole record (which holds
    the state): every read, restore and eviction still gives the game as it is."""
    hub = make_hub(tmp_path, idle_timeout=3600.0)
    await hub.start()
    made = await hub.create_game("beer", {"weeks": 12}, Options(seed=5, autostart=True))
    game_id, driver = made.driver.game_id, made.driver
    outboxes = await seat_all(hub, game_id)
    for week in range(1, SNAPSHOT_EVERY + 4):
        await play_round(hub, game_id, outboxes, week)
    played = SNAPSHOT_EVERY + 3
    columns, state_round = await stored_state_round(hub, game_id)
    assert columns == played and state_round < played  # the stored record lags
    # Read without bringing it back (what an export or a listing does): caught up.
    record = await hub.store.read(game_id)
    assert record is not None and record.state == driver.room.record.state
    assert record.last_round_ids == driver.room.record.last_round_ids
    [listed] = await hub.store.list_games(group=record.session_id or "")
    assert listed.state == driver.room.record.state
    # A decision of the open round, then a crash-like restart: restored exactly.
    await driver.submit(outboxes["retailer"], "retailer", Submit(played + 1, "x", {"order": 7}))
    expected = driver.room.record
    await hub.stop()
    again = make_hub(tmp_path, idle_timeout=0.0)
    await again.start()
    room = (await again.driver(game_id)).room
    assert room.record.state == expected.state and room.round == played
    assert room.pending["retailer"].decision == {"order": 7}
    # Played on to the end: equal to the game replayed from its rounds.
    driver = await again.driver(game_id)
    for role, outbox in outboxes.items():
        driver.connect(outbox, role)
    for week in range(played + 1, 13):
        await play_round(again, game_id, outboxes, week)
    assert room.status == GameStatus.FINISHED
    rounds = await again.store.load_rounds(game_id)
    states = replay_game(get_game("beer"), {"weeks": 12}, 5, (r.decisions for r in rounds))
    assert room.record.state == states[-1]
    assert await stored_state_round(again, game_id) == (12, 12)  # the last round: whole
    await again.stop()


async def test_a_game_leaving_memory_writes_its_record_whole_first(tmp_path: Path) -> None:
    hub = make_hub(tmp_path, idle_timeout=0.0)
    await hub.start()
    made = await hub.create_game("beer", {}, Options(seed=2, autostart=True))
    game_id = made.driver.game_id
    outboxes = await seat_all(hub, game_id)
    for week in (1, 2, 3):
        await play_round(hub, game_id, outboxes, week)
    assert (await stored_state_round(hub, game_id))[1] < 3
    for outbox in outboxes.values():
        made.driver.disconnect(outbox)
    assert await hub.evict_idle() == 1 and game_id not in hub.drivers
    assert await stored_state_round(hub, game_id) == (3, 3)
    await hub.stop()


async def test_idle_games_leave_memory_are_read_without_coming_back_and_come_back_on_access(
    tmp_path: Path,
) -> None:
    hub = make_hub(tmp_path, idle_timeout=0.0)
    await hub.start()
    made = await hub.create_game("beer", {}, Options(title="Idle"))
    game_id = made.driver.game_id
    assert await hub.evict_idle() == 1
    record, room = await hub.read(game_id)
    assert room is None and record.title == "Idle" and game_id not in hub.drivers
    driver = await hub.driver(game_id)
    assert driver.room.restored and hub.metrics.loaded_on_access == 1
    await hub.stop()


async def test_the_stored_summary_follows_every_round(hub: Hub) -> None:
    """Each round stores the summary a listing shows (the next round's deadline, the seats)
    as the game is after it, also when a seat changed between rounds."""
    made = await hub.create_game("beer", {"weeks": 6}, Options(round_seconds=600, autostart=True))
    game_id, driver = made.driver.game_id, made.driver
    outboxes = await seat_all(hub, game_id)

    async def stored_summary() -> dict[str, Any]:
        stored = await hub.store.store.load_game(game_id)
        assert stored is not None and stored.summary is not None
        return stored.summary

    deadlines = set()
    for week in (1, 2):
        await play_round(hub, game_id, outboxes, week)
        summary = await stored_summary()
        assert summary["deadline"] == driver.room.record.deadline is not None
        deadlines.add(summary["deadline"])
    assert len(deadlines) == 2  # the clock of each new round
    await driver.command(lambda ref: ev.SetBot(ref, "factory", BotSeat("pass-through")))
    players = {role: outbox for role, outbox in outboxes.items() if role != "factory"}
    for week in (3, 4):
        await play_round(hub, game_id, players, week)  # the factory's bot decides too
        assert driver.room.round == week
        summary = await stored_summary()
        record = driver.room.record
        assert summary["deadline"] == record.deadline and summary["title"] == record.title
        assert summary["total_rounds"] == get_game("beer").total_rounds(record.state)
        assert [seat["bot"] is not None for seat in summary["seats"]] == [False, False, False, True]


async def test_a_restart_restores_pending_decisions_and_bot_seats(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    await hub.start()
    made = await hub.create_game("beer", {}, Options(autostart=True))
    game_id = made.driver.game_id
    outboxes = await seat_all(hub, game_id)
    driver = await hub.driver(game_id)
    await driver.submit(outboxes["retailer"], "retailer", Submit(1, "r1", {"order": 9}))
    await driver.command(lambda ref: ev.SetBot(ref, "factory", BotSeat("pass-through")))
    await hub.stop()

    again = make_hub(tmp_path)
    await again.start()
    room = (await again.driver(game_id)).room
    assert room.restored and sorted(room.pending) == ["factory", "retailer"]
    assert room.pending["retailer"].decision == {"order": 9}
    assert room.record.seat("factory").bot == BotSeat("pass-through", {})
    await again.stop()


async def test_a_failed_round_save_at_the_deadline_is_reported_and_retried(tmp_path: Path) -> None:
    adapter = FlakyAdapter(tmp_path / "games.db")
    hub = make_hub(tmp_path, adapter)
    await hub.start()
    made = await hub.create_game("beer", {}, Options(round_seconds=1, autostart=True))
    facilitator = Outbox()
    made.driver.connect(facilitator, None)
    adapter.fail_rounds = 1
    error = await facilitator.wait_for(lambda m: m["type"] == "error", within=5)
    assert error["code"] == ErrorCode.STORAGE_FAILURE and "trying again in 1 s" in error["message"]
    closed = await facilitator.wait_for(lambda m: m["type"] == "round", within=5)
    assert closed["round"] == 1
    (record,) = await hub.store.load_rounds(made.driver.game_id)
    assert record.closed_by == "deadline" and len(record.defaulted) == 4
    await hub.stop()


async def test_a_facilitator_close_that_cannot_be_saved_answers_503_and_keeps_the_round(
    tmp_path: Path,
) -> None:
    adapter = FlakyAdapter(tmp_path / "games.db")
    hub = make_hub(tmp_path, adapter)
    await hub.start()
    made = await hub.create_game("beer", {}, Options(autostart=True))
    adapter.fail_rounds = 1
    with pytest.raises(GameServerError) as failed:
        await made.driver.command(ev.CloseRound)
    assert failed.value.http_status == 503 and "disk full" in failed.value.message
    assert made.driver.room.round == 0
    await made.driver.command(ev.CloseRound)
    assert made.driver.room.round == 1
    await hub.stop()


async def test_commands_of_one_game_never_race(hub: Hub) -> None:
    made = await hub.create_game("beer", {}, Options())
    driver = made.driver
    claims = [
        driver.command(lambda ref, n=n: ev.ClaimSeat(ref, None, f"p{n}", f"h{n}")) for n in range(6)
    ]
    results = await asyncio.gather(*claims, return_exceptions=True)
    assert sorted(r for r in results if isinstance(r, str)) == sorted(ROLES)
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 2 and all(r.code == ErrorCode.GAME_FULL for r in refused)


async def test_a_clone_starts_from_the_replayed_round_with_the_history(hub: Hub) -> None:
    made = await hub.create_game("beer", {"weeks": 6}, Options(seed=11, autostart=True))
    game_id = made.driver.game_id
    outboxes = await seat_all(hub, game_id)
    for week in (1, 2, 3):
        await play_round(hub, game_id, outboxes, week)
    clone = await hub.clone_game(game_id, 2)
    rounds = await hub.store.load_rounds(game_id)
    states = replay_game(get_game("beer"), {"weeks": 6}, 11, (r.decisions for r in rounds[:2]))
    record = clone.driver.room.record
    assert record.state == states[2] and record.cloned_from is not None
    assert record.status == GameStatus.CREATED
    assert [r.round for r in await hub.store.load_rounds(record.game_id)] == [1, 2]
    with pytest.raises(Conflict):
        await hub.clone_game(game_id, 4)


async def test_a_0_1_0_database_gets_its_classes_at_start(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "v0.1.0"
    shutil.copy(fixture / "games.db", tmp_path / "games.db")
    session_id = orjson.loads((fixture / "secrets.json").read_bytes())["session"]["session_id"]
    hub = make_hub(tmp_path)
    await hub.start()
    games = await hub.list_games(session_id=session_id)
    assert len(games) == 2 and all(r.session_id == session_id for r, _ in games)
    await hub.stop()
    # Regrouped once: a second start finds nothing left to do.
    again = make_hub(tmp_path)
    await again.start()
    assert await again.store.regroup_legacy() == 0
    await again.stop()


async def test_a_command_whose_caller_goes_away_still_completes(hub: Hub) -> None:
    """A client that disconnects while its hello's seat claim is being saved cancels the task
    that waits: the save must go on, or the room would hold every later command for ever."""
    made = await hub.create_game("beer", {}, Options())
    driver = made.driver
    claim = asyncio.create_task(driver.command(lambda ref: ev.ClaimSeat(ref, None, "x", "h")))
    await asyncio.sleep(0)  # the claim's save is under way
    claim.cancel()
    ended = await asyncio.wait_for(driver.command(ev.End), timeout=5)
    assert ended is None and driver.room.status == GameStatus.ENDED
    assert driver.room.record.seat("retailer").claimed  # the claim was saved after all


class CountingAdapter(SQLiteAdapter):
    """A real SQLite store that counts the game records it is asked to read."""

    records_read = 0

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        self.records_read += 1
        return await super().load_snapshot(game_id)

    async def load_group(self, group: str | None) -> list[Snapshot]:
        found = await super().load_group(group)
        self.records_read += len(found)
        return found


async def test_a_class_lists_its_games_in_memory_and_reads_only_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A class's games in memory are listed without reading their stored records (the
    dashboard asks every 2.5 s); the others are read and caught up, and a damaged one is
    logged and left out, as every listing does."""
    adapter = CountingAdapter(tmp_path / "games.db")
    hub = make_hub(tmp_path, adapter)
    await hub.start()
    try:
        session_id, _token, made = await hub.create_session(
            "beer", {"weeks": 6}, 3, Options(autostart=True)
        )
        first, second, third = (m.driver.game_id for m in made)
        await made[0].driver.command(ev.CloseRound)  # a round played, nobody connected
        adapter.records_read = 0
        listed = await hub.list_games(session_id=session_id)
        assert [(r.game_id, room is not None) for r, room in listed] == [
            (first, True),
            (second, True),
            (third, True),
        ]
        assert adapter.records_read == 0
        await hub.evict_idle(now=time.monotonic() + 10 * hub.config.idle_timeout)
        assert not hub.drivers
        await hub.driver(first)  # back in memory; the other two stay stored
        with sqlite3.connect(tmp_path / "games.db") as db:
            db.execute("UPDATE games SET payload = x'00' WHERE game_id = ?", (third,))
        adapter.records_read = 0
        with caplog.at_level(logging.ERROR, logger="gameserver.server.gamestore"):
            listed = await hub.list_games(session_id=session_id)
        assert [(r.game_id, room is not None) for r, room in listed] == [
            (first, True),
            (second, False),
        ]
        assert listed[0][0].state["round"] == 1  # the played round, in memory
        assert adapter.records_read == 2  # the second's and the damaged third's
        assert any("listing:" in r.getMessage() and third in r.getMessage() for r in caplog.records)
    finally:
        await hub.stop()
