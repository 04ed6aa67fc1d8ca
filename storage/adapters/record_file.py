"""The file adapter's record format: a JSON header line, then the payloads.

::

    {"format": 1, "parts": [{...metadata, "size": 1234, "crc": 305419896}, ...]}\\n
    <payload 1><payload 2>...

The header carries each payload's length and CRC-32, so a truncated or altered file is recognised
as damaged instead of being handed on as a shorter payload.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

FORMAT = 1


class Damaged(Exception):
    """The bytes are not a complete, intact record file."""


def pack(parts: list[tuple[dict[str, Any], bytes]]) -> bytes:
    """One file's bytes holding ``parts`` (metadata and payload each)."""
    header = {
        "format": FORMAT,
        "parts": [
            {**meta, "size": len(payload), "crc": zlib.crc32(payload)} for meta, payload in parts
        ],
    }
    line = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    return b"".join([line, b"\n", *(payload for _, payload in parts)])


def unpack(data: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """The parts stored by :func:`pack`; :class:`Damaged` if the bytes do not check out."""
    metas, sizes, crcs, body = _header(data)
    if sum(sizes) != len(body):
        raise Damaged(f"payloads should total {sum(sizes)} bytes, found {len(body)}")
    parts = []
    start = 0
    for meta, size, crc in zip(metas, sizes, crcs, strict=True):
        payload = body[start : start + size]
        start += size
        if zlib.crc32(payload) != crc:
            raise Damaged("payload checksum does not match")
        parts.append((meta, payload))
    return parts


def metadata(data: bytes) -> list[dict[str, Any]]:
    """Each part's metadata from the header alone, even if the payloads are damaged.

    For telling what a damaged file was (whose game, which group); :class:`Damaged` if the
    header itself cannot be read.
    """
    return _header(data)[0]


def _header(data: bytes) -> tuple[list[dict[str, Any]], list[int], list[int], bytes]:
    line, newline, body = data.partition(b"\n")
    if not newline:
        raise Damaged("no header line")
    try:
        header = json.loads(line)
        if header["format"] != FORMAT:
            raise Damaged(f"unknown file format {header['format']!r}")
        metas = list(header["parts"])
        sizes = [int(meta.pop("size")) for meta in metas]
        crcs = [int(meta.pop("crc")) for meta in metas]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged(f"bad header: {exc}") from exc
    return metas, sizes, crcs, body
