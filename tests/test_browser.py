"""The player page and the facilitator dashboard in real headless Chromium against a real server.

One browser serves every test; each player and the facilitator get their own browser context
(their own localStorage), as on separate laptops. Needs Debian's ``chromium`` (scripts/test
installs it); the tests skip when it is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameserver.protocol import PROTOCOL_VERSION, CloseCode, ErrorCode, GameStatus
from tests.support import ADMIN_KEY, ServerProcess
from tests.test_live import create

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: The marks of every browser test module: without Chromium, they skip and say why.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
pytestmark = BROWSER_MARKS

if CHROMIUM.exists():
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

    expect.set_options(timeout=10_000)

BEER_ROLES = ["retailer", "wholesaler", "distributor", "factory"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts a test opens (one per person), closed after the test."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext], **options: Any) -> Page:
    context = browser.new_context(**options)
    contexts.append(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def game_state(server: ServerProcess, game_id: str) -> dict[str, Any]:
    with server.http() as http:
        response = http.get(f"/api/games/{game_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def act(server: ServerProcess, game: dict[str, Any], action: str) -> None:
    with server.http() as http:
        response = http.post(f"/api/games/{game['game_id']}/{action}")
    assert response.status_code == 200, response.text


def join(browser: Browser, contexts: list[BrowserContext], url: str, name: str) -> Page:
    """Open a join link, type a name and join; returns the page showing the game."""
    page = new_page(browser, contexts)
    page.goto(url)
    expect(page.locator("#seat-info")).to_contain_text("This code is for the")
    page.fill("#join-name", name)
    page.click("#join-button")
    expect(page.locator("#game-section")).to_be_visible()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return page


def join_all(browser: Browser, contexts: list[BrowserContext], game: dict[str, Any]) -> list[Page]:
    return [join(browser, contexts, link["url"], link["role"].title()) for link in game["join"]]


def decide(page: Page, value: str) -> None:
    page.fill("#decision-input", value)
    page.click("#decision-submit")


def expect_submitted(page: Page, value: str) -> None:
    status = page.get_by_test_id("decision-status")
    expect(status).to_have_attribute("data-state", "submitted")
    expect(status).to_have_attribute("data-value", value)


def expect_week(page: Page, week: int) -> None:
    expect(page.locator("#round-line")).to_have_text(re.compile(rf"^Week {week} of 50$"))


def dashboard(
    browser: Browser,
    contexts: list[BrowserContext],
    server: ServerProcess,
    credential: str = ADMIN_KEY,
    height: int = 900,
) -> Page:
    """The dashboard, signed in with ``credential`` (the admin key, or a class's token)."""
    page = new_page(browser, contexts, viewport={"width": 1300, "height": height})
    page.goto(server.url + "/dashboard")
    page.fill("#credential", credential)
    page.click("#signin-button")
    expect(page.locator("#app")).to_be_visible()
    return page


def seat(dash: Page, game_id: str, role: str) -> Any:
    return dash.get_by_test_id(f"seat-{game_id}-{role}")


def no_page_errors(*pages: Page) -> None:
    for page in pages:
        assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_the_served_protocol_module_imports_cleanly(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    """The pages import /protocol.js: as the server serves it, Chromium must load it as an ES
    module and see the values of gameserver.protocol, frozen."""
    page = new_page(browser, contexts)
    page.goto(server.url + "/")
    loaded = page.evaluate(
        """async () => {
            const m = await import("/protocol.js");
            const frozen = [m.CLOSE, m.ERROR, m.STATUS, m.IN_PROGRESS].every(Object.isFrozen);
            return {names: Object.keys(m).sort(), version: m.PROTOCOL_VERSION, close: m.CLOSE,
                    error: m.ERROR, status: m.STATUS, inProgress: m.IN_PROGRESS, frozen};
        }"""
    )
    assert loaded == {
        "names": ["CLOSE", "ERROR", "IN_PROGRESS", "PROTOCOL_VERSION", "STATUS"],
        "version": PROTOCOL_VERSION,
        "close": {code.name: int(code) for code in CloseCode},
        "error": {code.name: str(code) for code in ErrorCode},
        "status": {status.name: str(status) for status in GameStatus},
        "inProgress": ["created", "running", "paused"],
        "frozen": True,
    }
    assert page.errors == []  # type: ignore[attr-defined]


def test_four_players_play_rounds_while_the_dashboard_follows(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, round_seconds=600, title="Team Live")
    gid = game["game_id"]
    dash = dashboard(browser, contexts, server)
    row = dash.get_by_test_id(f"game-row-{gid}")
    expect(row).to_contain_text("Team Live")
    players = join_all(browser, contexts, game)
    for role in BEER_ROLES:
        expect(seat(dash, gid, role)).to_have_attribute("data-online", "true")
    for page in players:
        expect(page.get_by_test_id("deadline")).to_have_text("Not started yet")

    dash.get_by_test_id(f"act-start-{gid}").click()
    expect(dash.get_by_test_id(f"status-{gid}")).to_have_text("running")
    for page in players:
        expect(page.get_by_test_id("deadline")).to_contain_text("Closes in")
        expect_week(page, 1)

    for week in (1, 2, 3):
        decide(players[0], "8")
        decide(players[1], str(4 + week))
        expect_submitted(players[0], "8")
        expect(seat(dash, gid, "retailer")).to_have_attribute("data-submitted", "true")
        expect(seat(dash, gid, "wholesaler")).to_have_attribute("data-submitted", "true")
        expect(seat(dash, gid, "distributor")).to_have_attribute("data-submitted", "false")
        expect(players[0].get_by_test_id("decision-status")).to_contain_text(
            "Waiting for Distributor and Factory"
        )
        decide(players[2], "6")
        decide(players[3], "4")
        for page in players:
            expect_week(page, week + 1)
        expect(dash.get_by_test_id(f"round-{gid}")).to_have_attribute("data-round", str(week))
        expect(dash.get_by_test_id(f"round-{gid}")).to_have_text(f"Week {week + 1} of 36")
        expect(seat(dash, gid, "retailer")).to_have_attribute("data-submitted", "false")

    # the retailer's order of week 2 reaches the wholesaler in week 4
    expect(players[1].get_by_test_id("fig-incoming_order")).to_have_text("8")
    expect(players[0].get_by_test_id("fig-incoming_order")).to_have_text("4")  # the demand
    expect(players[0].locator("#charts figure.chart")).to_have_count(3)
    expect(players[0].locator("#charts svg polyline")).to_have_count(5)
    # The pages took each round as an update of their view (view_updates): what they show is
    # what a reload, which brings the whole view, shows.
    shown = [players[1].locator("#figures"), players[1].locator("#charts")]
    before = [part.inner_html() for part in shown]
    players[1].reload()
    expect_week(players[1], 4)
    expect(players[1].locator("#charts svg polyline")).to_have_count(5)
    assert [part.inner_html() for part in shown] == before
    history = game_state(server, gid)
    assert history["round"] == 3
    assert {s["role"]: s["name"] for s in history["seats"]} == {r: r.title() for r in BEER_ROLES}
    no_page_errors(dash, *players)


def test_a_reload_keeps_the_seat_and_the_decision(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True)
    gid = game["game_id"]
    page = join(browser, contexts, game["join"][1]["url"], "Bo")
    decide(page, "7")
    expect_submitted(page, "7")

    page.reload()
    expect(page.locator("#seat-line")).to_contain_text("Wholesaler")
    expect_submitted(page, "7")
    expect(page.locator("#decision-input")).to_have_value("7")
    # the decision can still be changed until the round closes
    decide(page, "9")
    expect_submitted(page, "9")

    state = game_state(server, gid)
    claimed = [s["role"] for s in state["seats"] if s["claimed"]]
    assert claimed == ["wholesaler"]
    assert [s["role"] for s in state["seats"] if s["submitted"]] == ["wholesaler"]
    no_page_errors(page)


def test_a_bad_order_shows_its_message_and_is_not_sent(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True)
    page = join(browser, contexts, game["join"][0]["url"], "Ann")
    error = page.get_by_test_id("decision-error")
    for bad, shown in [("-3", "got -3"), ("2.5", "got 2.5"), ("abc", "got 'abc'"), ("", "enter")]:
        decide(page, bad)
        expect(error).to_contain_text("order must be a whole number between 0 and 10000")
        expect(error).to_contain_text(shown)
        expect(page.locator("#decision-input")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_test_id("decision-status")).to_have_attribute("data-state", "none")
    state = game_state(server, game["game_id"])
    assert not any(s["submitted"] for s in state["seats"])
    # typing again clears the message; a good order goes through
    decide(page, "12")
    expect(error).to_have_text("")
    expect_submitted(page, "12")
    no_page_errors(page)


def test_the_facilitator_pauses_closes_a_round_and_hands_a_seat_to_a_bot(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, round_seconds=600, title="Team Control")
    gid = game["game_id"]
    dash = dashboard(browser, contexts, server)
    players = join_all(browser, contexts, game)
    dash.get_by_test_id(f"act-start-{gid}").click()
    expect(dash.get_by_test_id(f"status-{gid}")).to_have_text("running")

    dash.get_by_test_id(f"act-pause-{gid}").click()
    expect(dash.get_by_test_id(f"status-{gid}")).to_have_text("paused")
    expect(dash.get_by_test_id(f"deadline-{gid}")).to_contain_text("paused")
    for page in players:
        expect(page.get_by_test_id("deadline")).to_contain_text("Paused")
    # a decision made while paused waits on the page and goes out on resume
    decide(players[0], "5")
    expect(players[0].get_by_test_id("decision-status")).to_have_attribute("data-state", "queued")
    expect(seat(dash, gid, "retailer")).to_have_attribute("data-submitted", "false")
    dash.get_by_test_id(f"act-resume-{gid}").click()
    expect(dash.get_by_test_id(f"status-{gid}")).to_have_text("running")
    expect_submitted(players[0], "5")
    expect(seat(dash, gid, "retailer")).to_have_attribute("data-submitted", "true")

    dash.get_by_test_id(f"act-close-round-{gid}").click()
    for page in players:
        expect_week(page, 2)
    expect(dash.get_by_test_id(f"round-{gid}")).to_have_attribute("data-round", "1")
    export = game_state(server, gid)
    assert export["round"] == 1

    dash.get_by_test_id(f"policy-{gid}").select_option("pass-through")
    dash.get_by_test_id(f"bot-{gid}-factory").click()
    factory = seat(dash, gid, "factory")
    expect(factory).to_have_attribute("data-bot", "pass-through")
    expect(factory).to_have_attribute("data-submitted", "true")  # the bot decided at once
    for page, value in zip(players[:3], ["8", "8", "8"], strict=True):
        decide(page, value)
    for page in players:
        expect_week(page, 3)  # the bot's decision closed the round with the others
    dash.get_by_test_id(f"bot-{gid}-factory").click()
    expect(factory).to_have_attribute("data-bot", "")
    assert game_state(server, gid)["seats"][3]["bot"] is None

    dash.get_by_test_id(f"act-extend-{gid}").click()
    expect(dash.locator("#notice")).to_contain_text("deadline extended")
    no_page_errors(dash, *players)


def test_pages_carry_on_through_a_server_crash_mid_round(
    browser: Browser, contexts: list[BrowserContext], fresh_server: ServerProcess
) -> None:
    server = fresh_server
    server.start()
    game = create(server, title="Team Crash")
    gid = game["game_id"]
    over = create(server, title="Team Stored")
    act(server, over, "end")
    players = join_all(browser, contexts, game)
    act(server, game, "start")
    for page in players:
        decide(page, "4")
    for page in players:
        expect_week(page, 2)
    decide(players[0], "6")
    decide(players[1], "7")
    expect_submitted(players[0], "6")
    expect_submitted(players[1], "7")
    dash = dashboard(browser, contexts, server)
    expect(seat(dash, gid, "wholesaler")).to_have_attribute("data-submitted", "true")

    server.kill()
    for page in players:
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", re.compile("offline|connecting")
        )
    # decided while the server is down: kept on the page, sent once it is back
    decide(players[2], "9")
    decide(players[3], "10")
    for page in players[2:]:
        expect(page.get_by_test_id("decision-status")).to_have_attribute("data-state", "queued")
    server.start()

    for page in players:
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "online", timeout=25_000
        )
        expect_week(page, 3)
    rounds = game_state(server, gid)
    assert rounds["round"] == 2 and rounds["restored"] is True
    with server.http() as http:
        record = http.get(f"/api/games/{gid}/export.json").json()["rounds"][1]
    assert record["decisions"] == {
        "retailer": {"order": 6},
        "wholesaler": {"order": 7},
        "distributor": {"order": 9},
        "factory": {"order": 10},
    }

    # the dashboard came back too: the restored game is marked, the ended one is stored only
    row = dash.get_by_test_id(f"game-row-{gid}")
    expect(row.locator(".badge.restored")).to_be_visible(timeout=20_000)
    expect(dash.get_by_test_id(f"round-{gid}")).to_have_attribute("data-round", "2")
    stored = dash.get_by_test_id(f"game-row-{over['game_id']}")
    expect(stored.locator(".badge.stored")).to_be_visible()
    dash.get_by_test_id(f"act-details-{over['game_id']}").click()
    expect(dash.locator("#detail-body")).to_contain_text("stored only")
    dash.get_by_test_id(f"act-restore-{over['game_id']}").click()
    expect(stored.locator(".badge.stored")).to_have_count(0)
    no_page_errors(dash, *players)


def test_the_debrief_shows_every_role_and_the_team_cost(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, settings={"weeks": 3}, autostart=True, title="Team Short")
    gid = game["game_id"]
    players = join_all(browser, contexts, game)
    for week in (1, 2, 3):
        for page, value in zip(players, ["4", "8", "12", "16"], strict=True):
            decide(page, value)
        if week < 3:
            for page in players:
                expect_week(page, week + 1)
    for page in players:  # the last week closed: only then are the results the final ones
        expect(page.locator("#round-line")).to_have_text("Game over: 3 weeks played")
    results = game_state(server, gid)["results"]
    team_cost = f"${results['team']['cost']:,.2f}"
    for page in players:
        debrief = page.get_by_test_id("debrief")
        expect(debrief).to_be_visible()
        expect(debrief.locator("figure.chart")).to_have_count(4)  # orders, inventory, backlog, cost
        expect(debrief.get_by_test_id("team-cost")).to_have_text(team_cost)
        expect(page.locator("#decide-card")).to_be_hidden()
    orders = players[0].get_by_test_id("debrief").locator("figure.chart").first
    expect(orders.locator("figcaption")).to_have_text("Orders placed")
    expect(orders.locator("polyline")).to_have_count(5)  # four roles and the customer demand

    dash = dashboard(browser, contexts, server)
    dash.locator("#filter").select_option("all")
    dash.locator("#compare-button").click()
    expect(dash.get_by_test_id("compare-beer").locator(f'tr[data-game="{gid}"]')).to_contain_text(
        team_cost
    )

    dash.get_by_test_id(f"act-details-{gid}").click()
    expect(dash.locator("#detail").get_by_test_id("debrief")).to_be_visible()
    with dash.expect_download() as download:
        dash.get_by_role("button", name="Export CSV").click()
    csv = Path(download.value.path()).read_text().splitlines()
    assert csv[0].startswith("game_id,round,role,name,decision_order")
    assert len(csv) == 1 + 3 * 4
    dash.fill("#clone-round", "2")
    dash.get_by_role("button", name="Clone", exact=True).click()
    expect(dash.locator("#detail-heading")).to_contain_text("Team Short (from round 2)")
    no_page_errors(dash, *players)


def test_a_game_ended_early_says_so_and_shows_the_debrief(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True, title="Team Early")
    gid = game["game_id"]
    players = join_all(browser, contexts, game)
    for page, value in zip(players, ["4", "8", "12", "16"], strict=True):
        decide(page, value)
    for page in players:
        expect_week(page, 2)
    act(server, game, "end")
    ended = game_state(server, gid)
    assert ended["status"] == "ended"
    team_cost = f"${ended['results']['team']['cost']:,.2f}"  # the week played, as everywhere
    for page in players:
        # the open week will never close: the line says how many were played, not "Week 2"
        expect(page.locator("#round-line")).to_have_text("Game ended: 1 week played")
        expect(page.locator("#game-note")).to_contain_text("The facilitator ended the game.")
        expect(page.get_by_test_id("debrief").get_by_test_id("team-cost")).to_have_text(team_cost)
        expect(page.locator("#decide-card")).to_be_hidden()
    players[0].reload()
    expect(players[0].locator("#round-line")).to_have_text("Game ended: 1 week played")
    expect(players[0].get_by_test_id("debrief")).to_be_visible()
    no_page_errors(*players)


def test_open_join_lets_players_pick_a_free_role(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, open_join=True, autostart=True, title="Team Open")
    first = new_page(browser, contexts)
    first.goto(game["open_join"]["url"])
    expect(first.locator("#role-picker")).to_be_visible()
    expect(first.locator("#seat-info")).to_contain_text("Team Open (The Beer Distribution Game)")
    first.get_by_label("Factory").check()
    first.fill("#join-name", "Fay")
    first.click("#join-button")
    expect(first.locator("#seat-line")).to_contain_text("Factory · Fay")

    second = new_page(browser, contexts)
    second.goto(server.url + "/play")  # typing the code instead of following the link
    second.fill("#join-code", game["open_join"]["code"].lower())
    second.click("#join-button")
    expect(second.locator("#role-picker")).to_be_visible()
    # the join info says which roles are free: the factory is shown taken and cannot be picked
    expect(second.get_by_label("Factory (taken)")).to_be_disabled()
    expect(second.get_by_label("Retailer", exact=True)).to_be_enabled()
    expect(second.get_by_label("Any free role")).to_be_checked()
    second.click("#join-button")
    expect(second.locator("#seat-line")).to_contain_text("Retailer")
    seats = {s["role"]: s["claimed"] for s in game_state(server, game["game_id"])["seats"]}
    assert seats == {"retailer": True, "wholesaler": False, "distributor": False, "factory": True}

    # an unknown code says so at once, and nothing is tried with it
    third = new_page(browser, contexts)
    sockets: list[str] = []
    third.on("websocket", lambda ws: sockets.append(ws.url))
    third.goto(server.url + "/play?code=ZZZZZZZZ-ZZZZ")
    expect(third.locator("#join-error")).to_contain_text("No game has the code ZZZZZZZZ-ZZZZ")
    third.click("#join-button")
    expect(third.locator("#join-error")).to_contain_text("No game has the code")
    expect(third.locator("#game-section")).to_be_hidden()
    assert sockets == []
    no_page_errors(first, second, third)


def test_the_facilitator_resets_a_lost_seat_and_the_student_joins_again(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True, title="Team Reset")
    gid = game["game_id"]
    old = join(browser, contexts, game["join"][1]["url"], "Bo")
    decide(old, "7")
    expect_submitted(old, "7")
    sockets: list[str] = []
    old.on("websocket", lambda ws: sockets.append(ws.url))

    dash = dashboard(browser, contexts, server)
    wholesaler = seat(dash, gid, "wholesaler")
    expect(wholesaler).to_have_attribute("data-claimed", "true")
    expect(dash.get_by_test_id(f"reset-{gid}-retailer")).to_be_hidden()  # nobody to reset
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    dash.once("dialog", accept)
    dash.get_by_test_id(f"reset-{gid}-wholesaler").click()
    new_code = dash.get_by_test_id("reset-code")
    expect(new_code).to_have_text(re.compile(rf"^{gid}-"))
    code = new_code.inner_text()
    assert code != game["join"][1]["code"]
    assert "disconnected" in dialogs[0]
    expect(dash.locator("#links")).to_contain_text(code)
    expect(wholesaler).to_have_attribute("data-claimed", "false")

    # the kicked page says what happened, forgets the dead token and does not come back
    expect(old.locator("#join-error")).to_have_text(
        "Your seat was reset by the facilitator; ask for a new code."
    )
    expect(old.locator("#connection")).to_have_attribute("data-state", "reset")
    assert old.evaluate(f"localStorage.getItem('gameserver.seat.{gid}')") is None
    old.wait_for_timeout(1500)
    assert sockets == []
    expect(old.locator("#connection")).to_have_attribute("data-state", "reset")

    # the student, on another device, joins with the new code; the decision made stays
    new = join(browser, contexts, f"{server.url}/play?code={code}", "Bea")
    expect(new.locator("#seat-line")).to_contain_text("Wholesaler · Bea")
    expect_submitted(new, "7")
    expect(wholesaler).to_contain_text("Bea")
    no_page_errors(dash, old, new)


def test_a_player_sees_when_a_bot_plays_their_seat(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True)
    gid = game["game_id"]
    page = join(browser, contexts, game["join"][0]["url"], "Ann")
    path = f"/api/games/{gid}/seats/retailer/bot"
    with server.http() as http:
        assert http.put(path, json={"policy": "pass-through"}).status_code == 200
    notice = page.get_by_test_id("bot-notice")
    expect(notice).to_have_text(
        "A bot is playing your seat for now; the facilitator can hand it back."
    )
    status = page.get_by_test_id("decision-status")
    expect(status).to_have_attribute("data-state", "bot")
    expect(status).to_contain_text("The bot decided for you: order 4 for week 1")
    expect(page.locator("#decision-submit")).to_be_disabled()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")

    with server.http() as http:
        assert http.delete(path).status_code == 200
    act(server, game, "close-round")
    expect_week(page, 2)
    expect(notice).to_be_hidden()
    decide(page, "5")
    expect_submitted(page, "5")
    no_page_errors(page)


def test_a_class_made_in_the_dashboard_and_run_with_its_session_token(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    dash = dashboard(browser, contexts, server)
    dash.locator("#create-details summary").click()
    dash.select_option("#kind", "beer")
    dash.fill("#title", "Tuesday")
    dash.fill("#teams", "2")
    expect(dash.locator("#set-weeks")).to_have_value("36")  # the form comes from /api/kinds
    dash.fill("#set-weeks", "5")
    dash.click("#create-button")
    created = dash.get_by_test_id("created")
    expect(created).to_contain_text("class of 2 games")
    token = created.locator(".token").inner_text()
    session_id = token.split(".")[0]
    rows = dash.locator('tr[data-testid^="game-row-"]:visible')
    expect(rows).to_have_count(2)
    with server.http() as http:
        games = http.get(f"/api/sessions/{session_id}").json()["games"]
    assert [g["title"] for g in games] == ["Tuesday team 1", "Tuesday team 2"]
    assert all(g["settings"]["weeks"] == 5 for g in games)

    dash.click("#sign-out")
    dash.fill("#credential", token)
    dash.click("#signin-button")
    expect(dash.locator("#who")).to_have_text(f"Session {session_id}")
    expect(dash.locator("#create-section")).to_be_hidden()
    expect(rows).to_have_count(2)
    dash.click('[data-bulk="start"]')
    for game in games:
        expect(dash.get_by_test_id(f"status-{game['game_id']}")).to_have_text("running")
    expect(dash.locator("#notice")).to_contain_text("Started in 2 games")
    no_page_errors(dash)


def test_the_fishery_plays_in_the_same_pages(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, kind="fishery", settings={"players": 2, "rounds": 2}, autostart=True)
    players = join_all(browser, contexts, game)
    expect(players[0].locator("#decision-label")).to_have_text("Boats to send out")
    decide(players[0], "21")
    expect(players[0].get_by_test_id("decision-error")).to_contain_text(
        "boats must be a whole number between 0 and 20"
    )
    for round_no in (1, 2):
        expect(players[1].locator("#round-line")).to_have_text(f"Round {round_no} of 2")
        decide(players[0], "8")
        decide(players[1], "12")
    for page in players:
        expect(page.get_by_test_id("debrief")).to_contain_text("Fish in the sea")
    no_page_errors(*players)


def test_a_page_comes_back_after_a_graceful_restart(
    browser: Browser, contexts: list[BrowserContext], fresh_server: ServerProcess
) -> None:
    server = fresh_server
    server.start()
    game = create(server, autostart=True)
    page = join(browser, contexts, game["join"][2]["url"], "Cy")
    server.terminate()  # SIGTERM: the server closes every WebSocket with 1012 and stops
    expect(page.locator("#connection")).to_have_attribute("data-close-code", "1012")
    server.start()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=20_000)
    decide(page, "3")
    expect_submitted(page, "3")
    no_page_errors(page)


def drawn_modules(path: str) -> set[tuple[int, int]]:
    """The dark modules (row, column) of a QR SVG path drawn by static/qr.js (margin 4)."""
    assert re.fullmatch(r"(M\d+,\d+h1v1h-1z)+", path), path[:80]
    return {(int(y) - 4, int(x) - 4) for x, y in re.findall(r"M(\d+),(\d+)h1v1h-1z", path)}


# The library's own modules for a text, with the same settings (automatic version, level M).
LIBRARY_MODULES = """text => {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const dark = [];
  const n = qr.getModuleCount();
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) dark.push([r, c]);
  return { n, dark };
}"""


def test_join_links_as_qr_codes_and_printed_handouts(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, title="Team QR", open_join=True)
    gid = game["game_id"]
    wholesaler = game["join"][1]
    dash = dashboard(browser, contexts, server)
    links = dash.locator("#links details").filter(has_text=f"({gid})")
    if links.get_attribute("open") is None:  # more than four games shown: the lists are folded
        links.locator("summary").click()
    button = links.get_by_test_id(f"qr-{gid}-wholesaler")
    button.focus()
    dash.keyboard.press("Enter")
    dialog = dash.locator("#qr-dialog")
    expect(dialog).to_be_visible()
    label = f"QR code for Wholesaler of Team QR: {wholesaler['url']}"
    svg = dialog.get_by_role("img", name=label)
    expect(svg).to_be_visible()
    expect(dialog.get_by_test_id("qr-code")).to_have_text(wholesaler["code"])
    expect(dialog.locator("#qr-url")).to_have_text(wholesaler["url"])
    # what is drawn is exactly the library's QR code of this seat's URL
    library = dash.evaluate(LIBRARY_MODULES, wholesaler["url"])
    size = library["n"] + 8
    expect(svg).to_have_attribute("viewBox", f"0 0 {size} {size}")
    drawn = drawn_modules(svg.locator("path").get_attribute("d") or "")
    assert drawn == {(r, c) for r, c in library["dark"]}
    # large on a laptop, and still whole on a phone
    assert (svg.bounding_box() or {}).get("width", 0) >= 300
    dash.set_viewport_size({"width": 390, "height": 844})
    box = svg.bounding_box() or {}
    assert box["width"] >= 200 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    dash.get_by_role("button", name="Next link").click()
    expect(dialog.get_by_test_id("qr-code")).to_have_text(game["join"][2]["code"])
    dash.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    dash.set_viewport_size({"width": 1300, "height": 900})

    dash.get_by_test_id(f"handouts-{gid}").click()
    cards = dash.get_by_test_id("handout-card")
    codes = [link["code"] for link in game["join"]] + [game["open_join"]["code"]]
    expect(cards).to_have_count(5)  # one per seat, and one with the open-join code
    expect(dash.get_by_test_id("handout-code")).to_have_text(codes)
    expect(dash.locator("#app")).to_be_hidden()
    for link in game["join"]:
        card = dash.locator(f'[data-testid="handout-card"][data-code="{link["code"]}"]')
        name = f"QR code for {link['role'].title()} of Team QR: {link['url']}"
        expect(card.get_by_role("img", name=name)).to_be_visible()
        expect(card).to_contain_text(link["url"])
    # printed, the five cards fit on one A4 page (six do, in two columns of three)
    pdf = dash.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    dash.keyboard.press("Escape")
    expect(dash.locator("#app")).to_be_visible()
    expect(dash.get_by_test_id(f"handouts-{gid}")).to_be_focused()
    no_page_errors(dash)


def test_four_players_play_a_model_game_drawn_from_its_declarations(
    browser: Browser,
    contexts: list[BrowserContext],
    model_server: ServerProcess,
    model_games: Any,
) -> None:
    """The Beer Game as a stock-and-flow model: the pages know it only from GET /api/kinds."""
    server = model_server
    with server.http() as http:
        kinds = {k["kind"]: k for k in http.get("/api/kinds").json()["kinds"]}
    display = kinds["beer-model"]["display"]
    game = create(
        server, kind="beer-model", settings={"rounds": 3}, autostart=True, title="Team Model"
    )
    players = join_all(browser, contexts, game)
    first = players[0]
    expect(first.locator("#game-title")).to_have_text("The Beer Game (a stock-and-flow model)")
    expect(first.locator("#decision-label")).to_have_text("Your order (cases)")
    labels = first.locator("#figures dt")
    expect(labels).to_have_count(len(display["figures"]))
    expect(labels.first).to_have_text("Incoming order (cases)")
    expect(first.get_by_test_id("briefing")).to_contain_text(
        "You ship to your customers and order from the wholesaler."
    )
    expect(players[3].get_by_test_id("briefing")).to_contain_text("order from the brewery")
    expect(first.get_by_test_id("fig-inventory")).to_have_text("12")
    decide(first, "10001")
    expect(first.get_by_test_id("decision-error")).to_contain_text(
        "order must be a whole number between 0 and 10000"
    )
    for week in (1, 2, 3):
        expect_week(first, week)
        for page, value in zip(players, ["5", "6", "7", "8"], strict=True):
            decide(page, value)
    for page in players:  # the last week closed: only then are the results the final ones
        expect(page.locator("#round-line")).to_have_text("Game over: 3 weeks played")
    results = game_state(server, game["game_id"])["results"]
    team_cost = f"${results['team']['cost']:,.2f}"
    for page in players:
        debrief = page.get_by_test_id("debrief")
        expect(debrief).to_be_visible()
        expect(debrief.locator("figure.chart")).to_have_count(4)  # three declared, the score
        expect(debrief.get_by_test_id("team-cost")).to_have_text(team_cost)
        expect(debrief).to_contain_text("Customers ordered between 4 and 4 cases a week")
    orders = first.get_by_test_id("debrief").locator("figure.chart").first
    expect(orders.locator("figcaption")).to_have_text("Orders placed")
    expect(orders.locator("polyline")).to_have_count(5)  # four roles and the customer demand
    no_page_errors(*players)


def test_a_model_game_with_two_decisions_asks_for_both(
    browser: Browser,
    contexts: list[BrowserContext],
    model_server: ServerProcess,
    model_games: Any,
) -> None:
    game = create(model_server, kind="market", autostart=True)
    page = join(browser, contexts, game["join"][1]["url"], "Bea")
    expect(page.locator("#round-line")).to_have_text("Quarter 1 of 8")
    expect(page.locator("#decision-label")).to_have_text("Monthly price ($)")
    expect(page.locator("#decision-label-1")).to_have_text("Advertising per month ($)")
    page.fill("#decision-input", "24.5")
    page.fill("#decision-input-1", "-1")
    page.click("#decision-submit")
    expect(page.get_by_test_id("decision-error")).to_contain_text(
        "advertising must be a whole number between 0 and 50000, got -1"
    )
    page.fill("#decision-input-1", "3000")
    page.click("#decision-submit")
    status = page.get_by_test_id("decision-status")
    expect(status).to_have_attribute("data-state", "submitted")
    expect(status).to_contain_text("price 24.5, advertising 3,000 for quarter 1")
    expect(page.get_by_test_id("fig-share")).to_have_text("0%")
    no_page_errors(page)


def test_the_admin_adds_a_model_game_from_the_dashboard(
    browser: Browser, contexts: list[BrowserContext], fresh_server: ServerProcess, tmp_path: Path
) -> None:
    from tests.test_model_files import TOML, XMILE

    server = fresh_server
    server.start()
    (tmp_path / "tank.toml").write_text(TOML)
    (tmp_path / "tank.xmile").write_text(XMILE.format(fill="Player_A_Spill"))
    dash = dashboard(browser, contexts, server)
    dash.locator("#models-details summary").click()
    expect(dash.locator("#models-list")).to_contain_text("No model games yet.")
    dash.set_input_files("#model-description", str(tmp_path / "tank.toml"))
    dash.set_input_files("#model-file", str(tmp_path / "tank.xmile"))
    dash.click("#model-add")
    expect(dash.locator("#model-status")).to_contain_text(
        "tank.xmile: an equation uses 'player_a_spill', which the model does not define"
    )
    (tmp_path / "tank.xmile").write_text(XMILE.format(fill="Player_A_Pour"))
    dash.set_input_files("#model-description", str(tmp_path / "tank.toml"))
    dash.set_input_files("#model-file", str(tmp_path / "tank.xmile"))
    dash.click("#model-add")
    expect(dash.locator("#model-status")).to_contain_text("Added A tank (tank)", timeout=30_000)
    expect(dash.get_by_test_id("model-tank")).to_be_visible()
    dash.locator("#create-details summary").click()
    expect(dash.locator("#kind")).to_have_value("tank")
    expect(dash.locator("#set-rounds")).to_have_value("5")  # its settings form, from /api/kinds
    no_page_errors(dash)
