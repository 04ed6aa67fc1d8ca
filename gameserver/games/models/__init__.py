"""Model games: a system-dynamics model (XMILE or Vensim) and a description make a game.

docs/models.md walks an author through it. :func:`load` reads one description and its model;
:func:`load_folder` every one in a folder. Compiling a model runs code generated from it:
models come from an administrator, never from a player.
"""

from __future__ import annotations

from pathlib import Path

from gameserver.errors import InvalidSettings
from gameserver.games.models.files import compile_source, descriptions, read_source
from gameserver.games.models.game import ModelGame

__all__ = ["ModelGame", "load", "load_folder"]


def load(description: Path, cache: Path) -> ModelGame:
    """The model game a description file makes; :class:`InvalidModel` (naming the file and the
    field, line or variable) or :class:`ModelsUnavailable` when it cannot."""
    source = read_source(description)
    compiled = compile_source(source, cache)
    return ModelGame(source.description, compiled, description)


def load_folder(folder: Path, cache: Path) -> tuple[list[ModelGame], dict[Path, str]]:
    """Every model game described in ``folder`` (and its subfolders, one level), and the
    error of each description that could not be loaded."""
    games: list[ModelGame] = []
    errors: dict[Path, str] = {}
    for path in descriptions(folder):
        try:
            games.append(load(path, cache))
        except InvalidSettings as exc:  # InvalidModel, or ModelsUnavailable
            errors[path] = str(exc)
    return games, errors
