"""The live pages' event streams (Server-Sent Events), fed all at once.

One task watches the live bus (ians/live.py) for all the streams of an app. The streams
that show the same thing (the dashboard; one exercise's page) form a `Channel`: each
batch of changes is made into the bytes of its events once per channel, and those same
bytes (framed once as an HTTP chunk) are written to every stream's transport in one pass,
without a coroutine per stream being woken and without waiting for any of them: 500
dashboards cost one rendering and 500 `transport.write`s per batch, and the bus's window
grows under a burst (25 → 100 ms), so a burst of acks is a few writes a second per
stream, not one an ack. A stream whose transport holds more than `LAG` bytes unsent (its
browser does not read) is ended, as is one whose browser went away; its page reconnects
and loads itself again (ians/web/static/live.js), so it misses nothing. A comment every
`KEEPALIVE` seconds of quiet keeps proxies from closing an idle stream and finds the
streams whose browser went away. Each stream's handler waits for its end alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.http import HttpVersion11

from ians.live import Change, Live
from ians.web.keys import tracker_key

KEEPALIVE = 15.0  # seconds between comments on a quiet stream (proxies drop idle ones)
LAG = 1 << 20  # bytes unsent in a stream's transport before it is ended as lagging
BATCH = 256  # changes, about, made into one write when batches queued up meanwhile

Events = Callable[[list[tuple[Change, ...]]], Awaitable[bytes]]
"""What a channel's streams make of the batches of changes that came together (b"": none)."""


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952, no name, no time


def deflated(data: bytes) -> bytes:
    """`data` as deflate blocks of their own (no reference to what came before, none of
    them the last, ending on a byte): a gzip stream may go on with any such piece, so
    one compression serves every stream, whenever it joined."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)


def gzipped(request: web.Request) -> bool:
    """Whether the browser takes the stream gzipped (every browser does)."""
    accepted = request.headers.get("Accept-Encoding", "")
    return any(part.split(";")[0].strip() == "gzip" for part in accepted.split(","))


@dataclass(eq=False)
class _Stream:
    transport: asyncio.Transport
    chunked: bool  # HTTP/1.1: each write is a chunk; HTTP/1.0: the bytes as they are
    gzip: bool  # Content-Encoding: gzip
    ended: asyncio.Future[None]

    def end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


@dataclass(eq=False)
class Channel:
    """The streams that show the same thing, and what they make of a batch of changes."""

    events: Events
    streams: set[_Stream] = field(default_factory=set)

    def write(self, data: bytes) -> None:
        """The same bytes to every stream (compressed once, framed once); one that is gone
        or lags is ended instead."""
        made: dict[tuple[bool, bool], bytes] = {}
        for stream in list(self.streams):
            transport = stream.transport
            if transport.is_closing() or transport.get_write_buffer_size() > LAG:
                self.streams.discard(stream)
                stream.end()
                continue
            how = (stream.gzip, stream.chunked)
            out = made.get(how)
            if out is None:
                out = made[how] = _framed(deflated(data) if stream.gzip else data, stream.chunked)
            transport.write(out)


def _framed(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if chunked else data


class Streams:
    """The open streams of an app's live pages, by channel, and the task that feeds them."""

    def __init__(self, keepalive: float = KEEPALIVE) -> None:
        self._keepalive = keepalive
        self._channels: dict[Hashable, Channel] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return sum(len(c.streams) for c in self._channels.values())

    async def serve(
        self,
        request: web.Request,
        live: Live,
        key: Hashable,
        events: Callable[[], Awaitable[Events]],
    ) -> web.StreamResponse:
        """The stream of channel `key` (`events()` makes the channel's, when it is new),
        until the browser goes, it lags, or the app shuts down."""
        gzip = gzipped(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass each event on at once
                "Vary": "Accept-Encoding",
                **({"Content-Encoding": "gzip"} if gzip else {}),
            }
        )
        await response.prepare(request)
        first = b"retry: 2000\n\n"
        # the headers go with it
        await response.write(GZIP_HEADER + deflated(first) if gzip else first)
        transport = request.transport
        if transport is None:
            return response  # gone already
        stream = _Stream(
            transport,
            request.version >= HttpVersion11,
            gzip,
            asyncio.get_running_loop().create_future(),
        )
        channel = self._channels.get(key)
        if channel is None:
            made = await events()
            channel = self._channels.setdefault(key, Channel(made))
        channel.streams.add(stream)  # no wait between: the channel is the one in use
        self._start(live)
        try:
            await stream.ended
        finally:
            channel.streams.discard(stream)
            if not channel.streams and self._channels.get(key) is channel:
                del self._channels[key]
        if not transport.is_closing():
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
        return response

    def _start(self, live: Live) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._feed(live))

    async def _feed(self, live: Live) -> None:
        """One watcher for all the streams: each batch to each channel, then to its streams."""
        watch = live.watch()
        try:
            while not watch.lagged:
                try:
                    async with asyncio.timeout(self._keepalive):
                        batches = [await watch.queue.get()]
                except TimeoutError:
                    for channel in list(self._channels.values()):
                        channel.write(b": still here\n\n")
                    continue
                count = len(batches[0])  # batches that queued up meanwhile: one write
                while count < BATCH and not watch.queue.empty():
                    batches.append(watch.queue.get_nowait())
                    count += len(batches[-1])
                for channel in list(self._channels.values()):
                    data = await channel.events(batches)
                    if data:
                        channel.write(data)
        finally:
            live.unwatch(watch)
            self.close()  # this task fell behind (the loop was blocked): pages reload

    def close(self) -> None:
        """End every stream (the app shuts down)."""
        for channel in self._channels.values():
            for stream in channel.streams:
                stream.end()

    async def shutdown(self, app: web.Application) -> None:
        self.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


streams_key = web.AppKey("streams", Streams)


async def serve(
    request: web.Request, key: Hashable, events: Callable[[], Awaitable[Events]]
) -> web.StreamResponse:
    """The stream of channel `key` for this request (see `Streams.serve`)."""
    app = request.app
    return await app[streams_key].serve(request, app[tracker_key].live, key, events)


def add_streams(app: web.Application) -> None:
    app[streams_key] = streams = Streams()
    app.on_shutdown.append(streams.shutdown)
