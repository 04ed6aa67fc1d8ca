"""Exports as JSON or CSV (one row per round and role), with who decided: of a game, and of a
whole class (every team's game, with the class's students and their teams).

A class's export is sent as it is made, a game at a time (:func:`csv_parts`,
:func:`json_parts`), and each game's part is made in a turn of the event loop of its own: made
in one go, the export of a class of 250 games held the loop for 160-290 ms, and every game on
the server waited that long for its round.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gameserver.errors import NotFound
from gameserver.games import get_game
from gameserver.server.http import ORJSONResponse, hub_of, read_controlled
from gameserver.server.records import GameRecord, RoundRecord, round_to_json
from gameserver.server.turn import in_turns


@dataclass(frozen=True, slots=True)
class Exported:
    """One game to export: its record, its rounds, and its team in a class (or None)."""

    record: GameRecord
    rounds: Sequence[RoundRecord]
    team: int | None = None


def check_format(request: Request) -> str:
    fmt: str = request.path_params["fmt"]
    if fmt not in ("json", "csv"):
        raise NotFound("export formats are .json and .csv")
    return fmt


async def export_game(request: Request) -> Response:
    record, _room = await read_controlled(request)
    fmt = check_format(request)
    rounds = await hub_of(request).store.load_rounds(record.game_id)
    game = Exported(record, rounds)
    if fmt == "json":
        return ORJSONResponse(game_json(game))
    return csv_response(record.game_id, csv_text([game]))


def game_json(game: Exported) -> dict[str, Any]:
    """A game's export: what it is, who holds its seats, and every round."""
    record = game.record
    cloned = record.cloned_from
    return {
        "game_id": record.game_id,
        "kind": record.kind,
        "title": record.title,
        "settings": record.settings,
        "seed": record.seed,
        "status": str(record.status),
        "cloned_from": {"game_id": cloned.game_id, "round": cloned.round} if cloned else None,
        "seats": [{"role": s.role, "name": s.name} for s in record.seats],
        "rounds": [round_to_json(r) for r in game.rounds],
        "results": get_game(record.kind).results(record.state),
    }


def csv_response(name: str, text: str) -> Response:
    return Response(text, media_type=_CSV, headers=_attachment(name))


def csv_stream(name: str, parts: AsyncIterator[bytes]) -> StreamingResponse:
    """A CSV sent as it is made (:func:`csv_parts`)."""
    return StreamingResponse(parts, media_type=_CSV, headers=_attachment(name))


def json_stream(parts: AsyncIterator[bytes]) -> StreamingResponse:
    """A JSON document sent as it is made (:func:`json_parts`)."""
    return StreamingResponse(parts, media_type="application/json")


_CSV = "text/csv; charset=utf-8"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.csv"'}


def _name(game: Exported, record: RoundRecord, role: str) -> str:
    # Rounds saved before names were kept: whoever holds the seat now.
    if record.names:
        return record.names.get(role) or ""
    try:
        return game.record.seat(role).name or ""
    except KeyError:
        return ""


def csv_text(games: Sequence[Exported]) -> str:
    """One row per game, round and role: who decided what, and the role's figures. A class's
    export starts each row with the team."""
    return "".join(_csv_lines(games, *_csv_keys(games)))


async def csv_parts(games: Sequence[Exported]) -> AsyncIterator[bytes]:
    """:func:`csv_text`, encoded, a game at a time, each made in a turn of the loop of its own."""
    decision_keys: list[str] = []
    figure_keys: list[str] = []
    async for game in in_turns(games):
        _add_keys(game, decision_keys, figure_keys)
    async for part in in_turns(_csv_lines(games, decision_keys, figure_keys)):
        yield part.encode()


def _csv_keys(games: Sequence[Exported]) -> tuple[list[str], list[str]]:
    decision_keys: list[str] = []
    figure_keys: list[str] = []
    for game in games:
        _add_keys(game, decision_keys, figure_keys)
    return decision_keys, figure_keys


def _add_keys(game: Exported, decision_keys: list[str], figure_keys: list[str]) -> None:
    """The decisions' and the figures' keys of ``game`` not in the lists yet, in order."""
    for record in game.rounds:
        for decision in record.decisions.values():
            decision_keys.extend(k for k in decision if k not in decision_keys)
        for figures in record.summary.values():
            figure_keys.extend(k for k in figures if k not in figure_keys)


def _csv_lines(
    games: Sequence[Exported], decision_keys: list[str], figure_keys: list[str]
) -> Iterator[str]:
    """The header line, then each game's lines, a part each."""
    teams = any(game.team is not None for game in games)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["team"] if teams else []
    header += ["game_id", "round", "role", "name"]
    header += [f"decision_{k}" for k in decision_keys]
    header += ["defaulted", "closed_by", *figure_keys]
    writer.writerow(header)
    yield _taken(out)
    for game in games:
        lead = [game.team if game.team is not None else ""] if teams else []
        for record in game.rounds:
            for role, decision in record.decisions.items():
                figures = record.summary.get(role, {})
                writer.writerow(
                    [*lead, game.record.game_id, record.round, role, _name(game, record, role)]
                    + [decision.get(k, "") for k in decision_keys]
                    + [int(role in record.defaulted), record.closed_by]
                    + [figures.get(k, "") for k in figure_keys]
                )
        yield _taken(out)


def _taken(out: io.StringIO) -> str:
    """What ``out`` holds, which it then forgets."""
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


async def json_parts(head: Mapping[str, Any], games: Sequence[Exported]) -> AsyncIterator[bytes]:
    """``{**head, "games": [...]}`` encoded, each game (with its ``team``) in a turn of the loop
    of its own: the same document as encoding it whole."""
    opening = orjson.dumps({**head, "games": []})
    yield opening[:-2]  # the object up to its games list, open
    separator = b""
    async for game in in_turns(games):
        yield separator + orjson.dumps({"team": game.team, **game_json(game)})
        separator = b","
    yield b"]}"
