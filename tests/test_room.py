"""The round machine driven by plain function calls: no event loop, no sockets, no storage.

A :class:`Harness` plays the driver: it keeps the saves a room asks for, completes (or fails)
them when the test says, and records every effect. The property test drives a room with random
sequences of events and checks what must always hold: one kept decision per seat and round
(the last one acknowledged), each round closed exactly once and in order, and nothing told
before the save it tells of has completed.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gameserver.errors import CloseCode, ErrorCode, GameServerError, StorageFailure
from gameserver.game import apply_view_update
from gameserver.games import get_game
from gameserver.games.beer import BeerGame as BeerGameForRoom
from gameserver.protocol import (
    GameStatus,
)
from gameserver.server import changes
from gameserver.server import events as ev
from gameserver.server.records import BotSeat, GameRecord, PendingDecision, SeatRecord
from gameserver.server.room import Room

ROLES = ["retailer", "wholesaler", "distributor", "factory"]
T0 = 1_800_000_000.0


def beer_record(weeks: int = 6, round_seconds: float | None = None, **changes: Any) -> GameRecord:
    game = get_game("beer")
    settings = game.validate_settings({"weeks": weeks})
    record = GameRecord(
        game_id="G1",
        kind="beer",
        title="",
        settings=settings,
        seed=7,
        state=game.initial_state(settings, 7),
        status=GameStatus.CREATED,
        seats=tuple(SeatRecord(role, f"G1-{n}") for n, role in enumerate(ROLES)),
        facilitator_hash="x",
        created_at=T0,
        round_seconds=round_seconds,
    )
    return replace(record, **changes)


@dataclass(eq=False)
class Peer:
    """A connection as the room sees it: something to address effects to."""

    name: str
    got: list[Any] = field(default_factory=list)
    closed: int | None = None


class Harness:
    """Plays the driver: effects in order, saves held until the test completes them."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.now = T0
        self.saves: list[ev.Save] = []  # asked for, not completed
        self.effects: list[ev.Effect] = []
        self.timer: float | None = None
        self.results: dict[int, Any] = {}
        self.progress_due = False
        #: Decision saves asked for this turn of the loop, not handed to the store yet.
        self.undispatched: list[ev.SaveDecision] = []

    def handle(self, event: ev.Event) -> list[ev.Effect]:
        if isinstance(event, ev.TimerFired):
            self.timer = None  # a timer fires once
        out = self.room.handle(event, self.now)
        self.effects += out
        for effect in out:
            if isinstance(effect, ev.SaveDecision | ev.SaveRound | ev.SaveGame):
                self.saves.append(effect)
                if isinstance(effect, ev.SaveDecision):
                    self.undispatched.append(effect)
            elif isinstance(effect, ev.Send):
                for peer in effect.to:
                    assert isinstance(peer, Peer)
                    peer.got.append(effect.message)
            elif isinstance(effect, ev.Close):
                assert isinstance(effect.peer, Peer)
                effect.peer.closed = effect.code
            elif isinstance(effect, ev.SetTimer):
                self.timer = effect.at
            elif isinstance(effect, ev.ProgressDue):
                self.progress_due = True
            elif isinstance(effect, ev.Resolve):
                self.results[id(effect.ref)] = ("ok", effect.result)
            elif isinstance(effect, ev.Reject):
                self.results[id(effect.ref)] = ("error", effect.error)
        return out

    def end_turn(self) -> list[ev.Effect]:
        """The loop turn ends, as the driver's decision batch does: the room may close its
        round with the decisions not handed to the store yet (then they are not saved alone)."""
        saves, self.undispatched = self.undispatched, []
        if not saves:
            return []
        out = self.handle(ev.TurnEnded(saves))
        for effect in out:
            if isinstance(effect, ev.SaveRound):
                for carried in effect.carries:
                    self.saves.remove(carried)
        return out

    def complete(self, save: ev.Save | None = None, *, fail: bool = False) -> list[ev.Effect]:
        save = save if save is not None else self.saves[0]
        self.saves.remove(save)
        if save in self.undispatched:
            self.undispatched.remove(save)
        if fail:
            return self.handle(ev.SaveFailed(save, StorageFailure("disk full")))
        return self.handle(ev.Saved(save))

    def complete_all(self) -> None:
        while self.saves:
            self.complete()

    def command(self, make: Any) -> Any:
        ref = object()
        self.handle(make(ref))
        self.complete_all()
        return self.results.get(id(ref))

    def flush_progress(self) -> None:
        if self.progress_due:
            self.progress_due = False
            self.handle_effects(self.room.progress())

    def handle_effects(self, effects: list[ev.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ev.Send):
                for peer in effect.to:
                    assert isinstance(peer, Peer)
                    peer.got.append(effect.message)


def started(**kw: Any) -> tuple[Harness, dict[str, Peer]]:
    room = Room(get_game("beer"), beer_record(**kw))
    h = Harness(room)
    peers = {role: Peer(role) for role in ROLES}
    for role, peer in peers.items():
        h.handle(ev.Connect(peer, role))
    assert h.command(ev.Start) == ("ok", None)
    return h, peers


def submit(h: Harness, peer: Peer, role: str, order: int, msg_id: str, round_no: int = 1) -> None:
    h.handle(ev.Submit(peer, role, round_no, msg_id, {"order": order}))


def of(peer: Peer, kind: str) -> list[Any]:
    """The messages of type ``kind`` the peer was sent (a round's view is ``"round"``)."""
    return [m for m in peer.got if m["type"] == kind]


# -- decisions --------------------------------------------------------------------------------


def test_a_decision_is_acknowledged_only_after_its_save() -> None:
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 8, "a")
    assert of(peers["retailer"], "ack") == []
    assert [type(s) for s in h.saves] == [ev.SaveDecision]
    h.complete()
    (ack,) = of(peers["retailer"], "ack")
    assert (ack["id"], ack["round"], ack["decision"], ack["duplicate"]) == (
        "a",
        1,
        {"order": 8},
        False,
    )
    assert h.room.submitted() == ["retailer"]


def test_the_last_decision_closes_the_round_and_views_go_out_after_its_save() -> None:
    h, peers = started()
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, 4 + n, f"m{n}")
    for _ in ROLES:
        h.complete(next(s for s in h.saves if isinstance(s, ev.SaveDecision)))
    (closing,) = h.saves
    assert isinstance(closing, ev.SaveRound)
    assert closing.record.decisions["wholesaler"] == {"order": 5}
    assert closing.record.defaulted == () and closing.record.closed_by == "all_submitted"
    assert all(of(p, "round") == [] for p in peers.values())
    h.complete()
    for role, peer in peers.items():
        (message,) = of(peer, "round")
        assert message["role"] == role and message["round"] == 1 and message["open_round"] == 2
    assert h.room.round == 1 and h.room.pending == {}


def test_a_connection_taking_updates_gets_the_round_as_an_update_of_its_view() -> None:
    h, peers = started()
    taker = Peer("updates")
    h.handle(ev.Connect(taker, "retailer", updates=True))  # supersedes the retailer's first
    before = taker.got[0]["view"]
    for n, role in enumerate(ROLES):
        submit(h, taker if role == "retailer" else peers[role], role, 4 + n, f"m{n}")
    h.complete_all()
    (update,) = of(taker, "round")
    assert "view" not in update and update["round"] == 1
    assert apply_view_update(before, update["view_update"]) == h.room.game.view(
        h.room.record.state, "retailer"
    )
    assert "view_update" not in of(peers["wholesaler"], "round")[0]
    # the next connection on the seat, without updates, gets whole views again
    plain = Peer("plain")
    h.handle(ev.Connect(plain, "retailer"))
    for n, role in enumerate(ROLES):
        submit(h, plain if role == "retailer" else peers[role], role, 4, f"n{n}", round_no=2)
    h.complete_all()
    assert "view" in of(plain, "round")[0] and of(taker, "round") == [update]


class _NoUpdates(BeerGameForRoom):
    def view_update(self, state: Any, role: str) -> None:
        return None


def test_a_game_that_gives_no_update_sends_the_whole_view_to_those_asking() -> None:
    h = Harness(Room(_NoUpdates(), beer_record()))
    peers = {role: Peer(role) for role in ROLES}
    for role, peer in peers.items():
        h.handle(ev.Connect(peer, role, updates=True))
    assert h.command(ev.Start) == ("ok", None)
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, 4 + n, f"m{n}")
    h.complete_all()
    for peer in peers.values():
        (message,) = of(peer, "round")
        assert message["view"] and "view_update" not in message


def three_saved(round_seconds: float | None = None) -> tuple[Harness, dict[str, Peer]]:
    """A started game whose retailer, wholesaler and distributor decided round 1, saved."""
    h, peers = started(round_seconds=round_seconds)
    for n, role in enumerate(ROLES[:3]):
        submit(h, peers[role], role, 5 + n, f"{role}-1")
    h.complete_all()
    return h, peers


def test_the_decision_that_completes_a_round_is_saved_with_the_round() -> None:
    h, peers = three_saved()
    submit(h, peers["factory"], "factory", 11, "last")
    h.end_turn()
    # One save, the round's, which holds the decision; nothing told before it completes.
    (save,) = h.saves
    assert isinstance(save, ev.SaveRound) and [c.pending.id for c in save.carries] == ["last"]
    assert save.record.decisions["factory"] == {"order": 11}
    assert save.record.ids["factory"] == "last"
    assert of(peers["factory"], "ack") == [] and of(peers["retailer"], "round") == []
    # A resend meanwhile is answered by the ack that follows the save, not before.
    submit(h, peers["factory"], "factory", 11, "last")
    assert len(h.saves) == 1 and of(peers["factory"], "ack") == []
    h.complete()
    (acked,) = of(peers["factory"], "ack")
    assert (acked["id"], acked["round"], acked["decision"]) == ("last", 1, {"order": 11})
    assert peers["factory"].got.index(acked) < peers["factory"].got.index(
        of(peers["factory"], "round")[0]
    )
    assert all(len(of(peer, "round")) == 1 for peer in peers.values())
    assert h.room.round == 1 and h.room.pending == {}


def test_when_a_round_saved_with_its_last_decision_fails_that_player_is_told() -> None:
    h, peers = three_saved(round_seconds=60)
    submit(h, peers["factory"], "factory", 11, "last")
    h.end_turn()
    h.complete(fail=True)
    (error,) = of(peers["factory"], "error")
    assert error["code"] == ErrorCode.STORAGE_FAILURE and error["id"] == "last"
    assert of(peers["factory"], "ack") == [] and of(peers["retailer"], "round") == []
    # The round stays open with the three saved decisions; no retry closes it without the
    # fourth: the deadline still stands, and the player's resend closes it.
    assert h.room.round == 0 and not h.room.closing and sorted(h.room.pending) == sorted(ROLES[:3])
    assert h.timer == h.room.record.deadline
    submit(h, peers["factory"], "factory", 11, "last")
    h.end_turn()
    h.complete_all()
    assert h.room.round == 1 and of(peers["factory"], "ack")[-1]["id"] == "last"


def test_decisions_that_complete_a_round_in_one_turn_are_saved_with_it_alone() -> None:
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 3, "r-old")
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, 5 + n, f"{role}-new")
    assert [type(s) for s in h.saves] == [ev.SaveDecision] * 5
    h.end_turn()
    (save,) = h.saves  # the five decision saves ride with the round: one write
    assert isinstance(save, ev.SaveRound) and len(save.carries) == 5
    assert save.record.decisions == {role: {"order": 5 + n} for n, role in enumerate(ROLES)}
    assert all(of(peer, "ack") == [] for peer in peers.values())
    h.complete()
    assert [a["id"] for a in of(peers["retailer"], "ack")] == ["r-old", "retailer-new"]
    for role in ROLES[1:]:
        assert [a["id"] for a in of(peers[role], "ack")] == [f"{role}-new"]
    assert all(len(of(peer, "round")) == 1 for peer in peers.values())


def test_decisions_of_a_turn_that_do_not_complete_the_round_are_saved_alone() -> None:
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 3, "early")
    h.end_turn()  # not every seat: nothing changes
    assert [type(s) for s in h.saves] == [ev.SaveDecision]
    h.complete()
    assert [a["id"] for a in of(peers["retailer"], "ack")] == ["early"] and h.room.round == 0


def one_being_saved() -> tuple[Harness, dict[str, Peer], ev.SaveDecision, ev.SaveRound]:
    """The retailer's decision is with the store when the other three complete the round in
    the next turn: the round is saved at once, behind it, holding all four."""
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 3, "early")
    h.end_turn()
    (early,) = h.saves
    assert isinstance(early, ev.SaveDecision)
    for role in ROLES[1:]:
        submit(h, peers[role], role, 4, f"{role}-1")
    h.end_turn()
    assert h.saves[0] is early
    (closing,) = h.saves[1:]
    assert isinstance(closing, ev.SaveRound) and closing.joins == (early,)
    assert [c.pending.id for c in closing.carries] == [f"{role}-1" for role in ROLES[1:]]
    assert closing.record.decisions["retailer"] == {"order": 3}
    assert closing.record.ids["retailer"] == "early"
    return h, peers, early, closing


def test_a_round_completed_while_one_of_its_decisions_is_saved_goes_out_behind_it() -> None:
    h, peers, early, closing = one_being_saved()
    h.complete(early)
    assert [a["id"] for a in of(peers["retailer"], "ack")] == ["early"]
    assert all(of(peer, "round") == [] for peer in peers.values())
    h.complete(closing)
    assert h.room.round == 1 and h.room.pending == {}
    for role, peer in peers.items():
        assert len(of(peer, "ack")) == 1 and len(of(peer, "round")) == 1
        assert peer.got.index(of(peer, "ack")[0]) < peer.got.index(of(peer, "round")[0]), role


def test_no_progress_follows_a_round_message_that_says_the_same() -> None:
    # The early decision is heard of in the turn its round goes out: the progress it makes due
    # would repeat the round message's round, submitted, online and bots, so none is sent.
    h, peers, early, closing = one_being_saved()
    h.complete(early)
    h.complete(closing)
    assert h.progress_due
    h.flush_progress()
    for peer in peers.values():
        assert peer.got[-1]["type"] == "round" and of(peer, "progress") == []
    # What changes afterwards goes out as before.
    submit(h, peers["factory"], "factory", 4, "factory-2", round_no=2)
    h.complete_all()
    h.flush_progress()
    for peer in peers.values():
        assert of(peer, "progress")[-1]["submitted"] == ["factory"]


def test_a_progress_goes_out_after_a_sync_even_if_it_says_what_the_last_did() -> None:
    # A connection synced in the meantime may know something else: say it again to all.
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 4, "r-1")
    h.complete_all()
    h.flush_progress()
    assert len(of(peers["factory"], "progress")) == 1
    h.handle(ev.RequestSync(peers["wholesaler"]))
    h.progress_due = True  # as a connection coming and going within one turn would make it
    h.flush_progress()
    assert len(of(peers["factory"], "progress")) == 2
    h.progress_due = True
    h.flush_progress()  # nothing new since, and nobody synced: nothing sent
    assert len(of(peers["factory"], "progress")) == 2


def test_a_round_saved_before_a_decision_it_joins_is_taken_after_that_decision() -> None:
    # A store may finish the round's write first: the room tells nothing until it hears of
    # the decision, then acks it before the views.
    h, peers, early, closing = one_being_saved()
    h.complete(closing)
    assert h.room.round == 0 and h.room.closing
    assert all(of(peer, "ack") == [] and of(peer, "round") == [] for peer in peers.values())
    h.complete(early)
    assert h.room.round == 1 and not h.room.closing
    for peer in peers.values():
        assert len(of(peer, "ack")) == 1 and len(of(peer, "round")) == 1
        assert peer.got.index(of(peer, "ack")[0]) < peer.got.index(of(peer, "round")[0])


def test_a_joined_decision_whose_own_save_fails_is_acked_with_the_round_that_holds_it() -> None:
    for round_first in (False, True):
        h, peers, early, closing = one_being_saved()
        if round_first:
            h.complete(closing)
        h.complete(early, fail=True)
        if not round_first:  # nothing told until the round's outcome
            assert of(peers["retailer"], "error") == [] and of(peers["retailer"], "ack") == []
            assert h.room.round == 0
            h.complete(closing)
        (acked,) = of(peers["retailer"], "ack")
        assert (acked["id"], acked["round"], acked["decision"]) == ("early", 1, {"order": 3})
        assert of(peers["retailer"], "error") == [] and h.room.round == 1
        assert all(len(of(peer, "round")) == 1 for peer in peers.values())


def test_when_both_a_joined_decision_and_its_round_fail_both_players_hear_it() -> None:
    h, peers, early, closing = one_being_saved()
    h.complete(early, fail=True)
    h.complete(closing, fail=True)
    for role, peer in peers.items():
        (error,) = of(peer, "error")
        assert error["code"] == ErrorCode.STORAGE_FAILURE and error["id"] == (
            "early" if role == "retailer" else f"{role}-1"
        )
        assert of(peer, "ack") == [] and of(peer, "round") == []
    assert h.room.round == 0 and not h.room.closing and h.room.pending == {}


def test_a_joined_decision_saved_stands_when_its_round_fails() -> None:
    h, peers, early, closing = one_being_saved()
    h.complete(early)
    h.complete(closing, fail=True)
    assert [a["id"] for a in of(peers["retailer"], "ack")] == ["early"]
    assert of(peers["retailer"], "error") == []
    assert all(len(of(peers[role], "error")) == 1 for role in ROLES[1:])
    assert h.room.round == 0 and list(h.room.pending) == ["retailer"]
    # The three decide again: the round closes with the retailer's saved decision.
    for role in ROLES[1:]:
        submit(h, peers[role], role, 6, f"{role}-2")
    h.end_turn()
    h.complete_all()
    assert h.room.round == 1
    assert h.room.record.state["nodes"]["retailer"]["history"]["order"] == [3]


def test_a_decision_replaced_while_being_saved_is_answered_on_its_own() -> None:
    h, peers = started()
    submit(h, peers["retailer"], "retailer", 3, "first")
    h.end_turn()
    (first,) = h.saves
    assert isinstance(first, ev.SaveDecision)
    submit(h, peers["retailer"], "retailer", 9, "second")
    for role in ROLES[1:]:
        submit(h, peers[role], role, 4, f"{role}-1")
    h.end_turn()
    (closing,) = h.saves[1:]
    assert isinstance(closing, ev.SaveRound) and closing.joins == (first,)
    assert closing.record.decisions["retailer"] == {"order": 9}
    h.complete(first, fail=True)  # not in the round: its player hears now, as ever
    (error,) = of(peers["retailer"], "error")
    assert error["id"] == "first" and of(peers["retailer"], "round") == []
    h.complete(closing)
    assert [a["id"] for a in of(peers["retailer"], "ack")] == ["second"]
    assert h.room.round == 1


def test_a_resend_of_an_older_id_does_not_bring_the_old_decision_back() -> None:
    h, peers = started()
    retailer = peers["retailer"]
    submit(h, retailer, "retailer", 3, "first")
    h.complete()
    submit(h, retailer, "retailer", 9, "second")
    h.complete()
    submit(h, retailer, "retailer", 3, "first")  # a stale retry
    assert h.saves == []
    ack = of(retailer, "ack")[-1]
    assert ack["duplicate"] and ack["superseded_by"] == "second"
    assert ack["decision"] == {"order": 9}
    assert h.room.pending["retailer"].decision == {"order": 9}
    submit(h, retailer, "retailer", 9, "second")
    assert of(retailer, "ack")[-1]["duplicate"] and of(retailer, "ack")[-1]["superseded_by"] is None


def test_when_the_newest_save_fails_the_last_acknowledged_decision_stands() -> None:
    h, peers = started()
    retailer = peers["retailer"]
    submit(h, retailer, "retailer", 3, "a")
    submit(h, retailer, "retailer", 5, "b")
    first, second = h.saves
    h.complete(first)
    h.complete(second, fail=True)
    assert h.room.pending["retailer"].id == "a"
    assert [m["code"] for m in of(retailer, "error")] == [ErrorCode.STORAGE_FAILURE]
    assert of(retailer, "error")[0]["id"] == "b"


@pytest.mark.parametrize(
    ("status", "code"),
    [(GameStatus.CREATED, ErrorCode.NOT_STARTED), (GameStatus.PAUSED, ErrorCode.PAUSED)],
)
def test_no_decisions_unless_running(status: GameStatus, code: ErrorCode) -> None:
    room = Room(get_game("beer"), beer_record(status=status))
    with pytest.raises(GameServerError) as caught:
        room.handle(ev.Submit(Peer("p"), "retailer", 1, "x", {"order": 1}), T0)
    assert caught.value.code == code


def test_wrong_rounds_and_bad_decisions_are_refused_and_change_nothing() -> None:
    h, peers = started()
    for round_no, code in ((2, ErrorCode.WRONG_ROUND), (0, ErrorCode.ROUND_CLOSED)):
        with pytest.raises(GameServerError) as caught:
            submit(h, peers["retailer"], "retailer", 1, "x", round_no)
        assert caught.value.code == code
    with pytest.raises(GameServerError) as caught:
        h.handle(ev.Submit(peers["retailer"], "retailer", 1, "x", {"order": -3}))
    assert caught.value.code == ErrorCode.INVALID_DECISION
    assert h.saves == [] and h.room.pending == {}


# -- closing ------------------------------------------------------------------------------------


def test_a_deadline_closes_the_round_with_defaults_for_the_missing_seats() -> None:
    h, peers = started(round_seconds=60)
    assert h.timer == T0 + 60
    submit(h, peers["factory"], "factory", 11, "f")
    h.complete()
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    (closing,) = h.saves
    assert isinstance(closing, ev.SaveRound)
    assert closing.record.closed_by == "deadline"
    assert set(closing.record.defaulted) == {"retailer", "wholesaler", "distributor"}
    assert closing.record.decisions["factory"] == {"order": 11}
    h.complete()
    assert h.room.round == 1 and h.timer == T0 + 120


def test_players_are_told_the_decision_used_when_they_had_none() -> None:
    h, peers = started(round_seconds=60)
    watcher = Peer("facilitator")
    h.handle(ev.Connect(watcher, None))
    submit(h, peers["factory"], "factory", 11, "f")
    h.complete()
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    (closing,) = h.saves
    used = closing.record.decisions["retailer"]
    h.complete()
    assert of(peers["retailer"], "round")[-1]["defaulted"] == used
    assert of(peers["factory"], "round")[-1]["defaulted"] is None
    told = of(watcher, "round")[-1]["defaulted"]
    assert set(told) == {"retailer", "wholesaler", "distributor"} and told["retailer"] == used
    # A page that reconnects during the next round learns it from its sync.
    late = Peer("retailer again")
    h.handle(ev.Connect(late, "retailer"))
    assert of(late, "sync")[-1]["defaulted"] == used
    peers["retailer"] = late
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, n, f"w2-{role}", round_no=2)
    h.complete_all()
    h.complete_all()
    assert h.room.round == 2 and of(late, "round")[-1]["defaulted"] is None
    assert h.room.record.last_defaulted == {}


def test_a_close_waits_for_a_decision_still_being_saved_and_counts_it() -> None:
    h, peers = started(round_seconds=60)
    submit(h, peers["retailer"], "retailer", 12, "late")
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    assert [type(s) for s in h.saves] == [ev.SaveDecision]  # the close waits
    with pytest.raises(GameServerError) as caught:
        submit(h, peers["wholesaler"], "wholesaler", 1, "w")
    assert caught.value.code == ErrorCode.ROUND_CLOSED
    h.complete()
    assert of(peers["retailer"], "ack")[0]["id"] == "late"
    (closing,) = h.saves
    assert isinstance(closing, ev.SaveRound)
    assert closing.record.decisions["retailer"] == {"order": 12}


def test_a_failed_round_save_is_reported_and_retried_never_left_open() -> None:
    h, _ = started(round_seconds=60)
    watcher = Peer("facilitator")
    h.handle(ev.Connect(watcher, None))
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    h.complete(fail=True)
    assert h.room.round == 0 and not h.room.closing
    (error,) = of(watcher, "error")
    assert error["code"] == ErrorCode.STORAGE_FAILURE and "trying again in 1 s" in error["message"]
    assert h.timer == T0 + 61
    h.now = T0 + 61
    h.handle(ev.TimerFired())
    h.complete(fail=True)
    assert h.timer == T0 + 63  # backs off
    h.now = T0 + 63
    h.handle(ev.TimerFired())
    h.complete()
    assert h.room.round == 1
    assert of(watcher, "round")[-1]["round"] == 1


class _Slow(BeerGameForRoom):
    """The Beer Game declared slow: its rounds are played by the driver, off the loop."""

    slow_step = True
    step_timeout = 5.0


class _Broken(BeerGameForRoom):
    """The Beer Game whose rules fail at the first week."""

    def step(self, state: Any, decisions: Any) -> Any:
        raise ArithmeticError("stock went negative")


def started_with(game: Any, **kw: Any) -> tuple[Harness, dict[str, Peer], Peer]:
    h = Harness(Room(game, beer_record(**kw)))
    peers = {role: Peer(role) for role in ROLES}
    for role, peer in peers.items():
        h.handle(ev.Connect(peer, role))
    watcher = Peer("facilitator")
    h.handle(ev.Connect(watcher, None))
    assert h.command(ev.Start) == ("ok", None)
    return h, peers, watcher


def play(h: Harness) -> ev.PlayRound:
    """The one round the room asked to be played off the loop."""
    (asked,) = [e for e in h.effects if isinstance(e, ev.PlayRound)]
    h.effects.remove(asked)
    return asked


def test_a_slow_game_has_its_round_played_off_the_loop_then_saved() -> None:
    h, peers, _ = started_with(_Slow(), round_seconds=60)
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, 4 + n, f"m{n}")
    h.complete_all()
    asked = play(h)
    assert (asked.reason, asked.at, asked.timeout) == ("all_submitted", T0, 5.0)
    assert asked.pending["wholesaler"].decision == {"order": 5} and h.saves == []
    # While it is played: decisions for the round are refused, commands wait.
    with pytest.raises(GameServerError) as caught:
        submit(h, peers["retailer"], "retailer", 9, "late")
    assert caught.value.code == ErrorCode.ROUND_CLOSED
    pause = object()
    h.handle(ev.Pause(pause))
    assert id(pause) not in h.results and h.room.busy
    record, after = changes.closed_round(
        h.room.game, asked.game, asked.pending, "all_submitted", T0
    )
    h.now = T0 + 7  # it took 7 s: the next round still gets its full minute
    h.handle(ev.Played(asked, record, after))
    (saving,) = h.saves
    assert isinstance(saving, ev.SaveRound) and saving.game.deadline == T0 + 67
    assert all(of(p, "round") == [] for p in peers.values())  # save, then tell
    h.complete()
    assert of(peers["retailer"], "round")[0]["round"] == 1
    h.complete()  # the pause that waited
    assert h.results[id(pause)] == ("ok", None) and h.room.status == GameStatus.PAUSED


def test_a_slow_round_that_times_out_pauses_its_game_and_resume_tries_again() -> None:
    h, peers, watcher = started_with(_Slow(), round_seconds=60)
    submit(h, peers["factory"], "factory", 11, "f")
    h.complete()
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    asked = play(h)
    h.now = T0 + 65
    h.handle(ev.PlayFailed(asked, "it took longer than 5 s", timed_out=True))
    (error,) = of(watcher, "error")
    assert error["code"] == ErrorCode.ROUND_NOT_PLAYED
    assert error["message"] == (
        "round 1 could not be played: it took longer than 5 s; "
        "the game is paused, resume it to try again"
    )
    h.complete()  # the pause is saved before anyone is told
    assert h.room.status == GameStatus.PAUSED and h.room.round == 0 and h.timer is None
    assert of(peers["retailer"], "status")[-1]["status"] == GameStatus.PAUSED
    assert h.room.pending["factory"].decision == {"order": 11}
    h.handle(ev.Played(asked, *changes.closed_round(h.room.game, asked.game, {}, "x", T0)))
    assert h.saves == []  # a round given up on and finished late changes nothing
    h.now = T0 + 100
    assert h.command(ev.Resume) == ("ok", None)
    h.now = T0 + 100  # the paused round had no time left: the deadline closes it again
    h.handle(ev.TimerFired())
    assert play(h).pending["factory"].decision == {"order": 11}


def test_rules_that_fail_pause_the_game_rather_than_retry_for_ever() -> None:
    h, peers, watcher = started_with(_Broken(), round_seconds=60)
    h.now = T0 + 60
    h.handle(ev.TimerFired())
    (error,) = of(watcher, "error")
    assert error["code"] == ErrorCode.ROUND_NOT_PLAYED
    assert "could not be played: ArithmeticError: stock went negative" in error["message"]
    h.complete()
    assert h.room.status == GameStatus.PAUSED and h.timer is None and h.saves == []
    assert of(peers["retailer"], "status")[-1]["status"] == GameStatus.PAUSED
    # A facilitator's close while paused: refused with the reason, and the game stays paused.
    status, refused = h.command(ev.CloseRound)
    assert status == "error" and refused.code == ErrorCode.ROUND_NOT_PLAYED
    assert "stock went negative" in refused.message and "paused" not in refused.message
    assert h.room.status == GameStatus.PAUSED and h.room.round == 0


def test_a_second_close_while_closing_closes_nothing_more() -> None:
    h, _ = started()
    first, second = object(), object()
    h.handle(ev.CloseRound(first))
    h.handle(ev.CloseRound(second))
    assert h.results[id(second)] == ("ok", None)
    assert len(h.saves) == 1
    h.complete()
    assert h.results[id(first)] == ("ok", None)
    assert h.room.round == 1 and h.saves == []


def test_commands_wait_for_a_round_being_saved() -> None:
    h, _ = started()
    h.handle(ev.CloseRound(object()))
    pause = object()
    h.handle(ev.Pause(pause))
    assert id(pause) not in h.results and len(h.saves) == 1
    h.complete()  # the round
    h.complete()  # then the pause
    assert h.results[id(pause)] == ("ok", None) and h.room.status == GameStatus.PAUSED


def test_pause_keeps_the_time_left_and_resume_gives_it_back() -> None:
    h, peers = started(round_seconds=60)
    h.now = T0 + 20
    assert h.command(ev.Pause) == ("ok", None)
    assert h.room.record.paused_remaining == 40 and h.timer is None
    assert of(peers["retailer"], "status")[-1]["status"] == GameStatus.PAUSED
    h.now = T0 + 1000
    assert h.command(ev.Resume) == ("ok", None)
    assert h.room.record.deadline == T0 + 1040 and h.timer == T0 + 1040


def test_refused_commands_come_back_as_errors() -> None:
    h, _ = started()
    status, error = h.command(ev.Start)
    assert status == "error" and "only a created game can start" in error.message
    status, error = h.command(lambda ref: ev.SetDeadline(ref, None, extend=True))
    assert status == "error"


# -- seats and connections ----------------------------------------------------------------------


def test_players_joining_at_once_get_different_seats() -> None:
    room = Room(get_game("beer"), beer_record())
    h = Harness(room)
    refs = [object() for _ in range(5)]
    for n, ref in enumerate(refs):
        h.handle(ev.ClaimSeat(ref, None, f"p{n}", f"hash{n}"))
    h.complete_all()
    results = [h.results[id(ref)] for ref in refs]
    assert [r[1] for r in results[:4]] == ROLES
    assert results[4][0] == "error" and results[4][1].code == ErrorCode.GAME_FULL


def test_a_second_connection_supersedes_the_first() -> None:
    h, peers = started()
    newer = Peer("again")
    h.handle(ev.Connect(newer, "retailer"))
    old = peers["retailer"]
    assert of(old, "error")[-1]["code"] == ErrorCode.SUPERSEDED
    assert old.closed == CloseCode.SUPERSEDED
    assert newer.got[0]["type"] == "sync" and newer.got[0]["role"] == "retailer"


def test_a_reset_seat_closes_its_connection_and_gets_a_new_code() -> None:
    h, peers = started()
    assert h.command(lambda ref: ev.ResetSeat(ref, "factory", "G1-NEW")) == ("ok", "G1-NEW")
    assert peers["factory"].closed == CloseCode.SEAT_RESET
    seat = h.room.record.seat("factory")
    assert seat.join_code == "G1-NEW" and not seat.claimed
    h.flush_progress()
    assert "factory" not in of(peers["retailer"], "progress")[-1]["online"]


def test_a_bot_seat_decides_as_soon_as_a_round_opens() -> None:
    h, peers = started()
    bot = BotSeat("pass-through")
    assert h.command(lambda ref: ev.SetBot(ref, "factory", bot)) == ("ok", None)
    assert h.room.pending["factory"].id == "bot-1-factory"
    for n, role in enumerate(ROLES[:3]):
        submit(h, peers[role], role, 4, f"m{n}")
    h.complete_all()
    assert h.room.round == 1
    assert h.room.pending["factory"].id == "bot-2-factory"


def test_a_bot_whose_policy_fails_plays_the_default(caplog: pytest.LogCaptureFixture) -> None:
    """A bot seat saved before parameters had ranges: refused now, in one line of log."""
    h, _ = started()
    bot = BotSeat("sterman", {"theta": 1.8e308, "s_prime": 1.8e308})
    h.command(lambda ref: ev.SetBot(ref, "factory", bot))
    game = get_game("beer")
    assert h.room.pending["factory"].decision == game.default_decision(
        h.room.record.state, "factory"
    )
    refused = [r for r in caplog.records if "bot policy refused" in r.getMessage()]
    assert refused and "'theta' must be a number between 0 and 1" in refused[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_a_revived_game_whose_decisions_were_all_saved_closes_its_round() -> None:
    record = beer_record(status=GameStatus.RUNNING)
    pending = {role: PendingDecision({"order": 4}, f"x-{role}", T0) for role in ROLES}
    h = Harness(Room(get_game("beer"), record, pending, restored=True))
    h.handle(ev.Revive(30.0))
    (closing,) = h.saves
    assert isinstance(closing, ev.SaveRound) and closing.record.round == 1


def test_a_deadline_that_passed_while_down_gets_grace_once_saved() -> None:
    record = beer_record(status=GameStatus.RUNNING, deadline=T0 - 500)
    h = Harness(Room(get_game("beer"), record, restored=True))
    h.handle(ev.Revive(30.0))
    (moving,) = h.saves
    assert isinstance(moving, ev.SaveGame) and moving.game.deadline == T0 + 30
    assert h.timer is None, "the old deadline must not fire while the new one is saved"
    early = Peer("early")
    h.handle(ev.Connect(early, "retailer"))
    h.complete()
    assert h.room.record.deadline == T0 + 30 and h.timer == T0 + 30
    assert of(early, "status")[-1]["deadline"] == T0 + 30  # its sync had the old one


def test_a_restart_gives_a_round_back_the_time_it_had_left() -> None:
    # Last alive 100 s ago with 40 s left: 40 s again from now.
    record = beer_record(status=GameStatus.RUNNING, deadline=T0 - 60)
    h = Harness(Room(get_game("beer"), record, restored=True))
    h.handle(ev.Revive(5.0, down_since=T0 - 100))
    h.complete()
    assert h.room.record.deadline == T0 + 40 and h.timer == T0 + 40
    # A round that had 2 s left gets the grace, to reconnect in.
    short = beer_record(status=GameStatus.RUNNING, deadline=T0 - 98)
    h = Harness(Room(get_game("beer"), short, restored=True))
    h.handle(ev.Revive(5.0, down_since=T0 - 100))
    h.complete()
    assert h.room.record.deadline == T0 + 5


def test_a_revived_deadline_that_cannot_be_saved_is_kept_in_memory() -> None:
    record = beer_record(status=GameStatus.RUNNING, deadline=T0 - 60)
    h = Harness(Room(get_game("beer"), record, restored=True))
    h.handle(ev.Revive(5.0, down_since=T0 - 100))
    h.complete(fail=True)
    assert h.room.record.deadline == T0 + 40 and h.timer == T0 + 40


def test_a_revived_game_without_a_running_deadline_saves_nothing() -> None:
    for record in (
        beer_record(status=GameStatus.PAUSED, paused_remaining=20.0),
        beer_record(status=GameStatus.RUNNING),
        beer_record(status=GameStatus.RUNNING, deadline=T0 + 500),
    ):
        h = Harness(Room(get_game("beer"), record, restored=True))
        h.handle(ev.Revive(30.0))
        assert h.saves == [] and h.room.record == record


# -- properties ---------------------------------------------------------------------------------

events = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(ROLES), st.integers(0, 3), st.integers(0, 20)),
        st.tuples(st.just("complete"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("tick"), st.integers(0, 90)),
        st.tuples(st.sampled_from(["pause", "resume", "close", "extend", "end"])),
        st.tuples(st.just("reconnect"), st.sampled_from(ROLES)),
        st.tuples(st.just("turn")),
        # The seats that have not decided the open round decide at once (bots, or a class).
        st.tuples(st.just("rest"), st.integers(0, 20)),
    ),
    max_size=120,
)


#: Decisions and saves only, in any order: rounds close often, many with decisions still being
#: saved (a round saved behind them, or even before them).
decision_events = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(ROLES), st.just(1), st.integers(0, 20)),
        st.tuples(st.just("complete"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("turn")),
        st.tuples(st.just("rest"), st.integers(0, 20)),
    ),
    min_size=20,
    max_size=120,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, st.integers(0, 2**16))
def test_random_event_sequences_keep_the_invariants(
    script: list[tuple[Any, ...]], salt: int
) -> None:
    keeps_the_invariants(script, salt)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decision_events, st.integers(0, 2**16))
def test_random_decisions_and_saves_keep_the_invariants(
    script: list[tuple[Any, ...]], salt: int
) -> None:
    keeps_the_invariants(script, salt)


def keeps_the_invariants(script: list[tuple[Any, ...]], salt: int) -> None:
    h, peers = started(round_seconds=60)
    ids = itertools.count()
    saved_rounds: list[int] = []  # rounds the room took as saved, in order
    # (round, role) -> the newest (by the order asked) decision acknowledged: seq, id, decision
    acked: dict[tuple[int, str], tuple[int, str, Any]] = {}
    committed_status = h.room.status
    asked: list[ev.SaveDecision] = []  # every decision save the room asked for
    saved_alone: set[int] = set()  # ids of the decision saves that completed
    rounds_saved: dict[int, ev.SaveRound] = {}  # round -> its save, once completed
    told = {"with its round": 0, "behind one being saved": 0, "before the decision": 0}

    def durable(save: ev.SaveDecision) -> bool:
        """Saved on its own, or with a round whose save completed (held by its record, or
        carried and replaced by the seat's newer decision in the same save)."""
        closed = rounds_saved.get(save.round)
        if closed is not None and (
            closed.record.ids.get(save.role) == save.pending.id
            or any(c is save for c in closed.carries)
        ):
            return True
        return id(save) in saved_alone

    def check_sends(effects: list[ev.Effect], done: ev.Save | None) -> None:
        asked.extend(e for e in effects if isinstance(e, ev.SaveDecision))
        for effect in effects:
            if not isinstance(effect, ev.Send):
                continue
            message = effect.message
            kind = message["type"]
            if kind == "round":
                # A round's views go out only once its save completed.
                assert message["round"] in rounds_saved
            if kind == "ack" and not message["duplicate"]:
                # A decision is acked once saved: on its own, or with the round that holds it.
                (peer,) = effect.to
                assert isinstance(peer, Peer)
                key = (message["round"], peer.name)
                [*_, decided] = [
                    a
                    for a in asked
                    if (a.round, a.role, a.pending.id) == (*key, message["id"])
                    and a.pending.decision == message["decision"]
                    and durable(a)
                ]
                if decided.seq > acked.get(key, (0, "", None))[0]:
                    acked[key] = (decided.seq, message["id"], message["decision"])
            if kind == "status":
                assert isinstance(done, ev.SaveGame) and message["status"] == done.game.status

    def rounds_taken() -> None:
        """Each round the room took as saved: one decision kept per seat, the newest acked."""
        nonlocal committed_status
        while h.room.round > len(saved_rounds):
            save = rounds_saved[len(saved_rounds) + 1]
            for role in ROLES:
                want = acked.get((save.record.round, role))
                assert save.record.ids.get(role) == (want[1] if want else None)
                if want is not None:
                    assert save.record.decisions[role] == want[2]
            saved_rounds.append(save.record.round)
            committed_status = save.game.status
            told["with its round"] += bool(save.carries)
            told["behind one being saved"] += bool(save.joins)

    for step in script:
        kind = step[0]
        try:
            if kind == "submit":
                _, role, offset, order = step
                msg_id = f"{role}-{next(ids) % (5 + salt % 3)}"  # ids come back: resends
                round_no = max(1, h.room.open_round - 1 + offset % 3)
                check_sends(
                    h.handle(ev.Submit(peers[role], role, round_no, msg_id, {"order": order})), None
                )
            elif kind == "complete":
                if not h.saves:
                    continue
                save = h.saves[step[1] % len(h.saves)]
                fail = step[2] and (step[1] % 3 == 0)
                if not fail and isinstance(save, ev.SaveDecision):
                    saved_alone.add(id(save))
                if not fail and isinstance(save, ev.SaveRound):
                    assert save.record.round not in rounds_saved  # a round is saved once
                    rounds_saved[save.record.round] = save
                    told["before the decision"] += any(j in h.saves for j in save.joins)
                out = h.complete(save, fail=fail)
                check_sends(out, None if fail else save)
                if not fail and isinstance(save, ev.SaveGame):
                    committed_status = save.game.status
            elif kind == "rest":
                open_round = h.room.open_round
                deciding = {
                    s.role
                    for s in h.saves
                    if isinstance(s, ev.SaveDecision) and s.round == open_round
                }
                for role in ROLES:
                    if role not in deciding and role not in h.room.submitted():
                        msg_id = f"{role}-{next(ids)}"
                        decision = {"order": step[1]}
                        submitted = ev.Submit(peers[role], role, open_round, msg_id, decision)
                        check_sends(h.handle(submitted), None)
            elif kind == "tick":
                h.now += step[1]
                if h.timer is not None and h.now >= h.timer:
                    check_sends(h.handle(ev.TimerFired()), None)
            elif kind == "turn":
                check_sends(h.end_turn(), None)
            elif kind == "reconnect":
                peer = Peer(step[1])
                peers[step[1]] = peer
                check_sends(h.handle(ev.Connect(peer, step[1])), None)
            else:
                make = {
                    "pause": ev.Pause,
                    "resume": ev.Resume,
                    "close": ev.CloseRound,
                    "end": ev.End,
                    "extend": lambda ref: ev.SetDeadline(ref, 30.0, extend=True),
                }[kind]
                check_sends(h.handle(make(object())), None)
        except GameServerError:
            pass
        rounds_taken()
        assert h.room.status == committed_status  # the room changes status only when saved
    # A round closes exactly once, and in order.
    assert saved_rounds == list(range(1, len(saved_rounds) + 1))
    assert h.room.round == len(saved_rounds)
    # Once every save completes the room is never stuck mid-close.
    for _ in range(50):
        if not h.saves:
            break
        h.complete()
    assert not h.saves and not h.room.closing
    for what, count in told.items():
        event(f"a round saved {what}: {'yes' if count else 'no'}")


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_a_round_closed_is_a_log_line_at_info_only_when_notable(
    caplog: pytest.LogCaptureFixture, level: int
) -> None:
    """A round every seat decided is a DEBUG line; one that used a default is INFO."""
    caplog.set_level(level, logger="gameserver.server.closing")
    h, peers = started(round_seconds=60)
    for n, role in enumerate(ROLES):
        submit(h, peers[role], role, 4 + n, f"m{n}")
    h.complete_all()
    submit(h, peers["factory"], "factory", 11, "f", round_no=2)
    h.complete()
    h.now = T0 + 120
    h.handle(ev.TimerFired())
    h.complete()
    lines = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "gameserver.server.closing" and "round closed" in r.getMessage()
    ]
    game_id = h.room.game_id
    decided = (logging.DEBUG, f"round closed game={game_id} round=1 by=all_submitted defaulted=-")
    defaulted = (
        logging.INFO,
        f"round closed game={game_id} round=2 by=deadline"
        " defaulted=retailer,wholesaler,distributor",
    )
    assert lines == ([decided, defaulted] if level == logging.DEBUG else [defaulted])
