"""The transports against slow and malformed clients: a real server process and raw sockets.

Each test sends bytes no well-behaved client library would, and checks what a client sees (a
status, a JSON error, a close code, the connection closed within a bound) and that the server
logged no traceback and still serves everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from gameserver.server.transport import (
    ADMITTED_AT_MOST,
    ADMITTED_PER_SECOND,
    ADMITTED_PER_TURN,
    Admission,
    Take,
    _whole_upgrade,
)
from gameserver.server.websocket import _plain_accept
from tests.support import (
    ADMIN_KEY,
    UPGRADE,
    RawConnection,
    ServerProcess,
    WSClient,
    client_frame,
    close_code_of,
    join,
    server_frames,
)

#: Short bounds keep the tests short; the defaults (10 s) are the same code.
REQUEST_TIMEOUT = 2.0
HELLO_TIMEOUT = 2.0
#: Slack for a shared, loaded machine: closed within the bound plus this.
SLACK = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("transport"),
        env={
            "GAMESERVER_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
            "GAMESERVER_HELLO_TIMEOUT": str(HELLO_TIMEOUT),
        },
    )
    proc.start()
    yield proc
    proc.kill()
    assert "Traceback" not in proc.log()


@pytest.fixture
def mark(server: ServerProcess) -> int:
    """Where the server log stood when the test began: each test answers for its own lines."""
    return len(server.log())


def no_traceback(server: ServerProcess, mark: int) -> None:
    log = server.log()[mark:]
    assert "Traceback" not in log, log[log.find("Traceback") - 500 :][:3000]


def new_game(server: ServerProcess) -> dict[str, object]:
    with server.http() as http:
        response = http.post("/api/games", json={"kind": "beer", "autostart": True})
        assert response.status_code == 201
        game: dict[str, object] = response.json()
        return game


#: A hello with a code no game has: a working WebSocket session answers and refuses it.
HELLO_OF_NO_GAME = client_frame(0x1, orjson.dumps({"type": "hello", "join": "NOGAME-NOSEAT"}))


async def refused_the_code_of_no_game(conn: RawConnection) -> None:
    """After :data:`HELLO_OF_NO_GAME`: the session's refusal, and then the close."""
    await conn.read_until_closed(HELLO_TIMEOUT + SLACK)
    answer = orjson.loads(server_frames(conn.received)[0][1])
    assert answer["type"] == "error" and answer["code"] == "not_found", answer


# -- requests that arrive too slowly, or never ------------------------------------------------


async def drip(conn: RawConnection, every: float = 0.5) -> float | None:
    """Send a byte of a request header every ``every`` seconds until the server closes the
    connection; seconds from opening to the close (None: still open past the bound)."""
    while time.monotonic() - conn.opened < REQUEST_TIMEOUT + SLACK:
        closed = await conn.read_until_closed(every)
        if closed is not None:
            return closed
        await conn.send(b"X")
    return None


async def test_a_request_head_sent_a_byte_at_a_time_gets_408_within_the_bound(
    server: ServerProcess,
    mark: int,
) -> None:
    conn = await RawConnection.open(server.port)
    await conn.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    closed = await drip(conn)
    assert closed is not None and REQUEST_TIMEOUT - 0.2 <= closed <= REQUEST_TIMEOUT + SLACK
    assert conn.status() == 408
    error = conn.json_body()["error"]
    assert error == {"code": "http_error", "message": "no complete request within 2 s"}
    no_traceback(server, mark)


async def test_a_connection_that_sends_nothing_is_closed_silently(server: ServerProcess) -> None:
    conn = await RawConnection.open(server.port)
    closed = await conn.read_until_closed(REQUEST_TIMEOUT + SLACK)
    assert closed is not None and closed >= REQUEST_TIMEOUT - 0.2
    assert conn.received == b""


async def test_a_body_sent_too_slowly_gets_408(server: ServerProcess, mark: int) -> None:
    conn = await RawConnection.open(server.port)
    head = (
        b"POST /api/games HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n"
    )
    await conn.send(head + b'{"kind": ')
    closed = await conn.read_until_closed(REQUEST_TIMEOUT + SLACK)
    assert closed is not None and closed >= REQUEST_TIMEOUT - 0.2
    assert conn.status() == 408 and conn.json_body()["error"]["code"] == "http_error"
    no_traceback(server, mark)


async def test_many_slow_clients_do_not_hold_the_server(server: ServerProcess) -> None:
    """Slowloris: sockets that each send a byte now and then are all closed in time, and a
    normal client is answered at once meanwhile."""
    conns = [await RawConnection.open(server.port) for _ in range(50)]
    for conn in conns:
        await conn.send(b"GET /health HTTP/1.1\r\nX-Slow: ")
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        response = await client.get("/health")
    assert response.status_code == 200 and time.monotonic() - started < 1.0

    closed = await asyncio.gather(*(drip(conn) for conn in conns))
    assert all(at is not None and at <= REQUEST_TIMEOUT + SLACK for at in closed), closed
    assert all(conn.status() == 408 for conn in conns)


async def test_an_upgrade_and_then_silence_gets_the_hello_timeout(server: ServerProcess) -> None:
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE)
    assert (await conn.read_head()).startswith(b"HTTP/1.1 101")
    await conn.read_until_closed(HELLO_TIMEOUT + SLACK)
    frames = server_frames(conn.received)
    assert close_code_of(frames) == 1008
    assert orjson.loads(frames[0][1])["code"] == "closing"
    assert time.monotonic() - conn.opened >= HELLO_TIMEOUT - 0.2


@pytest.mark.parametrize(
    "pieces",
    [
        [UPGRADE],  # whole in one read: straight to the WebSocket protocol
        [UPGRADE[:40], UPGRADE[40:]],  # in two: through h11 first, as any other request
        [UPGRADE.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade")],
        [UPGRADE.replace(b"Upgrade: websocket", b"Upgrade: WebSocket")],
        [UPGRADE.replace(b"GET /ws ", b"GET /ws?from=test ")],
        # A second Connection header: websockets reads this one.
        [UPGRADE.replace(b"\r\n\r\n", b"\r\nConnection: Upgrade\r\n\r\n")],
    ],
    ids=["whole", "in-two-reads", "connection-list", "upgrade-case", "query", "two-connection"],
)
async def test_an_upgrade_is_upgraded_however_it_arrives(
    server: ServerProcess, mark: int, pieces: list[bytes]
) -> None:
    conn = await RawConnection.open(server.port)
    for piece in pieces:
        await conn.send(piece)
        await asyncio.sleep(0.05)
    # The same answer whichever way it went (websockets', or the server's own for a plain
    # upgrade that came whole): the accept key of RFC 6455's example, and the date.
    status, date, *rest = (await conn.read_head()).split(b"\r\n")
    assert status == b"HTTP/1.1 101 Switching Protocols"
    assert re.fullmatch(rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", date), date
    assert rest == [
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ]
    await conn.send(HELLO_OF_NO_GAME)
    await refused_the_code_of_no_game(conn)
    no_traceback(server, mark)


async def test_a_request_for_the_websocket_path_without_upgrade_is_plain_http(
    server: ServerProcess, mark: int
) -> None:
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE.replace(b"Connection: Upgrade\r\n", b""))
    await conn.read_until_closed(2.0)
    assert conn.status() == 404
    no_traceback(server, mark)


async def test_normal_clients_are_unaffected(server: ServerProcess) -> None:
    """A kept-alive HTTP connection is reused after a pause, and a joined WebSocket stays
    open past the request timeout."""
    game = new_game(server)
    codes = game["join"]
    assert isinstance(codes, list)
    player, _, _ = await join(server.ws_url, codes[0]["code"])
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        assert (await client.get("/health")).status_code == 200
        await asyncio.sleep(REQUEST_TIMEOUT + 0.5)
        assert (await client.get("/api/kinds")).status_code == 200
    await player.send({"type": "ping", "id": "still-here"})
    assert (await player.expect("pong"))["id"] == "still-here"
    await player.close()


async def test_messages_arrive_as_whole_text_frames(server: ServerProcess) -> None:
    """Read off the socket: after the 101, the welcome and the sync are each one final text
    frame, unmasked, whose length (the sync's takes the 16-bit form) spans its JSON."""
    game = new_game(server)
    codes = game["join"]
    assert isinstance(codes, list)
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE)
    assert (await conn.read_head()).startswith(b"HTTP/1.1 101")
    await conn.send(client_frame(1, orjson.dumps({"type": "hello", "join": codes[1]["code"]})))
    while len(server_frames(conn.received)) < 2:
        chunk = await asyncio.wait_for(conn.reader.read(65536), 5)
        assert chunk, "closed before the welcome and the sync"
        conn.received += chunk
    frames = server_frames(conn.received)
    assert [opcode for opcode, _ in frames[:2]] == [1, 1], frames
    assert [orjson.loads(payload)["type"] for _, payload in frames[:2]] == ["welcome", "sync"]
    assert conn.received[0] == 0x81  # FIN and text, nothing before the first frame
    sync_at = conn.received.index(frames[1][1]) - 4
    assert len(frames[1][1]) >= 126 and conn.received[sync_at : sync_at + 2] == b"\x81\x7e"
    conn.close()


# -- requests no library sends ------------------------------------------------------------------


async def test_a_text_frame_that_is_not_utf8_closes_1007_with_one_log_line(
    server: ServerProcess,
    mark: int,
) -> None:
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE)
    await conn.read_head()
    await conn.send(client_frame(1, b'{"type": "hello", "join": "\xff\xfe"}'))
    await conn.read_until_closed(5)
    assert close_code_of(server_frames(conn.received)) == 1007
    assert "text frame is not UTF-8" in server.log()
    no_traceback(server, mark)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (client_frame(1, b'{"type": "hello", "join": "\xff"}'), 1007),  # not UTF-8
        (client_frame(3, b"{}"), 1002),  # a reserved opcode
        (client_frame(1, b'"' + b"x" * 20_000 + b'"'), 1009),  # over the size limit
    ],
    ids=["not-utf8", "reserved-opcode", "too-big"],
)
async def test_a_bad_frame_followed_by_more_still_gets_its_close_code(
    server: ServerProcess, mark: int, bad: bytes, code: int
) -> None:
    """The server half-closes and reads on until the client closes, rather than closing with
    the client's next frames unread: that reset the connection, and the client saw 1006
    instead of the close code that says what it did wrong."""
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE)
    await conn.read_head()
    ping = client_frame(1, b'{"type": "ping"}')
    await conn.send(bad + ping * 200)
    for _ in range(20):
        await asyncio.sleep(0.01)
        await conn.send(ping)
    assert await conn.read_until_closed(5) is not None
    assert close_code_of(server_frames(conn.received)) == code
    no_traceback(server, mark)


async def test_a_malformed_chunked_body_gets_a_json_400_while_the_app_reads_it(
    server: ServerProcess,
    mark: int,
) -> None:
    """The app has begun the request when the body turns out malformed: the client gets one
    answer, the 400, and the app's own answer is dropped (uvicorn logged h11's refusal)."""
    for garbage in (b"zz\r\n", b"5\r\nabcdefgh\r\n", b"-1\r\n"):
        conn = await RawConnection.open(server.port)
        head = (
            b"POST /api/games HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n\r\n"
        )
        await conn.send(head + b'5\r\n{"kin\r\n')
        await asyncio.sleep(0.2)  # the app is reading the body now
        await conn.send(garbage)
        assert await conn.read_until_closed(5) is not None
        assert conn.status() == 400
        assert conn.json_body()["error"]["code"] == "http_error"
        assert conn.received.count(b"HTTP/1.1 ") == 1
    await asyncio.sleep(0.3)
    no_traceback(server, mark)


async def test_a_malformed_body_after_the_answer_only_closes(
    server: ServerProcess, mark: int
) -> None:
    """Refused for its credentials before its body came: the client's bad chunk then ends the
    connection, with no second answer."""
    conn = await RawConnection.open(server.port)
    await conn.send(b"POST /api/games HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    await asyncio.sleep(0.3)
    await conn.send(b"zz\r\n")
    assert await conn.read_until_closed(5) is not None
    assert conn.status() == 401 and conn.received.count(b"HTTP/1.1 ") == 1
    no_traceback(server, mark)


async def test_a_client_leaving_mid_body_leaves_no_trace(server: ServerProcess, mark: int) -> None:
    for framing, part in (
        (b"Content-Length: 100\r\n", b'{"kind": "be'),
        (b"Transfer-Encoding: chunked\r\n", b'5\r\n{"kin\r\n'),
    ):
        conn = await RawConnection.open(server.port)
        head = b"POST /api/games HTTP/1.1\r\nHost: x\r\n" + framing
        await conn.send(head + b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n\r\n" + part)
        await asyncio.sleep(0.2)
        conn.close()
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        assert (await client.get("/health")).status_code == 200
    no_traceback(server, mark)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (UPGRADE.replace(b"GET /ws ", b"GET /ws?" + b"a" * 9000 + b" "), 414),
        (UPGRADE.replace(b"\r\n\r\n", b"\r\n" + b"X-Many: y\r\n" * 200 + b"\r\n"), 431),
        (UPGRADE.replace(b"\r\n\r\n", b"\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n"), 431),
        (UPGRADE.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"abc"), 400),
        (UPGRADE.replace(b"Version: 13", b"Version: 8"), 400),
    ],
    ids=["long-line", "many-headers", "long-header", "bad-key", "old-version"],
)
async def test_an_upgrade_websockets_refuses_is_answered_and_closed(
    server: ServerProcess, mark: int, request_bytes: bytes, status: int
) -> None:
    conn = await RawConnection.open(server.port)
    await conn.send(request_bytes)
    assert await conn.read_until_closed(5) is not None
    assert conn.status() == status
    no_traceback(server, mark)


async def test_the_server_still_plays_after_all_that(server: ServerProcess, mark: int) -> None:
    game = new_game(server)
    codes = game["join"]
    assert isinstance(codes, list)
    players: list[WSClient] = []
    for seat in codes:
        client, _, _ = await join(server.ws_url, seat["code"])
        players.append(client)
    for client in players:
        await client.send({"type": "submit", "round": 1, "id": "r1", "decision": {"order": 4}})
    for client in players:
        assert (await client.expect("round"))["round"] == 1
        await client.close()
    no_traceback(server, mark)


async def test_a_client_that_heartbeats_is_offline_within_the_heartbeat_timeout(
    server: ServerProcess,
) -> None:
    """docs/protocol.md, "Heartbeat": a connection that has sent ``ping`` and then goes silent
    (no close: a dead network) is pinged after 2.5 s and closed with 1011 after 5 s, the tick
    being 1.25 s; the game's facilitators see its seat go offline then. One that answers the
    pings (any browser or client library does) stays online as long as it likes."""
    game = new_game(server)
    codes = game["join"]
    assert isinstance(codes, list)
    watcher = await WSClient.open(
        server.ws_url,
        {"type": "hello", "watch": game["game_id"], "token": game["facilitator_token"]},
    )
    await watcher.expect("sync")
    answering, _, _ = await join(server.ws_url, codes[1]["code"])
    await answering.send({"type": "ping", "id": "p"})
    await answering.expect("pong")
    silent = await RawConnection.open(server.port)
    await silent.send(UPGRADE)
    await silent.read_head()
    hello = {"type": "hello", "v": 1, "join": codes[0]["code"]}
    await silent.send(client_frame(0x1, orjson.dumps(hello)))
    await watcher.expect("progress", online=["retailer", "wholesaler"])
    await silent.send(client_frame(0x1, b'{"type": "ping", "id": "beat"}'))
    last_sent = time.monotonic()  # from here on it says nothing, and answers nothing
    await watcher.expect("progress", timeout=15, online=["wholesaler"])
    offline_after = time.monotonic() - last_sent
    assert 5.0 - 0.2 <= offline_after <= 5.0 + 1.25 + 0.5, offline_after
    await silent.read_until_closed(5)
    frames = server_frames(silent.received)
    assert close_code_of(frames) == 1011
    assert any(opcode == 0x9 for opcode, _ in frames)  # pinged first
    # The answering client said nothing at the protocol level for as long: still online.
    await answering.send({"type": "sync"})
    assert (await answering.expect("sync"))["online"] == ["wholesaler"]
    for client in (answering, watcher):
        await client.close()


async def test_a_connection_that_stops_answering_pings_is_closed_1011(tmp_path: Path) -> None:
    """The server pings a connection quiet for ``ping_interval``, and closes it with 1011 once
    it has been quiet for twice that; one that answers (any client library does) stays."""
    server = ServerProcess(tmp_path / "data", env={"GAMESERVER_PING_INTERVAL": "0.5"})
    server.start()
    try:
        silent = await RawConnection.open(server.port)
        await silent.send(UPGRADE)
        await silent.read_head()
        answering = await WSClient.open(server.ws_url)  # websockets answers pings itself
        started = time.monotonic()
        await silent.read_until_closed(6)
        waited = time.monotonic() - started
        frames = server_frames(silent.received)
        assert close_code_of(frames) == 1011
        assert any(opcode == 0x9 for opcode, _ in frames)  # it was pinged first
        assert 0.9 <= waited <= 3.0, waited
        await answering.send({"type": "ping", "id": "still"})
        assert (await answering.expect("error"))["code"] == "hello_expected"  # still open
        await answering.close()
    finally:
        server.stop()


async def test_with_per_message_deflate_a_game_plays_and_closes_as_without(
    tmp_path: Path,
) -> None:
    """``GAMESERVER_WS_DEFLATE=on``: a client that offers per-message deflate gets it, and
    websockets compresses and frames everything the server sends (the other path of the
    server's sends): welcome, sync, acks, the round, a pong, and a close with its code."""
    proc = ServerProcess(tmp_path / "data", env={"GAMESERVER_WS_DEFLATE": "on"})
    proc.start()
    try:
        game = new_game(proc)
        codes = game["join"]
        assert isinstance(codes, list)
        players = [(await join(proc.ws_url, seat["code"]))[0] for seat in codes]
        assert [e.name for e in players[0].ws.protocol.extensions] == ["permessage-deflate"]
        for client in players:
            await client.send({"type": "submit", "round": 1, "id": "r1", "decision": {"order": 4}})
        for client in players:
            assert (await client.expect("ack"))["id"] == "r1"
            assert (await client.expect("round"))["round"] == 1
        first = players[0]
        await asyncio.wait_for(await first.ws.ping(), 10)
        await first.send_raw("not json")
        closing = await first.expect("error")
        assert closing["code"] == "closing"
        assert await first.closed_with() == 1007
        for client in players[1:]:
            await client.send({"type": "sync"})
            assert (await client.expect("sync"))["round"] == 1
            await client.close()
    finally:
        proc.kill()
    assert "Traceback" not in proc.log()


def with_header(line: bytes) -> bytes:
    """The test upgrade with one more header line."""
    return UPGRADE.replace(b"\r\n\r\n", b"\r\n" + line + b"\r\n\r\n")


DEFLATE = b"Sec-WebSocket-Extensions: permessage-deflate"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.mark.parametrize(
    ("request_bytes", "deflate", "plain"),
    [
        pytest.param(UPGRADE, False, True, id="plain"),
        pytest.param(UPGRADE, True, True, id="plain-deflate-on"),
        pytest.param(UPGRADE.replace(b"GET /ws ", b"GET /ws?a=1 "), False, True, id="query"),
        pytest.param(with_header(DEFLATE), False, True, id="extensions-deflate-off"),
        # Anything else is websockets' to read and answer, as before
        pytest.param(with_header(DEFLATE), True, False, id="extensions-deflate-on"),
        pytest.param(UPGRADE.replace(b"GET /ws ", b"GET /wss "), False, False, id="other-path"),
        pytest.param(UPGRADE.replace(KEY, b"abc"), False, False, id="bad-key"),
        pytest.param(UPGRADE.replace(KEY, KEY[:-2]), False, False, id="key-not-16-bytes"),
        pytest.param(
            UPGRADE.replace(b"Version: 13", b"Version: 8"), False, False, id="old-version"
        ),
        pytest.param(with_header(b"Sec-WebSocket-Version: 13"), False, False, id="two-versions"),
        pytest.param(with_header(b"Sec-WebSocket-Key: " + KEY), False, False, id="two-keys"),
        pytest.param(with_header(b"Content-Length: 5"), False, False, id="content-length"),
        pytest.param(
            with_header(b"Transfer-Encoding: chunked"), False, False, id="transfer-encoding"
        ),
        pytest.param(with_header(b"X Bad: name"), False, False, id="bad-header-name"),
        pytest.param(with_header(b"X-Bad: \x01"), False, False, id="bad-header-value"),
        pytest.param(
            UPGRADE.replace(b"Connection: Upgrade", b"Connection: Upgrade, ;x"),
            False,
            False,
            id="connection-not-a-list",
        ),
        pytest.param(with_header(b"X-Long: " + b"a" * 5000), False, False, id="long-header"),
        pytest.param(with_header(b"X-Many: y\r\n" * 64 + b"X: y"), False, False, id="many-headers"),
    ],
)
def test_the_server_answers_only_a_plain_upgrade_itself(
    request_bytes: bytes, deflate: bool, plain: bool
) -> None:
    headers = _whole_upgrade(request_bytes)
    assert headers is not None
    accept = _plain_accept(request_bytes, headers, deflate=deflate)
    assert accept == (b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" if plain else None)


async def test_a_stopping_server_closes_connections_that_sent_nothing_at_once(
    tmp_path: Path,
) -> None:
    """A connection that has not sent a byte is closed by the stop (not left to the request
    timeout), and one that half-closed without a request is closed too."""
    proc = ServerProcess(tmp_path / "data", env={"GAMESERVER_REQUEST_TIMEOUT": "30"})
    proc.start()
    try:
        silent = await RawConnection.open(proc.port)
        half = await RawConnection.open(proc.port)
        half.writer.write_eof()
        assert await half.read_until_closed(5) is not None  # closed at its end of input
        await asyncio.sleep(0.2)
        proc.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert await silent.read_until_closed(5) is not None
        assert silent.received == b""
        assert proc.proc.wait(15) in (0, -signal.SIGTERM)  # type: ignore[union-attr]
    finally:
        proc.stop()
    assert "Traceback" not in proc.log()


# -- a class that joins at once ---------------------------------------------------------------


#: ``await accepted(n)``: n real connections (socket pairs), our ends as transports of the loop.
Accepted = Callable[[int], Awaitable[list[asyncio.Transport]]]


@pytest.fixture
async def accepted() -> AsyncIterator[Accepted]:
    """Connections for an :class:`Admission` to take up, all closed after the test."""
    loop = asyncio.get_running_loop()
    made: list[tuple[socket.socket, asyncio.Transport]] = []

    async def connect(count: int) -> list[asyncio.Transport]:
        transports = []
        for _ in range(count):
            ours, theirs = socket.socketpair()
            transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, ours)
            made.append((theirs, transport))
            transports.append(transport)
        return transports

    yield connect
    for theirs, transport in made:
        transport.close()
        theirs.close()


async def test_first_requests_are_taken_up_a_few_a_turn_in_order_sockets_unread_meanwhile(
    accepted: Accepted,
) -> None:
    """Ten new connections' first requests read in one turn of the loop: four taken up in it,
    four in the next, two in the one after, in the order they came; a waiting one's socket is
    not read until its turn, and one whose connection was aborted meanwhile is passed over."""
    assert (ADMITTED_PER_TURN, ADMITTED_PER_SECOND, ADMITTED_AT_MOST) == (4, 1000, 32)  # docs
    loop = asyncio.get_running_loop()
    admission = Admission(loop, per_second=0)  # 4 a turn, however long the turns
    transports = await accepted(10)
    turn = 0
    taken: list[tuple[int, int]] = []  # (turn, connection)
    reading: list[bool] = []

    def tick() -> None:
        nonlocal turn
        turn += 1
        if turn < 10:
            loop.call_soon(tick)

    def take(n: int) -> Take:
        def take_it(transport: asyncio.Transport, first_read: bytes) -> None:
            assert transport is transports[n] and first_read == b"request %d" % n
            reading.append(transport.is_reading())
            taken.append((turn, n))

        return take_it

    def read_all() -> None:  # ten first requests read in one turn: a class joining at once
        loop.call_soon(tick)
        for n, transport in enumerate(transports):
            admission.add(take(n), transport, b"request %d" % n)
        assert admission.waiting == 6
        assert [t.is_reading() for t in transports] == [True] * 4 + [False] * 6
        transports[9].abort()  # gone before its turn

    loop.call_soon(read_all)
    while admission.waiting or len(taken) < 9:
        await asyncio.sleep(0.01)
    assert taken == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 4), (1, 5), (1, 6), (1, 7), (2, 8)]
    assert reading == [True] * 9  # each read again once taken up
    # Turns later, the share is whole again: the next one is taken up at once.
    await asyncio.sleep(0.01)
    before = len(taken)
    admission.add(take(0), transports[0], b"request 0")
    assert len(taken) == before + 1 and admission.waiting == 0


async def test_a_class_that_joins_at_once_is_answered_whole(
    server: ServerProcess, mark: int
) -> None:
    """Sixty upgrades sent at once, most of them waiting their turn: each is answered 101 and
    then plays its part of the protocol, and one that leaves while waiting harms nobody."""
    conns = [await RawConnection.open(server.port) for _ in range(60)]
    for conn in conns:
        conn.writer.write(UPGRADE)
    conns[-1].writer.close()  # leaves before it can have been answered
    await asyncio.gather(*(conn.writer.drain() for conn in conns[:-1]))
    for conn in conns[:-1]:
        assert (await conn.read_head()).startswith(b"HTTP/1.1 101 Switching Protocols")
    for conn in conns[:-1]:
        await conn.send(HELLO_OF_NO_GAME)
    for conn in conns[:-1]:
        await refused_the_code_of_no_game(conn)
    no_traceback(server, mark)


async def test_a_class_whose_requests_come_at_once_gets_every_answer(
    server: ServerProcess, mark: int
) -> None:
    """Sixty HTTP requests at once, each on a connection of its own (as many browsers would
    send): most wait their turn, and each gets its answer."""
    conns = [await RawConnection.open(server.port) for _ in range(60)]
    for conn in conns:
        conn.writer.write(b"GET /api/kinds HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await asyncio.gather(*(conn.writer.drain() for conn in conns))
    for conn in conns:
        await conn.read_until_closed(10)
        assert conn.status() == 200
        assert b'"beer"' in conn.received
    no_traceback(server, mark)


async def test_in_long_turns_more_first_requests_are_taken_up_at_the_rate(
    accepted: Accepted,
) -> None:
    """A loop busy with other work (turns of 20 ms here) takes up as many waiting first requests
    a turn as 1,000 a second gives 20 ms, not 4: a class still comes in at that rate; and never
    more than ADMITTED_AT_MOST a turn."""
    loop = asyncio.get_running_loop()
    admission = Admission(loop)
    transports = await accepted(80)
    turn = 0
    taken: dict[int, int] = {}  # turn -> first requests taken up in it

    def busy() -> None:  # a turn's other work: rounds, say
        nonlocal turn
        time.sleep(0.02)
        turn += 1
        if admission.waiting:
            loop.call_soon(busy)

    def take(transport: asyncio.Transport, first_read: bytes) -> None:
        taken[turn] = taken.get(turn, 0) + 1

    def read_all() -> None:
        loop.call_soon(busy)
        for transport in transports:
            admission.add(take, transport, b"request")

    loop.call_soon(read_all)
    while admission.waiting or sum(taken.values()) < len(transports):
        await asyncio.sleep(0.01)
    counts = list(taken.values())
    assert counts[0] == ADMITTED_PER_TURN  # the turn they were read in
    assert all(16 <= n <= ADMITTED_AT_MOST for n in counts[1:-1]), counts  # 20 ms: about 20


async def test_a_waiting_first_request_that_fails_to_be_taken_up_stops_no_other(
    accepted: Accepted, caplog: pytest.LogCaptureFixture
) -> None:
    """As the loop does with a read that raises: logged, its connection aborted, and the
    first requests behind it are taken up all the same."""
    loop = asyncio.get_running_loop()
    admission = Admission(loop, per_second=0)
    transports = await accepted(6)
    taken: list[int] = []

    def take(transport: asyncio.Transport, first_read: bytes) -> None:
        if first_read == b"4":
            raise RuntimeError("a bug")
        taken.append(int(first_read))

    with caplog.at_level(logging.ERROR, logger="gameserver.server.transport"):
        for n, transport in enumerate(transports):
            admission.add(take, transport, b"%d" % n)
        while admission.waiting:
            await asyncio.sleep(0.01)
    assert taken == [0, 1, 2, 3, 5]
    assert transports[4].is_closing() and not transports[5].is_closing()
    assert "taking up a new connection's first request failed" in caplog.text
