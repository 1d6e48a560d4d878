"""Helpers shared by the benchmarks: a synthetic registry, an in-process loopback
server, the event loop to run on, percentiles and memory figures.

Benchmarks print figures; they never assert. Run each as `.venv/bin/python bench/NAME.py`
from the repository root.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import itertools
import os
import platform
import resource
import string
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
try:  # the venv has ians installed (editable); PYTHONPATH may point at another checkout
    import ians  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, TCPConnector, web  # noqa: E402

from ians import runtime  # noqa: E402
from ians.contacts import load_registry  # noqa: E402
from ians.domain.contacts import Country, PointOfContact, Registry, Role  # noqa: E402

T = TypeVar("T")
ADMIN_TOKEN = "bench-admin-token"
HOST = "127.0.0.1"


# --- the event loop -----------------------------------------------------------------------


def loop_name() -> str:
    """The loop `run` uses: uvloop where installed (as `ians serve`), else asyncio's."""
    try:
        return f"uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        return "asyncio (uvloop not installed)"


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main()` as `ians serve` runs (ians/runtime.py: uvloop where available, the
    collector's young generation tuned)."""
    runtime.prepare()
    with asyncio.Runner() as runner:
        return runner.run(main())  # type: ignore[arg-type]


def banner(title: str) -> None:
    print(f"== {title}")
    print(
        f"   {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}  python {platform.python_version()}"
        f"  loop: {loop_name()}  cpus: {os.cpu_count()}"
    )


# --- a synthetic registry -----------------------------------------------------------------


def country_codes(n: int) -> list[str]:
    """`n` distinct synthetic upper-case 3-letter codes: AAA, AAB, ... (at most 17,576)."""
    if n > 26**3:
        raise ValueError(f"only {26**3} three-letter codes exist")
    return [
        "".join(t) for t in itertools.islice(itertools.product(string.ascii_uppercase, repeat=3), n)
    ]


def poc_id(code: str, j: int) -> str:
    """The id of PoC number `j` (1-based, escalation order) of country `code`."""
    return f"{code.lower()}-{j}"


def registry_yaml(codes: Iterable[str], k: int) -> str:
    """A contacts file (SPEC §3) for `codes`, each with `k` 24/7 PoCs."""
    lines = ["countries:"]
    for code in codes:
        lines += [
            f"  {code}:",
            f"    name: Country {code}",
            "    timezone: UTC",
            "    points_of_contact:",
        ]
        lines += [
            f'      - {{id: {poc_id(code, j)}, roles: [notification, assistance], hours: "24/7"}}'
            for j in range(1, k + 1)
        ]
    return "\n".join(lines) + "\n"


def synthetic_registry(
    n: int,
    k: int,
    *,
    via_yaml: bool = False,
    folder: Path | None = None,
    email: bool = False,
    webhook: str | None = None,
) -> Registry:
    """`n` countries (AAA, AAB, ...) with `k` PoCs each, all with both roles, 24/7.

    `via_yaml`: write the contacts file to `folder` (or a temporary one) and load it with
    `load_registry`, as the server does; otherwise build the same models directly (the
    YAML loader takes ~28 s for 10,000 countries on this machine, the models ~0.4 s).
    `email`: each PoC has an address, `<poc id>@<code>.example`. `webhook`: each PoC has
    a webhook, `<webhook>/<poc id>`.
    """
    codes = country_codes(n)
    if via_yaml:
        folder = folder or Path(tempfile.mkdtemp(prefix="ians-bench-contacts-"))
        (folder / "synthetic.yaml").write_text(registry_yaml(codes, k))
        return load_registry([folder])
    roles = (Role.NOTIFICATION, Role.ASSISTANCE)
    return Registry(
        Country(
            code=c,
            name=f"Country {c}",
            timezone="UTC",
            points_of_contact=tuple(
                PointOfContact(
                    id=poc_id(c, j),
                    roles=roles,
                    country=c,
                    email=f"{poc_id(c, j)}@{c.lower()}.example" if email else None,
                    webhook=f"{webhook}/{poc_id(c, j)}" if webhook else None,
                )
                for j in range(1, k + 1)
            ),
        )
        for c in codes
    )


# --- messages ---------------------------------------------------------------------------------


def early_warning(sender: str, to: Sequence[str], mode: str = "exercise") -> dict[str, Any]:
    return {
        "type": "early_warning",
        "mode": mode,
        "from": sender,
        "to": list(to),
        "content": {
            "event_type": "release",
            "occurred_at": "2026-11-27T08:45:00+01:00",
            "location": {"name": "Pančevo", "lat": 44.87, "lon": 20.64},
        },
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- an in-process loopback server --------------------------------------------------------------


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1 on a free port (no access log); yields its base URL.

    Startup runs the app's cleanup_ctx (so the store is open and timers armed on entry);
    on exit the app is cleaned up (store closed).
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://{HOST}:{port}"
    finally:
        await runner.cleanup()


def client(limit: int = 64) -> ClientSession:
    return ClientSession(connector=TCPConnector(limit=limit))


async def issue_tokens(
    session: ClientSession, base: str, pocs: Iterable[str], concurrency: int = 64
) -> dict[str, str]:
    """A fresh token for each PoC, issued by the admin through `POST /api/pocs/{id}/token`."""
    pending = list(pocs)
    tokens: dict[str, str] = {}

    async def worker() -> None:
        while pending:
            poc = pending.pop()
            async with session.post(
                f"{base}/api/pocs/{poc}/token", headers=bearer(ADMIN_TOKEN)
            ) as response:
                body = await response.json()
                if response.status != 201:
                    raise RuntimeError(f"token for {poc}: {response.status} {body}")
                tokens[poc] = body["token"]

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tokens


# --- figures --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (as SPEC §10): the value at position ceil(p·n), p in [0, 1]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-round(p * 1_000_000) * len(ordered) // 1_000_000))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values_s: Sequence[float]) -> str:
    """`p50 / p99 / max` of durations given in seconds, in milliseconds."""
    p50, p99 = percentile(values_s, 0.50) * 1e3, percentile(values_s, 0.99) * 1e3
    worst = max(values_s) * 1e3
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms (n={len(values_s)})"


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (VmRSS) of this process or another, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def process_age_s() -> float:
    """Seconds since this process started (interpreter start-up and imports included)."""
    with open("/proc/self/stat") as stat:
        started = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0]) - started / os.sysconf("SC_CLK_TCK")


def max_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def sleep_floor(samples: int = 500, delay: float = 0.001) -> list[float]:
    """Lateness (s) of `asyncio.sleep(delay)` wake-ups: the event loop's own timer floor."""
    late = []
    for _ in range(samples):
        start = time.perf_counter()
        await asyncio.sleep(delay)
        late.append(time.perf_counter() - start - delay)
    return late


_TEMP_DIRS: list[tempfile.TemporaryDirectory[str]] = []


def tmp_db(prefix: str) -> Path:
    """A database path in a fresh temporary folder (on the same disk as /tmp), removed at
    exit; set IANS_BENCH_KEEP=1 to keep it."""
    if os.environ.get("IANS_BENCH_KEEP"):
        return Path(tempfile.mkdtemp(prefix=f"ians-bench-{prefix}-")) / "ians.db"
    folder = tempfile.TemporaryDirectory(prefix=f"ians-bench-{prefix}-")
    _TEMP_DIRS.append(folder)  # cleaned up when the interpreter exits
    return Path(folder.name) / "ians.db"


def _jiffies(helpers: tuple[int, ...] = ()) -> tuple[int, int]:
    """(busy jiffies of the whole machine, of this process, its helper processes and the
    child processes it has waited for, such as a benchmark's servers and receivers) so far."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    busy = sum(fields[:8]) - idle  # up to steal, without guest (already in user)
    own = 0
    for pid in ("self", *helpers):
        with open(f"/proc/{pid}/stat") as stat:
            times = stat.read().rsplit(")", 1)[1].split()
        own += int(times[11]) + int(times[12])  # utime + stime (all threads)
        own += int(times[13]) + int(times[14])  # of the children waited for (and theirs)
    return busy, own


class CpuShare:
    """CPU used since creation by this process (with its helpers, such as the store's
    writer process, and the child processes it has stopped, such as a round's server and
    receiver) and by everything else on the machine.

    Other processes (tests, builds) on this 2-core machine skew the figures: each
    benchmark prints this so a run under contention can be recognised and repeated.
    """

    def __init__(self, helpers: tuple[int, ...] = ()) -> None:
        self._helpers = helpers
        self.reset()

    def reset(self) -> None:
        self._start = time.monotonic()
        self._busy, self._own = _jiffies(self._helpers)

    def cores(self) -> tuple[float, float]:
        """(cores used by this process and its helpers, by the others) on average."""
        busy, own = _jiffies(self._helpers)
        hz = os.sysconf("SC_CLK_TCK")
        wall = max(time.monotonic() - self._start, 1e-9)
        mine = (own - self._own) / hz / wall
        return mine, max(0.0, (busy - self._busy) / hz / wall - mine)

    def __str__(self) -> str:
        mine, others = self.cores()
        warning = "  (other load: figures are pessimistic)" if others > 0.2 else ""
        ours = "this process and its writer" if self._helpers else "this process and its children"
        return f"cpu: {ours} {mine:.2f} cores, other processes {others:.2f} cores{warning}"
