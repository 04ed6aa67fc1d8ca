"""The facilitator API's checks of what a request asks for, against a real server process."""

from __future__ import annotations

import pytest

from gameserver.games import GAMES, policies_for
from tests.support import ServerProcess


def bot_seat(server: ServerProcess, body: bytes) -> tuple[int, dict[str, str]]:
    """PUT a bot on a fresh game's factory seat with a raw JSON body: status and error."""
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer"}).json()
        response = http.put(
            f"/api/games/{game['game_id']}/seats/factory/bot",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        error: dict[str, str] = response.json().get("error") or {}
        return response.status_code, error


@pytest.mark.parametrize(
    ("params", "words"),
    [
        # A number beyond a double's range (what a probe sent): read as infinity, as a
        # browser reads it, and refused for its parameter, not as a body that is not JSON.
        (b'{"theta": 1.8e308}', "parameter 'theta' must be a number between 0 and 1, got inf"),
        (b'{"theta": -1.8e308}', "parameter 'theta' must be a number between 0 and 1, got -inf"),
        (b'{"theta": 1.5}', "parameter 'theta' must be a number between 0 and 1, got 1.5"),
        (
            b'{"s_prime": 1e300}',
            "parameter 's_prime' must be a number between 0 and 1000000, got 1e+300",
        ),
        (b'{"alpha_s": "0.5"}', "parameter 'alpha_s' must be a number between 0 and 1, got '0.5'"),
        (b'{"beta": true}', "parameter 'beta' must be a number between 0 and 1, got True"),
    ],
)
def test_a_bot_parameter_out_of_its_range_is_refused_by_name(
    server: ServerProcess, params: bytes, words: str
) -> None:
    status, error = bot_seat(server, b'{"policy": "sterman", "params": ' + params + b"}")
    assert status == 422
    assert error["code"] == "invalid_settings"
    assert error["message"] == f"policy 'sterman': {words}"


def test_a_bot_parameter_within_its_range_is_taken(server: ServerProcess) -> None:
    status, error = bot_seat(server, b'{"policy": "sterman", "params": {"theta": 1, "beta": 0}}')
    assert status == 200, error


def test_kinds_list_every_policy_parameter_with_its_range(server: ServerProcess) -> None:
    with server.http() as http:
        kinds = {kind["kind"]: kind for kind in http.get("/api/kinds").json()["kinds"]}
    assert set(kinds) == set(GAMES)
    for name, kind in kinds.items():
        listed = {policy["name"]: policy for policy in kind["policies"]}
        for spec in policies_for(name).values():
            policy = listed[spec.name]
            assert policy["params"] == dict(spec.params)
            assert set(policy["ranges"]) == set(spec.params)
            for param, (low, high) in spec.ranges.items():
                assert policy["ranges"][param] == {"minimum": low, "maximum": high}
    theta = {p["name"]: p for p in kinds["beer"]["policies"]}["sterman"]["ranges"]["theta"]
    assert theta == {"minimum": 0.0, "maximum": 1.0}
