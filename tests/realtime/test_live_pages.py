"""Every page that carries a stream's sequence marker reads it in the same database snapshot as
the rest of the page (``live_page``): otherwise an event committed while the page renders can be
counted by the marker but missing from the content, and the page never shows it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from budgets.models import Round
from consultations.models import Consultation, Petition
from engagement.accounts.models import User
from engagement.realtime.templatetags import realtime
from webcast.models import Meeting

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(settings):
    settings.MOOT_DEMO = True
    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def markers(monkeypatch):
    """Each marker rendered: its stream, and whether it was read inside a transaction and, on
    PostgreSQL, at which isolation level."""
    seen: list[tuple[str, bool, str]] = []
    position = realtime.stream_position

    def recorded(stream: str) -> int:
        level = "one writer"  # SQLite: a transaction reads from one snapshot anyway
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                level = cursor.fetchone()[0]
        seen.append((stream, connection.in_atomic_block, level))
        return position(stream)

    monkeypatch.setattr(realtime, "stream_position", recorded)
    return seen


def _signed_in(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def _pages():
    petition = Petition.objects.filter(state=Petition.State.OPEN).first()
    round_ = Round.objects.order_by("pk").first()
    meeting = Meeting.objects.order_by("pk").first()
    consultation = Consultation.objects.order_by("pk").first()
    return [
        (None, reverse("petitions:detail", args=[petition.pk])),
        (None, reverse("budgets:round", args=[round_.slug])),
        ("staff@example.org", reverse("budgets:staff_round", args=[round_.pk])),
        ("staff@example.org", reverse("consultations_staff:detail", args=[consultation.pk])),
        ("staff@example.org", reverse("webcast_staff:control", args=[meeting.pk])),
        ("staff@example.org", "/inbox/?view=all"),
        ("councillor@example.org", "/inbox/"),
        ("admin@example.org", "/staff/audit/"),
    ]


def test_each_live_page_reads_its_markers_in_one_snapshot(demo, markers):
    for email, url in _pages():
        client = _signed_in(email) if email else Client()
        markers.clear()
        response = client.get(url)
        assert response.status_code == 200, url
        assert markers, f"{url} shows no stream marker"
        for stream, in_transaction, level in markers:
            assert in_transaction, f"{url}: the marker of {stream} was read outside a snapshot"
            if connection.vendor == "postgresql":
                assert level == "repeatable read", f"{url}: {stream} read at {level}"
