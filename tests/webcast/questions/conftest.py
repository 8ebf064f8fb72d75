import pytest

from tests.factories import make_user
from tests.webcast.factories import make_meeting
from webcast import services as webcast_services
from webcast.models import Meeting


@pytest.fixture
def meeting(staff):
    """A scheduled meeting with a published agenda of two items (so it takes questions)."""
    meeting = make_meeting(actor=staff)
    webcast_services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    webcast_services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    return meeting


@pytest.fixture
def live_meeting(meeting, staff):
    return webcast_services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.LIVE)


@pytest.fixture
def other_resident(db):
    return make_user("other@example.org", name="Owain Other")


@pytest.fixture
def one_window(monkeypatch):
    """Rate limits count in fixed windows (a minute here): pin their clock, so a test slowed by a
    busy machine (password hashing for each new user) cannot straddle two windows and pass
    the limit without being stopped."""
    from types import SimpleNamespace

    from engagement.core import ratelimit

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))
