"""Crash recovery and memory/database semantics against a real server process.

The crash-equivalence test kills the server with SIGKILL at random moments of a bot-played game,
some of them between a submit and its ack, restarts it on the same data and checks that the
finished game equals an uninterrupted one, round by round, with no acknowledged decision lost.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from typing import Any

from gameserver.games import make_policy
from gameserver.tools.simulate import simulate
from tests.support import ServerProcess, WSClient, replay_summaries, resume
from tests.test_live import act, create, export_json, seat_all, submit

_ids = itertools.count(1)


async def _reconnect_all(
    server: ServerProcess, tokens: dict[str, str]
) -> tuple[dict[str, WSClient], dict[str, dict[str, Any]]]:
    players, syncs = {}, {}
    for role, token in tokens.items():
        players[role], syncs[role] = await resume(server.ws_url, token)
    return players, syncs


async def test_crash_equivalence_with_sigkill(fresh_server: ServerProcess) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    weeks = 20
    fresh_server.start()
    game = create(fresh_server, autostart=True, settings={"weeks": weeks}, seed=12345)
    players = await seat_all(fresh_server, game)
    tokens = {role: c.token for role, c in players.items()}  # type: ignore[attr-defined]
    policy = make_policy("beer", "sterman")
    views: dict[str, Any] = {}
    for role, client in players.items():
        await client.send({"type": "sync"})
        views[role] = (await client.expect("sync"))["view"]
    kill_weeks = set(rng.sample(range(1, weeks + 1), 6))
    acked: dict[tuple[int, str], dict[str, Any]] = {}
    msg_ids: dict[tuple[int, str], str] = {}
    kills = 0
    for week in range(1, weeks + 1):
        order = list(players)
        rng.shuffle(order)
        decisions = {role: policy(views[role]) for role in order}
        for role in order:
            msg_ids[(week, role)] = f"w{week}-{role}-{next(_ids)}"
        if week in kill_weeks:
            # Some acknowledged, then some sent whose ack never arrives, then SIGKILL.
            cut = rng.randint(0, 3)
            for role in order[:cut]:
                frame = {"type": "submit", "round": week, "id": msg_ids[(week, role)]}
                await players[role].send({**frame, "decision": decisions[role]})
                await players[role].expect("ack", id=msg_ids[(week, role)])
                acked[(week, role)] = decisions[role]
            for role in order[cut : cut + rng.randint(1, 4 - cut)]:
                frame = {"type": "submit", "round": week, "id": msg_ids[(week, role)]}
                await players[role].send({**frame, "decision": decisions[role]})
            await asyncio.sleep(rng.choice([0, 0.001, 0.005]))
            fresh_server.kill()
            kills += 1
            for client in players.values():
                await client.close()
            fresh_server.start()
            players, syncs = await _reconnect_all(fresh_server, tokens)
            if all(sync["open_round"] == week + 1 for sync in syncs.values()):
                # Every decision was sent and saved before the kill: the round had closed.
                views = {role: sync["view"] for role, sync in syncs.items()}
                continue
            for role in order[:cut]:
                assert syncs[role]["decision"] == decisions[role], f"seed {seed}: lost ack"
            for role, sync in syncs.items():
                assert sync["open_round"] == week, f"seed {seed}"
                assert sync["view"] == views[role], f"seed {seed}: view changed across a crash"
        for role in order:
            ack = await submit_with_id(players[role], week, msg_ids[(week, role)], decisions[role])
            acked[(week, role)] = ack["decision"]
        for role, client in players.items():
            message = await client.expect("round", round=week)
            views[role] = message["view"]
    assert kills >= 5
    export = export_json(fresh_server, game)
    assert export["status"] == "finished"
    assert [r["round"] for r in export["rounds"]] == list(range(1, weeks + 1))
    assert [r["summary"] for r in export["rounds"]] == replay_summaries(export), f"seed {seed}"
    for (week, role), decision in acked.items():
        assert export["rounds"][week - 1]["decisions"][role] == decision, f"seed {seed}"
    # And it ends exactly as the same policy played offline without any crash.
    offline = simulate("beer", {"weeks": weeks}, policy="sterman", seed=12345)
    assert export["results"] == offline["results"], f"seed {seed}"
    for client in players.values():
        await client.close()


async def submit_with_id(
    client: WSClient, week: int, msg_id: str, decision: dict[str, Any]
) -> dict[str, Any]:
    await client.send({"type": "submit", "round": week, "id": msg_id, "decision": decision})
    return await client.expect("ack", id=msg_id)


async def test_restart_restores_games_with_pending_decisions(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    running = create(fresh_server, autostart=True)
    paused = create(fresh_server, autostart=True)
    waiting = create(fresh_server)
    players = await seat_all(fresh_server, running)
    await submit(players["distributor"], 1, {"order": 13})
    act(fresh_server, paused, "close-round")
    act(fresh_server, paused, "pause")
    fresh_server.kill()
    elapsed = fresh_server.start()
    with fresh_server.http() as http:
        details = {g["game_id"]: g for g in http.get("/api/games").json()["games"]}
    assert details[running["game_id"]]["restored"] and details[running["game_id"]]["active"]
    assert details[running["game_id"]]["status"] == "running"
    assert details[paused["game_id"]]["status"] == "paused"
    assert details[paused["game_id"]]["round"] == 1
    assert details[waiting["game_id"]]["status"] == "created"
    token = players["distributor"].token  # type: ignore[attr-defined]
    client, sync = await resume(fresh_server.ws_url, token)
    assert sync["decision"] == {"order": 13} and sync["submitted"] == ["distributor"]
    assert elapsed < 15
    await client.close()


async def test_a_restored_round_gets_at_least_the_grace_to_reconnect(
    fresh_server: ServerProcess,
) -> None:
    """Under a second left at the crash: moved on by the downtime (tests/test_alive.py), that
    is still too short for pages to come back, so the round gets the grace."""
    fresh_server.extra_env = {"GAMESERVER_DEADLINE_GRACE": "2"}
    fresh_server.start()
    game = create(fresh_server, autostart=True, round_seconds=1)
    fresh_server.kill()
    await asyncio.sleep(1.5)  # the old deadline passes while the server is down
    fresh_server.start()
    started = time.monotonic()
    with fresh_server.http(game["facilitator_token"]) as http:
        detail = http.get(f"/api/games/{game['game_id']}").json()
        assert detail["round"] == 0, "a passed deadline must not fire at once"
        while http.get(f"/api/games/{game['game_id']}").json()["round"] == 0:
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.1)
    assert time.monotonic() - started >= 1.5  # 2 s from the restore, just before `started`


async def test_eviction_read_from_database_and_restore_on_access(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.extra_env = {
        "GAMESERVER_IDLE_TIMEOUT": "0.3",
        "GAMESERVER_SWEEP_INTERVAL": "0.1",
    }
    fresh_server.start()
    game = create(fresh_server, autostart=True)
    act(fresh_server, game, "close-round")
    gid = game["game_id"]
    with fresh_server.http(game["facilitator_token"]) as http:
        deadline = time.monotonic() + 10
        while True:
            response = http.get(f"/api/games/{gid}")
            if not response.json()["active"]:
                break
            assert time.monotonic() < deadline, "game never left memory"
            await asyncio.sleep(0.1)
        # Read from the database: not brought back, and marked as such.
        assert response.headers["pragma"] == "persistent"
        assert response.json()["round"] == 1 and response.json()["status"] == "running"
        again = http.get(f"/api/games/{gid}")
        assert again.json()["active"] is False
        # Any action brings it back transparently.
        closed = act(fresh_server, game, "close-round")
        assert closed.status_code == 200 and closed.json()["round"] == 2
        assert closed.json()["active"] is True
    with fresh_server.http() as http:
        metrics = http.get("/metrics").text
    assert "gameserver_games_evicted_total 1" in metrics or "evicted_total 2" in metrics
    assert "gameserver_games_loaded_on_access_total 1" in metrics
    # A player joining an evicted game brings it back too.
    while fresh_server.http(game["facilitator_token"]).get(f"/api/games/{gid}").json()["active"]:
        await asyncio.sleep(0.1)
    client, welcome, sync = await _join(fresh_server, game["join"][1]["code"])
    assert sync["round"] == 2 and welcome["role"] == game["join"][1]["role"]
    assert fresh_server.http(game["facilitator_token"]).get(f"/api/games/{gid}").json()["active"]
    await client.close()


async def _join(
    server: ServerProcess, code: str
) -> tuple[WSClient, dict[str, Any], dict[str, Any]]:
    from tests.support import join

    return await join(server.ws_url, code)


async def test_clone_from_a_round(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    game = create(fresh_server, autostart=True)
    players = await seat_all(fresh_server, game)
    for week, order in enumerate([5, 9, 2], start=1):
        for client in players.values():
            await submit(client, week, {"order": order})
        for client in players.values():
            await client.expect("round", round=week)
    with fresh_server.http(game["facilitator_token"]) as http:
        response = http.post(f"/api/games/{game['game_id']}/clone", json={"round": 2})
        assert response.status_code == 201, response.text
        clone = response.json()
        bad = http.post(f"/api/games/{game['game_id']}/clone", json={"round": 7})
        assert bad.status_code == 409
    assert clone["game_id"] != game["game_id"]
    assert clone["round"] == 2 and clone["status"] == "created"
    assert clone["cloned_from"] == {"game_id": game["game_id"], "round": 2}
    assert {s["code"] for s in clone["join"]}.isdisjoint({s["code"] for s in game["join"]})
    original = export_json(fresh_server, game)
    copy = export_json(fresh_server, clone)
    assert len(original["rounds"]) == 3 and len(copy["rounds"]) == 2
    assert [r["summary"] for r in copy["rounds"]] == [r["summary"] for r in original["rounds"][:2]]
    # The clone plays on from round 3 on its own; the original is untouched.
    act(fresh_server, clone, "start")
    act(fresh_server, clone, "close-round")
    assert len(export_json(fresh_server, clone)["rounds"]) == 3
    assert export_json(fresh_server, game) == original
    for client in players.values():
        await client.close()


async def test_a_bot_seat_survives_a_restart(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    game = create(fresh_server, autostart=True)
    players = await seat_all(fresh_server, game)
    with fresh_server.http(game["facilitator_token"]) as http:
        response = http.put(
            f"/api/games/{game['game_id']}/seats/factory/bot", json={"policy": "pass-through"}
        )
        assert response.status_code == 200, response.text
    await players["retailer"].expect("progress", submitted=["factory"])
    fresh_server.kill()
    fresh_server.start()
    humans = {r: c.token for r, c in players.items() if r != "factory"}  # type: ignore[attr-defined]
    clients, syncs = await _reconnect_all(fresh_server, humans)
    assert syncs["retailer"]["bots"] == ["factory"] and syncs["retailer"]["submitted"] == [
        "factory"
    ]
    for week in (1, 2):
        for client in clients.values():
            await submit(client, week, {"order": 6})
        message = await clients["retailer"].expect("round", round=week)
        assert message["bots"] == ["factory"]
    export = export_json(fresh_server, game)
    assert [r["defaulted"] for r in export["rounds"]] == [[], []]
    assert export["rounds"][1]["ids"]["factory"] == "bot-2-factory"
    for client in [*clients.values(), *players.values()]:
        await client.close()
