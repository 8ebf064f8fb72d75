"""Meetings for the webcast tests, made through the services as in production."""

from datetime import datetime, timedelta

from django.utils import timezone

from tests.factories import CommitteeFactory
from webcast import services
from webcast.models import Meeting


def make_meeting(
    *,
    actor=None,
    committee=None,
    title: str = "Planning committee",
    starts_at: datetime | None = None,
    source: str = Meeting.Source.TEST,
    venue: str = "Council Chamber, Civic Centre",
    **extra,
) -> Meeting:
    return services.meeting_create(
        actor=actor,
        committee=committee or CommitteeFactory(),
        title=title,
        starts_at=starts_at or timezone.now() + timedelta(days=1),
        venue=venue,
        source=source,
        **extra,
    )


def ffmpeg_bin() -> str:
    from webcast.supervisor import ffmpeg_binary

    return ffmpeg_binary()
