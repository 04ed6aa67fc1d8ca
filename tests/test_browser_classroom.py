"""What students are told when something goes wrong, in real headless Chromium against a real
server: a join whose welcome was lost, a round that closed without their order, a connection
that died without a word, and a server that was down during a round.

Shares the browser and the helpers of ``tests/test_browser.py`` (skipped, as those are,
without Debian's chromium).
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from tests import test_browser
from tests.support import Link, ServerProcess
from tests.test_browser import (
    CHROMIUM,
    dashboard,
    decide,
    expect_week,
    game_state,
    join,
    new_page,
    no_page_errors,
    seat,
)
from tests.test_live import act, create

# The same module-scoped fixtures: one browser for this module, a context per person.
browser = test_browser.browser
contexts = test_browser.contexts
pytestmark = test_browser.pytestmark  # skipped without chromium, as those are

if CHROMIUM.exists():
    from playwright.sync_api import Browser, BrowserContext, WebSocketRoute, expect


def test_a_join_whose_welcome_is_lost_gets_its_seat_back_not_seat_taken(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    """The page's first connection is cut right after the server sent the welcome (the seat
    claim is saved: the seat is taken). The page reconnects, sends the same join with the same
    join id, and is welcomed into its seat."""
    game = create(server, autostart=True)
    link = game["join"][2]
    page = new_page(browser, contexts)
    hellos: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            data = orjson.loads(message)
            if data.get("type") == "hello":
                hellos.append(data)
            upstream.send(message)

        def from_server(message: str | bytes) -> None:
            if not lost and orjson.loads(message).get("type") == "welcome":
                lost.append(orjson.loads(message))
                ws.close()  # the connection is lost with the welcome in it
                upstream.close()
                return
            ws.send(message)

        ws.on_message(from_page)
        upstream.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws(\?|$)"), route)
    page.goto(link["url"])
    expect(page.locator("#seat-info")).to_contain_text("This code is for the")
    page.fill("#join-name", "Dee")
    page.click("#join-button")
    expect(page.locator("#game-section")).to_be_visible()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    expect(page.locator("#seat-line")).to_contain_text("Distributor · Dee")
    assert lost and lost[0]["role"] == "distributor"
    assert [h.get("join") for h in hellos] == [link["code"], link["code"]]
    join_id = hellos[0]["join_id"]
    assert re.fullmatch(r"j-[0-9a-f]{32}", join_id) and hellos[1]["join_id"] == join_id
    stored = page.evaluate(f"localStorage.getItem('gameserver.join.{link['code']}')")
    assert stored == join_id
    # the seat works: a decision is saved, and the seat is claimed once
    decide(page, "7")
    expect(page.get_by_test_id("decision-status")).to_have_attribute("data-state", "submitted")
    claimed = [s["role"] for s in game_state(server, game["game_id"])["seats"] if s["claimed"]]
    assert claimed == ["distributor"]
    no_page_errors(page)


def test_a_round_closed_without_the_players_order_says_which_was_used(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = create(server, autostart=True)
    gid = game["game_id"]
    late = join(browser, contexts, game["join"][0]["url"], "Ann")
    ready = join(browser, contexts, game["join"][1]["url"], "Bo")
    decide(ready, "9")
    expect(ready.get_by_test_id("decision-status")).to_have_attribute("data-state", "submitted")
    assert act(server, game, "deadline", seconds=1).status_code == 200
    notice = late.get_by_test_id("defaulted-notice")
    expect_week(late, 2)  # the deadline closed week 1 without Ann's order
    expect(notice).to_be_visible()
    expect(notice).to_have_text("Week 1 closed without your order; 4 was used.")
    expect(notice).to_have_attribute("data-round", "1")
    expect(ready.get_by_test_id("defaulted-notice")).to_be_hidden()
    # told again after a reload during the next round (from the sync)
    late.reload()
    expect(notice).to_have_text("Week 1 closed without your order; 4 was used.")
    decide(late, "6")
    expect(late.get_by_test_id("decision-status")).to_have_attribute("data-state", "submitted")
    assert act(server, game, "close-round").status_code == 200
    expect_week(late, 3)
    expect(notice).to_be_hidden()
    assert game_state(server, gid)["round"] == 2
    no_page_errors(late, ready)


def test_offline_within_seconds_of_a_silent_drop_and_the_dashboard_follows(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    """The network between a student and the server dies without closing anything (Link
    cuts it): the page shows Offline within the heartbeat's bound, the server drops the silent
    connection within its own, and the facilitator's dashboard marks the seat offline. When
    the network is back, both come back by themselves."""
    game = create(server, autostart=True, title="Team Wifi")
    gid = game["game_id"]
    dash = dashboard(browser, contexts, server)
    with Link(server.port) as net:
        page = join(browser, contexts, net.url(game["join"][0]["url"]), "Ann")
        student = seat(dash, gid, "retailer")
        expect(student).to_have_attribute("data-online", "true")
        time.sleep(2.5)  # the page heartbeats: the server holds it to the short limit
        net.cut()
        assert net.cut_at is not None
        connection = page.locator("#connection")
        expect(connection).to_have_attribute("data-state", "offline", timeout=15_000)
        page_offline = time.monotonic() - net.cut_at
        expect(connection).to_contain_text("Offline")
        expect(student).to_have_attribute("data-online", "false", timeout=15_000)
        dash_offline = time.monotonic() - net.cut_at
        # docs/protocol.md, "Heartbeat": the page in 3 to 6 s, the dashboard in 3 to 6.25 s
        # (plus the time these checks poll and the dashboard redraws)
        assert 2.5 <= page_offline <= 6.0 + 1.0, page_offline
        assert 2.5 <= dash_offline <= 6.25 + 1.5, dash_offline
        net.mend()
        expect(connection).to_have_attribute("data-state", "online", timeout=25_000)
        expect(student).to_have_attribute("data-online", "true")
        decide(page, "5")
        expect(student).to_have_attribute("data-submitted", "true")
    no_page_errors(dash, page)


def test_the_countdown_after_a_crash_gives_back_the_time_that_was_left(
    browser: Browser, contexts: list[BrowserContext], fresh_server: ServerProcess
) -> None:
    server = fresh_server
    server.start()
    game = create(server, autostart=True, round_seconds=90)
    page = join(browser, contexts, game["join"][0]["url"], "Ann")
    deadline = page.get_by_test_id("deadline")
    expect(deadline).to_contain_text("Closes in 1:2")
    before = _seconds(deadline.inner_text())
    server.kill()
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    time.sleep(10)  # down for 10 s: the round's clock does not run
    restarted = time.monotonic()
    server.start()
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=25_000)
    expect_week(page, 1)
    after = _seconds(deadline.inner_text())
    back = time.monotonic() - restarted  # the round ran again from the restart
    # What it had at the kill, and at most the alive interval (2 s) more, less the time since
    # the restart; the countdown shows whole seconds, rounded up (1 s).
    assert before - back - 1 <= after <= before + 2 + 1, (before, after, back)
    assert after > before - 10, "the downtime was taken from the round"
    no_page_errors(page)


def _seconds(text: str) -> int:
    """The seconds of a countdown such as "Closes in 1:25"."""
    match = re.search(r"(\d+):(\d\d)", text)
    assert match, text
    return int(match.group(1)) * 60 + int(match.group(2))
