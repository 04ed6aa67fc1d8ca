"""The OpenAPI document at /api/openapi.json: served, valid, complete, and true to the server.

Every route the app serves is in the document and in docs/api.md; every route docs/api.md
documents is in the document; and a running server's real answers, successes and errors,
fit the schemas and status codes the document declares for them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.responses import Response
from starlette.routing import Route

from gameserver.server import openapi
from gameserver.server.app import STATIC, create_app
from gameserver.server.config import Config
from tests.support import ADMIN_KEY, ROOT, ServerProcess
from tests.support import markdown_table as table
from tests.test_model_files import TOML, XMILE

API_DOC = (ROOT / "docs" / "api.md").read_text()
METHOD_PATH = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")


def documented() -> set[tuple[str, str]]:
    """(method, path) of every ``### `METHOD /path` `` heading of docs/api.md; ``{action}``
    stands for each action of the actions table."""
    actions = [row[0].strip("`") for row in table(API_DOC, "| action | body | effect |")]
    out = set()
    for line in API_DOC.splitlines():
        if line.startswith("### "):
            for method, target in METHOD_PATH.findall(line):
                path = target.split("?")[0]  # a query shown in a heading is not the path
                paths = (
                    [path.replace("{action}", a) for a in actions] if "{action}" in path else [path]
                )
                out |= {(method, p) for p in paths}
    return out


def served_by_the_app(data: Path) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route the app serves, except its HTML pages."""
    app = create_app(Config(data=data, admin_key=ADMIN_KEY))
    pages = {"/" + p.name.removesuffix(".html").replace("index", "") for p in STATIC.glob("*.html")}
    out = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path not in pages:
            out |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return out


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in document["paths"].items() for m in item}


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    response = httpx.get(server.url + "/api/openapi.json", timeout=10)  # no credential
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    data: dict[str, Any] = json.loads(response.content)
    return data


def test_the_document_is_served_and_valid(document: dict[str, Any]) -> None:
    assert {"openapi", "info", "paths"} <= set(document)
    assert document["openapi"] == "3.1.0" and document["info"]["version"]
    validate(document)  # openapi-spec-validator: the OpenAPI 3.1 schema and its references
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"] and operation["responses"], (method, path)


def test_every_route_the_app_serves_is_in_the_document_and_in_api_md(
    document: dict[str, Any], tmp_path: Path
) -> None:
    served = served_by_the_app(tmp_path)
    assert ("GET", "/api/openapi.json") in served and ("POST", "/api/games") in served
    assert served - operations(document) == set()
    assert served - documented() == set()
    assert operations(document) - served == set()


def test_every_route_api_md_documents_is_in_the_document(document: dict[str, Any]) -> None:
    assert ("POST", "/api/sessions/{session_id}/close-round") in documented()
    assert documented() - operations(document) == set()


def test_a_route_without_a_declaration_is_refused_by_name() -> None:
    async def endpoint(request: Any) -> Response:
        return Response()

    routes = [Route(path, endpoint, methods=[m]) for m, path in openapi.OPERATIONS]
    assert openapi.document(routes)["paths"]
    with pytest.raises(LookupError, match=r"without a declaration.*'GET /api/new'"):
        openapi.document([*routes, Route("/api/new", endpoint)])
    with pytest.raises(LookupError, match=r"without a route: \['GET /health'\]"):
        openapi.document(routes[1:])


def test_every_operation_is_served_by_the_real_server(
    server: ServerProcess, document: dict[str, Any]
) -> None:
    values = {
        "game_id": "NOSUCH",
        "session_id": "SNOSUCH",
        "role": "x",
        "code": "X-Y",
        "fmt": "json",
        "student_id": "p1",
        "name": "x",
    }
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        for method, template in operations(document):
            response = anonymous.request(method, template.format(**values))
            # Starlette answers a path no route has with 404 "Not Found", a method with 405.
            assert response.status_code != 405, (method, template)
            if response.status_code == 404:
                assert response.json()["error"]["message"] != "Not Found", (method, template)


class Checker:
    """Calls the real server and holds each answer against what the document declares."""

    def __init__(self, server: ServerProcess, document: dict[str, Any]) -> None:
        self.server = server
        self.document = document
        self.registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(document))
        self.answered: set[tuple[str, str, int]] = set()

    def __call__(
        self, method: str, template: str, token: str | None = ADMIN_KEY, **kw: Any
    ) -> httpx.Response:
        values = {k: kw.pop(k) for k in list(kw) if f"{{{k}}}" in template}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=self.server.url, timeout=10, headers=headers) as http:
            response = http.request(method, template.format(**values), **kw)
        operation = self.document["paths"][template][method.lower()]
        declared = operation["responses"].get(str(response.status_code))
        assert declared, (method, template, response.status_code, response.text)
        media = response.headers.get("content-type", "").split(";")[0]
        content = {m.split(";")[0]: c for m, c in declared.get("content", {}).items()}
        assert (media in content) if content else not response.content, (method, template)
        if media == "application/json":
            schema = json.dumps(content[media]["schema"]).replace('"#/', '"urn:api#/')
            validator = Draft202012Validator(json.loads(schema), registry=self.registry)
            errors = [e.message for e in validator.iter_errors(response.json())]
            assert not errors, (method, template, errors[:3])
        self.answered.add((method, template, response.status_code))
        return response


def test_real_answers_fit_the_declared_schemas(
    server: ServerProcess, document: dict[str, Any]
) -> None:
    call = Checker(server, document)
    for path in ("/health", "/protocol.js", "/api/openapi.json", "/api/kinds", "/metrics"):
        assert call("GET", path).status_code == 200
    assert call("GET", "/metrics", None).status_code == 401
    body = {"kind": "beer", "title": "T", "open_join": True, "round_seconds": 600}
    game = call("POST", "/api/games", json=body).json()
    assert call("POST", "/api/games", json={"kind": "beer", "settings": []}).status_code == 422
    assert call("POST", "/api/games", json={"kind": "chess"}).status_code == 404
    assert call("POST", "/api/games", None, json={"kind": "beer"}).status_code == 401
    assert call("POST", "/api/games", json={"kind": "beer", "seed": 2**60}).status_code == 400
    assert call("GET", "/api/games", params={"status": "created"}).status_code == 200
    page = {"limit": 1, "order": "newest", "after": "9e9_Z"}
    assert call("GET", "/api/games", params=page).json()["games"][0]["game_id"] == game["game_id"]
    assert call("GET", "/api/games", params={"limit": 0}).status_code == 422
    token, game_id = game["facilitator_token"], game["game_id"]
    g = "/api/games/{game_id}"
    assert call("GET", g, token, game_id=game_id, params={"view": "1"}).json()["view"]
    assert call("GET", g, "NOSUCH.x", game_id="NOSUCH").status_code == 404
    assert call("GET", g, "other.x", game_id=game_id).status_code == 401
    for action, json_body in [
        ("start", None),
        ("deadline", {"extend": 30}),
        ("pause", None),
        ("resume", None),
        ("close-round", {}),
    ]:
        response = call("POST", f"{g}/{action}", token, game_id=game_id, json=json_body)
        assert response.status_code == 200, response.text
    assert call("POST", f"{g}/start", token, game_id=game_id).status_code == 409
    assert call("POST", f"{g}/deadline", token, game_id=game_id, json={}).status_code == 422
    bot = f"{g}/seats/{{role}}/bot"
    assert call(
        "PUT", bot, token, game_id=game_id, role="factory", json={"policy": "pass-through"}
    ).json()["seats"][3]["bot"]
    assert (
        call(
            "PUT", bot, token, game_id=game_id, role="brewer", json={"policy": "pass-through"}
        ).status_code
        == 404
    )
    assert call("DELETE", bot, token, game_id=game_id, role="factory").status_code == 200
    assert (
        call(
            "POST", f"{g}/seats/{{role}}/reset", token, game_id=game_id, role="retailer"
        ).status_code
        == 200
    )
    assert call("GET", "/api/join/{code}", None, code=game["open_join"]["code"]).json()["open"]
    assert call("GET", "/api/join/{code}", None, code="NOSUCH-CODE").status_code == 404
    for fmt in ("json", "csv"):
        assert (
            call("GET", f"{g}/export.{{fmt}}", token, game_id=game_id, fmt=fmt).status_code == 200
        )
    clone = call("POST", f"{g}/clone", token, game_id=game_id, json={"round": 1}).json()
    assert clone["cloned_from"] == {"game_id": game_id, "round": 1}
    assert call("POST", f"{g}/clone", token, game_id=game_id, json={"round": 9}).status_code == 409
    assert call("POST", f"{g}/end", token, game_id=game_id).status_code == 200
    assert (
        call("DELETE", g, clone["facilitator_token"], game_id=clone["game_id"]).status_code == 204
    )
    made = call("POST", "/api/sessions", json={"kind": "beer", "teams": 2}).json()
    s, sid, stoken = "/api/sessions/{session_id}", made["session_id"], made["facilitator_token"]
    assert len(call("GET", s, stoken, session_id=sid).json()["games"]) == 2
    assert call("GET", s, "SOTHER.x", session_id=sid).status_code == 401
    for action, json_body, ok in [
        ("start", None, True),
        ("deadline", {"seconds": 60}, True),
        ("pause", None, True),
        ("resume", None, True),
        ("close-round", None, True),
        ("end", None, True),
        ("start", None, False),  # every game is over: refused game by game, not as a whole
    ]:
        response = call("POST", f"{s}/{action}", stoken, session_id=sid, json=json_body)
        assert [r["ok"] for r in response.json()["results"]] == [ok, ok], response.text
    tank = {
        "description": {"name": "tank.toml", "text": TOML},
        "model": {"name": "tank.xmile", "text": XMILE.format(fill="Player_A_Pour")},
    }
    assert call("POST", "/api/models", None, json=tank).status_code == 401
    assert call("POST", "/api/models", json=tank).status_code == 201
    assert call("POST", "/api/models", json=tank).status_code == 409
    broken = {**tank, "model": {"name": "tank.xmile", "text": "<xmile>"}}
    assert call("POST", "/api/models", json=broken).status_code == 422
    assert call("GET", "/api/models").json()["models"][0]["kind"] == "tank"
    lobby_answers(call)
    assert {(m, t) for m, t, status in call.answered if status < 300} == operations(document)


def lobby_answers(call: Checker) -> None:
    """A class with a lobby: students join, teams form, a move, a message, bots, the export."""
    made = call("POST", "/api/sessions", json={"kind": "beer", "teams": 0, "title": "P3"}).json()
    s, sid, stoken = "/api/sessions/{session_id}", made["session_id"], made["facilitator_token"]
    assert made["games"] == [] and made["lobby"]["link"].endswith(f"/play?class={sid}")
    assert call("GET", s + "/lobby", None, session_id=sid).json()["students"] == 0
    names = ["Ann", "Bo", "Cy", "Di", "Ed"]
    joined = [
        call(
            "POST", s + "/lobby", None, session_id=sid, json={"name": n, "client_id": f"device-{n}"}
        )
        for n in names
    ]
    assert [r.status_code for r in joined] == [201] * 5
    again = {"name": " ann ", "client_id": "device-Ann"}
    assert call("POST", s + "/lobby", None, session_id=sid, json=again).status_code == 200
    other = {"name": "Ann", "client_id": "another-device"}
    assert call("POST", s + "/lobby", None, session_id=sid, json=other).status_code == 409
    ann = joined[0].json()["token"]
    me = call("GET", s + "/lobby/me", ann, session_id=sid, params={"since": 0, "wait": 0})
    assert me.json()["waiting"] == names and me.json()["waiting_count"] == len(names)
    assert call("GET", s + "/lobby/me", ann, session_id=sid, params={"wait": 99}).status_code == 422
    roster = {"names": [*names, "Fay"]}
    assert call("PUT", s + "/roster", stoken, session_id=sid, json=roster).json()["roster"]
    lobby = call("POST", s + "/teams", stoken, session_id=sid, json={"order": "random", "seed": 3})
    teams = lobby.json()["teams"]
    assert len(teams) == 2
    assert call("POST", s + "/teams", stoken, session_id=sid).status_code == 409
    seat = s + "/students/{student_id}/seat"
    to = {"game_id": teams[1], "role": "factory"}
    moved = call("PUT", seat, stoken, session_id=sid, student_id="p1", json=to).json()
    assert moved["students"][0]["team"] == 2
    assert call("DELETE", seat, stoken, session_id=sid, student_id="p2").status_code == 200
    removed = call("DELETE", s + "/students/{student_id}", stoken, session_id=sid, student_id="p3")
    assert len(removed.json()["students"]) == 4
    assert call("POST", s + "/message", stoken, session_id=sid, json={"text": "Hi"}).status_code
    assert call("POST", s + "/bots", stoken, session_id=sid).json()["session_id"] == sid
    g = "/api/games/{game_id}/bots"
    assert call("POST", g, stoken, game_id=teams[0], json={"policy": "pass-through"}).json()
    for fmt in ("json", "csv"):
        assert call("GET", s + "/export.{fmt}", stoken, session_id=sid, fmt=fmt).status_code == 200
    preset = {"kind": "beer", "settings": {"weeks": 20}, "title": "Short"}
    assert call("PUT", "/api/presets/{name}", name="Short game", json=preset).json()["presets"]
    assert call("GET", "/api/presets").json()["presets"][0]["name"] == "Short game"
    assert call("DELETE", "/api/presets/{name}", name="Short game").json() == {"presets": []}
    assert call("DELETE", "/api/presets/{name}", name="Short game").status_code == 404
