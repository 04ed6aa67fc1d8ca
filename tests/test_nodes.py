"""Several server nodes on one PostgreSQL database behind HAProxy (deploy/haproxy.cfg).

Real processes throughout: the session's throwaway PostgreSQL cluster, three ``gameserver
serve`` nodes, HAProxy started from the shipped configuration, and bots playing over real
WebSockets through HAProxy's one address. Skipped, saying why, where PostgreSQL or HAProxy
cannot be had.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gameserver.client.api import Api, ApiError
from gameserver.client.teams import Team, play, team_for
from gameserver.client.timing import Think
from gameserver.games import get_game, make_policy
from gameserver.tools.chaos import check_game, run_chaos
from gameserver.tools.nodes import Servers
from gameserver.tools.proxy import ProxyUnavailable, haproxy_binary

asyncpg = pytest.importorskip("asyncpg", reason="the postgresql extra is not installed")

ROLES = get_game("beer").roles(get_game("beer").validate_settings({}))


@pytest.fixture(scope="module", autouse=True)
def _haproxy() -> None:
    try:
        haproxy_binary()
    except ProxyUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
async def nodes(tmp_path: Path, postgresql_url: str) -> AsyncIterator[Servers]:
    servers = Servers(tmp_path, secrets.token_hex(16), count=3, storage=postgresql_url)
    try:
        await servers.start()
        yield servers
    finally:
        await servers.stop()


async def test_sixty_games_survive_two_node_kills_behind_one_address(
    tmp_path: Path, postgresql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    result = await run_chaos(
        games=60,
        kills=2,
        weeks=36,
        seed=20261130,
        nodes=3,
        storage=postgresql_url,
        data=tmp_path,
        time_limit=300,
        out=lines.append,
    )
    with capsys.disabled():
        print("\n" + "\n".join(line for line in lines if "server log" not in line))
    assert result.ok, "\n".join(lines)
    assert (result.finished, result.equal_replay, result.equal_offline) == (60, 60, 60)
    assert result.acks_checked > 60 * 36 * 3 and result.acks_lost == 0
    assert len(result.failovers) == 2  # each kill took a node that held games
    assert all(seconds < 30 for seconds in result.failovers)


async def _games(api: Api, url: str, count: int, **options: Any) -> list[Team]:
    teams = []
    for n in range(count):
        created = await api.create_game(
            kind="beer", settings={"weeks": 50}, seed=n, autostart=True, **options
        )
        policies = {role: make_policy("beer", "sterman") for role in ROLES}
        teams.append(team_for(url, created, policies, Think.of((0.02, 0.06)), seed=n, give_up=60.0))
    return teams


async def _until(check: Any, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def test_a_frozen_node_writes_nothing_once_its_games_are_taken_over(
    nodes: Servers, postgresql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = await asyncpg.connect(postgresql_url)
    # Every row written, and by which node (each node's connections are named after it).
    await conn.execute(
        """CREATE TABLE write_log (node text, tbl text, game_id text, at timestamptz);
        CREATE FUNCTION log_write() RETURNS trigger AS $$ BEGIN
            INSERT INTO write_log VALUES (
                current_setting('application_name'), TG_TABLE_NAME, NEW.game_id,
                clock_timestamp());
            RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER games_log AFTER INSERT OR UPDATE ON games
            FOR EACH ROW EXECUTE FUNCTION log_write();
        CREATE TRIGGER rounds_log AFTER INSERT OR UPDATE ON rounds
            FOR EACH ROW EXECUTE FUNCTION log_write();
        CREATE TRIGGER decisions_log AFTER INSERT OR UPDATE ON decisions
            FOR EACH ROW EXECUTE FUNCTION log_write();"""
    )
    api = Api(nodes.url, nodes.admin_key)
    # A deadline of 3 s: bots decide in a few tens of ms, so it only passes while a frozen
    # node holds a round, and then it makes the frozen node try to close it when it wakes.
    teams = await _games(api, nodes.url, 9, round_seconds=3)
    playing = asyncio.create_task(play(teams))
    try:
        await _until(lambda: _all_started(teams), "every game under way", within=60)
        held = [await nodes.owned(n) for n in range(3)]
        frozen = max(range(3), key=lambda n: len(held[n]))
        its = held[frozen]
        assert its, held
        node = nodes.nodes[frozen]
        assert node.proc is not None
        pid = node.proc.pid
        name = f"gameserver-n{frozen + 1}"
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            # Nobody takes over a game that finished on it before it froze (it stays its own):
            # the games to be taken over are those the database has in progress.
            query = "SELECT game_id FROM games WHERE in_progress AND game_id = ANY($1::text[])"
            its = {row["game_id"] for row in await conn.fetch(query, sorted(its))}
            assert its, f"every game n{frozen + 1} held had finished before it froze"
            others = [n for n in range(3) if n != frozen]

            async def taken_over() -> bool:
                owned = set().union(*[await nodes.owned(n) for n in others])
                return its <= owned

            await _until(taken_over, f"the games of n{frozen + 1} taken over")
            taken_after = time.monotonic() - stopped_at
            rounds_then = {t.game_id: _rounds(t) for t in teams if t.game_id in its}

            async def played_on() -> bool:
                return all(
                    _rounds(t) > rounds_then[t.game_id] or _over(t)
                    for t in teams
                    if t.game_id in its
                )

            # Its players were moved to the new owners (HAProxy cut their connections when
            # the node stopped answering its health checks) and play on.
            await _until(played_on, "the frozen node's games played on elsewhere")
            frozen_for = time.monotonic() - stopped_at
            woke_at = await conn.fetchval("SELECT clock_timestamp()")
        finally:
            os.kill(pid, signal.SIGCONT)

        async def let_go() -> bool:
            return not (await nodes.owned(frozen)) & its

        await _until(let_go, f"n{frozen + 1} letting go of the games it lost")
        fenced = await _metric(nodes, frozen, "gameserver_writes_fenced_total")
        lost = await _metric(nodes, frozen, "gameserver_games_lost_total")
        await asyncio.wait_for(playing, 180)
    finally:
        if not playing.done():
            playing.cancel()
    # What the frozen node wrote after it woke, about the games it had lost: nothing.
    stale = await conn.fetch(
        "SELECT tbl, game_id, at FROM write_log WHERE node = $1 AND at >= $2"
        " AND game_id = ANY($3::text[]) AND at < $2 + interval '1.5 seconds'",
        name,
        woke_at,
        sorted(its),
    )
    await conn.close()
    with capsys.disabled():
        print(
            f"\nn{frozen + 1} frozen (SIGSTOP) {frozen_for:.1f} s holding {len(its)} games; "
            f"taken over {taken_after:.1f} s after the SIGSTOP; after SIGCONT it lost "
            f"{lost:g}, the fence refused {fenced:g} of its write batches, it wrote {len(stale)}"
        )
    assert stale == []
    assert lost == len(its)
    # On waking, two overdue timers race: the round deadlines that passed while it was frozen
    # (the node closes rounds: writes, which the fence refuses) and its lease renewal (the node
    # finds the games gone and drops them before writing). Most runs see the first; a loaded
    # machine sometimes the second, which writes nothing either. The fence refusing a stale
    # epoch's write through the adapter is tested on its own in tests/test_leases_postgresql.py.
    if fenced == 0:
        print(f"n{frozen + 1}: its lease renewal dropped the games before any write was tried")
    problems = []
    async with Api(nodes.url, nodes.admin_key) as reader:
        for team in teams:
            export = await reader.export(team.game_id)
            problems += check_game(export, team, "sterman", 50)
    assert problems == []


def _rounds(team: Team) -> int:
    return min(bot.rounds for bot in team.bots)


def _over(team: Team) -> bool:
    return all(bot.done for bot in team.bots)


async def _all_started(teams: list[Team]) -> bool:
    return all(_rounds(team) >= 2 for team in teams)


async def _metric(nodes: Servers, index: int, name: str) -> float:
    text = await Api(nodes.nodes[index].url, nodes.admin_key).request_text("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def test_a_game_is_run_by_one_node_and_reached_from_every_other(nodes: Servers) -> None:
    api = Api(nodes.url, nodes.admin_key)
    created = await api.create_game(kind="beer", autostart=True)
    game_id = created["game_id"]
    token = created["facilitator_token"]
    owners = [n for n in range(3) if game_id in await nodes.owned(n)]
    assert len(owners) == 1
    other = next(n for n in range(3) if n not in owners)
    # A facilitator's action reaching a node that does not run the game: it is handed over.
    direct = Api(nodes.nodes[other].url, token)
    paused = await direct.request("POST", f"/api/games/{game_id}/pause", {})
    assert paused["status"] == "paused"
    assert [n for n in range(3) if game_id in await nodes.owned(n)] == [other]
    health = await Api(nodes.nodes[other].url).health()
    assert health["node"] == f"n{other + 1}" and health["games_owned"] == 1
    # Every node lists every game, whoever runs it.
    for n in range(3):
        listed = await Api(nodes.nodes[n].url, nodes.admin_key).request("GET", "/api/games")
        assert game_id in {game["game_id"] for game in listed["games"]}
    # The game is one game: what one node did, another sees.
    again = await Api(nodes.nodes[owners[0]].url, token).game(game_id)
    assert again["status"] == "paused"


async def test_a_class_lives_on_one_node(nodes: Servers) -> None:
    api = Api(nodes.url, nodes.admin_key)
    made = await api.request(
        "POST", "/api/sessions", {"kind": "beer", "teams": 6, "autostart": True}
    )
    session_id = made["session_id"]
    game_ids = [game["game_id"] for game in made["games"]]
    assert all(g.startswith(session_id[1:]) for g in game_ids)
    # The class's action goes through the one address to the node of the class's key, which
    # runs every game of the class: none has to move.
    paused = await Api(nodes.url, made["facilitator_token"]).request(
        "POST", f"/api/sessions/{session_id}/pause", {}
    )
    assert [entry["ok"] for entry in paused["results"]] == [True] * 6
    held = [await nodes.owned(n) & set(game_ids) for n in range(3)]
    assert sorted(len(h) for h in held) == [0, 0, 6]
    handed = [await _metric(nodes, n, "gameserver_games_handed_over_total") for n in range(3)]
    creator = [n for n in range(3) if held[n]]
    assert creator and sum(handed) <= 6  # at most the creation's node gave them to the class's


async def test_a_node_that_stops_hands_its_games_over_at_once(
    tmp_path: Path, postgresql_url: str
) -> None:
    # Leases of 30 s: were the games taken over only when they lapse, it would take 30 s.
    nodes = Servers(
        tmp_path, secrets.token_hex(16), count=3, storage=postgresql_url, lease_seconds=30
    )
    await nodes.start()
    try:
        await _stop_one(nodes)
    finally:
        await nodes.stop()


async def _stop_one(nodes: Servers) -> None:
    api = Api(nodes.url, nodes.admin_key)
    created = [await api.create_game(kind="beer", autostart=True) for _ in range(6)]
    ids = {game["game_id"] for game in created}
    held = [await nodes.owned(n) & ids for n in range(3)]
    leaving = max(range(3), key=lambda n: len(held[n]))
    await nodes.nodes[leaving].stop()  # SIGTERM

    async def taken() -> bool:
        others = [await nodes.owned(n) for n in range(3) if n != leaving]
        return held[leaving] <= set().union(*others)

    # No lease to wait out (30 s): the others heard it leave.
    await _until(taken, "its games taken over", within=25)
    with pytest.raises(ApiError):
        await Api(nodes.nodes[leaving].url).health()
