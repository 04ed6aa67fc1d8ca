"""The server benchmark behind ``scripts/bench``: a real server, real bots, one table.

Each load scenario starts ``gameserver serve`` on a temporary SQLite database
(``synchronous=FULL``), creates G Beer Games through the API, and has one bot per seat (this
process, :mod:`gameserver.client.bot`) play them to the end over WebSockets. Per scenario it prints:

- decisions/s and rounds/s: the server's own counters (``/metrics``) sampled while the games
  run, over the middle of the run (from 10% to 90% of all decisions), so that connecting and the
  last stragglers do not dilute the rate; ``overall`` divides by the whole play time, and is
  what the row shows for a run too short to sample a middle (one game can end within 0.2 s);
- ack p50/p99: a bot's submit to its ack; round p50/p99: the last submit of a round to the last
  bot of that game having the new view (both as the bots measure them, so they include the
  bots' own delays on this shared machine); and, on the line of its target, the round's p50/p99
  in three parts of the games: their first :data:`FIRST_ROUNDS` rounds, the rounds between, and
  their last round. Every game starts at once and its bots think for the same time, so the first
  rounds of all games come in together and queue, until the games drift apart; the last round
  brings every player the whole view with its debrief. The parts say where a row's p99 is made;
  and on the line under it the server's own part of a round, p50/p99 over the run: from the
  round's close to its views made (``gameserver_round_seconds`` in ``/metrics``), so that what
  the server takes and what the network and the bots add are told apart;
- server CPU (user + system, as a share of one core, and in microseconds per decision, from
  each thread's ``schedstat``) and peak RSS (``VmHWM``), of the server process and the
  processes it starts (the SQLite writer process); the bots' CPU per decision (this process's
  ``time.process_time``); RSS per game:
  RSS after the games ended (all still in memory, at week 36) minus RSS before they were
  created, divided by G;
- errors, reconnects and connections dropped, all of which should be zero.

And the machine's speed as the row ran: :func:`reference_ms`, the milliseconds this process
takes to play :data:`REFERENCE_GAMES` Beer Games offline (best of 3), just before the row and
just after it. On a shared machine it changes from minute to minute (32 to 55 ms within one
minute on the 2-core machine these figures come from), and every figure of a row with it:
compare rows whose references are alike. It times the Python the bench runs on too (the same
machine, one after the other: 32.0-33.9 ms on pyenv's 3.11.7, 26.0-28.1 on Debian's 3.11.2),
which the line under the table names: compare references of the same Python only.

Then the class-joining row: 100 games playing (their bots thinking from half ``--think`` to one
and a half, so that their rounds spread out as people's do), and then
``gameserver bots`` in a process of its own creating 250 more games over HTTP and their bots
all connecting and joining at once, as a class told "join now" does; it prints the playing
games' round p99 and longest round in the second before, and from that process starting to
half a second after its last bot connected (``Admission`` in :mod:`gameserver.server.transport`
keeps the second near the first).

Then the restore scenario: N games in progress, at the round whose restore replays the most
rounds (a record is written whole when the game is made, then every ``SNAPSHOT_EVERY`` rounds:
round 7, every round replayed), one seat of a few of them joined, the server killed with SIGKILL
and started again; it times from spawning the new process until ``/health`` reports all N
restored and a player's resume has been answered with its ``sync``.

On PostgreSQL (``--postgresql [URL]``; without a URL a throwaway cluster of Debian's postgresql,
from tests/pgcluster.py), the saturated scenario again with one node, and with two nodes behind
HAProxy (``deploy/haproxy.cfg``; the bots go through it; decisions, CPU and RSS are the nodes'
sums); and the failover row: three nodes, bots playing, a node holding games killed with SIGKILL
several times (:mod:`gameserver.tools.chaos`), the time from each kill to the first round closed
of its games, p50 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

from gameserver.client.api import Api
from gameserver.client.link import run
from gameserver.client.teams import Plan, Team, create_teams, percentiles, play, summarize
from gameserver.client.timing import Think
from gameserver.errors import GameServerError
from gameserver.server.gamestore import SNAPSHOT_EVERY
from gameserver.tools.chaos import run_chaos
from gameserver.tools.localserver import ROOT, LocalServer, ServerError
from gameserver.tools.nodes import Servers
from gameserver.tools.proxy import ProxyUnavailable, haproxy_binary
from gameserver.tools.simulate import simulate

ADMIN_KEY = "bench-admin-key"


@dataclass
class Scenario:
    name: str
    games: int
    think: float
    target: str
    weeks: int = 36
    #: Server nodes; more than one share the PostgreSQL database behind HAProxy.
    nodes: int = 1
    postgresql: bool = False


#: The rounds of a game that the bench's ``first`` part holds (see the module docstring).
FIRST_ROUNDS = 5

#: Offline Beer Games of 36 weeks that :func:`reference_ms` plays.
REFERENCE_GAMES = 20


def reference_ms() -> float:
    """Milliseconds to play :data:`REFERENCE_GAMES` Beer Games offline and encode their
    reports (best of 3): how fast the machine runs our Python code right now."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(REFERENCE_GAMES):
            orjson.dumps(simulate("beer", {"weeks": 36}, "sterman"))
        best = min(best, time.perf_counter() - started)
    return round(1000 * best, 1)


@dataclass
class Outcome:
    scenario: Scenario
    figures: dict[str, Any] = field(default_factory=dict)


def _tree(pid: int) -> list[int]:
    """``pid`` and the processes it started, theirs too (a server's SQLite writer process)."""
    found = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.extend(_tree(int(child)))
    return found


def _proc_status(pid: int, key: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/PID/status, in KiB, summed over its tree."""
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and of the processes it started, from each thread's
    ``schedstat`` (nanoseconds): the one-game row plays for a quarter of a second, which the
    10 ms clock ticks of ``stat`` could not measure (76 to 357 us a decision for the same
    code). From ``stat``'s ticks on a kernel without ``schedstat``."""
    total = 0.0
    for member in _tree(pid):
        with contextlib.suppress(OSError):
            total += _member_cpu(member)
    return total


def _member_cpu(pid: int) -> float:
    if not Path(f"/proc/{pid}/schedstat").exists():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    nanoseconds = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            nanoseconds += int((task / "schedstat").read_text().split()[0])
    return nanoseconds / 1e9


BUCKET_LINE = re.compile(r'^gameserver_round_seconds_bucket\{le="([^"]+)"\} (\d+)', re.M)


async def _scrape(api: Api) -> tuple[int, dict[str, int]]:
    """A server's decisions so far, and its rounds so far by how long their players waited
    (``gameserver_round_seconds``: bucket bound -> rounds up to it)."""
    text = await api.request_text("GET", "/metrics")
    buckets = {bound: int(count) for bound, count in BUCKET_LINE.findall(text)}
    return _metric(text, "gameserver_decisions_total"), buckets


def _metric(text: str, name: str) -> int:
    """A whole-number metric's value in ``/metrics`` text (0 if it is not there)."""
    match = re.search(rf"^{name} (\d+)", text, re.M)
    return int(match.group(1)) if match else 0


#: One sample of a run: the time, the server's decisions so far, the server's CPU seconds so
#: far (from /proc), this process's (the bots') CPU seconds so far, and the servers' rounds so
#: far by the time their players waited (cumulative, by bucket bound, summed over the nodes).
Sample = tuple[float, int, float, float, dict[str, int]]


async def _sample(
    apis: Sequence[Api], pids: Sequence[int], samples: list[Sample], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        with contextlib.suppress(GameServerError):
            samples.append(await _sample_now(apis, pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def _sample_now(apis: Sequence[Api], pids: Sequence[int]) -> Sample:
    """The servers' sums: decisions, CPU seconds, rounds by wait."""
    decisions = 0
    buckets: dict[str, int] = {}
    for api in apis:
        count, counts = await _scrape(api)
        decisions += count
        for bound, rounds in counts.items():
            buckets[bound] = buckets.get(bound, 0) + rounds
    cpu = sum(_cpu_seconds(pid) for pid in pids)
    return (time.perf_counter(), decisions, cpu, time.process_time(), buckets)


def server_round_ms(first: Sample, last: Sample) -> dict[str, float] | None:
    """n, p50 and p99 (ms) of the rounds the servers told between two samples, from when each
    round closed to its views made (``gameserver_round_seconds``), interpolated within a
    bucket; None if no round was told. A quantile past the last finite bound is that bound."""
    total = last[4].get("+Inf", 0) - first[4].get("+Inf", 0)
    if total <= 0:
        return None
    bounds = sorted((float(b), last[4][b] - first[4].get(b, 0)) for b in last[4] if b != "+Inf")
    out: dict[str, float] = {"n": total}
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        wanted = share * total
        value = lower = 0.0
        before = 0
        for upper, upto in bounds:
            value = upper
            if upto >= wanted:
                value = lower + (upper - lower) * (wanted - before) / max(upto - before, 1)
                break
            lower, before = upper, upto
        out[name] = round(1000 * value, 2)
    return out


def _window(samples: Sequence[Sample]) -> tuple[Sample, Sample] | None:
    """The samples at 10% and 90% of the run's final decision count: the steady middle."""
    if len(samples) < 2 or samples[-1][1] == 0:
        return None
    total = samples[-1][1]
    low = next(s for s in samples if s[1] >= 0.1 * total)
    high = next(s for s in samples if s[1] >= 0.9 * total)
    return (low, high) if high[1] > low[1] and high[0] > low[0] else None


def steady_rate(samples: Sequence[Sample], whole_run: float) -> float:
    """Decisions per second between 10% and 90% of the run's final count; ``whole_run`` (the
    rate over the whole play time) when the run was too short to sample its middle."""
    window = _window(samples)
    if window is None:
        return whole_run
    low, high = window
    return (high[1] - low[1]) / (high[0] - low[0])


def cpu_per_decision(samples: Sequence[Sample]) -> tuple[float, float]:
    """Microseconds of server CPU and of the bots' CPU per decision, in the same window (or
    over the whole run, when it is too short to have a middle)."""
    window = _window(samples) or (samples[0], samples[-1])
    low, high = window
    if high[1] <= low[1]:
        return 0.0, 0.0
    decisions = high[1] - low[1]
    return 1e6 * (high[2] - low[2]) / decisions, 1e6 * (high[3] - low[3]) / decisions


async def run_scenario(
    scenario: Scenario, folder: Path, *, seed: int = 1, postgresql: str | None = None
) -> Outcome:
    servers = Servers(
        folder / scenario.name.replace(" ", "-"),
        ADMIN_KEY,
        count=scenario.nodes,
        storage=postgresql if scenario.postgresql else None,
        lease_seconds=5.0,
    )
    await servers.start()
    pids = [node.proc.pid for node in servers.nodes if node.proc is not None]
    apis = [Api(node.url, ADMIN_KEY) for node in servers.nodes]
    api = Api(servers.url, ADMIN_KEY)
    try:
        await api.health()
        rss_before = sum(_proc_status(pid, "VmRSS") for pid in pids)
        plan = Plan(
            kind="beer",
            games=scenario.games,
            policy="sterman",
            settings={"weeks": scenario.weeks, "weeks_announced": max(50, scenario.weeks)},
            seed=seed,
            think=Think(scenario.think),
        )
        teams = await create_teams(api, servers.url, plan, give_up=30.0)
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        samples: list[Sample] = [await _sample_now(apis, pids)]
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(apis, pids, samples, stop))
        seconds = await play(teams)
        stop.set()
        await sampler
        samples.append(await _sample_now(apis, pids))
        cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
        rss_after = sum(_proc_status(pid, "VmRSS") for pid in pids)
        peak = sum(_proc_status(pid, "VmHWM") for pid in pids)
        summary = summarize(teams, seconds, "beer")
    finally:
        await servers.stop()
    latency = summary["latency_ms"]
    server_us, bots_us = cpu_per_decision(samples)
    rate = steady_rate(samples, summary["decisions_per_second"])
    told = server_round_ms(samples[0], samples[-1])
    return Outcome(
        scenario,
        {
            "games": scenario.games,
            "bots": summary["bots"],
            "think_s": scenario.think,
            "finished": summary["finished"],
            "decisions": summary["decisions"],
            "seconds": summary["seconds"],
            "decisions_per_s": round(rate),
            "decisions_per_s_overall": round(summary["decisions_per_second"]),
            "rounds_per_s": round(rate / 4),
            "ack_ms": latency["decision_to_ack"],
            "round_ms": latency["round_to_last_view"],
            "round_ms_by_part": round_parts(teams),
            **({"server_round_ms": told} if told is not None else {}),
            "server_cpu_pct": round(100 * cpu / seconds) if seconds else 0,
            "server_us_per_decision": round(server_us, 1),
            "bots_us_per_decision": round(bots_us, 1),
            "peak_rss_mb": round(peak / 1024, 1),
            "rss_per_game_kb": round((rss_after - rss_before) / scenario.games, 1),
            "errors": summary["errors"],
            "reconnects": summary["reconnects"],
            "drops": summary["drops"],
            "failed_games": summary["failed_games"],
        },
    )


async def _claim_token(url: str, code: str) -> str:
    async with connect(url.replace("http", "ws", 1) + "/ws", compression=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "join": code}).decode())
        while True:
            message = orjson.loads(await ws.recv())
            if message["type"] == "welcome":
                token: str = message["token"]
                return token
            if message["type"] == "error":
                raise ServerError(f"could not join {code}: {message['message']}")


async def _resume(url: str, token: str) -> None:
    async with connect(url.replace("http", "ws", 1) + "/ws", compression=None) as ws:
        await ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
        while orjson.loads(await ws.recv())["type"] != "sync":
            pass


async def run_restore(games: int, folder: Path) -> dict[str, Any]:
    server = LocalServer(folder / "restore", ADMIN_KEY)
    await server.start()
    api = Api(server.url, ADMIN_KEY)
    try:
        session = await api.request(
            "POST", "/api/sessions", {"kind": "beer", "teams": games, "autostart": True}
        )
        # Where a restore replays the most rounds: a game's record is written whole when it is
        # made (and started), then every SNAPSHOT_EVERY rounds, and the rounds between are
        # read back by playing them again (here rounds 1 to SNAPSHOT_EVERY - 1).
        for _ in range(SNAPSHOT_EVERY - 1):
            await api.request("POST", f"/api/sessions/{session['session_id']}/close-round", {})
        tokens = [
            await _claim_token(server.url, g["join"][0]["code"]) for g in session["games"][:5]
        ]
        await server.kill()
        spawned = time.monotonic()
        healthy = await server.start()
        while (await api.health()).get("restored") != games:
            if time.monotonic() - spawned > 60:
                raise ServerError("not every game was restored within 60 s")
            await asyncio.sleep(0.01)
        await _resume(server.url, tokens[-1])
        accepting = time.monotonic() - spawned
        match = re.search(r"restored (\d+) games in ([0-9.]+) s", server.tail(200))
    finally:
        await server.stop()
    return {
        "games": games,
        "rounds": SNAPSHOT_EVERY - 1,
        "healthy_s": round(healthy, 3),
        "restored_and_resumed_s": round(accepting, 3),
        "restore_only_s": float(match.group(2)) if match else None,
    }


async def _connections(api: Api) -> int:
    """The server's WebSocket connections now (``gameserver_connections``)."""
    return _metric(await api.request_text("GET", "/metrics"), "gameserver_connections")


async def _poll(
    api: Api, until: Callable[[int], bool], every: float, limit: float, what: str
) -> float:
    """Poll the server's connections every ``every`` s until ``until(count)``; when it held
    (``time.perf_counter``). :class:`ServerError` after ``limit`` s."""
    deadline = time.perf_counter() + limit
    while not until(await _connections(api)):
        if time.perf_counter() > deadline:
            raise ServerError(f"{what} within {limit:g} s")
        await asyncio.sleep(every)
    return time.perf_counter()


async def run_storm(playing: int, joining: int, think: float, folder: Path) -> dict[str, Any]:
    """A class joining beside games in progress: ``playing`` games play (this process's bots,
    each thinking from half ``think`` to one and a half); then ``gameserver bots``, a process
    of its own, creates ``joining`` more games over HTTP (16 requests at a time, each on a
    connection of its own) and their bots all connect and join at once. The playing games'
    round latency in the second before that process started, and from its start to half a
    second after its last bot connected (the connections polled every 10 ms)."""
    server = LocalServer(folder / "storm", ADMIN_KEY)
    await server.start()
    api = Api(server.url, ADMIN_KEY)
    joiners: asyncio.subprocess.Process | None = None
    playing_task: asyncio.Task[float] | None = None
    try:
        plan = Plan(
            kind="beer",
            games=playing,
            policy="sterman",
            settings={"weeks": 520, "weeks_announced": 520},  # ended below, once measured
            seed=1,
            # Each bot's think drawn anew: rounds spread out, as people's do, rather than every
            # game's coming in together (the paced rows' way, which is a burst of its own).
            think=Think(think / 2, think * 3 / 2),
        )
        teams = await create_teams(api, server.url, plan, give_up=30.0)
        playing_task = asyncio.create_task(play(teams))
        players = 4 * playing
        await _poll(api, lambda n: n >= players, 0.05, 60, "the games were not all joined")
        await asyncio.sleep(2.0)  # past their own first rounds, which come in together
        started = time.perf_counter()
        joiners = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "gameserver", "bots", "--url", server.url, "--seed", "2"),
            *("--games", str(joining), "--think", "600", "--settings", "weeks=2"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "GAMESERVER_ADMIN_KEY": ADMIN_KEY},
        )
        everyone = players + 4 * joining
        last = await _poll(api, lambda n: n >= everyone, 0.01, 60, "the class did not join")
        await asyncio.sleep(0.6)
        for team in teams:
            await api.request("POST", f"/api/games/{team.game_id}/end", {})
        await playing_task
    finally:
        if joiners is not None and joiners.returncode is None:
            joiners.terminate()
            await joiners.wait()
        if playing_task is not None and not playing_task.done():  # the row failed
            playing_task.cancel()
        await server.stop()
    timed = [played for team in teams for played in team.timer.timed()]

    def between(start: float, end: float) -> dict[str, float | int]:
        return percentiles([latency for at, latency in timed if start <= at < end])

    return {
        "playing_games": playing,
        "joining_games": joining,
        "joining_bots": 4 * joining,
        "think_s": think,
        "before_ms": between(started - 1.0, started),
        "coming_ms": between(started, last + 0.5),
        "came_s": round(last - started, 3),
    }


async def run_failover(postgresql: str, folder: Path, kills: int) -> dict[str, Any]:
    """Three nodes, bots playing through HAProxy, ``kills`` SIGKILLs of a node holding games:
    the seconds from each kill to the first round closed of the killed node's games."""
    result = await run_chaos(
        games=30,
        kills=kills,
        weeks=150,
        seed=1,
        think=Think.of((0.01, 0.03)),
        nodes=3,
        storage=postgresql,
        lease_seconds=5.0,
        data=folder / "failover",
        time_limit=600,
        out=lambda line: print(line, file=sys.stderr),
    )
    ordered = sorted(result.failovers)
    return {
        "kills": len(ordered),
        "lease_s": 5.0,
        "p50_s": round(ordered[len(ordered) // 2], 2) if ordered else None,
        "max_s": round(ordered[-1], 2) if ordered else None,
        "ok": result.ok,
        "problems": result.problems[:5],
    }


def round_parts(teams: Sequence[Team]) -> dict[str, dict[str, float | int]]:
    """Round latency percentiles (:func:`percentiles`) of the games' ``first`` rounds (up to
    :data:`FIRST_ROUNDS`, the last one apart), their ``last`` round, and the ``middle``."""
    parts: dict[str, list[float]] = {"first": [], "middle": [], "last": []}
    for team in teams:
        rounds = team.timer.by_round()
        last = max(rounds, default=0)
        for round_no, seconds in rounds.items():
            part = "last" if round_no == last else "first" if round_no <= FIRST_ROUNDS else "middle"
            parts[part].append(seconds)
    return {part: percentiles(seconds) for part, seconds in parts.items()}


def _fmt_parts(parts: dict[str, dict[str, float | int]]) -> str:
    names = {"first": f"first {FIRST_ROUNDS} rounds", "middle": "middle", "last": "last round"}
    shown = [f"{names[part]} {_fmt_latency(p)}" for part, p in parts.items() if p.get("n")]
    return "; round p50 / p99 ms: " + ", ".join(shown) if shown else ""


def _fmt_latency(p: dict[str, float | int]) -> str:
    if not p or not p.get("n"):
        return "-"
    return f"{p['p50']:.1f} / {p['p99']:.1f}"


def render(
    outcomes: Sequence[Outcome],
    restore: dict[str, Any] | None,
    failover: dict[str, Any] | None = None,
    storm: dict[str, Any] | None = None,
) -> str:
    head = (
        f"{'scenario':<34}{'games':>6}{'bots':>6}{'think':>7}{'dec/s':>8}{'rounds/s':>9}"
        f"{'ack p50/p99 ms':>16}{'round p50/p99 ms':>18}{'CPU':>6}{'srv us':>8}{'bots us':>8}"
        f"{'peak RSS':>10}{'RSS/game':>10}{'errors':>8}"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        f = o.figures
        trouble = sum(f["errors"].values()) + f["reconnects"] + f["failed_games"]
        trouble += sum(f["drops"].values()) + f["games"] - f["finished"]
        lines.append(
            f"{o.scenario.name:<34}{f['games']:>6}{f['bots']:>6}{f['think_s']:>6g}s"
            f"{f['decisions_per_s']:>8,}{f['rounds_per_s']:>9,}"
            f"{_fmt_latency(f['ack_ms']):>16}{_fmt_latency(f['round_ms']):>18}"
            f"{f['server_cpu_pct']:>5}%{f['server_us_per_decision']:>8.0f}"
            f"{f['bots_us_per_decision']:>8.0f}{f['peak_rss_mb']:>8} MB{f['rss_per_game_kb']:>7} KB"
            f"{trouble:>8}"
        )
        parts = _fmt_parts(f["round_ms_by_part"]) if "round_ms_by_part" in f else ""
        lines.append(f"{'':<4}target: {o.scenario.target}{parts}")
        if "server_round_ms" in f:
            lines.append(
                f"{'':<4}server: round closed -> its views made p50 / p99 "
                f"{_fmt_latency(f['server_round_ms'])} ms (the rest of a round is the network"
                " and the bots)"
            )
        if "reference_ms" in f:
            before, after = f["reference_ms"]
            lines.append(f"{'':<4}machine: reference {before} ms before the row, {after} after")
    if storm is not None:
        lines.append("")
        before, coming = storm["before_ms"], storm["coming_ms"]
        lines.append(
            f"class joining: {storm['joining_games']} games created (HTTP), then their"
            f" {storm['joining_bots']} bots join at once, beside {storm['playing_games']} games"
            f" playing every {storm['think_s']:g} s or so -> the playing games' round p99 /"
            f" longest: {before['p99']:.1f} / {before['max']:.1f} ms in the second before,"
            f" {coming['p99']:.1f} / {coming['max']:.1f} ms from its process starting to"
            f" half a second after its last bot connected ({storm['came_s']:.2f} s after the"
            " start)"
        )
    if restore is not None:
        if storm is None:
            lines.append("")
        lines.append(
            f"restore: {restore['games']} games in progress (round {restore['rounds']}, every "
            f"round replayed), SIGKILL, new process -> /health "
            f"{restore['healthy_s']:.3f} s, all restored and a resume answered "
            f"{restore['restored_and_resumed_s']:.3f} s (restore itself "
            f"{restore['restore_only_s']} s); target: within 1 s, imports included"
        )
    if failover is not None:
        verdict = "every game finished, equal to its twin" if failover["ok"] else "PROBLEMS"
        lines.append(
            f"failover: 3 nodes on PostgreSQL behind HAProxy, leases of {failover['lease_s']:g} s,"
            f" {failover['kills']} SIGKILLs of a node holding games -> its games' first round "
            f"closed after p50 {failover['p50_s']} s, max {failover['max_s']} s ({verdict})"
        )
    version, executable = python()
    lines.append("")
    lines.append(
        f"python: {version}, {executable} (the server's and the bots'; the same version built"
        ' another way runs them at another speed: docs/deploy.md, "Which Python")'
    )
    return "\n".join(lines)


def python() -> tuple[str, str]:
    """The version of the Python this runs on, and its interpreter (a venv's, resolved)."""
    return platform.python_version(), os.path.realpath(sys.executable)


@contextlib.contextmanager
def _postgresql(url: str | None, chosen: set[str]) -> Iterator[Callable[[], str] | None]:
    """What makes an empty PostgreSQL database for each row that needs one: the one at ``url``
    (only one row may use it), or a throwaway cluster's; None (the rows are skipped, saying
    why) when PostgreSQL or HAProxy is not to be had or no such row was chosen."""
    if not chosen & {"postgresql", "failover"}:
        yield None
        return
    if url:
        yield lambda: url
        return
    try:
        haproxy_binary()
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.pgcluster import Cluster, ClusterUnavailable
    except (ProxyUnavailable, ImportError) as exc:
        print(f"scripts/bench: no PostgreSQL rows: {exc}", file=sys.stderr)
        yield None
        return
    try:
        cluster = Cluster({"fsync": "on", "synchronous_commit": "on"}).__enter__()
    except ClusterUnavailable as exc:
        print(f"scripts/bench: no PostgreSQL rows: {exc}", file=sys.stderr)
        yield None
        return
    databases = iter(range(1, 1000))
    try:
        yield lambda: cluster.create_database(f"bench_{next(databases)}")
    finally:
        cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description="Benchmark a real server with real bots."
    )
    parser.add_argument("--games", type=int, default=250, help="games of the 250-game rows")
    parser.add_argument("--paced-games", type=int, default=500, help="games of the big paced row")
    parser.add_argument("--restore-games", type=int, default=1000)
    parser.add_argument(
        "--storm-games",
        type=int,
        default=250,
        help="games of the class that joins at once in the class-joining row (250)",
    )
    parser.add_argument(
        "--storm-playing",
        type=int,
        default=100,
        help="games playing while it joins (100)",
    )
    parser.add_argument("--think", type=float, default=0.1, help="think time of the paced rows")
    parser.add_argument("--weeks", type=int, default=36)
    parser.add_argument(
        "--one-game-weeks", type=int, default=200, help="weeks of the one-game row (200)"
    )
    parser.add_argument(
        "--only",
        choices=["one", "paced", "saturated", "big", "storm", "restore", "postgresql", "failover"],
        action="append",
    )
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const="",
        metavar="URL",
        help="the PostgreSQL rows on the database at URL (it must be empty), or without a URL"
        " on a throwaway cluster of Debian's postgresql; they run by default when PostgreSQL"
        " and HAProxy are installed",
    )
    parser.add_argument("--kills", type=int, default=4, help="SIGKILLs of the failover row")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    sizes = (
        args.games,
        args.paced_games,
        args.restore_games,
        args.storm_games,
        args.storm_playing,
        args.weeks,
        args.one_game_weeks,
    )
    if min(sizes) < 1 or args.think < 0 or args.kills < 1:
        print(
            "scripts/bench: games and kills must be 1 or more and think 0 or more",
            file=sys.stderr,
        )
        return 2
    chosen = set(
        args.only
        or ["one", "paced", "saturated", "big", "storm", "restore", "postgresql", "failover"]
    )
    scenarios = [
        Scenario(
            "one game",
            1,
            0.0,
            "round p50 < 1 ms; server and bots <= 40 us/decision",
            args.one_game_weeks,
        ),
        Scenario("paced", args.games, args.think, "round p99 < 10 ms", args.weeks),
        Scenario(
            "saturated", args.games, 0.0, ">= 20,000 decisions/s; RSS/game <= 100 KB", args.weeks
        ),
        Scenario(
            "big paced", args.paced_games, args.think, "p99 < 25 ms, nothing dropped", args.weeks
        ),
        Scenario(
            "saturated, PostgreSQL, 1 node",
            args.games,
            0.0,
            "as SQLite's row, on PostgreSQL",
            args.weeks,
            postgresql=True,
        ),
        Scenario(
            "saturated, PostgreSQL, 2 nodes",
            args.games,
            0.0,
            "more than 1 node on the 2 cores",
            args.weeks,
            nodes=2,
            postgresql=True,
        ),
    ]
    keys = {"one game": "one", "paced": "paced", "saturated": "saturated", "big paced": "big"}
    outcomes: list[Outcome] = []
    restore = failover = storm = None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="gameserver-bench-") as tmp,
            _postgresql(args.postgresql, chosen) as postgresql,
        ):
            for scenario in scenarios:
                key = "postgresql" if scenario.postgresql else keys[scenario.name]
                if key not in chosen or (scenario.postgresql and postgresql is None):
                    continue
                print(f"running {scenario.name}: {scenario.games} games ...", file=sys.stderr)
                url = postgresql() if postgresql is not None else None
                before = reference_ms()
                outcome = run(run_scenario(scenario, Path(tmp), postgresql=url))
                outcome.figures["reference_ms"] = [before, reference_ms()]
                outcomes.append(outcome)
            if "storm" in chosen:
                print(f"running class joining: {args.storm_games} games ...", file=sys.stderr)
                storm = run(run_storm(args.storm_playing, args.storm_games, args.think, Path(tmp)))
            if "restore" in chosen:
                print(f"running restore: {args.restore_games} games ...", file=sys.stderr)
                restore = run(run_restore(args.restore_games, Path(tmp)))
            if "failover" in chosen and postgresql is not None:
                print(f"running failover: {args.kills} kills ...", file=sys.stderr)
                failover = run(run_failover(postgresql(), Path(tmp), args.kills))
    except (ServerError, GameServerError, OSError) as exc:
        print(f"scripts/bench: {exc}", file=sys.stderr)
        return 1
    print(render(outcomes, restore, failover, storm))
    if args.json:
        version, executable = python()
        payload = {
            "scenarios": {o.scenario.name: o.figures for o in outcomes},
            "storm": storm,
            "restore": restore,
            "failover": failover,
            "python": {"version": version, "executable": executable},
        }
        Path(args.json).write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return 0
