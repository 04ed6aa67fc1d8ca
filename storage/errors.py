"""The storage exception tree.

::

    StorageError            anything the store could not do; ``game_id`` names the game if known
    ├── CorruptRecord       a stored record that cannot be decoded: bad bytes, failed
    │                       decompression, a schema version this code does not know
    └── Fenced              a write refused because this server no longer holds the game's
                            lease (another server took it over: storage/leases.py)

Adapters raise :class:`StorageError` for failures of their store (translated from the driver's
own exceptions with ``raise ... from exc``) and ``ValueError`` for arguments they can never
accept, such as a game id that cannot be a folder name.
"""

from __future__ import annotations


class StorageError(Exception):
    """The store could not do what was asked. The message names the game when there is one."""

    def __init__(self, message: str, game_id: str | None = None) -> None:
        super().__init__(message)
        self.game_id = game_id


class CorruptRecord(StorageError):
    """A stored record could not be decoded; the rest of the store is unaffected."""


class Fenced(StorageError):
    """A write refused by the fence: this server no longer holds the game's lease."""
