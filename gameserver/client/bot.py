"""Scripted players that speak the WebSocket protocol (docs/protocol.md) as a browser does.

A bot in a few lines::

    import asyncio
    from gameserver.client.bot import Bot

    def order_eight(view):  # any callable view -> decision
        return {"order": 8}

    bot = Bot("http://127.0.0.1:8000", order_eight, join="K7P2QXMB-M4TA", think=(0.5, 2.0))
    asyncio.run(bot.run())
    print(bot.rounds, bot.reconnects, dict(bot.errors))

or with a game's own policy: ``Bot(url, make_policy("beer", "sterman"), join=code)``.

A bot joins with a join code (keeping the token it is given) or resumes with a token, then for
every round it decides with its policy on the view it was sent, waits its think time, submits
with a message id of its own and waits for the ``ack``. When the connection drops (a crash, a
restart with 1012, 4000 for a client that fell behind, connection refused while the server is
down) it reconnects with exponential backoff and jitter, resumes with its token, reads ``sync``
and resends its unacknowledged decision under the same id unless the sync shows it. It gives up
after ``give_up`` seconds without a connection, and stops when the game is ``finished`` or
``ended``.

It is built to run by the thousand in one process: one task per bot, and no task, future, log
line or timer per message. Messages are handled in the event loop's read callback
(:mod:`gameserver.client.link`), decoded with orjson, and ``progress`` frames (the most common) are
recognised by their first bytes and skipped undecoded.

What it records: ``ack_latencies`` (seconds from sending a submit to receiving its ack),
``acks`` (round -> the message id and decision the round keeps, from every ack received),
``rounds`` (``round`` messages received), ``reconnects`` (connections re-established after a
drop), ``drops`` (connections lost mid-game, by close code; 1006 when none came), ``errors``
(by code). A :class:`RoundTimer` shared by the bots of one game measures rounds: from the moment
the last submit of a round was sent by any of them to the moment the last of them received that
round's ``round`` message.

The protocol's version, close codes, error codes and statuses come from
:mod:`gameserver.protocol`, the module the server speaks from; the client never imports the
server itself.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.uri import parse_uri

from gameserver.client.link import Link, open_link
from gameserver.client.timing import NO_THINK, RoundTimer, Think
from gameserver.game import Decision, Policy, View, apply_view_update
from gameserver.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    GameStatus,
    game_of_code,
    game_of_token,
)

__all__ = ["NO_THINK", "Bot", "BotError", "RoundTimer", "Think", "ws_url"]

#: Close codes after which coming back makes no sense.
FATAL_CLOSES: dict[int, str] = {
    CloseCode.MALFORMED: "the server found a frame malformed",
    CloseCode.TOO_BIG: "a message was over the server's size limit",
    CloseCode.SUPERSEDED: "superseded: the seat connected elsewhere",
    CloseCode.GAME_DELETED: "the game was deleted",
}
#: Errors after which a bot cannot take its seat.
FATAL_ERRORS = frozenset(
    {
        ErrorCode.BAD_TOKEN,
        ErrorCode.NOT_FOUND,
        ErrorCode.SEAT_TAKEN,
        ErrorCode.GAME_FULL,
        ErrorCode.NO_SUCH_ROLE,
        ErrorCode.WRONG_ROLE,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.SUPERSEDED,
    }
)
_OVER = frozenset(status for status in GameStatus if status.over)
#: After ``paused``, ``not_started`` and ``wrong_round`` a bot decides again once the round is
#: open: the refused decision was not saved.
_DECIDE_AGAIN = frozenset({ErrorCode.PAUSED, ErrorCode.NOT_STARTED, ErrorCode.WRONG_ROUND})
#: As a module constant (a read from the Enum class is a Python call on 3.11): every round.
_RUNNING = GameStatus.RUNNING

_PROGRESS = b'{"type":"progress"'
_NO_CLOSE_FRAME = 1006  # RFC 6455's code for a connection lost without a close frame
_SYNC_REQUEST = orjson.dumps({"type": "sync"})
_MAX_CONNECTS = 100_000  # a bound on the reconnect loop; give_up and max_seconds come first
_MAX_SAVE_RETRIES = 5
_MAX_HELLO_RETRIES = 8  # the server allows 10 hellos per connection


class BotError(Exception):
    """A bot cannot go on (a refused seat, a refused decision, no server for too long)."""


class _Reconnect(Exception):
    """Leave this connection and come back on a new one."""


def ws_url(url: str) -> str:
    """The WebSocket endpoint of a server given as ``http(s)://host:port`` or ``ws(s)://...``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(f"not an http://, https://, ws:// or wss:// URL with a host: {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/ws"):
        path += "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@dataclass(slots=True)
class _Pending:
    """A decision sent and not yet acknowledged."""

    round: int
    id: str
    decision: Decision
    sent: float = 0.0
    tries: int = 0


class Bot:
    """One player over one WebSocket at a time; :meth:`run` plays until the game is over.

    ``policy`` is a callable view -> decision, or a mapping role -> policy (the role is known
    once the server welcomes the bot). ``think`` is seconds, a ``(low, high)`` range drawn from
    a ``random.Random(seed)``, or a mapping role -> think time. ``backoff`` is the first and
    the longest pause between reconnection attempts. ``join_id`` is sent with every join (a
    random one by default), so a join whose welcome was lost gets its seat back. Messages are
    handled as they arrive, in the event loop's read callback (see
    :mod:`gameserver.client.link`); only :meth:`run` is a task.
    """

    def __init__(
        self,
        url: str,
        policy: Policy | Mapping[str, Policy],
        *,
        join: str | None = None,
        token: str | None = None,
        role: str | None = None,
        name: str | None = None,
        think: Think | float | tuple[float, float] | Mapping[str, Think] = 0.0,
        seed: int | str = 0,
        timer: RoundTimer | None = None,
        give_up: float = 60.0,
        max_seconds: float = 3600.0,
        backoff: tuple[float, float] = (0.05, 2.0),
        ping_interval: float | None = 20.0,
        open_timeout: float = 10.0,
        join_id: str | None = None,
    ) -> None:
        if (join is None) == (token is None):
            raise ValueError("a bot needs a join code or a token (exactly one)")
        self.url = ws_url(url)
        try:
            # ?game= names the game: a proxy in front of several servers routes by it.
            game = game_of_code(join) if join is not None else game_of_token(token or "")
            self._uri = parse_uri(f"{self.url}?{urlencode({'game': game})}")
        except InvalidURI as exc:
            raise ValueError(str(exc)) from None
        self._policies = policy
        self._thinks = think if isinstance(think, Mapping) else Think.of(think)
        self.join = join
        # Sent with every join: a join retried after its welcome was lost (a crash, a cut
        # link) gets its seat back instead of seat_taken.
        self.join_id = join_id if join_id is not None else secrets.token_urlsafe(24)
        self.token = token
        self.role = role
        self.name = name
        self.timer = timer
        self.give_up = give_up
        self.max_seconds = max_seconds
        self.backoff = backoff
        self.ping_interval = ping_interval
        self.open_timeout = open_timeout
        self._rng = random.Random(seed)
        self._policy: Policy | None = None
        self._think = NO_THINK
        self._link: Link | None = None
        self._later: asyncio.TimerHandle | None = None
        # What the bot knows of its game.
        self.game_id: str | None = None
        self.status: str | None = None
        self.round = 0
        self.open_round = 1
        self.view: View | None = None
        self._view_round = -1
        self._decided = 0  # the last round this bot decided for
        self._pending: _Pending | None = None
        self._seq = 0
        self._welcomed = False
        self._hello_retries = 0
        self.joined = asyncio.Event()
        self.done = False
        #: Set when the game is over for this bot (or it gave up): :func:`teams.play` waits
        #: for every bot's before it lets them go (:meth:`stay_until`).
        self.over = asyncio.Event()
        self._stay: asyncio.Event | None = None  # see stay_until
        self._leaving: asyncio.Task[None] | None = None
        # Figures.
        self.rounds = 0
        self.reconnects = 0
        self.connect_failures = 0
        self.confirmed = 0  # decisions whose ack was lost but which a sync showed saved
        self.errors: Counter[str] = Counter()
        self.drops: Counter[int] = Counter()  # connections lost while playing, by close code
        self.ack_latencies: list[float] = []
        # What each acknowledged round keeps (:attr:`acks`), in two dicts of what Python's
        # cycle collector does not track: a tuple a decision was most of what it scanned.
        self._acked_ids: dict[int, str] = {}
        self._acked_decisions: dict[int, Decision] = {}
        self.failure: str | None = None

    @property
    def acks(self) -> dict[int, tuple[str, Decision]]:
        """Round: ``(id, decision)`` of what the round keeps, for each acknowledged round."""
        decisions = self._acked_decisions
        return {round_no: (id_, decisions[round_no]) for round_no, id_ in self._acked_ids.items()}

    def stay_until(self, leave: asyncio.Event) -> None:
        """Once its game is over, stay connected (as a player stays on the debrief) until
        ``leave`` is set, then leave; see :func:`gameserver.client.teams.play`."""
        self._stay = leave

    # -- the connection loop --------------------------------------------------------------

    async def run(self) -> None:
        """Play until the game is over; :class:`BotError` when the bot cannot go on."""
        try:
            async with asyncio.timeout(self.max_seconds):
                await self._play()
        except TimeoutError:
            if self.done:
                return  # over, and staying for the others: time to leave
            self.failure = f"the game was not over after {self.max_seconds:g} s"
            raise BotError(self.failure) from None
        except BotError as exc:
            self.failure = str(exc)
            raise
        finally:
            self.over.set()

    async def _play(self) -> None:
        dropped_at: float | None = None
        attempt = 0
        for _ in range(_MAX_CONNECTS):
            self._welcomed = False
            try:
                problem = await self._connection()
            except (OSError, TimeoutError, InvalidHandshake, _Reconnect) as exc:
                problem = str(exc) or type(exc).__name__
            if not self._welcomed:
                self.connect_failures += 1
            if self.done:
                return
            now = time.monotonic()
            if self._welcomed or dropped_at is None:
                dropped_at, attempt = now, 0
            if now - dropped_at > self.give_up:
                raise BotError(f"no connection for {self.give_up:g} s; last: {problem}")
            first, longest = self.backoff
            pause = min(longest, first * 2 ** min(attempt, 30))
            attempt += 1
            await asyncio.sleep(pause / 2 + self._rng.uniform(0, pause / 2))
        raise BotError(f"gave up after {_MAX_CONNECTS} connections")

    async def _connection(self) -> str:
        """One connection, until it is lost; what ended it."""
        async with asyncio.timeout(self.open_timeout):
            link = await open_link(self._uri, self._on_message)
        self._link = link
        try:
            link.send(self._hello())
            await link.wait(self.ping_interval)
        finally:
            self._link = None
            if self._later is not None:
                self._later.cancel()
                self._later = None
            link.abort()
        if self.done:
            return "game over"
        code = link.close_code or _NO_CLOSE_FRAME
        self.drops[code] += 1
        if code in FATAL_CLOSES:
            raise BotError(f"closed with {code}: {FATAL_CLOSES[code]}")
        return f"connection closed with {code}"

    def _hello(self) -> bytes:
        # Each round's view as an update of the last, where the game gives one: a few hundred
        # bytes to read instead of a whole view that grows with the game.
        hello: dict[str, Any] = {"type": "hello", "v": PROTOCOL_VERSION, "view_updates": True}
        if self.token is not None:
            hello["token"] = self.token
        else:
            hello["join"] = self.join
            hello["join_id"] = self.join_id
            if self.role is not None:
                hello["role"] = self.role
            if self.name is not None:
                hello["name"] = self.name
        return orjson.dumps(hello)

    def _finish(self, link: Link) -> None:
        self.done = True
        self.over.set()
        stay = self._stay
        if stay is None or stay.is_set():
            link.close(CloseCode.NORMAL)
        elif self._leaving is None:
            self._leaving = asyncio.get_running_loop().create_task(self._leave(link, stay))

    async def _leave(self, link: Link, stay: asyncio.Event) -> None:
        await stay.wait()
        link.close(CloseCode.NORMAL)

    # -- messages (called by the link for each one, in the event loop's read callback) ----

    def _on_message(self, link: Link, raw: bytes) -> None:
        if raw.startswith(_PROGRESS):
            return
        message = orjson.loads(raw)
        kind = message.get("type")
        if kind == "round":
            self._on_round(link, message)
        elif kind == "ack":
            self._on_ack(message)
        elif kind == "sync":
            self._on_sync(link, message)
        elif kind == "status":
            self._learn(link, message)
            self._next(link)
        elif kind == "welcome":
            self._on_welcome(message)
        elif kind == "error":
            self._on_error(link, message)

    def _on_welcome(self, message: dict[str, Any]) -> None:
        self.token = message.get("token") or self.token
        self.role = message.get("role")
        self.game_id = message.get("game_id")
        if self.joined.is_set():
            self.reconnects += 1
        self._welcomed = True
        if self._policy is None:
            self._policy = self._for_role(self._policies, "policy")
            thinks = self._thinks
            self._think = (
                self._for_role(thinks, "think time") if isinstance(thinks, Mapping) else thinks
            )
        self.joined.set()

    def _for_role(self, choice: Any, what: str) -> Any:
        if not isinstance(choice, Mapping):
            return choice
        if self.role not in choice:
            raise BotError(f"no {what} for the role {self.role!r} this bot was given")
        return choice[self.role]

    def _learn(self, link: Link, message: dict[str, Any]) -> None:
        self.status = message.get("status", self.status)
        self.round = message.get("round", self.round)
        self.open_round = message.get("open_round", self.open_round)
        if self.status in _OVER:
            self._finish(link)

    def _on_sync(self, link: Link, message: dict[str, Any]) -> None:
        self._learn(link, message)
        self.view = message.get("view")
        self._view_round = self.round
        if self.timer is not None:
            self.timer.seen(self.round)
        pending = self._pending
        if pending is not None and not self.done:
            if pending.round != self.open_round:
                self._pending = None  # that round closed while this bot was away
            elif message.get("decision_id") == pending.id:
                self._pending = None  # saved before the drop; its ack was lost with it
                self.confirmed += 1
                return
            elif self.status == _RUNNING:
                self._send(link, pending)  # the same id: harmless if it was saved after all
                return
            else:
                self._pending = None
                self._decided = pending.round - 1
        self._next(link)

    def _on_round(self, link: Link, message: dict[str, Any]) -> None:
        at = time.perf_counter()
        self.rounds += 1
        self._learn(link, message)
        if self.timer is not None:
            self.timer.viewed(self.round, at)
        update = message.get("view_update")
        if update is None:
            self.view = message.get("view")
        elif self.view is not None and self._view_round == self.round - 1:
            # The bot's own view (read from the message), grown in place: copying its history
            # every round cost 2-9% of the bots' CPU over 36 weeks.
            self.view = apply_view_update(self.view, update, in_place=True)
        else:
            self.view = None  # not the view this updates: _next asks for a sync
        self._view_round = self.round
        if self._pending is not None and self._pending.round <= self.round:
            self._pending = None  # closed without it (a deadline, or a facilitator)
        self._next(link)

    def _on_ack(self, message: dict[str, Any]) -> None:
        pending = self._pending
        if pending is None or message.get("id") != pending.id:
            return
        self.ack_latencies.append(time.perf_counter() - pending.sent)
        # The ack says what the round keeps: a newer id of this round may have replaced the
        # one acknowledged (``superseded_by``, with the decision kept); a resend of what the
        # last closed round used comes back with no decision, and that is the one sent.
        decision = message.get("decision")
        kept = message.get("superseded_by") or pending.id
        self._acked_ids[pending.round] = kept
        self._acked_decisions[pending.round] = pending.decision if decision is None else decision
        self._pending = None

    def _on_error(self, link: Link, message: dict[str, Any]) -> None:
        code = str(message.get("code"))
        self.errors[code] += 1
        pending = self._pending
        if pending is None or message.get("id") != pending.id:
            if code == ErrorCode.SEAT_TAKEN and self._open_join_retry():
                # Open join without a role: another player took the free seat this hello was
                # given between the server's choice and its claim; ask again on this connection.
                link.send(self._hello())
                return
            if code in FATAL_ERRORS:
                raise BotError(f"{code}: {message.get('message')}")
            if code == ErrorCode.STORAGE_FAILURE and not self._welcomed:
                raise _Reconnect("the server could not save the seat")
            return
        if code == ErrorCode.STORAGE_FAILURE and pending.tries < _MAX_SAVE_RETRIES:
            self._after(0.05 * pending.tries, self._send, link, pending)
            return
        self._pending = None
        if code == ErrorCode.ROUND_CLOSED:
            return  # the round message says what happened
        if code == ErrorCode.GAME_OVER:
            self._finish(link)
            return
        if code in _DECIDE_AGAIN:
            self._decided = pending.round - 1
            link.send(_SYNC_REQUEST)
            return
        raise BotError(
            f"{self.role}: decision {pending.decision} for round {pending.round} refused: "
            f"{code}: {message.get('message')}"
        )

    def _open_join_retry(self) -> bool:
        if self.token is not None or self.role is not None or self._welcomed:
            return False
        self._hello_retries += 1
        return self._hello_retries <= _MAX_HELLO_RETRIES

    # -- deciding -------------------------------------------------------------------------

    def _next(self, link: Link) -> None:
        """Decide for the open round if that is due and not done yet."""
        if (
            self.done
            or self.status != _RUNNING
            or self._pending is not None
            or self._later is not None  # thinking already
            or self._decided >= self.open_round
        ):
            return
        if self._view_round != self.open_round - 1 or self.view is None:
            link.send(_SYNC_REQUEST)  # a status message carries no view
            return
        think = self._think.draw(self._rng) if self._think.high else 0.0
        if think:
            self._after(think, self._decide, link, self.open_round, self.view)
        else:
            self._decide(link, self.open_round, self.view)

    def _decide(self, link: Link, round_no: int, view: View) -> None:
        policy = self._policy
        if policy is None:
            raise BotError("the server sent a view before its welcome")
        self._decided = round_no
        self._seq += 1
        pending = _Pending(round_no, f"{round_no}.{self._seq}", policy(view))
        self._pending = pending
        self._send(link, pending)

    def _send(self, link: Link, pending: _Pending) -> None:
        pending.sent = time.perf_counter()
        pending.tries += 1
        if self.timer is not None:
            self.timer.submitted(pending.round, pending.sent)
        frame = {
            "type": "submit",
            "round": pending.round,
            "id": pending.id,
            "decision": pending.decision,
        }
        link.send(orjson.dumps(frame))

    def _after(self, delay: float, call: Callable[..., None], link: Link, *args: Any) -> None:
        """``call(link, *args)`` in ``delay`` seconds, unless this connection is gone by then;
        what it raises fails the connection, as a message handler's would."""
        # A bound method and its arguments, not a closure made for every decision; the loop
        # is the link's (on Python 3.11 each get_running_loop() is a getpid() system call).
        self._later = link.loop.call_later(delay, self._fire, link, call, args)

    def _fire(self, link: Link, call: Callable[..., None], args: tuple[Any, ...]) -> None:
        self._later = None
        if link is not self._link or self.done:
            return
        try:
            call(link, *args)
        except Exception as exc:
            link.fail(exc)
