"""Twenty simultaneous submissions of one draft (a frantic double click, retries) store exactly
one response; twenty simultaneous staff entries with one form token store one (PostgreSQL).

Real threads, each with its own connection, released together by a barrier. SQLite serialises
every writer, which proves nothing, so this needs PostgreSQL; CI runs it there, and under
``CI=true`` a missing PostgreSQL is a failure, not a skip (as tests/budgets/test_concurrency.py).
"""

import os
import threading

import pytest
from django.db import connection, connections
from django.http import QueryDict

from consultations.surveys import responses, selectors
from consultations.surveys.models import Answer, Consultation, Response

from .factories import make_consultation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("This test needs PostgreSQL (set DATABASE_URL).")
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")


def storm(fn, n: int = 20) -> list[str]:
    barrier = threading.Barrier(n)
    references: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            reference = fn()
            with lock:
                references.append(reference)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return references


def test_one_draft_submitted_twenty_times_at_once_is_one_response(staff):
    consultation = make_consultation(staff)
    draft = responses.response_start(consultation=consultation)
    data = QueryDict(mutable=True)
    data["q-do-you-agree"] = "no"
    data["q-why-not"] = "Hours"
    for page in selectors.pages(consultation, selectors.questions(consultation.current_version)):
        responses.response_save_page(response=draft, page=page, data=data)

    def submit() -> str:
        return responses.response_submit(response=Response.objects.get(pk=draft.pk)).reference

    references = storm(submit)
    assert len(references) == 20
    assert len(set(references)) == 1
    assert Response.objects.filter(state="submitted").count() == 1
    assert Answer.objects.count() == 2
    assert Consultation.objects.get(pk=consultation.pk).response_count == 1


def test_one_staff_form_posted_twenty_times_at_once_is_one_response(staff):
    consultation = make_consultation(staff)

    def enter() -> str:
        return responses.response_record(
            consultation=Consultation.objects.get(pk=consultation.pk),
            raw={"do-you-agree": "yes"},
            channel="post",
            token="one-form",
            actor=staff,
        ).reference

    references = storm(enter)
    assert len(set(references)) == 1
    assert Response.objects.count() == 1
    assert Consultation.objects.get(pk=consultation.pk).response_count == 1
