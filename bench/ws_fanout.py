"""Benchmark ``ws_fanout``: a meeting's public question feed pushed live to N viewers.

Against the production-like stack (:mod:`bench._stack`: uvicorn with the production settings,
PostgreSQL, Redis, channels_redis) plus the Celery worker that publishes the coalesced vote counts
(:func:`bench.petitions.celery_worker`). For each N (quick 300 and 1,000; full 1,000, 5,000 and
10,000), on a meeting of its own and a freshly started server:

1. N viewers (:func:`viewer_main`, in ``BENCH_WS_CLIENT_PROCESSES`` processes of one uvloop
   loop each, each process from its own 127.0.0.x source address) open
   ``/ws/streams/?s=questions.<meeting>`` as the feed page does and send ``resume`` with the
   stream's current number. Each is a :class:`ViewerConnection`, a minimal websocket client on
   a bare asyncio protocol that finds the messages' markers in the bytes as read: the viewers
   receive every message the server sends, and must not take the CPU the server needs;
2. a driver (:func:`drive`, ``manage.py shell``: the server's settings and database) approves
   pending questions at 5/s and casts residents' upvotes at 200/s through the real services
   (``question_approve``, ``question_vote``) for 60 s (quick 10 s). Each approval runs inside an
   outer transaction whose first ``on_commit`` callback stamps the commit time; the vote counts
   reach the feed as the once-a-second snapshot the Celery worker publishes, whose commit time is
   taken as its ``StreamEvent.created_at`` (the insert, just before its commit: if anything, it
   makes those latencies longer);
3. every message each viewer receives is matched by its sequence number (``data-moot-seq``)
   against those commit times. Every viewer must receive every event of the window (after the
   number it resumed from, up to the stream's last after the driver stopped) on the connection
   that was open when it was committed: anything else is lost, even if a reconnect's catch-up
   brought it back later (that is counted apart, as ``recovered_by_catch_up``).

Then the **baseline**: :func:`baseline_main`, a minimal broadcast server written with the
``websockets`` library (one process, ``websockets.broadcast``), takes the same N viewers and
replays the very messages the Moot run delivered (the texts as received, so the same sizes) on
the same schedule (each at its Moot commit time's offset), stamping each as committed when it
broadcasts it.

Memory per connection: the resident memory of the server's processes (the uvicorn group; the
baseline's process) after the N viewers connected, minus before, divided by N. Before is
measured after a few warm-up connections (the first one imports and builds what every later one
shares).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from array import array
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from bench import _stack
from bench.petitions import celery_worker, cpu_times

SERVER_WORKERS = int(os.environ.get("BENCH_WS_SERVER_WORKERS", "2"))
CLIENT_PROCESSES = int(os.environ.get("BENCH_WS_CLIENT_PROCESSES", "2"))
# Viewers offer permessage-deflate, as browsers do; whether the servers accept it (uvicorn does
# unless started with --ws-per-message-deflate false; here UVICORN_WS_PER_MESSAGE_DEFLATE).
DEFLATE = os.environ.get("BENCH_WS_DEFLATE", "0") not in {"0", "false", "no"}
APPROVALS_PER_S = 5.0
VOTES_PER_S = 200.0
QUICK_N = (300, 1000)
FULL_N = (1000, 5000, 10000)
QUICK_SECONDS = 10
FULL_SECONDS = 60
TARGET_N = 5000
TARGET_P99_MS = 1000.0
INITIAL_APPROVED = 20
"""Questions approved before the window, so votes start at once."""
CONNECT_CONCURRENCY = 100
"""Handshakes in flight per viewer process."""
CONNECT_TIMEOUT_S = 600.0
SNAPSHOT_WAIT_S = 3.0
"""After the driver stops: the last votes' snapshot is published one tick later."""
DRAIN_TIMEOUT_S = 30.0
"""How long viewers wait for the last event before counting what is missing as lost."""
WARMUP_CONNECTIONS = 8
SEQ_MARK = 'data-moot-seq="'
MESSAGE_START = '<span hidden id="moot-seq-'
SEQ_MARK_BYTES = SEQ_MARK.encode()
MESSAGE_START_BYTES = MESSAGE_START.encode()
MAX_KNOWN_MESSAGES = 1000
"""Distinct websocket messages a viewer process remembers (:class:`FeedReader`)."""
HANDSHAKE_TIMEOUT_S = 120.0
"""A viewer's TCP connect and opening handshake."""
MAX_RESPONSE_HEAD = 16384
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA
FIN_TEXT = 0x80 | OP_TEXT
CLOSE_NORMAL = (1000).to_bytes(2, "big")
DEFLATE_TAIL = b"\x00\x00\xff\xff"
NO_PORT = "no-uvicorn-here"  # cpu_times finds uvicorn by its port: none for the baseline
TEXT = (
    "Will the committee publish the traffic survey for the new school entrance on {street} "
    "before the planning decision, and how will residents' comments be weighed? ({n})"
)
STREETS = ("Heol y Parc", "Station Road", "Ffordd yr Eglwys", "Mill Lane", "High Street")


def run(quick: bool) -> dict[str, Any]:
    raise_fd_limit()
    sizes = [int(n) for n in os.environ.get("BENCH_WS_N", "").split(",") if n.strip()] or list(
        QUICK_N if quick else FULL_N
    )
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    layer = os.environ.get("CHANNEL_LAYER", "default")
    with _stack.workspace() as ws:
        ws.env["UVICORN_WS_PER_MESSAGE_DEFLATE"] = str(DEFLATE).lower()
        _stack.prepare(ws)
        plan = seed_meetings(ws, len(sizes), seconds)
        phases: list[dict[str, Any]] = []
        with celery_worker(ws) as worker_pid:
            for n, meeting in zip(sizes, plan["meetings"], strict=True):
                moot, texts = moot_phase(ws, plan, meeting, n, seconds, worker_pid)
                baseline = baseline_phase(ws, meeting, n, moot, texts)
                phases.append(compare(n, moot, baseline))
                if not moot["met"]:
                    _stack.log(f"{n} viewers: target missed, so no larger N is tried")
                    break
    reached = [p["n"] for p in phases if p["moot"]["met"]]
    at_target = next((p for p in phases if p["n"] == TARGET_N), None)
    target_met = bool(at_target and at_target["moot"]["met"])
    lost = sum(p["moot"]["lost"] for p in phases)
    return {
        "benchmark": "ws_fanout",
        "ok": lost == 0
        and all(p["moot"]["connected"] == p["n"] for p in phases)
        and (quick or target_met),
        "quick": quick,
        "seconds": seconds,
        "server_workers": SERVER_WORKERS,
        "client_processes": CLIENT_PROCESSES,
        "deflate": DEFLATE,
        "channel_layer": layer,
        "approvals_per_s_target": APPROVALS_PER_S,
        "votes_per_s_target": VOTES_PER_S,
        "target": {"n": TARGET_N, "p99_ms": TARGET_P99_MS, "lost": 0},
        "target_met": target_met,
        "largest_n_met": max(reached) if reached else 0,
        "lost": lost,
        "phases": phases,
    }


def raise_fd_limit() -> None:
    """Soft limit up to the hard one: every viewer and every server connection is a descriptor
    (children inherit it: uvicorn, the baseline, the viewer processes)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- set-up and the driver (run by `manage.py shell`) -----------------------------------------


def seed_meetings(ws: _stack.Workspace, meetings: int, seconds: int) -> dict[str, Any]:
    path = ws.directory / "plan.json"
    pending = int(seconds * APPROVALS_PER_S * 1.2) + 10
    residents = max(300, int(seconds * VOTES_PER_S / 6))
    _stack.log(
        f"seeding {meetings} meetings ({INITIAL_APPROVED} approved and {pending} waiting "
        f"questions each) and {residents} residents"
    )
    django_call(ws, "seed", str(path), meetings, pending, residents)
    return dict(json.loads(path.read_text()))


def django_call(ws: _stack.Workspace, function: str, *args: object) -> None:
    """``function(*args)`` of this module inside ``manage.py shell``: the server's settings,
    ``SECRET_KEY`` and database."""
    call = f"from bench.ws_fanout import {function}; {function}(*{args!r})"
    _stack.manage(ws, "shell", "--no-imports", "-c", call)


def seed(path: str, meetings: int, pending: int, residents: int) -> None:
    """Staff, residents, and ``meetings`` scheduled meetings with a published agenda, each with
    questions asked by residents (through the service): some approved, the rest waiting."""
    from datetime import timedelta

    from django.utils import timezone

    from engagement.accounts.models import Role
    from engagement.accounts.services import user_create
    from engagement.people.models import Committee
    from webcast import services as webcast
    from webcast.models import Meeting
    from webcast.questions import services as questions

    staff = user_create(email="staff@bench.invalid", name="Bench Moderator", roles=(Role.STAFF,))
    voters = [
        user_create(email=f"resident{n}@bench.invalid", name=f"Resident {n}")
        for n in range(residents)
    ]
    committee = Committee.objects.create(name="Bench Planning", slug="bench-planning")
    asker = iter(voters * 3)  # each resident may ask 3 a minute
    plan: dict[str, Any] = {"staff": staff.pk, "voters": [u.pk for u in voters], "meetings": []}
    for m in range(meetings):
        meeting = webcast.meeting_create(
            actor=staff,
            committee=committee,
            title=f"Bench planning committee {m + 1}",
            starts_at=timezone.now() + timedelta(hours=1),
            source=Meeting.Source.TEST,
        )
        items = [
            webcast.agenda_item_create(actor=staff, meeting=meeting, number=str(i), title=title)
            for i, title in ((1, "Apologies"), (2, "Land off Heol y Parc: 120 homes"))
        ]
        asked = []
        for n in range(INITIAL_APPROVED + pending):
            user = next(asker)
            asked.append(
                questions.question_ask(
                    meeting=meeting,
                    user=user,
                    text=TEXT.format(street=STREETS[n % len(STREETS)], n=n),
                    item=(None, items[0], items[1])[n % 3],
                    display_name=user.name,
                )
            )
        for question in asked[:INITIAL_APPROVED]:
            questions.question_approve(actor=staff, question=question)
        plan["meetings"].append(
            {
                "id": meeting.pk,
                "stream": f"questions.{meeting.pk}",
                "approved": [q.pk for q in asked[:INITIAL_APPROVED]],
                "pending": [q.pk for q in asked[INITIAL_APPROVED:]],
            }
        )
    Path(path).write_text(json.dumps(plan))


def drive(path: str, role: str) -> None:
    """``role`` "approve": approve the pending questions at ``APPROVALS_PER_S``; "vote": cast
    residents' upvotes at ``VOTES_PER_S``; through the services, for the configured seconds
    (two processes, so the slower approvals never hold up the votes). Writes what was done, and
    each approval's commit time, to ``path``.<role>."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from webcast.models import Meeting
    from webcast.questions import services as questions
    from webcast.questions.models import Question

    config = json.loads(Path(path).read_text())
    meeting = Meeting.objects.get(pk=config["meeting"])
    users = get_user_model().objects
    rate = APPROVALS_PER_S if role == "approve" else VOTES_PER_S
    todo = Question.objects.in_bulk(config["pending"])
    pending = [todo[pk] for pk in config["pending"]]
    voters = list(users.filter(pk__in=config["voters"]).order_by("pk"))
    actor = users.get(pk=config["staff"])
    stamps: dict[int, float] = {}
    errors: Counter[str] = Counter()
    done = new_votes = 0
    start = float(config["start"])
    end = start + config["seconds"]
    time.sleep(max(0.0, start - time.time()))
    cpu = time.process_time()
    while (now := time.time()) < end:
        due = start + done / rate
        if due > now:
            time.sleep(due - now)
            continue
        if role == "approve":
            if done >= len(pending):
                break
            question = pending[done]
            with transaction.atomic():
                # Registered first, so it runs first after COMMIT, before the delivery.
                transaction.on_commit(lambda pk=question.pk: stamps.__setitem__(pk, time.time()))
                questions.question_approve(actor=actor, question=question)
        else:
            # The approved questions so far (the approving process adds to them).
            if done % 200 == 0:
                open_ = list(
                    Question.objects.filter(meeting=meeting, state=Question.State.APPROVED)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
            user = voters[done % len(voters)]
            # Each resident's k-th vote goes to another question: (user, question) rarely repeat.
            pk = open_[(done // len(voters) + done) % len(open_)]
            try:
                new_votes += questions.question_vote(
                    meeting=meeting, question=Question(pk=pk, meeting_id=meeting.pk), user=user
                )
            except questions.QuestionError as exc:
                errors[str(exc)] += 1
        done += 1
    result = {
        "done": done,
        "elapsed_s": time.time() - start,
        "cpu_s": time.process_time() - cpu,
        "stamps": stamps,
        "new_votes": new_votes,
        "errors": dict(errors),
    }
    Path(f"{path}.{role}").write_text(json.dumps(result))


# --- one phase against Moot -----------------------------------------------------------------


def moot_phase(
    ws: _stack.Workspace,
    plan: dict[str, Any],
    meeting: dict[str, Any],
    n: int,
    seconds: int,
    worker_pid: int,
) -> tuple[dict[str, Any], dict[int, str]]:
    stream = meeting["stream"]
    with _stack.serve(ws, workers=SERVER_WORKERS) as base_url:
        port = base_url.rsplit(":", 1)[1]
        group = server_group(port)
        ws_url = base_url.replace("http://", "ws://") + f"/ws/streams/?s={stream}"
        start_seq = stream_position(stream)
        warm_up(ws_url, base_url, stream, start_seq)
        rss_before = group_rss(group)
        _stack.log(f"moot: {n} viewers on {stream} (from #{start_seq})")
        with Viewers(ws, ws_url, base_url, stream, n, start_seq, "moot") as viewers:
            viewers.wait_ready()
            rss_after = group_rss(group)
            groups = {"worker": worker_pid, **viewers.groups()}
            cpu_before = cpu_times(port, groups)
            driver_before = children_cpu()
            _stack.log(f"moot: driving for {seconds} s (approvals 5/s, votes 200/s)")
            driven = run_driver(ws, plan, meeting, seconds)
            driver_cpu = children_cpu() - driver_before
            time.sleep(SNAPSHOT_WAIT_S)
            cpu_after = cpu_times(port, groups)
            events = read_events(stream, start_seq)
            commits = {
                seq: (
                    driven["stamps"][str(payload["question"])]
                    if event == "question.approved"
                    else created,
                    kind_of(event),
                )
                for seq, event, payload, created in events
            }
            received = viewers.finish(commits)
            rss_end = group_rss(group)
    figures = delivery_figures(n, received, commits)
    if figures["lost"] or figures["reconnects"] or figures["client_errors"]:
        _stack.log(f"moot: viewers lost messages; server log:\n{_stack.log_digest(ws.server_log)}")
    cpu = cpu_delta(cpu_before, cpu_after)
    cpu["driver"] = round(driver_cpu, 2)
    deliveries = figures["connected"] * len(commits)
    figures.update(
        {
            **{key: value for key, value in driven.items() if key != "stamps"},
            "rss_before_mb": round(rss_before / 1024, 1),
            "rss_connected_mb": round(rss_after / 1024, 1),
            "rss_end_mb": round(rss_end / 1024, 1),
            "rss_per_connection_kb": per_connection(rss_after - rss_before, figures["connected"]),
            "cpu_s": cpu,
            **cpu_per_delivery(cpu, deliveries),
        }
    )
    return figures, received["texts"]


def cpu_per_delivery(cpu: dict[str, float], deliveries: int) -> dict[str, float | None]:
    """CPU microseconds of the server, and of the viewers, per expected delivery."""
    return {
        f"{role}_cpu_us_per_delivery": round(cpu[role] * 1e6 / deliveries, 1)
        if deliveries
        else None
        for role in ("server", "viewers")
    }


def kind_of(event: str) -> str:
    return {"question.approved": "approved", "questions.votes": "votes"}.get(event, "other")


def run_driver(
    ws: _stack.Workspace, plan: dict[str, Any], meeting: dict[str, Any], seconds: int
) -> dict[str, Any]:
    """The approving and the voting :func:`drive` processes, started together; what they did."""
    path = ws.directory / f"drive-{meeting['id']}.json"
    config = {
        "meeting": meeting["id"],
        "staff": plan["staff"],
        "voters": plan["voters"],
        "pending": meeting["pending"],
        "seconds": seconds,
        "start": time.time() + 5.0,  # both processes set up Django first
    }
    path.write_text(json.dumps(config))
    roles = ("approve", "vote")
    processes = []
    try:
        for role in roles:
            call = f"from bench.ws_fanout import drive; drive({str(path)!r}, {role!r})"
            processes.append(spawn(ws, "manage.py", "shell", "--no-imports", "-c", call))
        for role, process in zip(roles, processes, strict=True):
            output, _ = process.communicate()
            if process.returncode:
                raise _stack.StackError(f"the {role} driver exited {process.returncode}:\n{output}")
    finally:
        for process in processes:
            _stack.stop(process)  # type: ignore[arg-type]
    approve, vote = (json.loads(Path(f"{path}.{role}").read_text()) for role in roles)
    return {
        "stamps": approve["stamps"],
        "approvals": approve["done"],
        "approvals_per_s": round(approve["done"] / approve["elapsed_s"], 2),
        "votes": vote["done"],
        "votes_per_s": round(vote["done"] / vote["elapsed_s"], 1),
        # CPU of the service calls alone (the drivers' Django start-up left out).
        "cpu_ms_per_approval": round(1000 * approve["cpu_s"] / max(1, approve["done"]), 1),
        "cpu_ms_per_vote": round(1000 * vote["cpu_s"] / max(1, vote["done"]), 2),
        "new_votes": vote["new_votes"],
        "vote_errors": vote["errors"],
    }


def spawn(ws: _stack.Workspace, *args: str) -> subprocess.Popen[str]:
    """``python *args`` in the repository with the stack's environment, in a process group of
    its own (stopped with :func:`bench._stack.stop`), talking over pipes (stderr with stdout)."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=_stack.ROOT,
        env=ws.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_delta(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds per role between two :func:`bench.petitions.cpu_times`; the viewer
    processes summed as ``viewers``."""
    totals: Counter[str] = Counter()
    for role, pids in after.items():
        spent = sum(t - before.get(role, {}).get(pid, 0.0) for pid, t in pids.items())
        totals["viewers" if role.startswith("viewers") else role] += spent
    return {role: round(seconds, 2) for role, seconds in sorted(totals.items())}


def stream_position(stream: str) -> int:
    with psycopg.connect(f"{_stack.POSTGRES_URL}/{_stack.DATABASE}") as db:
        row = db.execute(
            "SELECT last_seq FROM realtime_streamcounter WHERE stream = %s", [stream]
        ).fetchone()
    return int(row[0]) if row else 0


def read_events(stream: str, after: int) -> list[tuple[int, str, dict[str, Any], float]]:
    with psycopg.connect(f"{_stack.POSTGRES_URL}/{_stack.DATABASE}") as db:
        rows = db.execute(
            "SELECT seq, event, payload, created_at FROM realtime_streamevent "
            "WHERE stream = %s AND seq > %s ORDER BY seq",
            [stream, after],
        ).fetchall()
    return [
        (int(seq), event, payload, created.timestamp()) for seq, event, payload, created in rows
    ]


def server_group(port: str) -> int:
    """The process group of the uvicorn listening on ``port`` (the supervisor's pid)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if any("uvicorn" in w for w in words) and port in words:
                    return int(entry.name)
    raise _stack.StackError(f"no uvicorn process listening on {port}")


def group_rss(group: int) -> int:
    """Resident memory (KiB) of every process in process group ``group``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def per_connection(kib: int, connections: int) -> float | None:
    return round(kib / connections, 1) if connections else None


def warm_up(ws_url: str, origin: str, stream: str, after: int) -> None:
    """A few connections opened and closed, so the server's one-off imports and caches are in
    its memory before the "before" measurement."""
    from websockets.sync.client import connect

    for _ in range(WARMUP_CONNECTIONS):
        with connect(ws_url, origin=origin, proxy=None) as sock:  # type: ignore[arg-type]
            sock.send(json.dumps({"type": "resume", "stream": stream, "after": after}))
    time.sleep(1.0)


# --- the baseline ----------------------------------------------------------------------------


def baseline_phase(
    ws: _stack.Workspace,
    meeting: dict[str, Any],
    n: int,
    moot: dict[str, Any],
    texts: dict[int, str],
) -> dict[str, Any]:
    """The same viewers on a minimal ``websockets`` broadcast server replaying the Moot run's
    messages on the Moot run's schedule."""
    commits = moot["commit_times"]
    first = min(c for c, _ in commits.values()) if commits else 0.0
    schedule = [
        [commits[seq][0] - first, seq, commits[seq][1], texts[seq]]
        for seq in sorted(commits)
        if seq in texts
    ]
    missing_texts = len(commits) - len(schedule)
    schedule_path = ws.directory / f"schedule-{meeting['id']}.json"
    schedule_path.write_text(json.dumps(schedule))
    port = _stack.free_port()
    stream = meeting["stream"]
    _stack.log(f"baseline: {n} viewers on a websockets broadcast server at port {port}")
    call = f"from bench.ws_fanout import baseline_main; baseline_main({port}, {DEFLATE})"
    server = spawn(ws, "-c", call)
    try:
        assert server.stdin is not None
        expect(server, "listening")
        base_url = f"http://127.0.0.1:{port}"
        ws_url = f"ws://127.0.0.1:{port}/ws/streams/?s={stream}"
        start_seq = moot["start_seq"]
        warm_up(ws_url, base_url, stream, start_seq)
        rss_before = group_rss(server.pid)
        with Viewers(ws, ws_url, base_url, stream, n, start_seq, "baseline") as viewers:
            viewers.wait_ready()
            rss_after = group_rss(server.pid)
            groups = {"server": server.pid, **viewers.groups()}
            cpu_before = cpu_times(NO_PORT, groups)
            server.stdin.write(f"{schedule_path}\n")
            server.stdin.flush()
            line = expect(server, "done")
            cpu_after = cpu_times(NO_PORT, groups)
            stamped = json.loads(Path(line.split(maxsplit=1)[1].strip()).read_text())
            replayed = {int(seq): (at, kind) for seq, (at, kind) in stamped.items()}
            received = viewers.finish(replayed)
    finally:
        _stack.stop(server)  # type: ignore[arg-type]
    figures = delivery_figures(n, received, replayed)
    cpu = cpu_delta(cpu_before, cpu_after)
    deliveries = figures["connected"] * len(replayed)
    figures.update(
        {
            "missing_texts": missing_texts,
            "rss_before_mb": round(rss_before / 1024, 1),
            "rss_connected_mb": round(rss_after / 1024, 1),
            "rss_per_connection_kb": per_connection(rss_after - rss_before, figures["connected"]),
            "cpu_s": {k: v for k, v in cpu.items() if k in {"server", "viewers"}},
            **cpu_per_delivery(cpu, deliveries),
        }
    )
    return figures


def expect(process: subprocess.Popen[str], word: str) -> str:
    """The next line of ``process`` starting with ``word`` (other output, such as warnings, is
    passed on to stderr); a StackError if the process ends first."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(word):
            return line
        print(line, end="", file=sys.stderr)
    raise _stack.StackError(f"a bench process ended before saying {word!r}")


def baseline_main(port: int, deflate: bool) -> None:
    """A minimal broadcast server: every connection gets every message (``websockets.broadcast``).
    Reads a schedule path on stdin, replays it, writes the broadcast times and prints ``done``."""
    import uvloop

    raise_fd_limit()
    uvloop.run(_baseline(port, deflate))


async def _baseline(port: int, deflate: bool) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()

    async def handler(connection: Any) -> None:
        clients.add(connection)
        try:
            async for _ in connection:  # the resume message: ignored
                pass
        finally:
            clients.discard(connection)

    loop = asyncio.get_running_loop()
    compression = "deflate" if deflate else None
    async with serve(handler, "127.0.0.1", port, compression=compression, backlog=4096):
        print("listening", flush=True)
        path = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        schedule = json.loads(Path(path).read_text())
        stamped: dict[int, tuple[float, str]] = {}
        start = time.time() + 0.2
        for offset, seq, kind, text in schedule:
            delay = start + offset - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            stamped[seq] = (time.time(), kind)
            broadcast(clients, text)
        out = Path(path).with_suffix(".stamped.json")
        out.write_text(json.dumps(stamped))
        print(f"done {out}", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # until told to stop


# --- the viewers -----------------------------------------------------------------------------


class Viewers:
    """``n`` viewers in ``CLIENT_PROCESSES`` processes (each its own process group and source
    address); always stopped."""

    def __init__(
        self,
        ws: _stack.Workspace,
        url: str,
        origin: str,
        stream: str,
        n: int,
        start_seq: int,
        label: str,
    ) -> None:
        self.ws, self.label = ws, label
        shares = [
            n // CLIENT_PROCESSES + (i < n % CLIENT_PROCESSES) for i in range(CLIENT_PROCESSES)
        ]
        self.configs = [
            {
                "url": url,
                "origin": origin,
                "stream": stream,
                "connections": share,
                "start_seq": start_seq,
                "source": f"127.0.0.{10 + i}",
                "out": str(ws.directory / f"{label}-viewers-{i}"),
            }
            for i, share in enumerate(shares)
            if share
        ]
        self.processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Viewers:
        for config in self.configs:
            path = Path(config["out"] + ".config.json")
            path.write_text(json.dumps(config))
            call = f"from bench.ws_fanout import viewer_main; viewer_main({str(path)!r})"
            self.processes.append(spawn(self.ws, "-c", call))
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            _stack.stop(process)  # type: ignore[arg-type]

    def groups(self) -> dict[str, int]:
        return {f"viewers{i}": p.pid for i, p in enumerate(self.processes)}

    def wait_ready(self) -> None:
        started = time.monotonic()
        for process in self.processes:
            expect(process, "ready")
        _stack.log(f"{self.label}: viewers connected in {time.monotonic() - started:.1f} s")

    def finish(self, commits: dict[int, tuple[float, str]]) -> dict[str, Any]:
        """Tell the viewers the window's events and commit times; collect what they received."""
        path = self.ws.directory / f"{self.label}-commits.json"
        path.write_text(json.dumps({str(seq): v for seq, v in commits.items()}))
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{path}\n")
            process.stdin.flush()
        merged: dict[str, Any] = {"summary": Counter(), "errors": Counter(), "texts": {}}
        latencies: dict[str, list[Any]] = {}
        import numpy as np

        for config, process in zip(self.configs, self.processes, strict=True):
            expect(process, "done")
            result = json.loads(Path(config["out"] + ".json").read_text())
            merged["summary"].update(result["summary"])
            merged["errors"].update(result["errors"])
            for seq, text in result["texts"].items():
                merged["texts"].setdefault(int(seq), text)
            for kind in result["kinds"]:
                data = np.fromfile(f"{config['out']}.{kind}.f32", dtype=np.float32)
                latencies.setdefault(kind, []).append(data)
        merged["latencies"] = {k: np.concatenate(v) for k, v in latencies.items()}
        return merged


@dataclass
class View:
    """One viewer's connection(s) and what arrived on them."""

    seqs: array[int] = field(default_factory=lambda: array("I"))
    times: array[float] = field(default_factory=lambda: array("d"))
    session: array[int] = field(default_factory=lambda: array("H"))
    opened: list[float] = field(default_factory=list)
    last: int = 0
    socket: ViewerConnection | None = None


class ProtocolError(Exception):
    """The server broke the websocket protocol or the feed's format: the connection is dropped."""


class ViewerConnection(asyncio.Protocol):
    """One viewer's websocket connection on a bare asyncio protocol: the opening handshake, then
    the server's frames parsed in :meth:`data_received` straight from the bytes read.

    Viewers receive every message the server sends, so the bench's own clients must cost little
    next to the server under test (with the ``websockets`` asyncio client they used as much CPU
    as the server). So a message costs finding its markers in the bytes as read
    (:class:`FeedReader`): no decoding to ``str``, no task, queue or copy per message, one clock
    reading per read (its frames arrived together; a message split over reads gets the time of
    the read that completed it).

    Strict all the same: server frames must be unmasked, with no reserved bits (RSV1 only on a
    compressed message's first frame when permessage-deflate was negotiated); a message is a
    text frame, or a text frame and its continuations, with control frames allowed between;
    each message holds one or more messages of the feed, each starting with
    ``MESSAGE_START`` and carrying ``data-moot-seq``: a message without one is counted as an
    error, anything else malformed drops the connection (the viewer reconnects). Pings are
    answered; this client's own frames (``resume``, pong, close) are masked, as a client's must
    be. The handshake offers permessage-deflate as browsers do; when the server accepts it
    (``BENCH_WS_DEFLATE=1``) compressed messages are inflated.
    """

    def __init__(self, view: View, url: str, origin: str, reader: FeedReader) -> None:
        self.view, self.reader = view, reader
        key = base64.b64encode(os.urandom(16))
        self.accept = base64.b64encode(
            hashlib.sha1(key + WS_GUID, usedforsecurity=False).digest()
        ).decode()
        self.request = handshake_request(url, origin, key.decode())
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        """Set when the connection is gone: why (for the error counts)."""
        self.transport: asyncio.Transport | None = None
        self.open = self.closing = False
        self.session = -1
        self.pending = bytearray()
        self.need = 0
        """Bytes ``pending`` must reach before parsing resumes (a frame or header split)."""
        self.fragments: list[bytes] | None = None
        self.compressed = False
        self.inflater: Any = None
        self.inflate_bits = 0
        self.inflate_reset = False
        self.reason = ""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        at = time.time()
        if self.pending:
            self.pending += data
            if len(self.pending) < self.need:
                return
            data = bytes(self.pending)
            self.pending.clear()
        try:
            if self.open:
                self.frames(data, at)
            else:
                self.upgrade(data, at)
        except Exception as exc:  # noqa: BLE001 - a malformed frame or message, counted
            self.fail(f"protocol: {type(exc).__name__}: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.reason or f"lost: {type(exc).__name__ if exc else 'EOF'} {exc or ''}"
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(reason))
        if not self.closed.done():
            self.closed.set_result(reason)

    # sending

    def send_text(self, text: str) -> None:
        self.send(OP_TEXT, text.encode())

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(opcode, payload))

    def close(self) -> None:
        """Start the closing handshake (the server answers and closes)."""
        if self.open and not self.closing:
            self.closing = True
            self.send(OP_CLOSE, CLOSE_NORMAL)

    def fail(self, reason: str) -> None:
        self.reason = reason
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.abort()

    # receiving

    def keep(self, data: bytes, pos: int, need: int) -> None:
        """Wait for more: ``data[pos:]`` is the start of something ``need`` bytes long."""
        self.pending += data[pos:]
        self.need = need

    def upgrade(self, data: bytes, at: float) -> None:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_RESPONSE_HEAD:
                raise ProtocolError("handshake: response head too long")
            self.keep(data, 0, len(data) + 1)
            return
        status, *lines = data[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status.split(" ", 2)[1:2] != ["101"]:
            raise ProtocolError(f"handshake: {status}")
        if (
            headers.get("upgrade", "").lower() != "websocket"
            or headers.get("sec-websocket-accept") != self.accept
        ):
            raise ProtocolError("handshake: not a valid websocket upgrade")
        self.negotiate(headers.get("sec-websocket-extensions"))
        self.open = True
        self.session = len(self.view.opened)
        self.view.opened.append(at)
        self.handshake.set_result(None)
        self.frames(data[end + 4 :], at)

    def negotiate(self, extensions: str | None) -> None:
        """The server's answer to the permessage-deflate offer: nothing, or its parameters."""
        if extensions is None:
            return
        name, *params = (p.strip() for p in extensions.split(";"))
        if name != "permessage-deflate" or "," in extensions:
            raise ProtocolError(f"handshake: extensions {extensions!r}")
        bits = 15
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "server_no_context_takeover":
                self.inflate_reset = True
            elif key.strip() == "server_max_window_bits":
                bits = int(value.strip().strip('"'))
        self.inflate_bits = bits
        self.inflater = zlib.decompressobj(-bits)

    def frames(self, data: bytes, at: float) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if end - pos < 2:
                return self.keep(data, pos, 2)
            first, length = data[pos], data[pos + 1]
            if length & 0x80:
                raise ProtocolError("a masked frame from the server")
            start = pos + 2
            if length == 126:
                if end - pos < 4:
                    return self.keep(data, pos, 4)
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if end - pos < 10:
                    return self.keep(data, pos, 10)
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            stop = start + length
            if stop > end:
                return self.keep(data, pos, stop - pos)
            if first == FIN_TEXT and self.fragments is None:  # the usual: a whole text message
                self.message(data, start, stop, at)
            else:
                self.frame(first, data[start:stop], at)
            pos = stop
        return None

    def frame(self, first: int, payload: bytes, at: float) -> None:
        opcode, fin, rsv1 = first & 0x0F, first & 0x80, first & 0x40
        if first & 0x30 or (rsv1 and (self.inflater is None or opcode != OP_TEXT)):
            raise ProtocolError(f"reserved bits in a frame ({first:#x})")
        if opcode == OP_TEXT:
            if self.fragments is not None:
                raise ProtocolError("a new message before the last one ended")
            if fin:
                self.text(payload, bool(rsv1), at)
            else:
                self.fragments, self.compressed = [payload], bool(rsv1)
        elif opcode == OP_CONTINUATION:
            if self.fragments is None:
                raise ProtocolError("a continuation frame outside a message")
            self.fragments.append(payload)
            if fin:
                whole, self.fragments = b"".join(self.fragments), None
                self.text(whole, self.compressed, at)
        elif opcode == OP_PING:
            self.send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.reason = f"closed: {code} {payload[2:].decode(errors='replace')}".strip()
            if not self.closing:
                self.closing = True
                self.send(OP_CLOSE, payload[:2])
            assert self.transport is not None
            self.transport.close()
        elif opcode != OP_PONG:
            raise ProtocolError(f"opcode {opcode}")  # binary among them: the feed is text

    def text(self, payload: bytes, compressed: bool, at: float) -> None:
        if compressed:
            if self.inflate_reset:
                self.inflater = zlib.decompressobj(-self.inflate_bits)
            payload = self.inflater.decompress(payload + DEFLATE_TAIL)
        self.message(payload, 0, len(payload), at)

    def message(self, data: bytes, start: int, stop: int, at: float) -> None:
        """Record each feed message in ``data[start:stop]`` (one websocket message)."""
        view, session = self.view, self.session
        for seq in self.reader.numbers(data, start, stop):
            view.seqs.append(seq)
            view.times.append(at)
            view.session.append(session)
            if seq > view.last:
                view.last = seq


class FeedReader:
    """The feed messages in a websocket message, for all the viewers of one process: their
    sequence numbers, the first copy of each one's text (the baseline replays them) and the
    errors.

    A process's viewers mostly receive the very same bytes (each gets every message), and
    finding the markers in a 4 KB message costs more than the rest of a delivery. So what a
    websocket message holds is remembered, by its first number and length, and reused when
    the bytes are the same, compared in full: the result is the one a fresh parse would give.
    """

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.texts: dict[int, str] = {}
        self.known: dict[tuple[bytes, int], tuple[bytes, tuple[int, ...]]] = {}

    def numbers(self, data: bytes, start: int, stop: int) -> tuple[int, ...]:
        """The sequence numbers of the feed messages in ``data[start:stop]``, in order."""
        # The key only narrows the look-up (whatever it finds, even with no marker): the bytes
        # compared decide.
        mark = data.find(SEQ_MARK_BYTES, start, stop) + len(SEQ_MARK_BYTES)
        key = (data[mark : data.find(b'"', mark, stop)], stop - start)
        known = self.known.get(key)
        if known is not None and data.startswith(known[0], start):
            return known[1]
        seqs, clean = self.parse(data, start, stop)
        if clean:  # a message with errors is parsed (and counted) every time
            if len(self.known) >= MAX_KNOWN_MESSAGES:
                self.known.clear()
            self.known[key] = (data[start:stop], seqs)
        return seqs

    def parse(self, data: bytes, start: int, stop: int) -> tuple[tuple[int, ...], bool]:
        """Each feed message starts with ``MESSAGE_START`` and carries ``data-moot-seq``: its
        numbers, and whether every one did."""
        begin = data.find(MESSAGE_START_BYTES, start, stop)
        if begin < 0:
            self.errors["message without a sequence number"] += 1
            return (), False
        seqs: list[int] = []
        clean = True
        while begin >= 0:
            following = data.find(MESSAGE_START_BYTES, begin + 1, stop)
            end = stop if following < 0 else following
            mark = data.find(SEQ_MARK_BYTES, begin, end)
            quote = data.find(b'"', mark + len(SEQ_MARK_BYTES), end) if mark >= 0 else -1
            if quote < 0:
                self.errors["message without a sequence number"] += 1
                clean = False
            else:
                seq = int(data[mark + len(SEQ_MARK_BYTES) : quote])
                seqs.append(seq)
                if seq not in self.texts:
                    self.texts[seq] = data[begin:end].decode()
            begin = following
        return tuple(seqs), clean


def handshake_request(url: str, origin: str, key: str) -> bytes:
    """The opening handshake a browser sends (offering permessage-deflate, as browsers do)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return (
        f"GET {target} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "\r\n"
    ).encode()


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame: masked with a random key, as RFC 6455 requires of clients."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


async def connect_viewer(
    config: dict[str, Any], view: View, reader: FeedReader
) -> ViewerConnection:
    """A viewer connection from the process's source address, its handshake done."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(config["url"])
    async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
        transport, connection = await loop.create_connection(
            lambda: ViewerConnection(view, config["url"], config["origin"], reader),
            parts.hostname,
            parts.port,
            local_addr=(config["source"], 0),
        )
        try:
            await connection.handshake
        except BaseException:
            transport.abort()
            raise
    return connection


def viewer_main(config_path: str) -> None:
    import uvloop

    raise_fd_limit()
    config = json.loads(Path(config_path).read_text())
    uvloop.run(_viewers(config))


async def _viewers(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    views = [View(last=config["start_seq"]) for _ in range(config["connections"])]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    reader = FeedReader()
    errors, texts = reader.errors, reader.texts
    stopping = False
    stream = config["stream"]

    async def keep(view: View, ready: asyncio.Future[bool]) -> None:
        failures = 0
        while not stopping:
            try:
                async with gate:
                    connection = await connect_viewer(config, view, reader)
            except Exception as exc:  # noqa: BLE001 - counted; the viewer retries or gives up
                errors[f"connect: {type(exc).__name__}: {exc}"[:160]] += 1
                failures += 1
                if not ready.done() and failures >= 3:
                    ready.set_result(False)
                    return
                await asyncio.sleep(1.0)
                continue
            view.socket = connection
            if not ready.done():
                ready.set_result(True)
            connection.send_text(
                json.dumps({"type": "resume", "stream": stream, "after": view.last})
            )
            reason = await connection.closed
            if not stopping:
                errors[reason[:160]] += 1
                await asyncio.sleep(0.5)

    readies = [loop.create_future() for _ in views]
    tasks = [asyncio.create_task(keep(v, r)) for v, r in zip(views, readies, strict=True)]
    connected = sum(await asyncio.wait_for(asyncio.gather(*readies), CONNECT_TIMEOUT_S))
    print(f"ready {connected}", flush=True)

    commits_path = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
    commits = {
        int(seq): (at, kind)
        for seq, (at, kind) in json.loads(Path(commits_path).read_text()).items()
    }
    last = max(commits) if commits else 0
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline and any(v.last < last for v in views if v.opened):
        await asyncio.sleep(0.2)
    stopping = True
    sockets = [v.socket for v in views if v.socket is not None]
    for socket in sockets:
        socket.close()
    if sockets:
        await asyncio.wait([s.closed for s in sockets], timeout=30)
    for socket in sockets:
        if not socket.closed.done() and socket.transport is not None:
            socket.transport.abort()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    summary, latencies = tally(views, commits)
    summary["connected"] = connected
    summary["attempted"] = len(views)
    out = config["out"]
    for kind, values in latencies.items():
        with open(f"{out}.{kind}.f32", "wb") as f:
            values.tofile(f)
    keep_texts = {seq: texts[seq] for seq in commits if seq in texts}
    Path(out + ".json").write_text(
        json.dumps(
            {
                "summary": summary,
                "errors": dict(errors),
                "kinds": sorted(latencies),
                "texts": keep_texts,
            }
        )
    )
    print("done", flush=True)


def tally(
    views: list[View], commits: dict[int, tuple[float, str]]
) -> tuple[dict[str, int], dict[str, array[float]]]:
    """Per viewer: the window's events delivered live (on the connection open when each was
    committed), their latencies in ms by kind, and what was lost, recovered or duplicated."""
    latencies: dict[str, array[float]] = {kind: array("f") for _, kind in commits.values()}
    summary: Counter[str] = Counter()
    for view in views:
        if not view.opened:
            continue
        live: set[int] = set()
        recovered: set[int] = set()
        for seq, at, session in zip(view.seqs, view.times, view.session, strict=True):
            commit = commits.get(seq)
            if commit is None:
                continue  # before the window
            if seq in live or seq in recovered:
                summary["duplicates"] += 1
            elif view.opened[session] <= commit[0]:
                live.add(seq)
                latencies[commit[1]].append((at - commit[0]) * 1000.0)
            else:
                recovered.add(seq)
        lost = len(commits) - len(live)
        summary["lost"] += lost
        summary["viewers_with_loss"] += lost > 0
        summary["recovered_by_catch_up"] += len(recovered)
        summary["reconnects"] += len(view.opened) - 1
        summary["delivered_live"] += len(live)
    return dict(summary), latencies


# --- figures ---------------------------------------------------------------------------------


def delivery_figures(
    n: int, received: dict[str, Any], commits: dict[int, tuple[float, str]]
) -> dict[str, Any]:
    import numpy as np

    summary = received["summary"]
    everything = (
        np.concatenate(list(received["latencies"].values()))
        if received["latencies"]
        else np.array([], dtype=np.float32)
    )
    texts: dict[int, str] = received["texts"]
    kinds = Counter(kind for _, kind in commits.values())
    sizes = {
        kind: [
            len(texts[seq].encode())
            for seq, (_, k) in commits.items()
            if k == kind and seq in texts
        ]
        for kind in kinds
    }
    figures: dict[str, Any] = {
        "connected": summary.get("connected", 0),
        "start_seq": min(commits) - 1 if commits else None,
        "events": len(commits),
        "events_by_kind": dict(kinds),
        "message_bytes_mean": {k: round(sum(v) / len(v)) for k, v in sizes.items() if v},
        "message_bytes_max": {k: max(v) for k, v in sizes.items() if v},
        "expected_deliveries": summary.get("connected", 0) * len(commits),
        "delivered_live": summary.get("delivered_live", 0),
        "lost": summary.get("lost", 0),
        "viewers_with_loss": summary.get("viewers_with_loss", 0),
        "recovered_by_catch_up": summary.get("recovered_by_catch_up", 0),
        "duplicates": summary.get("duplicates", 0),
        "reconnects": summary.get("reconnects", 0),
        "client_errors": dict(received["errors"].most_common(5)),
        **latency(everything),
        "by_kind": {kind: latency(values) for kind, values in received["latencies"].items()},
        "commit_times": commits,  # for the baseline's schedule; dropped from the result
    }
    figures["met"] = bool(
        figures["connected"] == n
        and figures["lost"] == 0
        and figures["p99_ms"] is not None
        and figures["p99_ms"] <= TARGET_P99_MS
    )
    return figures


def latency(values: Any) -> dict[str, float | None]:
    import numpy as np

    if not len(values):
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {
        "p50_ms": round(float(p50), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(float(np.max(values)), 1),
    }


def compare(n: int, moot: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    moot.pop("commit_times", None)
    baseline.pop("commit_times", None)

    def ratio(key: str) -> float | None:
        a, b = moot.get(key), baseline.get(key)
        return round(a / b, 1) if a is not None and b else None

    return {
        "n": n,
        "moot": moot,
        "baseline": baseline,
        "ratio": {
            key: ratio(key)
            for key in ("p50_ms", "p99_ms", "rss_per_connection_kb", "server_cpu_us_per_delivery")
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"ws_fanout ({'quick' if result['quick'] else 'full'}): {result['seconds']} s at "
        f"{result['approvals_per_s_target']:g} approvals/s + {result['votes_per_s_target']:g} "
        f"votes/s; uvicorn x{result['server_workers']}, layer {result['channel_layer']}, "
        f"deflate {'on' if result['deflate'] else 'off'}",
        f"{'N':>6} {'server':9} {'conn':>6} {'events':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'lost':>7} {'KB/conn':>8} {'us/deliv':>9} {'view us/d':>9}",
    ]
    for phase in result["phases"]:
        for name in ("moot", "baseline"):
            p = phase[name]
            lines.append(
                f"{phase['n']:>6} {name:9} {p['connected']:>6} {p['events']:>6} "
                f"{fmt(p['p50_ms']):>8} {fmt(p['p99_ms']):>8} {fmt(p['max_ms']):>8} "
                f"{p['lost']:>7} {fmt(p['rss_per_connection_kb']):>8} "
                f"{fmt(p['server_cpu_us_per_delivery']):>9} "
                f"{fmt(p['viewers_cpu_us_per_delivery']):>9}"
            )
        r = phase["ratio"]
        lines.append(
            f"{'':>6} {'ratio':9} {'':>6} {'':>6} {fmt(r['p50_ms']):>8} {fmt(r['p99_ms']):>8} "
            f"{'':>8} {'':>7} {fmt(r['rss_per_connection_kb']):>8} "
            f"{fmt(r['server_cpu_us_per_delivery']):>9}"
        )
        m = phase["moot"]
        lines.append(
            f"{'':>6} driven: {m['approvals_per_s']} approvals/s, {m['votes_per_s']} votes/s; "
            f"recovered by catch-up {m['recovered_by_catch_up']}, reconnects {m['reconnects']}"
        )
    lines.append(
        f"target (N {result['target']['n']}, p99 <= {result['target']['p99_ms']:g} ms, 0 lost): "
        f"{'met' if result['target_met'] else 'NOT met'}; largest N met: {result['largest_n_met']}"
    )
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
