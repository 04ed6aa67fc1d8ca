"""One bot's WebSocket connection: websockets' sans-I/O protocol driven by asyncio callbacks.

The asyncio client of websockets hands each message to a waiting task through a future and a
queue: a task wake-up and a few allocations per frame, which is most of the cost when one
process runs two thousand bots. A bot needs none of it: it reacts to each message at once and
never waits on one. So here the bytes read from the socket go straight to the bot's handler,
inside the event loop's read callback: the common frames through
:mod:`gameserver.protocol.framing`, the rest through websockets' own frame parser
(``ClientProtocol``, which also answers pings and the closing handshake). A handler that raises
fails the link: the transport is aborted and the task that owns the link gets the exception
from :meth:`Link.wait`.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import WebSocketURI

from gameserver.protocol.framing import Reader, client_frame

#: ``handler(link, payload)``: called for every complete text or binary message.
Handler = Callable[["Link", bytes], None]

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
#: A module constant: on Python 3.11 reading a member from an Enum class is a Python call (the
#: metaclass's __getattr__ hook), and a bot asks whether its link is open on every send.
_OPEN = State.OPEN
T = TypeVar("T")


class Link(asyncio.Protocol):
    """A client WebSocket as an :class:`asyncio.Protocol`; build it with :func:`open_link`."""

    def __init__(self, uri: WebSocketURI, handler: Handler, max_size: int) -> None:
        self._ws = ClientProtocol(uri, max_size=max_size)
        # Reads the common frames once open (protocol/framing.py); websockets all before.
        self._reader = Reader(max_size, masked=False)
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._parts: list[bytes] = []
        loop = asyncio.get_running_loop()
        #: The event loop the link runs on.
        self.loop = loop
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.failure: BaseException | None = None
        self.last_received = time.monotonic()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream, from create_connection
        self._ws.send_request(self._ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        # Only what websockets reads makes output of its own (a pong, a close): flushed then.
        websockets_read = False
        for payload, text in self._reader.feed(data):
            if text is None:
                self._through_websockets(payload)
                websockets_read = True
            elif not self._deliver(payload):
                return
        if websockets_read and self.failure is None:
            self._flush()

    def _through_websockets(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        for event in ws.events_received():
            if not isinstance(event, Frame):  # the handshake's HTTP response
                if ws.handshake_exc is not None:
                    self._not_opened(ws.handshake_exc)
                elif not self.opened.done():
                    # From here the common frames are read in protocol/framing.py. The server
                    # sends none before the hello, so websockets has read the response alone
                    # and its parser stands at a frame boundary, as framing.Reader needs.
                    self._reader.start()
                    self.opened.set_result(None)
                continue
            if event.opcode not in _DATA:
                continue  # ping, pong and close are the protocol object's business
            payload = event.data if isinstance(event.data, bytes) else bytes(event.data)
            if not event.fin:
                self._parts.append(payload)
                continue
            if self._parts:
                payload = b"".join([*self._parts, payload])
                self._parts.clear()
            if not self._deliver(payload):
                return

    def _deliver(self, payload: bytes) -> bool:
        """Hand one whole message to the handler; False if it failed the link."""
        if self.failure is None:
            try:
                self._handler(self, payload)
            except Exception as exc:
                self.fail(exc)
                return False
        return True

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._flush()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._not_opened(exc or ConnectionError("the connection closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    # -- what the owner does --------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._ws.state is _OPEN and self.failure is None

    @property
    def close_code(self) -> int | None:
        """The code of the close frame the server sent, if it sent one."""
        received = self._ws.close_rcvd
        return received.code if received is not None else None

    def send(self, data: bytes) -> None:
        """Send one binary message now (dropped if the connection is no longer open)."""
        if self._ws.state is _OPEN and self._transport is not None:
            # Framed in protocol/framing.py: websockets draws each frame's mask with a system
            # call of its own, most of a bot's cost of sending. The protocol object has
            # nothing queued (every call flushes it), so the order is kept.
            self._transport.write(client_frame(data))

    def ping(self) -> None:
        if self._ws.state is _OPEN:
            self._ws.send_ping(b"")
            self._flush()

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; :attr:`lost` resolves when the server has closed."""
        if self._ws.state is _OPEN:
            self._ws.send_close(code)
            self._flush()

    def fail(self, exc: BaseException) -> None:
        """Give up this connection because of ``exc`` (raised again by :meth:`wait`)."""
        if self.failure is None:
            self.failure = exc
        self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def wait(self, ping_interval: float | None) -> None:
        """Until the connection is gone; re-raise what failed it. With ``ping_interval``, a
        connection silent that long is pinged, and one silent twice as long is dropped."""
        if ping_interval is None:
            await self.lost
        else:
            while not self.lost.done():
                try:
                    await asyncio.wait_for(asyncio.shield(self.lost), ping_interval)
                except TimeoutError:
                    silent = time.monotonic() - self.last_received
                    if silent > 2 * ping_interval:
                        self.fail(TimeoutError(f"nothing from the server for {silent:.0f} s"))
                    elif silent >= ping_interval:
                        self.ping()
        if self.failure is not None:
            raise self.failure

    def _not_opened(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
            self.opened.exception()  # whoever awaits it still gets it; nobody else must

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        for chunk in self._ws.data_to_send():
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()


#: The collector's thresholds while bots run (:func:`run`), and once they are all connected
#: (:func:`settled`).
BOTS_GC_THRESHOLDS = (50_000, 20, 20)
PLAYING_GC_THRESHOLDS = (200_000, 20, 20)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end as ``asyncio.run`` does, on uvloop where it is installed: there
    bots read and write their sockets for about a third less CPU (``scripts/bench``).

    Meanwhile Python's cycle collector runs less often: a process of a thousand bots holds a
    few hundred thousand objects (connections, views), and at the default thresholds the
    collector scanned them all every few seconds, for up to 300 ms at a time, in all a third
    of the bots' CPU (``gameserver bots`` with 750 games x 36 weeks: 9.0 s of CPU, 2.7 s of it
    collecting). What exists before ``main`` starts is frozen out of the scans, and the young
    generation is collected every 50,000 objects rather than 700 (6.1 s of CPU; the longest
    pause 48 ms instead of 300). Once the bots are all connected, :func:`settled` freezes what
    they keep as well. All is put back when ``main`` ends."""
    global _TUNED
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BOTS_GC_THRESHOLDS)
    _TUNED = True
    try:
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
            return asyncio.run(main)
        return uvloop.run(main)
    finally:
        _TUNED = False
        gc.set_threshold(*thresholds)
        gc.unfreeze()


#: Whether :func:`run` is running: the collector is tuned for bots.
_TUNED = False


def settled() -> None:
    """Every bot of the run is connected (or gave up): what they keep while they play is
    made. Under :func:`run`, freeze it out of the collector's scans, as what existed before,
    and collect the young generation every :data:`PLAYING_GC_THRESHOLDS` objects: a round
    leaves no garbage cycle behind, so all that grows it is what the bots keep (at the end,
    each bot's last view and its debrief, about 50 objects a bot), and the run ends without a
    pause in its rounds. Measured (paced 250 x 4 at 0.1 s, a probe): the bots paused 13-28 ms
    for the collector while their rounds were timed, one pause often in the last round; now
    none. Elsewhere (tests, a caller's own loop) it does nothing."""
    if _TUNED:
        gc.freeze()
        gc.set_threshold(*PLAYING_GC_THRESHOLDS)


async def open_link(uri: WebSocketURI, handler: Handler, *, max_size: int = 2**22) -> Link:
    """Connect and complete the opening handshake (bound it with ``asyncio.timeout``)."""
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if uri.secure else None
    link = Link(uri, handler, max_size)
    try:
        await loop.create_connection(lambda: link, uri.host, uri.port, ssl=context)
        await link.opened
    except BaseException:
        link.abort()
        raise
    return link
