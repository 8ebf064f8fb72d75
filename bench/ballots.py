"""Benchmark ``ballots``: ballots per second cast over HTTP by 100 concurrent voters.

Against the production-like stack (uvicorn with 2 workers, ``engagement.settings.production``,
PostgreSQL, Redis; the demo council from ``seed_demo``). Set-up, not timed, runs in the bench
database through ``manage.py shell`` (:func:`seed`): a round in its voting phase (open now) with
a council-wide approval budget of 20 projects (at most 5 a ballot) and N residents, each with a
verified email address and a signed-in session that has already passed the eligibility page
(``budgets:eligibility:<round>`` as the page stores it). Sessions are written directly: production
hashes passwords slowly on purpose, and signing in is not what is measured. Each voter sends its
session cookie and a CSRF cookie with the same token in the form, as a browser would.

Timed: 100 clients share a queue of voters; each voter POSTs one ballot (1 to 5 projects drawn
with a fixed seed, ``action=cast``) to ``/budgets/<slug>/vote/<budget>/``. Success is a 302 to the
``done/`` page; anything else is a failure. Phases, each with voters of its own:

- ``warmup`` (quick 100, full 300), discarded: first requests load code and fill pools;
- ``ballots`` (quick 600, full 6000), the figure: ballots/s, latency p50/p95/p99;
- ``single_client`` (quick 50, full 200): one ballot at a time, the cost of a ballot alone;
- ``resubmit``: 50 voters of ``ballots`` send 4 new ballots each, a voter's 4 at the same time
  (changes are allowed: the last counts); this tests the voter-row lock, not speed.

Then :func:`audit` (in the database, after the server has stopped): ballots in the budget ==
distinct ``voter_token`` == voter rows in the round == distinct users == voters who got a 302;
each voter's ballot (found through ``budgets.services.voter_token``, as the service finds it)
holds exactly the projects of its accepted submission (for ``resubmit``, one of the four).

The load generator shares the machine's cores with the server, so the timed POSTs go through
:mod:`bench._rawhttp` (each request's bytes built before the timing starts, one keep-alive
connection per client) rather than httpx, which cost about 5 ms of CPU a ballot: time taken from
the server. Only the untimed :func:`probe` uses httpx.

``ok``: no failed request, the audit passes and, in the full run, at least 300 ballots/s.
"""

import asyncio
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench import _load, _rawhttp, _stack

CONCURRENCY = 100
SERVER_WORKERS = int(os.environ.get("BENCH_SERVER_WORKERS", "2"))
TARGET_BALLOTS_PER_S = 300.0
PROJECTS = 20
MOST_PROJECTS = 5
RESUBMIT_VOTERS = 50
RESUBMIT_EACH = 4
CHOICE_SEED = 2026
ROUND_SLUG = "bench-ballots"
# Django's defaults; production sets neither name.
SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"


@dataclass(frozen=True)
class Size:
    warmup: int
    measured: int
    single: int

    @property
    def voters(self) -> int:
        return self.warmup + self.measured + self.single


QUICK = Size(warmup=100, measured=600, single=50)
FULL = Size(warmup=300, measured=6000, single=200)


@dataclass(frozen=True)
class Voter:
    user: int
    session: str
    csrf: str


@dataclass(frozen=True)
class Election:
    """What :func:`seed` made: the round, its budget, the projects and the signed-in voters."""

    round: int
    slug: str
    budget: int
    projects: list[int]
    voters: list[Voter]

    @property
    def ballot_path(self) -> str:
        return f"/budgets/{self.slug}/vote/{self.budget}/"


@dataclass(frozen=True)
class Submission:
    voter: Voter
    projects: tuple[int, ...]
    sample: _load.Sample
    accepted: bool


@dataclass(frozen=True)
class Phase:
    submissions: list[Submission]
    wall_s: float
    cpu_s: dict[str, float]
    """CPU seconds used during the phase by role: ``server``, ``postgres``, ``client``."""


def run(quick: bool) -> dict[str, Any]:
    size = QUICK if quick else FULL
    with _stack.workspace() as ws:
        _stack.prepare(ws)
        _stack.seed_demo(ws)
        election = seed_election(ws, size.voters)
        with _stack.serve(ws, workers=SERVER_WORKERS) as base_url:
            phases = asyncio.run(measure(base_url, election, size))
        check = audit_election(ws, election, phases)
        figures = {name: summarise(phase) for name, phase in phases.items()}
        failed = sum(phase["failed"] for phase in figures.values())
        if failed:
            _stack.log(f"{failed} failed ballots; server log:\n{_stack.log_digest(ws.server_log)}")
    rate = figures["ballots"]["ballots_per_s"]
    target_met = rate >= TARGET_BALLOTS_PER_S
    return {
        "benchmark": "ballots",
        "ok": failed == 0 and check["ok"] and (quick or target_met),
        "quick": quick,
        "concurrency": CONCURRENCY,
        "server_workers": SERVER_WORKERS,
        "voters": size.voters,
        "projects": PROJECTS,
        "most_projects": MOST_PROJECTS,
        "ballots_per_s": rate,
        "target_ballots_per_s": TARGET_BALLOTS_PER_S,
        "target_met": target_met,
        "failed": failed,
        **figures,
        "check": check,
    }


# --- set-up and audit, in the bench database (run by `manage.py shell`) ------------------------


def seed_election(ws: _stack.Workspace, voters: int) -> Election:
    path = ws.directory / "election.json"
    _stack.log(f"seeding a voting round and {voters} signed-in voters")
    django_call(ws, "seed", str(path), voters)
    data = json.loads(path.read_text())
    return Election(
        round=data["round"],
        slug=data["slug"],
        budget=data["budget"],
        projects=data["projects"],
        voters=[Voter(**voter) for voter in data["voters"]],
    )


def audit_election(
    ws: _stack.Workspace, election: Election, phases: dict[str, Phase]
) -> dict[str, Any]:
    """What each voter's ballot may hold: the projects of their last accepted submission, or of
    any accepted one when they sent several at once; then :func:`audit` checks the database."""
    acceptable: dict[int, list[tuple[int, ...]]] = {}
    for name, phase in phases.items():
        concurrent: dict[int, list[tuple[int, ...]]] = {}
        for submission in phase.submissions:
            if submission.accepted:
                concurrent.setdefault(submission.voter.user, []).append(submission.projects)
        if name == "resubmit":
            acceptable.update(concurrent)
        else:
            acceptable.update({user: sets[-1:] for user, sets in concurrent.items()})
    path = ws.directory / "audit.json"
    expected = {"round": election.round, "budget": election.budget, "acceptable": acceptable}
    path.write_text(json.dumps(expected))
    _stack.log("checking the stored ballots")
    django_call(ws, "audit", str(path))
    return dict(json.loads(path.read_text()))


def django_call(ws: _stack.Workspace, function: str, *args: object) -> None:
    """``function(*args)`` of this module inside ``manage.py shell``: the server's settings,
    ``SECRET_KEY`` (sessions are signed with it) and database."""
    call = f"from bench.ballots import {function}; {function}(*{args!r})"
    _stack.manage(ws, "shell", "--no-imports", "-c", call)


def seed(path: str, voters: int) -> None:
    """Create the round, its budget and projects, and ``voters`` residents signed in and past
    the eligibility page; write what the load needs to ``path`` as JSON."""
    from datetime import timedelta
    from decimal import Decimal
    from importlib import import_module

    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
    from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from budgets.models import Budget, Project, Round
    from budgets.views import SESSION_KEY as ELIGIBILITY_KEY
    from engagement.accounts.models import Role, User
    from engagement.places.models import Ward

    if settings.SESSION_COOKIE_NAME != SESSION_COOKIE or settings.CSRF_COOKIE_NAME != CSRF_COOKIE:
        raise RuntimeError("the session or CSRF cookie name has changed: update bench/ballots.py")
    if settings.CSRF_USE_SESSIONS:
        raise RuntimeError("CSRF_USE_SESSIONS is on: the CSRF token must go in the session")
    ward = Ward.objects.order_by("pk").first()
    if ward is None:
        raise RuntimeError("no ward: did seed_demo run?")
    now = timezone.now()
    backend = settings.AUTHENTICATION_BACKENDS[0]
    with transaction.atomic():
        round_ = Round.objects.create(
            title="Bench ballots",
            slug=ROUND_SLUG,
            phase=Round.Phase.VOTING,
            voting_opens_at=now - timedelta(hours=1),
            voting_closes_at=now + timedelta(days=1),
        )
        budget = Budget.objects.create(
            round=round_,
            name="Council-wide",
            amount=Decimal(2_000_000),
            ballot_type=Budget.BallotType.APPROVAL,
            min_projects=1,
            max_projects=MOST_PROJECTS,
            rule=Budget.Rule.GREEDY,
            completion=Budget.Completion.NONE,
        )
        projects = Project.objects.bulk_create(
            Project(
                budget=budget,
                reference=f"P{n:02d}",
                title=f"Bench project {n}",
                cost=Decimal(10_000 * (1 + n % 10)),
            )
            for n in range(1, PROJECTS + 1)
        )
        # As `accounts.services.user_create` makes residents, in bulk and with no password to
        # hash: a verified email address and the resident role.
        users = User.objects.bulk_create(
            User(email=f"voter{n}@bench.invalid", name=f"Voter {n}", password=make_password(None))
            for n in range(voters)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=user.email, primary=True, verified=True) for user in users
        )
        resident, _ = Group.objects.get_or_create(name=Role.RESIDENT)
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=user.pk, group_id=resident.pk) for user in users
        )
        eligibility = {
            "ward": ward.pk,
            "ward_name": ward.name,
            "connection": "lives",
            "verified_by": "email",
            "code": None,
            "phone_hash": "",
        }
        # Through the configured session engine (Redis in production), as a sign-in would.
        engine = import_module(settings.SESSION_ENGINE)
        sessions = []
        for user in users:
            session = engine.SessionStore()
            session.update(
                {
                    USER_SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                    ELIGIBILITY_KEY.format(round_.pk): eligibility,
                }
            )
            session.create()
            sessions.append(session)
    data = {
        "round": round_.pk,
        "slug": round_.slug,
        "budget": budget.pk,
        "projects": [project.pk for project in projects],
        "voters": [
            {
                "user": user.pk,
                "session": session.session_key,
                "csrf": get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS),
            }
            for user, session in zip(users, sessions, strict=True)
        ],
    }
    Path(path).write_text(json.dumps(data))


def audit(path: str) -> None:
    """Check the stored ballots against what the voters were told was accepted (``path``, as
    written by :func:`audit_election`); write the findings back to ``path``."""
    from budgets.models import Ballot, BallotChoice, Voter
    from budgets.services import voter_token

    expected = json.loads(Path(path).read_text())
    acceptable = {
        int(user): {frozenset(projects) for projects in sets}
        for user, sets in expected["acceptable"].items()
    }
    ballots = Ballot.objects.filter(budget_id=expected["budget"])
    by_token = dict(ballots.values_list("voter_token", "id"))
    chosen: dict[Any, set[int]] = {}
    for ballot, project in BallotChoice.objects.filter(ballot__in=ballots).values_list(
        "ballot_id", "project_id"
    ):
        chosen.setdefault(ballot, set()).add(project)
    voters = list(Voter.objects.filter(round_id=expected["round"]))
    unexpected = missing_ballot = wrong_choices = 0
    for voter in voters:
        if voter.user_id not in acceptable:
            unexpected += 1
            continue
        ballot = by_token.get(voter_token(voter))
        if ballot is None:
            missing_ballot += 1
        elif frozenset(chosen.get(ballot, ())) not in acceptable[voter.user_id]:
            wrong_choices += 1
    findings = {
        "accepted_voters": len(acceptable),
        "ballots": ballots.count(),
        "distinct_voter_tokens": len(by_token),
        "voter_rows": len(voters),
        "distinct_voter_users": len({voter.user_id for voter in voters}),
        "voters_without_row": len(acceptable.keys() - {voter.user_id for voter in voters}),
        "rows_not_accepted": unexpected,
        "rows_without_ballot": missing_ballot,
        "ballots_with_wrong_choices": wrong_choices,
    }
    # The first five must be equal, the rest 0.
    counts = list(findings.values())
    findings["ok"] = len(set(counts[:5])) == 1 and not any(counts[5:])
    Path(path).write_text(json.dumps(findings))


# --- the load ------------------------------------------------------------------------------


async def measure(base_url: str, election: Election, size: Size) -> dict[str, Phase]:
    """Every phase in turn, each with voters of its own; the phases by name."""
    rng = random.Random(CHOICE_SEED)
    queue = iter(election.voters)

    def take(n: int) -> list[tuple[Voter, tuple[int, ...]]]:
        return [(next(queue), choose(rng, election.projects)) for _ in range(n)]

    phases: dict[str, Phase] = {}
    port = base_url.rsplit(":", 1)[1]
    async with _load.client(base_url, concurrency=1) as http:
        await probe(http, election)
    async with _rawhttp.connections(base_url, CONCURRENCY) as clients:
        _stack.log(f"warm-up: {size.warmup} ballots")
        phases["warmup"] = await cast(clients, election, take(size.warmup), port)
        _stack.log(f"measured: {size.measured} ballots, {CONCURRENCY} concurrent")
        phases["ballots"] = await cast(clients, election, take(size.measured), port)
    async with _rawhttp.connections(base_url, 1) as clients:
        _stack.log(f"single client: {size.single} ballots")
        phases["single_client"] = await cast(clients, election, take(size.single), port)
    # Voters whose ballot was taken, each sending a few new ones at once (a voter's are
    # neighbours in the queue, so they are in flight together).
    again = [s.voter for s in phases["ballots"].submissions if s.accepted][:RESUBMIT_VOTERS]
    async with _rawhttp.connections(base_url, CONCURRENCY) as clients:
        work = [(v, choose(rng, election.projects)) for v in again for _ in range(RESUBMIT_EACH)]
        _stack.log(f"resubmit: {RESUBMIT_VOTERS} voters x {RESUBMIT_EACH} ballots at once")
        phases["resubmit"] = await cast(clients, election, work, port)
    return phases


def choose(rng: random.Random, projects: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted(rng.sample(projects, rng.randint(1, MOST_PROJECTS))))


async def probe(http: httpx.AsyncClient, election: Election) -> None:
    """The ballot page for the first voter (who has not voted): 200 if the seeded session
    signs them in and holds their eligibility, else the set-up is wrong and timing is pointless."""
    voter = election.voters[0]
    response = await http.get(election.ballot_path, headers=cookies(voter))
    if response.status_code != 200:
        where = response.headers.get("location", "")
        raise _stack.StackError(
            f"GET {election.ballot_path} as a seeded voter returned {response.status_code} "
            f"{where}: the seeded session does not sign the voter in"
        )


async def cast(
    clients: list[_rawhttp.Connection],
    election: Election,
    work: list[tuple[Voter, tuple[int, ...]]],
    port: str,
) -> Phase:
    """Each voter's ballot from as many clients as connections, sharing one queue of work; the
    server listens on ``port``. The requests are built before the timing starts."""
    done = f"{election.ballot_path}done/"
    queue = iter(
        [
            (voter, projects, ballot_request(election, voter, projects, clients[0].authority))
            for voter, projects in work
        ]
    )
    submissions: list[Submission] = []

    async def client(connection: _rawhttp.Connection) -> None:
        for voter, projects, request in queue:
            sample = await _rawhttp.fetch(connection, request)
            # A 302 elsewhere (the sign-in or eligibility page) is a failure.
            ok = sample.status == 302 and sample.location == done
            submissions.append(Submission(voter, projects, sample, accepted=ok))

    before = cpu_times(port)
    start = time.perf_counter()
    await asyncio.gather(*(client(connection) for connection in clients))
    wall_s = time.perf_counter() - start
    after = cpu_times(port)
    used = {
        role: sum(seconds - before[role].get(pid, 0.0) for pid, seconds in after[role].items())
        for role in after
    }
    return Phase(submissions=submissions, wall_s=wall_s, cpu_s=used)


def cpu_times(port: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by role: ``server`` (the uvicorn process group
    listening on ``port``: its supervisor and workers), ``postgres`` (the backends connected to
    the bench database; shared background processes are left out) and ``client`` (this one).

    On a machine shared with other work, CPU time per ballot is a steadier figure than
    ballots/s: it does not count the time a process waited for a core."""
    times: dict[str, dict[int, float]] = {"server": {}, "postgres": {}, "client": {}}
    times["client"][os.getpid()] = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    commands: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone already
            continue
        # After "pid (comm)": state, ppid, pgrp, ..., utime and stime are the 12th and 13th.
        fields = stat.rsplit(")", 1)[1].split()
        stats[int(entry.name)] = (int(fields[2]), (int(fields[11]) + int(fields[12])) / tick)
        commands[int(entry.name)] = command.split("\0")
    leaders = {
        pid
        for pid, words in commands.items()
        if any("uvicorn" in word for word in words) and port in words
    }
    for pid, (group, seconds) in stats.items():
        words = commands[pid]
        if group in leaders:
            times["server"][pid] = seconds
        elif words[0].startswith("postgres:") and f" {_stack.DATABASE} " in words[0]:
            times["postgres"][pid] = seconds
    return times


def ballot_request(election: Election, voter: Voter, projects: tuple[int, ...], host: str) -> bytes:
    """The bytes of one voter's ballot POST: the form a browser sends (``action=cast``, the CSRF
    token), with the voter's cookies."""
    form = {
        "project": [str(pk) for pk in projects],
        "action": "cast",
        "csrfmiddlewaretoken": voter.csrf,
    }
    headers = {**cookies(voter), "content-type": "application/x-www-form-urlencoded"}
    body = urlencode(form, doseq=True).encode()
    return _rawhttp.request("POST", election.ballot_path, host=host, headers=headers, body=body)


def cookies(voter: Voter) -> dict[str, str]:
    # A header, not the client's cookie jar: the jar is shared by every voter, and it would not
    # send the server's `Secure` cookies over plain http anyway.
    return {"cookie": f"{SESSION_COOKIE}={voter.session}; {CSRF_COOKIE}={voter.csrf}"}


def summarise(phase: Phase) -> dict[str, Any]:
    """One phase's figures; times in milliseconds."""
    figures = _load.outcome_figures(
        [s.sample for s in phase.submissions],
        [s.accepted for s in phase.submissions],
        wall_s=phase.wall_s,
        cpu_s=phase.cpu_s,
        noun="ballots",
        rate="ballots_per_s",
        per="ballot",
    )
    requests = max(len(phase.submissions), 1)
    # What the server and PostgreSQL alone could take with every core of the machine, at the
    # CPU cost per ballot measured here (the load generator and any other work elsewhere).
    stack_ms = (phase.cpu_s["server"] + phase.cpu_s["postgres"]) * 1000 / requests
    cores = os.cpu_count() or 1
    figures["cpu_bound_ballots_per_s"] = round(cores * 1000 / stack_ms, 1) if stack_ms else 0.0
    return figures


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    size = "quick" if result["quick"] else "full"
    target = "met" if result["target_met"] else "NOT met"
    lines = [
        f"ballots ({size}): {result['voters']} voters, approval ballot of {result['projects']} "
        f"projects (1-{result['most_projects']} each), {result['concurrency']} concurrent, "
        f"uvicorn x{result['server_workers']}, production settings, PostgreSQL, Redis",
        "",
        f"{'phase':14} {'ballots':>7} {'failed':>6} {'per s':>7}  "
        f"{'client ms p50':>13} {'p95':>7} {'p99':>7}  {'server ms p50':>13} {'p95':>7} {'p99':>7}",
    ]
    for name in ("warmup", "ballots", "single_client", "resubmit"):
        p = result[name]
        lines.append(
            f"{name:14} {p['ballots']:7d} {p['failed']:6d} {p['ballots_per_s']:7.1f}  "
            f"{p['client_p50_ms']:13.1f} {p['client_p95_ms']:7.1f} {p['client_p99_ms']:7.1f}  "
            f"{p['server_p50_ms']:13.1f} {p['server_p95_ms']:7.1f} {p['server_p99_ms']:7.1f}"
        )
    lines += [
        "",
        f"{'phase':14} {'CPU ms per ballot: server':>25} {'postgres':>9} {'client':>7}  "
        f"{'cores x 1000 / (server + postgres)':>35}",
    ]
    for name in ("warmup", "ballots", "single_client", "resubmit"):
        p = result[name]
        lines.append(
            f"{name:14} {p['cpu_ms_per_ballot_server']:25.2f} "
            f"{p['cpu_ms_per_ballot_postgres']:9.2f} {p['cpu_ms_per_ballot_client']:7.2f}  "
            f"{p['cpu_bound_ballots_per_s']:30.1f} /s"
        )
    for name in ("warmup", "ballots", "single_client", "resubmit"):
        for failure in result[name]["first_failures"]:
            lines.append(f"  {name} failure: {failure}")
    check = result["check"]
    lines += [
        "",
        f"throughput: {result['ballots_per_s']:.1f} ballots/s "
        f"(target {result['target_ballots_per_s']:.0f}: {target})",
        f"check ({'passed' if check['ok'] else 'FAILED'}): {check['ballots']} ballots, "
        f"{check['distinct_voter_tokens']} voter tokens, {check['voter_rows']} voter rows, "
        f"{check['distinct_voter_users']} users, {check['accepted_voters']} voters accepted; "
        f"{check['voters_without_row']} accepted without a row, {check['rows_not_accepted']} "
        f"rows not accepted, {check['rows_without_ballot']} rows without a ballot, "
        f"{check['ballots_with_wrong_choices']} ballots with other choices",
    ]
    return "\n".join(lines)
