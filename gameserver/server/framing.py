"""The WebSocket frames of the hot path, written and read here; websockets does the rest.

Every message a player sends and every one it gets is a single frame (RFC 6455 5.2): the server
sends final, unmasked text frames, and a client sends final, masked text or binary frames.
websockets' sans-I/O protocol reads and writes those through a general path (a parser
coroutine, a ``Frame`` object, its checks), which was a tenth of the server's time with 1,000
players. So these two shapes are framed and read here, and everything else is websockets'
business: the handshake, pings and pongs, the closing handshake, fragmented messages, and
every frame that breaks a rule, which websockets answers with the right close code.

:class:`Reader` hands websockets only whole frames, so websockets' parser always stands at a
frame boundary. Pings and pongs go to it frame by frame and reading here goes on; any other
frame hands it the rest of the stream for good (:attr:`Reader.handed_over`).
"""

from __future__ import annotations

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


def text_header(size: int) -> bytes:
    """The header of a server's (unmasked) final text frame of ``size`` bytes."""
    if size < 126:
        return bytes((_FIN_TEXT, size))
    if size < 1 << 16:
        return bytes((_FIN_TEXT, 126)) + size.to_bytes(2, "big")
    return bytes((_FIN_TEXT, 127)) + size.to_bytes(8, "big")


class Reader:
    """Splits what a client sends into its frames; see the module docstring."""

    __slots__ = ("_buffer", "_max_size", "handed_over")

    def __init__(self, max_size: int) -> None:
        self._buffer = b""
        self._max_size = max_size
        #: Whether the stream now goes to websockets alone, from the last item returned on.
        self.handed_over = False

    def feed(self, data: bytes) -> list[Item]:
        """The frames completed by ``data``, in order (see :data:`Item`); a partial frame
        waits for the next call."""
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
            masked = second & _MASKED
            if first in (_FIN_TEXT, _FIN_BINARY) and masked and size <= self._max_size:
                kind: bool | None = first == _FIN_TEXT
            elif first in (_PING, _PONG) and masked and size <= 125:
                kind = None
            else:  # a close, a fragment, a broken or oversized frame: websockets' from here
                self.handed_over = True
                self._buffer = b""
                items.append((buffer[at:], None))
                return items
            stop = head + 4 + size
            if stop > end:
                break
            if kind is None:
                items.append((buffer[at:stop], None))
            else:
                mask = buffer[head : head + 4]
                items.append((apply_mask(buffer[head + 4 : stop], mask), kind))
            at = stop
        self._buffer = buffer[at:]
        return items
