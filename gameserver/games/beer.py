"""The Beer Distribution Game, as J. D. Sterman ran it (Management Science 35(3), 1989).

Four roles, downstream to upstream: retailer, wholesaler, distributor, factory. Customers order
from the retailer, each role orders from the next one up, and the factory orders production from
a brewery without limits. Every number below is a setting with this default (see ``SETTINGS``).

One week, in order (the board game's steps; all four roles move together):

1. Receive: the goods in the shipping slot nearest each role enter its inventory, every slot
   moves one step (the factory's production slots too).
2. Fill: each role reads its incoming order (the retailer's is the customer demand) and ships its
   backlog plus that order as far as inventory allows; the rest is added to backlog. What is
   shipped enters the customer's shipping delay.
3. Record: inventory and backlog are counted; cost accrues ($0.50 per case held, $1.00 per case
   on backlog, per week).
4. Orders in the mail move one step; the brewery brews the factory's oldest production request.
5. Decide: every role places its order.

Delays: an order placed at the end of week t is read by the supplier in week t + 2 (order delay);
goods shipped in week t arrive at the start of week t + 2 (shipping delay); a production request
placed in week t is brewed in week t + 1 and spends 2 weeks in production (production delay). So
an order placed in week t arrives at the start of week t + 4, the factory's in week t + 3.

Start: 12 cases in every inventory, no backlog, 4 cases in every shipping and production slot,
an order of 4 in every order slot. Demand: 4 a week, 8 from week 5 (or a list, see
``demand_list``). 36 weeks are played and 50 announced. During the first ``forced_weeks`` weeks
(default 0; 4 in Sterman's benchmark) every order is ``forced_order`` (4), whatever was sent.

How a round maps onto the weeks: ``state["round"]`` counts the weeks whose orders are placed. The
state already holds steps 1 to 4 of the next week (the "pending" week), because a player must see
that week's incoming order and deliveries before ordering. ``step`` records the orders (step 5),
then plays steps 1 to 4 of the week after, unless the game is over.

Decisions are ``{"order": n}``, a whole number from 0 to ``max_order``. A role that sends nothing
repeats its last order (the initial order, 4, in week 1): the least surprising stand-in for a
player who dropped out, keeping goods flowing at the rate that player chose, where 0 would starve
the chain. In forced weeks the default is the forced order.

State layout (plain JSON)::

    {"schema": 1, "game": "beer", "round": r, "seed": n, "settings": {...},
     "nodes": {role: {"inventory": int, "backlog": int,
                      "inbound": [int, ...],   # goods on the way in, nearest first
                      "mail": [int, ...],      # orders not yet read by the supplier, oldest first
                      "supply_line": int,      # ordered and not yet received
                      "cost_total": float,     # cost of the weeks whose order is placed
                      "now": {"incoming_order", "received", "shipped", "cost"},  # pending week
                      "history": {figure: [one value per week played]}}}}

The factory's ``inbound`` is its production delay and its ``mail`` its production requests.
"""

from __future__ import annotations

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
    whole_number_decision,
)
from gameserver.games import beer_policies
from gameserver.games.beer_report import facilitator_view, results, role_numbers

ROLES = ("retailer", "wholesaler", "distributor", "factory")
#: Who each role ships to and orders from.
_CUSTOMER = dict(zip(ROLES, ("customers", *ROLES[:-1]), strict=True))
_SUPPLIER = dict(zip(ROLES, (*ROLES[1:], "brewery"), strict=True))
#: The figures recorded for every role and week, in the order tables show them.
FIGURES = ("incoming_order", "received", "shipped", "inventory", "backlog", "order", "cost")

_BIG = 1_000_000

#: One float object per weekly cost seen, shared by the histories of every game in memory (a
#: cost is a few multiples of $0.50, and each week's would otherwise be its own 24-byte object,
#: 144 a game at week 36). Bounded: past this many values a cost keeps its own object.
_COSTS: dict[float, float] = {}
_COSTS_KEPT = 4096

SETTINGS = (
    Setting("weeks", "int", 36, "Weeks played", minimum=1, maximum=520),
    Setting(
        "weeks_announced",
        "int",
        50,
        "Weeks announced",
        "What players are told, so that they do not play for the end.",
        minimum=1,
        maximum=1000,
    ),
    Setting(
        "forced_weeks",
        "int",
        0,
        "Forced weeks",
        "During the first weeks every order is the forced order.",
        minimum=0,
        maximum=520,
    ),
    Setting("forced_order", "int", 4, "Forced order", minimum=0, maximum=_BIG),
    Setting("max_order", "int", 10000, "Largest order", minimum=1, maximum=_BIG),
    Setting("order_delay", "int", 2, "Order delay (weeks)", minimum=1, maximum=12),
    Setting("shipping_delay", "int", 2, "Shipping delay (weeks)", minimum=1, maximum=12),
    Setting("production_delay", "int", 2, "Production delay (weeks)", minimum=1, maximum=12),
    Setting("initial_inventory", "int", 12, "Initial inventory", minimum=0, maximum=_BIG),
    Setting("initial_backlog", "int", 0, "Initial backlog", minimum=0, maximum=_BIG),
    Setting(
        "initial_pipeline",
        "int",
        4,
        "Cases in each shipping and production slot at the start",
        minimum=0,
        maximum=_BIG,
    ),
    Setting(
        "initial_order", "int", 4, "Order in each order slot at the start", minimum=0, maximum=_BIG
    ),
    Setting("demand_initial", "int", 4, "Demand before the step", minimum=0, maximum=_BIG),
    Setting("demand_step_week", "int", 5, "First week of the new demand", minimum=1, maximum=1000),
    Setting("demand_after", "int", 8, "Demand from the step on", minimum=0, maximum=_BIG),
    Setting(
        "demand_list",
        "int_list",
        None,
        "Weekly demand",
        "Demand week by week; overrides the step pattern; its last value repeats.",
        minimum=0,
        maximum=_BIG,
        optional=True,
    ),
    Setting("holding_cost", "float", 0.5, "Cost per case held per week", minimum=0, maximum=_BIG),
    Setting(
        "backlog_cost", "float", 1.0, "Cost per case on backlog per week", minimum=0, maximum=_BIG
    ),
)


#: What the pages show: the board game's figures, one order a week, the bullwhip debrief.
DISPLAY = Display(
    round_word="week",
    figures=(
        Figure("incoming_order", "Incoming order", "cases"),
        Figure("received", "Received", "cases"),
        Figure("shipped", "Shipped", "cases"),
        Figure("inventory", "Inventory", "cases"),
        Figure("backlog", "Backlog", "cases"),
        Figure("supply_line", "On order, not yet received", "cases"),
        Figure("last_order", "Your last order", "cases"),
        Figure("cost", "Cost this week", format="money"),
        Figure("total_cost", "Total cost of the weeks played", format="money"),
    ),
    decisions=(
        DecisionInput("order", "Your order (cases)", "cases", maximum_from="max_order", default=4),
    ),
    notes=(Note("This week every order is {forced_order}, whatever you enter.", "forced"),),
    charts=(
        Chart(
            "Orders",
            (
                Series("history.order", "Your orders"),
                Series("history.incoming_order", "Incoming orders"),
            ),
            unit="cases",
        ),
        Chart(
            "Inventory and backlog",
            (Series("history.inventory", "Inventory"), Series("history.backlog", "Backlog")),
            unit="cases",
        ),
        Chart("Cost per week", (Series("history.cost", "Cost"),)),
    ),
    debrief=Debrief(
        roles_at="roles",
        score="total_cost",
        team_score="team_cost",
        charts=(
            Chart("Orders placed", (Series("demand", "Customer demand"),), "history.order"),
            Chart("Inventory (cases in stock)", per_role="history.inventory"),
            Chart("Backlog (cases owed)", per_role="history.backlog"),
        ),
        columns=(
            Column("total_cost", "Total cost", "money"),
            Column("history.order", "Orders: lowest to highest", stat="range"),
            Column("history.order", "Order std", stat="std"),
        ),
        lead=(
            Note("Customers ordered {demand|first} cases every week.", "demand_constant"),
            Note(
                "Customers ordered between {demand|min} and {demand|max} cases a week.",
                "demand_varies",
            ),
            Note(
                "Compare how far each role's orders swung, in the table: the swing grows up the "
                "chain, from a standard deviation of {demand_std} cases in the demand and "
                "{order_std.retailer} at the retailer to {order_std.factory} at the factory. "
                "That is the bullwhip effect.",
                "bullwhip",
            ),
            Note(
                "The orders' swing did not grow up the chain this time: a standard deviation of "
                "{demand_std} cases in the demand, {order_std.retailer} at the retailer and "
                "{order_std.factory} at the factory. No bullwhip.",
                "no_bullwhip",
            ),
        ),
        decisions="history.order",
        per_round="history.cost",
    ),
    score=Score("Cost", "money", "lower"),
    briefing="Keep enough beer in stock to fill your orders at the lowest cost: $0.50 a week "
    "per case in stock, $1.00 per case on backlog. Orders take two weeks to reach your supplier "
    "and goods two weeks to reach you.",
    role_briefings={
        "retailer": "You ship to your customers and order from the wholesaler.",
        "wholesaler": "You ship to the retailer and order from the distributor.",
        "distributor": "You ship to the wholesaler and order from the factory.",
        "factory": "You ship to the distributor and order from the brewery.",
    },
)


def demand_in_week(settings: Mapping[str, Any], week: int) -> int:
    """Customer demand in ``week`` (1-based) under these settings."""
    listed = settings["demand_list"]
    if listed:
        return int(listed[min(week, len(listed)) - 1])
    if week < settings["demand_step_week"]:
        return int(settings["demand_initial"])
    return int(settings["demand_after"])


class BeerGame(Game):
    """The Beer Distribution Game; see the module docstring for the rules."""

    name = "beer"
    title = "The Beer Distribution Game"
    STATE_SCHEMA = 1
    settings_spec = SETTINGS
    round_label = "week"
    headline = "cost"
    display = DISPLAY

    def validate_settings(self, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
        settings = super().validate_settings(raw)
        weeks = settings["weeks"]
        if settings["weeks_announced"] < weeks:
            raise InvalidSettings(
                f"setting 'weeks_announced' must be at least weeks ({weeks}), "
                f"got {settings['weeks_announced']}"
            )
        for name in ("forced_order", "initial_order"):
            if settings[name] > settings["max_order"]:
                raise InvalidSettings(
                    f"setting {name!r} must be at most max_order ({settings['max_order']}), "
                    f"got {settings[name]}"
                )
        if settings["initial_inventory"] and settings["initial_backlog"]:
            raise InvalidSettings(
                "settings 'initial_inventory' and 'initial_backlog' cannot both be above 0: "
                "a role with cases in stock ships its backlog"
            )
        return settings

    def roles(self, settings: Mapping[str, Any]) -> list[str]:
        return list(ROLES)

    def policies(self) -> Mapping[str, PolicySpec]:
        return beer_policies.POLICIES

    # -- rules ----------------------------------------------------------------------------

    def initial_state(self, settings: Mapping[str, Any], seed: int) -> State:
        settings = self.validate_settings(settings)
        goods, order = settings["initial_pipeline"], settings["initial_order"]
        backlog = settings["initial_backlog"]
        nodes: dict[str, dict[str, Any]] = {}
        for role in ROLES:
            if role == "factory":
                inbound = [goods] * settings["production_delay"]
                mail = [order]  # one production request, brewed in week 1
                supply_line = order + sum(inbound)
            else:
                inbound = [goods] * settings["shipping_delay"]
                mail = [order] * settings["order_delay"]
                # the supplier's initial backlog is owed to this role
                supply_line = sum(mail) + sum(inbound) + backlog
            nodes[role] = {
                "inventory": settings["initial_inventory"],
                "backlog": backlog,
                "inbound": inbound,
                "mail": mail,
                "supply_line": supply_line,
                "cost_total": 0.0,
                "now": {},
                "history": {figure: [] for figure in FIGURES},
            }
        _play_week(nodes, settings, 1)
        return {
            "schema": self.STATE_SCHEMA,
            "game": self.name,
            "round": 0,
            "seed": int(seed),
            "settings": settings,
            "nodes": nodes,
        }

    def step(self, state: State, decisions: Mapping[str, Decision]) -> State:
        require_roles(decisions, ROLES)
        settings = state["settings"]
        week = state["round"] + 1
        if week > settings["weeks"]:
            raise ValueError(f"the game is over after {settings['weeks']} weeks")
        forced = week <= settings["forced_weeks"]
        nodes = {}
        for role in ROLES:
            order = settings["forced_order"] if forced else int(decisions[role]["order"])
            nodes[role] = _placed(state["nodes"][role], order)
        if week < settings["weeks"]:
            _play_week(nodes, settings, week + 1)
        return {**state, "round": week, "nodes": nodes}

    def validate_decision(self, state: State, role: str, raw: Any) -> Decision:
        if role not in ROLES:
            raise InvalidDecision(f"no role {role!r} in the Beer Game; roles: {', '.join(ROLES)}")
        limit = state["settings"]["max_order"]
        # The usual decision, checked in place (every decision a server takes); the helper
        # reads any other and says what is wrong with it.
        if type(raw) is dict and len(raw) == 1:
            order = raw.get("order")
            if type(order) is int and 0 <= order <= limit:
                return {"order": order}
        return whole_number_decision(raw, "order", 0, limit)

    def default_decision(self, state: State, role: str) -> Decision:
        settings = state["settings"]
        if state["round"] < settings["forced_weeks"]:
            return {"order": settings["forced_order"]}
        orders = state["nodes"][role]["history"]["order"]
        return {"order": orders[-1] if orders else settings["initial_order"]}

    def is_over(self, state: State) -> bool:
        return bool(state["round"] >= state["settings"]["weeks"])

    def total_rounds(self, state: State) -> int | None:
        return int(state["settings"]["weeks"])

    def announced_rounds(self, state: State) -> int | None:
        return int(state["settings"]["weeks_announced"])

    # -- what people see ------------------------------------------------------------------

    def view(self, state: State, role: str) -> View:
        """This role's own figures: the pending week's at the top, past weeks in ``history``.

        Reads nothing but the role's own node and the public rules, so it cannot leak another
        role's numbers; the customer demand reaches only the retailer, as its incoming order.
        Once the game is over it adds ``debrief``, the facilitator's view of everything.
        """
        view = self._numbers(state, role)
        history = state["nodes"][role]["history"]
        view["history"] = {figure: values.copy() for figure, values in history.items()}
        if view["over"]:
            view["debrief"] = self.debrief(state)
        return view

    def view_update(self, state: State, role: str) -> ViewUpdate | None:
        """The figures that change from week to week (not the rules, costs and neighbours, fixed
        when the game is made), and the week just played appended to each history list; the
        whole view (None) for the round that ends the game, which brings the debrief."""
        played = state["round"]
        if played == 0 or played >= state["settings"]["weeks"]:
            return None
        node = state["nodes"][role]
        history, now = node["history"], node["now"]
        orders = history["order"]
        # Spelled out, as ``_weekly`` of a game not over and ``role_numbers`` would make the set
        # and figure by figure in FIGURES' order (as in ``_placed``): four times a round, and the
        # calls and the merge were a third of its time. Its tests rebuild every view from them.
        return {
            "set": {
                "week": played + 1,
                "over": False,
                "forced": played < state["settings"]["forced_weeks"],
                "incoming_order": now["incoming_order"],
                "received": now["received"],
                "shipped": now["shipped"],
                "inventory": node["inventory"],
                "backlog": node["backlog"],
                "cost": now["cost"],
                "total_cost": node["cost_total"],
                "supply_line": node["supply_line"],
                "last_order": orders[-1] if orders else None,
            },
            "extend": {
                "history": {
                    "incoming_order": history["incoming_order"][-1:],
                    "received": history["received"][-1:],
                    "shipped": history["shipped"][-1:],
                    "inventory": history["inventory"][-1:],
                    "backlog": history["backlog"][-1:],
                    "order": orders[-1:],
                    "cost": history["cost"][-1:],
                }
            },
        }

    def _numbers(self, state: State, role: str) -> View:
        """The view but its history and debrief."""
        settings = state["settings"]
        return {
            "game": self.name,
            "role": role,
            "customer": _CUSTOMER[role],
            "supplier": _SUPPLIER[role],
            "weeks_announced": settings["weeks_announced"],
            "forced_order": settings["forced_order"],
            "max_order": settings["max_order"],
            "holding_cost": settings["holding_cost"],
            "backlog_cost": settings["backlog_cost"],
            **self._weekly(state, state["nodes"][role], self.is_over(state)),
        }

    def _weekly(self, state: State, node: Mapping[str, Any], over: bool) -> View:
        """The figures of the view that change from week to week: of ``node``, a role's, in
        ``state``; ``over``: whether the game is."""
        week = state["round"] if over else state["round"] + 1
        orders = node["history"]["order"]
        return {
            "week": week,
            "over": over,
            "forced": not over and week <= state["settings"]["forced_weeks"],
            **role_numbers(node),
            "last_order": orders[-1] if orders else None,
        }

    def facilitator_view(self, state: State) -> View:
        return facilitator_view(state, ROLES, self.is_over(state))

    def results(self, state: State) -> dict[str, Any]:
        return results(state, ROLES)

    def round_summary(self, state: State) -> dict[str, dict[str, float | int]]:
        if state["round"] == 0:
            return {}
        summary: dict[str, dict[str, float | int]] = {}
        for role in ROLES:
            node = state["nodes"][role]
            history = node["history"]
            summary[role] = {
                "incoming_order": history["incoming_order"][-1],
                "received": history["received"][-1],
                "shipped": history["shipped"][-1],
                "inventory": history["inventory"][-1],
                "backlog": history["backlog"][-1],
                "order": history["order"][-1],
                "cost": history["cost"][-1],
                "cumulative_cost": node["cost_total"],
            }
        return summary


def _placed(old: Mapping[str, Any], order: int) -> dict[str, Any]:
    """A copy of ``old`` (never mutated) with the pending week recorded and ``order`` placed."""
    now, history = old["now"], old["history"]
    # Spelled out, figure by figure in FIGURES' order, rather than a loop over FIGURES: this
    # runs four times a round, and the loop and its lookups were half its time.
    return {
        "inventory": old["inventory"],
        "backlog": old["backlog"],
        "inbound": list(old["inbound"]),
        "mail": [*old["mail"], order],
        "supply_line": old["supply_line"] + order,
        "cost_total": old["cost_total"] + now["cost"],
        # Shared, not copied: ``_play_week`` gives a new state's node a new dict, never
        # changes one in place.
        "now": now,
        "history": {
            "incoming_order": [*history["incoming_order"], now["incoming_order"]],
            "received": [*history["received"], now["received"]],
            "shipped": [*history["shipped"], now["shipped"]],
            "inventory": [*history["inventory"], old["inventory"]],
            "backlog": [*history["backlog"], old["backlog"]],
            "order": [*history["order"], order],
            "cost": [*history["cost"], now["cost"]],
        },
    }


def _shared_cost(cost: float) -> float:
    """``cost`` itself or an equal float already in ``_COSTS``. Zero is left as it is: 0.0 and
    -0.0 are equal keys but encode differently, and a game must encode the same in every
    process whatever other games ran before it."""
    if cost > 0:
        shared = _COSTS.get(cost)
        if shared is not None:
            return shared
        if len(_COSTS) < _COSTS_KEPT:
            _COSTS[cost] = cost
    return cost


def _play_week(nodes: dict[str, dict[str, Any]], settings: Mapping[str, Any], week: int) -> None:
    """Steps 1 to 4 of ``week``, in place on ``nodes`` (fresh copies owned by the new state).

    One pass down the chain: a role receives (step 1) before its supplier, the next role, ships
    into its inbound (step 2), as when every role receives first."""
    holding, backlog_cost = settings["holding_cost"], settings["backlog_cost"]
    customer: dict[str, Any] | None = None
    for role in ROLES:
        node = nodes[role]
        received = node["inbound"].pop(0)
        inventory = node["inventory"] + received
        node["supply_line"] -= received
        incoming = demand_in_week(settings, week) if customer is None else customer["mail"].pop(0)
        owed = node["backlog"] + incoming
        shipped = min(owed, inventory)
        inventory -= shipped
        backlog = owed - shipped
        node["inventory"], node["backlog"] = inventory, backlog
        if customer is not None:
            customer["inbound"].append(shipped)
        node["now"] = {
            "received": received,
            "incoming_order": incoming,
            "shipped": shipped,
            "cost": _shared_cost(inventory * holding + backlog * backlog_cost),
        }
        customer = node
    factory = nodes["factory"]
    factory["inbound"].append(factory["mail"].pop(0))
