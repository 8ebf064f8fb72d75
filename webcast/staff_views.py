"""Staff pages: meetings and their agendas, and the control room.

Every form posts normally and redirects (so it works without JavaScript); with htmx the control
room's forms swap just the control panel from the page the redirect returns.
"""

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagement.core.permissions import has_staff_access, staff_required
from engagement.realtime.pages import live_page

from . import selectors, services
from .downloads import private_file_response, requested_range
from .forms import (
    AgendaItemForm,
    CaptionsForm,
    DocumentForm,
    MarkTimeForm,
    MeetingForm,
    RecordingUploadForm,
    RetentionForm,
    SpeakerForm,
)
from .models import AgendaDocument, AgendaItem, ItemMark, Meeting, SpeakerMark
from .supervisor import rtmp_port

S = Meeting.Status
ACTIONS = {
    "live": (S.LIVE, _lazy("The meeting is live.")),
    "adjourn": (S.ADJOURNED, _lazy("The meeting is adjourned: viewers see the slate.")),
    "resume": (S.LIVE, _lazy("The meeting has resumed.")),
    "end": (S.ENDED, _lazy("The meeting has ended.")),
    "archive": (S.ARCHIVED, _lazy("The meeting is archived.")),
}


def _put_errors(form: forms.Form, exc: Exception) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    elif isinstance(exc, ValidationError):
        form.add_error(None, exc.messages)
    else:
        form.add_error(None, str(exc))


@staff_required
@require_GET
def meetings(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.meetings_base().order_by("-starts_at", "-pk"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "webcast/staff/list.html", {"page": page})


@staff_required
@require_http_methods(["GET", "POST"])
def meeting_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=pk) if pk else None
    initial: dict[str, Any] = {"source": Meeting.Source.RTMP, "ladder": "720,480,240"}
    if meeting is not None:
        initial = {
            name: getattr(meeting, name)
            for name in ["committee", "title", "starts_at", "venue", "description", "source"]
        } | {"pull_url": meeting.pull_url, "ladder": meeting.ladder}
    form = MeetingForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if meeting is None:
                meeting = services.meeting_create(actor=request.user, **data)
                messages.success(request, _("The meeting has been created."))
            else:
                services.meeting_update(actor=request.user, meeting=meeting, **data)
                messages.success(request, _("The meeting has been updated."))
        except (ValidationError, services.WebcastError) as exc:
            _put_errors(form, exc)
        else:
            return redirect("webcast_staff:meeting", pk=meeting.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "webcast/staff/meeting_form.html",
        {"form": form, "meeting": meeting},
        status=status,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def meeting(request: HttpRequest, pk: int) -> HttpResponse:
    """The agenda editor: add items and their documents."""
    meeting = get_object_or_404(selectors.meetings_base(), pk=pk)
    which = request.POST.get("form", "")
    item_form = AgendaItemForm(request.POST if which == "item" else None)
    doc_item = None
    doc_form = DocumentForm()
    if which == "document":
        doc_item = get_object_or_404(AgendaItem, pk=request.POST.get("item") or 0, meeting=meeting)
        doc_form = DocumentForm(request.POST, request.FILES)
    upload_form = RecordingUploadForm(
        request.POST if which == "upload" else None, request.FILES if which == "upload" else None
    )
    captions_form = CaptionsForm(
        request.POST if which == "captions" else None,
        request.FILES if which == "captions" else None,
        initial={"captions": services.captions_text(meeting)},
    )
    if request.method == "POST":
        try:
            if which == "item" and item_form.is_valid():
                data = item_form.cleaned_data
                services.agenda_item_create(
                    actor=request.user,
                    meeting=meeting,
                    number=data["number"],
                    title=data["title"],
                    description=data["description"],
                    subject=data["petition"],
                )
                messages.success(request, _("The agenda item has been added."))
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which == "document" and doc_form.is_valid():
                services.agenda_document_add(
                    actor=request.user,
                    item=doc_item,
                    title=doc_form.cleaned_data["title"],
                    file=doc_form.cleaned_data["file"],
                )
                messages.success(request, _("The document has been added."))
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which == "captions" and captions_form.is_valid():
                services.meeting_captions_set(
                    actor=request.user, meeting=meeting, text=captions_form.cleaned_data["captions"]
                )
                messages.success(request, _("The captions have been saved."))
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which == "upload" and upload_form.is_valid():
                services.meeting_recording_upload(
                    actor=request.user, meeting=meeting, file=upload_form.cleaned_data["video"]
                )
                messages.success(
                    request, _("The recording has been uploaded. It will be ready to watch soon.")
                )
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which == "mark":
                mark = get_object_or_404(
                    ItemMark, pk=_int(request.POST.get("mark")), meeting=meeting
                )
                mark_form = MarkTimeForm(request.POST)
                if not mark_form.is_valid():
                    raise ValidationError(_("Enter a time like 18:05:30."))
                at = _nearest_with_time(mark.at, mark_form.cleaned_data["at"])
                services.item_mark_update(actor=request.user, mark=mark, at=at)
                messages.success(request, _("The time has been corrected."))
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which == "speaker-name":
                speaker = get_object_or_404(
                    SpeakerMark, pk=_int(request.POST.get("speaker")), meeting=meeting
                )
                services.speaker_name_remove(actor=request.user, mark=speaker)
                messages.success(request, _("The speaker's name has been removed."))
                return redirect("webcast_staff:meeting", pk=meeting.pk)
            if which not in {"item", "document", "captions", "mark", "upload"}:
                return HttpResponse(_("Unknown form."), status=400)
        except (ValidationError, services.WebcastError) as exc:
            if which in {"mark", "speaker-name"}:
                messages.error(
                    request, exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
                )
            else:
                forms_by_name = {
                    "item": item_form,
                    "document": doc_form,
                    "captions": captions_form,
                    "upload": upload_form,
                }
                _put_errors(forms_by_name[which], exc)
    context = selectors.agenda_context(meeting) | {
        "item_form": item_form,
        "doc_form": doc_form,
        "doc_item": doc_item,
        "captions_form": captions_form,
        "upload_form": upload_form,
        "can_upload": meeting.status == Meeting.Status.ENDED
        and meeting.archive_state in {"", "failed"}
        and not selectors.hls_url(meeting),
        "marks": list(meeting.item_marks.select_related("item").order_by("at", "pk")),
        "speakers": list(meeting.speaker_marks.order_by("at", "pk")),
        "archive": selectors.archive_urls(meeting, staff=True),
        "recording_parts": selectors.recording_parts(meeting),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "webcast/staff/meeting.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def item_edit(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = get_object_or_404(
        AgendaItem.objects.select_related("meeting"), pk=item_pk, meeting_id=pk
    )
    initial = {
        "number": item.number,
        "title": item.title,
        "description": item.description,
        "position": item.position,
        "petition": item.subject_id if item.subject_type_id else None,
    }
    form = AgendaItemForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.agenda_item_update(
                actor=request.user,
                item=item,
                number=data["number"],
                title=data["title"],
                description=data["description"],
                position=data["position"],
                subject=data["petition"],
            )
        except (ValidationError, services.WebcastError) as exc:
            _put_errors(form, exc)
        else:
            messages.success(request, _("The agenda item has been updated."))
            return redirect("webcast_staff:meeting", pk=pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "webcast/staff/item_form.html", {"form": form, "item": item}, status=status
    )


@staff_required
@require_POST
def item_delete(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = get_object_or_404(AgendaItem, pk=item_pk, meeting_id=pk)
    try:
        services.agenda_item_delete(actor=request.user, item=item)
    except services.WebcastError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The agenda item has been deleted."))
    return redirect("webcast_staff:meeting", pk=pk)


@staff_required
@require_POST
def document_delete(request: HttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    document = get_object_or_404(AgendaDocument, pk=doc_pk, item__meeting_id=pk)
    services.agenda_document_delete(actor=request.user, document=document)
    messages.success(request, _("The document has been removed."))
    return redirect("webcast_staff:meeting", pk=pk)


@staff_required
@require_http_methods(["GET", "POST"])
@live_page
def control(request: HttpRequest, pk: int) -> HttpResponse:
    """The control room: status, the stream, what is on now, who is speaking, ingest health."""
    meeting = get_object_or_404(selectors.meetings_base(), pk=pk)
    action = request.POST.get("action", "")
    speaker_form = SpeakerForm(request.POST if action == "speaker" else None)
    if request.method == "POST":
        try:
            if action in ACTIONS:
                to, message = ACTIONS[action]
                services.meeting_transition(actor=request.user, meeting=meeting, to=to)
                messages.success(request, message)
            elif action in {"stream-start", "stream-stop"}:
                services.meeting_ingest_set(
                    actor=request.user, meeting=meeting, enabled=action == "stream-start"
                )
                messages.success(
                    request,
                    _("The stream is starting.")
                    if action == "stream-start"
                    else _("The stream has stopped."),
                )
            elif action == "key-reset":
                services.meeting_stream_key_reset(actor=request.user, meeting=meeting)
                messages.success(request, _("The stream key has been changed."))
            elif action == "item":
                item = meeting.items.filter(pk=_int(request.POST.get("item"))).first()
                if item is None:
                    raise services.WebcastError(_("Choose an item on this meeting's agenda."))
                services.meeting_now_on_item(actor=request.user, meeting=meeting, item=item)
                messages.success(request, _("Now on item %(number)s.") % {"number": item.number})
            elif action == "speaker":
                if not speaker_form.is_valid():
                    raise ValidationError(_("Check the speaker's details."))
                data = speaker_form.cleaned_data
                services.meeting_speaker_set(
                    actor=request.user,
                    meeting=meeting,
                    name=data["name"],
                    role=data["role"],
                    councillor=data["councillor"],
                )
                messages.success(request, _("The speaker has been updated."))
            else:
                raise services.WebcastError(_("Unknown action."))
        except (ValidationError, services.WebcastError) as exc:
            text = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text)
            meeting.refresh_from_db()
            return _control_page(request, meeting, speaker_form, status=400)
        return redirect("webcast_staff:control", pk=meeting.pk)
    return _control_page(request, meeting, speaker_form)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _control_page(
    request: HttpRequest, meeting: Meeting, speaker_form: SpeakerForm, status: int = 200
) -> HttpResponse:
    from django.conf import settings

    context = selectors.control_state(meeting) | selectors.agenda_context(meeting)
    context |= {
        "speaker_form": speaker_form,
        "allowed": services.TRANSITIONS[meeting.status],
        "rehearsal_url": selectors.rehearsal_url(meeting),
        "live_url": selectors.hls_url(meeting),
        "rtmp_server": (
            f"rtmp://{settings.WEBCAST_RTMP_PUBLIC_HOST}:{rtmp_port(meeting)}/{meeting.stream_key}"
        ),
    }
    return render(request, "webcast/staff/control.html", context, status=status)


@require_GET
def recording(request: HttpRequest, pk: int, run: int | None = None) -> HttpResponse:
    """The safety recording (joined, or one run's part) for staff: 404 for anyone else, as for
    a recording that is not (or no longer) on disk, so its existence is not given away. Each
    download is audited (a player's follow-on range requests are not)."""
    if not has_staff_access(request.user):
        raise Http404("No such recording")
    meeting = get_object_or_404(Meeting, pk=pk)
    path = services.recording_file(meeting, run_number=run)
    if path is None:
        raise Http404("No such recording")
    wanted = requested_range(request.headers.get("Range", ""), path.stat().st_size)
    if wanted is None or (wanted and wanted[0] == 0):
        services.recording_download_record(actor=request.user, meeting=meeting, path=path)
    name = f"meeting-{meeting.pk}-safety-recording{'' if run is None else f'-part-{run}'}"
    return private_file_response(request, path, filename=name + path.suffix)


@staff_required(admin=True)
@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    """How long recordings are kept (a council decision: admins only)."""
    from engagement.people.models import Committee

    from . import retention as policy

    council = policy.council_policy()
    committees = list(Committee.objects.order_by("name"))
    own = {
        r.committee_id: r.archive_months or 0
        for r in council.__class__.objects.exclude(committee=None)
    }
    initial = {"archive_months": council.archive_months, "recording_days": council.recording_days}
    initial |= {f"committee_{pk}": months for pk, months in own.items()}
    form = RetentionForm(
        request.POST if request.method == "POST" else None, initial=initial, committees=committees
    )
    if request.method == "POST" and form.is_valid():
        policy.retention_update(
            actor=request.user,
            archive_months=form.cleaned_data["archive_months"],
            recording_days=form.cleaned_data["recording_days"],
            committees=form.committee_months(),
        )
        messages.success(request, _("How long recordings are kept has been saved."))
        return redirect("webcast_staff:retention")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "webcast/staff/retention.html", {"form": form}, status=status)


def _nearest_with_time(moment: datetime, time_of_day: time) -> datetime:
    """The moment nearest ``moment`` whose local time of day is ``time_of_day``: staff correct
    an agenda time by minutes, and a meeting may run past midnight (a mark at 00:07 corrected
    to 23:57 is the evening before, not the next evening)."""
    local = timezone.localtime(moment)
    same_day = local.replace(
        hour=time_of_day.hour, minute=time_of_day.minute, second=time_of_day.second, microsecond=0
    )
    candidates = [same_day + timedelta(days=days) for days in (-1, 0, 1)]
    return min(candidates, key=lambda candidate: abs(candidate - local))
