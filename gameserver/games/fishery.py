"""A commons fishery in the spirit of Dennis Meadows' Fish Banks: a shared stock, private boats.

Between 2 and 8 fleets (``players``, default 4; roles ``fleet-1`` .. ``fleet-N``) fish one stock.
Each round every fleet decides how many boats to send out, 0 to ``max_boats`` (20). Every number
below is a setting with this default.

One round, in order:

1. Catch. Each boat catches ``catch_per_boat`` (8) fish times the stock's density, stock /
   ``capacity`` (1000): fish are easy to find in a full sea and scarce in an empty one. If the
   boats together would take more than the whole stock, the stock is shared in proportion to
   boats. Catches are whole fish (rounded down).
2. Income. Each fleet earns catch * ``price`` (10) - boats * ``boat_cost`` (25): a boat pays for
   itself only while the density is above 25/80, about a third of capacity.
3. Regrowth. What is left grows logistically: ``growth_rate`` (0.6) * left * (1 - left /
   capacity), times a seeded random factor within +-``regrowth_noise`` (10%), rounded to whole
   fish, never above capacity. Below ``collapse_stock`` (100) the fish are too few to find each
   other and the stock does not grow at all: it has collapsed, and the boats catch next to nothing.
4. Survey. A new stock estimate is published: the true stock times a seeded random factor within
   +-``estimate_error`` (10%).

The game starts with ``initial_stock`` (700) fish and lasts ``rounds`` (15) rounds, announced.

With these numbers the stock grows fastest (150 fish a round) at 500 fish; 4 fleets of about 8
boats each can fish for ever, and earn more than at that level. Sending all 20 boats from every
fleet empties the sea within 3 rounds; a single greedy fleet among restrained ones earns most but
drags the stock down for everyone; 12 boats each erodes it slowly over 15 rounds.

What is public: the rules and numbers above, the number of fleets, and the published estimates
(never the true stock). Each fleet sees its own boats, catch and income, round by round. Other
fleets' numbers, the total catch and the true stock are revealed only when the game is over.

A fleet that sends no decision stays in harbour (0 boats): sending boats costs money, and a
repeated choice of an absent player could empty the sea on its own.

Decisions are ``{"boats": n}``. The randomness comes from ``chance`` draws keyed by the game's
seed and the round, so the state stays plain JSON and replays exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gameserver.display import (
    Chart,
    Column,
    Debrief,
    DecisionInput,
    Display,
    Figure,
    Note,
    Score,
    Series,
)
from gameserver.errors import InvalidDecision, InvalidSettings
from gameserver.game import (
    Decision,
    Game,
    PolicySpec,
    Setting,
    State,
    View,
    ViewUpdate,
    require_roles,
    round_half_up,
    whole_number_decision,
)
from gameserver.games import chance, fishery_policies

_BIG = 1_000_000

SETTINGS = (
    Setting("players", "int", 4, "Fleets", minimum=2, maximum=8),
    Setting("rounds", "int", 15, "Rounds", minimum=1, maximum=200),
    Setting("capacity", "int", 1000, "Most fish the sea holds", minimum=10, maximum=_BIG),
    Setting("initial_stock", "int", 700, "Fish at the start", minimum=0, maximum=_BIG),
    Setting("growth_rate", "float", 0.6, "Growth rate", minimum=0, maximum=1.5),
    Setting(
        "catch_per_boat", "float", 8.0, "Catch per boat in a full sea", minimum=0, maximum=_BIG
    ),
    Setting("price", "float", 10.0, "Price per fish", minimum=0, maximum=_BIG),
    Setting("boat_cost", "float", 25.0, "Cost per boat sent per round", minimum=0, maximum=_BIG),
    Setting("max_boats", "int", 20, "Boats per fleet", minimum=1, maximum=10000),
    Setting(
        "collapse_stock",
        "int",
        100,
        "Collapse level",
        "Below this many fish the stock no longer grows.",
        minimum=0,
        maximum=_BIG,
    ),
    Setting("regrowth_noise", "float", 0.1, "Regrowth randomness (+-)", minimum=0, maximum=0.9),
    Setting("estimate_error", "float", 0.1, "Stock estimate error (+-)", minimum=0, maximum=0.9),
)

#: The settings every fleet is told (everything but the seed-driven draws, which nobody knows).
PUBLIC_RULES = (
    "capacity",
    "growth_rate",
    "catch_per_boat",
    "price",
    "boat_cost",
    "max_boats",
    "collapse_stock",
    "players",
)


#: What the pages show: the public estimate, a fleet's own boats, catch and income.
DISPLAY = Display(
    round_word="round",
    figures=(
        Figure("stock_estimate", "Published fish stock estimate", "fish"),
        Figure("last_boats", "Boats you sent last round", "boats"),
        Figure("total_catch", "Your total catch", "fish"),
        Figure("total_income", "Your total income"),
    ),
    decisions=(DecisionInput("boats", "Boats to send out", "boats", maximum_from="max_boats"),),
    charts=(
        Chart("Your boats and catch", (Series("boats", "Boats"), Series("catch", "Catch"))),
        Chart("Your income per round", (Series("income", "Income"),)),
        Chart(
            "Published stock estimate",
            (Series("stock_estimates", "Estimate"),),
            unit="fish",
            start=0,
        ),
    ),
    debrief=Debrief(
        roles_at="fleets",
        score="total_income",
        team_score="team_income",
        charts=(
            Chart("Boats sent", per_role="boats"),
            Chart("Catch", per_role="catch", unit="fish"),
            Chart("Income per round", per_role="income"),
            Chart(
                "Fish in the sea",
                (Series("stocks", "True stock"), Series("stock_estimates", "Published estimate")),
                unit="fish",
                start=0,
            ),
        ),
        columns=(
            Column("total_income", "Income"),
            Column("total_catch", "Catch"),
            Column("boats", "Boats: lowest to highest", stat="range"),
            Column("boats", "Boats std", stat="std"),
        ),
        lead=(
            Note("The fish stock went from {stocks|first} to {stock} (lowest {stocks|min})."),
            Note("It collapsed: too few fish were left to grow again.", "collapsed"),
        ),
        decisions="boats",
        per_round="income",
    ),
    score=Score("Income", "number", "higher"),
    briefing="Your fleet shares one fish stock with the others. Each boat costs 25 a round; its "
    "catch sells at 10 a fish, and a boat catches more in a full sea than in an empty one. The "
    "fish left after the catch grow again, unless too few are left.",
    role_briefings={"*": "You command {role}; the others' boats stay hidden until the end."},
)


def _estimate(settings: Mapping[str, Any], seed: int, stock: int, played: int) -> int:
    error = settings["estimate_error"] * (2 * chance.uniform(seed, "estimate", played) - 1)
    return max(0, round_half_up(stock * (1 + error)))


def fleet_names(players: int) -> list[str]:
    """The roles of a game with this many fleets: ``fleet-1`` .. ``fleet-N``."""
    return [f"fleet-{n}" for n in range(1, players + 1)]


class FisheryGame(Game):
    """The commons fishery; see the module docstring for the rules."""

    name = "fishery"
    title = "The Fishery (a commons game)"
    STATE_SCHEMA = 1
    settings_spec = SETTINGS
    round_label = "round"
    headline = "income"
    display = DISPLAY

    def validate_settings(self, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
        settings = super().validate_settings(raw)
        for name in ("initial_stock", "collapse_stock"):
            if settings[name] > settings["capacity"]:
                raise InvalidSettings(
                    f"setting {name!r} must be at most capacity ({settings['capacity']}), "
                    f"got {settings[name]}"
                )
        return settings

    def roles(self, settings: Mapping[str, Any]) -> list[str]:
        return fleet_names(int(settings["players"]))

    def policies(self) -> Mapping[str, PolicySpec]:
        return fishery_policies.POLICIES

    # -- rules ----------------------------------------------------------------------------

    def initial_state(self, settings: Mapping[str, Any], seed: int) -> State:
        settings = self.validate_settings(settings)
        stock = settings["initial_stock"]
        empty: dict[str, Any] = {"boats": [], "catch": [], "income": []}
        return {
            "schema": self.STATE_SCHEMA,
            "game": self.name,
            "round": 0,
            "seed": int(seed),
            "settings": settings,
            "stock": stock,
            "estimates": [_estimate(settings, seed, stock, 0)],
            "stocks": [stock],  # the true stock before each round, and after the last
            "fleets": {
                role: {**empty, "total_income": 0.0, "total_catch": 0}
                for role in self.roles(settings)
            },
        }

    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        settings, fleets = state["settings"], state["fleets"]
        require_roles(decisions, list(fleets))
        if self.is_over(state):
            raise ValueError(f"the game is over after {settings['rounds']} rounds")
        stock, capacity = state["stock"], settings["capacity"]
        boats = {role: int(decisions[role]["boats"]) for role in fleets}
        wanted = {
            role: n * settings["catch_per_boat"] * stock / capacity for role, n in boats.items()
        }
        total_wanted = sum(wanted.values())
        if total_wanted > stock:
            # not enough fish for every boat: the stock is shared in proportion to boats
            total_boats = sum(boats.values())
            wanted = {role: stock * n / total_boats for role, n in boats.items()}
        new_fleets = {}
        caught = 0
        for role, fleet in fleets.items():
            catch = min(stock - caught, math.floor(wanted[role]))
            caught += catch
            income = catch * settings["price"] - boats[role] * settings["boat_cost"]
            new_fleets[role] = {
                "boats": [*fleet["boats"], boats[role]],
                "catch": [*fleet["catch"], catch],
                "income": [*fleet["income"], income],
                "total_income": fleet["total_income"] + income,
                "total_catch": fleet["total_catch"] + catch,
            }
        played = state["round"] + 1
        left = stock - caught
        growth = 0
        if left >= settings["collapse_stock"]:
            noise = settings["regrowth_noise"] * (
                2 * chance.uniform(state["seed"], "growth", played) - 1
            )
            logistic = settings["growth_rate"] * left * (1 - left / capacity)
            growth = round_half_up(logistic * (1 + noise))
        new_stock = max(0, min(capacity, left + growth))
        return {
            **state,
            "round": played,
            "stock": new_stock,
            "estimates": [
                *state["estimates"],
                _estimate(settings, state["seed"], new_stock, played),
            ],
            "stocks": [*state["stocks"], new_stock],
            "fleets": new_fleets,
        }

    def validate_decision(self, state: State, role: str, raw: Any) -> Decision:
        if role not in state["fleets"]:
            raise InvalidDecision(
                f"no role {role!r} in this fishery; roles: {', '.join(state['fleets'])}"
            )
        return whole_number_decision(raw, "boats", 0, state["settings"]["max_boats"])

    def default_decision(self, state: State, role: str) -> Decision:
        return {"boats": 0}

    def is_over(self, state: State) -> bool:
        return bool(state["round"] >= state["settings"]["rounds"])

    def total_rounds(self, state: State) -> int | None:
        return int(state["settings"]["rounds"])

    # -- what people see ------------------------------------------------------------------

    def view(self, state: State, role: str) -> View:
        """This fleet's own history and the public estimates; everything once the game is over."""
        view = self._numbers(state, role)
        for key, values in self._histories(state, role).items():
            view[key] = list(values)
        if view["over"]:
            view["debrief"] = self.debrief(state)
        return view

    def view_update(self, state: State, role: str) -> ViewUpdate | None:
        """Every figure of the view, and the round just played appended to each of its lists;
        the whole view (None) for the round that ends the game, which brings the debrief."""
        if state["round"] == 0 or self.is_over(state):
            return None
        lists = self._histories(state, role)
        return {
            "set": self._numbers(state, role),
            "extend": {key: values[-1:] for key, values in lists.items()},
        }

    def _numbers(self, state: State, role: str) -> View:
        """The view but its lists and debrief."""
        settings = state["settings"]
        fleet = state["fleets"][role]
        over = self.is_over(state)
        boats = fleet["boats"]
        return {
            "game": self.name,
            "role": role,
            "round": state["round"] if over else state["round"] + 1,
            "rounds": settings["rounds"],
            "over": over,
            "rules": {name: settings[name] for name in PUBLIC_RULES},
            "max_boats": settings["max_boats"],
            "stock_estimate": state["estimates"][-1],
            "last_boats": boats[-1] if boats else None,
            "total_income": fleet["total_income"],
            "total_catch": fleet["total_catch"],
        }

    @staticmethod
    def _histories(state: State, role: str) -> dict[str, list[Any]]:
        """The view's lists, one entry a round (the estimates one more: before round 1)."""
        fleet = state["fleets"][role]
        return {
            "stock_estimates": state["estimates"],
            "boats": fleet["boats"],
            "catch": fleet["catch"],
            "income": fleet["income"],
        }

    def facilitator_view(self, state: State) -> View:
        settings = state["settings"]
        over = self.is_over(state)
        fleets = state["fleets"]
        return {
            "game": self.name,
            "round": state["round"] if over else state["round"] + 1,
            "rounds": settings["rounds"],
            "over": over,
            "settings": dict(settings),
            "stock": state["stock"],
            "stocks": list(state["stocks"]),
            "stock_estimate": state["estimates"][-1],
            "stock_estimates": list(state["estimates"]),
            "collapsed": state["stock"] < settings["collapse_stock"],
            "total_catch_per_round": [
                sum(f["catch"][i] for f in fleets.values()) for i in range(state["round"])
            ],
            "fleets": {
                role: {
                    "boats": list(f["boats"]),
                    "catch": list(f["catch"]),
                    "income": list(f["income"]),
                    "total_income": f["total_income"],
                    "total_catch": f["total_catch"],
                }
                for role, f in fleets.items()
            },
            "team_income": sum(f["total_income"] for f in fleets.values()),
        }

    def results(self, state: State) -> dict[str, Any]:
        settings = state["settings"]
        roles: dict[str, dict[str, float | int]] = {}
        for role, fleet in state["fleets"].items():
            roles[role] = {
                "income": fleet["total_income"],
                "catch": fleet["total_catch"],
                "boat_rounds": sum(fleet["boats"]),
            }
        team = {
            "income": sum(row["income"] for row in roles.values()),
            "catch": sum(row["catch"] for row in roles.values()),
            "rounds_played": state["round"],
            "final_stock": state["stock"],
            "lowest_stock": min(state["stocks"]),
            "collapsed": int(state["stock"] < settings["collapse_stock"]),
        }
        return {"roles": roles, "team": team}

    def round_summary(self, state: State) -> dict[str, dict[str, float | int]]:
        if state["round"] == 0:
            return {}
        return {
            role: {
                "boats": fleet["boats"][-1],
                "catch": fleet["catch"][-1],
                "income": fleet["income"][-1],
                "total_income": fleet["total_income"],
                "stock_after": state["stock"],
            }
            for role, fleet in state["fleets"].items()
        }
