"""The Beer Game's whole-team pictures: the facilitator's view (also the debrief) and results.

Kept apart from the rules in :mod:`gameserver.games.beer` because they read every role at once,
which a player's view must never do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import pstdev
from typing import Any

from gameserver.game import State, View


def role_figures(node: Mapping[str, Any], over: bool) -> dict[str, Any]:
    """One role's figures of the week being decided (the last week once over), its cost so far,
    supply line and history: what its player sees, and one row of the facilitator's view."""
    now = node["now"]
    return {
        "incoming_order": now["incoming_order"],
        "received": now["received"],
        "shipped": now["shipped"],
        "inventory": node["inventory"],
        "backlog": node["backlog"],
        "cost": now["cost"],
        # the week being decided is already costed (step 3 came before the order)
        "total_cost": node["cost_total"] + (0.0 if over else now["cost"]),
        "supply_line": node["supply_line"],
        "history": {figure: list(values) for figure, values in node["history"].items()},
    }


def facilitator_view(state: State, roles: Sequence[str], over: bool) -> View:
    """Everything: every role's figures and history, the demand, the team's cost per week."""
    settings = state["settings"]
    played = state["round"]
    week = played if over else played + 1
    team_per_week = [0.0] * played
    out: dict[str, Any] = {}
    for role in roles:
        node = state["nodes"][role]
        for index, cost in enumerate(node["history"]["cost"]):
            team_per_week[index] += cost
        out[role] = {
            **role_figures(node, over),
            # for the factory: production in process and production requests not yet brewed
            "in_transit": sum(node["inbound"]),
            "orders_in_mail": sum(node["mail"]),
        }
    demand = list(state["nodes"][roles[0]]["history"]["incoming_order"])
    if not over:
        demand.append(state["nodes"][roles[0]]["now"]["incoming_order"])
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
            "order_std": pstdev(orders) if orders else 0.0,
        }
    demand = state["nodes"][roles[0]]["history"]["incoming_order"]
    team = {
        "cost": sum(row["cost"] for row in out.values()),
        "holding_cost": sum(row["holding_cost"] for row in out.values()),
        "backlog_cost": sum(row["backlog_cost"] for row in out.values()),
        "weeks_played": state["round"],
        "demand_total": sum(demand),
        "demand_std": pstdev(demand) if demand else 0.0,
    }
    return {"roles": out, "team": team}
