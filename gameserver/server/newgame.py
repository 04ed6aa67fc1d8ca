"""What a new game is made of: the options a facilitator chooses, their checks, and the
record of a game just created (its id, seed, seats, join codes and facilitator token)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from gameserver.errors import InvalidSettings, NotFound
from gameserver.game import Game, State
from gameserver.games import get_game
from gameserver.protocol import GameStatus
from gameserver.server import tokens
from gameserver.server.records import GameRecord, SeatRecord

T = TypeVar("T")

MAX_TEAMS = 1000
MAX_TITLE = 200
#: What a game id (or session id) can look like; anything else is not looked up at all.
_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def check_id(game_id: str, what: str = "game") -> None:
    # Ids arrive in URLs, tokens and join codes; one that cannot exist must not reach a store
    # (a file adapter would refuse it with an error of its own, a 500 instead of a 404).
    if not _ID.fullmatch(game_id):
        raise NotFound(f"no {what} {game_id[:40]!r}")


@dataclass(frozen=True, slots=True)
class Options:
    """How to make a game, checked: the API and the command line build it."""

    title: str = ""
    seed: int | None = None
    open_join: bool = False
    round_seconds: float | None = None
    autostart: bool = False


def check_options(options: Options) -> None:
    """Refuse options out of range, naming the option."""
    seconds = options.round_seconds
    if seconds is not None and not 1 <= seconds <= 86400:
        raise InvalidSettings("round_seconds must be between 1 and 86400 seconds")
    if len(options.title) > MAX_TITLE:
        raise InvalidSettings(f"'title' must be at most {MAX_TITLE} characters")
    if options.seed is not None and not 0 <= options.seed < 2**53:
        raise InvalidSettings("'seed' must be a whole number between 0 and 2**53 - 1")


async def off_loop(game: Game, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``: in a worker thread for a game whose rules are slow (a model game's
    engine takes milliseconds to set up a state), on the loop for the others."""
    if game.slow_step:
        return await asyncio.to_thread(function, *args)
    return function(*args)


async def new_record(
    kind: str,
    settings: Mapping[str, Any],
    options: Options,
    session: tuple[str, str] | None,
    taken: Container[str] = (),
    state: State | None = None,
) -> tuple[GameRecord, str]:
    """A new game's record (from its initial state, or from ``state``) and its facilitator
    token (shown once, stored hashed); its id is none of ``taken``."""
    game = get_game(kind)
    valid = game.validate_settings(settings)
    check_options(options)
    # A class's games share its id's first characters (``SK3J9QX2A`` has ``K3J9QX2A7XQ2``,
    # ...): a proxy routing by them (ownership.route_key) sends a whole class to one server.
    prefix = session[0].removeprefix(tokens.SESSION_PREFIX) if session else ""
    game_id = prefix + tokens.new_id(4 if prefix else 8)
    while game_id in taken:
        game_id = prefix + tokens.new_id(4 if prefix else 8)
    seed = secrets.randbits(31) if options.seed is None else options.seed
    facilitator_token = tokens.new_token(game_id)
    if state is None:
        state = await off_loop(game, game.initial_state, valid, seed)
    record = GameRecord(
        game_id=game_id,
        kind=kind,
        title=options.title,
        settings=valid,
        seed=seed,
        state=state,
        status=GameStatus.CREATED,
        seats=tuple(SeatRecord(role, tokens.new_join_code(game_id)) for role in game.roles(valid)),
        facilitator_hash=tokens.hash_secret(facilitator_token),
        created_at=time.time(),
        open_code=tokens.new_join_code(game_id) if options.open_join else None,
        session_id=session[0] if session else None,
        session_hash=session[1] if session else None,
        round_seconds=options.round_seconds,
    )
    return record, facilitator_token
