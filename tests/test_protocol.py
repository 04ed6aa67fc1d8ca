"""The protocol edge: frames parsed into typed messages, bad input refused with named codes."""

from __future__ import annotations

import orjson
import pytest

from gameserver import protocol
from gameserver.errors import Conflict, ErrorCode, ProtocolError, UnsupportedVersion


def test_hello_forms() -> None:
    assert protocol.parse_hello({"type": "hello", "join": " ab2c-xyz9 "}) == protocol.Join(
        code="AB2C-XYZ9", role=None, name=None
    )
    assert protocol.parse_hello({"type": "hello", "v": 1, "token": "G.s"}) == protocol.Resume("G.s")
    assert protocol.parse_hello({"type": "hello", "watch": "G", "token": "t"}) == protocol.Watch(
        game_id="G", token="t"
    )
    joined = protocol.parse_hello({"type": "hello", "join": "c", "role": "factory", "name": "Ann"})
    assert joined == protocol.Join(code="C", role="factory", name="Ann")
    updated = protocol.parse_hello({"type": "hello", "join": "c", "view_updates": True})
    assert updated == protocol.Join(code="C", role=None, name=None, view_updates=True)
    resumed = protocol.parse_hello({"type": "hello", "token": "G.s", "view_updates": False})
    assert resumed == protocol.Resume("G.s")
    assert protocol.parse_hello({"type": "hello", "token": "G.s", "view_updates": None}) == resumed


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"type": "submit"}, "hello_expected"),
        ({"type": "hello"}, "missing_field"),
        ({"type": "hello", "watch": "G"}, "missing_field"),
        ({"type": "hello", "token": 5}, "bad_field"),
        ({"type": "hello", "token": ""}, "bad_field"),
        ({"type": "hello", "join": "c", "name": "x" * 65}, "bad_field"),
        ({"type": "hello", "join": ["c"]}, "bad_field"),
        ({"type": "hello", "join": "c", "view_updates": "yes"}, "bad_field"),
        ({"type": "hello", "token": "G.s", "view_updates": 1}, "bad_field"),
    ],
)
def test_bad_hello(data: dict[str, object], code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.parse_hello(data)
    assert info.value.code == code and info.value.message


def test_unsupported_version_names_what_is_spoken() -> None:
    with pytest.raises(UnsupportedVersion, match=r"version 2 .* \[1\]"):
        protocol.parse_hello({"type": "hello", "v": 2, "token": "x"})


@pytest.mark.parametrize("version", [[1], {"a": 1}, "1", 1.5, True, None])
def test_a_version_that_is_not_a_number_is_named_not_a_crash(version: object) -> None:
    data = {"type": "hello", "v": version, "token": "x"}
    if version is None:
        assert protocol.parse_hello(data) == protocol.Resume("x")  # null: the default
        return
    with pytest.raises(UnsupportedVersion, match="'v' must be a protocol version number"):
        protocol.parse_hello(data)


def test_a_round_sent_as_a_whole_float_is_that_round() -> None:
    message = protocol.parse_client_message(
        {"type": "submit", "round": 3.0, "id": "m", "decision": {"order": 3.0}}
    )
    assert message == protocol.Submit(round=3, id="m", decision={"order": 3.0})


def test_json_nested_too_deep_or_holding_unsafe_numbers_is_refused_by_name() -> None:
    deep = "[" * 40 + "]" * 40
    with pytest.raises(ProtocolError) as info:
        protocol.loads_frame('{"type": "submit", "decision": ' + deep + "}")
    assert info.value.code == "too_deep"
    very_deep = "[" * 1000 + "]" * 1000
    with pytest.raises((ProtocolError, protocol.MalformedFrame)):
        protocol.loads_frame('{"v": ' + very_deep + "}")
    with pytest.raises(ProtocolError) as info:
        protocol.loads_frame('{"type": "hello", "v": 9007199254740993}')
    assert info.value.code == "bad_field"
    assert protocol.loads_frame('{"n": 9007199254740991}') == {"n": 2**53 - 1}
    # As the socket hands them over (bytes), and only where the digits make one number.
    with pytest.raises(ProtocolError) as info:
        protocol.loads_frame(b'{"type": "submit", "decision": {"order": -90071992547409930}}')
    assert info.value.code == "bad_field"
    spaced = b'{"id": "12345678901234567890", "n": [123456789012345, 6.5e300]}'
    assert protocol.loads_frame(spaced)["n"] == [123456789012345, 6.5e300]


def test_a_shared_part_is_encoded_once_for_the_messages_that_hold_it() -> None:
    shared = protocol.SharedPart()
    part = {"roles": {"retailer": [1, 2.5, None]}, "note": "é"}
    first = shared.of(part)
    assert shared.of(part) is first  # the same object: its JSON again
    messages = [{"type": "round", "role": role, "view": {"debrief": shared.of(part)}}
                for role in ("retailer", "factory")]  # fmt: skip
    for message in messages:
        decoded = orjson.loads(protocol.encode(message))  # type: ignore[arg-type]
        assert decoded["view"]["debrief"] == part and decoded["role"] == message["role"]
    other = {"roles": {}}
    assert shared.of(other) is not first
    assert orjson.loads(protocol.encode({"view": shared.of(other)})) == {"view": other}  # type: ignore[arg-type]


def test_submit_ping_sync() -> None:
    submit = protocol.parse_client_message(
        {"type": "submit", "round": 3, "id": "m1", "decision": {"order": 4}}
    )
    assert submit == protocol.Submit(round=3, id="m1", decision={"order": 4})
    # the edges: 2.0 is round 2 (JSON has one number type), an id of 64 characters is taken
    longest = protocol.parse_client_message(
        {"type": "submit", "round": 2.0, "id": "x" * 64, "decision": None}
    )
    assert longest == protocol.Submit(round=2, id="x" * 64, decision=None)
    assert type(longest.round) is int
    assert protocol.parse_client_message({"type": "ping", "id": "p"}) == protocol.Ping("p")
    assert protocol.parse_client_message({"type": "sync"}) == protocol.SyncRequest()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"type": "submit", "round": 0, "id": "a", "decision": 1}, "bad_field"),
        ({"type": "submit", "round": True, "id": "a", "decision": 1}, "bad_field"),
        ({"type": "submit", "round": "1", "id": "a", "decision": 1}, "bad_field"),
        ({"type": "submit", "round": 2.5, "id": "a", "decision": 1}, "bad_field"),
        ({"type": "submit", "round": 1, "id": "", "decision": 1}, "bad_field"),
        ({"type": "submit", "round": 1, "id": "x" * 65, "decision": 1}, "bad_field"),
        ({"type": "submit", "round": 1, "id": 7, "decision": 1}, "bad_field"),
        ({"type": "submit", "id": "a", "decision": 1}, "missing_field"),
        ({"type": "submit", "round": 1, "decision": 1}, "missing_field"),
        ({"type": "submit", "round": 1, "id": "a"}, "missing_field"),
        ({"type": "hello", "join": "c"}, "bad_message"),
        ({"type": "nope"}, "unknown_type"),
        ({}, "unknown_type"),
    ],
)
def test_bad_messages(data: dict[str, object], code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.parse_client_message(data)
    assert info.value.code == code


@pytest.mark.parametrize("frame", ["", "{", "[]", "3", '"text"', b"\xff\xfe"])
def test_malformed_frames(frame: str | bytes) -> None:
    with pytest.raises(protocol.MalformedFrame):
        protocol.loads_frame(frame)


def test_encode_once_and_errors() -> None:
    message = protocol.progress(1, 2, ["retailer"], [], [])
    data = protocol.encode(message)
    assert data.startswith(b'{"type":"progress"')  # bots skip progress frames by this prefix
    assert orjson.loads(data)["submitted"] == ["retailer"]
    error = orjson.loads(
        protocol.encode(protocol.error(Conflict("the game is paused", code=ErrorCode.PAUSED), "m1"))
    )
    assert error == {"type": "error", "code": "paused", "message": "the game is paused", "id": "m1"}


def test_a_number_beyond_a_double_reads_as_infinity_for_the_field_to_refuse() -> None:
    """As a browser's JSON.parse reads it: the document stays JSON, the field is refused."""
    assert protocol.loads_json(b'{"theta": 1.8e308, "n": -1e999}') == {
        "theta": float("inf"),
        "n": float("-inf"),
    }
    assert protocol.loads_json('[1e400, "\u00e9"]') == [float("inf"), "\u00e9"]
    frame = protocol.loads_frame('{"type": "submit", "round": 1e400, "id": "a", "decision": 1}')
    with pytest.raises(ProtocolError, match="'round' must be a whole number") as info:
        protocol.parse_client_message(frame)
    assert info.value.code == "bad_field"


@pytest.mark.parametrize(
    "text",
    [
        b'[1e400, "\\ud800"]',  # a lone surrogate after it: orjson's rule still holds
        b"[1e400, NaN]",
        b"[1e400, Infinity]",
        b"[1e400, " + b"[" * 300 + b"]" * 300 + b"]",
        b"[1e400, 1",
        b"[1e400, 1" + b"0" * 5000 + b"]",
    ],
)
def test_only_the_out_of_range_number_is_forgiven(text: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError, match="number is infinity"):
        protocol.loads_json(text)
