"""The protocol edge: frames parsed into typed messages, bad input refused with named codes."""

from __future__ import annotations

import orjson
import pytest

from gameserver import protocol
from gameserver.errors import ProtocolError, UnsupportedVersion


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


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"type": "submit"}, "hello_expected"),
        ({"type": "hello"}, "missing_field"),
        ({"type": "hello", "watch": "G"}, "missing_field"),
        ({"type": "hello", "token": 5}, "bad_message"),
        ({"type": "hello", "token": ""}, "bad_message"),
        ({"type": "hello", "join": "c", "name": "x" * 65}, "bad_message"),
    ],
)
def test_bad_hello(data: dict[str, object], code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.parse_hello(data)
    assert info.value.code == code and info.value.message


def test_unsupported_version_names_what_is_spoken() -> None:
    with pytest.raises(UnsupportedVersion, match=r"version 2 .* \[1\]"):
        protocol.parse_hello({"type": "hello", "v": 2, "token": "x"})


def test_submit_ping_sync() -> None:
    submit = protocol.parse_client_message(
        {"type": "submit", "round": 3, "id": "m1", "decision": {"order": 4}}
    )
    assert submit == protocol.Submit(round=3, id="m1", decision={"order": 4})
    assert protocol.parse_client_message({"type": "ping", "id": "p"}) == protocol.Ping("p")
    assert protocol.parse_client_message({"type": "sync"}) == protocol.SyncRequest()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"type": "submit", "round": 0, "id": "a", "decision": 1}, "missing_field"),
        ({"type": "submit", "round": True, "id": "a", "decision": 1}, "missing_field"),
        ({"type": "submit", "round": "1", "id": "a", "decision": 1}, "missing_field"),
        ({"type": "submit", "round": 1, "id": "", "decision": 1}, "missing_field"),
        ({"type": "submit", "round": 1, "id": "x" * 65, "decision": 1}, "missing_field"),
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
    data = protocol.encode({"type": "progress", "submitted": ["retailer"]})
    assert isinstance(data, bytes) and orjson.loads(data)["submitted"] == ["retailer"]
    error = orjson.loads(protocol.error_message("paused", "the game is paused", "m1"))
    assert error == {"type": "error", "code": "paused", "message": "the game is paused", "id": "m1"}
