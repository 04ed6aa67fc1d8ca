"""The conformance tests of the Store over the adapter: encoding, compression, damaged records."""

from __future__ import annotations

import pytest

from storage import DAMAGED, CorruptRecord, HeaderQuery, StorageAdapter, Store, StoredGame
from storage.codec import ZSTD_MAGIC, Codec
from storage.testing.records import document, snap


class StoreConformance:
    """The Store over this adapter: round trip, groups, headers, documents, compressions, damage.

    Mixed into :class:`storage.testing.AdapterConformance`, which gives the fixtures.
    """

    async def test_store_round_trip(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        game = StoredGame("g1", "beer", "running", True, 3, data={"weeks": list(range(500))})
        await store.save_game(game)
        await store.save_decision("g1", 4, "retailer", {"order": 4})
        await store.append_round("g1", 4, {"orders": [4, 4, 4, 4]}, game)
        loaded = await store.load_game("g1")
        assert loaded is not None and loaded.data == game.data and loaded.round == 3
        assert await store.load_decisions("g1", 4) == {"retailer": {"order": 4}}
        assert [(r.round, r.data) for r in await store.load_rounds("g1")] == [
            (4, {"orders": [4, 4, 4, 4]})
        ]
        result = await store.load_games(in_progress_only=True)
        assert [g.game_id for g in result.games] == ["g1"] and result.errors == []

    async def test_store_load_group_decodes(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        data = {"weeks": list(range(300))}
        for n in range(3):
            await store.save_game(StoredGame(f"a{n}", "beer", "running", True, 0, group="A"))
        await store.save_game(StoredGame("b0", "beer", "running", True, 0, data=data, group="B"))
        await store.save_game(StoredGame("none", "beer", "created", True, 0, data=data))
        played = StoredGame("a1", "beer", "finished", False, 1, data=data, group="A")
        await store.append_round("a1", 1, {"orders": [4]}, played)
        await adapter.save_snapshot(snap("a-bad", payload=b"\x01 not json", group="A"))
        result = await store.load_group("A")
        games = {g.game_id: g for g in result.games}
        assert sorted(games) == ["a0", "a1", "a2"]
        assert all(g.group == "A" for g in result.games)
        assert (games["a1"].status, games["a1"].round, games["a1"].data) == ("finished", 1, data)
        assert [e.game_id for e in result.errors] == ["a-bad"]
        assert isinstance(result.errors[0], CorruptRecord)
        b_group = await store.load_group("B")
        assert [(g.game_id, g.data) for g in b_group.games] == [("b0", data)]
        unknown = await store.load_group(None)
        assert [(g.game_id, g.group) for g in unknown.games] == [("none", None)]
        loaded = await store.load_game("a2")
        assert loaded is not None and loaded.group == "A"
        stored = await adapter.load_snapshot("b0")
        assert stored is not None and stored.group == "B"

    async def test_store_headers_decode_summaries_only(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        summary = {"title": "Team 1", "seats": [{"role": "retailer", "name": "Ann"}]}
        game = StoredGame("g1", "beer", "running", True, 2, 5.0, data={"big": [1] * 500})
        await store.save_game(game)
        await store.save_game(StoredGame("g2", "beer", "created", True, 0, 6.0, summary=summary))
        # A damaged payload is never read by a listing: its game is listed from its summary.
        await adapter.save_snapshot(snap("g3", created_at=7.0, payload=b"\x01", summary="{}"))
        await adapter.save_snapshot(snap("g4", created_at=8.0, summary="[not an object"))
        headers = await store.load_headers(HeaderQuery())
        assert [(h.game_id, h.summary) for h in headers] == [
            ("g1", None),
            ("g2", summary),
            ("g3", {}),
            ("g4", None),
        ]
        assert (headers[0].status, headers[0].round, headers[0].created_at) == ("running", 2, 5.0)
        loaded = await store.load_game("g2")
        assert loaded is not None and loaded.summary == summary

    async def test_store_documents(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        data = {"students": [{"name": f"Student {n}", "seat": None} for n in range(300)]}
        assert await store.load_document("classes", "S1") is None
        await store.save_document("classes", "S1", data)
        assert await store.load_document("classes", "S1") == data
        stored = await adapter.load_document("classes", "S1")
        assert stored is not None and len(stored.payload) < len(str(data))  # compressed
        await adapter.save_document(document("classes", "bad", b"\x01\x02"))
        with pytest.raises(CorruptRecord, match="classes/bad"):
            await store.load_document("classes", "bad")
        with pytest.raises(ValueError):
            await store.save_document("classes", "a b", {})

    async def test_store_reads_every_compression(self, adapter: StorageAdapter) -> None:
        data = {"history": [{"week": n, "order": n % 7} for n in range(200)]}
        for compression in ("zstd", "zlib", None):
            writer = Store(adapter, compression=compression)
            await writer.save_game(
                StoredGame(f"g-{compression}", "beer", "running", True, 1, data=data)
            )
            await writer.save_decision(f"g-{compression}", 1, "retailer", data)
        for compression in ("zstd", "zlib", None):
            reader = Store(adapter, compression=compression)
            result = await reader.load_games()
            assert len(result.games) == 3 and result.errors == []
            assert all(game.data == data for game in result.games)
            for writer_compression in ("zstd", "zlib", None):
                decisions = await reader.load_decisions(f"g-{writer_compression}", 1)
                assert decisions == {"retailer": data}

    async def test_store_reports_damaged_records_per_game(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        for n in range(5):
            await store.save_game(StoredGame(f"ok{n}", "beer", "running", True, 1, data={"n": n}))
        zstd_good = Codec("zstd").encode({"x": "y" * 8000})
        assert zstd_good[:4] == ZSTD_MAGIC
        await adapter.save_snapshot(snap("garbage", payload=b"\x01\x02not json"))
        await adapter.save_snapshot(snap("truncated", payload=zstd_good[: len(zstd_good) // 2]))
        await adapter.save_snapshot(snap("future", payload=b"{}", schema_version=99))
        await adapter.save_snapshot(snap("damaged", payload=b"??", schema_version=DAMAGED))
        await adapter.save_snapshot(snap("list", payload=b"[1, 2]"))
        result = await store.load_games()
        assert sorted(g.game_id for g in result.games) == [f"ok{n}" for n in range(5)]
        bad = {"garbage", "truncated", "future", "damaged", "list"}
        assert {e.game_id for e in result.errors} == bad
        for error in result.errors:
            assert isinstance(error, CorruptRecord) and repr(error.game_id) in str(error)
        for game_id in bad:
            with pytest.raises(CorruptRecord, match=game_id):
                await store.load_game(game_id)
