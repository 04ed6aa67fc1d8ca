"""The debrief in real Chromium: the projector view one click from the dashboard, the figures of
a game in progress that agree on the details page, and a class's teams charted over time."""

from __future__ import annotations

import time
from typing import Any

from tests.support import ADMIN_KEY, ServerProcess
from tests.test_browser import BROWSER_MARKS, CHROMIUM

if CHROMIUM.exists():  # as in tests/test_browser.py: without Chromium, the tests skip
    from tests.test_browser import (
        Browser,
        BrowserContext,
        browser,
        contexts,
        dashboard,
        expect,
        no_page_errors,
    )

pytestmark = BROWSER_MARKS
__all__ = ["browser", "contexts"]  # the fixtures, used by name

BOTS = ("retailer", "wholesaler", "distributor")


def post(server: ServerProcess, path: str, body: Any = None, token: str = ADMIN_KEY) -> Any:
    with server.http(token) as http:
        response = http.post(path, json=body or {})
    assert response.status_code in (200, 201), response.text
    return response.json()


def bots_on(server: ServerProcess, game_id: str, roles: tuple[str, ...]) -> None:
    with server.http() as http:
        for role in roles:
            body = {"policy": "sterman"}
            response = http.put(f"/api/games/{game_id}/seats/{role}/bot", json=body)
            assert response.status_code == 200, response.text


def close_rounds(server: ServerProcess, game_id: str, count: int) -> None:
    """Three seats are bots; the fourth is empty: closing the round gives it the default."""
    for _ in range(count):
        post(server, f"/api/games/{game_id}/close-round")


def money(value: float) -> str:
    return f"${value:,.2f}"


def plain(value: float) -> str:
    """As the pages' ``fmt``: thousands separated, at most two decimals, no trailing zeros."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def wait_for_round(server: ServerProcess, game_id: str, number: int) -> dict[str, Any]:
    with server.http() as http:
        for _ in range(200):
            game: dict[str, Any] = http.get(f"/api/games/{game_id}").json()
            if game["round"] >= number:
                return game
            time.sleep(0.05)
    raise AssertionError(f"game {game_id} did not reach round {number}")


def test_the_projector_view_opens_with_one_click_and_agrees_with_the_details(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    game = post(server, "/api/games", {"kind": "beer", "title": "Team Beamer"})
    gid = game["game_id"]
    bots_on(server, gid, BOTS)
    post(server, f"/api/games/{gid}/start")
    close_rounds(server, gid, 6)  # mid-game: 6 of 36 weeks played
    with server.http() as http:
        results = http.get(f"/api/games/{gid}").json()["results"]
    team_cost = money(results["team"]["cost"])

    dash = dashboard(browser, contexts, server)
    dash.locator("#filter").select_option("all")
    # the details: its results table and its debrief table say the same
    dash.get_by_test_id(f"act-details-{gid}").click()
    detail = dash.locator("#detail")
    expect(detail.get_by_test_id("debrief")).to_be_visible()
    expect(detail.get_by_test_id("team-cost")).to_have_text(team_cost)
    results_table = detail.locator("table.data:has(caption:text-is('Results'))")
    at = results_table.locator("thead th").all_inner_texts().index("Cost")
    for role, row in results["roles"].items():
        table_row = results_table.locator("tbody tr", has_text=role.title())
        expect(table_row.locator("td").nth(at - 1)).to_have_text(plain(row["cost"]))
        debrief_row = detail.get_by_test_id("debrief").locator("tbody tr", has_text=role.title())
        expect(debrief_row.locator("td").first).to_have_text(money(row["cost"]))
    # the debrief's charts all end on week 6: the demand's line too
    for chart in detail.get_by_test_id("debrief").locator("figure.chart").all()[:3]:
        for line in chart.locator("polyline").all():
            assert len((line.get_attribute("points") or "").split()) == 6

    # one click on the game's row: the debrief, full window, in large type
    url_before = dash.url
    dash.get_by_test_id(f"act-projector-{gid}").click()
    projector = dash.get_by_test_id("projector")
    expect(projector).to_be_visible()
    expect(projector.locator("#projector-heading")).to_have_text("Team Beamer")
    expect(projector.get_by_test_id("debrief")).to_be_visible()
    expect(projector.get_by_test_id("team-cost")).to_have_text(team_cost)
    expect(projector.locator("figure.chart")).to_have_count(4)
    expect(dash.locator("#app")).to_be_hidden()  # nothing else on the screen
    # the credential stays out of the address bar
    assert dash.url == url_before and ADMIN_KEY not in dash.url
    heading = projector.locator("#projector-heading").evaluate(
        "node => parseFloat(getComputedStyle(node).fontSize)"
    )
    table = projector.locator("table.data td").first.evaluate(
        "node => parseFloat(getComputedStyle(node).fontSize)"
    )
    assert heading >= 40 and table >= 20, (heading, table)
    chart_width = projector.locator("figure.chart svg").first.bounding_box()
    assert chart_width is not None and chart_width["width"] >= 550
    dash.keyboard.press("Escape")
    expect(projector).to_be_hidden()
    expect(dash.locator("#app")).to_be_visible()
    # and from the details, the same view
    detail.get_by_test_id("detail-projector").click()
    expect(projector.get_by_test_id("team-cost")).to_have_text(team_cost)
    dash.get_by_role("button", name="Back to the dashboard").click()
    expect(projector).to_be_hidden()
    no_page_errors(dash)


def test_a_class_charts_its_teams_over_time_per_round(
    browser: Browser, contexts: list[BrowserContext], server: ServerProcess
) -> None:
    made = post(
        server,
        "/api/sessions",
        {"kind": "beer", "teams": 2, "title": "Trends", "settings": {"weeks": 8}},
    )
    token = made["facilitator_token"]
    first, second = (g["game_id"] for g in made["games"])
    bots_on(server, first, (*BOTS, "factory"))  # plays all 8 weeks at once
    bots_on(server, second, BOTS)
    post(server, f"/api/sessions/{made['session_id']}/start", token=token)
    close_rounds(server, second, 4)
    post(server, f"/api/games/{second}/end", token=token)  # ended early: 4 weeks
    ends = [wait_for_round(server, first, 8), wait_for_round(server, second, 4)]
    assert [g["round"] for g in ends] == [8, 4]

    dash = dashboard(browser, contexts, server, token, height=1000)
    trends = dash.get_by_test_id("class-trends")
    charts = trends.get_by_test_id("class-trends-charts").locator("figure.chart")
    # one chart of decisions per role, every team a line, and the team cost per week
    expect(charts).to_have_count(5)
    expect(charts.first.locator("figcaption")).to_have_text("Orders placed: Retailer, every team")
    expect(charts.first.locator("polyline")).to_have_count(2)
    expect(charts.nth(4).locator("figcaption")).to_have_text("Team cost per week")
    # compared per week: the total over the weeks each team played
    table = trends.get_by_test_id("class-trends-table")
    for game in ends:
        row = table.locator(f'tr[data-game="{game["game_id"]}"]')
        cost = game["results"]["team"]["cost"]
        expect(row.locator("td").nth(0)).to_have_text(str(game["round"]))
        expect(row.locator("td").nth(1)).to_have_text(money(cost))
        expect(row.locator("td").nth(2)).to_have_text(money(cost / game["round"]))
    no_page_errors(dash)
