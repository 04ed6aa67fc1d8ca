"""Model games played offline: the example models, their rules, views, policies and replays.

The Beer Game as a stock-and-flow model must play exactly like the built-in one; a decision
must take effect in the round it is made; a game replays exactly from its decisions, and from a
state that went through JSON (a save and a restart).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from gameserver.errors import InvalidDecision, InvalidSettings
from gameserver.games import get_game, make_policy
from gameserver.replay import replay_game
from gameserver.tools.simulate import simulate

pytestmark = pytest.mark.usefixtures("model_games")

ROLES = ["retailer", "wholesaler", "distributor", "factory"]
#: Every figure both Beer Games record for a week.
WEEK_FIGURES = ("incoming_order", "received", "shipped", "inventory", "backlog", "order", "cost")


def test_the_model_beer_game_costs_204_with_the_benchmark_and_equals_the_built_in_game() -> None:
    model = simulate("beer-model", {"forced_weeks": 4}, policy="benchmark")
    built_in = simulate("beer", {"forced_weeks": 4}, policy="benchmark")
    assert model["team_cost"] == built_in["team_cost"] == 204
    assert model["role_cost"] == {
        "retailer": 46,
        "wholesaler": 50,
        "distributor": 54,
        "factory": 54,
    }
    assert len(model["weeks"]) == len(built_in["weeks"]) == 36
    for ours, theirs in zip(model["weeks"], built_in["weeks"], strict=True):
        for role in ROLES:
            mine = {k: ours["roles"][role][k] for k in WEEK_FIGURES}
            assert mine == {k: theirs["roles"][role][k] for k in WEEK_FIGURES}, (ours["week"], role)


@pytest.mark.parametrize("policy", ["sterman", "pass-through"])
def test_the_model_beer_game_equals_the_built_in_one_under_other_policies(policy: str) -> None:
    settings = {"demand_after": 12}
    model = simulate("beer-model", settings, policy=policy)
    built_in = simulate("beer", {"demand_after": 12}, policy=policy)
    assert model["team_cost"] == pytest.approx(built_in["team_cost"])
    for ours, theirs in zip(model["weeks"], built_in["weeks"], strict=True):
        for role in ROLES:
            for figure in ("order", "inventory", "backlog"):
                assert ours["roles"][role][figure] == theirs["roles"][role][figure]


def test_the_final_views_equal_the_built_in_debrief_week_by_week() -> None:
    """Orders, inventory and backlog of every role over all 36 weeks, as each debrief shows."""
    game, beer = get_game("beer-model"), get_game("beer")
    decisions = [{role: {"order": 4 + (week * 3 + i) % 9} for i, role in enumerate(ROLES)}
                 for week in range(36)]  # fmt: skip
    ours = replay_game(game, game.validate_settings({}), 1, decisions)[-1]
    theirs = replay_game(beer, beer.validate_settings({}), 1, decisions)[-1]
    mine, built = game.facilitator_view(ours), beer.facilitator_view(theirs)
    for role in ROLES:
        for figure in ("order", "inventory", "backlog", "incoming_order"):
            assert mine["roles"][role]["history"][figure] == built["roles"][role]["history"][figure]
    assert game.results(ours)["team"]["cost"] == beer.results(theirs)["team"]["cost"]
    # Each week's cost, for a class's charts: the built-in game's, summing to the total.
    assert game.display.debrief is not None and beer.display.debrief is not None
    assert game.display.debrief.per_round == "history.score_change"
    for role in ROLES:
        weekly = mine["roles"][role]["history"]["score_change"]
        assert weekly == built["roles"][role]["history"]["cost"]
        assert sum(weekly) == mine["roles"][role]["score"]
    halfway = game.facilitator_view(
        replay_game(game, game.validate_settings({}), 1, decisions[:9])[-1]
    )
    assert len(halfway["roles"]["factory"]["history"]["score_change"]) == 9


def test_a_decision_takes_effect_in_the_round_it_is_made() -> None:
    """The factory's order of a week is brewed in the next week and arrives in the third; an
    order placed one dt late (PySD's public step()) would arrive a week later."""
    game = get_game("beer-model")
    state = game.initial_state(game.validate_settings({}), 0)
    orders = {role: {"order": 4} for role in ROLES}
    state = game.step(state, {**orders, "factory": {"order": 40}})  # week 1
    for _ in range(2):  # weeks 2 and 3
        assert game.view(state, "factory")["received"] == 4
        state = game.step(state, orders)
    assert game.view(state, "factory")["received"] == 40  # week 4 = week 1 + 3
    # and the retailer's order of week 1 is read by the wholesaler in week 3
    state = game.initial_state(game.validate_settings({}), 0)
    state = game.step(state, {**orders, "retailer": {"order": 17}})
    assert game.view(state, "wholesaler")["incoming_order"] == 4
    state = game.step(state, orders)
    assert game.view(state, "wholesaler")["incoming_order"] == 17


@pytest.mark.parametrize("kind", ["beer-model", "commons", "market"])
def test_a_model_game_replays_exactly_and_restores_from_json(kind: str) -> None:
    game = get_game(kind)
    settings = game.validate_settings({"rounds": 6})
    roles = game.roles(settings)
    policy = make_policy(kind, "random", seed=5)
    state = game.initial_state(settings, 7)
    decisions = []
    while not game.is_over(state):
        round_ = {
            role: game.validate_decision(state, role, policy(game.view(state, role)))
            for role in roles
        }
        decisions.append(round_)
        # through JSON each round, as a save and a restart would
        state = game.step(json.loads(json.dumps(state)), round_)
    replayed = replay_game(game, settings, 7, decisions)[-1]
    assert json.dumps(replayed, sort_keys=True) == json.dumps(state, sort_keys=True)
    assert game.results(state) == game.results(replayed)
    assert len(json.dumps(state)) < 60_000


def test_games_stepped_in_threads_at_once_equal_games_stepped_alone() -> None:
    """Each call has an engine of its own: games in parallel threads do not disturb each other."""
    game = get_game("market")
    settings = game.validate_settings({"rounds": 8})

    def play(seed: int) -> dict[str, Any]:
        policy = make_policy("market", "random", seed=seed)
        state = game.initial_state(settings, seed)
        while not game.is_over(state):
            state = game.step(state, {r: policy(game.view(state, r)) for r in game.roles(settings)})
        return game.results(state)

    alone = {seed: play(seed) for seed in range(4)}
    together: dict[int, Any] = {}
    threads = [
        threading.Thread(target=lambda s=s: together.__setitem__(s, play(s))) for s in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


def test_a_view_shows_nothing_of_another_role() -> None:
    """Graft: another game's figures in every other role change nothing of a role's view."""
    game = get_game("commons")
    settings = game.validate_settings({"players": 3, "rounds": 4})
    one = game.initial_state(settings, 1)
    two = game.initial_state(settings, 1)
    for _ in range(3):
        one = game.step(
            one, {"fleet-1": {"boats": 5}, "fleet-2": {"boats": 1}, "fleet-3": {"boats": 2}}
        )
        two = game.step(
            two, {"fleet-1": {"boats": 5}, "fleet-2": {"boats": 19}, "fleet-3": {"boats": 0}}
        )
    grafted = json.loads(json.dumps(one))
    for name in one["series"]:
        if name.startswith(("Fleet 2", "Fleet 3")):
            grafted["series"][name] = two["series"][name]
    for round_, decided in enumerate(two["decisions"]):
        grafted["decisions"][round_] = {**decided, "fleet-1": one["decisions"][round_]["fleet-1"]}
    mine = game.view(one, "fleet-1")
    assert game.view(grafted, "fleet-1") == mine
    assert "fleet-2" not in json.dumps(mine) and mine["role"] == "fleet-1"


def test_counted_roles_and_two_decisions() -> None:
    commons = get_game("commons")
    assert commons.roles(commons.validate_settings({"players": 2})) == ["fleet-1", "fleet-2"]
    with pytest.raises(InvalidSettings, match=r"'players'.*between 2 and 6"):
        commons.validate_settings({"players": 7})
    market = get_game("market")
    state = market.initial_state(market.validate_settings({}), 0)
    view = market.view(state, "beta")
    assert view["decide"]["price"] == {"minimum": 1, "maximum": 100, "whole": False, "default": 20}
    assert market.validate_decision(state, "beta", {"price": 19.5, "advertising": 200.0}) == {
        "price": 19.5,
        "advertising": 200,
    }
    for raw, words in [
        (
            {"price": 19.5},
            "advertising must be a whole number between 0 and 50000, got no advertising",
        ),
        ({"price": 0.5, "advertising": 1}, "price must be a number between 1 and 100, got 0.5"),
        (
            {"price": 5, "advertising": 1.5},
            "advertising must be a whole number between 0 and 50000, got 1.5",
        ),
        ({"price": 5, "advertising": 1, "x": 2}, "got extra key 'x'"),
        ({"price": True, "advertising": 1}, "got True"),
    ]:
        with pytest.raises(InvalidDecision) as refused:
            market.validate_decision(state, "beta", raw)
        assert words in str(refused.value)


def test_the_beer_model_repeats_the_last_order_of_a_silent_seat_and_obeys_forced_weeks() -> None:
    game = get_game("beer-model")
    state = game.initial_state(game.validate_settings({"forced_weeks": 2}), 0)
    assert game.view(state, "retailer")["forced"] and game.default_decision(state, "retailer") == {
        "order": 4
    }
    state = game.step(state, {role: {"order": 30} for role in ROLES})  # forced: 4 is used
    assert game.view(state, "wholesaler")["forced"]
    state = game.step(state, {role: {"order": 4} for role in ROLES})
    assert not game.view(state, "retailer")["forced"]
    state = game.step(state, {role: {"order": 9} for role in ROLES})
    assert game.default_decision(state, "factory") == {"order": 9}
    assert game.view(state, "factory")["last_order"] == 9
    assert game.announced_rounds(state) == 50 and game.total_rounds(state) == 36


def test_generic_policies_play_any_model_game() -> None:
    for kind in ("beer-model", "commons", "market"):
        report = simulate(kind, {"rounds": 3}, policy="default")
        again = simulate(kind, {"rounds": 3}, policy="random", seed=4)
        assert (
            report["results"]["team"]["rounds_played"]
            == again["results"]["team"]["rounds_played"]
            == 3
        )
        assert again == simulate(kind, {"rounds": 3}, policy="random", seed=4)


def test_the_display_declares_what_the_pages_draw() -> None:
    display = get_game("market").display.describe()
    assert display["round_word"] == "quarter"
    assert [d["key"] for d in display["decisions"]] == ["price", "advertising"]
    assert display["decisions"][0] == {
        "key": "price", "label": "Monthly price", "unit": "$", "minimum": 1, "whole": False,
        "maximum": 100, "default": 20,
    }  # fmt: skip
    assert display["score"] == {"label": "Profit", "format": "money", "better": "higher"}
    beer = get_game("beer-model").display.describe()
    assert beer["decisions"][0]["maximum_from"] == "max_order"
    assert beer["role_briefings"]["factory"].startswith("You ship to the distributor")
    assert beer["debrief"]["charts"][0]["per_role"] == "history.order"
