"""Seeded generators of bad input for tests/test_fuzz.py: JSON documents with wrong values in
every field, byte-level mutations, WebSocket messages, and requests to every API route.

Everything is drawn from the ``random.Random`` passed in, so a seed replays the same cases (what
the server answers, and so what the fuzzer learns to aim at, may vary with timing). Values that
Python's ``json`` cannot write (a number beyond a double, JSON nested thousands deep, a
5,000-digit integer) go in as placeholders, swapped for their raw text after encoding.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from gameserver.games import GAMES, policies_for
from gameserver.server.api import ACTIONS

#: Placeholders for JSON text Python's encoder cannot produce, and the text they become.
RAW = {
    "@huge@": "1e400",
    "@-huge@": "-1e400",
    "@tiny@": "1e-400",
    "@bigint@": "1" + "0" * 30,
    "@longint@": "9" * 5000,
    "@deep40@": "[" * 40 + "]" * 40,
    "@deep3000@": "[" * 3000 + "]" * 3000,
    "@nan@": "NaN",
    "@infinity@": "Infinity",
}

SCALARS: list[Any] = [
    None, True, False, 0, -1, 1, 3, 36, 2**31, -(2**31), 2**53 - 1, 2**53 + 1, -(2**63),
    2**64 + 1, 0.5, -0.0, 1.5, 3.0, 1e300, -1e300, "", "x", "beer", "sterman", "retailer",
    "factory", "x" * 300, "\u00e9t\u00e9", "\u0000", "\ud800", "\U0001f37a", "<script>",
    "../../etc/passwd", "%00", " ", "1", "true", "null", *RAW,
]  # fmt: skip


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A value of any JSON type, most of them wrong wherever they are put."""
    roll = rng.random()
    if roll < 0.75 or depth > 2:
        return rng.choice(SCALARS)
    if roll < 0.85:
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.95:
        return {rng.choice(["a", "order", "boats", "type", ""]): junk(rng, depth + 1)}
    return "x" * rng.choice([17_000, 70_000])  # over the WebSocket and HTTP size limits


def encode(rng: random.Random, document: Any) -> bytes:
    """``document`` as JSON text, placeholders swapped for their raw text; sometimes with
    non-ASCII written as is, and then lone surrogates become bytes that are not UTF-8."""
    text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
    for placeholder, raw in RAW.items():
        text = text.replace(json.dumps(placeholder), raw)
    return text.encode("utf-8", "surrogatepass")


def mutate(rng: random.Random, data: bytes) -> bytes:
    """``data`` cut short, with a byte changed, inserted or appended: mostly not JSON."""
    if not data:
        return rng.choice([b"", b"{", b"\xff", b"[]", b"null"])
    at = rng.randrange(len(data))
    kind = rng.randrange(5)
    if kind == 0:
        return data[:at]
    if kind == 1:
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if kind == 2:
        return data[:at] + rng.choice([b"\xff", b"\xc3", b"\x00", b'"', b"}", b"]"]) + data[at:]
    if kind == 3:
        return data + rng.choice([b"}", b",", b" garbage", b"\n{}"])
    return rng.choice([b"[]", b"3", b'"text"', b"null", b"true"])


def with_wrong_field(rng: random.Random, valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one field given a wrong value, removed, or a field added."""
    body = dict(valid)
    roll = rng.random()
    if roll < 0.7 and body:
        body[rng.choice(list(body))] = junk(rng)
    elif roll < 0.85 and body:
        del body[rng.choice(list(body))]
    else:
        body[rng.choice(["extra", "type", "__proto__", "x" * 100])] = junk(rng)
    return body


# -- WebSocket messages ---------------------------------------------------------------------


def hello(rng: random.Random, targets: Targets) -> Any:
    """A hello: valid for a fuzz game half the time (a join code, a seat's token, a watch with
    its facilitator's), the other half with one field wrong."""
    base: dict[str, Any] = {"type": "hello", "v": 1}
    form = rng.randrange(3)
    if form == 0 and targets.codes:
        base["join"] = rng.choice(targets.codes)
        if rng.random() < 0.3:
            base["role"] = rng.choice(["retailer", "factory", "nobody"])
        if rng.random() < 0.3:
            base["name"] = rng.choice(["Ann", "x" * 65, ""])
    elif form == 1 and targets.seats:
        base["token"] = rng.choice(targets.seats)
    else:
        game = rng.choice([*targets.games, targets.protected])
        base["watch"] = game
        base["token"] = targets.tokens.get(game, "bad.token")
    return base if rng.random() < 0.5 else with_wrong_field(rng, base)


def message(rng: random.Random, round_hint: int) -> Any:
    """A message after hello: submits near the right round with good and bad decisions, pings,
    syncs, unknown types, a second hello, or anything at all."""
    roll = rng.random()
    if roll < 0.45:
        submit = {
            "type": "submit",
            "round": max(1, round_hint + rng.randint(-1, 1)),
            "id": f"f{rng.randrange(10**6)}",
            "decision": {rng.choice(["order", "boats"]): rng.randint(0, 20)},
        }
        return submit if rng.random() < 0.4 else with_wrong_field(rng, submit)
    if roll < 0.6:
        return {"type": "ping", "id": junk(rng)}
    if roll < 0.7:
        return {"type": "sync"}
    if roll < 0.8:
        return {"type": junk(rng)}
    if roll < 0.85:
        return {"type": "hello", "join": "X"}
    return junk(rng)


@dataclass
class Frame:
    """One WebSocket message to send: text (maybe not UTF-8) or binary."""

    data: bytes
    text: bool


def frame(rng: random.Random, document: Any) -> Frame:
    data = encode(rng, document)
    if rng.random() < 0.1:
        data = mutate(rng, data)
    return Frame(data, text=rng.random() < 0.85)


# -- HTTP requests --------------------------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def create_body(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(list(GAMES))
    spec = rng.choice(GAMES[kind].settings_spec)
    return {
        "kind": kind,
        "settings": {spec.name: junk(rng) if rng.random() < 0.5 else spec.default},
        "title": "fuzz",
        "seed": rng.randrange(1000),
        "open_join": rng.random() < 0.5,
        "round_seconds": rng.choice([None, 5, 60]),
        "autostart": rng.random() < 0.5,
    }


def bot_body(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(list(GAMES))
    policy = rng.choice(list(policies_for(kind).values()))
    params = {
        name: junk(rng) if rng.random() < 0.5 else value for name, value in policy.params.items()
    }
    return {"policy": policy.name, "params": params}


@dataclass
class Targets:
    """What the fuzzer may name in paths: ids that exist (its own, and the game played
    alongside, which it may name only without valid credentials) and ids that do not."""

    games: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # game or session id -> token
    sessions: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    seats: list[str] = field(default_factory=list)  # seat tokens the fuzzer was given
    protected: str = ""  # the game played alongside
    admin_key: str = ""


@dataclass
class HttpRequest:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, bytes]


def _id(rng: random.Random, known: list[str]) -> str:
    if known and rng.random() < 0.6:
        return rng.choice(known)
    return rng.choice(["NOSUCHID", "", "..", "%00", "x" * 300, "%C3%A9", "a b", "S", "0" * 32])


def http_request(rng: random.Random, targets: Targets) -> HttpRequest:
    """A request to one of the API's routes (or a page, or nowhere), usually wrong somehow."""
    game = _id(rng, [*targets.games, targets.protected])
    session = _id(rng, targets.sessions)
    role = rng.choice(["retailer", "factory", "fleet-1", "nobody", "%2e%2e"])
    body: Any = None
    route = rng.randrange(22)  # 21: a path no route has
    if route == 0:
        method, path, body = "POST", "/api/games", create_body(rng)
    elif route == 1:
        method, path, body = (
            "POST",
            "/api/sessions",
            {**create_body(rng), "teams": rng.choice([0, 1, 2, junk(rng)])},
        )
    elif route == 2:
        query = rng.choice(["", "?status=running", "?status=%ff", "?session=" + session])
        method, path = "GET", "/api/games" + query
    elif route == 3:
        method, path = "GET", f"/api/games/{game}" + rng.choice(["", "?view=1"])
    elif route == 4:
        method, path = "DELETE", f"/api/games/{game}"
    elif route == 5:
        method, path, body = "POST", f"/api/games/{game}/clone", {"round": junk(rng)}
    elif route == 6:
        method, path = "GET", f"/api/games/{game}/export.{rng.choice(['json', 'csv', 'xml'])}"
    elif route == 7:
        method, path, body = (
            rng.choice(["PUT", "DELETE"]),
            f"/api/games/{game}/seats/{role}/bot",
            bot_body(rng),
        )
    elif route == 8:
        method, path = "POST", f"/api/games/{game}/seats/{role}/reset"
    elif route == 9:
        method, path = "GET", "/api/join/" + rng.choice([*targets.codes, "NOPE-CODE", "%ff"])
    elif route == 10:
        action = rng.choice([*ACTIONS, "explode"])
        deadline = {"seconds": junk(rng), "extend": junk(rng), "clear": junk(rng)}
        method, path, body = "POST", f"/api/games/{game}/{action}", deadline
    elif route == 11:
        method, path = "GET", f"/api/sessions/{session}"
    elif route == 12:
        method, path = "POST", f"/api/sessions/{session}/{rng.choice(ACTIONS)}"
        body = {"seconds": junk(rng)}
    elif route == 13:
        method, path = "GET", rng.choice(["/health", "/metrics", "/protocol.js", "/api/kinds"])
    elif route == 15:
        method, path, body = "POST", f"/api/games/{game}/bots", bot_body(rng)
    elif route == 16:  # the class link: what it opens, and joining it
        method, path = rng.choice(["GET", "POST"]), f"/api/sessions/{session}/lobby"
        name = rng.choice(["Ann", " ann ", "", "x" * 70, "a\x00b", junk(rng)])
        client_id = rng.choice(["device-0001", "short", "d" * 80, junk(rng)])
        body = {"name": name, "client_id": client_id, "rejoin": rng.choice([None, "ABCDEF"])}
    elif route == 17:  # a student's long-poll: never waiting, so the fuzzer goes on
        query = rng.choice(["", "?since=0&wait=0", "?since=x", "?wait=99", "?since=99999&wait=0"])
        method, path = "GET", f"/api/sessions/{session}/lobby/me{query}"
    elif route == 18:
        method, path = rng.choice(
            [("PUT", "roster"), ("POST", "teams"), ("POST", "message"), ("POST", "bots")]
        )
        path = f"/api/sessions/{session}/{path}"
        body = rng.choice(
            [{"names": junk(rng)}, {"order": junk(rng), "seed": junk(rng)}, {"text": junk(rng)},
             bot_body(rng)]
        )  # fmt: skip
    elif route == 19:
        student = rng.choice(["p1", "p2", "p999", "%2e%2e", ""])
        export = "/export." + rng.choice(["json", "csv", "x"])
        method, path = rng.choice(
            [("PUT", f"/students/{student}/seat"), ("DELETE", f"/students/{student}/seat"),
             ("DELETE", f"/students/{student}"), ("GET", export)]
        )  # fmt: skip
        path = f"/api/sessions/{session}{path}"
        body = {"game_id": game, "role": role}
    elif route == 20:
        name = rng.choice(["Short", "a b", "%00", "x" * 100, "Long%20game"])
        method, path = rng.choice([("GET", "/api/presets"), ("PUT", f"/api/presets/{name}"),
                                   ("DELETE", f"/api/presets/{name}")])  # fmt: skip
        body = create_body(rng)
    elif route == 14:
        method = "GET"
        pages = ["/", "/play", "/dashboard", "/static/client.js", "/static/nope.js"]
        path = rng.choice([*pages, "/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml"])
    else:
        method, path = "GET", rng.choice(["/api", "/api/games/", "/nothing", "/" + "x" * 5000])
    if rng.random() < 0.15:
        method = rng.choice(METHODS)  # often one the route does not take
    content = None
    if body is not None or rng.random() < 0.1:
        doc = body if body is not None and rng.random() < 0.8 else junk(rng)
        if isinstance(doc, dict) and rng.random() < 0.5:
            doc = with_wrong_field(rng, doc)
        content = encode(rng, doc)
        if rng.random() < 0.1:
            content = mutate(rng, content)
    return HttpRequest(method, path, content, _headers(rng, targets, game, session))


def _headers(rng: random.Random, targets: Targets, game: str, session: str) -> dict[str, bytes]:
    headers: dict[str, bytes] = {}
    roll = rng.random()
    own = targets.tokens.get(game) or targets.tokens.get(session)
    if game == targets.protected and roll < 0.7:
        # Never a credential that controls the game played alongside: only wrong ones.
        roll = 0.8
    if roll < 0.35:
        headers["authorization"] = b"Bearer " + targets.admin_key.encode()
    elif roll < 0.6 and own:
        headers["authorization"] = b"Bearer " + own.encode()
    elif roll < 0.8:
        fake = b"Bearer " + targets.protected.encode() + b".fake"
        wrong = [b"Bearer", b"Basic YWRtaW4=", b"Bearer \xff\xfe", b"bearer x.y", fake]
        wrong.append(b"Bearer " + b"k" * 5000)
        headers["authorization"] = rng.choice(wrong)
    if rng.random() < 0.7:
        headers["content-type"] = rng.choice(
            [b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b"\xff"]
        )
    return headers
