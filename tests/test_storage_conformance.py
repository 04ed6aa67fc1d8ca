"""The conformance suite over every adapter in this repository, and the docs' KV example."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kv_example_adapter import KVAdapter

from storage import StorageAdapter, adapter_for_url
from storage.adapters.files import FileAdapter
from storage.adapters.memory import MemoryAdapter
from storage.adapters.sqlite import SQLiteAdapter
from storage.testing import AdapterConformance


class DictKV:
    """A KV client over a dict that outlives the adapters using it, like a real server would."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def scan(self, prefix: str) -> list[tuple[str, bytes]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))


def make_factory(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], StorageAdapter]:
    if kind == "postgresql":
        # A new database per test on the session's throwaway cluster (tests/conftest.py).
        url: str = request.getfixturevalue("postgresql_url")
        return lambda: adapter_for_url(url)
    if kind == "sqlite":
        return lambda: SQLiteAdapter(tmp_path / "games.db")
    if kind == "files":
        return lambda: FileAdapter(tmp_path / "games")
    if kind == "kv":
        client = DictKV()
        return lambda: KVAdapter(client)
    return MemoryAdapter


class TestConformance(AdapterConformance):
    @pytest.fixture(params=["sqlite", "memory", "files", "kv", "postgresql"])
    def adapter_factory(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Callable[[], StorageAdapter]:
        return make_factory(request.param, tmp_path, request)


def test_docs_show_the_tested_kv_adapter() -> None:
    """docs/storage.md quotes tests/kv_example_adapter.py verbatim, so the example can't rot."""
    root = Path(__file__).resolve().parent.parent
    example = (root / "tests" / "kv_example_adapter.py").read_text()
    doc = (root / "docs" / "storage.md").read_text()
    assert example.strip() in doc
    assert len(example.splitlines()) < 100
