"""Webcast pages: residents' lists, meeting page and calendar; the staff pages and control
room, their permissions, and bad input (a 400 with the reason, nothing changed)."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from engagement.accounts.models import Role
from engagement.audit.models import AuditEntry
from tests.factories import CommitteeFactory, CouncillorFactory, make_user
from webcast import services
from webcast.models import AgendaDocument, AgendaItem, ItemMark, Meeting

from .factories import make_meeting

pytestmark = pytest.mark.django_db
S = Meeting.Status
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def meeting(staff) -> Meeting:
    meeting = make_meeting(
        actor=staff, committee=CommitteeFactory(name="Planning Committee", slug="planning")
    )
    one = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    services.agenda_item_create(
        actor=staff, meeting=meeting, number="2", title="Land at Heol Fawr", description="Houses"
    )
    services.agenda_document_add(
        actor=staff, item=one, title="Officer report", file=SimpleUploadedFile("r.pdf", PDF)
    )
    return meeting


# --- residents -----------------------------------------------------------------------------------


def test_meeting_page_without_javascript_has_agenda_and_documents(client, meeting):
    response = client.get(meeting.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="govuk-heading-xl">Planning committee</h1>' in html
    assert "Land at Heol Fawr" in html
    assert "Officer report</a> (PDF, 15\xa0bytes)" in html
    assert "The webcast starts when the meeting does." in html
    assert 'id="moot-video"' not in html  # nothing to play yet
    assert f'ws-connect="/ws/streams/?s=meeting.{meeting.pk}&amp;lang=en-gb"' in html


def test_meeting_page_has_the_player_when_there_is_a_stream(client, meeting, staff):
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    live = services.live_dir(meeting)
    live.mkdir(parents=True)
    (live / "master.m3u8").write_text("#EXTM3U\n")
    item = meeting.items.get(number="2")
    mark = services.meeting_now_on_item(actor=staff, meeting=meeting, item=item)
    speaker = services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="Ann Other", role="public"
    )
    html = client.get(meeting.get_absolute_url()).content.decode()
    epoch = int(speaker.at.timestamp())
    assert f'href="?t={epoch}#player" data-at="{speaker.at.isoformat()}">' in html
    assert "Ann Other (Public speaker)" in html
    assert f'data-hls="/media/webcast/live/{meeting.pk}/master.m3u8"' in html
    assert "hls.min.js" in html
    assert "This meeting is being webcast now." in html
    assert 'aria-current="true"' in html
    assert f"&quot;item&quot;: {item.pk}" in html  # the timeline the player follows
    assert f'data-at="{mark.at.isoformat()}"' in html


def test_missing_meeting_is_404(client):
    assert client.get(reverse("webcast:meeting", args=[999])).status_code == 404


def test_index_by_committee_and_its_query_count(client, staff, django_assert_max_num_queries):
    planning = CommitteeFactory(name="Planning", slug="planning")
    licensing = CommitteeFactory(name="Licensing", slug="licensing")
    for n in range(3):
        make_meeting(actor=staff, committee=planning, title=f"Planning {n}")
    make_meeting(actor=staff, committee=licensing, title="Taxi licences")
    html = client.get(reverse("webcast:index") + "?committee=planning").content.decode()
    assert "Planning 0" in html
    assert "Taxi licences" not in html
    assert client.get(reverse("webcast:index") + "?committee=nope").status_code == 404
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("webcast:index"))
    for n in range(20):
        make_meeting(actor=staff, committee=licensing, title=f"More {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("webcast:index"))


def test_meeting_page_query_count_does_not_grow_with_items(
    client, meeting, staff, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30) as few:
        client.get(meeting.get_absolute_url())
    for n in range(3, 15):
        item = services.agenda_item_create(
            actor=staff, meeting=meeting, number=str(n), title=f"Item {n}"
        )
        services.agenda_document_add(
            actor=staff, item=item, title="Report", file=SimpleUploadedFile("r.pdf", PDF)
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(meeting.get_absolute_url())


def test_icalendar_feed(client, meeting):
    response = client.get(reverse("webcast:calendar") + "?committee=planning")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert f"UID:meeting-{meeting.pk}@127.0.0.1\r\n" in body
    start = meeting.starts_at.astimezone(UTC)
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\n" in body
    assert "SUMMARY:Planning Committee: Planning committee\r\n" in body
    assert "LOCATION:Council Chamber\\, Civic Centre\r\n" in body
    assert body.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_home_page_lists_live_and_upcoming_meetings(client, meeting, staff):
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    html = client.get("/").content.decode()
    assert "Planning Committee: Planning committee" in html
    assert "Live now" in html


# --- staff: permissions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("webcast_staff:list", []),
        ("webcast_staff:create", []),
        ("webcast_staff:meeting", ["PK"]),
        ("webcast_staff:edit", ["PK"]),
        ("webcast_staff:control", ["PK"]),
    ],
)
def test_staff_pages_need_staff_with_two_factor(client, resident_client, meeting, name, args):
    url = reverse(name, args=[meeting.pk if a == "PK" else a for a in args])
    assert client.get(url).status_code == 302
    assert resident_client.get(url).status_code == 403
    no_2fa = Client()
    no_2fa.force_login(make_user("nofactor@example.org", roles=(Role.STAFF,), totp=False))
    assert no_2fa.get(url)["Location"] == reverse("mfa_activate_totp")
    assert resident_client.post(url, {"action": "live"}).status_code == 403
    assert Meeting.objects.get(pk=meeting.pk).status == S.SCHEDULED


def test_the_control_stream_is_staff_only(resident, staff, meeting):
    from engagement.realtime.streams import may_watch

    assert may_watch(staff, meeting.control_stream)
    assert not may_watch(resident, meeting.control_stream)
    assert may_watch(resident, meeting.stream)


# --- staff: meetings and agendas -----------------------------------------------------------------


def test_create_a_meeting(staff_client):
    committee = CommitteeFactory()
    response = staff_client.post(
        reverse("webcast_staff:create"),
        {
            "committee": committee.pk,
            "title": "Full council",
            "starts_at": "2026-12-10T18:00",
            "venue": "Chamber",
            "source": "rtmp",
            "ladder": "720,480,240",
        },
    )
    meeting = Meeting.objects.get()
    assert response["Location"] == reverse("webcast_staff:meeting", args=[meeting.pk])
    assert timezone.localtime(meeting.starts_at).strftime("%Y-%m-%d %H:%M") == "2026-12-10 18:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"title": "<script>x</script>" + "x" * 200}, "at most 200 characters"),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
        ({"source": "pull", "pull_url": "javascript:alert(1)"}, "must start with rtsp://"),
        ({"ladder": "4k"}, "numbers separated by commas"),
        ({"committee": "999"}, "Select a valid choice."),
        ({"venue": "Hall\u0000"}, "Null characters are not allowed."),
    ],
)
def test_create_a_meeting_with_bad_input(staff_client, change, message):
    committee = CommitteeFactory()
    data = {
        "committee": committee.pk,
        "title": "Full council",
        "starts_at": "2026-12-10T18:00",
        "source": "rtmp",
        "ladder": "720",
    } | change
    response = staff_client.post(reverse("webcast_staff:create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Meeting.objects.exists()


def test_add_items_and_documents(staff_client, meeting):
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    response = staff_client.post(
        url, {"form": "item", "number": "3", "title": "Any other business"}
    )
    assert response.status_code == 302
    item = AgendaItem.objects.get(number="3")
    response = staff_client.post(
        url,
        {"form": "document", "item": item.pk, "title": "Minutes",
         "file": SimpleUploadedFile("m.pdf", PDF)},
    )  # fmt: skip
    assert response.status_code == 302
    assert item.documents.get().title == "Minutes"
    bad = staff_client.post(
        url,
        {"form": "document", "item": item.pk, "title": "Photo",
         "file": SimpleUploadedFile("p.pdf", b"\x89PNG")},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "The selected file must be a PDF." in bad.content.decode()
    duplicate = staff_client.post(url, {"form": "item", "number": "3", "title": "Again"})
    assert duplicate.status_code == 400
    assert "Another item on this agenda already has that number." in duplicate.content.decode()
    other_meeting_item = staff_client.post(
        url,
        {"form": "document", "item": 999, "title": "x", "file": SimpleUploadedFile("m.pdf", PDF)},
    )
    assert other_meeting_item.status_code == 404
    assert AgendaDocument.objects.filter(item=item).count() == 1


def test_edit_and_delete_items(staff_client, meeting):
    item = meeting.items.get(number="2")
    url = reverse("webcast_staff:item", args=[meeting.pk, item.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {"number": "2", "title": "Land at Heol Fach", "position": 5})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.position) == ("Land at Heol Fach", 5)
    assert staff_client.post(url, {"number": "", "title": ""}).status_code == 400
    delete = reverse("webcast_staff:item_delete", args=[meeting.pk, item.pk])
    assert staff_client.get(delete).status_code == 405
    assert staff_client.post(delete).status_code == 302
    assert not AgendaItem.objects.filter(pk=item.pk).exists()


# --- staff: the control room ---------------------------------------------------------------------


def test_control_room_actions(staff_client, meeting, staff):
    services.meeting_update(actor=staff, meeting=meeting, source=Meeting.Source.RTMP)
    url = reverse("webcast_staff:control", args=[meeting.pk])
    page = staff_client.get(url).content.decode()
    assert "rtmp://127.0.0.1:" in page
    assert meeting.stream_key in page
    assert f"s=meeting.{meeting.pk}&amp;s=webcast-control.{meeting.pk}" in page
    assert staff_client.post(url, {"action": "live"}).status_code == 302
    item = meeting.items.get(number="2")
    assert staff_client.post(url, {"action": "item", "item": item.pk}).status_code == 302
    assert ItemMark.objects.get().item == item
    councillor = CouncillorFactory(name="Cllr Rhys Evans")
    response = staff_client.post(
        url, {"action": "speaker", "councillor": councillor.pk, "role": "councillor"}
    )
    assert response.status_code == 302
    assert staff_client.post(url, {"action": "adjourn"}).status_code == 302
    assert staff_client.post(url, {"action": "resume"}).status_code == 302
    assert staff_client.post(url, {"action": "end"}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == S.ENDED
    assert meeting.current_item == item
    actions = list(
        AuditEntry.objects.filter(target_type="webcast.meeting", target_id=str(meeting.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "meeting.create",
        "meeting.update",
        "meeting.live",
        "meeting.now_on_item",
        "meeting.speaker",
        "meeting.adjourned",
        "meeting.live",
        "meeting.ended",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "adjourn"}, "A meeting that is scheduled cannot be made adjourned."),
        ({"action": "item", "item": "1"}, "The meeting is not live."),
        ({"action": "item", "item": "abc"}, "Choose an item on this meeting&#x27;s agenda."),
        ({"action": "explode"}, "Unknown action."),
        ({"action": ""}, "Unknown action."),
    ],
)
def test_control_room_bad_actions(staff_client, meeting, data, message):
    url = reverse("webcast_staff:control", args=[meeting.pk])
    if data.get("item") == "1":
        data["item"] = meeting.items.first().pk
    response = staff_client.post(url, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == S.SCHEDULED
    assert not ItemMark.objects.exists()


def test_control_room_with_htmx_gets_the_page_to_swap(staff_client, meeting):
    url = reverse("webcast_staff:control", args=[meeting.pk])
    response = staff_client.post(url, {"action": "live"}, HTTP_HX_REQUEST="true", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="main-content"' in html
    assert "The meeting is live." in html
    assert meeting.items.first().title in html


def test_past_meetings_are_paginated(client, staff):
    committee = CommitteeFactory()
    for n in range(25):
        m = make_meeting(
            actor=staff,
            committee=committee,
            title=f"Old {n:02d}",
            starts_at=timezone.now() - timedelta(days=n + 1),
        )
        services.meeting_transition(actor=staff, meeting=m, to=S.ENDED)
    first = client.get(reverse("webcast:index")).content.decode()
    assert "Old 00" in first
    assert "Old 24" not in first
    second = client.get(reverse("webcast:index") + "?page=2").content.decode()
    assert "Old 24" in second
    assert client.get(reverse("webcast:index") + "?page=zzz").status_code == 200


@pytest.mark.parametrize("across_midnight", [False, True])
def test_staff_correct_an_agenda_time(staff_client, meeting, staff, across_midnight):
    """A corrected time of day is put on the date nearest the mark's time: a meeting may run
    past midnight (item 2 marked at 00:05 and corrected to 23:55 is the evening before)."""
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    one, two = meeting.items.get(number="1"), meeting.items.get(number="2")
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
    if across_midnight:  # item 1 at 23:35, item 2 at 00:05, corrected to 23:55 (local times)
        # the next midnight at least 25 minutes away: marks may not precede going live
        tomorrow = timezone.localtime(start + timedelta(minutes=25)).date() + timedelta(days=1)
        midnight = timezone.make_aware(datetime.combine(tomorrow, time()))
        start = midnight - timedelta(minutes=25)
    first = services.meeting_now_on_item(actor=staff, meeting=meeting, item=one, at=start)
    second = services.meeting_now_on_item(
        actor=staff, meeting=meeting, item=two, at=start + timedelta(minutes=30)
    )
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    page = staff_client.get(url).content.decode()
    assert f'id="mark-{second.pk}" name="at" type="time"' in page
    wanted = timezone.localtime(start + timedelta(minutes=20))
    ok = staff_client.post(
        url, {"form": "mark", "mark": second.pk, "at": wanted.strftime("%H:%M:%S")}
    )
    assert ok.status_code == 302
    second.refresh_from_db()
    assert second.at == wanted
    early = timezone.localtime(start - timedelta(minutes=1)).strftime("%H:%M:%S")
    bad = staff_client.post(url, {"form": "mark", "mark": second.pk, "at": early})
    assert bad.status_code == 400
    assert "Agenda times must be in order: item 1 starts at" in bad.content.decode()
    nonsense = staff_client.post(url, {"form": "mark", "mark": second.pk, "at": "25:99"})
    assert nonsense.status_code == 400
    assert "Enter a time like 18:05:30." in nonsense.content.decode()
    assert staff_client.post(url, {"form": "mark", "mark": 999, "at": "10:00"}).status_code == 404
    second.refresh_from_db()
    assert second.at == wanted
    first.refresh_from_db()
    assert first.at == start


def test_viewer_count_from_players(client, meeting, staff, settings):
    url = reverse("webcast:watching", args=[meeting.pk])
    token = "a1b2c3d4e5f6a7b8c9d0"
    refused = client.post(url, {"viewer": token})
    assert (refused.status_code, refused.content) == (400, b"The meeting is not live.")
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    assert client.post(url, {"viewer": token}).status_code == 204
    assert client.post(url, {"viewer": token}).status_code == 204  # the same tab again
    assert client.post(url, {"viewer": "b" * 32}).status_code == 204
    for bad in ["", "short", "<script>alert(1)</script>xxxxxxxx", "é" * 20]:
        response = client.post(url, {"viewer": bad})
        assert (response.status_code, response.content) == (400, b"That viewer token is not valid.")
    assert client.get(url).status_code == 405
    assert Client(enforce_csrf_checks=True).post(url, {"viewer": token}).status_code == 403
    from webcast import selectors
    from webcast.models import Viewer

    assert selectors.viewer_count(meeting) == 2
    Viewer.objects.filter(token=token).update(last_seen=timezone.now() - timedelta(minutes=2))
    assert selectors.viewer_count(meeting) == 1
    control = Client()
    control.force_login(staff)
    page = control.get(reverse("webcast_staff:control", args=[meeting.pk])).content.decode()
    assert "<dt>Viewers</dt><dd>1</dd>" in page
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    assert not Viewer.objects.exists()


def test_viewer_beats_are_rate_limited(client, meeting, staff):
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    url = reverse("webcast:watching", args=[meeting.pk])
    codes = [client.post(url, {"viewer": f"{n:020d}"}).status_code for n in range(32)]
    assert codes == [204] * 30 + [429, 429]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "", "title": "Budget"}, "This field is required."),
        ({"number": "1" * 11, "title": "Budget"}, "at most 10 characters"),
        ({"number": "1", "title": "x" * 301}, "at most 300 characters"),
        ({"number": "1", "title": "Budget\u200b"}, "Remove the hidden control character (U+200B)"),
        ({"number": "1\n2", "title": "Budget"}, "Enter this on a single line."),
        ({"number": "1", "title": "Budget", "position": "first"}, "Enter a whole number."),
        ({"number": "1", "title": "Budget", "petition": "999"}, "Select a valid choice."),
        ({"number": "1", "title": "B", "description": "x" * 4001}, "at most 4000 characters"),
    ],
)
def test_agenda_item_bad_input(staff_client, meeting, data, message):
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    before = AgendaItem.objects.count()
    response = staff_client.post(url, {"form": "item", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AgendaItem.objects.count() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x" * 151, "role": "officer"}, "Check the speaker&#x27;s details."),
        ({"name": "Ann", "role": "mayor"}, "Check the speaker&#x27;s details."),
        ({"name": "Ann\u202e", "role": "public"}, "Check the speaker&#x27;s details."),
        ({"councillor": "abc", "role": "councillor"}, "Check the speaker&#x27;s details."),
    ],
)
def test_speaker_bad_input(staff_client, meeting, staff, data, message):
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    url = reverse("webcast_staff:control", args=[meeting.pk])
    response = staff_client.post(url, {"action": "speaker", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.current_speaker == ""
    assert not meeting.speaker_marks.exists()
