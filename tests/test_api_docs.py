"""docs/api.md says what the server does: its error table holds every code an HTTP client can
get, with its status, and a running server refuses what the page says it refuses, as it says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gameserver.errors import ErrorCode
from gameserver.server.openapi import ANY_ROUTE, HTTP_ERRORS, OPERATIONS
from tests.support import ADMIN_KEY, ServerProcess
from tests.test_openapi import API_DOC, table

#: Codes no request from outside can bring about: a failing store, and an HTTP-layer error
#: Starlette is not known to raise; and one that needs a game whose rules fail or take too long
#: (tests/test_slow_step.py provokes it with a test game).
UNPROVOKED = {"storage_failure", "http_error", "round_not_played", "unavailable"}


def error_table() -> dict[str, str]:
    """docs/api.md's error table: each code and its status (or statuses, joined by "/")."""
    out: dict[str, str] = {}
    for status, codes, when in table(API_DOC, "| status | code | when |"):
        assert when, codes
        for code in codes.replace("`", "").split(", "):
            out[code] = f"{out[code]}/{status}" if code in out else status
    return out


def test_the_error_table_is_every_code_an_http_client_can_get() -> None:
    expected = {str(code): str(status) for code, status in HTTP_ERRORS.items()}
    # Not the app's: the HTTP layer's own answers (server/transport.py), 400 and 408.
    expected[ErrorCode.HTTP_ERROR] = "400/408"
    assert error_table() == expected
    assert set(error_table()) <= {str(code) for code in ErrorCode}


def test_every_code_an_operation_declares_is_in_the_table() -> None:
    declared = {str(c) for op in OPERATIONS.values() for c in op.error_codes()}
    declared |= {str(c) for c in ANY_ROUTE}
    assert declared == set(error_table())


DEEP: Any = 1
for _ in range(40):
    DEEP = [DEEP]
BIG = b'{"kind": "beer", "title": "' + b"x" * (65 * 1024) + b'"}'

BEER = {"kind": "beer"}
PASS = "pass-through"
INVALID = "invalid_settings"
G = "/api/games/{game}"
S = "/api/sessions/"
CREATE = ("POST", "/api/games", "admin")
SESSIONS = ("POST", "/api/sessions", "admin")
DEADLINE = ("POST", G + "/deadline", "{token}")
BOT = ("PUT", G + "/seats/factory/bot", "{token}")
CLASS_DEADLINE = ("POST", S + "{session}/deadline", "{stoken}")
JOIN = ("POST", S + "{lobby}/lobby", None)
ANN = {"name": "Ann", "client_id": "another-device"}

# (what, method, path, credential, body, status, code, a word the message must have).
# Paths and credentials name the fixture's games: {game}, {token}, {session}, … (see made).
REFUSED: list[tuple[str, str, str, str | None, Any, int, str, str]] = [
    ("not JSON", *CREATE, b"{nope", 400, "bad_json", "JSON"),
    ("not an object", *CREATE, b"[]", 400, "bad_json", "object"),
    ("action body a list", "POST", G + "/resume", "{token}", b"[]", 400, "bad_json", "object"),
    ("too big", *CREATE, BIG, 400, "too_big", "65536"),
    ("too deep", *CREATE, {**BEER, "x": DEEP}, 400, "too_deep", "32"),
    ("unsafe seed", *CREATE, {**BEER, "seed": 2**53}, 400, "bad_field", "whole"),
    ("unsafe anywhere", *CREATE, {**BEER, "x": [-(2**53)]}, 400, "bad_field", "whole"),
    ("no credential", "POST", "/api/games", None, BEER, 401, "not_authorized", "Bearer"),
    ("a token creating", "POST", "/api/games", "{token}", BEER, 401, "not_admin", "admin"),
    ("a token listing", "GET", "/api/games", "{token}", None, 401, "not_admin", "admin"),
    ("a token on metrics", "GET", "/metrics", "{token}", None, 401, "not_admin", "admin"),
    ("other game's token", "POST", G + "/pause", "{other}", None, 401, "bad_token", "control"),
    # A class's endpoints refuse a token of another class before reading: 401, not 404.
    ("other class's token", "GET", S + "SNOSUCH", "{stoken}", None, 401, "bad_token", "control"),
    ("game token, its class", "GET", S + "{session}", "{sgame}", None, 401, "bad_token", "control"),
    ("no such game", "GET", "/api/games/NOSUCH", "admin", None, 404, "not_found", "NOSUCH"),
    # The credential is checked before the game is read: a token of another game is refused.
    ("no such game, any token", "GET", "/api/games/NO", "x.y", None, 401, "bad_token", "game"),
    ("no such game, a class token", "GET", "/api/games/NO", "S.y", None, 404, "not_found", "NO"),
    ("no such class", "GET", "/api/sessions/SNOSUCH", "admin", None, 404, "not_found", "SNOSUCH"),
    ("no such route", "GET", "/api/nothing", None, None, 404, "not_found", "Not Found"),
    ("no such kind", *CREATE, {"kind": "chess"}, 404, "not_found", "chess"),
    ("no such format", "GET", G + "/export.xml", "{token}", None, 404, "not_found", "csv"),
    ("no such code", "GET", "/api/join/NOSUCH-ABCD", None, None, 404, "not_found", "join code"),
    ("no such role", "PUT", G + "/seats/x/bot", "{token}", None, 404, "no_such_role", "'x'"),
    ("no such method", "PATCH", "/api/games", "admin", None, 405, "method_not_allowed", "Method"),
    ("started twice", "POST", G + "/start", "{token}", None, 409, "conflict", "running"),
    ("clone ahead", "POST", G + "/clone", "{token}", {"round": 5}, 409, "conflict", "round"),
    ("settings []", *CREATE, {**BEER, "settings": []}, 422, INVALID, "settings"),
    ('settings ""', *CREATE, {**BEER, "settings": ""}, 422, INVALID, "settings"),
    ("settings 0", *CREATE, {**BEER, "settings": 0}, 422, INVALID, "settings"),
    ("settings false", *CREATE, {**BEER, "settings": False}, 422, INVALID, "settings"),
    ("unknown setting", *CREATE, {**BEER, "settings": {"x": 1}}, 422, INVALID, "'x'"),
    ("no kind", *CREATE, {}, 422, INVALID, "kind"),
    ("kind not a string", *CREATE, {"kind": 3}, 422, INVALID, "kind"),
    ("title too long", *CREATE, {**BEER, "title": "x" * 201}, 422, INVALID, "title"),
    ("seed negative", *CREATE, {**BEER, "seed": -1}, 422, INVALID, "seed"),
    ("seed not whole", *CREATE, {**BEER, "seed": 1.5}, 422, INVALID, "seed"),
    ("round_seconds 0.5", *CREATE, {**BEER, "round_seconds": 0.5}, 422, INVALID, "round_seconds"),
    ("round_seconds 86401", *CREATE, {**BEER, "round_seconds": 86401}, 422, INVALID, "round_"),
    ("open_join 1", *CREATE, {**BEER, "open_join": 1}, 422, INVALID, "open_join"),
    ("deadline empty", *DEADLINE, {}, 422, INVALID, "one of"),
    ("deadline two", *DEADLINE, {"seconds": 5, "extend": 5}, 422, INVALID, "one of"),
    ("deadline clear false", *DEADLINE, {"clear": False}, 422, INVALID, "one of"),
    ("deadline clear 1", *DEADLINE, {"clear": 1}, 422, INVALID, "clear"),
    ("deadline 0", *DEADLINE, {"seconds": 0}, 422, INVALID, "86400"),
    ("deadline 86401", *DEADLINE, {"extend": 86401}, 422, INVALID, "86400"),
    ("class deadline", *CLASS_DEADLINE, {"extend": -1}, 422, INVALID, "86400"),
    ("no teams", *SESSIONS, BEER, 422, INVALID, "teams"),
    ("teams -1", *SESSIONS, {**BEER, "teams": -1}, 422, INVALID, "teams"),
    ("teams 1001", *SESSIONS, {**BEER, "teams": 1001}, 422, INVALID, "teams"),
    ("clone without round", "POST", G + "/clone", "{token}", {}, 422, INVALID, "round"),
    ("a page of 0", "GET", "/api/games?limit=0", "admin", None, 422, INVALID, "limit"),
    ("not a cursor", "GET", "/api/games?after=x", "admin", None, 422, INVALID, "after"),
    ("no such policy", *BOT, {"policy": "x"}, 422, INVALID, "policy"),
    ("params not an object", *BOT, {"policy": PASS, "params": []}, 422, INVALID, "params"),
    ("no such parameter", *BOT, {"policy": PASS, "params": {"x": 1}}, 422, INVALID, "'x'"),
    ("a second Ann", *JOIN, ANN, 409, "name_taken", "rejoin code"),
    ("another's rejoin code", *JOIN, {**ANN, "rejoin": "XXXXXX"}, 409, "name_taken", "not Ann's"),
    ("no client id", *JOIN, {"name": "Bo"}, 422, INVALID, "client_id"),
    ("a name of spaces", *JOIN, {"name": "  ", "client_id": "device-00"}, 422, INVALID, "'name'"),
    ("no such lobby", "GET", S + "SNOSUCH/lobby", None, None, 404, "not_found", "SNOSUCH"),
    ("the class token as a student's", "GET", S + "{lobby}/lobby/me", "{ltoken}", None, 401,
     "bad_token", "student"),
    ("a student's token on teams", "POST", S + "{lobby}/teams", "{ann}", None, 401, "bad_token",
     "control"),
    ("teams in no order", "POST", S + "{lobby}/teams", "{ltoken}", {"order": "abc"}, 422, INVALID,
     "order"),
    ("a move without a role", "PUT", S + "{lobby}/students/p1/seat", "{ltoken}", {"game_id": "X"},
     422, INVALID, "role"),
    ("no such student", "DELETE", S + "{lobby}/students/p9", "{ltoken}", None, 404, "not_found",
     "p9"),
    ("an empty message", "POST", S + "{lobby}/message", "{ltoken}", {"text": " "}, 422, INVALID,
     "text"),
    ("no such preset", "DELETE", "/api/presets/none", "admin", None, 404, "not_found", "preset"),
    ("a preset of no kind", "PUT", "/api/presets/x", "admin", {}, 422, INVALID, "kind"),
]  # fmt: skip


@pytest.fixture(scope="module")
def made(server: ServerProcess) -> dict[str, str]:
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "autostart": True}).json()
        other = http.post("/api/games", json={"kind": "beer"}).json()
        session = http.post("/api/sessions", json={"kind": "beer", "teams": 1}).json()
        # A clone of a class's game stays in the class, with a token of its own.
        one = session["games"][0]["game_id"]
        clone = http.post(f"/api/games/{one}/clone", json={"round": 0}).json()
        lobby = http.post("/api/sessions", json={"kind": "beer", "teams": 0}).json()
        ann = {"name": "Ann", "client_id": "first-device"}
        joined = http.post(f"/api/sessions/{lobby['session_id']}/lobby", json=ann).json()
    return {
        "lobby": lobby["session_id"],
        "ltoken": lobby["facilitator_token"],
        "ann": joined["token"],
        "admin": ADMIN_KEY,
        "game": game["game_id"],
        "token": game["facilitator_token"],
        "other": other["facilitator_token"],
        "session": session["session_id"],
        "stoken": session["facilitator_token"],
        "sgame": clone["facilitator_token"],
    }


def request(server: ServerProcess, made: dict[str, str], case: tuple[Any, ...]) -> httpx.Response:
    _, method, path, credential, body, *_ = case
    headers = {}
    if credential is not None:
        headers["Authorization"] = "Bearer " + made.get(credential, credential.format(**made))
    kw: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    with httpx.Client(base_url=server.url, timeout=10, headers=headers) as http:
        return http.request(method, path.format(**made), **kw)


@pytest.mark.parametrize("case", REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_as_the_page_says(
    server: ServerProcess, made: dict[str, str], case: tuple[Any, ...]
) -> None:
    *_, status, code, word = case
    response = request(server, made, case)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and word in error["message"], error
    assert error_table()[code] == str(status)


def test_every_code_in_the_table_is_provoked_above_but_those_that_cannot_be() -> None:
    assert {case[6] for case in REFUSED} == set(error_table()) - UNPROVOKED


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "beer", "seed": 2**53 - 1},
        {"kind": "beer", "seed": 3.0},
        {"kind": "beer", "title": "x" * 200, "round_seconds": 86400},
        {"kind": "beer", "settings": None, "title": None, "seed": None, "round_seconds": 1},
        {"kind": "beer", "unknown": "ignored"},
    ],
)
def test_taken_as_the_page_says(server: ServerProcess, body: dict[str, Any]) -> None:
    with server.http() as http:
        response = http.post("/api/games", json=body)
    assert response.status_code == 201, response.text


def test_deadline_forms(server: ServerProcess, made: dict[str, str]) -> None:
    with server.http(made["token"]) as http:
        path = f"/api/games/{made['game']}/deadline"
        set_ = http.post(path, json={"seconds": 100}).json()["deadline"]
        extended = http.post(path, json={"extend": 50}).json()["deadline"]
        assert extended == pytest.approx(set_ + 50)
        assert http.post(path, json={"clear": True}).json()["deadline"] is None
        assert http.post(path, json={"seconds": 5, "clear": False}).status_code == 200
