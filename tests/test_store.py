"""The Store: encoding, compression, timestamps, damaged records, URLs, error translation."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import (
    RECORD_VERSION,
    CorruptRecord,
    DecisionRecord,
    RoundRecord,
    Snapshot,
    StorageError,
    Store,
    StoredGame,
    open_store,
)
from storage.adapters import SCHEMES
from storage.adapters.files import FileAdapter
from storage.adapters.memory import MemoryAdapter
from storage.adapters.sqlite import SQLiteAdapter
from storage.codec import MIN_COMPRESS_SIZE, ZSTD_MAGIC, Codec, DecodeError

BIG = {"history": [{"week": n, "order": n % 7, "note": "steady"} for n in range(100)]}


def game(game_id: str = "g1", **kw: Any) -> StoredGame:
    fields: dict[str, Any] = {"kind": "beer", "status": "running", "in_progress": True}
    fields |= {"round": 2, "data": BIG}
    return StoredGame(game_id, **(fields | kw))


@pytest.fixture
async def memory() -> AsyncIterator[tuple[Store, MemoryAdapter]]:
    adapter = MemoryAdapter()
    store = Store(adapter)
    await store.open()
    yield store, adapter
    await store.close()


# -- the codec


@pytest.mark.parametrize(
    ("compression", "check"),
    [
        ("zstd", lambda b: b[:4] == ZSTD_MAGIC),
        ("zlib", lambda b: zlib.decompress(b) is not None),
        (None, lambda b: b[:1] == b"{"),
    ],
)
def test_codec_writes_the_chosen_format(compression: str | None, check: Any) -> None:
    codec = Codec(compression)
    payload = codec.encode(BIG)
    assert check(payload)
    assert len(payload) < len(orjson.dumps(BIG)) or compression is None
    for reader in ("zstd", "zlib", None):
        assert Codec(reader).decode(payload) == BIG


def test_small_payloads_stay_plain() -> None:
    small = {"order": 4}
    assert len(orjson.dumps(small)) < MIN_COMPRESS_SIZE
    assert Codec("zstd").encode(small) == orjson.dumps(small)


def test_payloads_are_compressed_from_min_compress_size_on() -> None:
    # A young Beer Game's whole record (2.5-3.2 KB) stays plain; one of week 8 on is compressed.
    codec = Codec("zstd")
    for size, packed in ((2500, False), (MIN_COMPRESS_SIZE - 1, False), (MIN_COMPRESS_SIZE, True)):
        data = {"x": "ab" * ((size - 8) // 2) + "a" * ((size - 8) % 2)}
        assert len(orjson.dumps(data)) == size
        payload = codec.encode(data)
        assert (payload[:4] == ZSTD_MAGIC) is packed, size
        assert codec.decode(payload) == data


def test_unknown_compression_is_refused() -> None:
    with pytest.raises(ValueError, match="lz4"):
        Codec("lz4")
    with pytest.raises(ValueError, match="lz4"):
        Store(MemoryAdapter(), compression="lz4")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(data=st.dictionaries(st.text(), json_values, max_size=8), padding=st.integers(0, 400))
def test_codec_round_trips_any_json_object(data: dict[str, Any], padding: int) -> None:
    data = {**data, "padding": "x" * padding}
    for compression in ("zstd", "zlib", None):
        assert Codec(compression).decode(Codec(compression).encode(data)) == data


def test_codec_refuses_unusable_zstd_frames() -> None:
    no_size = zstandard.ZstdCompressor(write_content_size=False).compress(b"{}" * 100)
    with pytest.raises(DecodeError, match="content size"):
        Codec().decode(no_size)


def test_codec_refuses_truncated_zlib() -> None:
    packed = zlib.compress(orjson.dumps(BIG))
    with pytest.raises(DecodeError, match="zlib"):
        Codec().decode(packed[: len(packed) // 2])


# -- the Store


async def test_timestamps_are_set_by_the_store(memory: tuple[Store, MemoryAdapter]) -> None:
    store, _ = memory
    before = time.time()
    await store.save_game(game())
    first = await store.load_game("g1")
    assert first is not None and before <= first.created_at == first.updated_at <= time.time()
    await store.save_game(game(created_at=first.created_at, status="paused"))
    second = await store.load_game("g1")
    assert second is not None and second.created_at == first.created_at
    assert second.updated_at >= first.updated_at and second.status == "paused"
    await store.save_decision("g1", 3, "retailer", {"order": 1})
    await store.append_round("g1", 3, {"r": 3}, game(round=3))
    (stored_round,) = await store.load_rounds("g1")
    assert before <= stored_round.created_at <= time.time()


async def test_records_carry_the_schema_version(memory: tuple[Store, MemoryAdapter]) -> None:
    store, adapter = memory
    await store.save_game(game())
    await store.save_decision("g1", 3, "retailer", {"order": 1})
    stored = await adapter.load_snapshot("g1")
    assert stored is not None and stored.schema_version == RECORD_VERSION
    assert [d.schema_version for d in await adapter.load_decisions("g1", 3)] == [RECORD_VERSION]


async def test_corrupt_record_names_game_and_cause(memory: tuple[Store, MemoryAdapter]) -> None:
    store, adapter = memory
    zstd_frame = Codec("zstd").encode(BIG)
    await adapter.save_snapshot(
        Snapshot("g1", "beer", "running", True, 1, 1, 1.0, 1.0, zstd_frame[:30])
    )
    with pytest.raises(CorruptRecord, match="'g1': snapshot cannot be decoded") as caught:
        await store.load_game("g1")
    assert caught.value.game_id == "g1"
    assert isinstance(caught.value.__cause__, zstandard.ZstdError)
    await adapter.save_snapshot(Snapshot("g2", "beer", "running", True, 1, 1, 1.0, 1.0, b"{nope"))
    with pytest.raises(CorruptRecord, match="g2") as caught:
        await store.load_game("g2")
    assert isinstance(caught.value.__cause__, orjson.JSONDecodeError)


async def test_unknown_schema_version_is_corrupt(memory: tuple[Store, MemoryAdapter]) -> None:
    store, adapter = memory
    await adapter.save_decision(DecisionRecord("g1", 1, "retailer", 7, 1.0, b"{}"))
    with pytest.raises(CorruptRecord, match=r"decision 1/retailer .*unknown schema version 7"):
        await store.load_decisions("g1", 1)
    await adapter.append_round(
        RoundRecord("g1", 1, RECORD_VERSION, 1.0, b"\xff"),
        Snapshot("g1", "beer", "running", True, 1, 1, 1.0, 1.0, b"{}"),
    )
    with pytest.raises(CorruptRecord, match="round 1"):
        await store.load_rounds("g1")


async def test_load_games_restores_the_collector(memory: tuple[Store, MemoryAdapter]) -> None:
    store, adapter = memory
    await store.save_game(game())
    await adapter.save_snapshot(Snapshot("bad", "beer", "running", True, 1, 1, 1.0, 1.0, b"!"))
    assert gc.isenabled()
    result = await store.load_games()
    assert len(result.games) == 1 and len(result.errors) == 1 and gc.isenabled()
    gc.disable()
    try:
        await store.load_games()
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


async def test_bad_arguments(memory: tuple[Store, MemoryAdapter]) -> None:
    store, _ = memory
    with pytest.raises(ValueError, match="round must be >= 0"):
        await store.save_decision("g1", -1, "retailer", {})
    with pytest.raises(ValueError, match="'g2'"):
        await store.append_round("g1", 1, {}, game("g2"))


class BrokenDisk(MemoryAdapter):
    """An adapter whose store fails the way a full disk does."""

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        raise OSError(28, "No space left on device")

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        raise OSError(5, "Input/output error")


async def test_adapter_errors_become_storage_errors() -> None:
    store = Store(BrokenDisk())
    with pytest.raises(StorageError, match=r"'g1'.*No space left") as caught:
        await store.save_game(game())
    assert caught.value.game_id == "g1" and isinstance(caught.value.__cause__, OSError)
    with pytest.raises(StorageError, match="reading games failed"):
        await store.load_games()


# -- URLs


def test_open_store_by_url(tmp_path: Path) -> None:
    sqlite = open_store(f"sqlite://{tmp_path}/games.db", synchronous="NORMAL").adapter
    assert isinstance(sqlite, SQLiteAdapter)
    assert sqlite.path == tmp_path / "games.db" and sqlite.synchronous == "NORMAL"
    four_slashes = open_store(f"sqlite:///{tmp_path}/games.db").adapter
    assert isinstance(four_slashes, SQLiteAdapter) and four_slashes.path == sqlite.path
    relative = open_store("sqlite:data/games.db").adapter
    assert isinstance(relative, SQLiteAdapter) and relative.path == Path("data/games.db")
    assert isinstance(open_store("memory://").adapter, MemoryAdapter)
    files = open_store(f"file://{tmp_path}/games", compression=None)
    assert isinstance(files.adapter, FileAdapter) and files.adapter.root == tmp_path / "games"
    assert files.compression is None
    adapter = MemoryAdapter()
    assert open_store(adapter).adapter is adapter


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost/0", "unknown storage URL scheme 'redis'"),
        ("games.db", "unknown storage URL scheme ''"),
        ("sqlite://host/games.db", "bad SQLite URL"),
        ("sqlite:///:memory:", "bad SQLite URL"),
        ("file://server/share", "bad file URL"),
    ],
)
def test_open_store_refuses_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_unknown_scheme_lists_the_schemes_of_the_table() -> None:
    with pytest.raises(ValueError, match="unknown storage URL scheme 'redis'") as caught:
        open_store("redis://localhost/0")
    assert sorted(SCHEMES) == ["file", "memory", "postgresql", "sqlite"]
    for scheme in SCHEMES:
        assert f"{scheme}://" in str(caught.value)


def test_without_asyncpg_the_scheme_says_what_to_install(tmp_path: Path) -> None:
    # A fresh interpreter in which asyncpg cannot be imported, as without the extra.
    code = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "from storage import open_store\n"
        "open_store('memory://'); open_store(f'sqlite:///{sys.argv[1]}/games.db')\n"
        "try:\n"
        "    open_store('postgresql://127.0.0.1/games')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout == (
        "postgresql:// storage needs the asyncpg package: pip install 'gameserver[postgresql]'\n"
    )
    # The server's command line: one line on stderr, exit code 2, no traceback.
    serve = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "from gameserver.cli import main\n"
        "sys.exit(main(['serve', '--data', sys.argv[1], '--storage', 'postgresql://h/db']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", serve, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "gameserver serve: postgresql:// storage needs the asyncpg package:"
        " pip install 'gameserver[postgresql]'"
    ]


def test_adapter_modules_are_imported_only_when_their_scheme_is_used() -> None:
    script = """
import sys
import storage
loaded = lambda: [m[17:] for m in sorted(sys.modules) if m.startswith("storage.adapters.")]
print(*loaded(), "sqlite3" in sys.modules)
storage.open_store("memory://")
print(*loaded(), "sqlite3" in sys.modules)
storage.open_store("sqlite:games.db")
print(*loaded(), "sqlite3" in sys.modules)
"""
    # Without coverage in the child: coverage itself imports sqlite3 (its data file).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert run.stdout.splitlines() == [
        "False",
        "memory False",
        # batching: what the SQLite and PostgreSQL writers share (no third-party import)
        "batching memory sqlite sqlite_process sqlite_writer True",
    ]


async def test_store_as_context_manager(tmp_path: Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/games.db") as store:
        await store.save_game(game())
    async with open_store(f"sqlite://{tmp_path}/games.db", compression="zlib") as store:
        loaded = await store.load_game("g1")
        assert loaded is not None and loaded.data == BIG


async def test_decisions_saved_together_answer_one_by_one(tmp_path: Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/games.db") as store:
        results = await store.save_decisions(
            [
                ("g1", 1, "retailer", {"decision": {"order": 4}}),
                ("g1", -1, "retailer", {"decision": {"order": 5}}),  # refused alone
                ("g2", 1, "factory", {"decision": {"order": 6}}),
            ]
        )
        assert results[0] is None and results[2] is None
        assert results[1] is not None and "round must be >= 0" in str(results[1])
        assert await store.load_decisions("g1", 1) == {"retailer": {"decision": {"order": 4}}}
        assert await store.load_decisions("g2", 1) == {"factory": {"decision": {"order": 6}}}
