"""The game list (``GET /api/games``): pages by cursor, read from the stored summaries only,
against a real server process on a real SQLite file."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from gameserver.server.listing import cursor, parse_cursor
from storage import GameHeader
from tests.support import ServerProcess, join


def pages(server: ServerProcess, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of the list, following ``next`` to the end."""
    out: list[list[dict[str, Any]]] = []
    after = None
    with server.http() as http:
        while True:
            query = {"limit": limit, **params, **({"after": after} if after else {})}
            response = http.get("/api/games", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            out.append(body["games"])
            after = body["next"]
            if after is None:
                return out


def test_pages_hold_every_game_once_in_order_while_games_are_created(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    with fresh_server.http() as http:
        made = [http.post("/api/games", json={"kind": "beer", "title": f"G{n}"}).json()
                for n in range(11)]  # fmt: skip
        session = http.post("/api/sessions", json={"kind": "beer", "teams": 3}).json()
        ids = [g["game_id"] for g in made] + [g["game_id"] for g in session["games"]]
        everything = http.get("/api/games").json()
        assert [g["game_id"] for g in everything["games"]] == ids
        assert everything["next"] is None
        first = http.get("/api/games", params={"limit": 5}).json()
        # A game created between two pages comes after every page already read.
        late = http.post("/api/games", json={"kind": "beer"}).json()["game_id"]
    walked = pages(fresh_server, 5)
    assert [len(p) for p in walked] == [5, 5, 5]
    assert [g["game_id"] for p in walked for g in p] == [*ids, late]
    assert [g["game_id"] for g in first["games"]] == ids[:5]
    newest = pages(fresh_server, 4, order="newest")
    assert [g["game_id"] for p in newest for g in p] == [late, *ids[::-1]]
    classes = pages(fresh_server, 2, session=session["session_id"])
    assert [g["game_id"] for p in classes for g in p] == ids[11:]
    listed = classes[0][0]
    assert listed["title"] == "team 1" and listed["session_id"] == session["session_id"]
    assert "settings" not in listed and "results" not in listed
    assert [s["role"] for s in listed["seats"]] == [j["role"] for j in listed["join"]]


async def test_a_stored_game_is_listed_from_its_summary_without_reading_its_state(
    fresh_server: ServerProcess,
) -> None:
    """A game that is not in memory is listed from the summary beside its record: with its
    state made unreadable on disk, the list still shows it, names and all, while reading the
    game itself fails."""
    fresh_server.start()
    with fresh_server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "title": "Kept"}).json()
        gid = game["game_id"]
    code = game["join"][1]["code"]
    client, _, _ = await join(fresh_server.ws_url, code, name="Zoë")
    await client.close()
    with fresh_server.http() as http:
        assert http.post(f"/api/games/{gid}/end").status_code == 200
    fresh_server.stop()  # an ended game is not brought back at start-up
    with sqlite3.connect(fresh_server.data / "games.db") as db:
        db.execute("UPDATE games SET payload = x'28b52ffd00' WHERE game_id = ?", (gid,))
    fresh_server.start()
    with fresh_server.http() as http:
        listed = http.get("/api/games", params={"limit": 10}).json()["games"]
        assert http.get(f"/api/games/{gid}").status_code == 503
    (entry,) = listed
    assert entry["game_id"] == gid and entry["title"] == "Kept" and entry["active"] is False
    assert entry["status"] == "ended"
    assert [s["name"] for s in entry["seats"]] == [None, "Zoë", None, None]
    assert entry["join"][1]["code"] == code and entry["total_rounds"] == 36


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"limit": "0"}, "'limit'"),
        ({"limit": "1001"}, "'limit'"),
        ({"limit": "ten"}, "'limit'"),
        ({"after": "yesterday"}, "'after'"),
        ({"after": "nan_ABC"}, "'after'"),
        ({"order": "random"}, "'order'"),
    ],
)
def test_a_bad_page_query_is_refused_by_name(
    server: ServerProcess, params: dict[str, str], word: str
) -> None:
    with server.http() as http:
        response = http.get("/api/games", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_settings" and word in error["message"]


def test_a_cursor_reads_back_exactly() -> None:
    for created in (1764000000.123456, 0.1, 1e-7, 1763990000.0):
        header = GameHeader("K7P2QXMB", "beer", "created", True, 0, created, 0.0, "", None)
        assert parse_cursor(cursor(header)) == (created, "K7P2QXMB")
    assert parse_cursor("1.5_bad id") is None and parse_cursor("inf_X") is None
