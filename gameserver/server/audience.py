"""Who is connected to a game: each seat's connection and the facilitators'.

An :class:`Audience` is the room's list of peers (:mod:`gameserver.server.room`), with no I/O: a
seat has one connection at a time (a new one supersedes the old), facilitators any number. Its
methods return the effects that tell or close connections; the room decides when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gameserver.errors import CloseCode, ErrorCode
from gameserver.protocol import ServerMessage, error_message
from gameserver.server import events as ev


class Audience:
    """The connections on one game: players by role, and watchers (facilitators)."""

    def __init__(self, roles: Iterable[str]) -> None:
        #: Each role's connections: none or one (a list, so that a seat is looked up once).
        self.players: dict[str, list[ev.Peer]] = {role: [] for role in roles}
        self.watchers: list[ev.Peer] = []
        #: The players' connections that take each round's view as an update.
        self.updated: set[ev.Peer] = set()

    def everyone(self) -> list[ev.Peer]:
        """Every connection on the game: players and facilitators."""
        out = [peer for peers in self.players.values() for peer in peers]
        return out + self.watchers

    def any(self) -> bool:
        return bool(self.watchers) or any(self.players.values())

    def role_of(self, peer: ev.Peer) -> str | None:
        for role, peers in self.players.items():
            if peer in peers:
                return role
        return None

    def connect(self, role: str | None, peer: ev.Peer, updates: bool = False) -> list[ev.Effect]:
        """Take a connection for ``role`` (None: a facilitator); a seat's connection before it
        is told and closed. ``updates``: it takes each round's view as an update."""
        out: list[ev.Effect] = []
        if role is None:
            self.watchers.append(peer)
        else:
            if updates:
                self.updated.add(peer)
            for old in self.players[role]:
                self.updated.discard(old)
                text = "this seat connected elsewhere"
                out.append(ev.Send([old], error_message(ErrorCode.SUPERSEDED, text)))
                out.append(ev.Close(old, CloseCode.SUPERSEDED))
            was_online = bool(self.players[role])
            self.players[role] = [peer]
            if not was_online:
                out.append(ev.PROGRESS_DUE)
        return out

    def disconnect(self, peer: ev.Peer) -> list[ev.Effect]:
        self.updated.discard(peer)
        if peer in self.watchers:
            self.watchers.remove(peer)
            return []
        for peers in self.players.values():
            if peer in peers:
                peers.remove(peer)
                return [] if peers else [ev.PROGRESS_DUE]
        return []

    def reset(self, role: str) -> list[ev.Effect]:
        """The facilitator reset the seat: its connection is told and closed."""
        out: list[ev.Effect] = []
        text = "the facilitator reset this seat"
        for peer in self.players[role]:
            self.updated.discard(peer)
            out.append(ev.Send([peer], error_message(ErrorCode.SEAT_RESET, text)))
            out.append(ev.Close(peer, CloseCode.SEAT_RESET))
        self.players[role] = []
        return out

    def to_players(self, message_of: Callable[[str], ServerMessage]) -> list[ev.Effect]:
        """Each connected player its own message, ``message_of(role)``."""
        out: list[ev.Effect] = []
        for role, peers in self.players.items():
            if peers:  # a seat's one connection (:meth:`connect`)
                out.append(ev.Send((peers[0],), message_of(role)))
        return out
