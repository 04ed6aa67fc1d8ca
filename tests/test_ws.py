from __future__ import annotations

import time

from gameserver.server.endpoint import RateLimiter


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5)
    assert all(limiter.allow() for _ in range(5))
    assert not limiter.allow()
    limiter.stamp -= 0.35  # as if 0.35 s passed: 3 more messages
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    assert limiter.stamp <= time.monotonic()
