"""gameserver.protocol.framing: the frames the server and the bots read and write themselves,
against websockets' own parser and framing (the live tests read them off real sockets)."""

from __future__ import annotations

import random

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from gameserver.protocol import framing
from gameserver.protocol.framing import Reader, text_header
from tests.support import client_frame

LIMIT = 1000


def started(reader: Reader) -> Reader:
    reader.start()
    return reader


def read(reader: Reader, chunks: list[bytes]) -> list[tuple[bytes, bool | None]]:
    return [item for chunk in chunks for item in reader.feed(chunk)]


def chopped(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` in pieces of 1 to 40 bytes, as TCP may deliver it."""
    pieces, at = [], 0
    while at < len(data):
        step = rng.randint(1, 40)
        pieces.append(data[at : at + step])
        at += step
    return pieces


@pytest.mark.parametrize("seed", range(20))
def test_messages_come_out_whole_however_the_bytes_arrive(seed: int) -> None:
    rng = random.Random(seed)
    sent = []
    for _ in range(30):
        text = rng.random() < 0.8
        size = rng.choice([0, 1, 125, 126, 127, 300, LIMIT])
        payload = bytes(rng.randrange(0x20, 0x7F) for _ in range(size))
        sent.append((payload, text))
    stream = b"".join(client_frame(1 if text else 2, payload) for payload, text in sent)
    assert read(started(Reader(LIMIT)), chopped(stream, rng)) == sent


def test_pings_and_pongs_go_to_websockets_whole_and_reading_goes_on() -> None:
    ping, pong = client_frame(9, b"are you there"), client_frame(10, b"")
    hello, submit = client_frame(1, b'{"type":"hello"}'), client_frame(1, b'{"type":"sync"}')
    reader = started(Reader(LIMIT))
    items = read(reader, chopped(hello + ping + submit + pong, random.Random(1)))
    assert items == [
        (b'{"type":"hello"}', True),
        (ping, None),
        (b'{"type":"sync"}', True),
        (pong, None),
    ]
    assert reader.reading
    # websockets answers the ping it was given as if it had read the stream itself
    server = Protocol(Side.SERVER, state=State.OPEN)
    server.receive_data(ping)
    assert server.events_received() == [Frame(Opcode.PING, b"are you there")]
    assert server.data_to_send() == [Frame(Opcode.PONG, b"are you there").serialize(mask=False)]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (client_frame(8, b"\x03\xe8"), "a close"),
        (client_frame(1, b"part", fin=False), "a fragment"),
        (client_frame(0, b"rest"), "a continuation"),
        (bytes([0x81, 4]) + b"open", "not masked"),
        (bytes([0xC1]) + client_frame(1, b"x")[1:], "a reserved bit"),
        (client_frame(1, b"x" * (LIMIT + 1)), "over the limit"),
        (client_frame(9, b"p", fin=False), "a fragmented ping"),
        (client_frame(3, b"?"), "an unknown opcode"),
    ],
)
def test_any_other_frame_hands_the_rest_of_the_stream_to_websockets(frame: bytes, why: str) -> None:
    before, after = client_frame(1, b'{"a":1}'), client_frame(1, b'{"b":2}')
    reader = started(Reader(LIMIT))
    items = reader.feed(before + frame + after)
    assert items == [(b'{"a":1}', True), (frame + after, None)], why
    assert not reader.reading
    # and websockets, given those bytes at a frame boundary, reads them as the stream they
    # are: a close ends it; all else here breaks the protocol (a fragment is followed by a
    # new message, not its continuation)
    server = Protocol(Side.SERVER, state=State.OPEN, max_size=LIMIT)
    server.receive_data(items[-1][0])
    if why == "a close":
        assert server.parser_exc is None and server.close_rcvd is not None
    else:
        assert server.parser_exc is not None, why


def test_a_header_split_anywhere_waits_for_the_rest() -> None:
    frame = client_frame(1, b"y" * 70000)
    reader = started(Reader(100_000))
    assert reader.feed(frame[:1]) == [] and reader.feed(frame[1:9]) == []
    assert reader.feed(frame[9:-1]) == [] and reader.feed(frame[-1:]) == [(b"y" * 70000, True)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frames_are_framed_as_websockets_frames_them(size: int) -> None:
    """The server frames its text messages itself: byte for byte what websockets would send,
    at every length boundary of RFC 6455."""
    payload = b"x" * size
    assert text_header(size) + payload == Frame(Opcode.TEXT, payload).serialize(mask=False)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_bots_frames_are_what_a_websocket_server_reads(size: int) -> None:
    """Bots frame their messages themselves: websockets' server side reads each back whole, at
    every length boundary, each under a fresh mask."""
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frames = [framing.client_frame(payload) for _ in range(3)]
    server = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    server.receive_data(b"".join(frames))
    events = server.events_received()
    assert [(e.opcode, e.fin, bytes(e.data)) for e in events] == [
        (Opcode.BINARY, True, payload)
    ] * 3
    assert server.parser_exc is None
    head = 2 if size < 126 else 4 if size < 65536 else 10
    assert len({frame[head : head + 4] for frame in frames}) == 3
    # and the server's reader reads them too
    assert started(Reader(100_000)).feed(b"".join(frames)) == [(payload, False)] * 3


@pytest.mark.parametrize("seed", range(5))
def test_a_bot_reads_the_servers_frames_however_the_bytes_arrive(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.choice([0, 5, 125, 126, 1100, 65536]) for _ in range(20)]
    sent = [bytes(rng.randrange(0x20, 0x7F) for _ in range(size)) for size in sizes]
    stream = b"".join(text_header(len(payload)) + payload for payload in sent)
    reader = started(Reader(1 << 22, masked=False))
    assert read(reader, chopped(stream, rng)) == [(payload, True) for payload in sent]
    # a masked frame is not what a server sends: websockets refuses it
    reader.feed(client_frame(1, b"x"))
    assert not reader.reading


def test_before_the_handshake_is_done_everything_goes_to_websockets() -> None:
    reader = Reader(LIMIT)
    frame = client_frame(1, b"{}")
    assert reader.feed(b"GET /ws HTTP/1.1\r\n") == [(b"GET /ws HTTP/1.1\r\n", None)]
    reader.start()
    assert reader.feed(frame) == [(b"{}", True)]
