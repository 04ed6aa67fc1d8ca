"""The conformance tests of snapshots: kept exactly, replaced, listed, grouped, paged as headers."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from storage import HeaderQuery, Snapshot, SnapshotHeader, StorageAdapter
from storage.testing.records import (
    ALL_BYTES,
    AdapterFactory,
    by_id,
    decision,
    document,
    grouped_games,
    round_record,
    snap,
)


class SnapshotConformance:
    """Snapshots, groups, summaries and pages of headers.

    Mixed into :class:`storage.testing.AdapterConformance`, which gives the fixtures.
    """

    # -- snapshots

    async def test_snapshot_round_trips_every_field(self, adapter: StorageAdapter) -> None:
        original = snap(
            "g1", 7, payload=ALL_BYTES, status="paused", in_progress=False, group="Klasse 3b/Fé"
        )
        await adapter.save_snapshot(original)
        assert await adapter.load_snapshot("g1") == original

    async def test_missing_game_loads_as_none(self, adapter: StorageAdapter) -> None:
        assert await adapter.load_snapshot("nope") is None
        assert await adapter.load_decisions("nope", 1) == []
        assert await adapter.load_rounds("nope") == []

    async def test_save_snapshot_replaces(self, adapter: StorageAdapter) -> None:
        await adapter.save_snapshot(snap("g1", 1, payload=b"first"))
        second = snap("g1", 2, payload=b"second", status="finished", in_progress=False)
        await adapter.save_snapshot(second)
        assert await adapter.load_snapshot("g1") == second
        assert await adapter.load_snapshots() == [second]

    async def test_payload_bytes_exact(self, adapter: StorageAdapter) -> None:
        payloads = {"empty": b"", "nul": b"\x00", "binary": ALL_BYTES, "big": ALL_BYTES * 1400}
        for game_id, payload in payloads.items():
            await adapter.save_snapshot(snap(game_id, payload=payload))
            await adapter.save_decision(decision(game_id, 1, "s", payload))
            await adapter.append_round(round_record(game_id, 1, payload), snap(game_id, 1))
        for game_id, payload in payloads.items():
            await adapter.save_snapshot(snap(game_id, payload=payload))
            stored = await adapter.load_snapshot(game_id)
            assert stored is not None and stored.payload == payload
            assert [d.payload for d in await adapter.load_decisions(game_id, 1)] == [payload]
            assert [r.payload for r in await adapter.load_rounds(game_id)] == [payload]

    async def test_load_snapshots_filters_in_progress(self, adapter: StorageAdapter) -> None:
        games = [snap(f"g{n}", n, in_progress=n % 3 != 0) for n in range(12)]
        for game in games:
            await adapter.save_snapshot(game)

        def by_id(items: Iterable[Snapshot]) -> list[Snapshot]:
            return sorted(items, key=lambda s: s.game_id)

        assert by_id(await adapter.load_snapshots()) == by_id(games)
        running = await adapter.load_snapshots(in_progress_only=True)
        assert by_id(running) == by_id(g for g in games if g.in_progress)
        await adapter.save_snapshot(snap("g1", 1, in_progress=False))
        assert "g1" not in {s.game_id for s in await adapter.load_snapshots(in_progress_only=True)}

    # -- groups

    async def test_load_group_returns_exactly_its_snapshots(self, adapter: StorageAdapter) -> None:
        games = grouped_games()
        for game in games:
            await adapter.save_snapshot(game)
        for group in ("A", "B", "", None):
            found = await adapter.load_group(group)
            assert by_id(found) == [g for g in games if g.group == group], group
        assert await adapter.load_group("a") == []  # groups are compared exactly
        assert await adapter.load_group("C") == []

    async def test_groups_persist_across_reopen(self, adapter_factory: AdapterFactory) -> None:
        first = adapter_factory()
        if not first.durable:
            pytest.skip(f"{first.name} is not durable")
        games = grouped_games()
        await first.open()
        for game in games:
            await first.save_snapshot(game)
        await first.close()
        second = adapter_factory()
        await second.open()
        try:
            for group in ("A", "B", "", None):
                found = await second.load_group(group)
                assert by_id(found) == [g for g in games if g.group == group], group
        finally:
            await second.close()

    async def test_a_new_snapshot_moves_the_game_to_its_group(
        self, adapter: StorageAdapter
    ) -> None:
        await adapter.save_snapshot(snap("g1", group="A"))
        await adapter.save_snapshot(snap("g2", group="A"))
        await adapter.save_snapshot(snap("g1", 1, group="B"))
        assert [s.game_id for s in await adapter.load_group("A")] == ["g2"]
        assert await adapter.load_group("B") == [snap("g1", 1, group="B")]
        await adapter.append_round(round_record("g1", 2), snap("g1", 2, group=""))
        assert await adapter.load_group("B") == []
        assert await adapter.load_group("") == [snap("g1", 2, group="")]
        await adapter.save_snapshot(snap("g2", 1, group=None))
        assert await adapter.load_group("A") == []
        assert await adapter.load_group(None) == [snap("g2", 1, group=None)]

    async def test_delete_removes_the_game_from_its_group(self, adapter: StorageAdapter) -> None:
        for game_id in ("g1", "g2"):
            await adapter.save_snapshot(snap(game_id, group="A"))
        await adapter.append_round(round_record("g1", 1), snap("g1", 1, group="A"))
        assert await adapter.delete_game("g1") is True
        assert [s.game_id for s in await adapter.load_group("A")] == ["g2"]
        assert await adapter.load_group(None) == []

    # -- summaries and headers

    async def test_summary_round_trips_and_is_replaced(self, adapter: StorageAdapter) -> None:
        summary = '{"title": "Klasse 3b/Fé", "seats": ["Zoë", "\\u00e9"]}'
        await adapter.save_snapshot(snap("g1", summary=summary))
        assert await adapter.load_snapshot("g1") == snap("g1", summary=summary)
        await adapter.append_round(round_record("g1", 1), snap("g1", 1, summary="{}"))
        stored = await adapter.load_snapshot("g1")
        assert stored is not None and stored.summary == "{}"
        await adapter.save_snapshot(snap("g1", 2))  # a writer that gives none: None
        stored = await adapter.load_snapshot("g1")
        assert stored is not None and stored.summary is None

    async def test_headers_page_through_every_game_in_order(self, adapter: StorageAdapter) -> None:
        # Some games share a creation time: the game id orders them.
        games = [
            snap(f"h{n:02d}", n, created_at=1_700_000_000.0 + n // 3, group="AB"[n % 2],
                 status="finished" if n % 4 == 0 else "running", summary=f'{{"n": {n}}}')
            for n in range(23)
        ]  # fmt: skip
        for game in reversed(games):
            await adapter.save_snapshot(game)
        await adapter.save_document(document("classes", "S1"))  # never listed as a game
        headers = [SnapshotHeader.of(g) for g in games]
        assert await adapter.load_headers(HeaderQuery()) == headers
        for newest_first in (False, True):
            want = headers[::-1] if newest_first else headers
            pages: list[list[SnapshotHeader]] = []
            after = None
            while True:
                query = HeaderQuery(after=after, limit=5, newest_first=newest_first)
                page = await adapter.load_headers(query)
                if not page:
                    break
                pages.append(page)
                after = (page[-1].created_at, page[-1].game_id)
            assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
            assert [h for p in pages for h in p] == want
        only_a = await adapter.load_headers(HeaderQuery(groups=frozenset({"A"}), limit=4))
        assert only_a == [h for h in headers if h.group == "A"][:4]
        finished = await adapter.load_headers(HeaderQuery(status="finished", newest_first=True))
        assert finished == [h for h in headers[::-1] if h.status == "finished"]
        both = HeaderQuery(groups=frozenset({"B", None}), status="running", after=(0.0, ""))
        assert await adapter.load_headers(both) == [
            h for h in headers if h.group == "B" and h.status == "running"
        ]
        assert await adapter.load_headers(HeaderQuery(groups=frozenset())) == []

    async def test_headers_of_the_unknown_group(self, adapter: StorageAdapter) -> None:
        for game in grouped_games():
            await adapter.save_snapshot(game)
        found = await adapter.load_headers(HeaderQuery(groups=frozenset({None, ""})))
        assert [(h.game_id, h.group) for h in found] == [("g3", ""), ("g6", None), ("g7", "")]
