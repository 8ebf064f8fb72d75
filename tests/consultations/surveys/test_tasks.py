"""The consultation jobs: thin, taking ids, idempotent."""

from datetime import timedelta

import pytest
from django.core import mail

from consultations.surveys import responses, tasks
from consultations.surveys.models import Consultation, Response

from .factories import make_consultation

pytestmark = pytest.mark.django_db


def test_jobs_are_safe_to_repeat(staff, settings):
    consultation = make_consultation(staff)
    sent = responses.response_record(
        consultation=consultation,
        raw={"do-you-agree": "yes"},
        channel="email",
        token="t",
        email="jo@example.org",
        wants_outcome=True,
    )
    assert tasks.send_response_copy.delay(sent.pk).get() is True
    assert mail.outbox[-1].subject == f"Your consultation response {sent.reference}"
    assert tasks.send_response_copy.delay(999_999).get() is False
    assert tasks.send_resume_link.delay(sent.pk, "token").get() is False  # already sent
    Consultation.objects.filter(pk=consultation.pk).update(
        closes_at=consultation.opens_at + timedelta(seconds=1),
        retention_days=30,
        you_said="a",
        we_did="b",
    )
    assert tasks.send_outcome_emails.delay(consultation.pk).get() == 1
    assert tasks.send_outcome_emails.delay(consultation.pk).get() == 0
    Consultation.objects.filter(pk=consultation.pk).update(
        closes_at=consultation.opens_at - timedelta(days=40) + timedelta(seconds=1),
        opens_at=consultation.opens_at - timedelta(days=40),
    )
    assert tasks.anonymise_due_responses.delay().get() == 1
    assert tasks.anonymise_due_responses.delay().get() == 0
    assert Response.objects.get().email == ""
