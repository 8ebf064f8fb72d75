"""An HTTP load generator: N GET requests to one path from a fixed number of concurrent clients.

Each request records its status, the server time from the ``Server-Timing: app;dur=<ms>``
header (set by ``engagement.core.middleware.ServerTimingMiddleware``) and the latency the client
observed. Transport errors are recorded as status 0 so they count as failures, not crashes.
:func:`fetch` also sends other methods (a form POST), for benchmarks that drive their own load.
"""

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

SERVER_TIMING = re.compile(r"(?:^|,)\s*app;dur=([0-9.]+)")


@dataclass(frozen=True)
class Sample:
    status: int
    server_ms: float | None
    client_ms: float
    error: str = ""
    location: str = ""  # of a redirect


@dataclass(frozen=True)
class Phase:
    path: str
    samples: list[Sample]
    wall_s: float


# Below uvicorn's keep-alive timeout (5 s): the client drops an idle connection before the
# server may close it, so a request never races the server's close (an httpx ReadError).
KEEPALIVE_EXPIRY_S = 2.0


def client(base_url: str, *, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=concurrency,
        max_keepalive_connections=concurrency,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)


async def hammer(http: httpx.AsyncClient, path: str, *, requests: int, concurrency: int) -> Phase:
    """``requests`` GETs of ``path`` by ``concurrency`` workers sharing one queue of work."""
    work = iter(range(requests))
    samples: list[Sample] = []

    async def worker() -> None:
        for _ in work:
            samples.append(await fetch(http, path))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(path=path, samples=samples, wall_s=time.perf_counter() - start)


def merge(phases: Sequence[Phase]) -> Phase:
    """Phases of one path as one: all their samples, over the sum of their wall times."""
    return Phase(
        path=phases[0].path,
        samples=[sample for phase in phases for sample in phase.samples],
        wall_s=sum(phase.wall_s for phase in phases),
    )


async def fetch(
    http: httpx.AsyncClient,
    path: str,
    *,
    method: str = "GET",
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Sample:
    """One request; ``data`` is sent form-encoded (a list value repeats the name)."""
    start = time.perf_counter()
    try:
        response = await http.request(method, path, data=data, headers=headers)
    except httpx.TransportError as exc:
        client_ms = (time.perf_counter() - start) * 1000
        return Sample(status=0, server_ms=None, client_ms=client_ms, error=type(exc).__name__)
    client_ms = (time.perf_counter() - start) * 1000
    return Sample(
        status=response.status_code,
        server_ms=server_time(response.headers.get("server-timing", "")),
        client_ms=client_ms,
        location=response.headers.get("location", ""),
    )


def server_time(header: str) -> float | None:
    match = SERVER_TIMING.search(header)
    return float(match.group(1)) if match else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(phase: Phase) -> dict[str, Any]:
    """The figures of one phase; times in milliseconds, rounded to microseconds."""
    server = [s.server_ms for s in phase.samples if s.server_ms is not None]
    untimed = [s for s in phase.samples if s.server_ms is None]
    latency = [s.client_ms for s in phase.samples]
    statuses = Counter(s.status for s in phase.samples)
    errors = Counter(s.error for s in phase.samples if s.error)
    return {
        "path": phase.path,
        "requests": len(phase.samples),
        "non_200": sum(n for status, n in statuses.items() if status != 200),
        "missing_server_timing": sum(s.status == 200 for s in untimed),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "transport_errors": dict(sorted(errors.items())),
        "server_p50_ms": round(percentile(server, 50), 3),
        "server_p95_ms": round(percentile(server, 95), 3),
        "client_p50_ms": round(percentile(latency, 50), 3),
        "client_p95_ms": round(percentile(latency, 95), 3),
        "rps": round(len(phase.samples) / phase.wall_s, 1),
    }


def outcome_figures(
    samples: Sequence[Sample],
    accepted: Sequence[bool],
    *,
    wall_s: float,
    cpu_s: dict[str, float],
    noun: str = "requests",
    rate: str = "per_s",
    per: str = "request",
) -> dict[str, Any]:
    """The figures of a phase whose requests each succeed or fail by the benchmark's own test
    (a redirect to a receipt, a 200 with the right text): counts, statuses, the first failures,
    the rate of accepted ones, client and server percentiles and CPU per request of each process
    group (``cpu_s``: seconds by role). Times in milliseconds. ``noun``, ``rate`` and ``per``
    name the keys (``ballots``, ``ballots_per_s``, ``cpu_ms_per_ballot_<role>``)."""
    failures = [s for s, ok in zip(samples, accepted, strict=True) if not ok]
    good = len(samples) - len(failures)
    server = [s.server_ms for s in samples if s.server_ms is not None]
    latency = [s.client_ms for s in samples]
    figures: dict[str, Any] = {
        noun: len(samples),
        "accepted": good,
        "failed": len(failures),
        "statuses": dict(sorted(Counter(str(s.status) for s in samples).items())),
        "first_failures": [
            {"status": s.status, "location": s.location, "error": s.error} for s in failures[:5]
        ],
        "wall_s": round(wall_s, 2),
        rate: round(good / wall_s, 1) if wall_s else 0.0,
    }
    for source, values in (("client", latency), ("server", server)):
        for q in (50, 95, 99):
            figures[f"{source}_p{q}_ms"] = round(percentile(values, q), 2)
    requests = max(len(samples), 1)
    for role, seconds in cpu_s.items():
        figures[f"cpu_ms_per_{per}_{role}"] = round(seconds * 1000 / requests, 2)
    return figures
