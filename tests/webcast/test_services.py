"""Webcast services: meetings, transitions, agenda, documents, now-on-item, speakers, ingest
records. Each write is audited and the events viewers get are exact; bad input changes
nothing."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from consultations.models import Petition
from engagement.audit.models import AuditEntry
from engagement.realtime.models import StreamEvent
from tests.factories import CommitteeFactory, CouncillorFactory
from webcast import selectors, services
from webcast.models import AgendaDocument, AgendaItem, IngestGap, IngestRun, ItemMark, Meeting

from .factories import make_meeting

pytestmark = pytest.mark.django_db
S = Meeting.Status
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def events(stream: str) -> list[tuple[str, dict]]:
    return list(
        StreamEvent.objects.filter(stream=stream).order_by("seq").values_list("event", "payload")
    )


def test_create_gives_a_secret_key_and_is_audited(staff):
    meeting = make_meeting(actor=staff, source=Meeting.Source.RTMP, ladder="480, 720")
    assert len(meeting.stream_key) == 32
    assert meeting.ladder == "720,480"
    assert meeting.status == S.SCHEDULED
    entry = AuditEntry.objects.get(action="meeting.create")
    assert (entry.actor, entry.target_id) == (staff, str(meeting.pk))
    other = make_meeting(actor=staff)
    assert other.stream_key != meeting.stream_key


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": ""}, "title", "This field cannot be blank."),
        ({"title": "x" * 201}, "title", "Ensure this value has at most 200 characters"),
        ({"title": "Bad\u202etitle"}, "title", "Remove the hidden control character (U+202E)"),
        ({"venue": "Line one\nline two"}, "venue", "Enter this on a single line."),
        ({"source": "pull", "pull_url": ""}, "pull_url", "Enter the camera or server URL."),
        ({"source": "pull", "pull_url": "file:///etc/passwd"}, "pull_url", "must start with"),
        ({"source": "satellite"}, "source", "is not a valid choice"),
        ({"ladder": "big"}, "ladder", "numbers separated by commas"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(staff, fields, field, message):
    data = {"ladder": "720,480,240"} | fields
    with pytest.raises(ValidationError) as caught:
        make_meeting(actor=staff, **data)
    assert message in " ".join(caught.value.message_dict[field])
    assert not Meeting.objects.exists()
    assert not AuditEntry.objects.filter(action="meeting.create").exists()


def test_update_records_the_changes(staff):
    meeting = make_meeting(actor=staff)
    services.meeting_update(actor=staff, meeting=meeting, venue="Room 2", ladder="480,240")
    meeting.refresh_from_db()
    assert (meeting.venue, meeting.ladder) == ("Room 2", "480,240")
    entry = AuditEntry.objects.get(action="meeting.update")
    assert entry.changes == {
        "venue": ["Council Chamber, Civic Centre", "Room 2"],
        "ladder": ["720,480,240", "480,240"],
    }
    with pytest.raises(services.WebcastError, match="Unknown meeting fields: status"):
        services.meeting_update(actor=staff, meeting=meeting, status="live")


def test_the_status_lifecycle(staff):
    meeting = make_meeting(actor=staff)
    for to in (S.LIVE, S.ADJOURNED, S.LIVE, S.ENDED, S.ARCHIVED):
        meeting = services.meeting_transition(actor=staff, meeting=meeting, to=to)
        assert meeting.status == to
    assert meeting.went_live_at is not None
    assert meeting.ended_at >= meeting.went_live_at
    assert not meeting.ingest_enabled
    assert list(
        AuditEntry.objects.filter(target_id=str(meeting.pk))
        .exclude(action="meeting.create")
        .order_by("pk")
        .values_list("action", "changes")
    ) == [
        ("meeting.live", {"status": ["scheduled", "live"]}),
        ("meeting.adjourned", {"status": ["live", "adjourned"]}),
        ("meeting.live", {"status": ["adjourned", "live"]}),
        ("meeting.ended", {"status": ["live", "ended"]}),
        ("meeting.archived", {"status": ["ended", "archived"]}),
    ]
    assert [p["status"] for e, p in events(meeting.stream)] == [
        "live",
        "adjourned",
        "live",
        "ended",
        "archived",
    ]
    pushed = StreamEvent.objects.filter(stream=meeting.stream).order_by("seq")[1]
    assert 'id="meeting-status"' in pushed.html
    assert "The meeting is adjourned." in pushed.html


@pytest.mark.parametrize(
    ("start", "to", "message"),
    [
        (S.SCHEDULED, S.ADJOURNED, "A meeting that is scheduled cannot be made adjourned."),
        (S.SCHEDULED, S.ARCHIVED, "A meeting that is scheduled cannot be made archived."),
        (S.ENDED, S.LIVE, "A meeting that is ended cannot be made live."),
        (S.LIVE, "nonsense", "A meeting that is live cannot be made nonsense."),
    ],
)
def test_wrong_transitions_change_nothing(staff, start, to, message):
    meeting = make_meeting(actor=staff)
    Meeting.objects.filter(pk=meeting.pk).update(status=start)
    before = AuditEntry.objects.count()
    with pytest.raises(services.WebcastError) as caught:
        services.meeting_transition(actor=staff, meeting=meeting, to=to)
    assert str(caught.value) == message
    assert Meeting.objects.get(pk=meeting.pk).status == start
    assert AuditEntry.objects.count() == before
    assert events(meeting.stream) == []


def test_going_live_starts_the_stream_and_ended_meetings_cannot_restart_it(staff):
    meeting = make_meeting(actor=staff)
    meeting = services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    assert meeting.ingest_enabled
    meeting = services.meeting_ingest_set(actor=staff, meeting=meeting, enabled=False)
    assert not meeting.ingest_enabled
    assert AuditEntry.objects.filter(action="meeting.stream_stop").count() == 1
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    with pytest.raises(services.WebcastError, match="has ended"):
        services.meeting_ingest_set(actor=staff, meeting=meeting, enabled=True)
    assert not Meeting.objects.get(pk=meeting.pk).ingest_enabled


def test_stream_key_reset(staff):
    meeting = make_meeting(actor=staff)
    old = meeting.stream_key
    assert services.meeting_stream_key_reset(actor=staff, meeting=meeting).stream_key != old
    assert AuditEntry.objects.filter(action="meeting.stream_key_reset").count() == 1


# --- agenda --------------------------------------------------------------------------------------


def test_agenda_items_in_order_with_a_link_to_a_petition(staff):
    meeting = make_meeting(actor=staff)
    petition = Petition.objects.create(
        action="Save the lido", background="Loved", state=Petition.State.OPEN, sponsor_token="t"
    )
    one = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    two = services.agenda_item_create(
        actor=staff, meeting=meeting, number="2", title="Petition: the lido", subject=petition
    )
    assert (one.position, two.position) == (1, 2)
    assert AgendaItem.objects.get(pk=two.pk).subject == petition
    services.agenda_item_update(
        actor=staff, item=two, number="2", title="Petition: the lido", position=0, subject=None
    )
    two.refresh_from_db()
    assert (two.subject_type, two.subject_id, two.position) == (None, "", 0)
    assert [i.number for i in selectors.agenda_items(meeting)] == ["2", "1"]
    assert AuditEntry.objects.get(action="agenda_item.update").changes == {
        "position": [2, 0],
        "subject_id": [str(petition.pk), ""],
    }
    assert [e for e, p in events(meeting.stream)] == ["meeting.agenda"] * 3


def test_agenda_numbers_are_unique_per_meeting(staff):
    meeting = make_meeting(actor=staff)
    services.agenda_item_create(actor=staff, meeting=meeting, number="4a", title="Minutes")
    with pytest.raises(ValidationError) as caught:
        services.agenda_item_create(actor=staff, meeting=meeting, number="4a", title="Again")
    assert caught.value.message_dict == {
        "number": ["Another item on this agenda already has that number."]
    }
    assert AgendaItem.objects.count() == 1
    other = make_meeting(actor=staff)
    services.agenda_item_create(actor=staff, meeting=other, number="4a", title="Minutes")


def test_documents_must_be_pdfs_within_the_limit(
    staff, settings, django_capture_on_commit_callbacks
):
    settings.WEBCAST_DOCUMENT_MAX_BYTES = 1024 * 1024
    meeting = make_meeting(actor=staff)
    item = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Budget")
    document = services.agenda_document_add(
        actor=staff, item=item, title="Report", file=SimpleUploadedFile("report.pdf", PDF)
    )
    assert document.size == len(PDF)
    assert document.file.read() == PDF
    bad = [
        (SimpleUploadedFile("report.pdf", b"<html>not a pdf</html>"), "must be a PDF"),
        (SimpleUploadedFile("virus.exe", PDF), "must be a PDF"),
        (SimpleUploadedFile("empty.pdf", b""), "is empty"),
        (SimpleUploadedFile("big.pdf", PDF + b"0" * 1024 * 1024), "smaller than 1 MB"),
    ]
    for upload, message in bad:
        with pytest.raises(ValidationError) as caught:
            services.agenda_document_add(actor=staff, item=item, title="X", file=upload)
        assert message in caught.value.message_dict["file"][0]
    assert AgendaDocument.objects.count() == 1
    path = document.file.path
    with django_capture_on_commit_callbacks(execute=True):
        services.agenda_document_delete(actor=staff, document=document)
    assert not AgendaDocument.objects.exists()
    actions = AuditEntry.objects.order_by("pk").values_list("action", flat=True)
    assert [a for a in actions if "document" in a] == [
        "agenda_document.add",
        "agenda_document.delete",
    ]
    import os

    assert not os.path.exists(path)


# --- now on item, speaker ------------------------------------------------------------------------


def live(staff) -> tuple[Meeting, AgendaItem, AgendaItem]:
    meeting = make_meeting(actor=staff)
    one = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    two = services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    return services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE), one, two


def test_now_on_item_stores_the_time_and_tells_viewers(staff):
    meeting, one, two = live(staff)
    StreamEvent.objects.all().delete()
    mark = services.meeting_now_on_item(actor=staff, meeting=meeting, item=two)
    meeting.refresh_from_db()
    assert meeting.current_item == two
    assert ItemMark.objects.get().at == mark.at
    pushed = events(meeting.stream)
    assert [e for e, p in pushed] == ["meeting.agenda", "meeting.item"]
    assert pushed[1][1] == {"item": two.pk, "number": "2", "at": mark.at.isoformat()}
    agenda = StreamEvent.objects.get(event="meeting.agenda").html
    assert (
        f'id="item-{two.pk}" data-item="{two.pk}" '
        'class="moot-agenda__item moot-agenda__item--current" aria-current="true"' in agenda
    )
    assert selectors.item_timeline(meeting) == [
        {"item": two.pk, "number": "2", "at": mark.at.isoformat()}
    ]
    assert AuditEntry.objects.filter(action="meeting.now_on_item").count() == 1


def test_agenda_times_out_of_order_are_refused(staff):
    meeting, one, two = live(staff)
    now = timezone.now()
    services.meeting_now_on_item(actor=staff, meeting=meeting, item=two, at=now)
    with pytest.raises(services.WebcastError, match="Agenda times must be in order: item 2"):
        services.meeting_now_on_item(
            actor=staff, meeting=meeting, item=one, at=now - timedelta(seconds=1)
        )
    Meeting.objects.filter(pk=meeting.pk).update(went_live_at=now + timedelta(hours=1))
    with pytest.raises(services.WebcastError, match="before the meeting went live"):
        services.meeting_now_on_item(
            actor=staff, meeting=meeting, item=one, at=now + timedelta(minutes=1)
        )
    assert ItemMark.objects.count() == 1
    assert Meeting.objects.get(pk=meeting.pk).current_item == two


def test_now_on_item_needs_a_live_meeting_and_its_own_item(staff):
    meeting, one, _two = live(staff)
    other, other_item, _ = live(staff)
    with pytest.raises(services.WebcastError, match="not on this meeting's agenda"):
        services.meeting_now_on_item(actor=staff, meeting=meeting, item=other_item)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    with pytest.raises(services.WebcastError, match="The meeting is not live."):
        services.meeting_now_on_item(actor=staff, meeting=meeting, item=one)
    assert not ItemMark.objects.exists()


def test_an_item_discussed_on_the_webcast_cannot_be_deleted(staff):
    meeting, one, two = live(staff)
    services.meeting_now_on_item(actor=staff, meeting=meeting, item=two)
    with pytest.raises(services.WebcastError, match="cannot be deleted"):
        services.agenda_item_delete(actor=staff, item=two)
    services.agenda_item_delete(actor=staff, item=one)
    assert list(AgendaItem.objects.values_list("number", flat=True)) == ["2"]


def test_speaker(staff):
    meeting, *_ = live(staff)
    councillor = CouncillorFactory(name="Cllr Gwen Jones")
    mark = services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="", role="councillor", councillor=councillor
    )
    assert (mark.name, mark.role, mark.councillor) == ("Cllr Gwen Jones", "councillor", councillor)
    services.meeting_speaker_set(
        actor=staff, meeting=meeting, name="Head of Planning", role="officer"
    )
    meeting.refresh_from_db()
    assert (meeting.current_speaker, meeting.current_speaker_role) == (
        "Head of Planning",
        "officer",
    )
    pushed = StreamEvent.objects.filter(event="meeting.speaker").order_by("seq").last()
    assert "Head of Planning" in pushed.html
    assert "(Officer)" in pushed.html
    with pytest.raises(ValidationError):
        services.meeting_speaker_set(actor=staff, meeting=meeting, name="A <b>", role="mayor")
    services.meeting_speaker_set(actor=staff, meeting=meeting, name="", role="")
    meeting.refresh_from_db()
    assert meeting.current_speaker == ""
    assert meeting.speaker_marks.count() == 2


# --- ingest records ------------------------------------------------------------------------------


def test_runs_number_up_with_their_own_recordings_and_gaps_open_and_close(staff):
    meeting, *_ = live(staff)
    run1 = services.ingest_run_start(meeting=meeting)
    assert run1.recording.endswith(f"recordings/{meeting.pk}/part-0001.ts")
    services.ingest_run_first_frame(run=run1)
    gap = services.ingest_run_end(run=run1, exit_code=-9, error="ffmpeg stopped")
    assert gap is not None
    assert Meeting.objects.get(pk=meeting.pk).ingest_error == "ffmpeg stopped"
    assert services.ingest_run_end(run=run1, exit_code=-9) is None  # idempotent
    run2 = services.ingest_run_start(meeting=meeting)
    assert run2.number == 2
    assert run2.recording.endswith("part-0002.ts")
    services.ingest_run_first_frame(run=run2)
    gap.refresh_from_db()
    assert gap.ended_at is not None
    assert Meeting.objects.get(pk=meeting.pk).ingest_error == ""
    slate = services.ingest_run_start(meeting=meeting, mode=IngestRun.Mode.SLATE)
    assert slate.recording == ""
    # A planned stop, or a run that never produced a frame, opens no gap.
    assert services.ingest_run_end(run=run2, exit_code=0, planned=True) is None
    assert services.ingest_run_end(run=slate, exit_code=1, error="no input") is None
    assert IngestGap.objects.count() == 1


def test_health_reaches_the_control_stream(staff, django_capture_on_commit_callbacks):
    meeting, *_ = live(staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.ingest_health_record(
            meeting_id=meeting.pk, health={"fps": 25.0, "bitrate_kbps": 2400.0, "speed": 1.0}
        )
    event = StreamEvent.objects.get(stream=meeting.control_stream)
    assert event.event == "webcast.health"
    assert event.payload == {
        "health": {"fps": 25.0, "bitrate_kbps": 2400.0, "speed": 1.0},
        "error": "",
    }
    assert "2400.0" in event.html


# --- selectors -----------------------------------------------------------------------------------


def test_upcoming_and_past_by_committee(staff):
    planning, licensing = CommitteeFactory(name="Planning"), CommitteeFactory(name="Licensing")
    now = timezone.now()
    soon = make_meeting(actor=staff, committee=planning, starts_at=now + timedelta(days=2))
    later = make_meeting(actor=staff, committee=licensing, starts_at=now + timedelta(days=9))
    on_air = make_meeting(actor=staff, committee=planning, starts_at=now - timedelta(hours=1))
    services.meeting_transition(actor=staff, meeting=on_air, to=S.LIVE)
    done = make_meeting(actor=staff, committee=planning, starts_at=now - timedelta(days=7))
    services.meeting_transition(actor=staff, meeting=done, to=S.ENDED)
    assert list(selectors.upcoming_meetings()) == [on_air, soon, later]
    assert list(selectors.upcoming_meetings(committee=planning)) == [on_air, soon]
    assert list(selectors.past_meetings()) == [done]
    assert list(selectors.past_meetings(committee=licensing)) == []


def test_correcting_agenda_times_keeps_them_in_order(staff):
    meeting, one, two = live(staff)
    three = services.agenda_item_create(actor=staff, meeting=meeting, number="3", title="AOB")
    now = timezone.now()
    marks = [
        services.meeting_now_on_item(
            actor=staff, meeting=meeting, item=item, at=now + timedelta(minutes=m)
        )
        for item, m in ((one, 1), (two, 10), (three, 20))
    ]
    moved = services.item_mark_update(actor=staff, mark=marks[1], at=now + timedelta(minutes=12))
    assert moved.at == now + timedelta(minutes=12)
    assert AuditEntry.objects.filter(action="item_mark.update").count() == 1
    for minutes, message in [
        (0, "Agenda times must be in order: item 1 starts at"),
        (25, "Agenda times must be in order: item 3 starts at"),
    ]:
        with pytest.raises(ValidationError) as caught:
            services.item_mark_update(
                actor=staff, mark=marks[1], at=now + timedelta(minutes=minutes)
            )
        assert caught.value.message_dict["at"][0].startswith(message)
    with pytest.raises(ValidationError, match="while the meeting was live"):
        services.item_mark_update(actor=staff, mark=marks[0], at=now - timedelta(hours=1))
    assert ItemMark.objects.get(pk=marks[1].pk).at == now + timedelta(minutes=12)
    assert AuditEntry.objects.filter(action="item_mark.update").count() == 1


def test_runs_left_open_by_a_killed_supervisor_are_closed(staff):
    meeting, *_ = live(staff)
    run = services.ingest_run_start(meeting=meeting)
    services.ingest_run_first_frame(run=run)
    Meeting.objects.filter(pk=meeting.pk).update(status=S.ENDED, ingest_enabled=False)
    other, *_ = live(staff)
    other_run = services.ingest_run_start(meeting=other)
    assert services.ingest_runs_recover(meeting_id=meeting.pk) == 1
    run.refresh_from_db()
    assert run.error == "The supervisor stopped while this run was going."
    assert run.ended_at is not None
    assert IngestRun.objects.get(pk=other_run.pk).ended_at is None
    assert services.ingest_runs_recover() == 1
    assert services.ingest_runs_recover() == 0


def test_run_webcast_arguments():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Give a meeting id or --all"):
        call_command("run_webcast")
    with pytest.raises(CommandError, match="Give a meeting id or --all"):
        call_command("run_webcast", "3", "--all")
    with pytest.raises(CommandError, match="There is no meeting 999."):
        call_command("run_webcast", "999")
