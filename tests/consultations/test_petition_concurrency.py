"""Many confirmations at once (issue 7, PostgreSQL): every one counted exactly once.

Real threads, each with its own database connection, released together by a barrier. SQLite
serialises every writer, which proves nothing, so this needs PostgreSQL; CI runs it there, and
under ``CI=true`` a missing PostgreSQL is a failure, not a skip.
"""

import os
import re
import threading
from contextlib import nullcontext

import pytest
from django.core import mail
from django.db import connection, connections

from consultations.models import Petition, Signature
from consultations.petitions import services
from tests.consultations.test_petitions import open_petition, signer
from tests.factories import PostcodeFactory, WardFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("This test needs PostgreSQL (set DATABASE_URL).")
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")


@pytest.fixture
def petition(staff):
    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    # In a transactional test, on-commit work runs at once: no capturing needed.
    opened = open_petition(staff, lambda execute: nullcontext())
    opened.refresh_from_db()
    return opened


def tokens_for(petition, first: int, n: int) -> list[str]:
    tokens = []
    for i in range(first, first + n):
        services.signature_create(petition=petition, signer=signer(i))
        tokens.append(re.search(r"/petitions/confirm/([^/\s]+)/", mail.outbox[-1].body).group(1))
    return tokens


def at_once(tokens: list[str]) -> list[str]:
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []
    lock = threading.Lock()

    def click(token: str) -> None:
        try:
            barrier.wait()
            outcome = services.signature_confirm(token=token).state
        except Exception as exc:  # noqa: BLE001 (any failure is the finding)
            outcome = repr(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=click, args=(token,)) for token in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_forty_confirmations_at_once_are_each_counted_and_a_threshold_is_met_once(petition):
    Petition.objects.filter(pk=petition.pk).update(response_threshold_at=None)
    before = petition.signature_count
    from consultations.models import PetitionScheme

    PetitionScheme.objects.update(response_threshold=before + 20, debate_threshold=before + 100)
    from engagement.core.memo import forget_all

    forget_all()
    tokens = tokens_for(petition, 100, 40)
    sent_before = len(mail.outbox)

    outcomes = at_once(tokens)

    petition.refresh_from_db()
    assert outcomes == ["validated"] * 40
    assert petition.signature_count == before + 40
    assert Signature.objects.filter(petition=petition, state="validated").count() == before + 40
    assert petition.response_threshold_at is not None
    assert petition.debate_threshold_at is None
    threshold_emails = [
        m
        for m in mail.outbox[sent_before:]
        if "enough signatures for a council response" in m.subject
    ]
    assert len(threshold_emails) == 2  # the petitioner and staff, once


def test_one_link_clicked_thirty_times_at_once_counts_once(petition):
    before = petition.signature_count
    [token] = tokens_for(petition, 200, 1)

    outcomes = at_once([token] * 30)

    assert outcomes == ["validated"] * 30
    petition.refresh_from_db()
    assert petition.signature_count == before + 1
