"""The conformance tests of documents, the records that belong to no game."""

from __future__ import annotations

import asyncio

import pytest

from storage import Document, HeaderQuery, StorageAdapter
from storage.testing.records import ALL_BYTES, AdapterFactory, document, snap


class DocumentConformance:
    """Documents: round trip, replaced, never games, names checked, many at once, after a reopen.

    Mixed into :class:`storage.testing.AdapterConformance`, which gives the fixtures.
    """

    async def test_documents_round_trip_and_are_replaced(self, adapter: StorageAdapter) -> None:
        assert await adapter.load_document("classes", "S1") is None
        first = document("classes", "S1", ALL_BYTES)
        await adapter.save_document(first)
        await adapter.save_document(document("presets", "S1", b"other collection"))
        await adapter.save_document(document("classes", "S2", b""))
        assert await adapter.load_document("classes", "S1") == first
        assert await adapter.load_document("presets", "S1") == document(
            "presets", "S1", b"other collection"
        )
        assert await adapter.load_document("classes", "S2") == document("classes", "S2", b"")
        second = Document("classes", "S1", 1, 1_700_000_999.5, b"second")
        await adapter.save_document(second)
        assert await adapter.load_document("classes", "S1") == second
        assert await adapter.load_document("classes", "s1") is None  # keys compare exactly

    async def test_documents_are_not_games(self, adapter: StorageAdapter) -> None:
        await adapter.save_snapshot(snap("g1", group="A"))
        await adapter.save_document(document("classes", "g1"))
        assert [s.game_id for s in await adapter.load_snapshots()] == ["g1"]
        assert [s.game_id for s in await adapter.load_group(None)] == []
        assert [h.game_id for h in await adapter.load_headers(HeaderQuery())] == ["g1"]
        assert await adapter.delete_game("g1") is True
        assert await adapter.load_document("classes", "g1") == document("classes", "g1")

    async def test_document_names_are_checked(self, adapter: StorageAdapter) -> None:
        for collection, key in [("Classes", "S1"), ("classes", ""), ("classes", "a/b"),
                                ("", "S1"), ("classes", "-x"), ("classes", "x" * 65)]:  # fmt: skip
            with pytest.raises(ValueError):
                await adapter.save_document(document(collection, key))
            with pytest.raises(ValueError):
                await adapter.load_document(collection, key)

    async def test_documents_written_at_once_all_land(self, adapter: StorageAdapter) -> None:
        await asyncio.gather(
            *(adapter.save_document(document("classes", f"S{n}", b"%d" % n)) for n in range(60))
        )
        for n in range(60):
            found = await adapter.load_document("classes", f"S{n}")
            assert found is not None and found.payload == b"%d" % n

    async def test_documents_persist_across_reopen(self, adapter_factory: AdapterFactory) -> None:
        first = adapter_factory()
        if not first.durable:
            pytest.skip(f"{first.name} is not durable")
        await first.open()
        await first.save_document(document("classes", "S1", ALL_BYTES))
        await first.close()
        second = adapter_factory()
        await second.open()
        try:
            assert await second.load_document("classes", "S1") == document(
                "classes", "S1", ALL_BYTES
            )
        finally:
            await second.close()
