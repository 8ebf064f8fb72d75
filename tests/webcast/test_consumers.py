"""Control-room actions reach viewers' websockets; the control stream is staff only; a late
joiner's page plus the events after its marker equals a fresh page."""

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from engagement.realtime.consumers import CLOSE_FORBIDDEN, StreamConsumer
from webcast import services
from webcast.models import Meeting

from .factories import make_meeting

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(stream: str, user=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), f"/ws/streams/?s={stream}")
    communicator.scope["user"] = user or AnonymousUser()
    return communicator


def _setup(staff) -> tuple[Meeting, int]:
    meeting = make_meeting(actor=staff)
    services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    item = services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    return meeting, item.pk


async def test_control_room_actions_reach_a_viewer(staff):
    meeting, item_pk = await database_sync_to_async(_setup)(staff)
    viewer = _communicator(meeting.stream)
    assert (await viewer.connect())[0]

    def act() -> None:
        client = Client()
        client.force_login(staff)
        url = f"/staff/meetings/{meeting.pk}/control/"
        assert client.post(url, {"action": "live"}).status_code == 302
        assert client.post(url, {"action": "item", "item": item_pk}).status_code == 302
        assert (
            client.post(
                url, {"action": "speaker", "name": "Head of Finance", "role": "officer"}
            ).status_code
            == 302
        )
        assert client.post(url, {"action": "adjourn"}).status_code == 302

    await database_sync_to_async(act)()
    messages = [await viewer.receive_from(timeout=3) for _ in range(5)]
    seqs = [int(re.search(r'data-moot-seq="(\d+)"', m).group(1)) for m in messages]
    assert seqs == sorted(seqs)
    assert "This meeting is being webcast now." in messages[0]
    current = f'data-item="{item_pk}" class="moot-agenda__item moot-agenda__item--current"'
    assert current in messages[1]
    assert messages[2].endswith('hx-swap-oob="true"></span>')  # the item mark: data only
    assert "Head of Finance" in messages[3]
    assert "The meeting is adjourned." in messages[4]
    assert await viewer.receive_nothing(timeout=0.2)
    await viewer.disconnect()


async def test_the_control_stream_refuses_residents(resident, staff):
    meeting, _ = await database_sync_to_async(_setup)(staff)
    refused = _communicator(meeting.control_stream, user=resident)
    assert await refused.connect() == (False, CLOSE_FORBIDDEN)
    allowed = _communicator(meeting.control_stream, user=staff)
    assert (await allowed.connect())[0]
    await database_sync_to_async(services.ingest_health_record)(
        meeting_id=meeting.pk, health={"fps": 24.9, "bitrate_kbps": 3100.0, "speed": 1.0}
    )
    message = await allowed.receive_from(timeout=5)
    assert 'id="ingest-health"' in message
    assert "3100.0" in message
    await allowed.disconnect()


def test_late_joiner_page_plus_events_equals_a_fresh_page(staff, client):
    meeting, item_pk = _setup(staff)
    services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.LIVE)
    early = client.get(meeting.get_absolute_url()).content.decode()
    marker = int(re.search(r'data-moot-seq="(\d+)"', early).group(1))
    services.meeting_now_on_item(actor=staff, meeting=meeting, item=meeting.items.get(pk=item_pk))
    from engagement.realtime.models import StreamEvent

    pushed = StreamEvent.objects.filter(stream=meeting.stream, seq__gt=marker).order_by("seq")
    agenda_push = next(e.html for e in pushed if e.event == "meeting.agenda")
    fresh = client.get(meeting.get_absolute_url()).content.decode()

    def agenda(html: str) -> str:
        return re.search(r'<ol id="agenda".*?</ol>', html, re.S).group(0)

    # The push carries the out-of-band flag the page itself does not need.
    assert agenda(agenda_push).replace(' hx-swap-oob="true"', "", 1) == agenda(fresh)
    assert agenda(early) != agenda(fresh)
