"""The Beer Game's whole-team pictures: the facilitator's view (also the debrief) and results.

Kept apart from the rules in :mod:`gameserver.games.beer` because they read every role at once,
which a player's view must never do.

One count of costs. Every cost here, in a player's view, in ``round_summary`` (the CSV) and in
``results`` covers the *weeks played*: the weeks whose orders are placed (``state["round"]``).
The pending week's cost is already known (step 3 comes before the order) and is shown as "cost
this week", but it joins the totals only when that week's round closes, so that every table,
chart and export agrees at every week.

The bullwhip. The debrief says the swing of orders grows up the chain only when it did:
:func:`bullwhip` compares the standard deviation of the factory's orders with the customer
demand's and the retailer's (see :data:`BULLWHIP_FACTOR`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from gameserver.game import State, View

#: The bullwhip shows when the factory's orders vary at least this many times as much as the
#: customer demand (standard deviations over the weeks played), more than the retailer's, and by
#: at least :data:`BULLWHIP_MINIMUM` cases: a flat demand with a factory that once ordered 5 is no
#: bullwhip.
BULLWHIP_FACTOR = 2.0
BULLWHIP_MINIMUM = 1.0


def spread(values: Sequence[float]) -> float:
    """The population standard deviation of ``values`` (0 for none), as the tables show it.

    Whole numbers (orders and demand are) in Python's exact integers, from their sum and the
    sum of their squares: one rounding, in the last division, and half the time of the two
    passes in floats that any other values take. Not ``statistics.pstdev``: it computes in
    exact fractions, 20 times slower, and every game's last round makes this debrief."""
    count = len(values)
    if not count:
        return 0.0
    total = sum(values)
    if type(total) is int:
        squares = sum(map(operator.mul, values, values))
        return math.sqrt((count * squares - total * total) / (count * count))
    mean = math.fsum(values) / count
    return math.sqrt(math.fsum([(value - mean) ** 2 for value in values]) / count)


def bullwhip(state: State, roles: Sequence[str]) -> dict[str, Any]:
    """Whether the orders' swing grew up the chain, with the numbers that say so.

    ``order_std`` holds each role's standard deviation of orders, ``demand_std`` the customer
    demand's (both rounded to a tenth); ``bullwhip`` is true when the factory's (the last role's)
    is at least :data:`BULLWHIP_FACTOR` times the demand's, above the retailer's and at least
    :data:`BULLWHIP_MINIMUM`; ``no_bullwhip`` is its opposite once a week is played (a debrief
    note shows on each). ``demand_constant`` and ``demand_varies`` say whether the customers
    ordered the same every week.
    """
    demand = state["nodes"][roles[0]]["history"]["incoming_order"]
    order_std = {role: spread(state["nodes"][role]["history"]["order"]) for role in roles}
    demand_std = spread(demand)
    top, bottom = order_std[roles[-1]], order_std[roles[0]]
    grew = top >= BULLWHIP_FACTOR * demand_std and top > bottom and top >= BULLWHIP_MINIMUM
    played = bool(demand)
    constant = played and min(demand) == max(demand)
    return {
        "order_std": {role: round(value, 1) for role, value in order_std.items()},
        "demand_std": round(demand_std, 1),
        "bullwhip": played and grew,
        "no_bullwhip": played and not grew,
        "demand_constant": constant,
        "demand_varies": played and not constant,
    }


def role_figures(node: Mapping[str, Any]) -> dict[str, Any]:
    """One role's figures of the week being decided (the last week once over), its cost of the
    weeks played, supply line and history: what its player sees, and one row of the
    facilitator's view."""
    return {
        **role_numbers(node),
        "history": {figure: values.copy() for figure, values in node["history"].items()},
    }


def role_numbers(node: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`role_figures` but the history. ``BeerGame.view_update`` writes the same figures
    out in its set (a call and a merge fewer, four times a round): change both together (the
    tests that rebuild every view from the updates fail if they differ)."""
    now = node["now"]
    return {
        "incoming_order": now["incoming_order"],
        "received": now["received"],
        "shipped": now["shipped"],
        "inventory": node["inventory"],
        "backlog": node["backlog"],
        "cost": now["cost"],
        # the weeks played, as results and the round summaries count them (module docstring)
        "total_cost": node["cost_total"],
        "supply_line": node["supply_line"],
    }


def facilitator_view(state: State, roles: Sequence[str], over: bool) -> View:
    """Everything: every role's figures and history, the demand, the team's cost per week."""
    settings = state["settings"]
    played = state["round"]
    week = played if over else played + 1
    # Each week's costs added in the roles' order, from 0.0: a week's sum, not a loop over
    # every week of every role (the last round makes this for every game that ends).
    costs = [state["nodes"][role]["history"]["cost"] for role in roles]
    team_per_week = [sum(paid, 0.0) for paid in zip(*costs, strict=True)]
    out: dict[str, Any] = {}
    for role in roles:
        node = state["nodes"][role]
        out[role] = {
            **role_figures(node),
            # for the factory: production in process and production requests not yet brewed
            "in_transit": sum(node["inbound"]),
            "orders_in_mail": sum(node["mail"]),
        }
    # the weeks played, as the roles' histories: every chart ends on the same week
    demand = list(state["nodes"][roles[0]]["history"]["incoming_order"])
    return {
        "game": state["game"],
        "week": week,
        "weeks": settings["weeks"],
        "weeks_announced": settings["weeks_announced"],
        "over": over,
        "forced": not over and week <= settings["forced_weeks"],
        "settings": {k: list(v) if isinstance(v, list) else v for k, v in settings.items()},
        "demand": demand,
        "roles": out,
        "team_cost": sum(row["total_cost"] for row in out.values()),
        "team_cost_per_week": team_per_week,
        **bullwhip(state, roles),
    }


def results(state: State, roles: Sequence[str]) -> dict[str, Any]:
    """Per-role and team figures over the weeks whose orders are placed."""
    settings = state["settings"]
    holding, backlog_cost = settings["holding_cost"], settings["backlog_cost"]
    out: dict[str, dict[str, float | int]] = {}
    for role in roles:
        node = state["nodes"][role]
        history = node["history"]
        inventory_total = sum(history["inventory"])
        backlog_total = sum(history["backlog"])
        orders = history["order"]
        out[role] = {
            "cost": node["cost_total"],
            "holding_cost": inventory_total * holding,
            "backlog_cost": backlog_total * backlog_cost,
            "inventory_total": inventory_total,
            "backlog_total": backlog_total,
            "peak_inventory": max(history["inventory"], default=0),
            "peak_backlog": max(history["backlog"], default=0),
            "orders_total": sum(orders),
            "received_total": sum(history["received"]),
            "shipped_total": sum(history["shipped"]),
            # the spread of orders, against the demand's: the bullwhip the debrief is about
            "order_std": spread(orders),
        }
    demand = state["nodes"][roles[0]]["history"]["incoming_order"]
    team = {
        "cost": sum(row["cost"] for row in out.values()),
        "holding_cost": sum(row["holding_cost"] for row in out.values()),
        "backlog_cost": sum(row["backlog_cost"] for row in out.values()),
        "weeks_played": state["round"],
        "demand_total": sum(demand),
        "demand_std": spread(demand),
    }
    return {"roles": out, "team": team}
