"""How a process that serves IANS runs: on uvloop where it is installed, and with the
garbage collector's youngest generation collected less often than Python's default.
`ians serve`, `ians drill` and the benchmarks' servers (and their ceilings) all start
this way, so that what the benchmarks measure is what a deployment runs."""

from __future__ import annotations

import asyncio
import gc

GC_YOUNG = 50_000
"""Objects allocated (net) between two collections of the youngest generation; Python's
default is 700. A request in flight holds a few dozen objects (its task, frames,
futures, headers) for milliseconds: at 700, with 64 requests in flight, every few
acknowledgements a collection walked all of them, promoted them, and soon walked them
again in the older generations, ~12 us of every ack (bench/README.md). Objects freed by
their reference count never count, so memory grows only by cyclic garbage, collected
as before, just less often."""


def prepare() -> None:
    """Set up this process to serve: the event loop policy and the collector."""
    try:
        import uvloop
    except ImportError:  # optional: faster event loop where available
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
