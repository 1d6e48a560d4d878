"""The live pages' event streams (ians/web/streams.py): one task feeds them all, each
batch made into bytes once and written to every stream; a stream that lags or whose
browser went is ended; gzip when the browser takes it. On a real loopback server (a
bare app holding the streams, so that a test publishes what it likes); the dashboard's
own stream: tests/web/test_live.py."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse, web

from ians.live import GATHER, GATHER_BUSY, Change, Live, next_gather
from ians.web.streams import (
    GZIP_HEADER,
    LAG,
    Channel,
    Events,
    Streams,
    _Stream,
    deflated,
)

Client = Any  # pytest-aiohttp's TestClient


async def numbers(batches: list[tuple[Change, ...]]) -> bytes:
    """Each change as an event whose data is its number on the bus."""
    return b"".join(b"event: n\ndata: %d\n\n" % c.seq for b in batches for c in b)


async def channel() -> Events:
    return numbers


@pytest.fixture
async def served(aiohttp_client: Any) -> AsyncIterator[tuple[Client, Live, Streams]]:
    live, streams = Live(gather=0, busy=0), Streams()
    app = web.Application()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await streams.serve(request, live, "numbers", channel)

    app.router.add_get("/live", handler)
    app.on_shutdown.append(streams.shutdown)
    yield await aiohttp_client(app), live, streams


async def events_of(stream: ClientResponse, count: int) -> list[int]:
    """The numbers of the next `count` events of the stream."""
    seen: list[int] = []
    async with asyncio.timeout(5):
        while len(seen) < count:
            line = await stream.content.readline()
            assert line, "the stream ended"
            if line.startswith(b"data: "):
                seen.append(int(line[6:]))
    return seen


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds (the server is in this loop)."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (a turn of the loop, no time passing)
            await asyncio.sleep(0)


async def open_streams(client: Client, count: int, **headers: str) -> list[ClientResponse]:
    opened = [await client.get("/live", headers=headers) for _ in range(count)]
    for stream in opened:
        assert stream.status == 200 and await stream.content.readline() == b"retry: 2000\n"
    return opened


def test_the_window_grows_while_changes_keep_coming_and_is_short_after_quiet() -> None:
    window = next_gather(GATHER, quiet=60.0, least=GATHER, most=GATHER_BUSY)
    assert window == GATHER  # a lone change goes out soon
    grown = []
    for _ in range(4):  # a burst: each change comes right after the last batch went out
        window = next_gather(window, quiet=0.001, least=GATHER, most=GATHER_BUSY)
        grown.append(window)
    assert grown == [2 * GATHER, GATHER_BUSY, GATHER_BUSY, GATHER_BUSY] == [0.05, 0.1, 0.1, 0.1]
    assert next_gather(window, quiet=GATHER_BUSY * 1.5, least=GATHER, most=GATHER_BUSY) == GATHER


async def test_every_stream_gets_every_event_in_order_from_one_watcher(
    served: tuple[Client, Live, Streams],
) -> None:
    client, live, streams = served
    opened = await open_streams(client, 3)
    await until(lambda: len(streams) == 3)
    assert len(live) == 1  # one watcher on the bus for all the streams
    for burst in range(20):  # bursts, the loop running between them
        for n in range(50):
            live.publish(f"m-{burst}-{n}", [])
        await asyncio.sleep(0)
    for stream in opened:
        assert await events_of(stream, 1000) == list(range(1, 1001))
    opened[0].close()
    async with asyncio.timeout(5):  # a write after the browser went ends its stream
        while len(streams) == 3:
            live.publish("after", [])
            await asyncio.sleep(0)
    assert await events_of(opened[1], 1) == [1001]


async def test_streams_are_gzipped_for_a_browser_that_takes_it_and_say_the_same(
    served: tuple[Client, Live, Streams],
) -> None:
    client, live, streams = served
    [zipped] = await open_streams(client, 1, **{"Accept-Encoding": "gzip, deflate"})
    [plain] = await open_streams(client, 1, **{"Accept-Encoding": "identity"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"
    await until(lambda: len(streams) == 2)
    for n in range(30):
        live.publish(f"m-{n}", [])
    assert await events_of(zipped, 30) == await events_of(plain, 30) == list(range(1, 31))


def test_pieces_compressed_apart_make_one_gzip_stream() -> None:
    pieces = [b"retry: 2000\n\n", b"event: n\ndata: 1\n\n" * 50, b": still here\n\n"]
    joined = GZIP_HEADER + b"".join(deflated(p) for p in pieces)
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert reader.decompress(joined) == b"".join(pieces)  # one piece at a time, as they come
    late = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a stream that joined after the first
    assert late.decompress(GZIP_HEADER + deflated(pieces[2])) == pieces[2]


class Transport:
    """What `Channel.write` uses of a transport: what was written, and a buffer."""

    def __init__(self, unsent: int = 0) -> None:
        self.unsent, self.closing, self.written = unsent, False, list[bytes]()

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def write(self, data: bytes) -> None:
        self.written.append(data)


def stream_to(transport: Transport, chunked: bool = True, gzip: bool = False) -> _Stream:
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    return _Stream(transport, chunked, gzip, ended)  # type: ignore[arg-type]


async def test_one_frame_serves_many_streams_and_a_lagging_one_is_ended() -> None:
    quick = [Transport() for _ in range(3)]
    slow, gone, old, zipped = Transport(LAG + 1), Transport(), Transport(), Transport()
    gone.closing = True
    streams = [stream_to(t) for t in [*quick, slow, gone]]
    streams += [stream_to(old, chunked=False), stream_to(zipped, gzip=True)]
    channel = Channel(numbers, set(streams))
    data = b"event: n\ndata: 1\n\n"
    channel.write(data)
    [frame] = quick[0].written
    assert frame == b"%x\r\n%b\r\n" % (len(data), data)
    assert all(t.written[0] is frame for t in quick)  # the same bytes, made once
    assert old.written == [data]  # HTTP/1.0: no chunks
    [packed] = zipped.written
    assert packed.endswith(b"\r\n") and deflated(data) in packed
    assert slow.written == gone.written == []
    ended = {s for s in streams if s.ended.done()}
    assert ended == {streams[3], streams[4]} and channel.streams == set(streams) - ended


async def test_shutting_down_ends_every_stream(served: tuple[Client, Live, Streams]) -> None:
    client, _, streams = served
    opened = await open_streams(client, 2)
    await until(lambda: len(streams) == 2)
    streams.close()
    for stream in opened:
        async with asyncio.timeout(5):
            assert await stream.content.read() == b"\n"  # the `retry:` line's end, then the end
    await until(lambda: len(streams) == 0)
