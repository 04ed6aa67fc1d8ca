"""A 30-student class in real Chromium: one class link, a lobby, teams formed, a move, a message,
the export. The facilitator and 12 students are browser contexts (each its own localStorage, as
separate laptops); the other 18 students are protocol clients (the lobby's HTTP API and the
WebSocket, as the pages speak them), in one asyncio loop on a thread of their own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gameserver.protocol import CloseCode
from tests.support import ServerProcess, WSClient, resume
from tests.test_browser import CHROMIUM

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


pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
__all__ = ["browser", "contexts"]  # the fixtures, used by name

NAMES = [
    "Ann", "Ben", "Chloé", "Dev", "Emma", "Farid", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lea",
    "Mo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tia", "Uma", "Vik", "Wen", "Xiu",
    "Yara", "Zed", "Ada", "Bo", "Cy", "Di",
]  # fmt: skip
IN_BROWSERS = 12


async def get(http: httpx.AsyncClient, url: str, **options: Any) -> httpx.Response:
    """GET ``url``, once more if the server closed the kept-alive connection as it was sent."""
    try:
        return await http.get(url, **options)
    except httpx.RemoteProtocolError:
        return await http.get(url, **options)


class ProtocolStudents:
    """Students who join and play as protocol clients: join by name, wait on the long-poll,
    play their seat (order 4 in each round up to ``play_to`` they have not decided: the test
    sets the pace, so that teams of theirs alone do not race to the end), and when their seat
    is taken from them (a move: close 4003) ask the lobby where to go."""

    def __init__(self, server: ServerProcess, session_id: str, names: list[str]) -> None:
        self.server = server
        self.lobby = f"{server.url}/api/sessions/{session_id}/lobby"
        self.names = names
        self.joined: set[str] = set()
        self.seats: dict[str, dict[str, Any]] = {}
        self.decided: dict[str, int] = {}  # the last round each decided
        self.play_to = 1
        self.last: dict[str, dict[str, Any]] = {}  # each one's last picture of its game
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
                        answer = await get(http, self.lobby + "/me", params=query, headers=headers)
                        view = answer.json()
                        continue
                    self.seats[name] = view["seat"]
                    await self._play(name, view["seat"])
                    answer = await get(http, self.lobby + "/me", headers=headers)  # where now?
                    view = answer.json()
        except Exception as exc:  # reported by the test, with the student's name
            self.errors.append(f"{name}: {exc!r}")

    async def _play(self, name: str, seat: dict[str, Any]) -> None:
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
        except Exception:
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


def join_in_browser(browser: Browser, contexts: list[BrowserContext], link: str, name: str) -> Page:
    page = new_page(browser, contexts, viewport={"width": 900, "height": 800})
    page.goto(link)
    expect(page.get_by_test_id("lobby")).to_be_visible()
    page.select_option("#lobby-roster", name)
    page.click("#lobby-join")
    expect(page.get_by_test_id("lobby-you")).to_have_text(f"You are in, {name}.")
    return page


def test_a_class_of_30_joins_by_one_link_forms_teams_plays_moves_and_exports(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    server = students_server
    dash = dashboard(browser, contexts, server)
    dash.locator("#create-details summary").click()
    dash.fill("#title", "Period 3")
    dash.check("#lobby-class")
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
    expect(dash.locator("#form-teams-rule")).to_contain_text(
        "30 waiting, 4 roles per team: 8 teams"
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

    # The names are on the dashboard's seats.
    dash.select_option("#filter", f"session:{session_id}")
    team1 = games[0]["game_id"]
    expect(dash.get_by_test_id(f"seat-{team1}-retailer")).to_contain_text(NAMES[0])

    # Start the class and play a week: every page and protocol client decides, bots too.
    dash.click('[data-bulk="start"]')
    expect(dash.locator("#notice")).to_contain_text("Started in 8 games")
    for page in pages.values():
        expect(page.locator("#round-line")).to_have_text("Week 1 of 50")
        page.fill("#decision-input", "5")
        page.click("#decision-submit")
    for page in pages.values():
        expect(page.locator("#round-line")).to_have_text("Week 2 of 50", timeout=20_000)

    # Move Ann (team 1, retailer) to team 8's bot factory, during play: her page follows.
    ann = pages["Ann"]
    dash.get_by_test_id("move-p1").select_option(f"{games[7]['game_id']}/factory")
    expect(dash.locator("#notice")).to_contain_text("Ann moved to Factory")
    expect(ann.locator("#seat-line")).to_contain_text("Factory · Ann · team 8", timeout=15_000)
    expect(ann.locator("#connection")).to_have_attribute("data-state", "online")
    expect(ann.locator("#round-line")).to_have_text("Week 2 of 50")
    ann.fill("#decision-input", "6")
    ann.click("#decision-submit")
    expect(ann.get_by_test_id("decision-status")).to_have_attribute("data-state", "submitted")
    expect(dash.get_by_test_id(f"seat-{team1}-retailer")).to_contain_text("bot")

    # A message to the whole class.
    dash.fill("#class-message", "Order for week 2 now, please")
    dash.get_by_test_id("class-send").click()
    for page in pages.values():
        expect(page.get_by_test_id("announcement")).to_contain_text("Order for week 2 now")

    # The export of the whole class, from the dashboard: every name, Ann's move in it.
    with dash.expect_download() as download:
        dash.get_by_test_id("class-export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["name"] for r in rows} >= set(NAMES)
    week1 = {(r["team"], r["role"]): r for r in rows if r["round"] == "1"}
    assert week1["1", "retailer"]["name"] == "Ann"
    assert week1["1", "retailer"]["decision_order"] == "5"
    protocol.stop()
    assert protocol.errors == []
    assert protocol.joined == set(NAMES[IN_BROWSERS:])
    no_page_errors(dash, *pages.values())


def test_a_student_on_another_device_comes_back_with_the_rejoin_code(
    browser: Browser, contexts: list[BrowserContext], students_server: ServerProcess
) -> None:
    server = students_server
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 0, "title": "P4"}).json()
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
