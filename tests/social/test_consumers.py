"""The live inbox over websockets: a councillor receives new cases routed to them, and only
their own inbox; staff receive every case."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from engagement.realtime.consumers import CLOSE_FORBIDDEN, StreamConsumer
from social import services
from tests.factories import make_user

from .factories import PostFactory

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(stream: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(StreamConsumer.as_asgi(), f"/ws/streams/?s={stream}")
    comm.scope["user"] = user
    return comm


@pytest.fixture
def anwen_user(wards):
    user = make_user("anwen-ws@example.org", roles=("councillor",))
    wards["anwen"].user = user
    wards["anwen"].save()
    return user


async def test_a_new_case_arrives_live_in_the_owners_inbox(wards, anwen_user):
    comm = communicator(f"social-inbox.{wards['anwen'].pk}", anwen_user)
    assert (await comm.connect())[0]

    def route():
        post = PostFactory(text="Overflowing bin", lon=-3.19, lat=51.49)
        return services.post_route(post_id=post.pk)

    case = await database_sync_to_async(route)()
    message = await comm.receive_from(timeout=5)
    assert f'id="case-{case.pk}"' in message
    assert "Overflowing bin" in message
    await comm.disconnect()


async def test_a_councillor_cannot_watch_another_inbox_or_staffs(wards, anwen_user):
    for stream in (f"social-inbox.{wards['ceri'].pk}", "social-inbox.staff"):
        connected, code = await communicator(stream, anwen_user).connect()
        assert (connected, code) == (False, CLOSE_FORBIDDEN)
    connected, code = await communicator(
        f"social-inbox.{wards['anwen'].pk}", AnonymousUser()
    ).connect()
    assert (connected, code) == (False, CLOSE_FORBIDDEN)


async def test_staff_watch_every_case(wards):
    staff = await database_sync_to_async(make_user)("staff-ws@example.org", roles=("staff",))
    comm = communicator("social-inbox.staff", staff)
    assert (await comm.connect())[0]

    def route():
        return services.post_route(post_id=PostFactory(text="Hello").pk)

    case = await database_sync_to_async(route)()
    assert f'id="case-{case.pk}"' in await comm.receive_from(timeout=5)
    await comm.disconnect()
