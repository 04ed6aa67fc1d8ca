"""One game in memory: its seats, its round machine, and everyone connected to it.

A room is the single owner of its game. Everything that changes the game (a decision, a round
closing, start, pause, end) runs on the event loop under the room's lock where it awaits, never
under a lock over the whole server. The rule throughout is *save, then tell*: a decision is
acknowledged, and a new round is sent, only after the store has made it durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from gameserver import messages, protocol
from gameserver.connection import Connection
from gameserver.errors import Conflict, GameServerError, StorageFailure
from gameserver.game import Decision, Game, State
from gameserver.seat import (
    CREATED,
    ENDED,
    FINISHED,
    IN_PROGRESS,
    PAUSED,
    RUNNING,
    SNAPSHOT_VERSION,
    Pending,
    Seat,
)
from storage import StoredGame

if TYPE_CHECKING:
    from gameserver.hub import Hub

log = logging.getLogger("gameserver.room")


class Room:
    """A game loaded in memory. Built by the hub from stored data or a new game."""

    def __init__(self, hub: Hub, game: Game, data: dict[str, Any], pending: dict[str, Pending]):
        self.hub = hub
        self.game = game
        self.game_id: str = data["game_id"]
        self.kind: str = data["kind"]
        self.title: str = data.get("title") or ""
        self.settings: dict[str, Any] = data["settings"]
        self.seed: int = data["seed"]
        self.state: State = data["state"]
        self.status: str = data["status"]
        self.seats: dict[str, Seat] = {s["role"]: Seat.from_data(s) for s in data["seats"]}
        self.open_code: str | None = data.get("open_code")
        self.facilitator_hash: str = data["facilitator_hash"]
        self.session_id: str | None = data.get("session_id")
        self.session_hash: str | None = data.get("session_hash")
        self.round_seconds: float | None = data.get("round_seconds")
        self.deadline: float | None = data.get("deadline")
        self.paused_remaining: float | None = data.get("paused_remaining")
        self.created_at: float = data["created_at"]
        self.cloned_from: dict[str, Any] | None = data.get("cloned_from")
        self.last_round_ids: dict[str, str] = data.get("last_round_ids") or {}
        self.restored_at: float | None = None
        self.pending: dict[str, Pending] = pending
        self.watchers: list[Connection] = []
        self.lock = asyncio.Lock()
        self.closing = False
        self.last_active = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._submit_seq: dict[str, int] = {}
        self._progress_due = False

    # -- persistence ----------------------------------------------------------------------

    @property
    def round(self) -> int:
        """Rounds completed."""
        return self.game.current_round(self.state)

    @property
    def open_round(self) -> int:
        """The round decisions are collected for."""
        return self.round + 1

    def to_data(self) -> dict[str, Any]:
        return {
            "v": SNAPSHOT_VERSION,
            "game_id": self.game_id,
            "kind": self.kind,
            "title": self.title,
            "settings": self.settings,
            "seed": self.seed,
            "state": self.state,
            "status": self.status,
            "seats": [s.to_data() for s in self.seats.values()],
            "open_code": self.open_code,
            "facilitator_hash": self.facilitator_hash,
            "session_id": self.session_id,
            "session_hash": self.session_hash,
            "round_seconds": self.round_seconds,
            "deadline": self.deadline,
            "paused_remaining": self.paused_remaining,
            "created_at": self.created_at,
            "cloned_from": self.cloned_from,
            "last_round_ids": self.last_round_ids,
        }

    def stored(self, data: dict[str, Any] | None = None) -> StoredGame:
        data = data if data is not None else self.to_data()
        return StoredGame(
            game_id=self.game_id,
            kind=self.kind,
            status=data["status"],
            in_progress=data["status"] in IN_PROGRESS,
            round=self.game.current_round(data["state"]),
            created_at=self.created_at,
            updated_at=time.time(),
            data=data,
        )

    async def save(self) -> None:
        try:
            await self.hub.store.save_game(self.stored())
        except Exception as exc:
            log.exception("save failed game=%s", self.game_id)
            raise StorageFailure(f"could not save game {self.game_id}: {exc}") from exc

    def touch(self) -> None:
        self.last_active = time.monotonic()

    # -- who is here ----------------------------------------------------------------------

    def online(self) -> list[str]:
        return [r for r, s in self.seats.items() if s.connections or s.bot]

    def submitted(self) -> list[str]:
        return [r for r in self.seats if r in self.pending]

    def has_connections(self) -> bool:
        return bool(self.watchers) or any(s.connections for s in self.seats.values())

    def attach(self, conn: Connection, seat: str | None) -> None:
        """Add a connection; a newer connection to a seat supersedes the older one."""
        self.touch()
        conn.game_id = self.game_id
        conn.seat = seat
        if seat is None:
            conn.kind = "facilitator"
            self.watchers.append(conn)
        else:
            holder = self.seats[seat]
            for old in holder.connections:
                old.send(protocol.error_message("superseded", "this seat connected elsewhere"))
                old.close(4002)
            was_online = bool(holder.connections)
            holder.connections = [conn]
            if not was_online:
                self.broadcast_progress()
        conn.send(protocol.encode(self.sync_message(seat)))

    def detach(self, conn: Connection) -> None:
        if conn.seat is None:
            if conn in self.watchers:
                self.watchers.remove(conn)
            return
        holder = self.seats.get(conn.seat)
        if holder and conn in holder.connections:
            holder.connections.remove(conn)
            if not holder.connections:
                self.broadcast_progress()

    # -- messages -------------------------------------------------------------------------

    def sync_message(self, seat: str | None) -> dict[str, Any]:
        """The full picture a client gets on every (re)connection."""
        return messages.sync(self, seat)

    def broadcast(self, data: bytes) -> None:
        for seat in self.seats.values():
            for conn in seat.connections:
                conn.send(data)
        for conn in self.watchers:
            conn.send(data)

    def broadcast_progress(self) -> None:
        """Tell everyone who has submitted and who is online, once per turn of the event loop.

        Decisions saved in one group commit resume together, so their progress goes out as one
        broadcast; and none goes out for a round that is closing, whose ``round`` message says
        the same. Sends are the server's biggest cost, so this matters under load.
        """
        if not self._progress_due:
            self._progress_due = True
            asyncio.get_running_loop().call_soon(self._send_progress)

    def _send_progress(self) -> None:
        self._progress_due = False
        if self.closing:
            return
        message = {
            "type": "progress",
            "round": self.round,
            "open_round": self.open_round,
            "submitted": self.submitted(),
            "online": self.online(),
            "bots": [r for r, s in self.seats.items() if s.bot],
        }
        self.broadcast(protocol.encode(message))

    def broadcast_status(self) -> None:
        msg = messages.common(self)
        msg["type"] = "status"
        self.broadcast(protocol.encode(msg))

    def _send_views(self) -> None:
        """After a round: each player its own view (encoded per seat), watchers one copy."""
        common = messages.common(self)
        common["type"] = "round"
        for role, seat in self.seats.items():
            if seat.connections:
                msg = dict(common, role=role, view=self.game.view(self.state, role))
                data = protocol.encode(msg)
                for conn in seat.connections:
                    conn.send(data)
        if self.watchers:
            view = self.game.facilitator_view(self.state)
            total = self.game.total_rounds(self.state)
            data = protocol.encode(dict(common, role=None, view=view, total_rounds=total))
            for conn in self.watchers:
                conn.send(data)

    # -- decisions ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.status == CREATED:
            raise Conflict("the game has not started yet", code="not_started")
        if self.status == PAUSED:
            raise Conflict("the game is paused", code="paused")
        if self.status in (FINISHED, ENDED):
            raise Conflict("the game is over", code="game_over")

    async def submit(self, seat: str, round_no: int, msg_id: str, raw: Any) -> dict[str, Any]:
        """Record a seat's decision durably and return the ack; close the round when all
        seats are in. Raises a :class:`GameServerError` the caller turns into an ``error``."""
        self.touch()
        if round_no < self.open_round or (round_no == self.open_round and self.closing):
            if round_no == self.round and self.last_round_ids.get(seat) == msg_id:
                # A resend of a decision the last round already used: ack it again.
                return {"type": "ack", "id": msg_id, "round": round_no, "duplicate": True}
            raise Conflict(
                f"round {round_no} is closed; decisions are now for round {self.open_round}",
                code="round_closed",
            )
        if round_no > self.open_round:
            raise Conflict(
                f"round {round_no} has not opened; decisions are for round {self.open_round}",
                code="wrong_round",
            )
        self._check_open()
        current = self.pending.get(seat)
        if current is not None and current.msg_id == msg_id:
            return {
                "type": "ack",
                "id": msg_id,
                "round": round_no,
                "decision": current.decision,
                "duplicate": True,
            }
        decision = self.game.validate_decision(self.state, seat, raw)
        seq = self._submit_seq.get(seat, 0) + 1
        self._submit_seq[seat] = seq
        now = time.time()
        started = time.perf_counter()
        try:
            await self.hub.store.save_decision(
                self.game_id, round_no, seat, {"decision": decision, "id": msg_id, "at": now}
            )
        except Exception as exc:
            log.exception("decision save failed game=%s seat=%s", self.game_id, seat)
            raise StorageFailure(f"your decision could not be saved: {exc}") from exc
        self.hub.metrics.observe_save(time.perf_counter() - started)
        if self.open_round != round_no or self.closing or self.status != RUNNING:
            raise Conflict(
                f"round {round_no} closed before your decision was saved",
                code="round_closed",
            )
        if self._submit_seq[seat] == seq:
            self.pending[seat] = Pending(decision, msg_id, now)
        self.hub.metrics.decisions += 1
        ack = {"type": "ack", "id": msg_id, "round": round_no, "decision": decision}
        return ack

    def all_in(self) -> bool:
        return self.status == RUNNING and all(role in self.pending for role in self.seats)

    async def after_submit(self) -> None:
        """Tell everyone who has submitted; close the round if that was the last seat."""
        if self.all_in():
            await self.close_round("all_submitted")
        else:
            self.broadcast_progress()

    async def close_round(self, reason: str) -> bool:
        """Play the open round with the decisions in (defaults for the rest), save, then send
        each player its new view. False if there was nothing to close."""
        async with self.lock:
            if self.status not in (RUNNING, PAUSED) or self.closing:
                return False
            if reason == "deadline" and self.status != RUNNING:
                return False
            if reason == "all_submitted" and not self.all_in():
                return False
            self.closing = True
            try:
                await self._close_round_locked(reason)
            finally:
                self.closing = False
        return True

    async def _close_round_locked(self, reason: str) -> None:
        self._cancel_timer()
        round_no = self.open_round
        decisions: dict[str, Decision] = {}
        defaulted: list[str] = []
        for role in self.seats:
            got = self.pending.get(role)
            if got is None:
                decisions[role] = self.game.default_decision(self.state, role)
                defaulted.append(role)
            else:
                decisions[role] = got.decision
        new_state = self.game.step(self.state, decisions)
        over = self.game.is_over(new_state)
        now = time.time()
        ids = {role: p.msg_id for role, p in self.pending.items()}
        record = {
            "round": round_no,
            "decisions": decisions,
            "defaulted": defaulted,
            "ids": ids,
            "closed_by": reason,
            "at": now,
            "summary": self.game.round_summary(new_state),
        }
        data = self.to_data()
        data["state"] = new_state
        data["last_round_ids"] = ids
        if over:
            data["status"] = FINISHED
            data["deadline"] = None
            data["paused_remaining"] = None
        elif self.status == RUNNING:
            data["deadline"] = now + self.round_seconds if self.round_seconds else None
        else:  # closed by the facilitator while paused: the next round's clock waits too
            data["deadline"] = None
            data["paused_remaining"] = self.round_seconds
        started = time.perf_counter()
        try:
            await self.hub.store.append_round(self.game_id, round_no, record, self.stored(data))
        except Exception as exc:
            log.exception("round save failed game=%s round=%s", self.game_id, round_no)
            raise StorageFailure(f"round {round_no} could not be saved: {exc}") from exc
        self.hub.metrics.observe_save(time.perf_counter() - started)
        self.state = new_state
        self.status = data["status"]
        self.deadline = data["deadline"]
        self.paused_remaining = data["paused_remaining"]
        self.last_round_ids = ids
        self.pending = {}
        self._submit_seq.clear()
        self.hub.metrics.rounds += 1
        log.info(
            "round closed game=%s round=%d by=%s defaulted=%s%s",
            self.game_id,
            round_no,
            reason,
            ",".join(defaulted) or "-",
            " finished" if over else "",
        )
        self._arm_timer()
        self._send_views()
        self.schedule_bots()

    # -- changes made by the facilitator (see gameserver.controls) ------------------------

    async def change(self, **changes: Any) -> None:
        """Apply status/deadline changes durably, then tell everyone."""
        before = {k: getattr(self, k) for k in changes}
        for k, v in changes.items():
            setattr(self, k, v)
        try:
            await self.save()
        except GameServerError:
            for k, v in before.items():
                setattr(self, k, v)
            raise
        self._arm_timer()
        self.broadcast_status()

    # -- bot seats ------------------------------------------------------------------------

    def schedule_bots(self) -> None:
        """Let server-side bots decide for their seats in the open round (in the background)."""
        if self.status == RUNNING and any(
            s.bot and r not in self.pending for r, s in self.seats.items()
        ):
            self.hub.spawn(self._bots_decide(self.open_round), f"bots {self.game_id}")

    async def _bots_decide(self, round_no: int) -> None:
        from gameserver.games import make_policy

        submitted = False
        for role, seat in self.seats.items():
            if not seat.bot or role in self.pending:
                continue
            if self.status != RUNNING or self.open_round != round_no or self.closing:
                return
            policy = make_policy(self.kind, seat.bot["policy"], **(seat.bot.get("params") or {}))
            decision = policy(self.game.view(self.state, role))
            try:
                await self.submit(role, round_no, f"bot-{round_no}-{role}", decision)
            except GameServerError as exc:
                log.warning("bot seat game=%s role=%s: %s", self.game_id, role, exc)
                return
            submitted = True
        if submitted:
            await self.after_submit()

    # -- timers ---------------------------------------------------------------------------

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm_timer(self) -> None:
        self._cancel_timer()
        if self.status != RUNNING or self.deadline is None:
            return
        delay = max(0.0, self.deadline - time.time())
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._timer = None
        self.hub.spawn(self.close_round("deadline"), f"deadline {self.game_id}")

    @property
    def timer_armed(self) -> bool:
        return self._timer is not None

    def revive(self, grace: float) -> None:
        """Carry on after coming back into memory (a restart, or a load on access).

        A deadline that passed while the server was down gets ``grace`` rather than firing at
        once; bot seats decide; and a round whose decisions were all saved before a crash,
        but which did not close, closes now (resends of those decisions are duplicates and
        would never close it).
        """
        if self.status == RUNNING and self.deadline is not None:
            self.deadline = max(self.deadline, time.time() + grace)
        self._arm_timer()
        self.schedule_bots()
        if self.all_in():
            self.hub.spawn(self.close_round("all_submitted"), f"close {self.game_id}")

    def stop(self) -> None:
        self._cancel_timer()
