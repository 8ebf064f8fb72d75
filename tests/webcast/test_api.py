"""The meetings API: public, read-only, with the agenda; nothing of the ingest exposed."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consultations.models import Petition
from tests.factories import CommitteeFactory
from webcast import services
from webcast.models import Meeting

from .factories import make_meeting

pytestmark = pytest.mark.django_db


def test_meetings_list_and_detail(client, staff, django_assert_max_num_queries):
    planning = CommitteeFactory(name="Planning", slug="planning")
    meeting = make_meeting(actor=staff, committee=planning, title="December")
    make_meeting(actor=staff, title="Elsewhere")
    petition = Petition.objects.create(
        action="Save the lido", background="x", state=Petition.State.OPEN, sponsor_token="t"
    )
    item = services.agenda_item_create(
        actor=staff, meeting=meeting, number="5", title="Petition", subject=petition
    )
    services.agenda_document_add(
        actor=staff, item=item, title="Report", file=SimpleUploadedFile("r.pdf", b"%PDF-1.4")
    )
    services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.LIVE)
    mark = services.meeting_now_on_item(actor=staff, meeting=meeting, item=item)

    listing = client.get("/api/meetings/?committee=planning").json()
    assert listing["count"] == 1
    assert listing["results"][0] == {
        "id": meeting.pk,
        "committee": "planning",
        "title": "December",
        "starts_at": meeting.starts_at.isoformat().replace("+00:00", "Z"),
        "venue": "Council Chamber, Civic Centre",
        "status": "live",
        "url": f"http://127.0.0.1:8000/meetings/{meeting.pk}/",
    }
    detail = client.get(f"/api/meetings/{meeting.pk}/").json()
    assert detail["agenda"] == [
        {
            "id": item.pk,
            "number": "5",
            "title": "Petition",
            "description": "",
            "documents": [{"title": "Report", "url": item.documents.get().file.url, "size": 8}],
            "started_at": [mark.at.isoformat()],
            "subject": {
                "type": "petition",
                "id": str(petition.pk),
                "url": f"/petitions/{petition.pk}/",
            },
        }
    ]
    assert detail["stream"] == ""  # nothing made yet
    assert detail["recording"] == {}
    assert "stream_key" not in str(detail)
    assert meeting.stream_key not in str(detail)
    assert client.post("/api/meetings/", {}).status_code == 401  # read-only: no writes
    assert client.get("/api/meetings/999/").status_code == 404
    for n in range(5):
        make_meeting(actor=staff, title=f"More {n}")
    with django_assert_max_num_queries(6):
        assert client.get("/api/meetings/").status_code == 200
