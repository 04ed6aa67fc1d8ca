from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

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
