"""A game's per-round record, exported as JSON or CSV (one row per round and role)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from gameserver.errors import NotFound
from gameserver.games import get_game
from gameserver.server.http import ORJSONResponse, hub_of, read_controlled
from gameserver.server.records import RoundRecord, round_to_json


async def export_game(request: Request) -> Response:
    record, _room = await read_controlled(request)
    fmt = request.path_params["fmt"]
    if fmt not in ("json", "csv"):
        raise NotFound("export formats are .json and .csv")
    rounds = await hub_of(request).store.load_rounds(record.game_id)
    if fmt == "json":
        cloned = record.cloned_from
        payload = {
            "game_id": record.game_id,
            "kind": record.kind,
            "title": record.title,
            "settings": record.settings,
            "seed": record.seed,
            "status": str(record.status),
            "cloned_from": {"game_id": cloned.game_id, "round": cloned.round} if cloned else None,
            "rounds": [round_to_json(r) for r in rounds],
            "results": get_game(record.kind).results(record.state),
        }
        return ORJSONResponse(payload)
    return Response(
        _csv(record.game_id, rounds),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{record.game_id}.csv"'},
    )


def _csv(game_id: str, rounds: Sequence[RoundRecord]) -> str:
    """One row per round and role: the decision, who decided it, and the role's figures."""
    decision_keys: list[str] = []
    figure_keys: list[str] = []
    for record in rounds:
        for decision in record.decisions.values():
            decision_keys.extend(k for k in decision if k not in decision_keys)
        for figures in record.summary.values():
            figure_keys.extend(k for k in figures if k not in figure_keys)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["game_id", "round", "role"]
    header += [f"decision_{k}" for k in decision_keys]
    header += ["defaulted", "closed_by", *figure_keys]
    writer.writerow(header)
    for record in rounds:
        for role, decision in record.decisions.items():
            figures = record.summary.get(role, {})
            writer.writerow(
                [game_id, record.round, role]
                + [decision.get(k, "") for k in decision_keys]
                + [int(role in record.defaulted), record.closed_by]
                + [figures.get(k, "") for k in figure_keys]
            )
    return out.getvalue()
