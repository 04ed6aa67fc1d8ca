"""A class's lobby as pure functions: names, joining, forming teams, moves, its stored JSON."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gameserver.errors import Conflict, ErrorCode, InvalidSettings, NotFound
from gameserver.server import lobby as lb

ROLES = ["retailer", "wholesaler", "distributor", "factory"]


def empty(**kw: object) -> lb.ClassRecord:
    return lb.ClassRecord("S1", "hash", "beer", {}, "Period 3", 1.0, **kw)  # type: ignore[arg-type]


def code_of(student_id: str) -> str:
    return f"CODE{student_id.upper()}"


def with_students(count: int) -> lb.ClassRecord:
    record = empty()
    for n in range(count):
        record, _, _ = lb.join(record, f"Student {n}", f"device {n}", None, code_of)
    return record


def test_names_are_cleaned_and_compared_without_case() -> None:
    assert lb.clean_name("  Ann   Lee ") == "Ann Lee"
    assert lb.name_key("ANN  lee") == lb.name_key("ann lee")
    for bad in ("", "   ", "x" * 65, "a\x00b", 3, None):
        with pytest.raises(InvalidSettings, match="'name'"):
            lb.clean_name(bad)
    assert lb.clean_roster(["Ann", " ann ", "Bo"]) == ("Ann", "Bo")


def test_joining_saves_a_new_student_and_finds_the_same_one_again() -> None:
    record, ann, new = lb.join(empty(), " Ann ", "device-a", None, code_of)
    assert new and ann == lb.Student("p1", "Ann", 1, "device-a") and record.version == 1
    again, same, new = lb.join(record, "ANN", "device-a", None, code_of)
    assert (again, same, new) == (record, ann, False)  # a retry: nothing to save
    other, same, new = lb.join(record, "ann", "device-b", "codep1", code_of)
    assert (other, same, new) == (record, ann, False)  # another device with the rejoin code
    with pytest.raises(Conflict, match="Ann is already in this class") as taken:
        lb.join(record, "Ann", "device-b", None, code_of)
    assert taken.value.code == ErrorCode.NAME_TAKEN
    with pytest.raises(Conflict, match="not Ann's rejoin code"):
        lb.join(record, "Ann", "device-b", "CODEP2", code_of)
    record, bo, _ = lb.join(record, "Bo", "device-b", None, code_of)
    assert (bo.id, bo.arrived, record.arrivals) == ("p2", 2, 2)


def test_a_roster_keeps_its_own_spelling_and_refuses_other_names() -> None:
    record = empty(roster=("Zoë Müller", "Bo"))
    record, zoe, _ = lb.join(record, "zoë  MÜLLER", "d1", None, code_of)
    assert zoe.name == "Zoë Müller"
    with pytest.raises(InvalidSettings, match="not on this class's list"):
        lb.join(record, "Mickey Mouse", "d2", None, code_of)


@pytest.mark.parametrize(
    ("students", "sizes"),
    [(1, [1]), (4, [4]), (5, [3, 2]), (7, [4, 3]), (9, [3, 3, 3]), (30, [4] * 6 + [3] * 2)],
)
def test_team_sizes_differ_by_at_most_one(students: int, sizes: list[int]) -> None:
    assert lb.team_sizes(students, 4) == sizes


@given(st.integers(1, 300), st.integers(1, 8))
def test_every_student_gets_one_seat_and_teams_are_as_even_as_can_be(
    students: int, roles: int
) -> None:
    sizes = lb.team_sizes(students, roles)
    assert sum(sizes) == students and max(sizes) <= roles
    assert max(sizes) - min(sizes) <= 1 and len(sizes) == -(-students // roles)


def test_teams_fill_the_first_roles_in_order_of_arrival_and_bots_the_last() -> None:
    record = with_students(30)
    teams = lb.plan_teams(record, ROLES, ["G1", "G2"], "arrival", seed=1)
    assert [t.game_id for t in teams] == ["G1", "G2"] + [None] * 6
    assert teams[0].seats == tuple(zip(ROLES, ["p1", "p2", "p3", "p4"], strict=True))
    assert teams[7].seats == (
        ("retailer", "p28"),
        ("wholesaler", "p29"),
        ("distributor", "p30"),
        ("factory", None),  # a bot
    )
    bots = [role for team in teams for role, who in team.seats if who is None]
    assert bots == ["factory", "factory"]
    formed = lb.formed(record, [t if t.game_id else lb.Team(f"N{n}", t.seats)
                               for n, t in enumerate(teams)])  # fmt: skip
    assert formed.games == ("G1", "G2", "N2", "N3", "N4", "N5", "N6", "N7")
    assert formed.waiting() == [] and formed.team_of("N7") == 8
    assert formed.student("p30").seat == lb.Seat("N7", "distributor")


def test_a_random_order_is_the_seeds() -> None:
    record = with_students(12)
    first = lb.plan_teams(record, ROLES, [], "random", seed=7)
    assert first == lb.plan_teams(record, ROLES, [], "random", seed=7)
    assert first != lb.plan_teams(record, ROLES, [], "arrival", seed=7)
    seated = sorted(who for team in first for _, who in team.seats if who)
    assert seated == sorted(f"p{n}" for n in range(1, 13))


def test_forming_needs_someone_waiting() -> None:
    with pytest.raises(Conflict, match="no student is waiting"):
        lb.plan_teams(empty(), ROLES, [], "arrival", seed=1)


def seated(record: lb.ClassRecord) -> dict[str, lb.Seat | None]:
    return {s.id: s.seat for s in record.students}


def test_a_move_to_a_held_seat_swaps_and_to_a_free_one_leaves_the_old_one() -> None:
    record = with_students(3)
    x, y, z = lb.Seat("G1", "retailer"), lb.Seat("G2", "retailer"), lb.Seat("G2", "factory")
    record, _ = lb.move(record, "p1", x)
    record, _ = lb.move(record, "p2", y)
    record, moves = lb.move(record, "p1", y)
    assert seated(record) == {"p1": y, "p2": x, "p3": None}
    assert [(m.student.id, m.before, m.after) for m in moves] == [("p1", x, y), ("p2", y, x)]
    record, moves = lb.move(record, "p3", y)  # p3 had no seat: p1 waits
    assert seated(record) == {"p1": None, "p2": x, "p3": y}
    record, moves = lb.move(record, "p2", z)
    assert [(m.before, m.after) for m in moves] == [(x, z)]
    assert lb.move(record, "p2", z) == (record, [])
    with pytest.raises(NotFound, match="no student 'p9'"):
        lb.move(record, "p9", None)


def test_each_record_answers_for_its_own_students() -> None:
    # what a record looks up is made once for it: a change (a new record) is seen at once
    record = with_students(lb.WAITING_SHOWN + 2)
    index = record.indexed()
    assert index is record.indexed()
    assert index.waiting_shown == tuple(f"Student {n}" for n in range(lb.WAITING_SHOWN))
    assert (index.waiting, index.seated) == (lb.WAITING_SHOWN + 2, 0)
    moved, _ = lb.move(record, "p1", lb.Seat("G1", "retailer"))
    assert moved.indexed().waiting_shown[0] == "Student 1"
    assert (moved.indexed().waiting, moved.indexed().seated) == (lb.WAITING_SHOWN + 1, 1)
    assert moved.student("p1").seat == lb.Seat("G1", "retailer")
    assert record.student("p1").seat is None  # the old record is as it was
    gone, _ = lb.remove(moved, "p2")  # Student 1
    with pytest.raises(NotFound, match="no student 'p2'"):
        gone.student("p2")
    _, student, new = lb.join(gone, "student 1", "another device", None, code_of)
    assert new and student.id == f"p{lb.WAITING_SHOWN + 3}"  # the name is free again
    assert replace(record) == record  # a record made again, not yet looked in, is the same


def test_removing_and_messages() -> None:
    record = with_students(2)
    record, gone = lb.remove(record, "p1")
    assert gone.name == "Student 0" and [s.id for s in record.students] == ["p2"]
    record = lb.with_message(lb.with_message(record, " Hello ", 5.0), "Again", 6.0)
    assert record.message == lb.Notice("Again", 6.0, 2)
    with pytest.raises(InvalidSettings, match="'text'"):
        lb.with_message(record, " ", 7.0)


def test_the_stored_json_reads_back() -> None:
    record = lb.move(with_students(3), "p2", lb.Seat("G", "factory"))[0]
    record = lb.with_message(record.changed(roster=("A", "B"), games=("G",)), "Hi", 3.0)
    assert lb.class_from_json(lb.class_to_json(record)) == record
    with pytest.raises(ValueError, match="layout"):
        lb.class_from_json({**lb.class_to_json(record), "v": 2})
    with pytest.raises(ValueError, match="missing"):
        lb.class_from_json({"v": 1})
