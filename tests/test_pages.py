"""The pages take the protocol from the server: no page under ``static/`` keeps its own copy.

The server serves ``/protocol.js``, made from :mod:`gameserver.protocol`; a page that wrote
``4002`` or ``"seat_taken"`` itself would silently disagree with the server the day either
changes. This reads every page's JavaScript (plain Python, no browser) and refuses:

- a declaration of a name ``/protocol.js`` exports, or a use of one not imported from it;
- ``CLOSE.X``, ``ERROR.X`` or ``STATUS.X`` for an ``X`` that ``/protocol.js`` does not have (in
  JavaScript that is ``undefined``, not an error);
- a number that is a close code, and a string that is an error code or a status.

``tests/test_browser.py`` imports the served ``/protocol.js`` in Chromium.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameserver.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    GameStatus,
    javascript_constants,
)
from gameserver.server.newgame import MAX_TEAMS

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGES = sorted(STATIC.glob("*.js"))  # static/vendor/ is a third party's, not a page
EXPORTED = re.findall(r"^export const (\w+) =", javascript_constants(), re.M)
MEMBERS = {
    "CLOSE": {code.name for code in CloseCode},
    "ERROR": {code.name for code in ErrorCode},
    "STATUS": {status.name for status in GameStatus},
}
CLOSE_CODES = {int(code) for code in CloseCode}
WORDS = {str(code) for code in ErrorCode} | {str(status) for status in GameStatus}

#: Lines where a string equals a protocol word but is not the protocol's; each says what it is.
#: A DOM id (``$("created")``, ``"data-testid": "created"``) is recognised without a line here.
NOT_PROTOCOL = {
    r'onState\("superseded"|state === "superseded"': "GameSocket's state for a seat taken "
    "elsewhere or reset, reported with the error that came first",
    r'pause: "paused"|end: "ended"': "what the dashboard says once a game is paused or ended",
}


@dataclass(frozen=True)
class Token:
    kind: str  # string, template, number, name, punct, regex
    text: str  # a string's or a whole template's value; the source text otherwise
    line: int
    whole: bool = True  # a template without ${...}


# After these a "/" starts a regular expression; after anything else it divides.
_BEFORE_VALUE = set("(,=:[!&|?{};+-*%<>~^") | {"===", "!==", "=>"}
_KEYWORDS_BEFORE_VALUE = {"return", "typeof", "case", "of", "in"}
_NUMBER = re.compile(r"0[xX][\da-fA-F_]+|\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_$][\w$]*")


def lex(source: str) -> list[Token]:
    """JavaScript's tokens, as far as the checks need: comments dropped; strings, templates
    (interpolations lexed as code), regular expressions and numbers told apart."""
    tokens: list[Token] = []
    templates: list[int] = []  # for each ${ open: the depth of { inside it
    i, n = 0, len(source)
    starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def line() -> int:
        return bisect.bisect_right(starts, i)

    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            i = source.index("*/", i + 2) + 2
        elif c in "'\"":
            j = i + 1
            while source[j] != c:
                j += 2 if source[j] == "\\" else 1
            tokens.append(Token("string", source[i + 1 : j], line()))
            i = j + 1
        elif c == "`" or (c == "}" and templates and templates[-1] == 0):
            if c == "}":
                templates.pop()
            j = i + 1
            while source[j] != "`" and not source.startswith("${", j):
                j += 2 if source[j] == "\\" else 1
            whole = c == "`" and source[j] == "`"
            tokens.append(Token("template", source[i + 1 : j], line(), whole))
            if source[j] == "`":
                i = j + 1
            else:
                templates.append(0)
                i = j + 2
        elif c == "/" and _value_expected(tokens):
            j, in_class = i + 1, False
            while in_class or source[j] != "/":
                if source[j] == "\\":
                    j += 1
                elif source[j] in "[]":
                    in_class = source[j] == "["
                j += 1
            j += 1
            while j < n and source[j].isalpha():
                j += 1
            tokens.append(Token("regex", source[i:j], line()))
            i = j
        elif match := _NUMBER.match(source, i):
            tokens.append(Token("number", match.group(), line()))
            i = match.end()
        elif match := _NAME.match(source, i):
            tokens.append(Token("name", match.group(), line()))
            i = match.end()
        else:
            text = next((op for op in ("===", "!==", "=>") if source.startswith(op, i)), c)
            if templates and text == "{":
                templates[-1] += 1
            elif templates and text == "}":
                templates[-1] -= 1
            tokens.append(Token("punct", text, line()))
            i += len(text)
    return tokens


def _value_expected(tokens: list[Token]) -> bool:
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "punct":
        return last.text in _BEFORE_VALUE
    return last.kind == "name" and last.text in _KEYWORDS_BEFORE_VALUE


def _number(text: str) -> float:
    text = text.replace("_", "")
    return int(text, 16) if text[:2].lower() == "0x" else float(text)


def problems(name: str, source: str) -> list[str]:
    """Every place where the page ``name`` keeps its own copy of the protocol."""
    tokens = lex(source)
    lines = source.splitlines()
    found: list[str] = []
    imported: set[str] = set()
    for k, token in enumerate(tokens):
        if token.text == "import" and token.kind == "name":
            end = next((m for m in range(k, len(tokens)) if tokens[m].text == "from"), k)
            if end > k and tokens[end + 1].text == "/protocol.js":
                imported |= {t.text for t in tokens[k + 1 : end] if t.kind == "name"}
    for k, token in enumerate(tokens):
        where = f"static/{name}:{token.line}"
        before = [t.text for t in tokens[max(0, k - 2) : k]]
        after = tokens[k + 1] if k + 1 < len(tokens) else None
        if token.kind == "name" and token.text in EXPORTED:
            if before[-1:] in (["const"], ["let"], ["var"], ["function"], ["class"]):
                found.append(f"{where}: declares {token.text}; import it from /protocol.js")
            elif before[-1:] != ["."] and token.text not in imported:
                found.append(f"{where}: uses {token.text} without importing it from /protocol.js")
        if token.text in MEMBERS and after is not None and after.text == ".":
            member = tokens[k + 2].text
            if member not in MEMBERS[token.text]:
                found.append(f"{where}: /protocol.js has no {token.text}.{member}")
        if token.kind == "number" and _number(token.text) in CLOSE_CODES:
            neighbours = {before[-1] if before else "", after.text if after else ""}
            # 1000 is also the milliseconds in a second: only as a factor or a divisor.
            if not (_number(token.text) == 1000 and neighbours & {"*", "/"}):
                found.append(f"{where}: close code {token.text}; use CLOSE's name for it")
        if before == ["v", ":"] and token.kind == "number":
            found.append(f"{where}: protocol version {token.text}; use PROTOCOL_VERSION")
        if token.kind in ("string", "template") and token.whole and token.text in WORDS:
            if before in (["$", "("], ["getElementById", "("], ["data-testid", ":"]):
                continue  # an element's id in the page's HTML
            text = lines[token.line - 1]
            if any(re.search(pattern, text) for pattern in NOT_PROTOCOL):
                continue
            found.append(f"{where}: {token.text!r}; use ERROR's or STATUS's name for it")
    return found


def test_no_page_keeps_its_own_copy_of_the_protocol() -> None:
    assert len(PAGES) >= 8, "the pages moved?"
    found = [p for page in PAGES for p in problems(page.name, page.read_text())]
    assert found == []


def test_pages_import_the_protocol_they_speak() -> None:
    sources = {page.name: page.read_text() for page in PAGES}
    assert 'import { CLOSE, ERROR, PROTOCOL_VERSION } from "/protocol.js"' in sources["client.js"]
    assert "v: PROTOCOL_VERSION" in sources["client.js"]  # the hello says the server's version
    for name in ("play.js", "play-view.js", "dash-table.js", "dashboard.js"):
        assert 'from "/protocol.js"' in sources[name], name


def test_every_exception_is_still_needed() -> None:
    """An entry of NOT_PROTOCOL that no line needs any more would hide a real copy later."""
    text = "\n".join(page.read_text() for page in PAGES)
    for pattern in NOT_PROTOCOL:
        assert re.search(pattern, text), pattern


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ("export const PROTOCOL_VERSION = 1;", "declares PROTOCOL_VERSION"),
        ('ws.send(JSON.stringify({ type: "hello", v: 1 }));', "protocol version 1"),
        ("if (event.code === 4002) stop();", "close code 4002"),
        ("ws.close(1000);", "close code 1000"),
        ('if (error.code === "seat_taken") retry();', "'seat_taken'"),
        ("switch (code) { case `round_closed`: break; }", "'round_closed'"),
        ('const over = ["finished", "ended"];', "'finished'"),
        ('const live = new Set(["created", "running", "paused"]);', "'running'"),
        ("const text = `${x ? `a${y}` : 'not_started'}`;", "'not_started'"),
        ('import { ERROR } from "./client.js"; f(ERROR.PAUSED);', "uses ERROR without"),
        ('import { CLOSE } from "/protocol.js"; f(CLOSE.SUPERSEEDED);', "no CLOSE.SUPERSEEDED"),
        ('import { STATUS } from "/protocol.js"; f(STATUS.DONE);', "no STATUS.DONE"),
    ],
)
def test_the_check_finds_a_copy(snippet: str, words: str) -> None:
    found = problems("example.js", snippet)
    assert any(words in problem for problem in found), found


def test_the_check_leaves_other_words_and_numbers_alone() -> None:
    snippet = (
        'import { CLOSE, ERROR, PROTOCOL_VERSION, STATUS } from "/protocol.js";\n'
        "// 4002 and 'seat_taken' in a comment are prose\n"
        "const seconds = (Date.now() - start) / 1000, ms = seconds * 1000;\n"
        'const re = /^max_(\\w+)$/; const words = "paused, 2:00 left";\n'
        '$("superseded").hidden = state === "superseded";\n'
        "ws.close(CLOSE.NORMAL); send({ v: PROTOCOL_VERSION, code: ERROR.SEAT_TAKEN });\n"
        "const over = [STATUS.FINISHED, STATUS.ENDED]; const delay = 4999;\n"
    )
    assert problems("example.js", snippet) == []
    assert PROTOCOL_VERSION == 1 and 4999 not in CLOSE_CODES and 4998 not in CLOSE_CODES


# -- no page knows a game: every game is drawn from its declarations (GET /api/kinds) ---------

#: Words that are one game's knowledge: its name, roles, decisions, figures or round word. A page
#: that holds one in its code (a name or a string, comments aside) draws that game by hand.
GAME_WORDS = {
    "beer",
    "fishery",
    "retailer",
    "wholesaler",
    "distributor",
    "factory",
    "brewery",
    "customers",
    "fleet",
    "boats",
    "fish",
    "order",
    "orders",
    "cases",
    "demand",
    "inventory",
    "backlog",
    "bullwhip",
    "week",
    "weeks",
    "season",
    "quarter",
    "forced",
    "stock",
}
HTML_PAGES = sorted(STATIC.glob("*.html"))


#: Uses of the HTTP API's own ``order`` parameter, a game word too, allowed as written: how a
#: class's teams form (POST /api/sessions/{id}/teams) and how games are listed (GET /api/games).
API_USES = ("{ order: how }", 'order: "newest"')


def game_knowledge(name: str, source: str) -> list[str]:
    """Every game word in the code of page ``name`` (its names, strings and templates)."""
    found = []
    for use in API_USES:
        source = source.replace(use, "")
    for token in lex(source):
        if token.kind not in ("name", "string", "template"):
            continue
        for word in re.findall(r"[A-Za-z]+", token.text):
            if word.lower() in GAME_WORDS:
                found.append(f"static/{name}:{token.line}: {word!r} in {token.text[:40]!r}")
    return found


def html_knowledge(name: str, source: str) -> list[str]:
    text = re.sub(r"<!--.*?-->", "", source, flags=re.S)
    return [
        f"static/{name}: {word!r}"
        for word in re.findall(r"[A-Za-z]+", text)
        if word.lower() in GAME_WORDS
    ]


def test_no_page_names_a_game() -> None:
    found = [p for page in PAGES for p in game_knowledge(page.name, page.read_text())]
    found += [p for page in HTML_PAGES for p in html_knowledge(page.name, page.read_text())]
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        'if (kind === "beer") drawBeer();',
        "const LABEL = `Your order to the ${supplier}`;",
        "const fleets = view.fleet_count;",
        'const word = { x: "week" };',
        "send({ order: 8 }); const how = view.order;",  # not the API's order parameter
    ],
)
def test_the_game_check_finds_game_knowledge(snippet: str) -> None:
    assert game_knowledge("example.js", snippet)


def test_the_game_check_leaves_comments_and_declared_paths_alone() -> None:
    snippet = (
        "// the Beer Game's orders are drawn from its declarations\n"
        "const value = at(view, figure.key); const word = display.round_word;\n"
    )
    assert game_knowledge("example.js", snippet) == []


def test_the_dashboard_takes_as_many_teams_as_the_api() -> None:
    # the form's field holds the limit, and the script checks against the field's
    assert 'Number($("teams").max)' in (STATIC / "dash-create.js").read_text()
    field = re.search(r'<input id="teams"[^>]*max="(\d+)"', (STATIC / "dashboard.html").read_text())
    assert field is not None and int(field.group(1)) == MAX_TEAMS
