"""Persistence for gameserver: a small adapter contract, SQLite by default.

This package never imports ``gameserver``. The server uses :class:`Store` (usually made by
:func:`open_store` from a URL). The adapters that ship are in :mod:`storage.adapters`, one module
each, chosen by URL scheme; a store of your own is a :class:`StorageAdapter` subclass checked by
the conformance suite in :mod:`storage.testing`. See ``docs/storage.md``.
"""

from storage.adapter import (
    DAMAGED,
    DecisionRecord,
    Document,
    HeaderQuery,
    RoundRecord,
    Snapshot,
    SnapshotHeader,
    StorageAdapter,
)
from storage.errors import CorruptRecord, StorageError
from storage.store import (
    RECORD_VERSION,
    GameHeader,
    LoadResult,
    Store,
    StoredGame,
    StoredRound,
    adapter_for_url,
    open_store,
)

__all__ = [
    "DAMAGED",
    "RECORD_VERSION",
    "CorruptRecord",
    "DecisionRecord",
    "Document",
    "GameHeader",
    "HeaderQuery",
    "LoadResult",
    "RoundRecord",
    "Snapshot",
    "SnapshotHeader",
    "StorageAdapter",
    "StorageError",
    "Store",
    "StoredGame",
    "StoredRound",
    "adapter_for_url",
    "open_store",
]
