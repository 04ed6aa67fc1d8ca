"""Counters for ``/metrics`` (Prometheus text format) and the benchmark."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

#: Upper bounds in seconds of the buckets of ``gameserver_round_seconds``: fine where a round's
#: players wait while the server is loaded (a few ms to tens of ms), coarse above.
ROUND_BUCKETS = (
    0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04,
    0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


@dataclass
class Metrics:
    decisions: int = 0
    rounds: int = 0
    created: int = 0
    evicted: int = 0
    loaded_on_access: int = 0
    restored: int = 0
    restore_seconds: float = 0.0
    connections: int = 0
    connections_total: int = 0
    dropped_slow: int = 0
    errors_sent: int = 0
    #: Recent save latencies in seconds (decisions and rounds), for the quantiles.
    saves: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    #: Rounds by how long their players waited for them (:meth:`observe_round`): a count per
    #: bucket of :data:`ROUND_BUCKETS` and one for longer, and their sum in seconds.
    round_waits: list[int] = field(default_factory=lambda: [0] * (len(ROUND_BUCKETS) + 1))
    round_wait_sum: float = 0.0
    _rate_mark: tuple[float, int, int] = field(default_factory=lambda: (time.monotonic(), 0, 0))

    def observe_save(self, seconds: float) -> None:
        self.saves.append(seconds)

    def observe_round(self, seconds: float) -> None:
        """A round's views were made ``seconds`` after the round closed."""
        self.round_waits[bisect_left(ROUND_BUCKETS, seconds)] += 1
        self.round_wait_sum += seconds

    def rates(self) -> tuple[float, float]:
        """Decisions and rounds per second since the previous call."""
        now = time.monotonic()
        then, decisions, rounds = self._rate_mark
        self._rate_mark = (now, self.decisions, self.rounds)
        elapsed = max(now - then, 1e-9)
        return (self.decisions - decisions) / elapsed, (self.rounds - rounds) / elapsed

    def save_quantiles(self) -> dict[str, float]:
        values = sorted(self.saves)
        if not values:
            return {}
        return {
            q: values[min(len(values) - 1, int(float(q) * len(values)))] for q in ("0.5", "0.99")
        }

    def prometheus(self, *, games_in_memory: int, in_progress: int, heap_trims: int = 0) -> str:
        decisions_rate, rounds_rate = self.rates()
        lines = [
            "# HELP gameserver_games_in_memory Games loaded in memory.",
            "# TYPE gameserver_games_in_memory gauge",
            f"gameserver_games_in_memory {games_in_memory}",
            "# TYPE gameserver_games_in_progress gauge",
            f"gameserver_games_in_progress {in_progress}",
            "# TYPE gameserver_connections gauge",
            f"gameserver_connections {self.connections}",
            "# TYPE gameserver_decisions_total counter",
            f"gameserver_decisions_total {self.decisions}",
            "# TYPE gameserver_rounds_total counter",
            f"gameserver_rounds_total {self.rounds}",
            "# HELP gameserver_decisions_per_second Since the previous scrape.",
            "# TYPE gameserver_decisions_per_second gauge",
            f"gameserver_decisions_per_second {decisions_rate:.1f}",
            "# TYPE gameserver_rounds_per_second gauge",
            f"gameserver_rounds_per_second {rounds_rate:.1f}",
            "# TYPE gameserver_games_created_total counter",
            f"gameserver_games_created_total {self.created}",
            "# TYPE gameserver_games_evicted_total counter",
            f"gameserver_games_evicted_total {self.evicted}",
            "# TYPE gameserver_games_loaded_on_access_total counter",
            f"gameserver_games_loaded_on_access_total {self.loaded_on_access}",
            "# TYPE gameserver_games_restored gauge",
            f"gameserver_games_restored {self.restored}",
            "# TYPE gameserver_restore_seconds gauge",
            f"gameserver_restore_seconds {self.restore_seconds:.6f}",
            "# TYPE gameserver_clients_dropped_slow_total counter",
            f"gameserver_clients_dropped_slow_total {self.dropped_slow}",
            "# HELP gameserver_heap_trims_total Times freed memory was given back to the system.",
            "# TYPE gameserver_heap_trims_total counter",
            f"gameserver_heap_trims_total {heap_trims}",
            "# HELP gameserver_save_seconds Latency of durable saves (recent window).",
            "# TYPE gameserver_save_seconds summary",
        ]
        for q, value in self.save_quantiles().items():
            lines.append(f'gameserver_save_seconds{{quantile="{q}"}} {value:.6f}')
        lines.append(f"gameserver_save_seconds_count {len(self.saves)}")
        lines += [
            "# HELP gameserver_round_seconds From the decision that completed a round (or its"
            " deadline, or the facilitator's close) to its views made (sent at once).",
            "# TYPE gameserver_round_seconds histogram",
        ]
        total = 0
        for bound, count in zip(ROUND_BUCKETS, self.round_waits, strict=False):
            total += count
            lines.append(f'gameserver_round_seconds_bucket{{le="{bound:g}"}} {total}')
        total += self.round_waits[-1]
        lines.append(f'gameserver_round_seconds_bucket{{le="+Inf"}} {total}')
        lines.append(f"gameserver_round_seconds_sum {self.round_wait_sum:.6f}")
        lines.append(f"gameserver_round_seconds_count {total}")
        return "\n".join(lines) + "\n"
