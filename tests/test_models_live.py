"""Model games on a real server process: bots play them over WebSockets, admins add them, and
a restart keeps them, or says which model is missing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from gameserver.client.api import Api
from gameserver.client.teams import Plan, create_teams, play
from gameserver.tools.simulate import simulate
from tests.conftest import EXAMPLES
from tests.support import ADMIN_KEY, ServerProcess
from tests.test_model_files import TOML, XMILE

pytestmark = pytest.mark.usefixtures("model_games")
ROLES = ["retailer", "wholesaler", "distributor", "factory"]


async def play_plan(server: ServerProcess, plan: Plan) -> list[dict[str, Any]]:
    async with Api(server.url, ADMIN_KEY) as api:
        teams = await create_teams(api, server.url, plan, give_up=30, max_seconds=120)
        await play(teams)
        assert [team.error for team in teams] == [None] * len(teams)
        return [await api.export(team.game_id) for team in teams]


async def test_bots_play_the_model_beer_game_through_the_server_for_204(
    model_server: ServerProcess,
) -> None:
    plan = Plan(kind="beer-model", games=2, policy="benchmark", settings={"forced_weeks": 4})
    exports = await play_plan(model_server, plan)
    built_in = simulate("beer", {"forced_weeks": 4}, policy="benchmark")
    for export in exports:
        assert export["status"] == "finished"
        assert export["results"]["team"]["cost"] == 204
        assert [r["defaulted"] for r in export["rounds"]] == [[]] * 36
        for record, week in zip(export["rounds"], built_in["weeks"], strict=True):
            for role in ROLES:
                for figure in ("order", "inventory", "backlog"):
                    assert record["summary"][role][figure] == week["roles"][role][figure]


async def test_the_kinds_and_the_models_are_listed(model_server: ServerProcess) -> None:
    with model_server.http() as http:
        kinds = {k["kind"]: k for k in http.get("/api/kinds").json()["kinds"]}
        listed = http.get("/api/models").json()
        anonymous = http.get("/api/models", headers={"Authorization": ""})
    assert {"beer", "fishery", "beer-model", "commons", "market"} <= set(kinds)
    assert kinds["market"]["display"]["round_word"] == "quarter"
    assert [p["name"] for p in kinds["beer-model"]["policies"]][:2] == ["benchmark", "sterman"]
    assert {m["kind"] for m in listed["models"]} == {"beer-model", "commons", "market"}
    assert listed["errors"] == []
    assert {m["kind"]: m["steps_per_round"] for m in listed["models"]}["market"] == 12
    assert anonymous.status_code == 401


def model_body(toml: str = TOML, xmile: str | None = None) -> dict[str, Any]:
    return {
        "description": {"name": "tank.toml", "text": toml},
        "model": {"name": "tank.xmile", "text": xmile or XMILE.format(fill="Player_A_Pour")},
    }


def test_an_admin_adds_a_model_and_a_restart_keeps_it(fresh_server: ServerProcess) -> None:
    server = fresh_server
    server.start()
    with server.http() as http:
        assert (
            http.post(
                "/api/models", json=model_body(), headers={"Authorization": "Bearer x"}
            ).status_code
            == 401
        )
        bad = http.post("/api/models", json=model_body(TOML.replace("{role} Pour", "{role} Spill")))
        assert bad.status_code == 422
        assert "tank.xmile has no variable 'Player A Spill'" in bad.json()["error"]["message"]
        escape = model_body()
        escape["model"]["name"] = "../tank.xmile"
        assert http.post("/api/models", json=escape).status_code == 422
        added = http.post("/api/models", json=model_body())
        assert added.status_code == 201, added.text
        assert added.json()["kind"] == "tank"
        assert http.post("/api/models", json=model_body()).status_code == 409
        game = http.post("/api/games", json={"kind": "tank", "autostart": True}).json()
        assert game["total_rounds"] == 5
    assert (server.data / "models" / "tank" / "tank.xmile").is_file()
    server.stop()
    server.start()
    with server.http() as http:
        assert "tank" in {k["kind"] for k in http.get("/api/kinds").json()["kinds"]}
        detail = http.get(f"/api/games/{game['game_id']}?view=1")
        assert detail.status_code == 200 and detail.json()["view"]["roles"]["a"]["level"] == 10


def test_a_stored_game_whose_model_is_gone_is_refused_naming_the_model(
    tmp_path: Path, model_cache: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(EXAMPLES / "commons", models / "commons")
    env = {"GAMESERVER_MODEL_CACHE": str(model_cache)}
    server = ServerProcess(tmp_path / "data", args=["--models", str(models)], env=env)
    try:
        server.start(timeout=90)
        with server.http() as http:
            game = http.post("/api/games", json={"kind": "commons", "autostart": True}).json()
        server.kill()
        (models / "commons" / "commons.xmile").unlink()
        server.start(timeout=90)
        assert "commons.toml: model: no file 'commons.xmile' beside it" in server.log()
        with server.http() as http:
            gone = http.get(f"/api/games/{game['game_id']}")
            listed = http.get("/api/models").json()
        assert gone.status_code == 404
        assert "model game 'commons' is not available" in gone.json()["error"]["message"]
        assert "no file 'commons.xmile'" in gone.json()["error"]["message"]
        assert any("commons.xmile" in e["error"] for e in listed["errors"])
        server.kill()
        shutil.copy(EXAMPLES / "commons" / "commons.xmile", models / "commons")
        server.start(timeout=90)
        with server.http() as http:
            back = http.get(f"/api/games/{game['game_id']}")
        assert back.status_code == 200 and back.json()["status"] == "running"
    finally:
        server.stop()
