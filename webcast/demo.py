"""Demo meetings for ``seed_demo``: the Planning Committee next week (rehearsal test source,
an agenda with the lido petition) and last month's meeting, ended, with its item times.

Idempotent: nothing is created if the demo meetings exist.
"""

from datetime import timedelta

from django.utils import timezone

from engagement.people.models import Committee

from .models import AgendaItem, ItemMark, Meeting

UPCOMING = "Planning Committee, December"
PAST = "Planning Committee, October"

AGENDA = [
    ("1", "Apologies for absence", ""),
    ("2", "Declarations of interest", ""),
    ("3", "Minutes of the previous meeting", "To approve the minutes as a correct record."),
    ("4", "Land at Heol Fawr, Llanfair: 48 homes", "Application 26/0412/FUL."),
    ("5", "Petition: reopen Llanfair lido for the summer", "To debate the petition."),
]


def seed_meetings() -> bool:
    committee = Committee.objects.filter(slug="planning-committee").first()
    if committee is None or Meeting.objects.filter(title=UPCOMING).exists():
        return False
    from consultations.demo import OPEN
    from consultations.models import Petition

    petition = Petition.objects.filter(action=OPEN).first()
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    upcoming = Meeting.objects.create(
        committee=committee,
        title=UPCOMING,
        starts_at=now + timedelta(days=7),
        venue="Council Chamber, Llanfair Civic Centre",
        source=Meeting.Source.TEST,
        stream_key="demo-" + "x" * 27,
    )
    past = Meeting.objects.create(
        committee=committee,
        title=PAST,
        starts_at=now - timedelta(days=30),
        venue="Council Chamber, Llanfair Civic Centre",
        status=Meeting.Status.ENDED,
        went_live_at=now - timedelta(days=30),
        ended_at=now - timedelta(days=30) + timedelta(hours=2),
        stream_key="demo-" + "y" * 27,
    )
    for meeting in (upcoming, past):
        for position, (number, title, description) in enumerate(AGENDA, start=1):
            item = AgendaItem.objects.create(
                meeting=meeting,
                number=number,
                title=title,
                description=description,
                position=position,
            )
            if number == "5" and petition is not None:
                item.subject = petition
                item.save()
            if meeting is past:
                ItemMark.objects.create(
                    meeting=past, item=item, at=past.went_live_at + timedelta(minutes=12 * position)
                )
    return True
