"""A frame from a client, as JSON: decoded strictly and held to what a browser can represent.

Nothing past the protocol sees raw JSON; the HTTP API reads request bodies with the same
:func:`loads_json` and :func:`check_json`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from gameserver.errors import ErrorCode, ProtocolError, short

#: JSON nested deeper than this is refused at the edge (no message needs more than a few).
MAX_DEPTH = 32
#: Whole numbers beyond this (2**53 - 1) do not survive a browser's JSON: refused at the edge.
MAX_SAFE_INTEGER = 2**53 - 1


class MalformedFrame(Exception):
    """A frame that is not a JSON object: the connection is closed (1007)."""


def loads_frame(frame: str | bytes) -> dict[str, Any]:
    """Decode one frame into a JSON object or raise :class:`MalformedFrame`; a JSON object
    nested too deep or holding a whole number a browser cannot represent raises
    :class:`ProtocolError` (answered with an ``error``; the connection stays)."""
    try:
        data = orjson.loads(frame)  # loads_json's first try; it is called only if this fails
    except orjson.JSONDecodeError:
        try:
            data = loads_json(frame)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedFrame(f"a frame must be a JSON object, got {type(data).__name__}")
    if _may_break_bounds(frame):
        check_json(data)
    return data


# Every digit becomes "0" and every other byte "x": a frame holds a run of 16 digits (the
# shortest text of a whole number beyond 2**53 - 1) where its translation holds 16 zeros.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x78 for byte in range(256))
_SIXTEEN_DIGITS = b"0" * 16


def _may_break_bounds(frame: str | bytes) -> bool:
    """Whether ``check_json`` must walk this frame: only if it has more brackets than the depth
    allowed, or a run of 16 digits. Both are found in C (counts, a translation and a search,
    a quarter of what a regular expression took); nearly every frame has neither (a submit has
    two brackets), and the Python walk was a cost on every message."""
    raw = frame.encode() if isinstance(frame, str) else frame
    brackets = raw.count(b"[") + raw.count(b"{")
    # find, not ``in``: ``bytes in bytes`` first tries the right side as a byte value, and
    # raises and clears a TypeError (its message formatted) before it searches, every frame.
    return brackets > MAX_DEPTH or raw.translate(_DIGITS_AS_ZEROS).find(_SIXTEEN_DIGITS) >= 0


def loads_json(text: str | bytes) -> Any:
    """Strict JSON (orjson's reading: UTF-8, no NaN, no lone surrogates), except that a number
    beyond a double's range is infinity, as in a browser's ``JSON.parse``, instead of failing
    the whole document: then the field holding it is refused by name (every number field
    refuses what is not finite) rather than the body as "not JSON". Raises
    ``orjson.JSONDecodeError``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if not str(exc).startswith("number is infinity"):
            raise
        refused = exc
    # orjson read everything before that number; the standard library reads the rest, and
    # encoding the result again holds it to orjson's rules (no lone surrogates, no deeper
    # nesting than orjson allows). Anything it cannot read is orjson's error after all.
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
        orjson.dumps(data)
    except (ValueError, TypeError, RecursionError):
        raise refused from None
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_json(value: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` or holding whole numbers beyond
    +-(2**53 - 1), without recursion (so that no input can exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, int) and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise ProtocolError(
                    f"whole numbers must be within +-{MAX_SAFE_INTEGER}, got {short(item)}",
                    code=ErrorCode.BAD_FIELD,
                )
            continue
        if depth > MAX_DEPTH:
            raise ProtocolError(
                f"JSON nested deeper than {MAX_DEPTH} levels", code=ErrorCode.TOO_DEEP
            )
        stack.extend((child, depth + 1) for child in children)
