"""The protocol's version, its limits, a game's statuses, and their copy for the pages.

The pages get these from the server (``/protocol.js``, made by :func:`javascript_constants`), so
a page and the server it talks to cannot disagree on them.
"""

from __future__ import annotations

from enum import StrEnum

import orjson

from gameserver.errors import CloseCode, ErrorCode

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
#: Client message ids and player names: 1 to this many characters.
MAX_ID = 64
#: A join id (``hello``'s ``join_id``) is a secret of the client's: at least this many characters.
MIN_JOIN_ID = 16


class GameStatus(StrEnum):
    """A game's status, as every message and the API spell it."""

    CREATED = "created"  # seats can be taken, no decisions yet
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # the last round was played
    ENDED = "ended"  # ended by the facilitator

    @property
    def in_progress(self) -> bool:
        """Not over yet: restored at start-up, and controls still apply."""
        # Identity, not ``in``: an Enum's __hash__ and __eq__ are Python code, on a hot path.
        # And the members from the module, not the class: on Python 3.11 every attribute read
        # on an Enum class goes through the metaclass's __getattr__ hook (a Python call).
        return self is not _FINISHED and self is not _ENDED

    @property
    def over(self) -> bool:
        return self is _FINISHED or self is _ENDED


_FINISHED, _ENDED = GameStatus.FINISHED, GameStatus.ENDED


def game_of_code(code: str) -> str:
    """The game id a join code belongs to: codes look like ``<game id>-<4 characters>``."""
    return code.split("-", 1)[0]


def game_of_token(token: str) -> str:
    """The game (or session) id a token belongs to: tokens look like ``<id>.<secret>``."""
    return token.split(".", 1)[0]


def javascript_constants() -> str:
    """The protocol's constants as an ES module, served to the pages as ``/protocol.js``."""
    closes = {code.name: int(code) for code in CloseCode}
    errors = {code.name: str(code) for code in ErrorCode}
    statuses = {status.name: str(status) for status in GameStatus}
    in_progress = [str(status) for status in GameStatus if status.in_progress]
    lines = [
        "// Made by the server from gameserver/protocol/: the pages' copy of the protocol.",
        f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};",
        f"export const CLOSE = Object.freeze({orjson.dumps(closes).decode()});",
        f"export const ERROR = Object.freeze({orjson.dumps(errors).decode()});",
        f"export const STATUS = Object.freeze({orjson.dumps(statuses).decode()});",
        f"export const IN_PROGRESS = Object.freeze({orjson.dumps(in_progress).decode()});",
        "",
    ]
    return "\n".join(lines)
