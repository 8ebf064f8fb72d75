"""Residents' pages: meetings by committee, a meeting (agenda, documents, the player), the
iCalendar feed. Every page works without JavaScript; the player and live updates add to it."""

from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from engagement.core.ratelimit import client_ip, hit
from engagement.council.selectors import council_settings
from engagement.people.models import Committee
from engagement.realtime.pages import live_page

from . import selectors, services
from .models import Meeting

PAST_PER_PAGE = 20


def _committee(request: HttpRequest) -> Committee | None:
    slug = request.GET.get("committee", "")
    if not slug:
        return None
    committee = Committee.objects.filter(slug=slug[:170]).first()
    if committee is None:
        raise Http404("No such committee")
    return committee


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    committee = _committee(request)
    past = Paginator(selectors.past_meetings(committee=committee), PAST_PER_PAGE)
    page = past.get_page(request.GET.get("page"))
    return render(
        request,
        "webcast/index.html",
        {
            "committee": committee,
            "committees": Committee.objects.all(),
            "upcoming": list(selectors.upcoming_meetings(committee=committee)[:100]),
            "past": page,
        },
    )


@require_GET
@live_page
def meeting(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(selectors.meetings_base(), pk=pk)
    context = selectors.agenda_context(meeting)
    context["speakers"] = list(meeting.speaker_marks.order_by("at"))
    context["archive"] = selectors.archive_urls(meeting)
    return render(request, "webcast/meeting.html", context)


@require_POST
def watching(request: HttpRequest, pk: int) -> HttpResponse:
    """The player's "still watching" beat (JavaScript only: it feeds the viewer count)."""
    if not hit("webcast-watching", client_ip(request), limit=30, window=60):
        return HttpResponse(_("Too many requests."), status=429)
    meeting = get_object_or_404(Meeting, pk=pk)
    try:
        services.viewer_seen(meeting=meeting, token=request.POST.get("viewer", "")[:100])
    except services.WebcastError as exc:
        return HttpResponse(str(exc), status=400)
    return HttpResponse(status=204)


@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    """Upcoming meetings and those of the last 90 days, optionally for one committee."""
    committee = _committee(request)
    since = timezone.now() - timedelta(days=90)
    meetings = selectors.meetings_base().filter(starts_at__gte=since)
    if committee is not None:
        meetings = meetings.filter(committee=committee)
    council = council_settings()
    name = council.display_name if committee is None else f"{council.display_name}: {committee}"
    body = selectors.icalendar(
        list(meetings.order_by("starts_at")[:500]),
        site_url=settings.SITE_URL,
        host=urlparse(settings.SITE_URL).hostname or "moot",
        name=name,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="meetings.ics"'
    return response
