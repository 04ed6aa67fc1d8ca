"""End-to-end: one count of costs (or incomes) everywhere, at every round of a game in progress.

A real server plays a Beer Game and a fishery round by round; after each round the test reads
the figure four ways and wants them equal: the game's details (``GET /api/games/{id}``,
``results``: the dashboard's results table), the debrief (the facilitator view of
``?view=1``: the debrief's table and charts), the CSV export and each player's own view (what
the player page shows). The debrief's charts must all end on the round played.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

from tests.support import ServerProcess, WSClient, join

_ids = itertools.count(1)


def create(server: ServerProcess, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    with server.http() as http:
        response = http.post("/api/games", json={"kind": kind, "settings": settings})
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()
    return game


def read(
    server: ServerProcess, game: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The game with its facilitator view, and the rows of its CSV export."""
    with server.http(game["facilitator_token"]) as http:
        info = http.get(f"/api/games/{game['game_id']}", params={"view": 1})
        export = http.get(f"/api/games/{game['game_id']}/export.csv")
    assert info.status_code == 200 and export.status_code == 200
    return info.json(), list(csv.DictReader(io.StringIO(export.text)))


async def play(
    server: ServerProcess,
    game: dict[str, Any],
    rounds: int,
    decide: Any,
    check: Any,
) -> None:
    """Seat a client on every role, start, and after each round call ``check(round, views)``."""
    players: dict[str, WSClient] = {}
    for link in game["join"]:
        client, _, _ = await join(server.ws_url, link["code"], name=link["role"])
        players[link["role"]] = client
    with server.http(game["facilitator_token"]) as http:
        assert http.post(f"/api/games/{game['game_id']}/start").status_code == 200
    try:
        for number in range(1, rounds + 1):
            for role, client in players.items():
                msg_id = f"f{next(_ids)}"
                decision = decide(role, number)
                await client.send(
                    {"type": "submit", "round": number, "id": msg_id, "decision": decision}
                )
                await client.expect("ack", id=msg_id)
            views = {}
            for role, client in players.items():
                views[role] = (await client.expect("round", round=number))["view"]
            check(number, views)
    finally:
        for client in players.values():
            await client.close()


async def test_beer_costs_agree_everywhere_at_every_week(server: ServerProcess) -> None:
    weeks = 12
    # a spike of demand and orders that swing: backlog and holding both cost something
    settings = {"weeks": weeks, "demand_list": [4, 4, 12, 20, 4, 4, 8]}
    game = create(server, "beer", settings)
    swings = {"retailer": 3, "wholesaler": 5, "distributor": 2, "factory": 7}

    def decide(role: str, week: int) -> dict[str, int]:
        return {"order": 8 + (swings[role] if week % 3 else -swings[role])}

    def check(week: int, views: dict[str, dict[str, Any]]) -> None:
        info, rows = read(server, game)
        assert info["round"] == week
        results, board = info["results"], info["view"]
        for role, view in views.items():
            row = [r for r in rows if r["role"] == role][-1]
            assert int(row["round"]) == week
            cost = results["roles"][role]["cost"]
            assert board["roles"][role]["total_cost"] == cost, (week, role)
            assert float(row["cumulative_cost"]) == cost, (week, role)
            assert view["total_cost"] == cost, (week, role)
            # what the results count is what the week's costs add up to
            assert sum(board["roles"][role]["history"]["cost"]) == cost
            assert (
                results["roles"][role]["holding_cost"] + results["roles"][role]["backlog_cost"]
                == cost
            )
        assert board["team_cost"] == results["team"]["cost"]
        assert sum(board["team_cost_per_week"]) == results["team"]["cost"]
        assert sum(float(r["cost"]) for r in rows) == results["team"]["cost"]
        # every debrief chart ends on the week played
        assert len(board["demand"]) == week
        for role in views:
            for figure in ("order", "inventory", "backlog", "cost"):
                assert len(board["roles"][role]["history"][figure]) == week
        if week == weeks:
            for view in views.values():
                assert view["debrief"]["team_cost"] == results["team"]["cost"]

    await play(server, game, weeks, decide, check)


async def test_fishery_incomes_agree_everywhere_at_every_round(server: ServerProcess) -> None:
    rounds = 8
    game = create(server, "fishery", {"rounds": rounds, "players": 3})

    def decide(role: str, number: int) -> dict[str, int]:
        return {"boats": (int(role[-1]) * 3 + number) % 12}

    def check(number: int, views: dict[str, dict[str, Any]]) -> None:
        info, rows = read(server, game)
        assert info["round"] == number
        results, board = info["results"], info["view"]
        for role, view in views.items():
            row = [r for r in rows if r["role"] == role][-1]
            assert int(row["round"]) == number
            income = results["roles"][role]["income"]
            assert board["fleets"][role]["total_income"] == income, (number, role)
            assert float(row["total_income"]) == income, (number, role)
            assert view["total_income"] == income, (number, role)
            assert sum(board["fleets"][role]["income"]) == income
            assert len(board["fleets"][role]["boats"]) == number
        assert board["team_income"] == results["team"]["income"]
        assert len(board["stocks"]) == number + 1  # the stock before round 1, then each round

    await play(server, game, rounds, decide, check)
