"""How a process that serves IANS runs: on uvloop where it is installed, and with the
garbage collector's youngest generation collected less often than Python's default.
`ians serve`, `ians drill` and the benchmarks' servers (and their ceilings) all start
this way, so that what the benchmarks measure is what a deployment runs."""

from __future__ import annotations

import asyncio
import gc

GC_YOUNG = 50_000
"""Objects allocated (net) between two collections of the youngest generation (Python's
default: 700). Each request in flight holds a few dozen objects for milliseconds; at 700,
with 64 in flight, a collection every few acknowledgements walked them all and promoted
them to be walked again, 8-14 us of every ack (bench/README.md). Objects freed by their
reference count never count, so only cyclic garbage waits longer."""


def prepare() -> None:
    """Set up this process to serve: the event loop policy and the collector."""
    try:
        import uvloop
    except ImportError:  # optional: faster event loop where available
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
