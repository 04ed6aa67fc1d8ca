"""A class's lobby as a record: its students, their names and seats, and how teams are formed.

Pure functions of a :class:`ClassRecord`, like :mod:`gameserver.server.changes` for a game:
each returns the next record (not yet saved) or raises the error that says why not. The owner
of a class (:mod:`gameserver.server.classes`) saves what they return before it tells anyone.

The rules, as the facilitator's page and ``docs/api.md`` state them:

- A student joins with a name: any name, or with a roster one of its names (compared without
  case and extra spaces, and kept as the roster spells it). A name is a student's identity in
  the class: it is taken once. The same device asking again (its own id, sent with the join)
  is the same student; another device gets in with the name and the student's rejoin code.
- Teams are formed from the students waiting, in order of arrival or at random. A class that
  does not divide evenly gets ``ceil(students / roles)`` teams whose sizes differ by at most
  one; in a team short of people, **bots play the last roles** (in the Beer Game the factory,
  then the distributor). No two students ever share a role.
- The facilitator moves a student to any seat of a class's game, before or during play: a
  student on that seat swaps with the one moved (or waits, if the one moved had no seat), and
  a seat left by its student is played by a bot.
"""

from __future__ import annotations

import hmac
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gameserver.errors import Conflict, ErrorCode, InvalidSettings, NotFound, short
from gameserver.server.records import LayoutError

#: The stored layout this code writes (``"v"`` in a class's JSON).
LAYOUT_VERSION = 1
MAX_STUDENTS = 1000
MAX_NAME = 64
#: A student's lobby names this many of the students waiting, the first to arrive, and says
#: how many wait in all: a page lists a class's names, not a thousand of them, and each of the
#: thousands of answers a big class gets while it arrives carried every name (9 KB at 1,000).
WAITING_SHOWN = 100
MAX_MESSAGE = 500

Order = Literal["arrival", "random"]
ORDERS: tuple[Order, ...] = ("arrival", "random")


@dataclass(frozen=True, slots=True)
class Seat:
    """A seat of one of the class's games."""

    game_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Student:
    """One student of a class. ``id`` is ``p<n>``, ``arrived`` the ``n``: the order of arrival.
    ``client_hash`` is the hash of the id the student's device sent with its first join."""

    id: str
    name: str
    arrived: int
    client_hash: str
    seat: Seat | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """The facilitator's last message to the class (``number`` counts them)."""

    text: str
    at: float
    number: int


@dataclass(frozen=True, slots=True)
class StudentIndex:
    """A class record's students as they are looked up (:meth:`ClassRecord.indexed`)."""

    by_id: dict[str, Student]
    by_key: dict[str, Student]  # by name_key(name): the first student of that name
    waiting_shown: tuple[str, ...]  # the names of the first WAITING_SHOWN students waiting
    waiting: int  # how many students wait
    seated: int


@dataclass(frozen=True, slots=True)
class ClassRecord:
    """Everything stored about a class but its games. ``games`` are its teams in order (team
    ``n`` plays ``games[n - 1]``); ``version`` grows with every saved change, so a student
    waiting in the lobby asks for what came after the version it saw."""

    session_id: str
    token_hash: str
    kind: str
    settings: Mapping[str, Any]
    title: str
    created_at: float
    round_seconds: float | None = None
    seed: int | None = None
    open_join: bool = False
    games: tuple[str, ...] = ()
    students: tuple[Student, ...] = ()
    roster: tuple[str, ...] | None = None
    arrivals: int = 0
    message: Notice | None = None
    version: int = 0
    _index: StudentIndex | None = field(default=None, init=False, repr=False, compare=False)

    def indexed(self) -> StudentIndex:
        """The students by id and by name, and who waits: made at the first look, once for
        this record (a change makes a new one). A lobby of 1,000 students answers thousands of
        times a version, and each answer walked every student two or three times."""
        index = self._index
        if index is None:
            by_key: dict[str, Student] = {}
            for student in self.students:
                by_key.setdefault(name_key(student.name), student)
            waiting = [student.name for student in self.students if student.seat is None]
            index = StudentIndex(
                {student.id: student for student in self.students},
                by_key,
                tuple(waiting[:WAITING_SHOWN]),
                len(waiting),
                len(self.students) - len(waiting),
            )
            object.__setattr__(self, "_index", index)
        return index

    def student(self, student_id: str) -> Student:
        found = self.indexed().by_id.get(student_id)
        if found is None:
            raise NotFound(f"no student {short(student_id)} in class {self.session_id}")
        return found

    def holder(self, seat: Seat) -> Student | None:
        """The student on ``seat``, if one is."""
        for student in self.students:
            if student.seat == seat:
                return student
        return None

    def team_of(self, game_id: str) -> int | None:
        """The team number (1, 2, ...) of a game of the class, None if it is no team."""
        return self.games.index(game_id) + 1 if game_id in self.games else None

    def waiting(self) -> list[Student]:
        """The students without a seat, in order of arrival."""
        return [s for s in self.students if s.seat is None]

    def changed(self, **changes: Any) -> ClassRecord:
        """This record with ``changes`` and the next version."""
        return replace(self, version=self.version + 1, **changes)


# -- names ----------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def clean_name(raw: object, what: str = "name") -> str:
    """A name as it is kept: spaces trimmed and single; 1 to 64 characters of printable text."""
    if not isinstance(raw, str):
        raise InvalidSettings(f"{what!r} must be a string, got {short(raw)}")
    name = _SPACES.sub(" ", raw).strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise InvalidSettings(
            f"{what!r} must be 1 to {MAX_NAME} printable characters, got {short(raw)}"
        )
    return name


def name_key(name: str) -> str:
    """What two names are compared by: case and extra spaces do not count."""
    return _SPACES.sub(" ", name).strip().casefold()


def clean_roster(names: Iterable[object]) -> tuple[str, ...]:
    """A roster as it is kept: each name cleaned, the second of two same names dropped."""
    out: dict[str, str] = {}
    for raw in names:
        name = clean_name(raw, "roster")
        out.setdefault(name_key(name), name)
    if len(out) > MAX_STUDENTS:
        raise InvalidSettings(f"a roster holds at most {MAX_STUDENTS} names, got {len(out)}")
    return tuple(out.values())


# -- joining --------------------------------------------------------------------------------


def join(
    record: ClassRecord,
    raw_name: object,
    client_hash: str,
    rejoin: str | None,
    code_of: Callable[[str], str],
) -> tuple[ClassRecord, Student, bool]:
    """A student joining with a name: the record, the student, and whether the student is new
    (the record must then be saved before the student is told). ``code_of`` gives a student's
    rejoin code; ``rejoin`` is the code the student typed, if any."""
    name = clean_name(raw_name)
    key = name_key(name)
    if record.roster is not None:
        on_roster = [n for n in record.roster if name_key(n) == key]
        if not on_roster:
            raise InvalidSettings(
                f"{name!r} is not on this class's list of names: pick yours from the list"
            )
        name = on_roster[0]
    student = record.indexed().by_key.get(key)
    if student is not None:
        if hmac.compare_digest(student.client_hash, client_hash):
            return record, student, False  # the same device again: a retry, or a reload
        typed = (rejoin or "").strip().upper()
        if typed and hmac.compare_digest(typed, code_of(student.id)):
            return record, student, False
        why = (
            f"that is not {student.name}'s rejoin code"
            if typed
            else f"{student.name} is already in this class"
        )
        raise Conflict(
            f"{why}. If you are {student.name}, enter the rejoin code shown on your first "
            "device (your facilitator can see it too); if not, add an initial to your name.",
            code=ErrorCode.NAME_TAKEN,
        )
    if len(record.students) >= MAX_STUDENTS:
        raise Conflict(f"a class holds at most {MAX_STUDENTS} students")
    number = record.arrivals + 1
    student = Student(f"p{number}", name, number, client_hash)
    return record.changed(students=(*record.students, student), arrivals=number), student, True


# -- forming teams --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Team:
    """A team to form: its game (None: a new one) and each role's student id (None: a bot)."""

    game_id: str | None
    seats: tuple[tuple[str, str | None], ...]


def team_sizes(students: int, roles: int) -> list[int]:
    """How many people each team gets: ``ceil(students / roles)`` teams, sizes within one of
    each other, the bigger teams first."""
    if students <= 0:
        return []
    teams = math.ceil(students / roles)
    base, extra = divmod(students, teams)
    return [base + 1 if n < extra else base for n in range(teams)]


def plan_teams(
    record: ClassRecord,
    roles: Sequence[str],
    reusable: Sequence[str],
    order: Order,
    seed: int,
) -> list[Team]:
    """Teams for every student waiting: in order of arrival, or shuffled by ``seed``; each
    team's people take the first roles, bots the rest. The first teams go to the ``reusable``
    games (the class's games nobody plays yet), in order; the others need new games."""
    waiting = record.waiting()
    if not waiting:
        raise Conflict("no student is waiting: every student of the class has a seat")
    if order == "random":
        random.Random(seed).shuffle(waiting)
    teams: list[Team] = []
    at = 0
    for n, size in enumerate(team_sizes(len(waiting), len(roles))):
        people = [s.id for s in waiting[at : at + size]]
        at += size
        seats = tuple(
            (role, people[i] if i < len(people) else None) for i, role in enumerate(roles)
        )
        teams.append(Team(reusable[n] if n < len(reusable) else None, seats))
    return teams


def formed(record: ClassRecord, teams: Sequence[Team]) -> ClassRecord:
    """The record once ``teams`` (every one with its game now) are formed."""
    seats: dict[str, Seat] = {}
    games = list(record.games)
    for team in teams:
        assert team.game_id is not None, "a team's game is made before the record is saved"
        if team.game_id not in games:
            games.append(team.game_id)
        for role, student_id in team.seats:
            if student_id is not None:
                seats[student_id] = Seat(team.game_id, role)
    students = tuple(replace(s, seat=seats.get(s.id, s.seat)) for s in record.students)
    return record.changed(students=students, games=tuple(games))


# -- moving, removing -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """A student's seat changes from ``before`` to ``after`` (None: waiting)."""

    student: Student
    before: Seat | None
    after: Seat | None


def move(
    record: ClassRecord, student_id: str, target: Seat | None
) -> tuple[ClassRecord, list[Move]]:
    """Put a student on ``target`` (None: back to waiting). A student on the target seat swaps
    with the one moved, or waits if the one moved had no seat. The moves made, in order."""
    student = record.student(student_id)
    before = student.seat
    if before == target:
        return record, []
    moves = [Move(student, before, target)]
    holder = record.holder(target) if target is not None else None
    if holder is not None:
        moves.append(Move(holder, target, before))
    new_seats = {m.student.id: m.after for m in moves}
    students = tuple(
        replace(s, seat=new_seats[s.id]) if s.id in new_seats else s for s in record.students
    )
    return record.changed(students=students), moves


def remove(record: ClassRecord, student_id: str) -> tuple[ClassRecord, Student]:
    """The record without the student (a name typed in jest, a student who left)."""
    student = record.student(student_id)
    students = tuple(s for s in record.students if s.id != student_id)
    return record.changed(students=students), student


def with_message(record: ClassRecord, raw: object, now: float) -> ClassRecord:
    """The record holding the facilitator's new message to the class."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_MESSAGE:
        raise InvalidSettings(
            f"'text' must be a message of 1 to {MAX_MESSAGE} characters, got {short(raw)}"
        )
    number = record.message.number + 1 if record.message else 1
    return record.changed(message=Notice(raw.strip(), now, number))


# -- JSON at the storage edge ---------------------------------------------------------------


def class_to_json(record: ClassRecord) -> dict[str, Any]:
    """The stored JSON of a class, in layout :data:`LAYOUT_VERSION`."""
    message = record.message
    return {
        "v": LAYOUT_VERSION,
        "session_id": record.session_id,
        "token_hash": record.token_hash,
        "kind": record.kind,
        "settings": record.settings,
        "title": record.title,
        "created_at": record.created_at,
        "round_seconds": record.round_seconds,
        "seed": record.seed,
        "open_join": record.open_join,
        "games": list(record.games),
        "students": [
            {
                "id": s.id,
                "name": s.name,
                "arrived": s.arrived,
                "client_hash": s.client_hash,
                "seat": {"game_id": s.seat.game_id, "role": s.seat.role} if s.seat else None,
            }
            for s in record.students
        ],
        "roster": None if record.roster is None else list(record.roster),
        "arrivals": record.arrivals,
        "message": (
            {"text": message.text, "at": message.at, "number": message.number} if message else None
        ),
        "version": record.version,
    }


def class_from_json(data: Mapping[str, Any]) -> ClassRecord:
    """A class from its stored JSON."""
    if data.get("v") != LAYOUT_VERSION:
        raise LayoutError(f"stored class has layout {data.get('v')!r}; this code reads 1")
    try:
        message = data.get("message")
        roster = data.get("roster")
        return ClassRecord(
            session_id=data["session_id"],
            token_hash=data["token_hash"],
            kind=data["kind"],
            settings=data["settings"],
            title=data["title"],
            created_at=data["created_at"],
            round_seconds=data.get("round_seconds"),
            seed=data.get("seed"),
            open_join=bool(data.get("open_join")),
            games=tuple(data["games"]),
            students=tuple(
                Student(
                    s["id"],
                    s["name"],
                    s["arrived"],
                    s["client_hash"],
                    Seat(s["seat"]["game_id"], s["seat"]["role"]) if s.get("seat") else None,
                )
                for s in data["students"]
            ),
            roster=None if roster is None else tuple(roster),
            arrivals=data["arrivals"],
            message=Notice(message["text"], message["at"], message["number"]) if message else None,
            version=data["version"],
        )
    except (KeyError, TypeError) as exc:
        raise LayoutError(f"stored class is missing or has a bad field: {exc!r}") from exc
