"""Payload encoding: JSON by orjson, then optional zstd or zlib compression.

Reading never trusts a setting: the format is recognised by its leading bytes (the zstd frame
magic, a zlib header, or ``{`` for plain JSON), so records written before compression was turned
on, or with another codec, stay readable. Payloads under 3.5 KB are stored plain: a frame of a
few dozen bytes is larger than the JSON it holds, and one of a few hundred or a few thousand
saves a few hundred bytes or a couple of kilobytes for microseconds of the event loop's time on
every decision, round and seat claimed.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import zstandard

#: Codecs accepted by :class:`Codec`.
COMPRESSIONS = ("zstd", "zlib", None)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Below this many bytes of JSON the payload is stored uncompressed. A Beer Game round's record
#: (about 930 bytes, 350 compressed) stays plain: compressing it was 2% of the server's CPU under
#: load (scripts/bench, saturated), for 580 bytes a round on disk. So does a young game's whole
#: record (2.5-3.2 KB, about 1 KB compressed), written when the game is created and at each
#: seat claimed: compressing it was 9% of a join's CPU (118k of 1.34M instructions), and it
#: fits in one 4 KB SQLite page plain. From about week 8 on (3.7 KB; 6 KB at week 36, 1.9 KB
#: compressed) a whole record is compressed.
MIN_COMPRESS_SIZE = 3584
#: A record claiming to decompress to more than this is treated as damaged, not allocated.
MAX_DECODED_SIZE = 256 * 1024 * 1024


class DecodeError(Exception):
    """A payload could not be decoded; the message says why (the caller adds the game)."""


def _is_zlib(payload: bytes) -> bool:
    # RFC 1950: CM = 8 (deflate), CINFO <= 7, and the two header bytes form a multiple of 31.
    # JSON's "{" (0x7b) has CM = 11, so it can never be mistaken for one.
    return (
        len(payload) >= 2
        and payload[0] & 0x0F == 8
        and payload[0] >> 4 <= 7
        and (payload[0] << 8 | payload[1]) % 31 == 0
    )


class Codec:
    """Turns JSON-able dicts into payload bytes and back.

    Keeps one zstd compressor and decompressor, which are not thread-safe: use a codec from one
    thread at a time (the Store uses it on the event loop only).
    """

    def __init__(self, compression: str | None = "zstd", *, level: int = 3) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}: use 'zstd', 'zlib' or None")
        self.compression = compression
        self._level = level
        self._zstd_c = zstandard.ZstdCompressor(level=level)
        self._zstd_d = zstandard.ZstdDecompressor()

    def encode(self, data: dict[str, Any]) -> bytes:
        """JSON-encode ``data`` and compress it if compression is on and it pays."""
        raw = orjson.dumps(data)
        if self.compression is None or len(raw) < MIN_COMPRESS_SIZE:
            return raw
        if self.compression == "zstd":
            packed: bytes = self._zstd_c.compress(raw)
        else:
            packed = zlib.compress(raw, self._level)
        return packed if len(packed) < len(raw) else raw

    def decode(self, payload: bytes) -> dict[str, Any]:
        """The dict stored in ``payload``, whatever codec wrote it; :class:`DecodeError` if none."""
        if payload[:4] == ZSTD_MAGIC:
            size = zstandard.frame_content_size(payload)
            if size < 0 or size > MAX_DECODED_SIZE:
                raise DecodeError(f"zstd frame declares an unusable content size ({size})")
            raw = self._zstd_d.decompress(payload)
        elif _is_zlib(payload):
            inflater = zlib.decompressobj()
            raw = inflater.decompress(payload, MAX_DECODED_SIZE)
            if not inflater.eof:
                raise DecodeError("zlib stream is truncated or larger than the limit")
        elif payload[:1] == b"{":
            raw = payload
        else:
            head = payload[:8].hex() or "nothing"
            raise DecodeError(f"payload is neither zstd, zlib nor JSON (starts with {head})")
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise DecodeError(f"payload holds a JSON {type(data).__name__}, not an object")
        return data
