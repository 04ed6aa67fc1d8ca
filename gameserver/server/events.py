"""What goes into a room (events) and what comes out of it (effects).

A :class:`~gameserver.server.room.Room` takes one event at a time with the current time and
returns a list of effects; the game's driver carries the effects out in order. Peers (a player's
or facilitator's connection) and refs (whoever waits for a command's outcome) are opaque to the
room: it only hands them back in effects.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from gameserver.errors import CloseCode, GameServerError
from gameserver.protocol import ServerMessage
from gameserver.server.records import BotSeat, GameRecord, PendingDecision, RoundRecord

#: A connection, as the room sees it: something to address effects to.
Peer = Hashable
#: Whoever waits for a command's outcome (the driver uses a future).
Ref = Hashable

# Events and effects are made several times per decision: plain (not frozen) slotted dataclasses,
# which build in a third of the time of frozen ones. Nothing changes them once made.

# -- events: from connections ---------------------------------------------------------------


@dataclass(slots=True)
class Connect:
    """A connection joined: a player on ``role``, or a facilitator watching (``role`` None).
    ``updates``: the player takes each round's view as an update (docs/protocol.md)."""

    peer: Peer
    role: str | None
    updates: bool = False


@dataclass(slots=True)
class Disconnect:
    peer: Peer


@dataclass(slots=True)
class Submit:
    """A player's decision for ``round`` under the client's message ``id`` (raw, unvalidated)."""

    peer: Peer
    role: str
    round: int
    id: str
    decision: Any


@dataclass(slots=True)
class RequestSync:
    peer: Peer


# -- events: commands (a facilitator's actions and seat claims), answered through ``ref`` ---


@dataclass(slots=True)
class Start:
    ref: Ref


@dataclass(slots=True)
class Pause:
    ref: Ref


@dataclass(slots=True)
class Resume:
    ref: Ref


@dataclass(slots=True)
class End:
    ref: Ref


@dataclass(slots=True)
class CloseRound:
    ref: Ref


@dataclass(slots=True)
class SetDeadline:
    """``seconds`` from now (None clears it), or with ``extend`` added to the deadline."""

    ref: Ref
    seconds: float | None
    extend: bool = False


@dataclass(slots=True)
class SetBot:
    """Hand ``role`` to a server-side bot, or back to its player with ``bot`` None."""

    ref: Ref
    role: str
    bot: BotSeat | None


@dataclass(slots=True)
class ResetSeat:
    """Free a seat whose player lost their token; it gets ``join_code`` as its new code."""

    ref: Ref
    role: str
    join_code: str


@dataclass(slots=True)
class ClaimSeat:
    """Give a seat to a new player: ``role``, or the first free one with None. The ref gets
    the role taken; ``token_hash`` is the hash of the token the player will be given.

    ``join_hash`` is the hash of the player's join id, if they sent one: a seat already
    claimed with the same join id is given back (with the new token) instead of refused, so a
    join retried after its ``welcome`` was lost gets its seat. The seat asked for, or with
    ``open_join`` (a game's open code, where a retry may name another role) any seat."""

    ref: Ref
    role: str | None
    name: str | None
    token_hash: str
    join_hash: str | None = None
    open_join: bool = False


Command = Start | Pause | Resume | End | CloseRound | SetDeadline | SetBot | ResetSeat | ClaimSeat

# -- events: from the driver ----------------------------------------------------------------


@dataclass(slots=True)
class Saved:
    """A save effect completed: what it wrote is durable."""

    save: Save


@dataclass(slots=True)
class SaveFailed:
    save: Save
    error: GameServerError


@dataclass(slots=True)
class TimerFired:
    """The time the room last asked for (:class:`SetTimer`) has come."""


@dataclass(slots=True)
class Revive:
    """The game came (back) into memory: a restart or a load on access.

    ``down_since``: at a restart, the last time the server was known to be alive before it
    (None when unknown, or for a load on access). A running round's deadline is moved on by
    the time since then, so the server's downtime does not eat the round's time. A deadline
    that still has passed gets ``grace`` seconds rather than firing at once."""

    grace: float
    down_since: float | None = None


@dataclass(slots=True)
class TurnEnded:
    """The turn of the event loop ends with ``saves`` (the room's decision saves asked for in
    it, in order) not yet handed to the store: if they complete the open round (with those
    saved or still being saved), the room may close it with them instead, in one save (a
    :class:`SaveRound` that ``carries`` them); it then answers with that save, else with
    nothing and they are saved on their own."""

    saves: list[SaveDecision]


@dataclass(slots=True)
class Played:
    """A round asked for by :class:`PlayRound` was played: its record and the game's next."""

    play: PlayRound
    record: RoundRecord
    game: GameRecord


@dataclass(slots=True)
class PlayFailed:
    """A round asked for by :class:`PlayRound` could not be played: the game's rules raised
    ``error`` (a message), or it took longer than the timeout (``timed_out``)."""

    play: PlayRound
    error: str
    timed_out: bool = False


Event = (
    Connect
    | Disconnect
    | Submit
    | RequestSync
    | Command
    | Saved
    | SaveFailed
    | TimerFired
    | Revive
    | Played
    | PlayFailed
    | TurnEnded
)

# -- effects --------------------------------------------------------------------------------
# Saves compare by identity: the room matches a Saved event to the save it issued.


@dataclass(slots=True, eq=False)
class SaveDecision:
    """Store ``role``'s decision for ``round``; then the room acks ``peer`` (None: a bot).
    ``seq`` numbers the room's decision saves in the order it asked for them."""

    role: str
    round: int
    pending: PendingDecision
    peer: Peer | None
    seq: int = 0


@dataclass(slots=True, eq=False)
class SaveRound:
    """Store a closed round and the game's new record together, atomically. ``carries``: the
    decisions that completed the round (see :class:`TurnEnded`), saved with it (they are in the
    round's record) rather than on their own first; the room acks them once this save is done.
    ``joins``: the decision saves already handed to the store on their own when the round
    closed; its record holds their decisions (whichever lands first), and the room takes this
    save's outcome only once it has heard theirs."""

    record: RoundRecord
    game: GameRecord
    carries: tuple[SaveDecision, ...] = ()
    joins: tuple[SaveDecision, ...] = ()


@dataclass(slots=True, eq=False)
class SaveGame:
    """Store the game's new record (a facilitator's change or a seat claim)."""

    game: GameRecord


Save = SaveDecision | SaveRound | SaveGame


@dataclass(slots=True, eq=False)
class PlayRound:
    """Play the open round off the event loop (a game whose step is slow): the driver runs
    :func:`~gameserver.server.changes.closed_round` on these in a worker thread, for at most
    ``timeout`` seconds, and answers :class:`Played` or :class:`PlayFailed`."""

    game: GameRecord
    pending: dict[str, PendingDecision]
    reason: str
    at: float
    timeout: float


@dataclass(slots=True)
class Send:
    """Send ``message`` to every peer in ``to`` (encoded once)."""

    to: Sequence[Peer]
    message: ServerMessage


@dataclass(slots=True)
class Close:
    """Close a peer's connection with ``code`` (after what was sent to it)."""

    peer: Peer
    code: CloseCode


@dataclass(slots=True)
class SetTimer:
    """Fire :class:`TimerFired` at Unix time ``at`` (replacing any earlier one); None cancels."""

    at: float | None


@dataclass(slots=True)
class ProgressDue:
    """Who submitted or who is online changed: the driver asks :meth:`Room.progress` for the
    message once the current turn of the event loop is over, so many changes send one."""


@dataclass(slots=True)
class Resolve:
    """A command succeeded; ``result`` for its ref."""

    ref: Ref
    result: object = None


@dataclass(slots=True)
class Reject:
    """A command was refused or could not be saved."""

    ref: Ref
    error: GameServerError


Effect = (
    SaveDecision
    | SaveRound
    | SaveGame
    | PlayRound
    | Send
    | Close
    | SetTimer
    | ProgressDue
    | Resolve
    | Reject
)

PROGRESS_DUE = ProgressDue()
