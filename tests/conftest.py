from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.adapters.sqlite import SQLiteAdapter
from tests.pgcluster import Cluster, ClusterUnavailable
from tests.support import ServerProcess

# The conformance suite's asserts live in the package, not in a test module: ask pytest to
# rewrite them too (before anything imports it), so that a failure shows the values compared.
pytest.register_assert_rewrite("storage.testing")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server process shared by a test module."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real server process of the test's own, on its own data folder."""
    proc = ServerProcess(tmp_path / "data")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def postgresql_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the whole session (tests/pgcluster.py), or a skip
    that says why PostgreSQL cannot be had here."""
    try:
        cluster = Cluster().__enter__()
    except ClusterUnavailable as exc:
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


_databases = itertools.count(1)


@pytest.fixture
def postgresql_url(postgresql_cluster: Cluster) -> str:
    """The URL of a new, empty database of the test's own on the session's cluster."""
    pytest.importorskip("asyncpg", reason="the postgresql extra is not installed")
    return postgresql_cluster.create_database(f"test_{next(_databases)}")


EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "models"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of translated models for the whole session: PySD translates each example
    model once (a second or two each), every server and test after reuses it."""
    pytest.importorskip("pysd", reason="the models extra is not installed")
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def model_games(model_cache: Path) -> Iterator[dict[str, Any]]:
    """The example model games, registered in this process for a test module (as a server's
    --models would), and forgotten after it: other modules see the built-in games only."""
    from gameserver.games import add_game, remove_game
    from gameserver.games.models import load_folder

    games, errors = load_folder(EXAMPLES, model_cache)
    assert errors == {}, errors
    for game in games:
        add_game(game)
    yield {game.name: game for game in games}
    for game in games:
        remove_game(game.name)


@pytest.fixture(scope="module")
def model_server(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[ServerProcess]:
    """A real server that plays the example model games (``--models examples/models``)."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("model-server"),
        args=["--models", str(EXAMPLES)],
        env={"GAMESERVER_MODEL_CACHE": str(model_cache)},
    )
    proc.start(timeout=90)
    yield proc
    proc.stop()


@pytest.fixture
async def sqlite_adapter(tmp_path: Path) -> AsyncIterator[SQLiteAdapter]:
    """An open SQLiteAdapter on a new database file (``games.db`` in ``tmp_path``)."""
    adapter = SQLiteAdapter(tmp_path / "games.db")
    await adapter.open()
    yield adapter
    await adapter.close()
