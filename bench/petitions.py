"""Benchmark ``petitions``: signatures per second (sign, then confirm by the emailed link) from
100 concurrent signers, and the delay from a confirmation to the live count showing it.

Against the production-like stack (uvicorn with 2 workers, ``engagement.settings.production``,
PostgreSQL, Redis; the demo council from ``seed_demo``) plus what signing needs and the other
benchmarks do not run: a **Celery worker** (``celery -A engagement worker``, same environment,
its own process group) and a **local SMTP sink** (:func:`smtp_sink`, a subprocess of its own).

Why the real email path (not writing token hashes into the database): the service stores only an
HMAC of each confirmation token and the token itself exists only in the email, so the bench reads
the tokens where a signer would, from the emails. Production sends through Django's SMTP backend
(``EMAIL_HOST``/``EMAIL_PORT`` come from the environment), so the worker is pointed at a sink
that speaks just enough SMTP and writes each recipient and the token of its confirmation link to
a file. The file-based email backend would need ``EMAIL_FILE_PATH``, which the settings do not read
from the environment. The worker is needed anyway: the live count is pushed by
``publish_snapshot``, a Celery task ``publish_soon`` queues with a countdown of one tick.

Set-up, not timed (:func:`seed`, run by ``manage.py shell`` so it shares the server's settings
and database): an open petition (opened now, closing in 6 months) and an **allow rule for
127.0.0.1** (``BlockRule(kind="ip", action="allow")``): every request comes from loopback, and
without it the per-IP limits (1 a minute, 5 in 5 minutes per petition) would quietly mark all but
the first signatures fraudulent (stored, never counted). Each signer has a name, an address
``signer<n>@bench.invalid``, a postcode drawn (fixed seed) from the database's ``Postcode`` table
and a CSRF token, sent as the ``csrftoken`` cookie and as ``csrfmiddlewaretoken``: the page is
anonymous and ``CSRF_USE_SESSIONS`` is off, so no session is needed.

Phases (100 clients sharing a queue of work; each request's bytes built before the timing starts,
over :mod:`bench._rawhttp` keep-alive connections):

- ``sign_warmup`` (quick 50, full 300): POST ``/petitions/<pk>/`` (name, email, postcode,
  ``connection=lives``, ``eligible=on``); success is a 302 to ``/petitions/<pk>/thanks/``. Then,
  untimed, wait for their emails: this proves the worker and the sink work before anything counts;
- ``sign`` (quick 500, full 6000), the same for the measured signers; then ``email_drain_s``, the
  wait from the end of the phase until the last of their emails reached the sink (untimed: the
  worker sends them while the signing goes on, and the backlog it has left at the end);
- a websocket observer connects to ``/ws/streams/?s=petition.<pk>`` and sends ``resume``;
- ``confirm_warmup`` then ``confirm``: GET ``/petitions/confirm/<token>/`` for each signer of
  the matching sign phase; success is a 200. Each response's time is recorded with the number of
  confirmations answered so far.

Count delay: the observer records each pushed message's arrival time and count (parsed from the
``petition-count`` fragment, the HTML the page swaps in). The k-th confirmation answered in
``confirm`` is shown once a message carries a count >= (warm-up confirmations + k): its delay is
that message's arrival minus the k-th response's (0 if such a count had already arrived). Every
measured confirmation gets a delay; ``not_shown`` counts those no message covered within
``SETTLE_S`` after the phase.

Each phase also samples ``pg_stat_activity`` (:func:`backend_sampler`): how many backends run a
statement and how many of them wait for a lock, which shows confirmations queueing on the
petition's row (``_count`` updates ``signature_count`` inside the confirming transaction).

Then :func:`audit` (in the database, after the server and worker have stopped): one signature per
accepted sign, no two with the same normalised email, none fraudulent or pending, validated
signatures == successful confirms == ``petition.signature_count``, and the last stored
``petition.<pk>`` stream event carries that count.

``ok``: no failed request, every measured confirmation shown, the audit passes and, in the full run
only, at least 300 signatures/s combined (N / (sign time + confirm time)) and a delay p95 <= 2 s.
"""

import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from websockets.asyncio.client import connect as ws_connect

from bench import _load, _rawhttp, _stack

CONCURRENCY = 100
SERVER_WORKERS = int(os.environ.get("BENCH_SERVER_WORKERS", "2"))
CELERY_CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", str(os.cpu_count() or 1)))
TARGET_SIGNATURES_PER_S = 300.0
TARGET_DELAY_P95_S = 2.0
POSTCODES = 200
POSTCODE_SEED = 2026
CSRF_COOKIE = "csrftoken"
EMAIL_WAIT_S = 60.0
"""Untimed: how long the worker may take to deliver a phase's emails, beyond 1 s per 50."""
NO_LINK = "-"
"""What the sink writes for a message without a confirmation link (threshold alerts)."""
SETTLE_S = 10.0
"""How long after the last confirmation the observer waits for the count to catch up."""
SAMPLE_S = 0.1
"""How often ``pg_stat_activity`` is sampled during a phase."""

CONFIRM_LINK = re.compile(rb"/petitions/confirm/([A-Za-z0-9_-]+)/")
COUNT = re.compile(r'id="petition-count-\d+"[^>]*>\s*([\d,]+)')
SEQ = re.compile(r'data-moot-seq="(\d+)"')


@dataclass(frozen=True)
class Size:
    warmup: int
    measured: int

    @property
    def signers(self) -> int:
        return self.warmup + self.measured


QUICK = Size(warmup=50, measured=500)
FULL = Size(warmup=300, measured=6000)


@dataclass(frozen=True)
class Signer:
    name: str
    email: str
    postcode: str
    csrf: str


@dataclass(frozen=True)
class Petition:
    """What :func:`seed` made: the open petition and the signers-to-be."""

    pk: int
    signers: list[Signer]

    @property
    def path(self) -> str:
        return f"/petitions/{self.pk}/"

    @property
    def thanks_path(self) -> str:
        return f"/petitions/{self.pk}/thanks/"

    @property
    def stream(self) -> str:
        return f"petition.{self.pk}"


@dataclass(frozen=True)
class Answer:
    sample: _load.Sample
    ok: bool
    at: float
    """``time.perf_counter()`` when the response had been read."""


@dataclass(frozen=True)
class Phase:
    answers: list[Answer]
    wall_s: float
    cpu_s: dict[str, float]
    """CPU seconds used during the phase by role: ``server``, ``worker`` (Celery), ``smtp``
    (the sink), ``postgres`` and ``client``."""
    backends: list[tuple[int, int]]
    """Samples of the bench database's backends: ``(running a statement, of them waiting for a
    lock)``."""


@dataclass(frozen=True)
class Push:
    at: float
    seq: int
    count: int


def run(quick: bool) -> dict[str, Any]:
    size = QUICK if quick else FULL
    with _stack.workspace() as ws:
        _stack.prepare(ws)
        _stack.seed_demo(ws)
        petition = seed_petition(ws, size.signers)
        with smtp(ws) as (mail_env, mailbox, sink_pid):
            ws.env.update(mail_env)  # the worker sends; the server only queues
            with (
                _stack.serve(ws, workers=SERVER_WORKERS) as base_url,
                celery_worker(ws) as worker_pid,
            ):
                groups = {"worker": worker_pid, "smtp": sink_pid}
                measured = asyncio.run(measure(base_url, petition, size, mailbox, groups))
        phases, emails, pushes, confirmed_before = measured
        figures = {name: summarise(phase) for name, phase in phases.items()}
        failed = sum(phase["failed"] for phase in figures.values())
        if failed:
            _stack.log(f"{failed} failed requests; server log:\n{_stack.log_digest(ws.server_log)}")
        delay = count_delay(phases["confirm"], pushes, confirmed_before)
        check = audit_petition(ws, petition, phases)
    sign_s, confirm_s = phases["sign"].wall_s, phases["confirm"].wall_s
    signed = figures["sign"]["accepted"]
    combined = round(signed / (sign_s + confirm_s), 1) if sign_s + confirm_s else 0.0
    rate_met = combined >= TARGET_SIGNATURES_PER_S
    delay_met = delay["not_shown"] == 0 and delay["p95_s"] <= TARGET_DELAY_P95_S
    return {
        "benchmark": "petitions",
        "ok": failed == 0
        and delay["not_shown"] == 0
        and check["ok"]
        and (quick or (rate_met and delay_met)),
        "quick": quick,
        "concurrency": CONCURRENCY,
        "server_workers": SERVER_WORKERS,
        "celery_concurrency": CELERY_CONCURRENCY,
        "signers": size.signers,
        "sign_per_s": figures["sign"]["per_s"],
        "confirm_per_s": figures["confirm"]["per_s"],
        "signatures_per_s": combined,
        "email_drain_s": round(emails["drain_s"], 2),
        "emails_at_sign_end": emails["at_sign_end"],
        "email_drain_per_s": round(
            (signed - emails["at_sign_end"]) / emails["drain_s"] if emails["drain_s"] else 0.0, 1
        ),
        "signatures_per_s_with_email": round(signed / (sign_s + emails["drain_s"] + confirm_s), 1),
        "target_signatures_per_s": TARGET_SIGNATURES_PER_S,
        "target_delay_p95_s": TARGET_DELAY_P95_S,
        "target_met": rate_met and delay_met,
        "failed": failed,
        **figures,
        "count_delay": delay,
        "check": check,
    }


# --- set-up and audit, in the bench database (run by `manage.py shell`) ------------------------


def seed_petition(ws: _stack.Workspace, signers: int) -> Petition:
    path = ws.directory / "petition.json"
    _stack.log(f"seeding an open petition, an allow rule for 127.0.0.1 and {signers} signers")
    django_call(ws, "seed", str(path), signers)
    data = json.loads(path.read_text())
    return Petition(pk=data["petition"], signers=[Signer(**s) for s in data["signers"]])


def audit_petition(
    ws: _stack.Workspace, petition: Petition, phases: dict[str, Phase]
) -> dict[str, Any]:
    path = ws.directory / "audit.json"
    expected = {
        "petition": petition.pk,
        "signed": sum(a.ok for name in ("sign_warmup", "sign") for a in phases[name].answers),
        "confirmed": sum(
            a.ok for name in ("confirm_warmup", "confirm") for a in phases[name].answers
        ),
    }
    path.write_text(json.dumps(expected))
    _stack.log("checking the stored signatures")
    django_call(ws, "audit", str(path))
    return dict(json.loads(path.read_text()))


def django_call(ws: _stack.Workspace, function: str, *args: object) -> None:
    """``function(*args)`` of this module inside ``manage.py shell``: the server's settings,
    ``SECRET_KEY`` and database."""
    call = f"from bench.petitions import {function}; {function}(*{args!r})"
    _stack.manage(ws, "shell", "--no-imports", "-c", call)


def seed(path: str, signers: int) -> None:
    """Create the open petition and the allow rule for loopback; pick the signers' postcodes;
    write the petition and the signers to ``path`` as JSON."""
    import secrets
    from datetime import timedelta

    from django.conf import settings
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from consultations.models import BlockRule
    from consultations.models import Petition as PetitionModel
    from engagement.places.models import Postcode

    if settings.CSRF_COOKIE_NAME != CSRF_COOKIE:
        raise RuntimeError("the CSRF cookie name has changed: update bench/petitions.py")
    if settings.CSRF_USE_SESSIONS:
        raise RuntimeError("CSRF_USE_SESSIONS is on: signing would need a session")
    postcodes = list(Postcode.objects.order_by("postcode").values_list("postcode", flat=True))
    if not postcodes:
        raise RuntimeError("no postcodes: did seed_demo run?")
    postcodes = random.Random(POSTCODE_SEED).sample(postcodes, min(POSTCODES, len(postcodes)))
    now = timezone.now()
    petition = PetitionModel.objects.create(
        action="Bench: plant more street trees",
        background="A petition made by the benchmark to be signed by many people at once.",
        state=PetitionModel.State.OPEN,
        opened_at=now,
        closes_at=now + timedelta(days=183),
        sponsor_token=secrets.token_urlsafe(16)[:32],
    )
    BlockRule.objects.create(
        kind=BlockRule.Kind.IP,
        value="127.0.0.1",
        action=BlockRule.Action.ALLOW,
        note="bench: every signature comes from loopback",
    )
    data = {
        "petition": petition.pk,
        "signers": [
            {
                "name": f"Signer {n}",
                "email": f"signer{n}@bench.invalid",
                "postcode": postcodes[n % len(postcodes)],
                "csrf": get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS),
            }
            for n in range(signers)
        ],
    }
    Path(path).write_text(json.dumps(data))


def audit(path: str) -> None:
    """Check the stored signatures and count against what the signers were answered (``path``,
    as written by :func:`audit_petition`); write the findings back to ``path``."""
    from django.db.models import Count

    from consultations.models import Petition as PetitionModel
    from consultations.models import Signature
    from engagement.realtime.models import StreamEvent

    expected = json.loads(Path(path).read_text())
    petition = PetitionModel.objects.get(pk=expected["petition"])
    rows = Signature.objects.filter(petition=petition)
    states = dict(rows.values_list("state").annotate(n=Count("pk")).order_by())
    validated = states.get(Signature.State.VALIDATED, 0)
    last = StreamEvent.objects.filter(stream=f"petition.{petition.pk}").order_by("-seq").first()
    findings = {
        "signed": expected["signed"],
        "signatures": rows.count(),
        "distinct_emails": rows.values("normalised_email").distinct().count(),
        "confirmed": expected["confirmed"],
        "validated": validated,
        "signature_count": petition.signature_count,
        "last_pushed_count": last.payload.get("count") if last else None,
        "pending": states.get(Signature.State.PENDING, 0),
        "fraudulent": states.get(Signature.State.FRAUDULENT, 0),
        "invalidated": states.get(Signature.State.INVALIDATED, 0),
    }
    findings["ok"] = (
        findings["signed"] == findings["signatures"] == findings["distinct_emails"]
        and findings["confirmed"]
        == validated
        == findings["signature_count"]
        == findings["last_pushed_count"]
        and findings["pending"] == findings["fraudulent"] == findings["invalidated"] == 0
    )
    Path(path).write_text(json.dumps(findings))


# --- the worker and the SMTP sink -------------------------------------------------------------


@contextmanager
def celery_worker(ws: _stack.Workspace) -> Iterator[int]:
    """A Celery worker with the stack's environment in its own process group; yield its pid
    (the group's id); always stop the group. Its output goes to ``celery.log``."""
    command = [
        sys.executable, "-m", "celery", "-A", "engagement", "worker",
        "--concurrency", str(CELERY_CONCURRENCY), "--loglevel", "warning",
    ]  # fmt: skip
    _stack.log(f"starting a Celery worker (concurrency {CELERY_CONCURRENCY})")
    with (ws.directory / "celery.log").open("wb") as log:
        process = subprocess.Popen(
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


@contextmanager
def smtp(ws: _stack.Workspace) -> Iterator[tuple[dict[str, str], Path, int]]:
    """Run :func:`smtp_sink` in a process group of its own; yield the environment that points
    Django's SMTP backend at it, the file it writes and its pid; always stop it."""
    port = _stack.free_port()
    mailbox = ws.directory / "mailbox.tsv"
    mailbox.touch()
    call = f"from bench.petitions import smtp_sink; smtp_sink({port}, {str(mailbox)!r})"
    with (ws.directory / "smtp.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", call],
            cwd=_stack.ROOT,
            env=ws.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    sink_log = _stack.read_tail(ws.directory / "smtp.log")
                    raise _stack.StackError(f"the SMTP sink did not start:\n{sink_log}")
                time.sleep(0.1)
            env = {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(port),
                "EMAIL_USE_TLS": "false",
                "EMAIL_HOST_USER": "",
                "EMAIL_HOST_PASSWORD": "",
            }
            yield env, mailbox, process.pid
        finally:
            _stack.stop(process)


def smtp_sink(port: int, mailbox: str) -> None:
    """A mail server that accepts everything on ``127.0.0.1:port`` and appends a line
    ``<recipient>\\t<token>`` per message to ``mailbox`` (the token of the message's
    ``/petitions/confirm/<token>/`` link, or ``-``). Just enough SMTP for :mod:`smtplib`: no
    extensions, no TLS, no authentication. It stands for the council's mail relay, which is not
    on the server's cores, so it does as little as it can: a plain-text message's link is found
    in its raw body; only an encoded or multipart one goes through the email package (which
    cost about 0.5 ms of CPU a message, as much as the worker spent sending it)."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        recipients: list[str] = []
        writer.write(b"220 moot-bench ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250 moot-bench\r\n")
                elif verb == b"MAIL":
                    recipients = []
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    recipients.append(line.decode().partition(":")[2].strip(" <>\r\n"))
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    await writer.drain()
                    data = await reader.readuntil(b"\r\n.\r\n")
                    deliver(recipients, data)
                    writer.write(b"250 OK\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 Bye\r\n")
                    break
                else:  # RSET, NOOP
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        finally:
            writer.close()

    out = open(mailbox, "a")  # noqa: SIM115 - open for the sink's whole life

    def deliver(recipients: list[str], data: bytes) -> None:
        data = data.replace(b"\r\n..", b"\r\n.")
        head, _, text = data.partition(b"\r\n\r\n")
        encoded = re.search(rb"(?im)^content-transfer-encoding:\s*(base64|quoted-printable)", head)
        if encoded or re.search(rb"(?im)^content-type:\s*multipart/", head):
            # Not sent as plain 7 or 8 bit text (Django does so only for lines too long for
            # SMTP): let the email package decode it, as a mail client would.
            import email
            import email.policy

            message = email.message_from_bytes(data, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content().encode() if body is not None else data
        found = CONFIRM_LINK.search(text)
        token = found.group(1).decode() if found else NO_LINK
        out.writelines(f"{recipient}\t{token}\n" for recipient in recipients)
        out.flush()

    async def main() -> None:
        server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 20)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Mailbox:
    """The sink's file, read as it grows: each recipient's confirmation token."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.tokens: dict[str, str] = {}
        self.messages = 0

    def read(self) -> None:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += complete
        for line in chunk[:complete].decode().splitlines():
            recipient, _, token = line.partition("\t")
            self.messages += 1
            if token != NO_LINK:
                self.tokens[recipient] = token

    async def wait_for(self, signers: list[Signer], timeout: float) -> float:
        """Until every signer has a token; the seconds waited, or a StackError at ``timeout``."""
        start = time.perf_counter()
        while True:
            self.read()
            missing = sum(signer.email not in self.tokens for signer in signers)
            if not missing:
                return time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                logs = self.path.parent  # the workspace, where the worker and sink log
                raise _stack.StackError(
                    f"{missing} of {len(signers)} confirmation emails not delivered after "
                    f"{timeout:.0f}s ({self.messages} messages in all)\n"
                    f"--- celery.log ---\n{_stack.log_digest(logs / 'celery.log')}\n"
                    f"--- smtp.log ---\n{_stack.read_tail(logs / 'smtp.log')}"
                )
            await asyncio.sleep(0.05)


# --- the load --------------------------------------------------------------------------------


async def measure(
    base_url: str, petition: Petition, size: Size, mailbox_path: Path, groups: dict[str, int]
) -> tuple[dict[str, Phase], dict[str, float], list[Push], int]:
    """Every phase in turn; the phases by name, the measured phase's email delivery
    (``drain_s``, ``at_sign_end``), the pushed counts and the number of confirmations before
    the measured ones."""
    port = base_url.rsplit(":", 1)[1]
    mailbox = Mailbox(mailbox_path)
    warmup, measured = petition.signers[: size.warmup], petition.signers[size.warmup :]
    phases: dict[str, Phase] = {}
    async with _load.client(base_url, concurrency=1) as http:
        await probe(http, petition)
    async with _rawhttp.connections(base_url, CONCURRENCY) as clients:
        host = clients[0].authority
        _stack.log(f"sign warm-up: {len(warmup)} signatures")
        work = [sign_request(petition, s, host) for s in warmup]
        phases["sign_warmup"] = await send(clients, work, 302, petition.thanks_path, port, groups)
        refuse_if_all_failed("sign_warmup", phases["sign_warmup"])
        accepted = accepted_signers(warmup, phases["sign_warmup"])
        _stack.log("waiting for the warm-up's confirmation emails (worker start-up included)")
        await mailbox.wait_for(accepted, EMAIL_WAIT_S + len(accepted) / 50)
        _stack.log(f"sign: {len(measured)} signatures, {CONCURRENCY} concurrent")
        work = [sign_request(petition, s, host) for s in measured]
        phases["sign"] = await send(clients, work, 302, petition.thanks_path, port, groups)
        accepted_measured = accepted_signers(measured, phases["sign"])
        mailbox.read()
        at_sign_end = sum(s.email in mailbox.tokens for s in accepted_measured)
        _stack.log("waiting for their confirmation emails")
        drain_s = await mailbox.wait_for(
            accepted_measured, EMAIL_WAIT_S + len(accepted_measured) / 50
        )
        _stack.log(f"all {len(accepted) + len(accepted_measured)} emails in after {drain_s:.1f}s")

        observer = Observer(base_url, petition.stream)
        await observer.start()
        try:
            _stack.log(f"confirm warm-up: {len(accepted)} links")
            work = [confirm_request(mailbox.tokens[s.email], host) for s in accepted]
            phases["confirm_warmup"] = await send(clients, work, 200, "", port, groups)
            before = sum(a.ok for a in phases["confirm_warmup"].answers)
            _stack.log(f"confirm: {len(accepted_measured)} links, {CONCURRENCY} concurrent")
            work = [confirm_request(mailbox.tokens[s.email], host) for s in accepted_measured]
            phases["confirm"] = await send(clients, work, 200, "", port, groups)
            total = before + sum(a.ok for a in phases["confirm"].answers)
            await observer.settle(total, SETTLE_S)
        finally:
            await observer.stop()
    emails = {"drain_s": drain_s, "at_sign_end": at_sign_end}
    return phases, emails, observer.pushes, before


def refuse_if_all_failed(name: str, phase: Phase) -> None:
    if phase.answers and not any(a.ok for a in phase.answers):
        first = phase.answers[0].sample
        raise _stack.StackError(
            f"every request of {name} failed; the first: status {first.status} "
            f"{first.location} {first.error}"
        )


def accepted_signers(signers: list[Signer], phase: Phase) -> list[Signer]:
    return [s for s, a in zip(signers, phase.answers, strict=True) if a.ok]


async def probe(http: httpx.AsyncClient, petition: Petition) -> None:
    """The petition's page answers 200, else it is not open and timing is pointless."""
    response = await http.get(petition.path)
    if response.status_code != 200:
        raise _stack.StackError(f"GET {petition.path} returned {response.status_code}")


async def send(
    clients: list[_rawhttp.Connection],
    work: list[bytes],
    status: int,
    location: str,
    port: str,
    groups: dict[str, int],
) -> Phase:
    """Each request from as many clients as connections sharing one queue; a success is
    ``status`` (and, for a redirect, ``location``). Answers are in the order of ``work``."""
    answers: list[Answer | None] = [None] * len(work)
    queue = iter(enumerate(work))

    async def client(connection: _rawhttp.Connection) -> None:
        for i, request in queue:
            sample = await _rawhttp.fetch(connection, request)
            ok = sample.status == status and (not location or sample.location == location)
            answers[i] = Answer(sample, ok, time.perf_counter())

    before = cpu_times(port, groups)
    start = time.perf_counter()
    async with backend_sampler() as backends:
        await asyncio.gather(*(client(connection) for connection in clients))
    wall_s = time.perf_counter() - start
    after = cpu_times(port, groups)
    used = {
        role: sum(seconds - before[role].get(pid, 0.0) for pid, seconds in after[role].items())
        for role in after
    }
    return Phase(
        answers=[a for a in answers if a is not None], wall_s=wall_s, cpu_s=used, backends=backends
    )


@asynccontextmanager
async def backend_sampler() -> AsyncIterator[list[tuple[int, int]]]:
    """Every ``SAMPLE_S`` while the block runs, how many backends of the bench database are
    running a statement and how many of those wait for a lock (``pg_stat_activity``); the list
    of ``(active, waiting)`` fills in as the block runs."""
    samples: list[tuple[int, int]] = []
    query = (
        "SELECT count(*) FILTER (WHERE state = 'active'),"
        " count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')"
        " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    url = f"{_stack.POSTGRES_URL}/{_stack.DATABASE}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def sample() -> None:
            while True:
                row = await (await conn.execute(query, (_stack.DATABASE,))).fetchone()
                if row is not None:
                    samples.append((int(row[0]), int(row[1])))
                await asyncio.sleep(SAMPLE_S)

        sampler = asyncio.create_task(sample())
        try:
            yield samples
        finally:
            sampler.cancel()
            with suppress(asyncio.CancelledError):
                await sampler


def sign_request(petition: Petition, signer: Signer, host: str) -> bytes:
    """The bytes of one signature POST: the form a browser sends, with the CSRF cookie."""
    form = {
        "name": signer.name,
        "email": signer.email,
        "postcode": signer.postcode,
        "connection": "lives",
        "eligible": "on",
        "csrfmiddlewaretoken": signer.csrf,
    }
    headers = {
        # A header, not a cookie jar: the server's cookies are `Secure`, and this is plain http.
        "cookie": f"{CSRF_COOKIE}={signer.csrf}",
        "content-type": "application/x-www-form-urlencoded",
    }
    body = urlencode(form).encode()
    return _rawhttp.request("POST", petition.path, host=host, headers=headers, body=body)


def confirm_request(token: str, host: str) -> bytes:
    """The bytes of a click on the emailed link."""
    return _rawhttp.request("GET", f"/petitions/confirm/{token}/", host=host, headers={})


class Observer:
    """A browser showing the petition: a websocket on its stream, recording each pushed count."""

    def __init__(self, base_url: str, stream: str) -> None:
        self.url = base_url.replace("http://", "ws://") + f"/ws/streams/?s={stream}"
        self.origin = base_url
        self.stream = stream
        self.pushes: list[Push] = []
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The server checks Origin against ALLOWED_HOSTS, as for a browser.
        self.socket = await ws_connect(self.url, origin=self.origin)
        await self.socket.send(json.dumps({"type": "resume", "stream": self.stream, "after": 0}))
        self.task = asyncio.create_task(self.listen())

    async def listen(self) -> None:
        async for message in self.socket:
            at = time.perf_counter()
            text = message if isinstance(message, str) else message.decode()
            count, seq = COUNT.search(text), SEQ.search(text)
            if count and seq:
                self.pushes.append(
                    Push(at, int(seq.group(1)), int(count.group(1).replace(",", "")))
                )
                self.changed.set()

    async def settle(self, count: int, timeout: float) -> None:
        """Until a pushed count reaches ``count``, or ``timeout`` seconds."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self.pushes or self.pushes[-1].count < count:
                    self.changed.clear()
                    await self.changed.wait()

    async def stop(self) -> None:
        await self.socket.close()
        if self.task is not None:
            with suppress(Exception):
                await self.task


def count_delay(phase: Phase, pushes: list[Push], before: int) -> dict[str, Any]:
    """For the k-th confirmation answered in ``phase``, the time from its response to the first
    push whose count reaches ``before + k`` (0 when one already had)."""
    answered = sorted(a.at for a in phase.answers if a.ok)
    delays: list[float] = []
    not_shown = 0
    i, shown = 0, 0
    ordered = sorted(pushes, key=lambda push: push.at)
    for k, at in enumerate(answered, start=1):
        while shown < before + k and i < len(ordered):
            shown = max(shown, ordered[i].count)
            i += 1
        if shown < before + k:
            not_shown += 1
            continue
        delays.append(max(0.0, ordered[i - 1].at - at))
    during = [p for p in ordered if answered and p.at >= answered[0]]
    gaps = [b.at - a.at for a, b in zip(during, during[1:], strict=False)]
    return {
        "confirmations": len(answered),
        "not_shown": not_shown,
        "pushes": len(during),
        "push_interval_p50_s": round(_load.percentile(gaps, 50), 3),
        "p50_s": round(_load.percentile(delays, 50), 3),
        "p95_s": round(_load.percentile(delays, 95), 3),
        "max_s": round(max(delays), 3) if delays else None,
        "last_count": ordered[-1].count if ordered else None,
    }


def cpu_times(port: str, groups: dict[str, int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by role: ``server`` (the uvicorn process group
    listening on ``port``), one role per process group in ``groups`` (role -> group id),
    ``postgres`` (the backends connected to the bench database, the worker's included; shared
    background processes are left out) and ``client`` (this process)."""
    times: dict[str, dict[int, float]] = {
        "server": {},
        **{role: {} for role in groups},
        "postgres": {},
        "client": {os.getpid(): time.process_time()},
    }
    roles = {group: role for role, group in groups.items()}
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
    for pid, words in commands.items():
        if any("uvicorn" in word for word in words) and port in words:
            roles.setdefault(pid, "server")
    for pid, (group, seconds) in stats.items():
        if group in roles:
            times[roles[group]][pid] = seconds
        elif (
            commands[pid][0].startswith("postgres:") and f" {_stack.DATABASE} " in commands[pid][0]
        ):
            times["postgres"][pid] = seconds
    return times


def summarise(phase: Phase) -> dict[str, Any]:
    """One phase's figures; times in milliseconds."""
    figures = _load.outcome_figures(
        [a.sample for a in phase.answers],
        [a.ok for a in phase.answers],
        wall_s=phase.wall_s,
        cpu_s=phase.cpu_s,
    )
    active = [a for a, _ in phase.backends]
    waiting = [w for _, w in phase.backends]
    figures["pg_active_mean"] = round(sum(active) / len(active), 1) if active else None
    figures["pg_lock_waits_mean"] = round(sum(waiting) / len(waiting), 1) if waiting else None
    return figures


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    size = "quick" if result["quick"] else "full"
    names = ("sign_warmup", "sign", "confirm_warmup", "confirm")
    roles = ("server", "worker", "smtp", "postgres", "client")
    lines = [
        f"petitions ({size}): {result['signers']} signers, {result['concurrency']} concurrent, "
        f"uvicorn x{result['server_workers']}, Celery worker x{result['celery_concurrency']}, "
        "SMTP sink, production settings, PostgreSQL, Redis",
        "",
        f"{'phase':15} {'requests':>8} {'failed':>6} {'per s':>7}  "
        f"{'client ms p50':>13} {'p95':>7} {'p99':>7}  {'server ms p50':>13} {'p95':>7} {'p99':>7}",
    ]
    for name in names:
        p = result[name]
        lines.append(
            f"{name:15} {p['requests']:8d} {p['failed']:6d} {p['per_s']:7.1f}  "
            f"{p['client_p50_ms']:13.1f} {p['client_p95_ms']:7.1f} {p['client_p99_ms']:7.1f}  "
            f"{p['server_p50_ms']:13.1f} {p['server_p95_ms']:7.1f} {p['server_p99_ms']:7.1f}"
        )
    lines += [
        "",
        f"{'phase':15} CPU ms per request: "
        + " ".join(f"{r:>8}" for r in roles)
        + "   PostgreSQL backends: active, waiting for a lock (mean)",
    ]
    for name in names:
        p = result[name]
        cpu = " ".join(f"{p[f'cpu_ms_per_request_{r}']:8.2f}" for r in roles)
        lines.append(
            f"{name:15} {'':20}{cpu}   {p['pg_active_mean']:>20} {p['pg_lock_waits_mean']:>8}"
        )
    for name in names:
        for failure in result[name]["first_failures"]:
            lines.append(f"  {name} failure: {failure}")
    d, check = result["count_delay"], result["check"]
    target = "met" if result["target_met"] else "NOT met"
    lines += [
        "",
        f"throughput: sign {result['sign_per_s']:.1f}/s, confirm {result['confirm_per_s']:.1f}/s, "
        f"combined {result['signatures_per_s']:.1f} signatures/s "
        f"(target {result['target_signatures_per_s']:.0f})",
        f"emails: {result['emails_at_sign_end']} of the phase's in when signing ended, the rest "
        f"{result['email_drain_s']:.1f}s later ({result['email_drain_per_s']:.1f}/s); "
        f"{result['signatures_per_s_with_email']:.1f} signatures/s counting that wait",
        f"count delay: p50 {d['p50_s']:.2f}s, p95 {d['p95_s']:.2f}s, max {d['max_s']}s over "
        f"{d['confirmations']} confirmations ({d['not_shown']} never shown; {d['pushes']} pushes, "
        f"every {d['push_interval_p50_s']}s) (target p95 <= {result['target_delay_p95_s']:.0f}s)",
        f"targets: {target}",
        f"check ({'passed' if check['ok'] else 'FAILED'}): {check['signed']} signed, "
        f"{check['signatures']} signatures, {check['distinct_emails']} distinct emails; "
        f"{check['confirmed']} confirmed, {check['validated']} validated, count "
        f"{check['signature_count']}, last pushed {check['last_pushed_count']}; "
        f"{check['pending']} pending, {check['fraudulent']} fraudulent, "
        f"{check['invalidated']} invalidated",
    ]
    return "\n".join(lines)
