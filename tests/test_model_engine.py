"""The engine under model games: PySD's behaviours that gameserver/games/models/engine.py
relies on or works around, held against the installed PySD (the models extra pins 3.14.x)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from gameserver.games.models.engine import CompiledModel, translate
from tests.conftest import EXAMPLES

pysd = pytest.importorskip("pysd", reason="the models extra is not installed")

BEER = EXAMPLES / "beer" / "beer.xmile"
ROLES = ("Retailer", "Wholesaler", "Distributor", "Factory")


@pytest.fixture(scope="module")
def beer(model_cache: Path) -> CompiledModel:
    return CompiledModel(translate(BEER, model_cache), BEER.name)


def orders(value: float) -> dict[str, float]:
    return {f"{role} Order": value for role in ROLES}


def test_pysds_public_step_applies_a_changed_input_one_dt_late(beer: CompiledModel) -> None:
    """Why the engine runs the Euler loop itself: with PySD's stepper an order placed at a
    step reaches the mail a step later. If this fails, PySD changed: the engine may use it."""
    from pysd.py_backend.output import ModelOutput

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.load(str(beer.module))
        model.set_stepper(ModelOutput(), step_vars=["retailer_order"], final_time=50)
        model.step(1, {"retailer_order": 4})
        model.step(1, {"retailer_order": 20})
    assert float(model["Retailer Mail"]) == 4  # not 20: one dt late


def test_a_constant_takes_effect_in_the_step_it_is_set(beer: CompiledModel) -> None:
    state = beer.initial(orders(4))
    state, _ = beer.advance(state, orders(4), 1, [])  # the warm-up week
    state, values = beer.advance(
        state, {**orders(4), "Retailer Order": 20}, 1, [("Retailer Mail", "end")]
    )
    assert values["Retailer Mail"] == 20


def test_the_state_is_plain_json_of_a_fixed_size(beer: CompiledModel) -> None:
    state = beer.initial(orders(4))
    sizes = []
    for _ in range(30):
        state, _ = beer.advance(json.loads(json.dumps(state)), orders(7), 1, [])
        sizes.append(len(json.dumps(state)))
    assert max(sizes) - min(sizes) < 20 and max(sizes) < 2000  # does not grow with time


def test_a_new_engine_steps_like_one_that_was_used(beer: CompiledModel) -> None:
    """A server restarted after a crash steps a restored game with an engine it just made:
    that engine must give what a long-used one gives (found by the chaos test: an engine never
    initialised read TIME as 0)."""
    sample = [("Customer Demand", "total"), ("Retailer Inventory", "end"), ("Forced Week", "end")]
    state = beer.initial({**orders(4), "Forced Weeks": 2})
    for _ in range(6):
        state, _ = beer.advance(state, orders(9), 1, sample)
    used = beer.advance(state, orders(9), 1, sample)
    beer._free.clear()  # the next call makes a new engine
    fresh = beer.advance(state, orders(9), 1, sample)
    assert fresh == used
    assert used[1]["Customer Demand"] == 8  # week 8: after the step in demand


def test_constants_of_one_game_never_reach_the_next(beer: CompiledModel) -> None:
    sample = [("Retailer Cost This Week", "end")]
    start = beer.initial(orders(4))
    costly = beer.advance(start, {**orders(4), "Holding Cost": 100}, 1, sample)
    plain = beer.advance(start, {**orders(4), "Holding Cost": 0.5}, 1, sample)
    assert costly[1]["Retailer Cost This Week"] == 200 * plain[1]["Retailer Cost This Week"]
