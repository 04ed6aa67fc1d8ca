from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
