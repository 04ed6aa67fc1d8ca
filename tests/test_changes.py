"""What commands and round closes make of a game's record: pure functions, plain calls."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gameserver.errors import Conflict, ErrorCode, GameServerError, NotFound
from gameserver.games import get_game
from gameserver.protocol import GameStatus
from gameserver.server import events as ev
from gameserver.server.changes import changed, closed_round, revived
from gameserver.server.records import PendingDecision
from tests.test_room import ROLES, T0, beer_record

REF = object()


def test_start_pause_resume_keep_the_time_left() -> None:
    record, _ = changed(beer_record(round_seconds=60), ev.Start(REF), T0)
    assert record.status == GameStatus.RUNNING and record.deadline == T0 + 60
    paused, _ = changed(record, ev.Pause(REF), T0 + 15)
    assert paused.deadline is None and paused.paused_remaining == 45
    resumed, _ = changed(paused, ev.Resume(REF), T0 + 500)
    assert resumed.deadline == T0 + 545 and resumed.paused_remaining is None


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (GameStatus.RUNNING, ev.Start(REF)),
        (GameStatus.CREATED, ev.Pause(REF)),
        (GameStatus.RUNNING, ev.Resume(REF)),
        (GameStatus.ENDED, ev.End(REF)),
        (GameStatus.FINISHED, ev.SetDeadline(REF, 10.0)),
    ],
)
def test_a_command_in_the_wrong_status_is_refused_and_says_so(
    status: GameStatus, command: ev.Command
) -> None:
    with pytest.raises(Conflict, match=f"the game is (already )?{status}"):
        changed(beer_record(status=status), command, T0)


def test_deadlines_set_extend_and_clear() -> None:
    running = beer_record(status=GameStatus.RUNNING, deadline=T0 + 30)
    assert changed(running, ev.SetDeadline(REF, 10.0), T0)[0].deadline == T0 + 10
    assert changed(running, ev.SetDeadline(REF, 10.0, extend=True), T0)[0].deadline == T0 + 40
    assert changed(running, ev.SetDeadline(REF, None), T0)[0].deadline is None
    paused = beer_record(status=GameStatus.PAUSED, paused_remaining=20.0)
    extended, _ = changed(paused, ev.SetDeadline(REF, 5.0, extend=True), T0)
    assert extended.paused_remaining == 25 and extended.deadline is None


def test_seats_are_claimed_freed_and_named_when_missing() -> None:
    record = beer_record()
    claimed, role = changed(record, ev.ClaimSeat(REF, None, "Ann", "h1"), T0)
    assert role == "retailer" and claimed.seat("retailer").name == "Ann"
    with pytest.raises(Conflict) as taken:
        changed(claimed, ev.ClaimSeat(REF, "retailer", None, "h2"), T0)
    assert taken.value.code == ErrorCode.SEAT_TAKEN
    reset, code = changed(claimed, ev.ResetSeat(REF, "retailer", "G1-NEW"), T0)
    assert code == "G1-NEW" and not reset.seat("retailer").claimed
    with pytest.raises(NotFound) as missing:
        changed(record, ev.SetBot(REF, "captain", None), T0)
    assert missing.value.code == ErrorCode.NO_SUCH_ROLE and "retailer" in missing.value.message


def test_a_retried_join_gets_its_seat_back_under_a_new_token() -> None:
    record = beer_record()
    claimed, role = changed(record, ev.ClaimSeat(REF, None, "Ann", "t1", "j1"), T0)
    assert role == "retailer" and claimed.seat("retailer").join_hash == "j1"
    # The welcome was lost: the same join again (open join, any seat; or the seat's own code).
    again, role = changed(claimed, ev.ClaimSeat(REF, None, None, "t2", "j1"), T0)
    assert role == "retailer" and again.seat("retailer").token_hash == "t2"
    assert again.seat("retailer").name == "Ann" and not again.seat("wholesaler").claimed
    same, role = changed(again, ev.ClaimSeat(REF, "retailer", "Ann B", "t3", "j1"), T0)
    assert role == "retailer" and same.seat("retailer").name == "Ann B"
    # An open join's retry may name another role: the seat it holds all the same.
    moved, role = changed(same, ev.ClaimSeat(REF, "factory", None, "t3", "j1", True), T0)
    assert role == "retailer" and not moved.seat("factory").claimed
    # A seat's code names its seat: a join id holding another seat claims this one anew.
    other, role = changed(moved, ev.ClaimSeat(REF, "wholesaler", None, "t4", "j1"), T0)
    assert role == "wholesaler" and other.seat("retailer").token_hash == "t3"
    # Another join id, or none, finds the seat taken.
    for other in ("j2", None):
        with pytest.raises(Conflict) as taken:
            changed(same, ev.ClaimSeat(REF, "retailer", None, "t4", other), T0)
        assert taken.value.code == ErrorCode.SEAT_TAKEN
    second, role = changed(same, ev.ClaimSeat(REF, None, None, "t5", "j2"), T0)
    assert role == "wholesaler"
    # A reset seat forgets the join id: its player needs the new code.
    reset, _ = changed(second, ev.ResetSeat(REF, "retailer", "G1-NEW"), T0)
    assert reset.seat("retailer").join_hash is None
    _, role = changed(reset, ev.ClaimSeat(REF, None, None, "t6", "j1"), T0)
    assert role == "retailer"  # the first free seat, as for anyone


def test_a_revived_round_gets_back_the_time_left_when_the_server_went_down() -> None:
    running = beer_record(status=GameStatus.RUNNING, deadline=T0 + 45)
    # down from T0 to T0 + 600: 45 s left then, 45 s from the restart
    assert revived(running, 30.0, T0, T0 + 600).deadline == T0 + 645
    # at least the grace: time to reconnect
    assert revived(running, 30.0, T0 + 40, T0 + 600).deadline == T0 + 630
    # no mark (a first start, a load on access): only the grace
    assert revived(running, 30.0, None, T0).deadline == T0 + 45
    assert revived(running, 30.0, None, T0 + 600).deadline == T0 + 630
    paused = beer_record(status=GameStatus.PAUSED, paused_remaining=20.0)
    assert revived(paused, 30.0, T0, T0 + 600) is paused


def test_a_closed_round_defaults_missing_seats_and_moves_the_clock() -> None:
    game = get_game("beer")
    record = beer_record(status=GameStatus.RUNNING, round_seconds=60)
    pending = {"factory": PendingDecision({"order": 9}, "f", T0)}
    round_record, after = closed_round(game, record, pending, "deadline", T0)
    assert round_record.round == 1 and round_record.closed_by == "deadline"
    assert round_record.decisions["factory"] == {"order": 9}
    assert set(round_record.defaulted) == set(ROLES) - {"factory"}
    assert after.deadline == T0 + 60 and after.last_round_ids == {"factory": "f"}
    assert set(after.last_defaulted) == set(round_record.defaulted)
    assert after.last_defaulted["retailer"] == round_record.decisions["retailer"]
    paused = replace(record, status=GameStatus.PAUSED)
    _, after_pause = closed_round(game, paused, {}, "facilitator", T0)
    assert after_pause.deadline is None and after_pause.paused_remaining == 60


def test_the_last_round_finishes_the_game() -> None:
    game = get_game("beer")
    record = beer_record(weeks=1, status=GameStatus.RUNNING)
    _, after = closed_round(game, record, {}, "all_submitted", T0)
    assert after.status == GameStatus.FINISHED and after.deadline is None
    with pytest.raises(GameServerError):
        changed(after, ev.Pause(REF), T0)
