"""End-to-end: a real ``gameserver serve`` process, real WebSocket clients, real SQLite."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from gameserver.game import apply_view_update
from gameserver.games import get_game, make_policy
from tests.support import ADMIN_KEY, ServerProcess, WSClient, join, replay_summaries, resume

BEER_ROLES = ["retailer", "wholesaler", "distributor", "factory"]
_ids = itertools.count(1)


def create(server: ServerProcess, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "beer")
    with server.http() as http:
        response = http.post("/api/games", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def act(server: ServerProcess, game: dict[str, Any], action: str, **body: Any) -> httpx.Response:
    with server.http(game["facilitator_token"]) as http:
        return http.post(f"/api/games/{game['game_id']}/{action}", json=body)


async def seat_all(server: ServerProcess, game: dict[str, Any]) -> dict[str, WSClient]:
    players = {}
    for link in game["join"]:
        client, welcome, sync = await join(server.ws_url, link["code"], name=link["role"])
        assert welcome["role"] == link["role"] and welcome["token"]
        assert sync["view"] and sync["round"] == 0
        client.token = welcome["token"]  # type: ignore[attr-defined]
        players[link["role"]] = client
    return players


async def submit(client: WSClient, round_no: int, decision: dict[str, Any]) -> dict[str, Any]:
    msg_id = f"m{next(_ids)}"
    await client.send({"type": "submit", "round": round_no, "id": msg_id, "decision": decision})
    return await client.expect("ack", id=msg_id)


def export_json(server: ServerProcess, game: dict[str, Any]) -> dict[str, Any]:
    with server.http(game["facilitator_token"]) as http:
        response = http.get(f"/api/games/{game['game_id']}/export.json")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_full_beer_game_with_pass_through(server: ServerProcess) -> None:
    game = create(server)
    players = await seat_all(server, game)
    watcher = await WSClient.open(
        server.ws_url,
        {"type": "hello", "watch": game["game_id"], "token": game["facilitator_token"]},
    )
    await watcher.expect("sync")
    assert act(server, game, "start").status_code == 200
    policy = make_policy("beer", "pass-through")
    views = {}
    for role, client in players.items():
        await client.expect("status", status="running")
        await client.send({"type": "sync"})
        views[role] = (await client.expect("sync"))["view"]
    for week in range(1, 37):
        for role, client in players.items():
            ack = await submit(client, week, policy(views[role]))
            assert ack["round"] == week
        for role, client in players.items():
            message = await client.expect("round", round=week)
            views[role] = message["view"]
        facilitator = await watcher.expect("round", round=week)
        assert facilitator["role"] is None
    assert message["status"] == "finished"
    export = export_json(server, game)
    assert len(export["rounds"]) == 36
    assert [r["summary"] for r in export["rounds"]] == replay_summaries(export)
    for client in [*players.values(), watcher]:
        await client.close()


async def test_players_taking_updates_hold_the_whole_view_every_round(
    server: ServerProcess,
) -> None:
    """With ``view_updates``, each round of the Beer Game brings an update; applied to the view
    held, it gives what a ``sync`` gives, round after round, through a reconnection; the last
    round brings the whole view with the debrief. A player without it gets whole views."""
    game = create(server, autostart=True, settings={"weeks": 5})
    clients, views = {}, {}
    for link in game["join"]:
        takes = link["role"] != "factory"
        hello = {"type": "hello", "join": link["code"], "view_updates": takes}
        clients[link["role"]] = client = await WSClient.open(server.ws_url, hello)
        client.token = (await client.expect("welcome"))["token"]  # type: ignore[attr-defined]
        views[link["role"]] = (await client.expect("sync"))["view"]
    for week in range(1, 6):
        if week == 3:  # the retailer comes back: a sync, then updates again
            await clients["retailer"].close()
            token = clients["retailer"].token  # type: ignore[attr-defined]
            hello = {"type": "hello", "token": token, "view_updates": True}
            clients["retailer"] = again = await WSClient.open(server.ws_url, hello)
            views["retailer"] = (await again.expect("sync"))["view"]
        for client in clients.values():
            await submit(client, week, {"order": 4 + week})
        for role, client in clients.items():
            message = await client.expect("round", round=week)
            if week < 5 and role != "factory":
                assert "view" not in message
                views[role] = apply_view_update(views[role], message["view_update"])
            else:
                assert "view_update" not in message
                views[role] = message["view"]
            await client.send({"type": "sync"})
            assert views[role] == (await client.expect("sync"))["view"], (role, week)
    assert all("debrief" in view for view in views.values())
    # One debrief, encoded once for the four (protocol.SharedPart): everyone's, whole.
    debrief = views["retailer"]["debrief"]
    assert all(view["debrief"] == debrief for view in views.values())
    assert sorted(debrief["roles"]) == sorted(clients) and debrief["week"] == 5
    for client in clients.values():
        await client.close()


async def test_the_fishery_sends_updates_too(server: ServerProcess) -> None:
    game = create(server, kind="fishery", autostart=True)
    hello = {"type": "hello", "join": game["join"][0]["code"], "view_updates": True}
    client = await WSClient.open(server.ws_url, hello)
    view = (await client.expect("sync"))["view"]
    for round_no in (1, 2):
        assert act(server, game, "close-round").status_code == 200
        message = await client.expect("round", round=round_no)
        view = apply_view_update(view, message["view_update"])
        await client.send({"type": "sync"})
        assert view == (await client.expect("sync"))["view"]
    await client.close()


async def test_views_are_private_and_progress_is_shared(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    await submit(players["retailer"], 1, {"order": 7})
    progress = await players["factory"].expect("progress", submitted=["retailer"])
    assert set(progress["online"]) == set(BEER_ROLES)
    for role, client in players.items():
        await client.send({"type": "sync"})
        sync = await client.expect("sync")
        assert sync["role"] == role
        text = str(sync["view"])
        for other in BEER_ROLES:
            if other != role:
                assert other not in sync["view"], f"{role} sees {other}"
        assert "demand" not in text or role == "retailer"
    for client in players.values():
        await client.close()


async def test_the_last_decision_of_a_round_is_acked_with_the_round(
    server: ServerProcess,
) -> None:
    """The decision that completes a round is saved with it: its ack, then the round, and no
    progress between them; the export has it."""
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    for role in ("retailer", "wholesaler", "distributor"):
        await submit(players[role], 1, {"order": 5})
    factory = players["factory"]
    progress = await factory.expect("progress")
    while len(progress["submitted"]) < 3:
        progress = await factory.expect("progress")
    factory.forget_unread()
    await factory.send({"type": "submit", "round": 1, "id": "last", "decision": {"order": 12}})
    acked, closed = await factory.recv(), await factory.recv()
    assert (acked["type"], acked["id"], acked["decision"]) == ("ack", "last", {"order": 12})
    assert (closed["type"], closed["round"]) == ("round", 1)
    assert export_json(server, game)["rounds"][0]["decisions"]["factory"] == {"order": 12}
    # One write for it: the round's. The three others were saved on their own first.
    with closing(sqlite3.connect(server.data / "games.db")) as db:
        query = "SELECT seat FROM decisions WHERE game_id = ? AND round = 1 ORDER BY seat"
        seats = [seat for (seat,) in db.execute(query, (game["game_id"],))]
    assert seats == ["distributor", "retailer", "wholesaler"]
    for client in players.values():
        await client.close()


async def test_disconnect_and_resume_mid_round(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    await submit(players["wholesaler"], 1, {"order": 9})
    token = players["wholesaler"].token  # type: ignore[attr-defined]
    await players["wholesaler"].close()
    progress = await players["retailer"].expect("progress")
    while "wholesaler" in progress["online"]:
        progress = await players["retailer"].expect("progress")
    client, sync = await resume(server.ws_url, token)
    assert sync["role"] == "wholesaler"
    assert sync["decision"] == {"order": 9}
    assert sync["submitted"] == ["wholesaler"]
    assert sync["open_round"] == 1
    players["wholesaler"] = client
    for role in ("retailer", "distributor", "factory"):
        await submit(players[role], 1, {"order": 4})
    message = await client.expect("round", round=1)
    assert message["view"]
    export = export_json(server, game)
    assert export["rounds"][0]["decisions"]["wholesaler"] == {"order": 9}
    for c in players.values():
        await c.close()


async def test_duplicate_and_changed_submissions(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    retailer = players["retailer"]
    frame = {"type": "submit", "round": 1, "id": "same-id", "decision": {"order": 5}}
    await retailer.send(frame)
    first = await retailer.expect("ack", id="same-id")
    await retailer.send(frame)
    again = await retailer.expect("ack", id="same-id")
    assert not first.get("duplicate") and again["duplicate"] is True
    changed = await submit(retailer, 1, {"order": 11})
    assert changed["decision"] == {"order": 11}
    for role in ("wholesaler", "distributor", "factory"):
        await submit(players[role], 1, {"order": 4})
    await retailer.expect("round", round=1)
    # The resend of a decision the closed round used is acknowledged, not counted again.
    await retailer.send(
        {"type": "submit", "round": 1, "id": changed["id"], "decision": {"order": 11}}
    )
    late = await retailer.expect("ack", id=changed["id"])
    assert late["duplicate"] is True
    export = export_json(server, game)
    assert len(export["rounds"]) == 1
    assert export["rounds"][0]["decisions"]["retailer"] == {"order": 11}
    assert export["rounds"][0]["defaulted"] == []
    for c in players.values():
        await c.close()


async def test_facilitator_pauses_forces_a_round_and_ends(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    assert act(server, game, "pause").json()["status"] == "paused"
    await players["retailer"].send(
        {"type": "submit", "round": 1, "id": "p1", "decision": {"order": 6}}
    )
    error = await players["retailer"].expect("error", id="p1")
    assert error["code"] == "paused"
    assert act(server, game, "resume").json()["status"] == "running"
    await submit(players["retailer"], 1, {"order": 6})
    forced = act(server, game, "close-round")
    assert forced.status_code == 200 and forced.json()["round"] == 1
    export = export_json(server, game)
    record = export["rounds"][0]
    assert record["closed_by"] == "facilitator"
    assert sorted(record["defaulted"]) == ["distributor", "factory", "wholesaler"]
    assert record["decisions"]["retailer"] == {"order": 6}
    game_kind = get_game("beer")
    assert record["decisions"]["factory"] == game_kind.default_decision(
        game_kind.initial_state(export["settings"], export["seed"]), "factory"
    )
    ended = act(server, game, "end")
    assert ended.json()["status"] == "ended"
    await players["factory"].expect("status", status="ended")
    # Ended before its last week, the game still has a debrief for every player: all roles.
    for role, client in players.items():
        synced = await client.expect("sync", status="ended")
        assert synced["view"]["role"] == role
        assert sorted(synced["view"]["debrief"]["roles"]) == sorted(players)
    await players["factory"].send(
        {"type": "submit", "round": 2, "id": "e", "decision": {"order": 1}}
    )
    assert (await players["factory"].expect("error", id="e"))["code"] == "game_over"
    again = act(server, game, "end")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    for c in players.values():
        await c.close()


async def test_deadline_closes_the_round_with_defaults(server: ServerProcess) -> None:
    game = create(server, autostart=True, round_seconds=1)
    players = await seat_all(server, game)
    await submit(players["factory"], 1, {"order": 3})
    message = await players["factory"].expect("round", round=1, timeout=5)
    assert message["deadline"] is not None
    record = export_json(server, game)["rounds"][0]
    assert record["closed_by"] == "deadline"
    assert record["decisions"]["factory"] == {"order": 3}
    assert "retailer" in record["defaulted"]
    extended = act(server, game, "deadline", extend=100)
    assert extended.json()["deadline"] >= message["deadline"] + 99
    for c in players.values():
        await c.close()


async def test_bad_websocket_input_gets_named_errors(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    url = server.ws_url
    # Handshake errors keep the connection open for another try.
    client = await WSClient.open(url, {"type": "submit"})
    assert (await client.expect("error"))["code"] == "hello_expected"
    await client.send({"type": "hello", "v": 99, "token": "x"})
    assert (await client.expect("error"))["code"] == "unsupported_version"
    await client.send({"type": "hello", "token": "NOPE.secret"})
    assert (await client.expect("error"))["code"] == "bad_token"
    await client.send({"type": "hello", "join": "ZZZZZZZZ-ABCD"})
    assert (await client.expect("error"))["code"] == "not_found"
    await client.send({"type": "hello", "watch": game["game_id"], "token": "wrong"})
    assert (await client.expect("error"))["code"] == "bad_token"
    code = game["join"][0]["code"]
    await client.send({"type": "hello", "join": code})
    welcome = await client.expect("welcome")
    await client.expect("sync")
    # After joining: errors name the problem and the connection stays open.
    taken = await WSClient.open(url, {"type": "hello", "join": code})
    assert (await taken.expect("error"))["code"] == "seat_taken"
    await taken.close()
    for frame, expected in [
        ({"type": "dance"}, "unknown_type"),
        ({"type": "submit", "id": "a", "decision": {"order": 1}}, "missing_field"),
        ({"type": "submit", "round": 1, "decision": {"order": 1}}, "missing_field"),
        ({"type": "submit", "round": 1, "id": "b"}, "missing_field"),
        ({"type": "submit", "round": 5, "id": "c", "decision": {"order": 1}}, "wrong_round"),
        ({"type": "submit", "round": 1, "id": "d", "decision": {"order": -3}}, "invalid_decision"),
        (
            {"type": "submit", "round": 1, "id": "e", "decision": {"order": "lots"}},
            "invalid_decision",
        ),
        ({"type": "hello", "join": code}, "bad_message"),
    ]:
        await client.send(frame)
        error = await client.expect("error")
        assert error["code"] == expected, (frame, error)
        assert error["message"]
    await client.send({"type": "submit", "round": 1, "id": "f", "decision": {"order": -3}})
    error = await client.expect("error", id="f")
    assert error["message"] == "order must be a whole number between 0 and 10000, got -3"
    await client.send({"type": "ping", "id": "still-here"})
    assert (await client.expect("pong"))["id"] == "still-here"
    assert welcome["role"] == game["join"][0]["role"]
    await client.close()


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [("this is not json", 1007), ("[1, 2]", 1007), ("x" * 20000, 1009)],
)
async def test_malformed_and_oversized_frames_close(
    server: ServerProcess, frame: str, close_code: int
) -> None:
    game = create(server)
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    await client.send_raw(frame)
    assert await client.closed_with() == close_code


async def test_flood_closes_with_4001(server: ServerProcess) -> None:
    game = create(server)
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    for n in range(200):
        try:
            await client.send({"type": "ping", "id": str(n)})
        except Exception:
            break
    assert await client.closed_with() == 4001


def test_http_errors_are_json_with_names(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        response = anonymous.post("/api/games", json={"kind": "beer"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authorized"
        assert anonymous.get("/api/nothing-here").status_code == 404
        assert anonymous.get("/api/nothing-here").json()["error"]["code"] == "not_found"
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/health").json()["status"] == "ok"
    with server.http() as http:
        bad = http.post("/api/games", json={"kind": "beer", "settings": {"weeks": -1}})
        assert bad.status_code == 422
        assert "weeks" in bad.json()["error"]["message"]
        unknown = http.post("/api/games", json={"kind": "chess"})
        assert unknown.status_code == 404 and "beer" in unknown.json()["error"]["message"]
        garbage = http.post("/api/games", content=b"{not json")
        assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_json"
        assert http.get("/api/games/NOSUCHID").status_code == 404
        metrics = http.get("/metrics")
        assert metrics.status_code == 200 and "gameserver_games_in_memory" in metrics.text
    game = create(server)
    other = create(server)
    with server.http(game["facilitator_token"]) as http:
        assert http.get(f"/api/games/{game['game_id']}").status_code == 200
        denied = http.post(f"/api/games/{other['game_id']}/start")
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "bad_token"
        assert http.get("/api/games").status_code == 401


def test_session_of_games(server: ServerProcess) -> None:
    with server.http() as http:
        response = http.post(
            "/api/sessions", json={"kind": "beer", "teams": 3, "settings": {"weeks": 10}}
        )
        assert response.status_code == 201, response.text
        session = response.json()
        too_many = http.post("/api/sessions", json={"kind": "beer", "teams": 1001})
        assert too_many.status_code == 422
    assert len(session["games"]) == 3
    assert all(g["settings"]["weeks"] == 10 for g in session["games"])
    with server.http(session["facilitator_token"]) as http:
        sid = session["session_id"]
        started = http.post(f"/api/sessions/{sid}/start").json()
        assert [r["ok"] for r in started["results"]] == [True, True, True]
        detail = http.get(f"/api/sessions/{sid}").json()
        assert {g["status"] for g in detail["games"]} == {"running"}
        closed = http.post(f"/api/sessions/{sid}/close-round").json()
        assert all(r["ok"] for r in closed["results"])
        one = session["games"][0]["game_id"]
        assert http.get(f"/api/games/{one}").json()["round"] == 1
        assert http.post(f"/api/sessions/{sid}/pause").status_code == 200
        assert http.get(f"/api/games/{one}").json()["status"] == "paused"


async def test_export_csv(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    act(server, game, "close-round")
    act(server, game, "close-round")
    with server.http(game["facilitator_token"]) as http:
        response = http.get(f"/api/games/{game['game_id']}/export.csv")
    assert response.status_code == 200
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("game_id,round,role,name,decision_order")
    assert len(lines) == 1 + 2 * 4


async def test_graceful_shutdown_closes_with_1012(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    game = create(fresh_server, autostart=True)
    client, _, _ = await join(fresh_server.ws_url, game["join"][0]["code"])
    await submit(client, 1, {"order": 8})
    closing = asyncio.create_task(client.closed_with())
    await asyncio.sleep(0.1)
    code = await asyncio.to_thread(fresh_server.terminate)
    # uvicorn re-raises SIGTERM once its graceful shutdown is done, so -15 is a clean exit too.
    assert code in (0, -15)
    assert await closing == 1012
    assert "INFO gameserver stopped" in fresh_server.log()
    fresh_server.start()
    with fresh_server.http(game["facilitator_token"]) as http:
        detail = http.get(f"/api/games/{game['game_id']}").json()
    assert detail["seats"][0]["claimed"] and detail["status"] == "running"


async def test_unknown_admin_key_is_refused(server: ServerProcess) -> None:
    with server.http("not-" + ADMIN_KEY) as http:
        assert http.post("/api/games", json={"kind": "beer"}).status_code == 401


async def test_open_join_lets_players_pick_a_free_role(server: ServerProcess) -> None:
    game = create(server, open_join=True)
    code = game["open_join"]["code"]
    factory, welcome, _ = await join(server.ws_url, code, role="factory")
    assert welcome["role"] == "factory" and welcome["token"]
    clash = await WSClient.open(server.ws_url, {"type": "hello", "join": code, "role": "factory"})
    assert (await clash.expect("error"))["code"] == "seat_taken"
    await clash.send({"type": "hello", "join": code, "role": "brewer"})
    assert (await clash.expect("error"))["code"] == "no_such_role"
    await clash.send({"type": "hello", "join": code})  # no role: the first free seat
    assert (await clash.expect("welcome"))["role"] == "retailer"
    others = [await join(server.ws_url, code) for _ in range(2)]
    assert sorted(w["role"] for _, w, _ in others) == ["distributor", "wholesaler"]
    full = await WSClient.open(server.ws_url, {"type": "hello", "join": code})
    assert (await full.expect("error"))["code"] == "game_full"
    for client in [factory, clash, full, *(c for c, _, _ in others)]:
        await client.close()


async def test_simultaneous_open_joins_get_different_seats(server: ServerProcess) -> None:
    for _ in range(3):
        game = create(server, open_join=True)
        code = game["open_join"]["code"]
        joined = await asyncio.gather(*(join(server.ws_url, code) for _ in range(4)))
        assert sorted(w["role"] for _, w, _ in joined) == sorted(BEER_ROLES)
        for client, _, _ in joined:
            await client.close()


def test_join_info_says_what_a_code_opens(server: ServerProcess) -> None:
    game = create(server, open_join=True)
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        seat = anonymous.get(f"/api/join/{game['join'][2]['code'].lower()}").json()
        assert seat["game_id"] == game["game_id"] and seat["kind"] == "beer"
        assert seat["open"] is False and seat["role"] == "distributor"
        assert [r["role"] for r in seat["roles"]] == BEER_ROLES
        assert all(r["free"] for r in seat["roles"])
        opened = anonymous.get(f"/api/join/{game['open_join']['code']}").json()
        assert opened["open"] is True and opened["role"] is None
        for bad in (f"{game['game_id']}-ZZZZ", "NOSUCHGAME-ABCD", "..-x"):
            missing = anonymous.get(f"/api/join/{bad}")
            assert missing.status_code == 404, bad
            assert "join code" in missing.json()["error"]["message"]
        assert anonymous.get("/api/join/..%2F..%2Fetc-x").status_code == 404


async def test_reset_seat_frees_it_with_a_new_code(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    old_token = players["wholesaler"].token  # type: ignore[attr-defined]
    reset = act(server, game, "seats/wholesaler/reset")
    assert reset.status_code == 200, reset.text
    seat = next(s for s in reset.json()["seats"] if s["role"] == "wholesaler")
    assert seat["claimed"] is False and seat["join_code"] != game["join"][1]["code"]
    assert await players["wholesaler"].closed_with() == 4003
    again = await WSClient.open(server.ws_url, {"type": "hello", "token": old_token})
    assert (await again.expect("error"))["code"] == "bad_token"
    client, welcome, _ = await join(server.ws_url, seat["join_code"])
    assert welcome["role"] == "wholesaler"
    for c in [again, client, *players.values()]:
        await c.close()


async def test_players_see_which_seats_bots_hold(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    players = await seat_all(server, game)
    with server.http(game["facilitator_token"]) as http:
        response = http.put(
            f"/api/games/{game['game_id']}/seats/factory/bot", json={"policy": "pass-through"}
        )
        assert response.status_code == 200, response.text
        bad = http.put(f"/api/games/{game['game_id']}/seats/factory/bot", json={"policy": "x"})
        assert bad.status_code == 422
    told = await players["wholesaler"].expect("status")  # the handover itself is announced
    assert told["bots"] == ["factory"]
    progress = await players["retailer"].expect("progress", submitted=["factory"])
    assert progress["bots"] == ["factory"]
    await players["retailer"].send({"type": "sync"})
    sync = await players["retailer"].expect("sync")
    assert sync["bots"] == ["factory"] and "factory" in sync["submitted"]
    assert progress["online"]
    for c in players.values():
        await c.close()


def test_a_clone_stays_in_its_class(server: ServerProcess) -> None:
    with server.http() as http:
        session = http.post("/api/sessions", json={"kind": "beer", "teams": 1}).json()
    one = session["games"][0]
    with server.http(session["facilitator_token"]) as http:
        response = http.post(f"/api/games/{one['game_id']}/clone", json={"round": 0})
        assert response.status_code == 201, response.text
        clone = response.json()
        assert clone["session_id"] == session["session_id"]
        listed = http.get(f"/api/sessions/{session['session_id']}").json()["games"]
        assert {g["game_id"] for g in listed} == {one["game_id"], clone["game_id"]}
        assert http.post(f"/api/games/{clone['game_id']}/start").status_code == 200


def test_odd_ids_are_not_found_on_the_file_adapter(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", args=["--storage", f"file://{tmp_path / 'files'}"])
    server.start()
    try:
        game = create(server)
        with server.http() as http:
            assert http.get(f"/api/games/{game['game_id']}").status_code == 200
            for odd in ("..", ".hidden", "a.b", "x" * 40):
                response = http.get(f"/api/games/{odd}")
                assert response.status_code == 404, (odd, response.text)
                assert response.json()["error"]["code"] == "not_found"
    finally:
        server.stop()


def round_waits(server: ServerProcess) -> dict[str, float]:
    """``gameserver_round_seconds`` from /metrics: each bucket's bound -> rounds up to it, and
    ``sum`` and ``count``."""
    with server.http() as http:
        text = http.get("/metrics").text
    assert "# TYPE gameserver_round_seconds histogram" in text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('gameserver_round_seconds_bucket{le="'):
            bound, count = line.removeprefix('gameserver_round_seconds_bucket{le="').split('"} ')
            out[bound] = int(count)
        elif line.startswith("gameserver_round_seconds_sum "):
            out["sum"] = float(line.split()[1])
        elif line.startswith("gameserver_round_seconds_count "):
            out["count"] = int(line.split()[1])
    return out


async def test_metrics_time_each_round_from_its_close_to_its_views(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    assert round_waits(fresh_server)["count"] == 0
    game = create(fresh_server, autostart=True)
    players = await seat_all(fresh_server, game)
    # Round 1: three decisions, then the last one 0.6 s later. Round 2: one decision, then the
    # facilitator closes it 0.6 s later. Each counts from what closed it (the last decision, the
    # facilitator's close), not from the decisions before: well under 0.5 s, on any machine.
    for role in ("retailer", "wholesaler", "distributor"):
        await submit(players[role], 1, {"order": 4})
    await asyncio.sleep(0.6)
    await submit(players["factory"], 1, {"order": 4})
    for client in players.values():
        await client.expect("round", round=1)
    await submit(players["retailer"], 2, {"order": 5})
    await asyncio.sleep(0.6)
    assert act(fresh_server, game, "close-round").json()["round"] == 2
    for client in players.values():
        await client.expect("round", round=2)
    waits = round_waits(fresh_server)
    assert waits["count"] == waits["+Inf"] == 2
    assert waits["0.5"] == 2 and 0 < waits["sum"] < 1.0
    counts = [count for bound, count in waits.items() if bound not in ("sum", "count")]
    assert counts == sorted(counts)  # cumulative, as Prometheus reads a histogram
    for client in players.values():
        await client.close()
