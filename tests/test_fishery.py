"""The fishery's rules: catch, income, regrowth and collapse; what each fleet sees."""

from __future__ import annotations

import copy
import itertools
import math
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameserver.errors import InvalidDecision, InvalidSettings
from gameserver.game import State
from gameserver.games.fishery import FisheryGame
from tests.support import updates_rebuild_views

GAME = FisheryGame()


def new(seed: int = 0, **raw: Any) -> State:
    return GAME.initial_state(GAME.validate_settings(raw), seed)


def play(state: State, rounds: list[list[int]]) -> list[State]:
    states = [state]
    roles = list(state["fleets"])
    for boats in rounds:
        if GAME.is_over(states[-1]):
            break
        decisions = {role: {"boats": boats[i % len(boats)]} for i, role in enumerate(roles)}
        states.append(GAME.step(states[-1], decisions))
    return states


def test_roles_follow_the_number_of_players() -> None:
    assert GAME.roles(GAME.validate_settings()) == ["fleet-1", "fleet-2", "fleet-3", "fleet-4"]
    assert len(GAME.roles(GAME.validate_settings({"players": 8}))) == 8
    for players in (1, 9):
        with pytest.raises(
            InvalidSettings, match="setting 'players': value must be between 2 and 8"
        ):
            GAME.validate_settings({"players": players})
    with pytest.raises(InvalidSettings, match="'initial_stock' must be at most capacity"):
        GAME.validate_settings({"initial_stock": 2000})


def test_one_round_by_hand() -> None:
    state = new(regrowth_noise=0.0)
    after = GAME.step(
        state,
        {"fleet-1": {"boats": 10}, "fleet-2": {"boats": 5}}
        | {"fleet-3": {"boats": 0}, "fleet-4": {"boats": 20}},
    )
    # density 0.7: 5.6 fish a boat, rounded down per fleet
    catches = [after["fleets"][f"fleet-{n}"]["catch"][0] for n in range(1, 5)]
    assert catches == [56, 28, 0, 112]
    assert after["fleets"]["fleet-1"]["income"] == [56 * 10.0 - 10 * 25.0]
    assert after["fleets"]["fleet-3"]["income"] == [0.0]
    left = 700 - sum(catches)
    assert after["stock"] == left + math.floor(0.6 * left * (1 - left / 1000) + 0.5)


def test_boats_share_a_stock_they_would_overfish() -> None:
    state = new(players=2, initial_stock=100, catch_per_boat=1000.0)
    after = GAME.step(state, {"fleet-1": {"boats": 3}, "fleet-2": {"boats": 1}})
    assert [after["fleets"][f"fleet-{n}"]["catch"][0] for n in (1, 2)] == [75, 25]
    assert after["stock"] == 0  # nothing left to breed


def test_below_the_collapse_level_nothing_grows() -> None:
    state = new(initial_stock=99)
    after = GAME.step(state, {f"fleet-{n}": {"boats": 0} for n in range(1, 5)})
    assert after["stock"] == 99


def test_greedy_collapses_restraint_sustains() -> None:
    greedy = play(new(), [[20]] * 15)[-1]
    restrained = play(new(), [[8]] * 15)[-1]
    assert greedy["stock"] < 100 and min(greedy["stocks"][:4]) < 100
    assert min(restrained["stocks"]) > 500
    assert GAME.results(restrained)["team"]["income"] > GAME.results(greedy)["team"]["income"]


rounds_of_boats = st.lists(st.lists(st.integers(0, 20), min_size=1, max_size=8), max_size=15)


@settings(max_examples=50, deadline=None)
@given(
    boats=rounds_of_boats,
    players=st.integers(2, 8),
    stock=st.integers(0, 1000),
    seed=st.integers(0, 2**32),
)
def test_fish_are_counted(boats: list[list[int]], players: int, stock: int, seed: int) -> None:
    states = play(new(seed, players=players, initial_stock=stock), boats)
    for before, after in itertools.pairwise(states):
        caught = sum(f["catch"][-1] for f in after["fleets"].values())
        left = before["stock"] - caught
        assert left >= 0 and 0 <= after["stock"] <= 1000
        if left < 100:
            assert after["stock"] == left
        assert orjson.loads(orjson.dumps(after)) == after


@settings(max_examples=30, deadline=None)
@given(boats=rounds_of_boats, seed=st.integers(0, 2**32))
def test_step_is_pure_and_seeded(boats: list[list[int]], seed: int) -> None:
    states = play(new(seed), boats)
    for state in states[:-1]:
        snapshot = copy.deepcopy(state)
        decisions = {role: {"boats": 5} for role in state["fleets"]}
        assert GAME.step(state, decisions) == GAME.step(snapshot, decisions)
        assert state == snapshot


def test_seed_changes_the_sea_and_other_processes_agree() -> None:
    one = play(new(1), [[8]] * 15)[-1]
    two = play(new(2), [[8]] * 15)[-1]
    assert one["stocks"] != two["stocks"]
    code = (
        "import sys, orjson\n"
        "from gameserver.games.fishery import FisheryGame\n"
        "g = FisheryGame(); s = g.initial_state(g.validate_settings({}), 1)\n"
        "for _ in range(15):\n"
        "    s = g.step(s, {r: {'boats': 8} for r in s['fleets']})\n"
        "sys.stdout.buffer.write(orjson.dumps(s))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert orjson.loads(out) == one


@pytest.mark.parametrize(
    ("raw", "got"),
    [({"boats": -1}, "-1"), ({"boats": 21}, "21"), ({"boats": "3"}, "'3'"), ({}, "no boats")],
)
def test_bad_decisions_are_refused(raw: Any, got: str) -> None:
    with pytest.raises(InvalidDecision) as info:
        GAME.validate_decision(new(), "fleet-2", raw)
    assert str(info.value) == f"boats must be a whole number between 0 and 20, got {got}"


def test_absent_fleets_stay_in_harbour() -> None:
    assert GAME.default_decision(new(), "fleet-1") == {"boats": 0}


VIEW_KEYS = {
    "game", "role", "round", "rounds", "over", "rules", "max_boats", "stock_estimate",
    "stock_estimates", "last_boats", "boats", "catch", "income", "total_income", "total_catch",
}  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(boats=rounds_of_boats, players=st.integers(2, 8), seed=st.integers(0, 2**32))
def test_each_rounds_update_turns_the_last_view_into_the_new_one(
    boats: list[list[int]], players: int, seed: int
) -> None:
    """A fleet that takes updates holds exactly the whole view, every round to the last, which
    brings the whole view with the debrief."""
    states = play(new(seed, players=players, rounds=6), boats)
    for update in updates_rebuild_views(GAME, states, list(states[0]["fleets"])):
        assert all(len(items) == 1 for items in update["extend"].values())


@given(ours=rounds_of_boats, theirs=rounds_of_boats)
def test_a_fleet_sees_only_its_own_numbers(ours: list[list[int]], theirs: list[list[int]]) -> None:
    """Graft other fleets' records and the true stock from another game: the view must not
    change (the published estimates are public and stay)."""
    mine = play(new(), ours)
    other = play(new(5), theirs)
    for state, alien in zip(mine, other, strict=False):
        if GAME.is_over(state):
            continue  # the debrief reveals everything, on purpose
        for role in state["fleets"]:
            view = GAME.view(state, role)
            assert set(view) == VIEW_KEYS
            grafted = {
                **state,
                "stock": alien["stock"],
                "stocks": alien["stocks"],
                "fleets": {
                    r: (state if r == role else alien)["fleets"][r] for r in state["fleets"]
                },
            }
            assert GAME.view(grafted, role) == view


def test_the_end_reveals_everything() -> None:
    final = play(new(), [[8]] * 15)[-1]
    view = GAME.view(final, "fleet-3")
    assert view["over"] is True
    assert view["debrief"]["stocks"] == final["stocks"]
    assert set(view["debrief"]["fleets"]) == set(final["fleets"])
    results = GAME.results(final)
    assert results["team"]["income"] == sum(r["income"] for r in results["roles"].values())
    assert GAME.round_summary(final)["fleet-3"]["boats"] == 8
