"""The round-wait histogram of /metrics, and the bench's reading of it."""

from __future__ import annotations

from gameserver.server.metrics import ROUND_BUCKETS, Metrics
from gameserver.tools.bench import BUCKET_LINE, server_round_ms


def buckets(metrics: Metrics) -> dict[str, int]:
    text = metrics.prometheus(games_in_memory=0, in_progress=0)
    return {bound: int(count) for bound, count in BUCKET_LINE.findall(text)}


def test_a_round_is_counted_in_the_first_bucket_that_holds_it() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.005, 0.0051, 7.0):
        metrics.observe_round(seconds)
    counts = buckets(metrics)
    assert list(counts) == [f"{bound:g}" for bound in ROUND_BUCKETS] + ["+Inf"]
    assert counts["0.001"] == 1
    assert counts["0.004"] == 1 and counts["0.005"] == 2  # le: a bound holds its own value
    assert counts["0.0075"] == 3 and counts["5"] == 3 and counts["+Inf"] == 4
    text = metrics.prometheus(games_in_memory=0, in_progress=0)
    assert "gameserver_round_seconds_count 4\n" in text
    assert "gameserver_round_seconds_sum 7.010500\n" in text


def test_the_bench_reads_quantiles_between_two_scrapes() -> None:
    metrics = Metrics()
    for _ in range(50):
        metrics.observe_round(0.5)  # before the run: not counted
    first = (0.0, 0, 0.0, 0.0, buckets(metrics))
    for _ in range(40):
        metrics.observe_round(0.0015)  # (0.001, 0.002]
    for _ in range(59):
        metrics.observe_round(0.0035)  # (0.003, 0.004]
    metrics.observe_round(0.03)  # (0.025, 0.03]
    last = (1.0, 0, 0.0, 0.0, buckets(metrics))
    told = server_round_ms(first, last)
    assert told is not None and told["n"] == 100
    # p50: the 50th of 100, 10 of the 59 in (3, 4] ms; p99: the 99th, the last of those 59
    assert told["p50"] == round(3 + 10 / 59, 2) and told["p99"] == 4.0
    assert server_round_ms(first, first) is None
