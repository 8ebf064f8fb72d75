"""Benchmark ``consultations``: responses per second for a 20-question consultation from 50
concurrent respondents, and the time and peak memory of exporting 100,000 responses.

Responding, against the production-like stack (uvicorn with 2 workers,
``engagement.settings.production``, PostgreSQL, Redis; the demo council from ``seed_demo``;
:mod:`bench._stack`). :func:`seed` builds, through the services, an open consultation of 20
questions (single and multiple choice, dropdown, matrix, number, date, short and long text, a
postcode) in four sections shown one page per section. Each respondent is a fresh cookie jar
doing what a browser without JavaScript does: GET the consultation page (for the CSRF token),
POST "Start now", POST each of the 4 pages (a 302 to the next), POST "Send response" on the
check page (a 302 to the confirmation): 7 requests, 6 of them writes. 50 workers share a queue
of respondents (quick 100, full 1,000, after a warm-up of 50). ``responses_per_s`` = responses
sent / wall time of the measured phase; on a machine shared with other work the CPU time per
response (server, PostgreSQL, load generator; ``bench.ballots.cpu_times``) is the steadier
figure, and ``cpu_bound_responses_per_s`` what the cores would do with nothing else running.
The start limit per address is lifted for the run
(``CONSULTATION_STARTS_PER_ADDRESS``), since every respondent comes from 127.0.0.1. Then, in
the database: exactly one submitted response per respondent who got the confirmation, each with
its 20 answers.

Exporting (``manage.py shell`` in the same settings and database, the server stopped):
:func:`bulk` inserts submitted responses with 20 answers each directly (quick 10,000, full
100,000), then :func:`export` runs the CSV stream the staff view serves (``exports.csv_stream``)
to a file, twice: over the first tenth of the rows and over all of them, recording the time and
the process's peak RSS after each. Streamed means the peak does not grow with the rows:
``export_memory_ratio`` = RSS growth (all) / RSS growth (a tenth).

``ok``: no failed request, the audit passes, the export is complete (one row per response) and
its memory is flat (the whole export raises the peak RSS at most 20 MB more than a tenth of it
did); in the full run also the export within 30 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any

import httpx

from bench import _load, _stack
from bench.ballots import cpu_times

CONCURRENCY = 50
SERVER_WORKERS = 2
WARMUP = 50
QUICK_RESPONDENTS, FULL_RESPONDENTS = 100, 1000
QUICK_EXPORT, FULL_EXPORT = 10_000, 100_000
EXPORT_TARGET_S = 30.0
FLAT_SLACK_KB = 20_000
"""The whole export may raise the peak RSS at most this much more than a tenth of it did."""
SLUG = "bench-20-questions"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def run(quick: bool) -> dict[str, Any]:
    respondents = QUICK_RESPONDENTS if quick else FULL_RESPONDENTS
    rows = QUICK_EXPORT if quick else FULL_EXPORT
    with _stack.workspace() as ws:
        ws.env["CONSULTATION_STARTS_PER_ADDRESS"] = "1000000"
        _stack.prepare(ws)
        _stack.seed_demo(ws)
        _stack.log("seeding the 20-question consultation")
        pages = json.loads(django_call(ws, "seed"))
        with _stack.serve(ws, workers=SERVER_WORKERS) as base_url:
            _stack.log(f"warm-up: {WARMUP} responses")
            asyncio.run(respond(base_url, pages, WARMUP))
            _stack.log(f"responding: {respondents} respondents, {CONCURRENCY} concurrent")
            measured = asyncio.run(respond(base_url, pages, respondents))
        failed = measured["failed"]
        if failed:
            _stack.log(f"{failed} failed; server log:\n{_stack.log_digest(ws.server_log)}")
        audit = json.loads(django_call(ws, "audit", WARMUP + measured["sent"]))
        _stack.log(f"inserting {rows} responses for the export")
        django_call(ws, "bulk", rows)
        _stack.log("exporting")
        exported = json.loads(django_call(ws, "export", str(ws.directory / "export.csv")))
    base = exported["baseline_rss_kb"]
    growth_tenth = exported["tenth"]["peak_rss_kb"] - base
    growth_full = exported["full"]["peak_rss_kb"] - base
    ratio = growth_full / max(growth_tenth, 1)
    flat = growth_full <= growth_tenth + FLAT_SLACK_KB
    export_ok = exported["full"]["rows"] == exported["responses"] and flat
    return {
        "benchmark": "consultations",
        "ok": failed == 0
        and audit["ok"]
        and export_ok
        and (quick or exported["full"]["seconds"] <= EXPORT_TARGET_S),
        "quick": quick,
        "concurrency": CONCURRENCY,
        "server_workers": SERVER_WORKERS,
        "questions": 20,
        "requests_per_response": 7,
        "respondents": respondents,
        "responses_per_s": measured["responses_per_s"],
        "requests_per_s": measured["requests_per_s"],
        "response_p50_s": measured["response_p50_s"],
        "response_p95_s": measured["response_p95_s"],
        "request_server_p50_ms": measured["server_p50_ms"],
        "request_server_p95_ms": measured["server_p95_ms"],
        "cpu_ms_per_response": measured["cpu_ms_per_response"],
        "cpu_bound_responses_per_s": measured["cpu_bound_responses_per_s"],
        "failed": failed,
        "audit": audit,
        "export_responses": exported["responses"],
        "export_seconds": exported["full"]["seconds"],
        "export_rows_per_s": round(exported["full"]["rows"] / exported["full"]["seconds"]),
        "export_mb": exported["full"]["mb"],
        "export_seconds_tenth": exported["tenth"]["seconds"],
        "export_rss_before_kb": base,
        "export_rss_growth_kb_tenth": growth_tenth,
        "export_rss_growth_kb": growth_full,
        "export_memory_ratio": round(ratio, 2),
        "export_memory_flat": flat,
        "export_target_s": EXPORT_TARGET_S,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"consultations ({'quick' if result['quick'] else 'full'}): "
        f"{result['respondents']} respondents, {result['concurrency']} concurrent, "
        f"{result['questions']} questions, {result['requests_per_response']} requests each",
        f"  responses/s            {result['responses_per_s']}",
        f"  requests/s             {result['requests_per_s']}",
        f"  response p50 / p95     {result['response_p50_s']} s / {result['response_p95_s']} s",
        f"  server p50 / p95       {result['request_server_p50_ms']} ms / "
        f"{result['request_server_p95_ms']} ms per request",
        f"  CPU per response       {result['cpu_ms_per_response']['server']} ms server, "
        f"{result['cpu_ms_per_response']['postgres']} ms PostgreSQL, "
        f"{result['cpu_ms_per_response']['client']} ms load generator",
        f"  CPU-bound ceiling      {result['cpu_bound_responses_per_s']} responses/s "
        f"on {os.cpu_count()} cores",
        f"  failed requests        {result['failed']}",
        f"  audit                  {'ok' if result['audit']['ok'] else result['audit']}",
        f"  export                 {result['export_responses']} responses in "
        f"{result['export_seconds']} s ({result['export_mb']} MB CSV)",
        f"  export memory          peak RSS +{result['export_rss_growth_kb']} kB over "
        f"{result['export_rss_before_kb']} kB (a tenth of the rows: "
        f"+{result['export_rss_growth_kb_tenth']} kB; ratio {result['export_memory_ratio']})",
    ]
    return "\n".join(lines)


# --- the load ------------------------------------------------------------------------------------


async def respond(base_url: str, pages: list[dict[str, Any]], respondents: int) -> dict[str, Any]:
    work = iter(range(respondents))
    samples: list[_load.Sample] = []
    durations: list[float] = []
    sent = 0

    async def one(http) -> bool:
        # Production cookies are Secure and this is plain http on loopback (as behind a TLS
        # proxy), so the respondent's jar is kept by hand: what Set-Cookie says, sent back.
        jar: dict[str, str] = {}

        def keep(headers) -> None:
            for line in headers.get_list("set-cookie"):
                name, _eq, rest = line.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]

        def cookie() -> dict[str, str]:
            return {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}

        http.cookies.clear()
        page = await http.get(f"/consultations/{SLUG}/")
        keep(page.headers)
        match = CSRF.search(page.text)
        if page.status_code != 200 or not match:
            samples.append(_load.Sample(status=page.status_code, server_ms=None, client_ms=0))
            return False
        token = match.group(1)
        steps = [(f"/consultations/{SLUG}/start/", {})]
        steps += [(f"/consultations/{SLUG}/respond/{p['number']}/", p["data"]) for p in pages]
        steps.append((f"/consultations/{SLUG}/respond/check/", {}))
        for path, data in steps:
            started = time.perf_counter()
            try:
                answer = await http.post(
                    path, data={"csrfmiddlewaretoken": token, **data}, headers=cookie()
                )
            except httpx.TransportError as exc:
                samples.append(
                    _load.Sample(status=0, server_ms=None, client_ms=0, error=type(exc).__name__)
                )
                return False
            keep(answer.headers)
            samples.append(
                _load.Sample(
                    status=answer.status_code,
                    server_ms=_load.server_time(answer.headers.get("server-timing", "")),
                    client_ms=(time.perf_counter() - started) * 1000,
                    location=answer.headers.get("location", ""),
                )
            )
            if answer.status_code != 302:
                return False
        return "/respond/done/" in samples[-1].location

    async def worker() -> None:
        nonlocal sent
        async with _load.client(base_url, concurrency=1) as http:
            for _ in work:
                start = time.perf_counter()
                if await one(http):
                    sent += 1
                    durations.append(time.perf_counter() - start)

    port = base_url.rsplit(":", 1)[1]
    before = cpu_times(port)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - start
    after = cpu_times(port)
    cpu = {
        role: sum(seconds - before[role].get(pid, 0.0) for pid, seconds in after[role].items())
        for role in after
    }
    stack_ms = (cpu["server"] + cpu["postgres"]) * 1000 / max(sent, 1)
    server = [s.server_ms for s in samples if s.server_ms is not None]
    return {
        "sent": sent,
        "failed": respondents - sent,
        "responses_per_s": round(sent / wall, 1),
        "requests_per_s": round(len(samples) / wall, 1),
        "response_p50_s": round(_load.percentile(durations, 50), 3),
        "response_p95_s": round(_load.percentile(durations, 95), 3),
        "server_p50_ms": round(_load.percentile(server, 50), 2),
        "server_p95_ms": round(_load.percentile(server, 95), 2),
        "cpu_ms_per_response": {role: round(v * 1000 / max(sent, 1), 1) for role, v in cpu.items()},
        # What the two cores could do if the server and PostgreSQL had them to themselves.
        "cpu_bound_responses_per_s": round((os.cpu_count() or 1) * 1000 / stack_ms, 1),
    }


# --- in the bench database (run by `manage.py shell`) ---------------------------------------------


def django_call(ws: _stack.Workspace, function: str, *args: object) -> str:
    """``function(*args)`` of this module inside ``manage.py shell``; the JSON it printed."""
    call = f"from bench.consultations import {function}; {function}(*{args!r})"
    return _stack.manage(ws, "shell", "--no-imports", "-c", call).strip().splitlines()[-1]


def _spec() -> list[tuple[str, str, dict[str, Any]]]:
    from consultations.surveys.models import Question

    k = Question.Kind

    def opt(*labels: str) -> dict[str, Any]:
        return {
            "options": [
                {"value": f"o{n}", "label": label, "label_cy": f"{label} (cy)"}
                for n, label in enumerate(labels)
            ]
        }

    return [
        (k.SINGLE, "Do you agree with the plan", opt("Yes", "No", "Not sure")),
        (k.SINGLE, "Should it start this year", opt("Yes", "No")),
        (k.MULTIPLE, "Which days do you visit", opt("Mon", "Tue", "Wed", "Thu", "Fri")),
        (k.DROPDOWN, "Which area do you live in", opt("North", "South", "East", "West")),
        (k.SHORT_TEXT, "One word for the town centre", {}),
        (k.SINGLE, "How safe do you feel", opt("Safe", "Unsafe")),
        (k.MULTIPLE, "How do you travel", opt("Walk", "Bike", "Bus", "Car")),
        (k.NUMBER, "How many visits a month", {"min_value": 0, "max_value": 100}),
        (k.LONG_TEXT, "What would make it better", {}),
        (k.DATE, "When did you last visit", {}),
        (
            k.MATRIX,
            "How much do you agree with each aim",
            {
                **opt("Agree", "Neutral", "Disagree"),
                "rows": opt("Air", "Safety", "Shops")["options"],
            },
        ),
        (k.SINGLE, "Would you shop more", opt("Yes", "No")),
        (k.DROPDOWN, "Your age group", opt("Under 30", "30 to 64", "65 or over")),
        (k.SHORT_TEXT, "Your favourite shop", {}),
        (k.LONG_TEXT, "Anything else about parking", {}),
        (k.NUMBER, "Minutes to walk to the centre", {"min_value": 0, "max_value": 600}),
        (k.SINGLE, "Do you have a blue badge", opt("Yes", "No")),
        (k.MULTIPLE, "Which services do you use", opt("Library", "Market", "Pool")),
        (k.LONG_TEXT, "Anything else", {}),
        (k.SINGLE, "May we contact you", opt("Yes", "No")),
    ]


def _answers() -> dict[str, Any]:
    """One respondent's answers by question position (raw, as a form posts them)."""
    return {
        0: "o0", 1: "o1", 2: ["o0", "o4"], 3: "o2", 4: "Busy", 5: "o0", 6: ["o0", "o2"],
        7: "6", 8: "More benches and trees, fewer cars.", 9: {"day": "3", "month": "4",
        "year": "2026"}, 10: {"o0": "o0", "o1": "o1", "o2": "o2"}, 11: "o0", 12: "o1",
        13: "The bakery", 14: "Cheaper after 6pm.", 15: "12", 16: "o1", 17: ["o1"],
        18: "Thank you.", 19: "o1",
    }  # fmt: skip


def seed() -> None:
    """Build the consultation through the services; print the pages' form data as JSON."""
    from datetime import timedelta

    from django.utils import timezone

    from consultations.surveys import selectors, services

    now = timezone.now()
    consultation = services.consultation_create(
        actor=None,
        slug=SLUG,
        title="Town centre (benchmark)",
        title_cy="Canol y dref (meincnod)",
        summary="Twenty questions in four sections.",
        summary_cy="Ugain cwestiwn mewn pedair adran.",
        layout="section",
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=30),
    )
    spec = _spec()
    for s in range(4):
        section = services.section_save(
            actor=None,
            version=consultation.current_version,
            title=f"Part {s + 1}",
            title_cy=f"Rhan {s + 1}",
        )
        for kind, text, extra in spec[s * 5 : s * 5 + 5]:
            services.question_save(
                actor=None,
                section=section,
                kind=kind,
                text=text,
                text_cy=f"{text} (cy)",
                required=kind in ("single", "dropdown"),
                **extra,
            )
    services.consultation_publish(actor=None, consultation=consultation)
    qs = selectors.questions(consultation.current_version)
    answers = _answers()
    pages = []
    for number, page in enumerate(selectors.pages(consultation, qs), 1):
        data: dict[str, Any] = {}
        for q in page:
            value = answers[qs.index(q)]
            name = f"q-{q.key}"
            if isinstance(value, dict):
                data.update({f"{name}-{part}": v for part, v in value.items()})
            else:
                data[name] = value
        pages.append({"number": number, "data": data})
    print(json.dumps(pages))


def audit(expected: int) -> None:
    """One submitted response per respondent who was confirmed, each with its 20 answers."""
    from django.db.models import Count

    from consultations.surveys.models import Consultation, Response

    consultation = Consultation.objects.get(slug=SLUG)
    submitted = Response.objects.filter(consultation=consultation, state="submitted")
    counts = set(submitted.annotate(n=Count("answers")).values_list("n", flat=True))
    result = {
        "expected": expected,
        "submitted": submitted.count(),
        "counter": consultation.response_count,
        "answers_per_response": sorted(counts),
        "drafts_left": Response.objects.filter(consultation=consultation, state="draft").count(),
    }
    result["ok"] = result["submitted"] == expected == result["counter"] and result[
        "answers_per_response"
    ] == [20]
    print(json.dumps(result))


def bulk(rows: int, batch: int = 2000) -> None:
    """Insert ``rows`` submitted responses with 20 answers each (the benchmark's own answers,
    cleaned), straight into the tables: this is set-up for the export, not a measurement."""
    import secrets

    from django.db import transaction
    from django.utils import timezone

    from consultations.surveys import selectors
    from consultations.surveys.answers import clean_answer, text_of
    from consultations.surveys.models import Answer, Consultation, Response

    consultation = Consultation.objects.get(slug=SLUG)
    qs = selectors.questions(consultation.current_version)
    raw = _answers()
    values = [(q, clean_answer(q, raw[n])) for n, q in enumerate(qs)]
    now = timezone.now()
    made = 0
    while made < rows:
        size = min(batch, rows - made)
        with transaction.atomic():
            created = Response.objects.bulk_create(
                [
                    Response(
                        consultation=consultation,
                        version_id=consultation.current_version_id,
                        state=Response.State.SUBMITTED,
                        channel=Response.Channel.IMPORT,
                        submission_token=secrets.token_hex(16),
                        reference=secrets.token_hex(7).upper(),  # unique enough for 100,000
                        submitted_at=now,
                    )
                    for _ in range(size)
                ]
            )
            Answer.objects.bulk_create(
                [
                    Answer(response=r, question=q, value=v, text=text_of(q, v))
                    for r in created
                    for q, v in values
                ]
            )
        made += size
    Consultation.objects.filter(pk=consultation.pk).update(
        response_count=Response.objects.filter(consultation=consultation, state="submitted").count()
    )
    print(json.dumps({"inserted": made}))


def export(path: str) -> None:
    """The CSV stream of the staff view to ``path``: over a tenth of the responses, then all,
    with the process's peak RSS after each (no tracing: it would slow the stream down)."""
    import resource

    from consultations.surveys import exports
    from consultations.surveys.models import Consultation, Response

    consultation = Consultation.objects.get(slug=SLUG)
    total = Response.objects.filter(consultation=consultation, state="submitted").count()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def measure(limit: int | None) -> dict[str, Any]:
        start = time.perf_counter()
        lines = size = 0
        with open(path, "w", encoding="utf-8") as out:
            for piece in exports.csv_stream(consultation):
                out.write(piece)
                size += len(piece)
                lines += piece.count("\n")
                if limit is not None and lines > limit:
                    break
        return {
            "rows": lines - 1,
            "seconds": round(time.perf_counter() - start, 2),
            "mb": round(size / 1e6, 1),
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }

    tenth = measure(total // 10)
    full = measure(None)
    print(
        json.dumps({"responses": total, "baseline_rss_kb": baseline, "tenth": tenth, "full": full})
    )
