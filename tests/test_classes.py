"""A class's lobby end to end: real server processes, a real SQLite file, real WebSockets and
real SIGKILLs. Students join through the class link's API, wait on long-polls, are sent to
their seats, move, come back on other devices; nothing a student was told is lost."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gameserver.protocol import CloseCode
from gameserver.server import lobby as lb
from gameserver.server.classes import TELL_EVERY, TOLD_PER_SECOND, ClassLobby
from tests.support import ServerProcess, join, resume

ROLES = ["retailer", "wholesaler", "distributor", "factory"]


def make_class(server: ServerProcess, **body: Any) -> dict[str, Any]:
    with server.http() as http:
        response = http.post("/api/sessions", json={"kind": "beer", "teams": 0, **body})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


class Student:
    """A student's device: its own id, and the lobby token it keeps."""

    def __init__(self, server: ServerProcess, session_id: str, name: str, device: str = "") -> None:
        self.server = server
        self.session_id = session_id
        self.name = name
        self.client_id = device or f"device-of-{name}"
        self.token = ""
        self.joined: dict[str, Any] = {}

    @property
    def path(self) -> str:
        return f"/api/sessions/{self.session_id}/lobby"

    async def join(self, http: httpx.AsyncClient, **extra: Any) -> httpx.Response:
        body = {"name": self.name, "client_id": self.client_id, **extra}
        response = await http.post(self.server.url + self.path, json=body)
        if response.status_code in (200, 201):
            self.joined = response.json()
            self.token = self.joined["token"]
        return response

    async def me(self, http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = await http.get(
            self.server.url + self.path + "/me", params=params, headers=headers, timeout=40
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


async def join_all(server: ServerProcess, session_id: str, names: list[str]) -> list[Student]:
    students = [Student(server, session_id, name) for name in names]
    async with httpx.AsyncClient(timeout=20) as http:
        for student in students:
            assert (await student.join(http)).status_code == 201
    return students


def facilitator(server: ServerProcess, made: dict[str, Any]) -> httpx.Client:
    return server.http(made["facilitator_token"])


def lobby_of(server: ServerProcess, made: dict[str, Any]) -> dict[str, Any]:
    with facilitator(server, made) as http:
        response = http.get(f"/api/sessions/{made['session_id']}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_no_student_told_they_are_in_is_lost_to_a_sigkill(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server, title="Crash class")
    students = [Student(fresh_server, made["session_id"], f"Student {n:02d}") for n in range(60)]
    told: list[Student] = []

    async def worker(mine: list[Student], http: httpx.AsyncClient) -> None:
        for student in mine:
            try:
                response = await student.join(http)
            except httpx.HTTPError:
                return  # the server died before it answered: this student was told nothing
            assert response.status_code == 201, response.text
            told.append(student)
            if len(told) == 20:
                fresh_server.kill()  # SIGKILL, mid-stream: the other workers' joins in flight

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(worker(students[n::4], http) for n in range(4)))
    assert 20 <= len(told) < 60
    fresh_server.start()
    names = {s["name"] for s in lobby_of(fresh_server, made)["lobby"]["students"]}
    assert {s.name for s in told} <= names
    async with httpx.AsyncClient(timeout=10) as http:
        # A student told nothing tries again with the same device id: in once, never twice.
        for student in students:
            response = await student.join(http)
            assert response.status_code == (200 if student.name in names else 201)
            assert (await student.me(http))["student"]["name"] == student.name
    final = lobby_of(fresh_server, made)["lobby"]["students"]
    assert sorted(s["name"] for s in final) == sorted(s.name for s in students)
    assert len({s["id"] for s in final}) == 60


async def test_a_big_class_lobby_names_its_first_students_waiting_and_counts_all(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server, title="Hall")
    names = [f"Student {n:03d}" for n in range(lb.WAITING_SHOWN + 3)]
    students = await join_all(fresh_server, made["session_id"], names)
    async with httpx.AsyncClient(timeout=40) as http:
        seen = await students[-1].me(http)
    assert seen["waiting"] == names[: lb.WAITING_SHOWN]  # in order of arrival
    assert seen["waiting_count"] == len(names) and seen["seated"] == 0
    # the facilitator's view of the class still has every student
    assert len(lobby_of(fresh_server, made)["lobby"]["students"]) == len(names)


async def test_waiting_students_are_sent_to_their_seats_when_the_teams_form(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server, title="Period 3")
    names = ["Ann", "Bo", "Chen", "Dev", "Eli", "Fay", "Gus"]
    students = await join_all(fresh_server, made["session_id"], names)
    async with httpx.AsyncClient(timeout=40) as http:
        seen = await students[0].me(http)
        assert seen["waiting"] == names and seen["seat"] is None
        assert seen["waiting_count"] == len(names) and seen["seated"] == 0
        version = seen["version"]
        waits = [asyncio.create_task(s.me(http, since=version)) for s in students]
        await asyncio.sleep(0.5)
        assert not any(w.done() for w in waits)  # they wait: nothing changed yet
        started = time.monotonic()
        with facilitator(fresh_server, made) as fac:
            formed = fac.post(f"/api/sessions/{made['session_id']}/teams", json={})
        assert formed.status_code == 200, formed.text
        answers = await asyncio.gather(*waits)
        assert time.monotonic() - started < 5
    teams = formed.json()["teams"]
    assert len(teams) == 2  # 7 students, 4 roles: teams of 4 and 3
    seats = {a["student"]["name"]: a["seat"] for a in answers}
    assert [seats[n]["team"] for n in names] == [1, 1, 1, 1, 2, 2, 2]
    assert [seats[n]["role"] for n in names] == ROLES + ROLES[:3]
    detail = lobby_of(fresh_server, made)
    second = detail["games"][1]
    assert [s["name"] for s in second["seats"]] == ["Eli", "Fay", "Gus", None]
    assert second["seats"][3]["bot"]["policy"] == "sterman"  # the short team's factory
    client, sync = await resume(fresh_server.ws_url, seats["Gus"]["token"])
    assert (sync["game_id"], sync["role"]) == (teams[1], "distributor")
    await client.close()


async def test_a_crash_after_the_teams_form_loses_no_seat(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    made = make_class(fresh_server)
    students = await join_all(fresh_server, made["session_id"], ["Ann", "Bo", "Cy", "Di", "Ed"])
    with facilitator(fresh_server, made) as http:
        body = {"order": "random", "seed": 11}
        assert http.post(f"/api/sessions/{made['session_id']}/teams", json=body).status_code == 200
    fresh_server.kill()
    fresh_server.start()
    async with httpx.AsyncClient(timeout=10) as http:
        for student in students:
            seat = (await student.me(http))["seat"]
            client, sync = await resume(fresh_server.ws_url, seat["token"])
            assert sync["role"] == seat["role"] and sync["game_id"] == seat["game_id"]
            await client.close()
    games = lobby_of(fresh_server, made)["games"]
    named = sorted(s["name"] for g in games for s in g["seats"] if s["name"])
    assert named == ["Ann", "Bo", "Cy", "Di", "Ed"]


async def test_another_device_gets_the_seat_back_with_the_name_and_rejoin_code(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server)
    ann, *_ = await join_all(fresh_server, made["session_id"], ["Ann", "Bo"])
    with facilitator(fresh_server, made) as http:
        http.post(f"/api/sessions/{made['session_id']}/teams", json={})
    async with httpx.AsyncClient(timeout=10) as http:
        seat = (await ann.me(http))["seat"]
        first, _ = await resume(fresh_server.ws_url, seat["token"])
        phone = Student(fresh_server, made["session_id"], "ann", device="the-phone-001")
        refused = await phone.join(http)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "name_taken"
        back = await phone.join(http, rejoin=ann.joined["student"]["rejoin_code"].lower())
        assert back.status_code == 200
        assert back.json()["student"]["id"] == "p1" and back.json()["seat"] == seat
    second, sync = await resume(fresh_server.ws_url, back.json()["seat"]["token"])
    assert sync["role"] == "retailer"
    assert await first.closed_with() == CloseCode.SUPERSEDED  # the laptop's tab gives way
    await second.close()


async def test_a_reset_seat_is_put_right_when_its_student_asks(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server)
    (ann,) = await join_all(fresh_server, made["session_id"], ["Ann"])
    with facilitator(fresh_server, made) as http:
        http.post(f"/api/sessions/{made['session_id']}/teams", json={})
    async with httpx.AsyncClient(timeout=10) as http:
        seat = (await ann.me(http))["seat"]
        client, _ = await resume(fresh_server.ws_url, seat["token"])
        with facilitator(fresh_server, made) as fac:
            fac.post(f"/api/games/{seat['game_id']}/seats/retailer/reset")
        assert await client.closed_with() == CloseCode.SEAT_RESET
        assert (await ann.me(http))["seat"] == seat  # the same token opens it again
    client, sync = await resume(fresh_server.ws_url, seat["token"])
    assert sync["role"] == "retailer"
    await client.close()


async def test_a_student_moved_during_play_follows_and_the_export_names_who_decided(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server, title="Moves")
    sid = made["session_id"]
    students = await join_all(fresh_server, sid, ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"])
    with facilitator(fresh_server, made) as http:
        teams = http.post(f"/api/sessions/{sid}/teams", json={}).json()["teams"]
        assert [r["ok"] for r in http.post(f"/api/sessions/{sid}/start").json()["results"]] == [
            True,
            True,
        ]
    ann = students[0]
    async with httpx.AsyncClient(timeout=10) as http:
        seat = (await ann.me(http))["seat"]
        assert (seat["team"], seat["role"]) == (1, "retailer")
        client, _ = await resume(fresh_server.ws_url, seat["token"])
        await client.send({"type": "submit", "round": 1, "id": "w1", "decision": {"order": 9}})
        await client.expect("ack", id="w1")
        with facilitator(fresh_server, made) as fac:
            assert fac.post(f"/api/sessions/{sid}/close-round").status_code == 200
            to = {"game_id": teams[1], "role": "factory"}  # team 2's bot seat
            moved = fac.put(f"/api/sessions/{sid}/students/p1/seat", json=to)
            assert moved.status_code == 200, moved.text
        assert await client.closed_with() == CloseCode.SEAT_RESET
        new_seat = (await ann.me(http))["seat"]
        assert (new_seat["team"], new_seat["role"]) == (2, "factory")
    client, sync = await resume(fresh_server.ws_url, new_seat["token"])
    assert sync["game_id"] == teams[1] and sync["round"] == 1
    await client.send({"type": "submit", "round": 2, "id": "w2", "decision": {"order": 7}})
    await client.expect("ack", id="w2")
    await client.close()
    with facilitator(fresh_server, made) as fac:
        assert fac.post(f"/api/sessions/{sid}/close-round").status_code == 200
        games = {g["game_id"]: g for g in fac.get(f"/api/sessions/{sid}").json()["games"]}
        assert games[teams[0]]["seats"][0]["bot"] is not None  # Ann's old seat plays on
        assert games[teams[1]]["seats"][3]["name"] == "Ann"
        assert games[teams[1]]["seats"][3]["bot"] is None
        exported = fac.get(f"/api/sessions/{sid}/export.json")
        export = exported.json()
        as_csv = fac.get(f"/api/sessions/{sid}/export.csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    # Sent as made, a game at a time (docs/api.md)
    for response in (exported, as_csv):
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
    assert as_csv.headers["content-disposition"] == f'attachment; filename="{sid}.csv"'
    assert exported.headers["content-type"] == "application/json"
    assert sorted(s["name"] for s in export["students"]) == ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]
    decided = {(r["team"], r["round"], r["role"]): r for r in rows}
    assert decided["1", "1", "retailer"]["name"] == "Ann"
    assert decided["1", "1", "retailer"]["decision_order"] == "9"
    assert decided["2", "2", "factory"]["name"] == "Ann"
    assert decided["2", "2", "factory"]["decision_order"] == "7"
    assert decided["1", "2", "retailer"]["name"] == ""  # a bot played it
    assert {r["name"] for r in rows} >= {"Ann", "Bo", "Cy", "Di", "Ed", "Flo"}


async def test_long_polls_answer_at_once_when_the_server_stops(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server)
    students = await join_all(fresh_server, made["session_id"], ["Ann", "Bo", "Cy"])
    async with httpx.AsyncClient(timeout=40) as http:
        version = (await students[0].me(http))["version"]
        waits = [asyncio.create_task(s.me(http, since=version)) for s in students]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await asyncio.to_thread(fresh_server.terminate)  # SIGTERM: a graceful stop
        assert time.monotonic() - started < 5  # not uvicorn's 10 s grace, nor the polls' 25 s
        assert "stopped" in fresh_server.log()
        answers = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(a, dict) and a["version"] == version for a in answers), answers


async def test_bots_fill_every_empty_seat_of_a_class_in_one_action(server: ServerProcess) -> None:
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 3}).json()
    first = made["games"][0]
    player, _, _ = await join(server.ws_url, first["join"][1]["code"], name="Kim")
    with server.http(made["facilitator_token"]) as http:
        body = {"policy": "pass-through"}
        filled = http.post(f"/api/sessions/{made['session_id']}/bots", json=body).json()
        games = http.get(f"/api/sessions/{made['session_id']}").json()["games"]
    assert [g["roles"] for g in filled["games"]] == [
        ["retailer", "distributor", "factory"],
        ROLES,
        ROLES,
    ]
    seats = games[0]["seats"]
    assert [s["bot"] is None for s in seats] == [False, True, False, False]
    assert seats[1]["name"] == "Kim" and seats[0]["bot"]["policy"] == "pass-through"
    await player.close()


async def test_a_message_reaches_the_students_waiting(
    fresh_server: ServerProcess,
) -> None:
    fresh_server.start()
    made = make_class(fresh_server)
    (waiting,) = await join_all(fresh_server, made["session_id"], ["Wen"])
    async with httpx.AsyncClient(timeout=40) as http:
        version = (await waiting.me(http))["version"]
        heard = asyncio.create_task(waiting.me(http, since=version))
        with facilitator(fresh_server, made) as fac:
            sent = fac.post(f"/api/sessions/{made['session_id']}/message", json={"text": "Hello"})
        assert sent.json()["number"] == 1
        assert (await heard)["message"]["text"] == "Hello"


@pytest.mark.parametrize("order", ["arrival", "random"])
async def test_a_class_made_with_games_fills_them_before_making_more(
    server: ServerProcess, order: str
) -> None:
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 1, "title": "T"}).json()
    names = [f"{order} {n}" for n in range(6)]
    await join_all(server, made["session_id"], names)
    with server.http(made["facilitator_token"]) as http:
        formed = http.post(f"/api/sessions/{made['session_id']}/teams", json={"order": order})
        games = http.get(f"/api/sessions/{made['session_id']}").json()["games"]
    assert formed.json()["teams"][0] == made["games"][0]["game_id"]
    assert [g["title"] for g in games] == ["T team 1", "T team 2"]
    assert sorted(s["name"] for g in games for s in g["seats"] if s["name"]) == sorted(names)


async def test_presets_are_kept_across_a_restart(fresh_server: ServerProcess) -> None:
    fresh_server.start()
    preset = {"kind": "beer", "settings": {"weeks": 12}, "round_seconds": 90, "title": "Quick"}
    with fresh_server.http() as http:
        assert http.put("/api/presets/Quick round", json=preset).status_code == 200
        refused = http.put("/api/presets/Bad", json={"kind": "beer", "settings": {"weeks": 0}})
        assert refused.status_code == 422 and "weeks" in refused.json()["error"]["message"]
    fresh_server.kill()
    fresh_server.start()
    with fresh_server.http() as http:
        (kept,) = http.get("/api/presets").json()["presets"]
    assert kept == {"name": "Quick round", "open_join": None, "seed": None, **preset}


async def test_a_student_token_opens_only_its_own_lobby(server: ServerProcess) -> None:
    first, second = make_class(server), make_class(server)
    (ann,) = await join_all(server, first["session_id"], ["Ann"])
    async with httpx.AsyncClient(timeout=10) as http:
        path = f"/api/sessions/{second['session_id']}/lobby/me"
        other = await http.get(server.url + path, headers={"Authorization": f"Bearer {ann.token}"})
        assert other.status_code == 401
        forged = ann.token[:-4] + "AAAA"
        mine = f"/api/sessions/{first['session_id']}/lobby/me"
        bad = await http.get(server.url + mine, headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_token"
    with server.http(first["facilitator_token"]) as http:
        http.delete(f"/api/sessions/{first['session_id']}/students/p1")
    async with httpx.AsyncClient(timeout=10) as http:
        gone = await http.get(server.url + mine, headers={"Authorization": f"Bearer {ann.token}"})
        assert gone.status_code == 401


async def test_a_move_the_class_cannot_make_is_refused_by_name(server: ServerProcess) -> None:
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 2}).json()
        other = http.post("/api/games", json={"kind": "beer"}).json()
    first, second = (g["game_id"] for g in made["games"])
    await join_all(server, made["session_id"], ["Ann"])
    kim, _, _ = await join(server.ws_url, made["games"][1]["join"][0]["code"], name="Kim")
    seat = f"/api/sessions/{made['session_id']}/students/p1/seat"
    with server.http(made["facilitator_token"]) as http:
        for to, status, code, words in [
            ({"game_id": other["game_id"], "role": "retailer"}, 404, "not_found", "not a game of"),
            ({"game_id": first, "role": "brewer"}, 404, "no_such_role", "'brewer'"),
            ({"game_id": second, "role": "retailer"}, 409, "conflict", "Kim, who joined with"),
        ]:
            response = http.put(seat, json=to)
            assert response.status_code == status, response.text
            error = response.json()["error"]
            assert error["code"] == code and words in error["message"], error
        assert http.post(f"/api/games/{second}/end").status_code == 200
        ended = http.put(seat, json={"game_id": second, "role": "factory"})
        assert ended.status_code == 409 and "ended" in ended.json()["error"]["message"]
        bots = http.post(f"/api/games/{second}/bots")
        assert bots.status_code == 409 and "stay as they are" in bots.json()["error"]["message"]
        assert http.put(seat, json={"game_id": first, "role": "factory"}).status_code == 200
        lobby = http.get(f"/api/sessions/{made['session_id']}").json()["lobby"]
    assert lobby["students"][0]["team"] == 1 and lobby["students"][0]["role"] == "factory"
    await kim.close()


async def test_a_lobby_tells_its_waiters_the_changes_of_half_a_second_together() -> None:
    """The first change wakes the waiting students at once; the changes within TELL_EVERY of
    a wake-up wake them once, TELL_EVERY after it; a stopping server wakes them at once."""
    loop = asyncio.get_running_loop()
    lobby = ClassLobby(lb.ClassRecord("S1", "hash", "beer", {}, "Period 3", 1.0))
    first = lobby.changed_after(0)
    assert first is not None
    lobby.notify()
    assert first.is_set()
    told = loop.time()
    second = lobby.changed_after(0)
    assert second is not None and not second.is_set()
    lobby.notify()
    lobby.notify()  # the same wake-up tells both
    assert not second.is_set()
    await second.wait()
    assert loop.time() - told >= TELL_EVERY - 0.01
    third = lobby.changed_after(0)
    assert third is not None
    lobby.notify()  # within TELL_EVERY of the last: later ...
    assert not third.is_set()
    lobby.notify(now=True)  # ... unless the server is stopping
    assert third.is_set()
    fourth = lobby.changed_after(0)
    assert fourth is not None
    await asyncio.sleep(TELL_EVERY + 0.1)
    assert not fourth.is_set()  # the wake-up that was due was told with the stop


async def test_a_waiter_waits_past_its_version_and_many_waiters_are_told_less_often() -> None:
    """A wake-up that tells only what a student has seen does not answer them; with more than
    TOLD_PER_SECOND / 2 students waiting the wake-ups come further apart (docs/api.md)."""
    lobby = ClassLobby(lb.ClassRecord("S1", "hash", "beer", {}, "Period 3", 1.0))
    assert lobby.tell_every() == TELL_EVERY == 0.5 and TOLD_PER_SECOND == 500
    lobby.notify()  # a wake-up for a change already seen (version 0)
    waiter = asyncio.create_task(lobby.wait_past(0, lambda: False))
    await asyncio.sleep(0)
    assert lobby.waiters == 1
    lobby.notify()  # told TELL_EVERY later: still nothing past version 0
    await asyncio.sleep(TELL_EVERY + 0.1)
    assert not waiter.done()
    lobby.record = replace(lobby.record, version=1)
    lobby.notify()
    await asyncio.wait_for(waiter, TELL_EVERY + 1)
    assert lobby.waiters == 0
    lobby.waiters = 1000
    assert lobby.tell_every() == 2.0  # 500 answers a second
    lobby.waiters = 250
    assert lobby.tell_every() == TELL_EVERY
    assert await asyncio.wait_for(lobby.wait_past(0, lambda: False), 1) is None  # past it
    stop = asyncio.create_task(lobby.wait_past(1, lambda: True))
    assert await asyncio.wait_for(stop, 1) is None  # a stopping server answers at once
