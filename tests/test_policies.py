"""Policies and the registry: Sterman's benchmark costs $204; every policy keeps the rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from gameserver.errors import InvalidSettings, NotFound
from gameserver.game import Game, Policy, PolicySpec, State, apply_view_update
from gameserver.games import GAMES, get_game, make_policy, policies_for
from gameserver.games.beer import ROLES
from gameserver.games.beer_policies import anchor_and_adjust, expected_demand, pass_through
from gameserver.tools.simulate import play as play_offline

BEER = get_game("beer")


def play(game: Game, policies: Mapping[str, Policy], seed: int = 0, **raw: Any) -> State:
    """The final state of a game played to its end with ``policies``, decisions validated."""
    final, _ = play_offline(game, game.validate_settings(raw), policies, seed)
    return final


def everyone(game_name: str, policy: str, **params: Any) -> dict[str, Policy]:
    game = get_game(game_name)
    roles = game.roles(game.validate_settings())
    return {role: make_policy(game_name, policy, **params) for role in roles}


def test_sterman_benchmark_costs_204() -> None:
    final = play(BEER, everyone("beer", "benchmark"), forced_weeks=4)
    results = BEER.results(final)
    assert results["team"]["cost"] == 204.0
    costs = {role: row["cost"] for role, row in results["roles"].items()}
    assert costs == {"retailer": 46.0, "wholesaler": 50.0, "distributor": 54.0, "factory": 54.0}


def test_benchmark_orders_are_whole_before_rounding() -> None:
    """So the $204 does not depend on how orders are rounded: floor, ceiling, half up, half even."""
    state = BEER.initial_state(BEER.validate_settings({"forced_weeks": 4}), 0)
    while not BEER.is_over(state):
        decisions = {}
        for role in ROLES:
            view = BEER.view(state, role)
            target = 20.0 if role == "factory" else 28.0
            raw = anchor_and_adjust(view, 0.0, 1.0, 1.0, target)
            assert raw == math.floor(raw)
            decisions[role] = {"order": int(raw)}
        state = BEER.step(state, decisions)
    assert BEER.results(state)["team"]["cost"] == 204.0


def test_expected_demand_smooths_own_incoming_orders() -> None:
    view = {"history": {"incoming_order": [4, 8]}, "incoming_order": 8}
    # L1 = .5*4 + .5*4 = 4, L2 = .5*8 + .5*4 = 6, L3 = .5*8 + .5*6 = 7
    assert expected_demand(view, 0.5) == 7.0
    assert expected_demand(view, 0.0) == 4.0
    assert expected_demand(view, 1.0) == 8.0


def test_sterman_order_by_hand() -> None:
    view = {
        "role": "retailer",
        "history": {"incoming_order": []},
        "incoming_order": 4,
        "inventory": 12,
        "backlog": 0,
        "supply_line": 12,
        "forced": False,
        "forced_order": 4,
        "max_order": 10000,
    }
    policy = make_policy("beer", "sterman")
    # L = 4; 4 + 0.26 * (17 - 12 - 0.34 * 12) = 4.2392 -> 4
    assert policy(view) == {"order": 4}
    assert make_policy("beer", "sterman", alpha_s=1.0, beta=0.0)(view) == {"order": 9}
    assert make_policy("beer", "sterman", s_prime=0.0, alpha_s=1.0)(view) == {"order": 0}
    assert make_policy("beer", "sterman", alpha_s=1.0, beta=0.0)(view | {"max_order": 6}) == {
        "order": 6
    }


def test_sterman_defaults_make_the_bullwhip() -> None:
    final = play(BEER, everyone("beer", "sterman"), forced_weeks=4)
    results = BEER.results(final)
    assert results["team"]["cost"] > 5 * 204
    stds = [results["roles"][role]["order_std"] for role in ROLES]
    assert stds[-1] > stds[0] > results["team"]["demand_std"]


def test_pass_through_orders_the_incoming_order() -> None:
    final = play(BEER, everyone("beer", "pass-through"))
    for role in ROLES:
        history = final["nodes"][role]["history"]
        assert history["order"] == history["incoming_order"]


def test_random_is_seeded_and_within_range() -> None:
    first = play(BEER, everyone("beer", "random", seed=7, high=20))
    again = play(BEER, everyone("beer", "random", seed=7, high=20))
    other = play(BEER, everyone("beer", "random", seed=8, high=20))
    assert first == again
    assert first != other
    orders = [o for role in ROLES for o in first["nodes"][role]["history"]["order"]]
    assert min(orders) >= 0 and max(orders) <= 20
    assert len(set(orders)) > 10


@pytest.mark.parametrize("policy", ["pass-through", "sterman", "benchmark", "random"])
def test_every_beer_policy_obeys_forced_weeks(policy: str) -> None:
    final = play(BEER, everyone("beer", policy), forced_weeks=3, forced_order=5)
    for role in ROLES:
        assert final["nodes"][role]["history"]["order"][:3] == [5, 5, 5]


def test_fishery_policies() -> None:
    fishery = get_game("fishery")
    greedy = fishery.results(play(fishery, everyone("fishery", "greedy")))
    careful = fishery.results(play(fishery, everyone("fishery", "target-stock")))
    assert greedy["team"]["collapsed"] == 1
    assert careful["team"]["collapsed"] == 0
    assert careful["team"]["income"] > greedy["team"]["income"]
    fixed = play(fishery, everyone("fishery", "fixed", boats=30))
    assert set(fixed["fleets"]["fleet-1"]["boats"]) == {20}  # capped at max_boats
    first = play(fishery, everyone("fishery", "random", seed=3))
    assert first == play(fishery, everyone("fishery", "random", seed=3))


def test_registry() -> None:
    assert set(GAMES) == {"beer", "fishery"}
    assert set(policies_for("beer")) == {"pass-through", "sterman", "benchmark", "random"}
    assert {"target-stock", "random"} <= set(policies_for("fishery"))
    with pytest.raises(NotFound, match="no game 'chess'; known games: beer, fishery"):
        get_game("chess")
    with pytest.raises(NotFound, match="no policy 'oracle' for beer; known policies: benchmark"):
        make_policy("beer", "oracle")
    with pytest.raises(InvalidSettings, match="policy 'sterman' has no parameter 'gamma'"):
        make_policy("beer", "sterman", gamma=1)
    with pytest.raises(
        InvalidSettings, match=r"'theta' must be a number between 0 and 1, got 1\.5"
    ):
        make_policy("beer", "sterman", theta=1.5)
    with pytest.raises(InvalidSettings, match="'theta' must be a number between 0 and 1, got 'x'"):
        make_policy("beer", "sterman", theta="x")
    with pytest.raises(InvalidSettings, match=r"'seed' must be a whole number between 0 and \d+"):
        make_policy("beer", "random", seed=1.5)
    with pytest.raises(InvalidSettings, match=r"'target' must be a number between 0\.01 and 1"):
        make_policy("fishery", "target-stock", target=0)


def every_param() -> list[tuple[str, str, str]]:
    return [
        (game, policy.name, param)
        for game in GAMES
        for policy in policies_for(game).values()
        for param in policy.params
    ]


@pytest.mark.parametrize(("game", "policy", "param"), every_param())
def test_every_parameter_is_refused_outside_its_range_by_name(
    game: str, policy: str, param: str
) -> None:
    spec = policies_for(game)[policy]
    low, high = spec.ranges[param]
    words = rf"policy '{policy}': parameter '{param}' must be a (whole )?number between"
    for bad in (low - 1, high + 1, high * 10.0**300, math.inf, -math.inf, math.nan, True, "1"):
        with pytest.raises(InvalidSettings, match=words):
            make_policy(game, policy, **{param: bad})
    for good in (low, high, spec.params[param]):
        assert callable(make_policy(game, policy, **{param: good}))


@pytest.mark.parametrize(("game", "policy", "param"), every_param())
def test_a_policy_plays_a_whole_game_at_either_end_of_every_range(
    game: str, policy: str, param: str
) -> None:
    """Whatever a range lets in, a policy makes only decisions the rules accept."""
    low, high = policies_for(game)[policy].ranges[param]
    for value in (low, high):
        final = play(get_game(game), everyone(game, policy, **{param: value}))
        assert get_game(game).is_over(final)


def test_ranges_follow_the_games_own_limits() -> None:
    """Orders and boats a policy may be asked for are the most the games' settings allow."""
    beer = {s.name: s for s in BEER.settings_spec}
    fishery = {s.name: s for s in get_game("fishery").settings_spec}
    assert policies_for("beer")["random"].ranges["high"] == (0, beer["max_order"].maximum)
    assert policies_for("beer")["sterman"].ranges["s_prime"][1] == beer["max_order"].maximum
    assert policies_for("fishery")["fixed"].ranges["boats"] == (0, fishery["max_boats"].maximum)


def test_a_policy_declared_without_a_range_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="every parameter needs a range"):
        PolicySpec("p", "", pass_through, {"a": 1})
    with pytest.raises(ValueError, match=r"default a=5 is outside 0\.\.1"):
        PolicySpec("p", "", pass_through, {"a": 5}, {"a": (0, 1)})


def test_describe_gives_defaults_and_ranges() -> None:
    described = policies_for("beer")["sterman"].describe()
    assert described["params"]["theta"] == 0.36
    assert described["ranges"]["theta"] == {"minimum": 0.0, "maximum": 1.0}
    assert set(described["ranges"]) == set(described["params"])


def test_sterman_on_a_bots_growing_view_orders_as_on_a_fresh_view_each_week() -> None:
    """A bot's view grows in place by a week a round (its round updates); the policy goes on
    from the weeks it smoothed before. Its orders are exactly those of a new policy given a
    copy of the view each week, also after the bot's view is replaced (a sync) and when the
    policy is handed another game's shorter view."""
    game = get_game("beer")
    settings = game.validate_settings({"weeks": 120, "weeks_announced": 120})
    kept = make_policy("beer", "sterman", theta=0.7)
    state = game.initial_state(settings, 3)
    views = {role: game.view(state, role) for role in ROLES}
    orders: list[int] = []
    while not game.is_over(state):
        decisions = {}
        for role in ROLES:
            view = views[role]
            fresh = make_policy("beer", "sterman", theta=0.7)
            copied = {**view, "history": {k: list(v) for k, v in view["history"].items()}}
            decided = kept(view) if role == "wholesaler" else fresh(copied)
            assert decided == fresh(copied), (state["round"], role)
            decisions[role] = {"order": decided["order"] + state["round"] % 5}
            orders.append(decided["order"])
        state = game.step(state, decisions)
        for role in ROLES:
            update = game.view_update(state, role)
            if update is None or state["round"] == 60:  # the last round, or a sync: a new view
                views[role] = game.view(state, role)
            else:
                apply_view_update(views[role], update, in_place=True)
    assert len(set(orders)) > 5  # the demand and the orders varied
    # Another game's view, shorter than the one the policy last smoothed
    other = game.view(game.initial_state(settings, 4), "wholesaler")
    assert kept(other) == make_policy("beer", "sterman", theta=0.7)(other)
