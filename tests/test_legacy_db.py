"""A database written by gameserver 0.1.0 keeps loading, resumes and finishes.

``tests/fixtures/v0.1.0/`` was written by a real 0.1.0 server (``make_v0_1_db.py`` there says
how): a created game with an open code, a game mid-round with pending decisions, a paused game,
a finished one, a clone, an ended one, and a fishery game of a class with a bot seat. This test
opens a copy with today's code, checks every game is as 0.1.0 left it, and plays every game in
progress to its end through the real protocol; each finished game must equal an offline replay
of the decisions it kept, the rounds 0.1.0 played included.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gameserver.games import get_game
from tests.support import ServerProcess, WSClient, join, replay_summaries, resume
from tests.test_live import export_json

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1.0"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / name).read_text())
    return data


def _decision(kind: str, role: str, week: int) -> dict[str, int]:
    if kind == "fishery":
        return {"boats": 2 + week % 3}
    return {"order": 3 + (week + len(role)) % 5}


async def _seat_everyone(
    server: ServerProcess, entry: dict[str, Any], roles: list[str], bots: list[str]
) -> dict[str, WSClient]:
    """Resume the seats 0.1.0 gave out; claim the others with their join codes."""
    players = {}
    for role in roles:
        if role in bots:
            continue
        if role in entry["seats"]:
            client, sync = await resume(server.ws_url, entry["seats"][role])
            assert sync["role"] == role
        else:
            client, welcome, sync = await join(server.ws_url, entry["join"][role])
            assert welcome["role"] == role
        players[role] = client
    return players


async def _finish(server: ServerProcess, entry: dict[str, Any], game: dict[str, Any]) -> None:
    """Play the game to its end: every human seat decides each open round."""
    kind = game["kind"]
    roles = [s["role"] for s in game["seats"]]
    bots = [s["role"] for s in game["seats"] if s["bot"]]
    players = await _seat_everyone(server, entry, roles, bots)
    first = next(iter(players.values()))
    await first.send({"type": "sync"})
    sync = await first.expect("sync")
    status = sync["status"]
    while status not in ("finished", "ended"):
        week = sync["open_round"]
        for role, client in players.items():
            await client.send({"type": "sync"})
            own = await client.expect("sync")
            if own["decision"] is not None or own["open_round"] != week:
                # Decided before the upgrade: kept, not asked again (and so the round may
                # already have closed with the decision before this seat's: all were in).
                continue
            msg_id = f"new-{role}-{week}"
            frame = {"type": "submit", "round": week, "id": msg_id}
            await client.send({**frame, "decision": _decision(kind, role, week)})
            await client.expect("ack", id=msg_id)
        sync = await first.expect("round", round=week, timeout=20)
        status = sync["status"]
    for client in players.values():
        await client.close()


def as_0_1_0(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rounds as 0.1.0 exported them: without ``names``, which it did not keep (empty)."""
    assert all(r["names"] == {} for r in rounds)
    return [{k: v for k, v in r.items() if k != "names"} for r in rounds]


async def test_a_0_1_0_database_loads_resumes_and_finishes(tmp_path: Path) -> None:
    secrets, expected = _load("secrets.json"), _load("expected.json")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURE / "games.db", data / "games.db")
    server = ServerProcess(data)
    try:
        server.start()
        with server.http() as http:
            listed = {g["game_id"]: g for g in http.get("/api/games").json()["games"]}
        assert len(listed) == 8  # the 7 named games and the second team of the class
        for name, entry in secrets["games"].items():
            game, want = listed[entry["game_id"]], expected[name]
            assert game["status"] == want["status"], name
            assert game["round"] == want["round"], name
            assert [s["role"] for s in game["seats"] if s["bot"]] == want["bots"], name
            with server.http(entry["facilitator_token"]) as http:
                detail = http.get(f"/api/games/{entry['game_id']}").json()
            assert detail["status"] == want["status"]
            assert detail["results"] == want["results"], name
            assert as_0_1_0(export_json(server, {**entry})["rounds"]) == want["rounds"], name
        assert (
            listed[secrets["games"]["created"]["game_id"]]["open_join"]["code"]
            == (secrets["games"]["created"]["open_code"])
        )
        paused = listed[secrets["games"]["paused"]["game_id"]]
        assert abs(paused["paused_remaining"] - expected["paused"]["paused_remaining"]) < 1e-6

        # Decisions pending when 0.1.0 stopped are still there for their seats.
        running = secrets["games"]["running"]
        client, sync = await resume(server.ws_url, running["seats"]["retailer"])
        assert sync["decision"] == {"order": 9} and sync["decision_id"] == "retailer-3"
        assert sorted(sync["submitted"]) == ["factory", "retailer"]
        await client.close()

        # Every game in progress plays to its end.
        for name in ("created", "clone"):
            entry = secrets["games"][name]
            with server.http(entry["facilitator_token"]) as http:
                assert http.post(f"/api/games/{entry['game_id']}/start").status_code == 200
        entry = secrets["games"]["paused"]
        with server.http(entry["facilitator_token"]) as http:
            assert http.post(f"/api/games/{entry['game_id']}/resume").status_code == 200
        for name in ("created", "running", "paused", "clone", "fishery"):
            entry = secrets["games"][name]
            await _finish(server, entry, listed[entry["game_id"]])
            export = export_json(server, entry)
            assert export["status"] == "finished", name
            old = export["rounds"][: len(expected[name]["rounds"])]
            assert as_0_1_0(old) == expected[name]["rounds"]
            assert [r["summary"] for r in export["rounds"]] == replay_summaries(export), name
            game = get_game(export["kind"])
            assert len(export["rounds"]) == game.total_rounds(
                game.initial_state(export["settings"], export["seed"])
            )

        # The class token still controls the class's games.
        session = secrets["session"]
        with server.http(session["facilitator_token"]) as http:
            response = http.get(f"/api/sessions/{session['session_id']}")
        assert response.status_code == 200 and len(response.json()["games"]) == 2
    finally:
        server.stop()
