"""Webcast pages in a real Chromium: the player plays a real HLS ladder made by ffmpeg and the
agenda follows the position the viewer is watching (by program date time, not the clock);
axe-core finds nothing on the meeting, player, archive and staff pages."""

import mimetypes
import subprocess
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from webcast import pipeline, services
from webcast.models import Meeting

from .factories import ffmpeg_bin, make_meeting

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def serve_media(page) -> None:
    """The test server has no media view (a web server serves /media/ in production)."""

    def handle(route) -> None:
        path = route.request.url.split("/media/", 1)[1].split("?")[0]
        file = Path(settings.MEDIA_ROOT) / path
        if not file.is_file():
            route.fulfill(status=404, body="")
            return
        kind = "application/vnd.apple.mpegurl" if file.suffix == ".m3u8" else None
        kind = kind or mimetypes.guess_type(file.name)[0] or "video/mp2t"
        route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": kind})

    page.route("**/media/**", handle)


def record_stream(meeting: Meeting, seconds: int = 12) -> datetime:
    """A real ladder in the meeting's live directory; returns the first program date time."""
    plan = pipeline.build(
        pipeline.Source("test", width=426, height=240, duration=seconds, realtime=False),
        pipeline.Outputs(services.live_dir(meeting), recording=None),
        input_height=240,
        ladder=(240,),
        encoding=pipeline.Encoding(preset="ultrafast"),
        progress=None,
    )
    services.live_dir(meeting).mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_bin(), *plan.args], check=True, capture_output=True)  # noqa: S603
    playlist = (services.live_dir(meeting) / "240p" / "index.m3u8").read_text()
    first = pipeline.parse_media_playlist(playlist)[0].program_date_time
    return datetime.fromisoformat(first)


@pytest.fixture
def live_meeting(staff):
    meeting = make_meeting(actor=staff, title="Budget scrutiny")
    one = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    two = services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    meeting = services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.LIVE)
    start = record_stream(meeting)
    services.meeting_now_on_item(actor=staff, meeting=meeting, item=one, at=start)
    services.meeting_now_on_item(
        actor=staff, meeting=meeting, item=two, at=start + timedelta(seconds=6)
    )
    return meeting, one, two


def current_item(page) -> str | None:
    return page.evaluate(
        "() => { const li = document.querySelector('#agenda [aria-current=true]');"
        " return li ? li.dataset.item : null; }"
    )


def test_the_agenda_follows_what_the_viewer_is_watching(page, asgi_live_server, live_meeting):
    meeting, one, two = live_meeting
    serve_media(page)
    page.goto(asgi_live_server.url + meeting.get_absolute_url())
    # Before playing, the page shows the live state: item 2 is being discussed now.
    assert current_item(page) == str(two.pk)
    page.evaluate("() => { const v = document.getElementById('moot-video'); v.muted = true; }")
    page.wait_for_function(
        "() => document.getElementById('moot-video').readyState >= 1", timeout=20000
    )
    page.evaluate("() => { const v = document.getElementById('moot-video'); v.currentTime = 1; }")
    page.wait_for_function(
        f"() => document.querySelector('#agenda [aria-current=true]')?.dataset.item === '{one.pk}'",
        timeout=20000,
    )
    assert page.locator(f"#item-{one.pk} .moot-now").is_visible()
    assert not page.locator(f"#item-{two.pk} .moot-now").is_visible()
    page.evaluate("() => { document.getElementById('moot-video').currentTime = 8.5; }")
    page.wait_for_function(
        f"() => document.querySelector('#agenda [aria-current=true]')?.dataset.item === '{two.pk}'",
        timeout=20000,
    )
    # "Watch from" on item 1 seeks back to its mark and plays; the player tells the control
    # room someone is watching.
    with page.expect_request(f"**/meetings/{meeting.pk}/watching/") as beat:
        page.locator(f"#item-{one.pk} a.moot-jump").click()
    assert beat.value.method == "POST"
    page.wait_for_function(
        f"() => document.querySelector('#agenda [aria-current=true]')?.dataset.item === '{one.pk}'",
        timeout=20000,
    )
    assert page.evaluate("() => document.getElementById('moot-video').currentTime") < 6

    # A shared link with ?t= (the wall-clock time, in seconds) starts the viewer there.
    at = int(two.marks.get().at.timestamp()) + 2
    page.goto(asgi_live_server.url + meeting.get_absolute_url() + f"?t={at}#player")
    page.evaluate("() => { document.getElementById('moot-video').muted = true; }")
    page.wait_for_function(
        f"() => document.querySelector('#agenda')?.dataset.playing === '{two.pk}'", timeout=20000
    )
    assert 7 < page.evaluate("() => document.getElementById('moot-video').currentTime") < 10


def test_without_javascript_the_page_still_has_agenda_documents_and_stream_link(
    browser, asgi_live_server, live_meeting
):
    meeting, one, _two = live_meeting
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(asgi_live_server.url + meeting.get_absolute_url())
        assert page.locator(f"#item-{one.pk}").is_visible()
        link = page.get_by_role("link", name="Open the live stream in another player (HLS)")
        assert link.get_attribute("href") == f"/media/webcast/live/{meeting.pk}/master.m3u8"
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_webcast_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, live_meeting, staff, language
):
    meeting, _one, _two = live_meeting
    serve_media(page)
    ended = make_meeting(actor=staff, title="Licensing")
    services.meeting_transition(actor=staff, meeting=ended, to=Meeting.Status.LIVE)
    record_stream(ended, seconds=4)
    services.meeting_transition(actor=staff, meeting=ended, to=Meeting.Status.ENDED)
    client = Client()
    client.force_login(staff)
    page.context.add_cookies(
        [
            {"name": "django_language", "value": language, "url": asgi_live_server.url},
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": asgi_live_server.url,
            },
        ]
    )
    for path in [
        "/meetings/",
        meeting.get_absolute_url(),  # the player, live
        ended.get_absolute_url(),  # the archive
        "/",
        "/staff/meetings/",
        "/staff/meetings/new/",
        f"/staff/meetings/{meeting.pk}/",
        f"/staff/meetings/{meeting.pk}/control/",
        f"/staff/meetings/{meeting.pk}/edit/",
    ]:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")
    page.goto(asgi_live_server.url + "/staff/meetings/new/")
    page.locator("main form button.govuk-button").click()
    axe_check(page, context=f"meeting form errors ({language})")


def test_control_room_updates_live_and_its_buttons_work(page, asgi_live_server, staff):
    meeting = make_meeting(actor=staff, title="Cabinet")
    services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    item = services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    client = Client()
    client.force_login(staff)
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": asgi_live_server.url,
            }
        ]
    )
    viewer = page.context.new_page()  # a resident watching the meeting page
    with viewer.expect_websocket():
        viewer.goto(asgi_live_server.url + meeting.get_absolute_url())
    with page.expect_websocket():
        page.goto(asgi_live_server.url + f"/staff/meetings/{meeting.pk}/control/")
    page.get_by_role("button", name="Go live").click()
    page.get_by_text("The meeting is live.").wait_for()
    page.get_by_role("button", name="2. Budget").click()
    page.get_by_text("Now on item 2.").wait_for()
    assert meeting.item_marks.get().item_id == item.pk
    # The resident's page follows without a reload.
    viewer.get_by_text("This meeting is being webcast now.").wait_for(timeout=10000)
    viewer.locator(f"#item-{item.pk}[aria-current=true]").wait_for(timeout=10000)
    page.get_by_role("button", name="Adjourn (show the slate)").click()
    page.get_by_role("button", name="Resume").wait_for()
    viewer.get_by_text("The meeting is adjourned.").wait_for(timeout=10000)
    viewer.close()

    # Health pushed by the supervisor (here: the service it calls) appears without a reload.
    page.wait_for_function("() => document.querySelector('[data-moot-stream^=webcast-control]')")

    def supervisor_reports() -> None:  # another thread: Playwright owns this one's event loop
        try:
            services.ingest_health_record(
                meeting_id=meeting.pk,
                health={"fps": 24.97, "bitrate_kbps": 3172.5, "speed": 1.01, "dropped": 3},
            )
        finally:
            connection.close()

    reporter = threading.Thread(target=supervisor_reports)
    reporter.start()
    reporter.join(timeout=10)
    page.locator("#ingest-health", has_text="3172.5").wait_for(timeout=10000)
    assert "24.97" in page.locator("#ingest-health").inner_text()
