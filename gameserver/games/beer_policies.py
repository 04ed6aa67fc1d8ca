"""Beer Game policies: pure functions from one role's view to its order, for bots and the simulator.

A policy sees exactly what a human in that seat sees (:meth:`BeerGame.view`), never the state, so
a bot cannot cheat. Every policy obeys the forced weeks (it orders the forced order) and keeps
its order within ``0..max_order``.

``sterman`` is Sterman's (1989) anchoring-and-adjustment heuristic, with S the net stock
(inventory - backlog, after step 3) and SL the supply line (ordered, not yet received)::

    L_t = theta * incoming_order_t + (1 - theta) * L_(t-1),   L_0 = 4
    O_t = max(0, L_t + alpha_s * (s_prime - S_t - beta * SL_t))

L is rebuilt from the role's own history of incoming orders in the view, so a policy's order
depends on the view alone. Called again with the same list of incoming orders, grown (a bot's
view, which round updates extend in place), it goes on from the weeks it smoothed before instead
of starting over: the same operations in the same order, so the same float, in O(1) a round
instead of O(weeks) (:class:`_Smoothing`). Orders are rounded to whole cases half up
(``floor(x + 0.5)``).

``benchmark`` is the same rule with Sterman's benchmark parameters (theta 0, alpha_s 1, beta 1,
s_prime 28, or 20 for the factory), played with 4 forced weeks: the team costs $204 over 36
weeks. With these parameters L stays 4 and every term is a whole number, so the orders are whole
before any rounding: the published $204 holds under round-half-up, floor, ceiling or banker's
rounding alike (tests check this), and implies no particular rounding.

Every parameter's range is declared with its policy in :data:`POLICIES` and checked by
:func:`gameserver.games.make_policy` before a policy is built; the functions here trust theirs.
"""

from __future__ import annotations

from gameserver.game import Decision, Policy, PolicySpec, View, round_half_up
from gameserver.games import chance

#: The largest order any Beer Game allows (its ``max_order`` setting's maximum; a test keeps
#: the two equal): no stock target, expectation or order a policy is given needs more.
MAX_CASES = 1_000_000


def _bounded(view: View, order: float) -> Decision:
    """The order as a whole number within the game's limits; the forced order in forced weeks."""
    if view["forced"]:
        return {"order": int(view["forced_order"])}
    return {"order": max(0, min(int(view["max_order"]), int(order)))}


def expected_demand(view: View, theta: float, initial: float = 4.0) -> float:
    """Sterman's L_t: exponential smoothing of this role's incoming orders up to this week."""
    expectation = float(initial)
    for incoming in view["history"]["incoming_order"]:
        expectation = theta * incoming + (1 - theta) * expectation
    return theta * float(view["incoming_order"]) + (1 - theta) * expectation


def anchor_and_adjust(
    view: View,
    theta: float,
    alpha_s: float,
    beta: float,
    s_prime: float,
    initial: float = 4.0,
    expected: float | None = None,
) -> float:
    """Sterman's order before rounding: expected demand (``expected``, if the caller has
    it) plus a share of the stock gap."""
    net_stock = float(view["inventory"] - view["backlog"])
    gap = s_prime - net_stock - beta * float(view["supply_line"])
    if expected is None:
        expected = expected_demand(view, theta, initial)
    return max(0.0, expected + alpha_s * gap)


class _Smoothing:
    """:func:`expected_demand` for one policy, remembering where it got to: the list of
    incoming orders it last smoothed (held, so that no other list can take its id), how many
    of its weeks, and the expectation after them. A call with that same list, grown since
    (round updates only append to it), smooths only the new weeks; any other list starts over."""

    __slots__ = ("done", "initial", "orders", "theta", "value")

    def __init__(self, theta: float, initial: float) -> None:
        self.theta = theta
        self.initial = float(initial)
        self.orders: list[int] | None = None
        self.done = 0
        self.value = self.initial

    def expected(self, view: View) -> float:
        orders: list[int] = view["history"]["incoming_order"]
        theta = self.theta
        if orders is not self.orders or len(orders) < self.done:
            self.orders, self.done, self.value = orders, 0, self.initial
        expectation = self.value
        for incoming in orders[self.done :]:
            expectation = theta * incoming + (1 - theta) * expectation
        self.done, self.value = len(orders), expectation
        return theta * float(view["incoming_order"]) + (1 - theta) * expectation


def pass_through() -> Policy:
    """Order exactly this week's incoming order."""

    def policy(view: View) -> Decision:
        return _bounded(view, view["incoming_order"])

    return policy


def _anchoring(
    theta: float,
    alpha_s: float,
    beta: float,
    s_prime: float,
    s_prime_factory: float,
    initial_expectation: float,
) -> Policy:
    smoothing = _Smoothing(theta, initial_expectation)

    def decide(view: View) -> Decision:
        target = s_prime_factory if view["role"] == "factory" else s_prime
        expected = smoothing.expected(view)
        raw = anchor_and_adjust(view, theta, alpha_s, beta, target, initial_expectation, expected)
        return _bounded(view, round_half_up(raw))

    return decide


def sterman(
    theta: float = 0.36,
    alpha_s: float = 0.26,
    beta: float = 0.34,
    s_prime: float = 17.0,
    initial_expectation: float = 4.0,
) -> Policy:
    """Sterman's anchoring-and-adjustment heuristic; defaults: his subjects' mean estimates."""
    return _anchoring(theta, alpha_s, beta, s_prime, s_prime, initial_expectation)


def benchmark(
    theta: float = 0.0,
    alpha_s: float = 1.0,
    beta: float = 1.0,
    s_prime: float = 28.0,
    s_prime_factory: float = 20.0,
    initial_expectation: float = 4.0,
) -> Policy:
    """Sterman's benchmark: his rule with theta 0, alpha_s 1, beta 1, S' 28, and 20 for the
    factory, whose lead time is a week shorter. Play it with 4 forced weeks for his $204."""
    return _anchoring(theta, alpha_s, beta, s_prime, s_prime_factory, initial_expectation)


def random_orders(seed: int = 0, high: int = 12) -> Policy:
    """Order a whole number drawn uniformly from ``0..high``, the same for the same seed, role
    and week in any process."""

    def policy(view: View) -> Decision:
        return _bounded(view, chance.integer(seed, 0, high, "beer", view["role"], view["week"]))

    return policy


#: Stocks, expectations and orders in cases: up to the largest ``max_order`` a game allows.
_CASES = (0.0, float(MAX_CASES))
#: Shares of a gap or of the last order: Sterman fitted each within 0..1.
_SHARE = (0.0, 1.0)
#: Seeds: what a game's seed may be (a whole number a browser's JSON keeps exactly).
_SEED = (0, 2**53 - 1)

_ANCHORING_RANGES = {
    "theta": _SHARE,
    "alpha_s": _SHARE,
    "beta": _SHARE,
    "s_prime": _CASES,
    "initial_expectation": _CASES,
}

#: The first is the simulator's default.
POLICIES: dict[str, PolicySpec] = {
    spec.name: spec
    for spec in (
        PolicySpec(
            "sterman",
            "Sterman's anchoring-and-adjustment heuristic (defaults: his subjects' means).",
            sterman,
            {
                "theta": 0.36,
                "alpha_s": 0.26,
                "beta": 0.34,
                "s_prime": 17.0,
                "initial_expectation": 4.0,
            },
            _ANCHORING_RANGES,
        ),
        PolicySpec(
            "benchmark",
            "Sterman's benchmark (theta 0, alpha_s 1, beta 1, S' 28, factory 20); "
            "play with 4 forced weeks for his $204.",
            benchmark,
            {
                "theta": 0.0,
                "alpha_s": 1.0,
                "beta": 1.0,
                "s_prime": 28.0,
                "s_prime_factory": 20.0,
                "initial_expectation": 4.0,
            },
            {**_ANCHORING_RANGES, "s_prime_factory": _CASES},
        ),
        PolicySpec("pass-through", "Order exactly this week's incoming order.", pass_through),
        PolicySpec(
            "random",
            "A uniform whole order in 0..high, determined by seed, role and week.",
            random_orders,
            {"seed": 0, "high": 12},
            {"seed": _SEED, "high": (0, MAX_CASES)},
        ),
    )
}
