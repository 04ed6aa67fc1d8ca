"""A game's per-round record, exported as JSON or CSV (one row per round and role)."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gameserver.errors import NotFound
from gameserver.games import get_game
from gameserver.hub import Hub
from gameserver.web import ORJSONResponse, may_control


async def export_game(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    data, _ = await hub.read_game(request.path_params["game_id"])
    may_control(request, data)
    rounds = await hub.store.load_rounds(data["game_id"])
    fmt = request.path_params["fmt"]
    if fmt == "json":
        game = get_game(data["kind"])
        payload = {
            "game_id": data["game_id"],
            "kind": data["kind"],
            "title": data.get("title") or "",
            "settings": data["settings"],
            "seed": data["seed"],
            "status": data["status"],
            "cloned_from": data.get("cloned_from"),
            "rounds": [r.data for r in rounds],
            "results": game.results(data["state"]),
        }
        return ORJSONResponse(payload)
    if fmt != "csv":
        raise NotFound("export formats are .json and .csv")
    return Response(
        _csv(data["game_id"], [r.data for r in rounds]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{data["game_id"]}.csv"'},
    )


def _csv(game_id: str, rounds: list[dict[str, Any]]) -> str:
    """One row per round and role: the decision, who decided it, and the role's figures."""
    decision_keys: list[str] = []
    figure_keys: list[str] = []
    for record in rounds:
        for decision in record["decisions"].values():
            decision_keys.extend(k for k in decision if k not in decision_keys)
        for figures in record.get("summary", {}).values():
            figure_keys.extend(k for k in figures if k not in figure_keys)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["game_id", "round", "role"]
    header += [f"decision_{k}" for k in decision_keys]
    header += ["defaulted", "closed_by", *figure_keys]
    writer.writerow(header)
    for record in rounds:
        for role, decision in record["decisions"].items():
            figures = record.get("summary", {}).get(role, {})
            writer.writerow(
                [game_id, record["round"], role]
                + [decision.get(k, "") for k in decision_keys]
                + [int(role in record.get("defaulted", [])), record.get("closed_by", "")]
                + [figures.get(k, "") for k in figure_keys]
            )
    return out.getvalue()
