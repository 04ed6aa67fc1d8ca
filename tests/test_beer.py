"""The Beer Game's rules: timing, conservation, costs, decisions, settings, what each role sees."""

from __future__ import annotations

import copy
import itertools
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.errors import InvalidDecision, InvalidSettings
from gameserver.game import State, apply_view_update
from gameserver.games import beer, beer_report
from gameserver.games.beer import FIGURES, ROLES, BeerGame, demand_in_week
from tests.support import updates_rebuild_views

GAME = BeerGame()
Orders = Sequence[Mapping[str, int]]


def new(**raw: Any) -> State:
    return GAME.initial_state(GAME.validate_settings(raw), 0)


def play(state: State, orders: Orders) -> list[State]:
    """Every state from ``state`` on, one week per entry of ``orders`` (stops at the end)."""
    states = [state]
    for week in orders:
        if GAME.is_over(states[-1]):
            break
        states.append(GAME.step(states[-1], {r: {"order": week[r]} for r in ROLES}))
    return states


def steady(weeks: int, **changes: int) -> list[dict[str, int]]:
    return [{r: 4 for r in ROLES} | changes for _ in range(weeks)]


# -- the week's timing ---------------------------------------------------------------------


def test_week_one_matches_the_board() -> None:
    view = GAME.view(new(), "retailer")
    assert view["week"] == 1
    figures = {f: view[f] for f in ("incoming_order", "received", "shipped", "inventory")}
    assert figures == {"incoming_order": 4, "received": 4, "shipped": 4, "inventory": 12}
    # week 1's cost is known before its order; it joins the total when the week's round closes
    assert (view["backlog"], view["cost"], view["total_cost"]) == (0, 6.0, 0.0)
    after = GAME.view(play(new(), steady(1))[-1], "retailer")
    assert after["total_cost"] == 6.0 == after["history"]["cost"][0]
    # 4 in the mail to the wholesaler, 8 on the road
    assert view["supply_line"] == 12
    assert GAME.view(new(), "factory")["supply_line"] == 8


@pytest.mark.parametrize(
    ("order_delay", "shipping_delay", "production_delay"), [(2, 2, 2), (1, 3, 1), (3, 1, 3)]
)
@pytest.mark.parametrize("role", ROLES)
def test_an_order_arrives_after_the_delays(
    role: str, order_delay: int, shipping_delay: int, production_delay: int
) -> None:
    state = new(
        demand_list=[4],
        order_delay=order_delay,
        shipping_delay=shipping_delay,
        production_delay=production_delay,
    )
    orders = steady(20)
    orders[4] = orders[4] | {role: 14}  # week 5: 10 more than usual
    final = play(state, orders)[-1]
    history = final["nodes"][role]["history"]
    arrival = history["received"].index(14) + 1
    if role == "factory":
        assert arrival == 5 + 1 + production_delay
    else:
        assert arrival == 5 + order_delay + shipping_delay
        supplier = final["nodes"][ROLES[ROLES.index(role) + 1]]["history"]
        assert supplier["incoming_order"].index(14) + 1 == 5 + order_delay


def test_forced_weeks_override_what_was_sent() -> None:
    state = new(forced_weeks=2)
    assert GAME.view(state, "wholesaler")["forced"] is True
    assert GAME.default_decision(state, "wholesaler") == {"order": 4}
    states = play(state, steady(3, wholesaler=9))
    assert states[-1]["nodes"]["wholesaler"]["history"]["order"] == [4, 4, 9]
    assert [GAME.view(s, "retailer")["forced"] for s in states] == [True, True, False, False]


def test_missing_decision_repeats_the_last_order() -> None:
    state = new()
    assert GAME.default_decision(state, "distributor") == {"order": 4}  # the initial order
    state = play(state, steady(1, distributor=7))[-1]
    assert GAME.default_decision(state, "distributor") == {"order": 7}


def test_demand_pattern_and_list() -> None:
    pattern = GAME.validate_settings(
        {"demand_initial": 3, "demand_step_week": 3, "demand_after": 9}
    )
    assert [demand_in_week(pattern, w) for w in range(1, 6)] == [3, 3, 9, 9, 9]
    listed = GAME.validate_settings({"demand_list": [5, 6, 7]})
    assert [demand_in_week(listed, w) for w in range(1, 6)] == [5, 6, 7, 7, 7]
    defaults = GAME.validate_settings()
    assert [demand_in_week(defaults, w) for w in (1, 4, 5, 36)] == [4, 4, 8, 8]


def test_the_game_lasts_36_weeks_announced_50() -> None:
    states = play(new(), steady(40))
    assert len(states) == 37
    final = states[-1]
    assert GAME.is_over(final) and not GAME.is_over(states[-2])
    assert (GAME.total_rounds(final), GAME.announced_rounds(final)) == (36, 50)
    with pytest.raises(ValueError, match="over"):
        GAME.step(final, {r: {"order": 4} for r in ROLES})


# -- invariants, for any orders and settings ------------------------------------------------

game_settings = st.fixed_dictionaries(
    {
        "weeks": st.integers(1, 12),
        "forced_weeks": st.integers(0, 3),
        "order_delay": st.integers(1, 3),
        "shipping_delay": st.integers(1, 3),
        "production_delay": st.integers(1, 3),
        "initial_inventory": st.integers(0, 20),
        "initial_pipeline": st.integers(0, 8),
        "initial_order": st.integers(0, 8),
        "demand_list": st.lists(st.integers(0, 15), min_size=1, max_size=12),
    }
)
weekly_orders = st.lists(st.fixed_dictionaries({r: st.integers(0, 30) for r in ROLES}), max_size=12)


def goods_in_chain(state: State) -> int:
    return sum(n["inventory"] + sum(n["inbound"]) for n in state["nodes"].values())


def delivered_to_customers(state: State) -> int:
    retailer = state["nodes"]["retailer"]
    pending = 0 if GAME.is_over(state) else retailer["now"]["shipped"]
    return int(sum(retailer["history"]["shipped"]) + pending)


def brewed(state: State) -> int:
    factory = state["nodes"]["factory"]
    first_request = state["settings"]["initial_order"]
    return int(first_request + sum(factory["history"]["order"]) - sum(factory["mail"]))


@settings(max_examples=60, deadline=None)
@given(raw=game_settings, orders=weekly_orders)
def test_beer_is_conserved(raw: dict[str, Any], orders: Orders) -> None:
    states = play(new(**raw), orders)
    s = states[0]["settings"]
    at_start = 4 * s["initial_inventory"] + s["initial_pipeline"] * (
        3 * s["shipping_delay"] + s["production_delay"]
    )
    for state in states:
        assert at_start + brewed(state) == delivered_to_customers(state) + goods_in_chain(state)


@settings(max_examples=60, deadline=None)
@given(raw=game_settings, orders=weekly_orders)
def test_stock_never_negative_and_backlog_served_first(raw: dict[str, Any], orders: Orders) -> None:
    final = play(new(**raw), orders)[-1]
    initial = final["settings"]["initial_inventory"]
    for role in ROLES:
        h = final["nodes"][role]["history"]
        inventory, backlog, ordered, shipped = initial, 0, 0, 0
        for week in range(len(h["order"])):
            available = inventory + h["received"][week]
            owed = backlog + h["incoming_order"][week]
            # everything owed, old backlog included, goes out as far as stock allows
            assert h["shipped"][week] == min(available, owed)
            inventory, backlog = h["inventory"][week], h["backlog"][week]
            assert inventory == available - h["shipped"][week] >= 0
            assert backlog == owed - h["shipped"][week] >= 0
            assert inventory == 0 or backlog == 0
            ordered += h["incoming_order"][week]
            shipped += h["shipped"][week]
            assert shipped + backlog == ordered  # never more than was ordered, nothing lost


@settings(max_examples=60, deadline=None)
@given(raw=game_settings, orders=weekly_orders)
def test_supply_line_is_what_was_ordered_and_not_received(
    raw: dict[str, Any], orders: Orders
) -> None:
    for state in play(new(**raw), orders):
        nodes = state["nodes"]
        for index, role in enumerate(ROLES):
            node = nodes[role]
            owed = nodes[ROLES[index + 1]]["backlog"] if role != "factory" else 0
            assert node["supply_line"] == sum(node["mail"]) + owed + sum(node["inbound"])


@settings(max_examples=40, deadline=None)
@given(raw=game_settings, orders=weekly_orders)
def test_step_is_pure_and_state_is_json(raw: dict[str, Any], orders: Orders) -> None:
    states = play(new(**raw), orders)
    for before, after in itertools.pairwise(states):
        snapshot = copy.deepcopy(before)
        again = GAME.step(before, {r: {"order": 3} for r in ROLES})
        assert before == snapshot
        assert again == GAME.step(snapshot, {r: {"order": 3} for r in ROLES})
        assert after["round"] == before["round"] + 1
    for state in states:
        assert orjson.loads(orjson.dumps(state)) == state
        assert state["schema"] == GAME.STATE_SCHEMA


def test_same_game_in_another_process() -> None:
    orders = [{r: (week * 7 + i * 3) % 13 for i, r in enumerate(ROLES)} for week in range(36)]
    here = play(new(forced_weeks=4), orders)[-1]
    code = (
        "import sys, orjson\n"
        "from gameserver.games.beer import BeerGame, ROLES\n"
        "g = BeerGame(); s = g.initial_state(g.validate_settings({'forced_weeks': 4}), 0)\n"
        "for week in orders:\n"
        "    s = g.step(s, {r: {'order': week[r]} for r in ROLES})\n"
        "sys.stdout.buffer.write(orjson.dumps(s))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"orders = {orders!r}\n{code}"],
        capture_output=True,
        check=True,
    ).stdout
    assert orjson.loads(out) == here


def test_games_share_their_weekly_costs_and_encode_as_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Equal weekly costs are one float object across games (memory: 144 floats a game), which
    changes nothing a game encodes: -0.0 stays -0.0 after a game of 0.0 costs, and past the
    memo's bound costs still come out right."""
    orders = [{r: (week * 5 + i) % 11 for i, r in enumerate(ROLES)} for week in range(36)]
    first, second = play(new(), orders)[-1], play(new(), orders)[-1]
    for role in ROLES:
        costs = zip(
            first["nodes"][role]["history"]["cost"],
            second["nodes"][role]["history"]["cost"],
            strict=True,
        )
        assert all(a is b for a, b in costs if a > 0)
    play(new(holding_cost=0, backlog_cost=0), orders)
    negative = play(new(holding_cost=-0.0, backlog_cost=-0.0), orders)[-1]
    assert b'"cost":[-0.0,' in orjson.dumps(negative["nodes"]["retailer"]["history"])
    monkeypatch.setattr(beer, "_COSTS", {})
    monkeypatch.setattr(beer, "_COSTS_KEPT", 3)
    bounded = play(new(), orders)[-1]
    assert len(beer._COSTS) == 3
    assert bounded == first


# -- decisions and settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        ({"order": -3}, "-3"),
        ({"order": 10001}, "10001"),
        ({"order": "5"}, "'5'"),
        ({"order": 2.5}, "2.5"),
        ({"order": True}, "True"),
        ({"order": None}, "None"),
        ({}, "no order"),
        ({"order": 4, "note": "x"}, "extra key 'note'"),
        ([4], '[4] instead of {"order": <number>}'),
    ],
)
def test_bad_orders_are_refused(raw: Any, got: str) -> None:
    with pytest.raises(InvalidDecision) as info:
        GAME.validate_decision(new(), "retailer", raw)
    assert str(info.value) == f"order must be a whole number between 0 and 10000, got {got}"


def test_good_orders_are_normalised() -> None:
    assert GAME.validate_decision(new(), "factory", {"order": 0}) == {"order": 0}
    assert GAME.validate_decision(new(), "factory", {"order": 10000}) == {"order": 10000}
    assert GAME.validate_decision(new(), "factory", {"order": 7.0}) == {"order": 7}
    small = new(max_order=50)
    with pytest.raises(InvalidDecision, match="between 0 and 50, got 51"):
        GAME.validate_decision(small, "factory", {"order": 51})
    with pytest.raises(InvalidDecision, match="no role 'brewer'"):
        GAME.validate_decision(small, "brewer", {"order": 1})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"weeks": 0}, "setting 'weeks': value must be between 1 and 520, got 0"),
        ({"weeks": 60}, "setting 'weeks_announced' must be at least weeks (60), got 50"),
        ({"holding_cost": -1}, "setting 'holding_cost': value must be between 0 and 1000000"),
        ({"demand_list": [4, -8]}, "setting 'demand_list': item 1 must be between 0 and 1000000"),
        ({"forced_order": 20, "max_order": 10}, "setting 'forced_order' must be at most max_order"),
        ({"initial_backlog": 3}, "settings 'initial_inventory' and 'initial_backlog' cannot both"),
        ({"weekz": 3}, "unknown setting 'weekz' for beer"),
    ],
)
def test_bad_settings_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSettings) as info:
        GAME.validate_settings(raw)
    assert str(info.value).startswith(message)


def test_every_setting_has_its_default() -> None:
    defaults = {s["name"]: s["default"] for s in GAME.describe_settings()}
    assert defaults["weeks"] == 36 and defaults["weeks_announced"] == 50
    assert defaults["forced_weeks"] == 0 and defaults["max_order"] == 10000
    assert (defaults["holding_cost"], defaults["backlog_cost"]) == (0.5, 1.0)
    assert defaults["demand_list"] is None


# -- what each role sees ----------------------------------------------------------------------

VIEW_KEYS = {
    "game", "role", "customer", "supplier", "week", "weeks_announced", "over", "forced",
    "forced_order", "max_order", "holding_cost", "backlog_cost", "incoming_order", "received",
    "shipped", "inventory", "backlog", "cost", "total_cost", "supply_line", "last_order",
    "history",
}  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    orders=weekly_orders,
    others=weekly_orders,
    demand=st.lists(st.integers(0, 15), min_size=1, max_size=12),
)
def test_a_view_reads_only_its_own_role(orders: Orders, others: Orders, demand: list[int]) -> None:
    """Graft other roles' figures (and another demand) from a different game into the state:
    until the game is over, no role's view may change."""
    ours = play(new(weeks=12, demand_list=[4, 9, 2]), orders)
    theirs = play(new(weeks=12, demand_list=demand), others)
    for mine, other in zip(ours, theirs, strict=False):
        if GAME.is_over(mine):
            continue  # the debrief reveals everything, on purpose
        for role in ROLES:
            view = GAME.view(mine, role)
            assert set(view) == VIEW_KEYS
            assert set(view["history"]) == set(FIGURES)
            grafted = {
                **mine,
                "nodes": {r: (mine if r == role else other)["nodes"][r] for r in ROLES},
                "settings": {**mine["settings"], "demand_list": demand},
            }
            assert GAME.view(grafted, role) == view


def test_views_hide_the_real_length_until_the_debrief() -> None:
    states = play(new(), steady(36))
    for state in states[:-1]:
        view = GAME.view(state, "distributor")
        assert "debrief" not in view and "weeks" not in view
        assert view["weeks_announced"] == 50
    final = GAME.view(states[-1], "distributor")
    assert final["over"] is True
    assert set(final["debrief"]["roles"]) == set(ROLES)
    assert final["debrief"]["weeks"] == 36


def test_view_copies_history() -> None:
    state = play(new(), steady(3))[-1]
    view = GAME.view(state, "retailer")
    view["history"]["order"].append(99)
    assert state["nodes"]["retailer"]["history"]["order"] == [4, 4, 4]


def test_the_players_of_a_finished_game_share_one_debrief() -> None:
    class Counting(BeerGame):
        made = 0

        def facilitator_view(self, state: State) -> dict[str, Any]:
            Counting.made += 1
            return super().facilitator_view(state)

    game = Counting()
    first = play(new(weeks=4), steady(4))[-1]
    views = [game.view(first, role) for role in ROLES]
    assert Counting.made == 1
    assert all(view["debrief"] == GAME.facilitator_view(first) for view in views)
    # Another game's end (another state, even an equal one) gets a debrief of its own.
    second = play(new(weeks=4), steady(4, retailer=8))[-1]
    assert game.view(second, "factory")["debrief"] == GAME.facilitator_view(second)
    assert game.view(copy.deepcopy(first), "factory")["debrief"] == views[0]["debrief"]
    assert Counting.made == 3


@given(raw=game_settings, orders=weekly_orders)
def test_each_rounds_update_turns_the_last_view_into_the_new_one(
    raw: dict[str, Any], orders: Orders
) -> None:
    """A client that takes updates holds exactly the view a client of whole views gets, every
    round to the last, which brings the whole view with the debrief."""
    for update in updates_rebuild_views(GAME, play(new(**raw), orders), list(ROLES)):
        # the update's size does not grow with the game: one entry per history list
        assert all(len(items) == 1 for items in update["extend"]["history"].values())
        # nor does it repeat what is fixed when the game is made (rules, costs, neighbours)
        assert not update["set"].keys() & {"role", "customer", "supplier", "holding_cost"}


def test_an_update_that_does_not_fit_the_view_is_refused() -> None:
    states = play(new(), steady(2))
    update = GAME.view_update(states[2], "factory")
    assert update is not None
    with pytest.raises(ValueError, match="no 'history' to extend"):
        apply_view_update({"week": 1}, update)
    with pytest.raises(ValueError, match="no list 'boats' to extend"):
        apply_view_update({"boats": 3}, {"extend": {"boats": [4]}})
    assert apply_view_update({"boats": [3]}, {"extend": {"boats": [4]}}) == {"boats": [3, 4]}
    with pytest.raises(ValueError, match=r"no list history\.incoming_order to extend"):
        apply_view_update({"history": {}}, update)
    # In place (a bot's own view), a misfit is refused before anything changes.
    view = {"week": 1, "history": {"order": [4], "cost": [1.0]}}
    with pytest.raises(ValueError, match=r"no list history\.incoming_order to extend"):
        apply_view_update(view, update, in_place=True)
    assert view == {"week": 1, "history": {"order": [4], "cost": [1.0]}}
    # A list given whole in ``set`` is the one extended.
    grown = {"boats": [1], "week": 1}
    update_set = {"set": {"boats": [7], "week": 2}, "extend": {"boats": [8]}}
    assert apply_view_update(grown, update_set) == {"boats": [7, 8], "week": 2}
    assert apply_view_update(grown, update_set, in_place=True) == {"boats": [7, 8], "week": 2}


def test_history_and_summary_keep_the_figures_order() -> None:
    """Tables and exports show the figures in FIGURES' order, read off the state's keys."""
    for state in play(new(), steady(3)):
        for role in ROLES:
            assert list(state["nodes"][role]["history"]) == list(FIGURES)
            assert list(GAME.view(state, role)["history"]) == list(FIGURES)
    summary = GAME.round_summary(state)
    assert list(summary["factory"]) == [*FIGURES, "cumulative_cost"]


def test_results_summary_and_facilitator_view_agree() -> None:
    states = play(new(), steady(10, wholesaler=6))
    final = states[-1]
    results = GAME.results(final)
    team = results["team"]
    assert team["cost"] == sum(row["cost"] for row in results["roles"].values())
    assert team["cost"] == team["holding_cost"] + team["backlog_cost"]
    summary = GAME.round_summary(final)
    assert set(summary) == set(ROLES)
    assert set(summary["retailer"]) == {*FIGURES, "cumulative_cost"}
    assert summary["wholesaler"]["order"] == 6
    assert summary["retailer"]["cumulative_cost"] == results["roles"]["retailer"]["cost"]
    board = GAME.facilitator_view(final)
    assert board["team_cost_per_week"][:10] == [
        sum(s["nodes"][r]["history"]["cost"][-1] for r in ROLES) for s in states[1:]
    ]
    # one count of costs: the weeks played, in the board, the results and the summaries
    assert board["team_cost"] == team["cost"] == sum(board["team_cost_per_week"])
    for role in ROLES:
        assert board["roles"][role]["total_cost"] == results["roles"][role]["cost"]
        assert board["roles"][role]["total_cost"] == summary[role]["cumulative_cost"]
        assert GAME.view(final, role)["total_cost"] == results["roles"][role]["cost"]
    # every chart of the board ends on the same week: the demand too
    assert len(board["demand"]) == len(board["roles"]["retailer"]["history"]["order"]) == 10
    assert GAME.round_summary(new()) == {}


# -- the debrief's sentences -----------------------------------------------------------------


def lead(board: dict[str, object]) -> list[str]:
    """The debrief notes the board shows: those whose ``when`` is true (or that have none)."""
    assert GAME.display.debrief is not None
    return [n.text for n in GAME.display.debrief.lead if not n.when or board[n.when]]


def test_a_growing_swing_is_called_the_bullwhip() -> None:
    demand = [4] * 4 + [8] * 16
    # each role over-reacts more than the one below it
    swings = {"retailer": 1, "wholesaler": 3, "distributor": 6, "factory": 10}
    orders = [{r: 8 + (swings[r] if week % 2 else -swings[r]) for r in ROLES} for week in range(20)]
    board = GAME.facilitator_view(play(new(weeks=20, demand_list=demand), orders)[-1])
    assert board["bullwhip"] and not board["no_bullwhip"]
    assert board["order_std"] == {
        "retailer": 1.0,
        "wholesaler": 3.0,
        "distributor": 6.0,
        "factory": 10.0,
    }
    assert board["demand_std"] == 1.6
    assert board["demand_varies"] and not board["demand_constant"]
    texts = lead(board)
    assert any("That is the bullwhip effect." in t for t in texts)
    assert any(t.startswith("Customers ordered between") for t in texts)
    assert not any("No bullwhip" in t for t in texts)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(st.integers(0, 10_000), max_size=60),
        st.lists(st.floats(0, 10_000, allow_nan=False), max_size=60),
    )
)
def test_the_spread_is_the_population_standard_deviation(values: list[float]) -> None:
    # whole numbers (orders, demand) take an exact path of their own; any other values two
    # passes in floats: both as statistics.pstdev says, which computes in exact fractions
    got = beer_report.spread(values)
    want = statistics.pstdev(values) if values else 0.0
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_a_flat_line_is_no_bullwhip_and_a_constant_demand_is_said_so() -> None:
    board = GAME.facilitator_view(play(new(weeks=12, demand_list=[4]), steady(12))[-1])
    assert board["demand"] == [4] * 12
    assert board["demand_constant"] and not board["demand_varies"]
    assert board["no_bullwhip"] and not board["bullwhip"]
    assert board["order_std"] == dict.fromkeys(ROLES, 0.0)
    texts = lead(board)
    assert "Customers ordered {demand|first} cases every week." in texts
    assert not any("between" in t or "That is the bullwhip effect." in t for t in texts)
    assert any("did not grow up the chain" in t for t in texts)


def test_a_swing_that_does_not_grow_past_the_retailer_is_no_bullwhip() -> None:
    # the retailer swings most: the factory's orders vary more than the demand, but the swing
    # shrinks up the chain
    swings = {"retailer": 8, "wholesaler": 6, "distributor": 5, "factory": 4}
    orders = [{r: 8 + (swings[r] if week % 2 else -swings[r]) for r in ROLES} for week in range(20)]
    board = GAME.facilitator_view(play(new(weeks=20), orders)[-1])
    assert board["no_bullwhip"] and not board["bullwhip"]


def test_before_any_week_the_debrief_says_nothing_of_the_swing() -> None:
    board = GAME.facilitator_view(new())
    assert not any(
        board[k] for k in ("bullwhip", "no_bullwhip", "demand_constant", "demand_varies")
    )
    assert board["demand"] == [] and board["team_cost"] == 0.0
