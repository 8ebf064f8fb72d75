"""The question streams over real websockets: viewers get approved questions and states, never
pending ones; the staff stream refuses residents; a client that reconnects gets what it missed;
a late joiner's page plus the events after its marker equals a fresh page."""

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from engagement.realtime.consumers import CLOSE_FORBIDDEN, StreamConsumer
from engagement.realtime.models import StreamEvent
from tests.realtime.frames import receive_messages
from webcast.questions import services

from .factories import approved, ask

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(stream: str, user=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), f"/ws/streams/?s={stream}")
    communicator.scope["user"] = user or AnonymousUser()
    return communicator


async def test_viewers_see_approved_questions_and_moderators_see_the_queue(
    meeting, resident, staff
):
    viewer = _communicator(f"questions.{meeting.pk}")
    moderator = _communicator(f"questions-mod.{meeting.pk}", user=staff)
    assert (await viewer.connect())[0]
    assert (await moderator.connect())[0]
    question = await database_sync_to_async(ask)(meeting, resident, "Is the pool reopening?")
    queued = await moderator.receive_from(timeout=3)
    assert 'hx-swap-oob="beforeend:#queue-pending"' in queued
    assert "Is the pool reopening?" in queued
    assert await viewer.receive_nothing(timeout=0.3)  # pending: nobody else sees it
    await database_sync_to_async(services.question_approve)(actor=staff, question=question)
    shown = await viewer.receive_from(timeout=3)
    assert 'hx-swap-oob="beforeend:#questions-top-all"' in shown
    assert 'hx-swap-oob="afterbegin:#questions-newest-all"' in shown
    assert "Is the pool reopening?" in shown
    off_queue = await moderator.receive_from(timeout=3)
    assert f'hx-swap-oob="delete:#mod-question-{question.pk}"' in off_queue
    panels = await moderator.receive_from(timeout=3)  # the chair's panels, a coalesced snapshot
    assert 'id="chair-list"' in panels
    assert "Is the pool reopening?" in panels
    await viewer.disconnect()
    await moderator.disconnect()


async def test_the_staff_stream_refuses_residents_and_visitors(meeting, resident):
    for user in (resident, None):
        refused = _communicator(f"questions-mod.{meeting.pk}", user=user)
        assert await refused.connect() == (False, CLOSE_FORBIDDEN)


async def test_a_reconnecting_viewer_gets_what_it_missed(meeting, resident, staff):
    stream = f"questions.{meeting.pk}"

    def two_approved() -> int:
        seen = StreamEvent.objects.filter(stream=stream).count()
        approved(meeting, resident, staff, text="First?")
        approved(meeting, resident, staff, text="Second?")
        return seen

    after = await database_sync_to_async(two_approved)()
    viewer = _communicator(stream)
    assert (await viewer.connect())[0]
    await viewer.send_json_to({"type": "resume", "stream": stream, "after": after})
    first, second = await receive_messages(viewer, 2)
    assert "First?" in first
    assert "Second?" in second
    assert f'data-moot-seq="{after + 2}"' in second
    await viewer.disconnect()


def _cards(html: str, list_id: str) -> list[str]:
    """The question cards of one feed list, without the per-visitor vote control."""
    found = re.search(rf'<ol id="{list_id}".*?</ol>', html, re.S).group(0)
    cards = re.findall(r'<li id="question-\d+".*?</li>', found, re.S)
    return [
        re.sub(r'<div class="moot-question__votes">.*?</div>', "", c, flags=re.S) for c in cards
    ]


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_late_joiner_page_plus_events_equals_a_fresh_page(
    meeting, resident, staff, client, language
):
    """In either language, and whatever language the changes were published in (here the
    other one: a resident's request in Welsh reaches English viewers in English)."""
    client.cookies["django_language"] = language
    publisher_language = "cy" if language == "en-gb" else "en-gb"
    url = f"/meetings/{meeting.pk}/questions/?order=newest"
    approved(meeting, resident, staff, text="Early?")
    early = client.get(url).content.decode()
    marker = int(re.search(r'data-moot-seq="(\d+)"', early).group(1))
    assert f"lang={language}" in re.search(r'ws-connect="([^"]*)"', early).group(1)
    with translation.override(publisher_language):
        later = approved(meeting, resident, staff, text="Later?")
        services.question_vote(meeting=meeting, question=later, user=resident)
    pushed = StreamEvent.objects.filter(stream=f"questions.{meeting.pk}", seq__gt=marker)
    added = next(
        e.html_in(language) for e in pushed.order_by("seq") if e.event == "question.approved"
    )
    inserted = re.search(
        r'<ol hx-swap-oob="afterbegin:#questions-newest-all">(.*?)</ol>', added, re.S
    ).group(1)
    votes = next(
        e.html_in(language) for e in pushed.order_by("-seq") if e.event == "questions.votes"
    )
    assert ("1 pleidlais" if language == "cy" else "1 vote<") in votes
    fresh = client.get(url).content.decode()
    # Apply the pushes to the early page: the new card first, then the vote counts.
    applied = early.replace(
        '<ol id="questions-newest-all" class="govuk-list moot-questions" '
        'aria-labelledby="list-heading">\n',
        '<ol id="questions-newest-all" class="govuk-list moot-questions" '
        'aria-labelledby="list-heading">\n' + inserted,
    )
    for span in re.findall(r'<span id="question-\d+-votes".*?</span>', votes, re.S):
        span_id = re.search(r'id="(question-\d+-votes)"', span).group(1)
        applied = re.sub(
            rf'<span id="{span_id}".*?</span>', span.replace(' hx-swap-oob="true"', ""), applied
        )
    assert _cards(applied, "questions-newest-all") == _cards(fresh, "questions-newest-all")
    assert len(_cards(fresh, "questions-newest-all")) == 2
    assert re.findall(r'<span id="question-\d+-votes".*?</span>', applied) == re.findall(
        r'<span id="question-\d+-votes".*?</span>', fresh
    )
    assert _cards(applied, "questions-newest-all")[0].count("Later?") == 1
