"""Fishery policies: pure functions from one fleet's view to its number of boats.

``target-stock`` aims to keep the (estimated) stock at a share of capacity: the fleets together
should take the regrowth at the target plus any surplus above it, and this fleet takes its equal
share, converted to boats at this round's catch per boat. It uses only public numbers (the
estimate and the rules), so it is what a thoughtful, trusting captain could do. The default
target, 0.6 of capacity, lies above the stock that grows fastest (0.5): a little less fish is
taken each round, but each boat catches more, and income over 15 rounds is higher.

Every parameter's range is declared with its policy in :data:`POLICIES` and checked by
:func:`gameserver.games.make_policy` before a policy is built; the functions here trust theirs.
"""

from __future__ import annotations

from gameserver.game import Decision, Policy, PolicySpec, View, round_half_up
from gameserver.games import chance


def _boats(view: View, boats: float) -> Decision:
    return {"boats": max(0, min(int(view["max_boats"]), round_half_up(boats)))}


def target_stock(target: float = 0.6) -> Policy:
    """Keep the stock near ``target`` times capacity, sharing the allowed catch equally."""

    def policy(view: View) -> Decision:
        rules = view["rules"]
        capacity = rules["capacity"]
        estimate = view["stock_estimate"]
        aim = target * capacity
        regrowth = rules["growth_rate"] * aim * (1 - aim / capacity)
        allowed = max(0.0, regrowth + estimate - aim) / rules["players"]
        per_boat = rules["catch_per_boat"] * estimate / capacity
        return _boats(view, allowed / per_boat if per_boat > 0 else 0)

    return policy


def greedy() -> Policy:
    """Send every boat, every round."""

    def policy(view: View) -> Decision:
        return {"boats": int(view["max_boats"])}

    return policy


def fixed(boats: int = 8) -> Policy:
    """Send the same number of boats every round (capped at the fleet's size)."""

    def policy(view: View) -> Decision:
        return _boats(view, boats)

    return policy


def random_boats(seed: int = 0) -> Policy:
    """A uniform number of boats in ``0..max_boats``, determined by seed, fleet and round."""

    def policy(view: View) -> Decision:
        top = int(view["max_boats"])
        return {"boats": chance.integer(seed, 0, top, "fishery", view["role"], view["round"])}

    return policy


#: The most boats any fishery allows a fleet (its ``max_boats`` setting's maximum; a test keeps
#: the two equal).
MAX_BOATS = 10_000
#: Seeds: what a game's seed may be (a whole number a browser's JSON keeps exactly).
_SEED = (0, 2**53 - 1)

#: The first is the simulator's default.
POLICIES: dict[str, PolicySpec] = {
    spec.name: spec
    for spec in (
        PolicySpec(
            "target-stock",
            "Keep the estimated stock near target * capacity; take an equal share of the rest.",
            target_stock,
            {"target": 0.6},
            # A share of capacity; below a hundredth the "target" is an empty sea.
            {"target": (0.01, 1.0)},
        ),
        PolicySpec("greedy", "Send every boat, every round.", greedy),
        PolicySpec(
            "fixed",
            "Send the same number of boats every round.",
            fixed,
            {"boats": 8},
            {"boats": (0, MAX_BOATS)},
        ),
        PolicySpec(
            "random",
            "A uniform number of boats, determined by seed, fleet and round.",
            random_boats,
            {"seed": 0},
            {"seed": _SEED},
        ),
    )
}
