"""The storage adapter conformance suite: every adapter, yours included, must pass it.

Importing this module needs pytest and pytest-asyncio (the ``test`` extra); the rest of
``storage`` does not. Use it from a test module of your own::

    import pytest
    from storage.testing import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def adapter_factory(self, tmp_path):
            return lambda: MyAdapter(tmp_path / "store")

``adapter_factory`` returns a callable that makes a fresh, unopened adapter. For a durable
adapter (``durable = True``) every adapter it makes must use the same store, so that what one
wrote is there when the next one opens; the suite then checks persistence across close and
reopen. The suite opens, uses and closes adapters itself, and also runs the :class:`Store`
(encoding, compression, damaged records) over your adapter.

pytest rewrites ``assert`` statements for detailed failure messages only in test modules; add
``pytest.register_assert_rewrite("storage.testing")`` to your ``conftest.py`` to get them here
too (it covers every module of this package). The tests carry the asyncio mark, so
pytest-asyncio's strict mode works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from storage import StorageAdapter
from storage.testing.documents import DocumentConformance
from storage.testing.games import GameConformance
from storage.testing.records import (
    ALL_BYTES,
    AdapterFactory,
    decision,
    document,
    round_record,
    snap,
)
from storage.testing.snapshots import SnapshotConformance
from storage.testing.store import StoreConformance

__all__ = [
    "ALL_BYTES",
    "AdapterConformance",
    "AdapterFactory",
    "decision",
    "document",
    "round_record",
    "snap",
]


# pytest collects the tests of a class's bases in reverse MRO order: listed last first, the
# topics keep the suite's order (snapshots, documents, a game's writes, the Store).
@pytest.mark.asyncio
class AdapterConformance(
    StoreConformance, GameConformance, DocumentConformance, SnapshotConformance
):
    """Contract tests for :class:`storage.StorageAdapter`; subclass and give ``adapter_factory``."""

    @pytest.fixture
    def adapter_factory(self) -> AdapterFactory:
        raise NotImplementedError("define an adapter_factory fixture in your test class")

    @pytest_asyncio.fixture
    async def adapter(self, adapter_factory: AdapterFactory) -> AsyncIterator[StorageAdapter]:
        adapter = adapter_factory()
        await adapter.open()
        yield adapter
        await adapter.close()
