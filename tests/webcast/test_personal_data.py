"""Public speakers' names in the speaker index are personal data: "download my data" has them,
anonymising the account removes them, staff remove one on request, and they go with the
recording (tests/webcast/test_retention.py)."""

import pytest
from django.urls import reverse

from engagement.accounts.services import user_anonymise, user_data_export
from engagement.audit.models import AuditEntry
from tests.factories import CouncillorFactory
from webcast import services
from webcast.models import Meeting, SpeakerMark

from .factories import make_meeting

pytestmark = pytest.mark.django_db
S = Meeting.Status
PUBLIC, COUNCILLOR = SpeakerMark.Role.PUBLIC, SpeakerMark.Role.COUNCILLOR


def _live(staff) -> Meeting:
    return services.meeting_transition(actor=staff, meeting=make_meeting(actor=staff), to=S.LIVE)


def test_download_my_data_has_the_speaker_index_entries(staff, resident):
    resident.name = "Ann Resident"
    resident.save()
    councillor = CouncillorFactory(name="Cllr Gwen Jones", user=staff)
    meeting = _live(staff)
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="ann resident", role=PUBLIC)
    services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="", role=COUNCILLOR, councillor=councillor
    )
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="Bob Other", role=PUBLIC)

    mine = user_data_export(user=resident)["meeting_speaking"]
    assert [(e["name"], e["role"], e["meeting"]) for e in mine] == [
        ("ann resident", "public", str(meeting))
    ]
    theirs = user_data_export(user=staff)["meeting_speaking"]
    assert [(e["name"], e["role"]) for e in theirs] == [("Cllr Gwen Jones", "councillor")]


def test_anonymising_an_account_removes_its_name_from_the_index(staff, resident, client):
    resident.name = "Ann Resident"
    resident.save()
    meeting = _live(staff)
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="Ann Resident", role=PUBLIC)
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="Ann Resident", role="officer")
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="Ann Resident", role=PUBLIC)

    user_anonymise(user=resident, actor=resident)

    names = list(meeting.speaker_marks.order_by("at", "pk").values_list("role", "name"))
    assert names == [("public", ""), ("officer", "Ann Resident"), ("public", "")]
    meeting.refresh_from_db()
    assert meeting.current_speaker == ""  # was speaking when the account was anonymised
    spoken = AuditEntry.objects.filter(action="meeting.speaker").values_list("changes", flat=True)
    assert {c["speaker"] for c in spoken} == {"", "Ann Resident"}  # the officer's entry stays
    page = client.get(meeting.get_absolute_url()).content.decode()
    assert "Ann Resident (Public speaker)" not in page
    assert "Ann Resident (Officer)" in page


def test_staff_remove_a_public_speakers_name_on_request(staff, staff_client):
    meeting = _live(staff)
    public = services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="Ann Resident", role=PUBLIC
    )
    councillor = services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="Cllr Jones", role=COUNCILLOR
    )
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    page = staff_client.get(url).content.decode()
    assert 'Remove the name<span class="govuk-visually-hidden"> Ann Resident' in page
    assert 'Remove the name<span class="govuk-visually-hidden"> Cllr Jones' not in page

    refused = staff_client.post(url, {"form": "speaker-name", "speaker": councillor.pk})
    assert refused.status_code == 400
    assert "Only public speakers" in refused.content.decode()
    other = services.meeting_speaker_set(
        actor=staff, meeting=_live(staff), name="Elsewhere", role=PUBLIC
    )
    assert staff_client.post(url, {"form": "speaker-name", "speaker": other.pk}).status_code == 404
    assert staff_client.post(url, {"form": "speaker-name", "speaker": "x"}).status_code == 404

    done = staff_client.post(url, {"form": "speaker-name", "speaker": public.pk})
    assert done.status_code == 302
    public.refresh_from_db()
    assert public.name == ""
    councillor.refresh_from_db()
    assert councillor.name == "Cllr Jones"
    entry = AuditEntry.objects.get(action="meeting.speaker_name_removed")
    assert "Ann Resident" not in str(entry.changes)
    assert not AuditEntry.objects.filter(changes__speaker="Ann Resident").exists()
    assert "Public speaker (name removed)" in staff_client.get(url).content.decode()
