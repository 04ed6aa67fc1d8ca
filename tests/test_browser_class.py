"""A 30-student class in real Chromium: one class link, a lobby, teams formed, a round closed by
its deadline, a server killed and restarted mid-round, a move, a message, an early end with the
debrief, the export. The facilitator and 12 students are browser contexts (each its own
localStorage, as separate laptops); the other 18 students are protocol clients (the lobby's HTTP
API and the WebSocket, as the pages speak them), in one asyncio loop on a thread of their own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from gameserver.protocol import CloseCode
from tests.support import ServerProcess, WSClient, resume
from tests.test_browser import BROWSER_MARKS, CHROMIUM

if CHROMIUM.exists():  # as in tests/test_browser.py: without Chromium, the tests skip
    from tests.test_browser import (
        Browser,
        BrowserContext,
        Page,
        browser,
        contexts,
        dashboard,
        expect,
        new_page,
        no_page_errors,
    )


pytestmark = [*BROWSER_MARKS, pytest.mark.slow]
__all__ = ["browser", "contexts"]  # the fixtures, used by name

NAMES = [
    "Ann", "Ben", "Chloé", "Dev", "Emma", "Farid", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lea",
    "Mo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tia", "Uma", "Vik", "Wen", "Xiu",
    "Yara", "Zed", "Ada", "Bo", "Cy", "Di",
]  # fmt: skip
IN_BROWSERS = 12
DOWN = 8.0  # seconds the server is down mid-week
ALIVE_INTERVAL = 2.0  # the server's alive mark, and
GRACE = 30.0  # the least time a round gets after a restart (docs/protocol.md)


class ProtocolStudents:
    """Students who join and play as protocol clients: join by name, wait on the long-poll,
    play their seat (order 4 in each round up to ``play_to`` they have not decided: the test
    sets the pace, so that teams of theirs alone do not race to the end), and when their seat
    is taken from them (a move: close 4003) ask the lobby where to go. When the server goes
    away (a crash) they come back as a page does: ask again every half second until it answers,
    and resume their seat (``comebacks`` counts, per student, the seats resumed so)."""

    def __init__(self, server: ServerProcess, session_id: str, names: list[str]) -> None:
        self.server = server
        self.lobby = f"{server.url}/api/sessions/{session_id}/lobby"
        self.names = names
        self.joined: set[str] = set()
        self.seats: dict[str, dict[str, Any]] = {}
        self.decided: dict[str, int] = {}  # the last round each decided
        self.play_to = 1
        self.last: dict[str, dict[str, Any]] = {}  # each one's last picture of its game
        self.comebacks: dict[str, int] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="protocol students", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.run(self._all())

    async def _all(self) -> None:
        await asyncio.gather(*(self._student(name) for name in self.names))

    async def _student(self, name: str) -> None:
        try:
            # A kept-alive connection is given up before the server's 5 s keep-alive timeout
            # closes it, and a GET whose connection the server closed as it was sent is sent
            # again, as browsers do (RFC 9112, 9.3.1): a loaded machine widens that race.
            limits = httpx.Limits(keepalive_expiry=2.0)
            async with httpx.AsyncClient(timeout=40, limits=limits) as http:
                body = {"name": name, "client_id": f"protocol-{name}"}
                try:
                    joined = await http.post(self.lobby, json=body)
                except httpx.RemoteProtocolError:  # a join is idempotent: 200 the second time
                    joined = await http.post(self.lobby, json=body)
                assert joined.status_code in (200, 201), joined.text
                self.joined.add(name)
                view, token = joined.json(), joined.json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                while not self._stop.is_set():
                    if view["seat"] is None:
                        query = {"since": view["version"], "wait": 2}
                        view = await self._ask(http, headers, query)
                        continue
                    self.seats[name] = view["seat"]
                    try:
                        await self._play(name, view["seat"])
                    except (OSError, TimeoutError, ConnectionClosed):  # the server went away
                        self.comebacks[name] = self.comebacks.get(name, 0) + 1
                        await asyncio.sleep(0.5)
                    view = await self._ask(http, headers, {})  # where now?
        except Exception as exc:  # reported by the test, with the student's name
            self.errors.append(f"{name}: {exc!r}")

    async def _ask(
        self, http: httpx.AsyncClient, headers: dict[str, str], query: dict[str, Any]
    ) -> dict[str, Any]:
        """The student's lobby: asked again at once when the server closed the kept-alive
        connection as the GET was sent, and every half second while the server is down."""
        while True:
            try:
                answer = await http.get(self.lobby + "/me", params=query, headers=headers)
            except httpx.RemoteProtocolError:
                continue
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            assert answer.status_code == 200, answer.text
            view: dict[str, Any] = answer.json()
            return view

    async def _play(self, name: str, seat: dict[str, Any]) -> None:
        """Play the seat until the test stops or the seat is taken from the student (a move);
        a connection lost otherwise raises."""
        client, sync = await resume(self.server.ws_url, seat["token"])
        message: dict[str, Any] = sync
        self.last[name] = sync
        try:
            while not self._stop.is_set():
                if message.get("type") in ("sync", "round", "status"):
                    await self._decide(name, client, message)
                try:
                    message = await client.recv(timeout=0.5)
                except TimeoutError:
                    message = {"type": "sync", **self.last.get(name, {})}  # the pace may be up
                else:
                    if message.get("type") in ("sync", "round", "status"):
                        self.last[name] = message
        except ConnectionClosed:
            if client.ws.close_code != CloseCode.SEAT_RESET:
                raise
        finally:
            await client.close()

    async def _decide(self, name: str, client: WSClient, message: dict[str, Any]) -> None:
        if message.get("status") != "running" or message.get("role") in message.get("bots", ()):
            return
        open_round = message["open_round"]
        if self.decided.get(name, 0) < open_round <= self.play_to:
            self.decided[name] = open_round
            frame = {"type": "submit", "round": open_round, "id": f"{name}-{open_round}"}
            await client.send({**frame, "decision": {"order": 4}})


@pytest.fixture
def students_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data")
    server.start()
    yield server
    server.stop()


def lobby_class(server: ServerProcess, title: str) -> dict[str, Any]:
    """A class made over the API with no roster and no teams: its students name themselves."""
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 0, "title": title})
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()
    return data


def join_in_browser(browser: Browser, contexts: list[BrowserContext], link: str, name: str) -> Page:
    page = new_page(browser, contexts, viewport={"width": 900, "height": 800})
    page.goto(link)
    expect(page.get_by_test_id("lobby")).to_be_visible()
    page.select_option("#lobby-roster", name)
    page.click("#lobby-join")
    expect(page.get_by_test_id("lobby-you")).to_have_text(f"You are in, {name}.")
    return page


def test_a_class_of_30_plays_through_a_deadline_a_crash_a_move_and_an_early_end(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    """One class, the whole story in order: created with a round deadline, 30 students in by
    one link, 8 teams (30 is no multiple of 4: bots take the short teams' last seats), a week
    closed by its deadline without one student's order, the server SIGKILLed and restarted
    mid-week (the deadline keeps the time it had), a student moved to another team during
    play, a message, the class ended early (every page shows the debrief), the export."""
    server = students_server
    dash = dashboard(browser, contexts, server)
    dash.locator("#create-details summary").click()
    dash.fill("#title", "Period 3")
    dash.check("#lobby-class")
    dash.fill("#round-seconds", "90")  # every week closes 90 s after it opens, at the latest
    dash.click("#create-button")
    panel = dash.get_by_test_id("class-panel")
    expect(panel).to_be_visible()
    link = dash.get_by_test_id("class-link").inner_text()
    session_id = link.rsplit("=", 1)[1]
    assert link == f"{server.url}/play?class={session_id}"
    expect(dash.get_by_test_id("class-qr").locator("svg")).to_be_visible()
    panel.locator("summary").click()  # the roster
    dash.fill("#class-roster", "\n".join(NAMES))
    dash.get_by_test_id("class-roster-save").click()
    expect(dash.locator("#notice")).to_contain_text("pick from 30 names")

    pages = {name: join_in_browser(browser, contexts, link, name) for name in NAMES[:IN_BROWSERS]}
    protocol = ProtocolStudents(server, session_id, NAMES[IN_BROWSERS:])
    protocol.start()
    counts = dash.get_by_test_id("class-counts")
    expect(counts).to_have_attribute("data-waiting", "30", timeout=20_000)
    first = pages[NAMES[0]]
    expect(first.get_by_test_id("lobby-waiting").locator("li")).to_have_count(30)
    expect(dash.get_by_test_id("form-teams")).to_be_enabled()
    expect(dash.locator("#form-teams-rule")).to_have_text(
        "30 waiting, 4 roles per team: 8 teams, sizes within one of each other; 2 seats go to"
        " bots, always a short team's last roles. No two students share a role."
    )

    dash.get_by_test_id("form-teams").click()  # in order of arrival
    expect(counts).to_have_attribute("data-teams", "8")
    expect(counts).to_have_attribute("data-waiting", "0")
    for name, page in pages.items():
        expect(page.locator("#game-section")).to_be_visible()
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        expect(page.locator("#seat-line")).to_contain_text(f"{name} · team")
    with server.http() as http:
        detail = http.get(f"/api/sessions/{session_id}").json()
    games = detail["games"]
    assert len(games) == 8
    people = [[s["name"] for s in g["seats"] if s["name"]] for g in games]
    assert [len(p) for p in people] == [4, 4, 4, 4, 4, 4, 3, 3]  # 30 is no multiple of 4
    assert [g["seats"][3]["bot"] is not None for g in games] == [False] * 6 + [True] * 2
    assert sorted(n for p in people for n in p) == sorted(NAMES)
    assert [g["round_seconds"] for g in games] == [90] * 8

    # The names are on the dashboard's seats, the short teams' factories are bots.
    dash.select_option("#filter", f"session:{session_id}")
    team1, team3, team8 = (games[n]["game_id"] for n in (0, 2, 7))
    expect(dash.get_by_test_id(f"seat-{team1}-retailer")).to_contain_text(NAMES[0])
    expect(dash.get_by_test_id(f"seat-{team8}-factory")).to_contain_text("bot")

    # Start the class and play a week: every page and protocol client decides, bots too, but
    # Lea (team 3's factory) does not: her team's week closes by its deadline.
    dash.click('[data-bulk="start"]')
    expect(dash.locator("#notice")).to_contain_text("Started in 8 games")
    lea = pages["Lea"]
    expect(lea.locator("#seat-line")).to_contain_text("Factory · Lea · team 3")
    for page in pages.values():
        expect(page.locator("#round-line")).to_have_text("Week 1 of 50")
        expect(page.get_by_test_id("deadline")).to_contain_text("Closes in 1:")
        if page is not lea:
            page.fill("#decision-input", "5")
            page.click("#decision-submit")
    for name in NAMES[:8]:  # teams 1 and 2: everyone decided, the week closed at once
        expect(pages[name].locator("#round-line")).to_have_text("Week 2 of 50", timeout=20_000)
    for name in NAMES[8:12]:  # team 3 waits for Lea
        expect(pages[name].locator("#seat-line")).to_contain_text(f"{name} · team 3")
        expect(pages[name].locator("#round-line")).to_have_text("Week 1 of 50")
        if name != "Lea":
            status = pages[name].get_by_test_id("decision-status")
            expect(status).to_have_attribute("data-state", "submitted")
    expect(dash.get_by_test_id(f"seat-{team3}-factory")).to_have_attribute(
        "data-submitted", "false"
    )
    # The last seconds of team 3's week: its deadline, brought in, closes it without Lea.
    with server.http() as http:
        moved = http.post(f"/api/games/{team3}/deadline", json={"seconds": 2})
        assert moved.status_code == 200, moved.text
    for page in pages.values():
        expect(page.locator("#round-line")).to_have_text("Week 2 of 50", timeout=20_000)
    notice = lea.get_by_test_id("defaulted-notice")
    expect(notice).to_have_text("Week 1 closed without your order; 4 was used.")
    for page in pages.values():
        if page is not lea:
            expect(page.get_by_test_id("defaulted-notice")).to_be_hidden()

    # The server is killed mid-week (SIGKILL: as in a crash) and started again 8 s later. The
    # pages come back by themselves; the week's deadline gives back the time it had left.
    ben = pages["Ben"]
    deadline = ben.get_by_test_id("deadline")
    expect(deadline).to_contain_text("Closes in 1:")
    before = _seconds(deadline.inner_text())
    server.kill()
    for page in pages.values():
        expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    time.sleep(DOWN)
    restarted = time.monotonic()
    server.start()
    healthy = time.monotonic()
    for page in pages.values():
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "online", timeout=25_000
        )
        expect(page.locator("#round-line")).to_have_text("Week 2 of 50")
    read_at = time.monotonic()
    after = _seconds(deadline.inner_text())
    back, up = time.monotonic() - restarted, read_at - healthy  # since the week runs again
    # docs/protocol.md, "How rounds close": the week gets back the time it had at the kill and
    # at most the alive interval (2 s) more, or the grace if that is less; since the restart,
    # it runs again. The countdown shows whole seconds, rounded up (1 s either way), on the
    # page's estimate of the server's clock (a message's delay off: 0.5 s, loosely).
    assert after <= max(before + ALIVE_INTERVAL, GRACE) + 1.5 - up, (before, after, up)
    # Had the 8 s of downtime been taken, it would show before - 8 - (back less the start-up,
    # a second or two) at most: well below this.
    assert after >= max(before - 1, GRACE) - 0.5 - back, ("downtime taken", before, after, back)
    # The facilitator's table shows the same time left (it reconnects by itself too).
    shown = dash.get_by_test_id(f"deadline-{team1}")
    expect(shown).to_have_text(re.compile(r"^\d+:\d\d$"), timeout=15_000)
    gaps = []
    for _ in range(30):
        gaps.append(_seconds(shown.inner_text()) - _seconds(deadline.inner_text()))
        if abs(gaps[-1]) <= 1:
            break
        time.sleep(0.5)
    assert abs(gaps[-1]) <= 1, gaps
    expect(notice).to_have_text("Week 1 closed without your order; 4 was used.")  # still
    # Every student is back: the 12 pages and the 18 protocol clients, on the dashboard too.
    for game in games:
        for s in game["seats"]:
            if s["name"]:
                expect(
                    dash.get_by_test_id(f"seat-{game['game_id']}-{s['role']}")
                ).to_have_attribute("data-online", "true", timeout=20_000)
    assert set(protocol.comebacks) == set(NAMES[IN_BROWSERS:]), protocol.comebacks

    # Move Ann (team 1, retailer) to team 8's bot factory, during play: her page follows.
    ann = pages["Ann"]
    dash.get_by_test_id("move-p1").select_option(f"{team8}/factory")
    expect(dash.locator("#notice")).to_contain_text("Ann moved to Factory")
    expect(ann.locator("#seat-line")).to_contain_text("Factory · Ann · team 8", timeout=15_000)
    expect(ann.locator("#connection")).to_have_attribute("data-state", "online")
    expect(ann.locator("#round-line")).to_have_text("Week 2 of 50")
    ann.fill("#decision-input", "6")
    ann.click("#decision-submit")
    expect(ann.get_by_test_id("decision-status")).to_have_attribute("data-state", "submitted")
    expect(dash.get_by_test_id(f"seat-{team1}-retailer")).to_contain_text("bot")
    expect(dash.get_by_test_id(f"seat-{team8}-factory")).to_contain_text("Ann")
    expect(dash.get_by_test_id(f"seat-{team8}-factory")).to_have_attribute("data-submitted", "true")

    # A message to the whole class.
    dash.fill("#class-message", "Order for week 2 now, please")
    dash.get_by_test_id("class-send").click()
    for page in pages.values():
        expect(page.get_by_test_id("announcement")).to_contain_text("Order for week 2 now")

    # The facilitator ends the class early, from the dashboard: every page shows the debrief.
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    dash.once("dialog", accept)
    dash.click('[data-bulk="end"]')
    expect(dash.locator("#notice")).to_contain_text("Ended in 8 games")
    assert dialogs == ["End 8 games now?"]
    for page in pages.values():
        debrief = page.get_by_test_id("debrief")
        expect(debrief).to_be_visible()
        expect(debrief).to_contain_text("Debrief: the whole team")
        expect(page.locator("#game-note")).to_contain_text("The facilitator ended the game.")
        expect(page.locator("#round-line")).to_have_text("Game ended: 1 week played")
        expect(page.locator("#decide-card")).to_be_hidden()
    expect(ann.get_by_test_id("debrief")).to_contain_text("Factory (you)")  # team 8's
    lea.reload()  # and after a reload
    expect(lea.get_by_test_id("debrief")).to_contain_text("Debrief: the whole team")

    # The export of the whole class, from the dashboard: every name, Ann's move and Lea's
    # defaulted week in it.
    with dash.expect_download() as download:
        dash.get_by_test_id("class-export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["name"] for r in rows} >= set(NAMES)
    week1 = {(r["team"], r["role"]): r for r in rows if r["round"] == "1"}
    assert week1["1", "retailer"]["name"] == "Ann"
    assert week1["1", "retailer"]["decision_order"] == "5"
    assert week1["3", "factory"]["name"] == "Lea"
    assert week1["3", "factory"]["decision_order"] == "4"
    assert week1["3", "factory"]["defaulted"] == "1"
    assert week1["3", "retailer"]["defaulted"] == "0"
    with dash.expect_download() as download:
        dash.get_by_test_id("class-export-json").click()
    export = json.loads(Path(download.value.path()).read_text())
    assert sorted(s["name"] for s in export["students"]) == sorted(NAMES)
    assert {g["team"]: g["status"] for g in export["games"]} == {n: "ended" for n in range(1, 9)}
    ann_now = next(s for s in export["students"] if s["name"] == "Ann")
    assert (ann_now["team"], ann_now["role"]) == (8, "factory")
    protocol.stop()
    assert protocol.errors == []
    assert protocol.joined == set(NAMES[IN_BROWSERS:])
    no_page_errors(dash, *pages.values())


def _seconds(text: str) -> int:
    """The seconds of a countdown such as "Closes in 1:25"."""
    match = re.search(r"(\d+):(\d\d)", text)
    assert match, text
    return int(match.group(1)) * 60 + int(match.group(2))


def test_a_student_on_another_device_comes_back_with_the_rejoin_code(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    server = students_server
    made = lobby_class(server, "P4")
    link = made["lobby"]["link"]
    laptop = new_page(browser, contexts)
    laptop.goto(link)
    laptop.fill("#lobby-name", "Zoë")
    laptop.click("#lobby-join")
    code = laptop.get_by_test_id("lobby-code")
    expect(code).to_have_text(re.compile(r"^[0-9A-Z]{6}$"))
    laptop.reload()  # the device keeps the student: back in the lobby, not at the form
    expect(laptop.get_by_test_id("lobby-you")).to_have_text("You are in, Zoë.")
    with server.http(made["facilitator_token"]) as http:
        http.post(f"/api/sessions/{made['session_id']}/teams", json={})
    expect(laptop.locator("#seat-line")).to_contain_text("Retailer · Zoë · team 1")

    phone = new_page(browser, contexts, viewport={"width": 390, "height": 844})
    phone.goto(link)
    phone.fill("#lobby-name", "zoë")
    phone.click("#lobby-join")
    expect(phone.locator("#lobby-error")).to_contain_text("Zoë is already in this class")
    expect(phone.locator("#lobby-rejoin")).to_be_visible()
    phone.fill("#lobby-rejoin", code.inner_text().lower())
    phone.click("#lobby-join")
    expect(phone.locator("#seat-line")).to_contain_text("Retailer · Zoë · team 1")
    expect(phone.locator("#connection")).to_have_attribute("data-state", "online")
    expect(laptop.locator("#superseded")).to_be_visible()  # the laptop's tab gives way
    no_page_errors(laptop, phone)


def test_a_big_class_lobby_lists_its_first_names_and_counts_the_others(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    server = students_server
    made = lobby_class(server, "Hall")
    page = new_page(browser, contexts)
    page.goto(made["lobby"]["link"])
    page.fill("#lobby-name", "Ada")
    page.click("#lobby-join")
    expect(page.get_by_test_id("lobby-you")).to_have_text("You are in, Ada.")
    names = page.get_by_test_id("lobby-waiting").locator("li")
    expect(names).to_have_count(1)
    with server.http() as http:
        for n in range(104):  # 105 waiting: the page names the first 100 and counts the rest
            body = {"name": f"Student {n:03d}", "client_id": f"device-{n}"}
            joined = http.post(f"/api/sessions/{made['session_id']}/lobby", json=body)
            assert joined.status_code == 201, joined.text
    expect(page.locator("#lobby-waiting-heading")).to_have_text("Waiting (105)")
    expect(names).to_have_count(101)
    expect(names.first).to_have_text("Ada")
    expect(names.first).to_have_class("own")
    expect(names.nth(99)).to_have_text("Student 098")
    expect(names.last).to_have_text("and 5 more")
    no_page_errors(page)


def test_presets_bots_and_older_games_on_the_dashboard(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    server = students_server
    with server.http() as http:
        made = [http.post("/api/games", json={"kind": "beer", "title": f"Old {n}"}).json()
                for n in range(52)]  # fmt: skip
    dash = dashboard(browser, contexts, server)
    rows = dash.locator('tr[data-testid^="game-row-"]')
    expect(rows).to_have_count(50)  # the newest 50: Old 2 to Old 51
    expect(dash.get_by_test_id(f"game-row-{made[51]['game_id']}")).to_be_visible()
    dash.click("#more-games")
    expect(rows).to_have_count(52)
    expect(dash.locator("#more-games")).to_be_hidden()

    newest = made[51]["game_id"]
    dash.select_option(f"#policy-{newest}", "pass-through")
    dash.get_by_test_id(f"act-bots-{newest}").click()
    expect(dash.locator("#notice")).to_contain_text("bots on the empty seats")
    for role in ("retailer", "factory"):
        expect(dash.get_by_test_id(f"seat-{newest}-{role}")).to_have_attribute(
            "data-bot", "pass-through"
        )

    dash.locator("#create-details summary").click()
    dash.fill("#title", "Short run")
    dash.fill("#set-weeks", "12")
    dash.fill("#round-seconds", "90")
    dash.fill("#preset-name", "Twelve weeks")
    dash.get_by_test_id("save-preset").click()
    expect(dash.locator("#notice")).to_contain_text("Saved the preset Twelve weeks")
    dash.reload()
    expect(dash.locator("#app")).to_be_visible()
    dash.locator("#create-details summary").click()
    expect(dash.locator("#set-weeks")).to_have_value("36")
    dash.select_option("#preset", "Twelve weeks")
    expect(dash.locator("#set-weeks")).to_have_value("12")
    expect(dash.locator("#title")).to_have_value("Short run")
    expect(dash.locator("#round-seconds")).to_have_value("90")
    no_page_errors(dash)
