"""Benchmark ``pages``: server time of the home page and a ward page, against a baseline.

Against the production-like stack (uvicorn with 2 workers, ``engagement.settings.production``,
PostgreSQL, Redis; the demo council from ``seed_demo``), 50 concurrent clients request each URL
in turn: ``/healthz`` (the minimal Django view: the baseline), ``/`` and ``/wards/<slug>/`` (the
first ward listed by ``/api/wards/``). After a warm-up, each URL gets N requests, in rounds in
which the URLs take turns (quick: 2 x 150, full: 5 x 600). Reported per
URL: p50/p95 server time (``Server-Timing: app;dur``) and its ratio to the baseline's, p50/p95
client-observed latency, requests per second and non-200 responses (any of which fails the run).

Under 50 concurrent clients on 2 cores, "server time" includes the CPU a request shares with the
others in its worker (Django runs each request in its own thread, under one GIL), so the same
figures are also taken with a single client (``single_client``): the cost of the page alone,
far steadier on a busy machine.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from bench import _load, _stack

CONCURRENCY = 50
SERVER_WORKERS = 2
BASELINE = "healthz"


@dataclass(frozen=True)
class Size:
    """Requests per URL. The measured ones come in rounds, the URLs taking turns in each, so a
    change in the machine's load during the run weighs on every URL alike."""

    warmup: int
    rounds: int
    per_round: int
    single: int

    @property
    def requests(self) -> int:
        return self.rounds * self.per_round


QUICK = Size(warmup=50, rounds=2, per_round=150, single=100)
FULL = Size(warmup=300, rounds=5, per_round=600, single=500)


def run(quick: bool) -> dict[str, Any]:
    size = QUICK if quick else FULL
    with _stack.workspace() as ws:
        _stack.prepare(ws)
        _stack.seed_demo(ws)
        with _stack.serve(ws, workers=SERVER_WORKERS) as base_url:
            paths, pages, single = asyncio.run(measure(base_url, size))
        everything = [*pages.values(), *single.values()]
        failed = sum(p["non_200"] + p["missing_server_timing"] for p in everything)
        if failed:
            _stack.log(f"{failed} failed requests; server log:\n{_stack.log_digest(ws.server_log)}")
    return {
        "benchmark": "pages",
        "ok": failed == 0,
        "quick": quick,
        "concurrency": CONCURRENCY,
        "server_workers": SERVER_WORKERS,
        "warmup_per_url": size.warmup,
        "requests_per_url": size.requests,
        "rounds": size.rounds,
        "ward_path": paths["ward"],
        "non_200": sum(p["non_200"] for p in everything),
        "pages": pages,
        "single_client": single,
    }


Figures = dict[str, dict[str, Any]]


async def measure(base_url: str, size: Size) -> tuple[dict[str, str], Figures, Figures]:
    """Warm every URL up, load them in rounds, then once more one request at a time; the paths
    and both sets of figures by name."""
    async with _load.client(base_url, concurrency=CONCURRENCY) as http:
        paths = {BASELINE: "/healthz", "home": "/", "ward": f"/wards/{await ward_slug(http)}/"}
        _stack.log(f"warm-up: {size.warmup} requests per URL")
        for path in paths.values():
            await _load.hammer(http, path, requests=size.warmup, concurrency=CONCURRENCY)
        phases: dict[str, list[_load.Phase]] = {name: [] for name in paths}
        for n in range(1, size.rounds + 1):
            _stack.log(f"round {n}/{size.rounds}: {size.per_round} requests per URL")
            for name, path in paths.items():
                phase = await _load.hammer(
                    http, path, requests=size.per_round, concurrency=CONCURRENCY
                )
                phases[name].append(phase)
    pages = {name: _load.summarise(_load.merge(parts)) for name, parts in phases.items()}
    _stack.log(f"single client: {size.single} requests per URL")
    single: Figures = {}
    async with _load.client(base_url, concurrency=1) as http:
        for name, path in paths.items():
            phase = await _load.hammer(http, path, requests=size.single, concurrency=1)
            single[name] = _load.summarise(phase)
    return paths, with_ratios(pages), with_ratios(single)


async def ward_slug(http: httpx.AsyncClient) -> str:
    """The slug of the first ward the API lists (the API is paginated, or a plain list)."""
    response = await http.get("/api/wards/")
    if response.status_code != 200:
        raise _stack.StackError(f"GET /api/wards/ returned {response.status_code}")
    data = response.json()
    wards = data["results"] if isinstance(data, dict) else data
    if not wards:
        raise _stack.StackError("GET /api/wards/ lists no wards: did seed_demo create any?")
    return str(wards[0]["slug"])


def with_ratios(pages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each URL's server p50/p95 divided by the baseline's (so the baseline's are 1.0)."""
    base = pages[BASELINE]
    for figures in pages.values():
        for q in ("p50", "p95"):
            ratio = figures[f"server_{q}_ms"] / base[f"server_{q}_ms"]
            figures[f"server_{q}_ratio"] = round(ratio, 2)
    return pages


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    size = "quick" if result["quick"] else "full"
    width = max(len("path"), *(len(p["path"]) for p in result["pages"].values()))
    lines = [
        f"pages ({size}): {result['requests_per_url']} requests per URL in {result['rounds']} "
        f"rounds after {result['warmup_per_url']} warm-up, {result['concurrency']} concurrent, "
        f"uvicorn x{result['server_workers']}, production settings, PostgreSQL, Redis",
        "",
        f"{'':8} {'':{width}}  {'server ms':^15}  {'x baseline':^13}  {'client ms':^15}",
        f"{'page':8} {'path':{width}}  {'p50':>7} {'p95':>7}  {'p50':>6} {'p95':>6}  "
        f"{'p50':>7} {'p95':>7}  {'req/s':>7}  {'non-200':>7}",
    ]
    for name, p in result["pages"].items():
        lines.append(
            f"{name:8} {p['path']:{width}}  {p['server_p50_ms']:7.2f} {p['server_p95_ms']:7.2f}  "
            f"{p['server_p50_ratio']:6.1f} {p['server_p95_ratio']:6.1f}  "
            f"{p['client_p50_ms']:7.1f} {p['client_p95_ms']:7.1f}  {p['rps']:7.1f}  "
            f"{p['non_200']:7d}"
        )
    lines += ["", "one client at a time (the cost of each page alone):"]
    for name, p in result["single_client"].items():
        lines.append(
            f"{name:8} {p['path']:{width}}  {p['server_p50_ms']:7.2f} {p['server_p95_ms']:7.2f}  "
            f"{p['server_p50_ratio']:6.1f} {p['server_p95_ratio']:6.1f}  "
            f"{p['client_p50_ms']:7.1f} {p['client_p95_ms']:7.1f}  {p['rps']:7.1f}  "
            f"{p['non_200']:7d}"
        )
    return "\n".join(lines)
