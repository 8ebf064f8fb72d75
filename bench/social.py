"""Social listening throughput: posts from the fake X server to routed cases.

Against the production-like stack's PostgreSQL and Redis (``engagement.settings.production``;
no HTTP server is needed), with a **Celery worker of 2 processes** (``--concurrency 2``): the
fake X API (``social.fakes.x``, the same one the tests use, in this process) holds N posts
(full 20,000, quick 2,000) with mixed signals, drawn with a fixed seed:

* 25% geotagged inside a demo ward, 20% with a demo postcode in the text, 15% naming a street
  from the gazetteer, 20% with only a topic keyword (bins, pothole, parking...), 10% replies to
  an earlier post, 5% spam (many links), 5% nothing at all (triage).

A ``social.Source`` for the council's mentions points at the fake (``SOCIAL_X_API_BASE_URL``),
with ``SOCIAL_POLL_INTERVAL_SECONDS=0`` so it is due again as soon as a poll ends. The clock
starts when the first ``poll_source`` task is sent; the bench keeps sending one every 0.5 s (a
poll reads at most 50 pages of 100; the lease keeps one poll at a time), so the worker reads
page after page with the real tweepy client, stores each page and queues its routing, which
both processes take (each routing task drains up to 200 waiting posts; when more than 200 wait
the poll routes the oldest 100 itself before reading on: ADR 0009). It stops when every post is
stored and routed.

Figures: ``posts_per_s`` (posts divided by the time from the first post fetched to the last
routed), ``latency_p50_s``/``latency_p95_s``/``latency_max_s`` (per post, from fetched —
``fetched_at``, when its page was read and stored — to its case written — ``routed_at``, taken
in the routing transaction as the cases are written; posts settled when stored, spam and the
council's own, are left out), ``fetch_s`` (first to last post stored), and the audit from the
database: ``lost`` (posts the fake served that are not stored), ``unrouted``,
``duplicate_posts`` (more than one row for an external id), ``duplicate_cases`` (a post that
created two cases, or a post in no case that should have one), ``cases``, ``joined_replies``,
``ignored`` (spam and the council's own). ``ok``: nothing lost, nothing duplicated;
``targets_met``: >= 500 posts/s and p95 <= 2 s.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench import _stack

SEED = 8
CONCURRENCY = 2
TARGET_PER_S = 500
TARGET_P95_S = 2.0


def run(quick: bool) -> dict[str, Any]:
    from celery import Celery

    from social.fakes.x import TOKEN, FakeX

    _stack.DATABASE = os.environ.get("BENCH_DATABASE", "moot_bench_social")
    posts = 2_000 if quick else 20_000
    with _stack.workspace() as ws, FakeX() as fake:
        _stack.prepare(ws)
        _stack.seed_demo(ws)
        places = _places(ws)
        council_id = fake.add_user("benchcouncil")
        served = _fill(fake, council_id, places, posts)
        ws.env.update({"SOCIAL_X_API_BASE_URL": fake.url, "SOCIAL_POLL_INTERVAL_SECONDS": "0"})
        source_id = _make_source(ws, council_id, TOKEN)
        broker = Celery(broker=ws.env["REDIS_URL"])
        db_url = ws.env["DATABASE_URL"]
        with _celery_worker(ws) as worker_group, psycopg.connect(db_url, autocommit=True) as db:
            time.sleep(3)  # the worker's processes start
            cpu_before = _cpu(worker_group)
            _stack.log(f"polling {posts} posts")
            started = time.monotonic()
            deadline = started + (120 if quick else 900)
            last_send = 0.0
            stored = 0
            while time.monotonic() < deadline:
                # Watching must cost the machine little (and its PostgreSQL backend counts in
                # the CPU a post): counting the source's posts takes about 13 ms at 20,000, so
                # the posts stored are counted every 0.5 s, when a poll may be sent, and the
                # posts waiting to be routed only once all are stored. The figures come from
                # the rows' own times, not from this loop.
                if time.monotonic() - last_send > 0.5 and stored < posts:
                    stored = db.execute(
                        "SELECT count(*) FROM social_post WHERE source_id = %s", [source_id]
                    ).fetchone()[0]
                    if stored < posts:
                        broker.send_task("social.tasks.poll_source", args=[source_id])
                    last_send = time.monotonic()
                if stored >= posts:
                    unrouted = db.execute(
                        "SELECT count(*) FROM social_post"
                        " WHERE routed_at IS NULL AND source_id = %s",
                        [source_id],
                    ).fetchone()[0]
                    if unrouted == 0:
                        break
                time.sleep(0.1)
            wall = time.monotonic() - started
            cpu_after = _cpu(worker_group)
            _stack.log(f"done in {wall:.1f} s; auditing")
            result = _audit(db, source_id, served)
    worker_s = cpu_after["worker"] - cpu_before["worker"]
    postgres_s = cpu_after["postgres"] - cpu_before["postgres"]
    result["cpu_ms_per_post"] = {
        "worker": round(worker_s * 1000 / posts, 3),
        "postgres": round(postgres_s * 1000 / posts, 3),
    }
    # What two quiet cores could do: the CPU a post costs (worker and PostgreSQL), not the
    # wall time on a shared machine.
    result["posts_per_s_2_quiet_cores"] = round(2 * posts / max(worker_s + postgres_s, 1e-9), 1)
    result.update(
        {
            "quick": quick,
            "posts": posts,
            "celery_concurrency": CONCURRENCY,
            "wall_s": round(wall, 2),
            "targets": {"posts_per_s": TARGET_PER_S, "p95_s": TARGET_P95_S},
        }
    )
    result["ok"] = (
        result["lost"] == 0
        and result["unrouted"] == 0
        and result["duplicate_posts"] == 0
        and result["duplicate_cases"] == 0
    )
    result["targets_met"] = (
        result["posts_per_s"] >= TARGET_PER_S and result["latency_p95_s"] <= TARGET_P95_S
    )
    return result


def _places(ws: _stack.Workspace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        path = handle.name
    call = f"from bench.social import dump_places; dump_places({path!r})"
    _stack.manage(ws, "shell", "--no-imports", "-c", call)
    return json.loads(Path(path).read_text())


def dump_places(path: str) -> None:
    """(In ``manage.py shell``.) The demo wards' boxes, postcodes and gazetteer names."""
    from engagement.places.models import Postcode, Ward
    from social.models import GazetteerEntry

    data = {
        "boxes": [
            [w.min_lon, w.min_lat, w.max_lon, w.max_lat]
            for w in Ward.objects.defer("boundary").order_by("pk")
        ],
        "postcodes": list(Postcode.objects.values_list("postcode", flat=True)[:500]),
        "streets": list(GazetteerEntry.objects.values_list("name", flat=True)),
    }
    Path(path).write_text(json.dumps(data))


def _fill(fake: Any, council_id: str, places: dict[str, Any], n: int) -> list[str]:
    rng = random.Random(SEED)  # noqa: S311 - benchmark data
    topics = ["bins", "pothole", "parking", "damp", "council tax", "planning application"]
    ids: list[str] = []
    for i in range(n):
        roll = rng.random()
        kwargs: dict[str, Any] = {
            "mentions": council_id,
            "author": f"resident{rng.randrange(3000)}",
        }
        if roll < 0.25:
            lon0, lat0, lon1, lat1 = rng.choice(places["boxes"])
            cx, cy = (lon0 + lon1) / 2, (lat0 + lat1) / 2
            kwargs.update(lon=cx + (lon1 - lon0) * 0.1 * rng.random(), lat=cy)
            text = f"Problem here {i}"
        elif roll < 0.45 and places["postcodes"]:
            text = f"Streetlight out near {rng.choice(places['postcodes'])} ({i})"
        elif roll < 0.60 and places["streets"]:
            text = f"Fly-tipping on {rng.choice(places['streets'])} again {i}"
        elif roll < 0.80:
            text = f"When will you sort the {rng.choice(topics)}? {i}"
        elif roll < 0.90 and ids:
            kwargs["in_reply_to"] = ids[max(0, len(ids) - 1 - rng.randrange(200))]
            text = f"Any update? {i}"
        elif roll < 0.95:
            text = (
                f"Win big http://a.example http://b.example http://c.example http://d.example {i}"
            )
        else:
            text = f"Hello council {i}"
        ids.append(fake.add_post(text, **kwargs))
    return ids


def _make_source(ws: _stack.Workspace, council_id: str, token: str) -> int:
    call = (
        "from social.models import Source; "
        f"print(Source.objects.create(name='Bench mentions', network='x', kind='mentions', "
        f"account={council_id!r}, secret={token!r}).pk)"
    )
    return int(_stack.manage(ws, "shell", "--no-imports", "-c", call).strip().splitlines()[-1])


def _cpu(worker_group: int) -> dict[str, float]:
    """CPU seconds so far of the worker's process group and of the PostgreSQL backends
    connected to the bench database."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"worker": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[2]) == worker_group:
            totals["worker"] += seconds
        elif command.startswith("postgres:") and f" {_stack.DATABASE} " in command:
            totals["postgres"] += seconds
    return totals


@contextmanager
def _celery_worker(ws: _stack.Workspace) -> Iterator[int]:
    command = [
        sys.executable, "-m", "celery", "-A", "engagement", "worker",
        "--concurrency", str(CONCURRENCY), "--loglevel", "warning",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    _stack.log(f"starting a Celery worker (concurrency {CONCURRENCY})")
    with (ws.directory / "celery.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            command,
            cwd=_stack.ROOT,
            env=ws.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process.pid
        finally:
            _stack.stop(process)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def _audit(db: psycopg.Connection, source_id: int, served: list[str]) -> dict[str, Any]:
    rows = db.execute(
        "SELECT external_id, fetched_at, routed_at, case_id, ignored,"
        " ignored = '' OR ignored LIKE 'diverted%%' FROM social_post WHERE source_id = %s",
        [source_id],
    ).fetchall()
    stored = {r[0] for r in rows}
    duplicate_posts = db.execute(
        "SELECT count(*) FROM (SELECT network, external_id FROM social_post"
        " GROUP BY network, external_id HAVING count(*) > 1) d"
    ).fetchone()[0]
    created_twice = db.execute(
        "SELECT count(*) FROM (SELECT post_id FROM social_caseevent WHERE kind = 'created'"
        " GROUP BY post_id HAVING count(*) > 1) d"
    ).fetchone()[0]
    caseless = sum(1 for r in rows if not r[4] and r[3] is None)
    routed = [r for r in rows if r[2] is not None]
    # Latency is counted for the posts routing had to place (spam and the council's own posts
    # are settled when stored, in no time, and would flatter the figures).
    latencies = [(r[2] - r[1]).total_seconds() for r in routed if r[5]]
    first_fetch = min(r[1] for r in rows) if rows else None
    last_route = max(r[2] for r in routed) if routed else None
    span = (last_route - first_fetch).total_seconds() if rows and routed else 0.0
    cases = db.execute(
        "SELECT count(DISTINCT c.id) FROM social_case c JOIN social_post p ON p.case_id = c.id"
        " WHERE p.source_id = %s",
        [source_id],
    ).fetchone()[0]
    joined = db.execute(
        "SELECT count(*) FROM social_caseevent e JOIN social_post p ON p.id = e.post_id"
        " WHERE e.kind = 'post' AND p.source_id = %s",
        [source_id],
    ).fetchone()[0]
    return {
        "stored": len(rows),
        "lost": len(set(served) - stored),
        "unrouted": len(rows) - len(routed),
        "duplicate_posts": duplicate_posts,
        "duplicate_cases": created_twice + caseless,
        "cases": cases,
        "joined_replies": joined,
        "ignored": sum(1 for r in rows if r[4]),
        "posts_per_s": round(len(rows) / span, 1) if span else 0.0,
        "fetch_s": round((max(r[1] for r in rows) - first_fetch).total_seconds(), 2)
        if rows
        else 0.0,
        "latency_p50_s": round(_percentile(latencies, 0.5), 3),
        "latency_p95_s": round(_percentile(latencies, 0.95), 3),
        "latency_max_s": round(max(latencies), 3) if latencies else 0.0,
    }


def table(result: dict[str, Any]) -> str:
    size = "quick" if result["quick"] else "full"
    return "\n".join(
        [
            f"social ({size}): {result['posts']} posts from the fake X API through tweepy to a "
            f"Celery worker x{result['celery_concurrency']}, PostgreSQL, Redis",
            "",
            f"posts/s (fetched -> routed)  {result['posts_per_s']:>10}   target >= {TARGET_PER_S}",
            f"latency p50 / p95 / max (s)  {result['latency_p50_s']:>6} / "
            f"{result['latency_p95_s']} / {result['latency_max_s']}   target p95 <= {TARGET_P95_S}",
            f"fetch (first to last stored) {result['fetch_s']:>10} s",
            f"stored / lost / unrouted     {result['stored']} / {result['lost']} / "
            f"{result['unrouted']}",
            f"duplicate posts / cases      {result['duplicate_posts']} / "
            f"{result['duplicate_cases']}",
            f"cases / joined replies / ignored  {result['cases']} / {result['joined_replies']} / "
            f"{result['ignored']}",
            f"CPU per post: worker {result['cpu_ms_per_post']['worker']} ms, PostgreSQL "
            f"{result['cpu_ms_per_post']['postgres']} ms -> about "
            f"{result['posts_per_s_2_quiet_cores']} posts/s on two quiet cores",
            f"ok: {result['ok']}   targets met: {result['targets_met']}",
        ]
    )
