"""A class's export is sent as it is made, a game at a time: the same document as made whole,
and each game's part made in a turn of the event loop of its own, so that the rounds of games
in play go between (docs/api.md, the class's export)."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator

import orjson

from gameserver.server.export import Exported, csv_parts, csv_text, game_json, json_parts
from gameserver.server.records import RoundRecord
from tests.test_room import ROLES, beer_record


def played(team: int, rounds: int) -> Exported:
    """A game of ``rounds`` rounds, every seat deciding (the first one defaulted in round 2)."""
    records = [
        RoundRecord(
            r,
            {role: {"order": r + n} for n, role in enumerate(ROLES)},
            (ROLES[0],) if r == 2 else (),
            {role: f"{r}.{role}" for role in ROLES},
            "all_submitted",
            1000.0 + r,
            {role: {"inventory": 12 - r, "cost": 0.5 * r} for role in ROLES},
            {role: f"{role} of team {team}" for role in ROLES},
        )
        for r in range(1, rounds + 1)
    ]
    return Exported(beer_record(weeks=rounds + 2), records, team)


async def parts_with_turns(parts: AsyncIterator[bytes]) -> tuple[list[bytes], list[int]]:
    """The parts, and how many turns of the loop a ticker saw before each arrived."""
    loop = asyncio.get_running_loop()
    turns = 0
    running = True

    def tick() -> None:
        nonlocal turns
        turns += 1
        if running:
            loop.call_soon(tick)

    loop.call_soon(tick)
    got, seen = [], []
    async for part in parts:
        got.append(part)
        seen.append(turns)
    running = False
    return got, seen


async def test_a_class_csv_comes_a_game_a_turn_and_is_the_whole_csv() -> None:
    games = [played(team, 3) for team in (1, 2, 3)]
    parts, turns = await parts_with_turns(csv_parts(games))
    assert b"".join(parts).decode() == csv_text(games)
    assert len(parts) == 1 + len(games)  # the header, then a part per game
    assert all(later > earlier for earlier, later in itertools.pairwise(turns))
    rows = list(csv.DictReader(io.StringIO(b"".join(parts).decode())))
    assert len(rows) == 3 * 3 * len(ROLES)
    assert rows[4] == {
        "team": "1",
        "game_id": games[0].record.game_id,
        "round": "2",
        "role": ROLES[0],
        "name": f"{ROLES[0]} of team 1",
        "decision_order": "2",
        "defaulted": "1",
        "closed_by": "all_submitted",
        "inventory": "10",
        "cost": "1.0",
    }


async def test_a_class_json_comes_a_game_a_turn_and_is_the_whole_document() -> None:
    games = [played(team, 2) for team in (1, 2)]
    head = {"session_id": "S7K2QXMBA", "title": "Period 3", "kind": "beer", "students": []}
    parts, turns = await parts_with_turns(json_parts(head, games))
    whole = {**head, "games": [{"team": game.team, **game_json(game)} for game in games]}
    assert b"".join(parts) == orjson.dumps(whole)
    assert len(parts) == 2 + len(games)  # the head, a part per game, the end
    assert all(later > earlier for earlier, later in itertools.pairwise(turns[:-1]))
    empty, _ = await parts_with_turns(json_parts(head, []))
    assert orjson.loads(b"".join(empty)) == {**head, "games": []}
    assert (await parts_with_turns(csv_parts([])))[0] == [csv_text([]).encode()]
