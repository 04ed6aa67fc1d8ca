"""The WebSocket protocol, version 1: every message both ways, its version and its codes.

This is the edge. A frame from a client becomes a typed value here (:func:`parse_hello`,
:func:`parse_client_message`) and nothing past this package sees raw JSON; a message to a client
is a typed value here too, encoded once by :func:`encode` (a broadcast shares the bytes).
``docs/protocol.md`` describes every message; a test checks it against this package.

The server and the bot client both import this package; the pages get the same constants from
the server (``/protocol.js``, made from :func:`javascript_constants`). Its modules:

- ``constants``: the version, the limits, a game's statuses, and ``/protocol.js``;
- ``frames``: a frame decoded as strict JSON that a browser can represent;
- ``client_messages``: the messages from a client and their parsing;
- ``server_messages``: the messages to a client, their builders and their encoding.

Import everything from here (``from gameserver.protocol import Submit``), not from the modules.
"""

from __future__ import annotations

from gameserver.errors import CLOSES_WITH, CloseCode, ErrorCode
from gameserver.protocol.client_messages import (
    ClientMessage,
    Hello,
    Join,
    Ping,
    Resume,
    Submit,
    SyncRequest,
    Watch,
    parse_client_message,
    parse_hello,
)
from gameserver.protocol.constants import (
    MAX_ID,
    MIN_JOIN_ID,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    GameStatus,
    game_of_code,
    game_of_token,
    javascript_constants,
)
from gameserver.protocol.frames import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    MalformedFrame,
    check_json,
    loads_frame,
    loads_json,
)
from gameserver.protocol.server_messages import (
    Ack,
    Announcement,
    Error,
    FacilitatorRound,
    FacilitatorSync,
    GameInfo,
    Pong,
    Progress,
    Round,
    RoundUpdate,
    SeatInfo,
    ServerMessage,
    SharedPart,
    Sync,
    Welcome,
    ack,
    announcement,
    encode,
    error,
    error_message,
    pong,
    progress,
    welcome,
)

__all__ = [
    "CLOSES_WITH",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_SAFE_INTEGER",
    "MIN_JOIN_ID",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "Ack",
    "Announcement",
    "ClientMessage",
    "CloseCode",
    "Error",
    "ErrorCode",
    "FacilitatorRound",
    "FacilitatorSync",
    "GameInfo",
    "GameStatus",
    "Hello",
    "Join",
    "MalformedFrame",
    "Ping",
    "Pong",
    "Progress",
    "Resume",
    "Round",
    "RoundUpdate",
    "SeatInfo",
    "ServerMessage",
    "SharedPart",
    "Submit",
    "Sync",
    "SyncRequest",
    "Watch",
    "Welcome",
    "ack",
    "announcement",
    "check_json",
    "encode",
    "error",
    "error_message",
    "game_of_code",
    "game_of_token",
    "javascript_constants",
    "loads_frame",
    "loads_json",
    "parse_client_message",
    "parse_hello",
    "pong",
    "progress",
    "welcome",
]
