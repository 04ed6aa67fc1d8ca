"""The game contract: settings are checked with messages that name the setting and its range."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gameserver.errors import InvalidDecision, InvalidSettings
from gameserver.game import (
    Decision,
    Game,
    Setting,
    State,
    View,
    require_roles,
    whole_number_decision,
)


def refused(spec: Setting, value: Any) -> str:
    with pytest.raises(InvalidSettings) as info:
        spec.coerce(value)
    return str(info.value)


def test_int_setting_names_itself_and_its_range() -> None:
    weeks = Setting("weeks", "int", 36, minimum=1, maximum=520)
    assert weeks.coerce(40) == 40
    assert weeks.coerce(40.0) == 40
    assert refused(weeks, 0) == "setting 'weeks': value must be between 1 and 520, got 0"
    assert (
        refused(weeks, 2.5) == "setting 'weeks' must be a whole number between 1 and 520, got 2.5"
    )
    assert (
        refused(weeks, "x") == "setting 'weeks' must be a whole number between 1 and 520, got 'x'"
    )
    assert refused(weeks, True).endswith("got True")
    assert refused(weeks, None) == "setting 'weeks' must not be empty"


def test_float_setting_refuses_text_and_infinity() -> None:
    cost = Setting("holding_cost", "float", 0.5, minimum=0)
    assert cost.coerce(1) == 1.0
    assert isinstance(cost.coerce(1), float)
    assert refused(cost, -1) == "setting 'holding_cost': value must be at least 0, got -1"
    assert refused(cost, "cheap").startswith("setting 'holding_cost' must be a number at least 0")
    assert refused(cost, float("inf")) == "setting 'holding_cost' must be a finite number"
    assert refused(cost, float("nan")) == "setting 'holding_cost' must be a finite number"


def test_bool_str_and_list_settings() -> None:
    flag = Setting("open", "bool", False)
    assert flag.coerce(True) is True
    assert refused(flag, 1) == "setting 'open' must be true or false, got 1"
    mode = Setting("mode", "str", "a", choices=("a", "b"))
    assert refused(mode, "c") == "setting 'mode' must be one of a, b, got 'c'"
    demand = Setting("demand_list", "int_list", None, minimum=0, optional=True)
    assert demand.coerce(None) is None
    assert demand.coerce((4, 8.0)) == [4, 8]
    assert refused(demand, []).startswith("setting 'demand_list' must be a non-empty list")
    assert refused(demand, [4, -1]) == "setting 'demand_list': item 1 must be at least 0, got -1"
    assert refused(demand, [4, "8"]) == (
        "setting 'demand_list': item 1 must be a whole number, got '8'"
    )


def test_describe_is_json_ready() -> None:
    spec = Setting("weeks", "int", 36, label="Weeks played", minimum=1, maximum=520)
    assert spec.describe() == {
        "name": "weeks",
        "kind": "int",
        "default": 36,
        "label": "Weeks played",
        "help": "",
        "minimum": 1,
        "maximum": 520,
    }


class Tiny(Game):
    """The smallest game: one role counts up; for the contract's defaults."""

    name = "tiny"
    title = "Tiny"
    settings_spec = (Setting("rounds", "int", 3, minimum=1, maximum=10),)

    def roles(self, settings: Mapping[str, Any]) -> list[str]:
        return ["solo"]

    def initial_state(self, settings: Mapping[str, Any], seed: int) -> State:
        return {"schema": 1, "round": 0, "rounds": settings["rounds"], "total": 0}

    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        require_roles(decisions, ["solo"])
        total = state["total"] + decisions["solo"]["add"]
        return {**state, "round": state["round"] + 1, "total": total}

    def validate_decision(self, state: State, role: str, raw: Any) -> Decision:
        return whole_number_decision(raw, "add", 0, 5)

    def default_decision(self, state: State, role: str) -> Decision:
        return {"add": 0}

    def is_over(self, state: State) -> bool:
        return bool(state["round"] >= state["rounds"])

    def view(self, state: State, role: str) -> View:
        return {"total": state["total"]}

    def facilitator_view(self, state: State) -> View:
        return dict(state)

    def results(self, state: State) -> dict[str, Any]:
        return {"roles": {"solo": {"total": state["total"]}}, "team": {"total": state["total"]}}

    def round_summary(self, state: State) -> dict[str, dict[str, float | int]]:
        return {"solo": {"total": state["total"]}}


def test_validate_settings_fills_defaults_and_refuses_unknown_names() -> None:
    game = Tiny()
    assert game.validate_settings() == {"rounds": 3}
    assert game.validate_settings({"rounds": 5}) == {"rounds": 5}
    with pytest.raises(
        InvalidSettings, match="unknown setting 'round' for tiny; known settings: rounds"
    ):
        game.validate_settings({"round": 5})


def test_contract_defaults() -> None:
    game = Tiny()
    state = game.initial_state(game.validate_settings(), 0)
    assert game.current_round(state) == 0
    assert game.total_rounds(state) is None
    assert game.announced_rounds(state) is None
    assert dict(game.policies()) == {}
    assert game.round_label == "round"
    assert game.headline == ""
    assert game.describe_settings()[0]["name"] == "rounds"


def test_require_roles_names_missing_and_unknown() -> None:
    with pytest.raises(ValueError, match=r"missing \['solo'\], unknown \['other'\]"):
        require_roles({"other": {}}, ["solo"])


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        ({"add": -3}, "-3"),
        ({"add": 6}, "6"),
        ({"add": "2"}, "'2'"),
        ({"add": 2.5}, "2.5"),
        ({"add": True}, "True"),
        ({"add": None}, "None"),
        ({}, "no add"),
        ({"add": 1, "note": "hi"}, "extra key 'note'"),
        (3, '3 instead of {"add": <number>}'),
    ],
)
def test_whole_number_decision_messages(raw: Any, got: str) -> None:
    with pytest.raises(InvalidDecision) as info:
        whole_number_decision(raw, "add", 0, 5)
    assert str(info.value) == f"add must be a whole number between 0 and 5, got {got}"


def test_whole_number_decision_accepts_whole_floats() -> None:
    assert whole_number_decision({"add": 3.0}, "add", 0, 5) == {"add": 3}
    assert type(whole_number_decision({"add": 3.0}, "add", 0, 5)["add"]) is int


def test_a_game_runs_on_the_event_loop_and_declares_nothing_unless_it_says() -> None:
    """The server reads ``slow_step`` and ``step_timeout`` of every game; the pages read
    ``display``. A game that says nothing is quick, has ten seconds, and declares a round."""
    from gameserver.games import get_game

    for name in ("beer", "fishery"):
        game = get_game(name)
        assert game.slow_step is False and game.step_timeout == 10.0
        assert game.display.describe()["figures"], name
    assert Game.display.describe()["round_word"] == "round"
