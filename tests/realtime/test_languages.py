"""Events in the viewer's language: the publisher renders each event in every configured
language, whatever language it runs in; each viewer gets, live or replayed, the one of its page
(``lang`` in the socket's address), and the default language when it names none it knows."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.utils import translation
from django.utils.translation import ngettext

from engagement.realtime import streams
from engagement.realtime.consumers import StreamConsumer
from engagement.realtime.services import publish, snapshot_publish

from .frames import receive_messages

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = "<p>3 votes</p>"
WELSH = "<p>3 pleidlais</p>"


@pytest.fixture(autouse=True)
def _test_streams():
    streams.register("demo", can_watch=streams.public)


def _communicator(query: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), f"/ws/streams/?{query}")
    communicator.scope["user"] = AnonymousUser()
    return communicator


def _votes() -> str:
    """A fragment with words in it: "3 votes", or "3 pleidlais" in Welsh."""
    votes = ngettext("%(counter)s vote", "%(counter)s votes", 3) % {"counter": 3}
    return f"<p>{votes}</p>"


def _fragment(message: str) -> str:
    return message.split("</span>", 1)[1]


def test_an_event_is_stored_in_every_language_whatever_language_publishes_it():
    with translation.override("cy"):  # a Welsh-speaking resident's request
        record = publish(stream="demo.40", event="votes", render=_votes)
        assert translation.get_language() == "cy"
    assert (record.html, record.html_translations) == (ENGLISH, {"cy": WELSH})
    assert (record.html_in("en-gb"), record.html_in("cy")) == (ENGLISH, WELSH)
    # The same in every language: stored once.
    same = publish(stream="demo.40", event="n", render=lambda: "<p>42</p>")
    assert (same.html, same.html_translations) == ("<p>42</p>", {})
    assert same.html_in("cy") == "<p>42</p>"


def test_publish_takes_html_or_render_not_both():
    with pytest.raises(TypeError):
        publish(stream="demo.41", event="n", html="<p>1</p>", render=_votes)


def test_a_snapshot_is_read_once_and_rendered_in_each_language():
    reads = []

    def snapshot(key):
        reads.append(key)
        return "votes", _votes, {"n": 3}

    streams.register("democount", can_watch=streams.public, snapshot=snapshot)
    with translation.override("cy"):
        record = snapshot_publish(stream="democount.1")
    assert reads == ["1"]
    assert (record.html, record.html_translations) == (ENGLISH, {"cy": WELSH})


@pytest.mark.parametrize(("language", "expected"), [("en-gb", "lang=en-gb"), ("cy", "lang=cy")])
def test_a_page_connects_in_its_own_language(language, expected):
    with translation.override(language):
        attrs = Template('{% load realtime %}{% stream_attrs "demo.1" %}').render(Context())
    assert attrs == f'hx-ext="ws" ws-connect="/ws/streams/?s=demo.1&amp;{expected}"'


async def test_viewers_of_one_stream_each_get_the_event_in_their_own_language():
    viewers = {
        query: _communicator(query)
        for query in ("s=demo.42&lang=cy", "s=demo.42&lang=en-gb", "s=demo.42")
    }
    for viewer in viewers.values():
        assert (await viewer.connect())[0]

    def publish_in_welsh() -> None:
        with translation.override("cy"):
            publish(stream="demo.42", event="votes", render=_votes)
            publish(stream="demo.42", event="n", html="<p>no words</p>")

    await database_sync_to_async(publish_in_welsh)()
    received = {q: [_fragment(m) for m in await receive_messages(v, 2)] for q, v in viewers.items()}
    assert received == {
        "s=demo.42&lang=cy": [WELSH, "<p>no words</p>"],
        "s=demo.42&lang=en-gb": [ENGLISH, "<p>no words</p>"],
        "s=demo.42": [ENGLISH, "<p>no words</p>"],
    }
    for viewer in viewers.values():
        await viewer.disconnect()


async def test_a_replay_is_in_the_viewers_language():
    await database_sync_to_async(publish)(stream="demo.43", event="votes", render=_votes)
    welsh, english = _communicator("s=demo.43&lang=cy"), _communicator("s=demo.43&lang=en-gb")
    for viewer in (welsh, english):
        assert (await viewer.connect())[0]
        await viewer.send_json_to({"type": "resume", "stream": "demo.43", "after": 0})
    assert _fragment(await welsh.receive_from(timeout=3)) == WELSH
    assert _fragment(await english.receive_from(timeout=3)) == ENGLISH
    for viewer in (welsh, english):
        await viewer.disconnect()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("fr", ENGLISH), ("", ENGLISH), ("%3Cscript%3E", ENGLISH), ("en", ENGLISH), ("CY", WELSH)],
)
async def test_an_unknown_language_gets_the_default_one(lang, expected):
    viewer = _communicator(f"s=demo.44&lang={lang}")
    assert (await viewer.connect())[0]
    await database_sync_to_async(publish)(stream="demo.44", event="votes", render=_votes)
    assert _fragment(await viewer.receive_from(timeout=3)) == expected
    await viewer.send_json_to({"type": "resume", "stream": "demo.44", "after": 0})
    assert _fragment(await viewer.receive_from(timeout=3)) == expected
    await viewer.disconnect()
