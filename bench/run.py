"""Run one benchmark: ``python bench/run.py NAME [--quick]``.

Calls ``run(quick: bool) -> dict`` of ``bench/<NAME>.py``, prints a readable table (the module's
``table(result) -> str`` when it has one, else the figures one per line), then, as the last line
of stdout, the figures as one JSON object, also written to
``bench/results/<NAME>-<UTC timestamp>.json``. Progress goes to stderr.

Exit status: 0 passed; 1 failed (the result says ``"ok": false``, or the benchmark raised: the
JSON line then carries ``"error"``); 2 usage error, such as an unknown NAME.
"""

import argparse
import importlib
import json
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
NOT_BENCHMARKS = {"run"}

# Run as a script, the repository root is not on the path: put it there so `bench.<NAME>` imports.
sys.path.insert(0, str(BENCH_DIR.parent))


def available() -> list[str]:
    """Every ``bench/<NAME>.py`` but the harness and the private ``_*.py`` helpers."""
    return sorted(
        p.stem
        for p in BENCH_DIR.glob("*.py")
        if not p.stem.startswith("_") and p.stem not in NOT_BENCHMARKS
    )


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="bench/run.py", description="Run one Moot benchmark.")
    parser.add_argument("name", metavar="NAME", help=f"the benchmark: {', '.join(names)}")
    parser.add_argument(
        "--quick", action="store_true", help="a small version for checks (under a minute)"
    )
    args = parser.parse_args(argv)
    if args.name not in names:
        parser.error(f"unknown benchmark {args.name!r}; available: {', '.join(names)}")

    # A SIGTERM unwinds like Ctrl-C, so the benchmark's `finally` stops the server it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    module = importlib.import_module(f"bench.{args.name}")
    started = datetime.now(UTC)
    clock = time.monotonic()
    load_start = os.getloadavg()[0]
    try:
        figures = module.run(quick=args.quick)
    except Exception as exc:
        traceback.print_exc()
        error = {"benchmark": args.name, "ok": False, "quick": args.quick, "error": str(exc)}
        print(json.dumps(error), flush=True)
        return 1
    result = {
        "benchmark": args.name,
        **figures,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        # Other work on the machine skews every figure: record how busy it was.
        "host": {
            "cpus": os.cpu_count(),
            "load_avg_1m_start": round(load_start, 2),
            "load_avg_1m_end": round(os.getloadavg()[0], 2),
        },
    }
    path = save(result, started)
    print(render(module, result))
    host = result["host"]
    print(
        f"\nhost: {host['cpus']} CPUs, 1-minute load average "
        f"{host['load_avg_1m_start']} at start, {host['load_avg_1m_end']} at end"
    )
    print(f"written to {path.relative_to(BENCH_DIR.parent)}")
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok", True) else 1


def render(module: ModuleType, result: dict[str, Any]) -> str:
    table = getattr(module, "table", None)
    if callable(table):
        return str(table(result))
    return "\n".join(f"{key:32} {value}" for key, value in flatten(result).items())


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def save(result: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{result['benchmark']}-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
