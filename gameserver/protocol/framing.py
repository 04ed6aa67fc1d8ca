"""The WebSocket frames of the hot path, written and read here; websockets does the rest.

Every message a player sends and every one it gets is a single frame (RFC 6455 5.2): a server
sends final, unmasked text frames, and a client sends final, masked text or binary frames.
websockets' sans-I/O protocol reads and writes those through a general path (a parser
coroutine, a ``Frame`` object, its checks, a system call for each mask), which was a tenth of
the server's time with 1,000 players and most of a bot's. So these shapes are framed and read
here, by the server (``gameserver.server.websocket``) and by the bots
(``gameserver.client.link``), and everything else is websockets' business: the handshake, pings
and pongs, the closing handshake, fragmented messages, and every frame that breaks a rule,
which websockets answers with the right close code.

:class:`Reader` hands websockets only whole frames, so websockets' parser always stands at a
frame boundary. Pings and pongs go to it frame by frame and reading here goes on; any other
frame hands it the rest of the stream for good (:attr:`Reader.reading` turns false). Before
:meth:`Reader.start` (the handshake, websockets' alone) everything goes to websockets too.
"""

from __future__ import annotations

import os
import struct

try:  # websockets' C speedup, as its own framing uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a websockets built without its C extension
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81  # FIN, no reserved bit, opcode 1 (text)
_FIN_BINARY = 0x82
_PING, _PONG = 0x89, 0x8A
_MASKED = 0x80

#: What :meth:`Reader.feed` returns for each frame: ``(payload, True)`` for a text message,
#: ``(payload, False)`` for a binary one, ``(bytes, None)`` for bytes to give websockets.
Item = tuple[bytes, bool | None]


#: The headers of short text frames, by size; and any other header packed in one call (a
#: server frames two messages a decision: building each header from a tuple took twice as long).
_SHORT_TEXT = tuple(bytes((_FIN_TEXT, size)) for size in range(126))
_HEAD_8 = struct.Struct("!BB").pack
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


def text_header(size: int) -> bytes:
    """The header of a server's (unmasked) final text frame of ``size`` bytes."""
    if size < 126:
        return _SHORT_TEXT[size]
    if size < 1 << 16:
        return _HEAD_16(_FIN_TEXT, 126, size)
    return _HEAD_64(_FIN_TEXT, 127, size)


class _Masks:
    """Masking keys for client frames, 4 bytes each, from the operating system's random source
    a thousand at a time (RFC 6455 5.3 asks for strong entropy, not a system call per frame)."""

    def __init__(self, batch: int = 1024) -> None:
        self._batch = 4 * batch
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(self._batch), 0
        mask = self._pool[self._at : self._at + 4]
        self._at += 4
        return mask


_masks = _Masks()


def client_frame(payload: bytes, opcode: int = 2) -> bytes:
    """A final, masked data frame carrying ``payload`` (binary unless ``opcode`` says 1, text),
    as a client sends it."""
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        head = _HEAD_8(first, _MASKED | size)
    elif size < 1 << 16:
        head = _HEAD_16(first, _MASKED | 126, size)
    else:
        head = _HEAD_64(first, _MASKED | 127, size)
    mask = _masks.next()
    return head + mask + apply_mask(payload, mask)


class Reader:
    """Splits what the other side sends into its frames; see the module docstring. A server
    reads masked frames (``masked``, as RFC 6455 requires of clients), a client unmasked ones."""

    __slots__ = ("_buffer", "_mask_bit", "_max_size", "reading")

    def __init__(self, max_size: int, *, masked: bool = True) -> None:
        self._buffer = b""
        self._max_size = max_size
        self._mask_bit = _MASKED if masked else 0
        #: Whether frames are read here: from :meth:`start` until a frame hands the rest of
        #: the stream to websockets.
        self.reading = False

    def start(self) -> None:
        """Read frames from now on: the handshake is done, and websockets' parser stands at a
        frame boundary (it has read nothing past the handshake)."""
        self.reading = True

    def feed(self, data: bytes) -> list[Item]:
        """The frames completed by ``data``, in order (see :data:`Item`); a partial frame
        waits for the next call. While not :attr:`reading`, ``data`` whole, for websockets."""
        if not self.reading:
            return [(data, None)]
        buffer = self._buffer + data if self._buffer else data
        items: list[Item] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            size, head = second & 0x7F, at + 2
            if size == 126:
                head = at + 4
                size = int.from_bytes(buffer[at + 2 : head], "big")
            elif size == 127:
                head = at + 10
                size = int.from_bytes(buffer[at + 2 : head], "big")
            if head > end:
                break
            right_mask = second & _MASKED == self._mask_bit
            if first in (_FIN_TEXT, _FIN_BINARY) and right_mask and size <= self._max_size:
                kind: bool | None = first == _FIN_TEXT
            elif first in (_PING, _PONG) and right_mask and size <= 125:
                kind = None
            else:  # a close, a fragment, a broken or oversized frame: websockets' from here
                self.reading = False
                self._buffer = b""
                items.append((buffer[at:], None))
                return items
            start = head + 4 if self._mask_bit else head
            stop = start + size
            if stop > end:
                break
            if kind is None:
                items.append((buffer[at:stop], None))
            elif start == head:
                items.append((buffer[head:stop], kind))
            else:
                items.append((apply_mask(buffer[start:stop], buffer[head:start]), kind))
            at = stop
        self._buffer = buffer[at:]
        return items
