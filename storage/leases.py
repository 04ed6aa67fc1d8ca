"""Leases: one owner per game among servers that share a store.

A server that runs a game holds its lease: the server (``owner``, an id unique to the process),
an ``epoch`` that grows by one at every change of owner, and an expiry the owner pushes forward
by heartbeat. The store refuses a write for a game unless it comes from the owner and epoch of
the game's lease, checked in the same transaction as the write (the fence): a server that lost
a game (it was frozen, cut off, or handed the game over) can no longer change it, whatever it
still believes.

A lease is *released* when its game leaves its owner's memory on purpose (idle, or handed to
another server that asked); it *lapses* when its owner stops renewing it (the process died or
froze) or leaves at shutdown. The servers take lapsed leases over (:meth:`Leases.orphans`); a
released game waits, like any stored game, until someone uses it.

A store that serves one server needs none of this (:meth:`StorageAdapter.leases` returns None).
Only the PostgreSQL adapter has leases: :mod:`storage.adapters.postgresql_leases`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    """A server sharing the store: its process id ``owner``, the ``name`` it was given, and
    the number of games it holds."""

    owner: str
    name: str
    games: int


class Leases(ABC):
    """This server's leases. Create with :meth:`StorageAdapter.leases`; :meth:`open` after the
    store is open, :meth:`close` before it closes."""

    #: This process's id in the lease table: its name and a random part.
    owner: str
    #: The name it was given (shown to people: ``/health``, the dashboard, logs).
    name: str
    #: Seconds a lease lasts without renewal.
    seconds: float
    #: The games this server holds, with their epochs.
    held: dict[str, int]
    #: Called with a game's id when another server asks for a game this one holds.
    on_handover: Callable[[str], None] | None = None
    #: Called when another server left (its games' leases lapsed at once): look for orphans.
    on_node_left: Callable[[], None] | None = None
    #: Writes the fence refused (this server wrote a game it no longer held).
    refused: int = 0

    @abstractmethod
    async def open(self) -> None:
        """Join: register this server, start hearing handover requests, fence every write."""

    @abstractmethod
    async def close(self) -> None:
        """Leave: every held lease lapses at once (the others take the games over), and this
        server's registration goes."""

    @abstractmethod
    async def acquire(self, game_ids: Sequence[str]) -> dict[str, int]:
        """Take the leases of ``game_ids`` that are free (never held, released, lapsed, or
        already ours); the ones taken, with their new epochs."""

    @abstractmethod
    async def release(self, game_id: str, *, forget: bool = False) -> None:
        """Give up a held game (it left memory); a server waiting for it is told. ``forget``
        removes the lease altogether (there is no such game, or it was deleted)."""

    @abstractmethod
    async def renew(self) -> set[str]:
        """Push the expiry of every held lease forward; the games found lost (another server
        took them), which are no longer held."""

    @abstractmethod
    async def orphans(self) -> list[tuple[str, float]]:
        """Games in progress whose lease lapsed (their owner died, froze or left), each with
        the seconds since it lapsed."""

    @abstractmethod
    async def nodes(self) -> list[Node]:
        """The servers that renewed their leases within the lease time, this one included."""

    @abstractmethod
    async def owner_of(self, game_id: str) -> str | None:
        """The name of the live server holding ``game_id``, or None."""

    @abstractmethod
    async def ask_handover(self, game_id: str, within: float) -> bool:
        """Ask the server holding ``game_id`` to hand it over, and wait up to ``within``
        seconds for its lease to be free; whether it is."""
