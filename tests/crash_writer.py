"""Writer process for tests/test_storage_crash.py: plays games as fast as it can until killed.

Usage: python tests/crash_writer.py STORE_URL RUN SEED

Prints ``ready`` once the store is open, then one line per write whose await has returned, so
the test knows exactly which writes were acknowledged when it sent SIGKILL::

    decision <game> <round> <seat> <version>
    round <game> <round> <version>
    game <game> <round> <version>

Each game has one owning coroutine (as in the server), so one game's writes happen in order and
``version`` grows with each of them; the games run concurrently, so writes share commits. Game
``r<run>-g<n>`` is in group :func:`group_of` of its id.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import Store, StoredGame, open_store

SEATS = ("retailer", "wholesaler", "distributor", "factory")
GROUPS = ("class-a", "class-b", "")
GAMES = 16
MAX_SECONDS = 30.0  # the test kills it long before; this only bounds a forgotten process
MAX_ROUNDS = 100_000


def group_of(game_id: str) -> str:
    """The group of game ``r<run>-g<n>``: one of :data:`GROUPS`, by ``n``."""
    return GROUPS[int(game_id.rsplit("-g", 1)[1]) % len(GROUPS)]


def say(line: str) -> None:
    # One write(2) per line, straight away: what reached the kernel survives SIGKILL.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def play(store: Store, game_id: str, rng: random.Random, deadline: float) -> None:
    version = 0
    created = time.time()
    group = group_of(game_id)
    for round in range(1, MAX_ROUNDS):
        if time.monotonic() > deadline:
            return
        for seat in rng.sample(SEATS, k=len(SEATS)) + rng.sample(SEATS, k=rng.randrange(2)):
            version += 1
            await store.save_decision(game_id, round, seat, {"v": version, "order": round % 9})
            say(f"decision {game_id} {round} {seat} {version}")
        version += 1
        # Sizes on both sides of the compression threshold; the state grows with the game.
        state = {"v": version, "round": round, "history": list(range(rng.randrange(0, 600)))}
        game = StoredGame(game_id, "beer", "running", True, round, created, 0.0, state, group)
        await store.append_round(game_id, round, {"v": version, "seats": list(SEATS)}, game)
        say(f"round {game_id} {round} {version}")
        if rng.random() < 0.3:
            version += 1
            status = rng.choice(["running", "paused"])
            data = {"v": version}
            game = StoredGame(game_id, "beer", status, True, round, created, 0.0, data, group)
            await store.save_game(game)
            say(f"game {game_id} {round} {version}")


async def main() -> None:
    url, run, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    store = open_store(url, compression=rng.choice(["zstd", "zlib", None]))
    await store.open()
    say("ready")
    deadline = time.monotonic() + MAX_SECONDS
    games = [
        play(store, f"r{run}-g{n}", random.Random(rng.randrange(2**32)), deadline)
        for n in range(GAMES)
    ]
    await asyncio.gather(*games)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
