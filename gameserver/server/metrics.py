"""Counters for ``/metrics`` (Prometheus text format) and the benchmark."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


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
    _rate_mark: tuple[float, int, int] = field(default_factory=lambda: (time.monotonic(), 0, 0))

    def observe_save(self, seconds: float) -> None:
        self.saves.append(seconds)

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
        return "\n".join(lines) + "\n"
