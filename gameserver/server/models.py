"""Model games on a server: read from the models folders at start, added with the admin key.

Where a model game lives decides whether a restart finds it, so there are two places, both read
at every start, before any stored game is restored:

- ``<data>/models/<name>/``: the models added through ``POST /api/models`` (or the
  dashboard), kept with the games' data;
- the folder given to ``gameserver serve --models DIR`` (``GAMESERVER_MODELS``), which the
  server only reads.

A stored game of a model game keeps loading as long as its model is in one of them; when it is
not, or no longer loads, restoring that game fails with an error that names the model game and
why (``get_game``), and nothing else stops.

Compiling a model runs code generated from it. So models come only from an administrator: the
folders of the server's operator, or the API with the admin key. A player never supplies one.
Models are compiled in a worker thread, never in the event loop; the translation is cached by
content in ``<data>/model-cache/``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameserver.errors import Conflict, InvalidModel, InvalidSettings
from gameserver.games import GAMES, add_game, all_games, mark_unavailable, unavailable
from gameserver.games.models import ModelGame, load, load_folder
from gameserver.games.models.description import MODEL_SUFFIXES, NAME
from gameserver.server.config import Config
from gameserver.server.http import ORJSONResponse, json_body, require_admin

log = logging.getLogger(__name__)

#: Largest ``POST /api/models`` body: a description and a model file as JSON text.
MAX_MODEL_BODY = 4 * 1024 * 1024


class ModelShelf:
    """The model games of one server: where they are kept and how they are added."""

    def __init__(self, config: Config) -> None:
        self.added = config.data / "models"
        self.folders = config.model_folders()
        self.cache = config.model_cache_folder()
        self.errors: dict[str, str] = {}

    def load_all(self) -> list[ModelGame]:
        """Read every model folder and add what loads; log and keep what does not."""
        loaded: list[ModelGame] = []
        for folder in self.folders:
            games, errors = load_folder(folder, self.cache)
            for game in games:
                if game.name in GAMES:
                    self._failed(game.origin, f"{game.name!r} is a built-in game's name")
                    continue
                add_game(game)
                loaded.append(game)
                log.info("model game %s from %s", game.name, game.origin)
            for path, error in errors.items():
                self._failed(path, error)
        return loaded

    def _failed(self, path: Path, error: str) -> None:
        self.errors[str(path)] = error
        name = _declared_name(path)
        if name:
            mark_unavailable(name, error)
        log.error("model game not loaded: %s", error)

    async def add(
        self, description: str, description_name: str, model: str, model_name: str
    ) -> ModelGame:
        """Check, compile and keep a model game given as text; it is playable at once."""
        game = await asyncio.to_thread(self._keep, description, description_name, model, model_name)
        add_game(game)
        log.info("model game %s added through the API", game.name)
        return game

    def _keep(
        self, description: str, description_name: str, model: str, model_name: str
    ) -> ModelGame:
        """In a worker thread: write the files to a scratch folder, load the game from there,
        and move the folder into ``<data>/models/<name>`` only if it loaded."""
        folder = Path(tempfile.mkdtemp(prefix=".adding-", dir=self._ready()))
        try:
            (folder / description_name).write_text(description)
            (folder / model_name).write_text(model)
            game = load(folder / description_name, self.cache)
            target = self.added / game.name
            if game.name in all_games() or target.exists():
                raise Conflict(f"a game called {game.name!r} exists already; choose another name")
            try:
                folder.rename(target)
            except OSError:  # added by a request at the same moment
                raise Conflict(f"a game called {game.name!r} exists already") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        # loaded again where it is kept, so that its origin is the folder a restart reads
        return load(target / description_name, self.cache)

    def _ready(self) -> Path:
        self.added.mkdir(parents=True, exist_ok=True)
        return self.added


def _declared_name(path: Path) -> str:
    """The ``name`` a description declares, read as plainly as possible (for a description that
    did not load: its stored games are then refused with the reason)."""
    try:
        data = tomllib.loads(path.read_text()) if path.suffix == ".toml" else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and NAME.fullmatch(name) else ""


def shelf_of(request: Request) -> ModelShelf:
    shelf: ModelShelf = request.app.state.models
    return shelf


def describe_model(game: ModelGame) -> dict[str, Any]:
    d = game.described
    return {
        "kind": game.name,
        "title": game.title,
        "model": d.model,
        "folder": str(game.origin.parent),
        "round_word": d.round_word,
        "rounds": d.rounds,
        "steps_per_round": game.steps,
        "dt": game.model.dt,
        "variables": len(game.model.variables),
    }


async def list_models(request: Request) -> Response:
    require_admin(request)
    games = [g for g in all_games().values() if isinstance(g, ModelGame)]
    failed = [{"where": where, "error": error} for where, error in shelf_of(request).errors.items()]
    known = {item["where"] for item in failed}
    failed += [
        {"where": name, "error": error}
        for name, error in unavailable().items()
        if name not in known
    ]
    return ORJSONResponse({"models": [describe_model(g) for g in games], "errors": failed})


def _file_name(body: dict[str, Any], key: str, suffixes: tuple[str, ...]) -> tuple[str, str]:
    """A ``{"name": ..., "text": ...}`` file of the body, its plain file name checked."""
    item = body.get(key)
    if not isinstance(item, dict):
        raise InvalidSettings(f"'{key}' must be an object with 'name' and 'text'")
    name, text = item.get("name"), item.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise InvalidSettings(f"'{key}' must have a string 'name' and a string 'text'")
    if "/" in name or "\\" in name or name.startswith(".") or not name.lower().endswith(suffixes):
        raise InvalidModel(
            f"'{key}.name' must be a plain file name ending in {', '.join(suffixes)}, got {name!r}"
        )
    return name, text


async def add_model(request: Request) -> Response:
    """Add a model game (admin): its description and model file, as text."""
    require_admin(request)
    body = await json_body(request, limit=MAX_MODEL_BODY)
    description_name, description = _file_name(body, "description", (".toml", ".json"))
    model_name, model = _file_name(body, "model", MODEL_SUFFIXES)
    game = await shelf_of(request).add(description, description_name, model, model_name)
    return ORJSONResponse(describe_model(game), status_code=201)


routes = [
    Route("/api/models", list_models, methods=["GET"]),
    Route("/api/models", add_model, methods=["POST"]),
]
