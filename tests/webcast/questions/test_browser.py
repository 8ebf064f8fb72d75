"""The question feed in a real Chromium: a resident asks, a moderator approves in a second
browser, a third viewer sees it appear without reloading, and votes reach everyone; axe-core
finds nothing on any question page."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation

from tests.factories import make_user
from webcast import services as webcast_services
from webcast.models import Meeting
from webcast.questions import services

from .factories import approved, ask, councillor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in(browser, base: str, user, language: str = "en-gb"):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    cookies = [{"name": "django_language", "value": language, "url": base}]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookies.append(
            {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}
        )
    context.add_cookies(cookies)
    return context


def in_thread(fn) -> None:
    """Run ORM work in another thread (Playwright owns this thread's event loop)."""

    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=20)


def test_ask_approve_and_see_it_appear_live(browser, asgi_live_server, meeting, resident, staff):
    base = asgi_live_server.url
    feed = f"{base}/meetings/{meeting.pk}/questions/"
    viewer_context = signed_in(browser, base, None)
    viewer = viewer_context.new_page()
    with viewer.expect_websocket():
        viewer.goto(feed + "?order=newest")
    viewer.wait_for_function("() => document.querySelector('[data-moot-stream^=questions]')")

    resident_context = signed_in(browser, base, resident)
    asker = resident_context.new_page()
    asker.goto(feed)
    asker.get_by_label("Your question", exact=True).fill("Will the library keep its Sunday hours?")
    asker.get_by_label("Which part of the meeting is it about?").select_option(label="2. Budget")
    asker.get_by_role("button", name="Send my question").click()
    asker.get_by_text("Your question will appear once council staff have checked it.").wait_for()

    staff_context = signed_in(browser, base, staff)
    moderator = staff_context.new_page()
    with moderator.expect_websocket():
        moderator.goto(f"{base}/staff/meetings/{meeting.pk}/questions/")
    card = moderator.locator("#queue-pending li", has_text="Sunday hours")
    card.get_by_role("button", name="Approve").click()
    moderator.get_by_text("The question is approved.").wait_for()
    # The card left the queue by a push while the request ran; the page is swapped whole once.
    assert moderator.locator("main").count() == 1
    moderator.locator("#chair-list", has_text="Sunday hours").wait_for()

    shown = viewer.locator("#questions-newest-all li", has_text="Sunday hours")
    shown.wait_for(timeout=10000)
    assert viewer.locator("#questions-empty").count() == 0

    # The resident votes with the button (htmx); the count reaches the viewer (coalesced).
    asker.goto(feed)
    asker.get_by_role("button", name="Vote for this question").click()
    asker.get_by_role("button", name="Withdraw my vote").wait_for()
    shown.locator(".moot-question__count", has_text="1 vote").wait_for(timeout=10000)
    for context in (viewer_context, resident_context, staff_context):
        context.close()


def test_the_queue_shows_new_questions_and_another_moderators_work_live(
    browser, asgi_live_server, meeting, resident, staff
):
    base = asgi_live_server.url
    context = signed_in(browser, base, staff)
    page = context.new_page()
    with page.expect_websocket():
        page.goto(f"{base}/staff/meetings/{meeting.pk}/questions/")
    page.wait_for_function("() => document.querySelector('[data-moot-stream^=questions-mod]')")
    holder = {}
    in_thread(lambda: holder.update(q=ask(meeting, resident, "Arrives while I watch?")))
    page.locator("#queue-pending li", has_text="Arrives while I watch?").wait_for(timeout=10000)
    # Another moderator rejects it: it leaves this moderator's queue at once.
    in_thread(lambda: services.question_reject(actor=staff, question=holder["q"], reason="Dup"))
    page.locator("#queue-pending li", has_text="Arrives while I watch?").wait_for(
        state="detached", timeout=10000
    )
    context.close()


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_question_pages_have_no_axe_violations(
    browser, asgi_live_server, axe_check, meeting, resident, staff, language
):
    base = asgi_live_server.url
    webcast_services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.LIVE)
    first = approved(meeting, resident, staff, text="Is the pool reopening in spring?")
    approved(meeting, resident, staff, text="What about https://example.org/plan?", anonymous=True)
    waiting = services.question_from_social(
        meeting=meeting,
        network="mastodon",
        external_id="1",
        author_handle="@ann@example.social",
        text="Bins? #PlanningLive",
        url="https://example.social/@ann/1",
    )
    services.question_vote(meeting=meeting, question=first, user=resident)
    services.question_answering(actor=staff, question=first)
    chair = councillor(meeting.committee, "chair")
    member = councillor(meeting.committee, "member")
    pages = {
        None: [
            f"/meetings/{meeting.pk}/questions/",
            f"/meetings/{meeting.pk}/questions/projector/",
        ],
        resident: [
            f"/meetings/{meeting.pk}/questions/",
            f"/meetings/{meeting.pk}/questions/?order=newest&item={meeting.items.first().pk}",
            meeting.get_absolute_url(),
        ],
        staff: [
            f"/staff/meetings/{meeting.pk}/questions/",
            f"/staff/meetings/{meeting.pk}/questions/chair/",
            f"/staff/meetings/{meeting.pk}/questions/settings/",
            f"/staff/meetings/{meeting.pk}/questions/{waiting.pk}/",
            f"/staff/meetings/{meeting.pk}/control/",
        ],
        chair: [f"/meetings/{meeting.pk}/questions/chair/"],
        member: [f"/meetings/{meeting.pk}/questions/chair/"],
    }
    for user, paths in pages.items():
        context = signed_in(browser, base, user, language)
        page = context.new_page()
        for path in paths:
            page.goto(base + path)
            axe_check(page, context=f"{path} as {user} ({language})")
        if user == resident:
            page.goto(base + f"/meetings/{meeting.pk}/questions/")
            with translation.override(language):
                send = translation.gettext("Send my question")  # the page is in ``language``
            page.get_by_role("button", name=send).click()
            page.locator(".govuk-error-summary").wait_for()
            axe_check(page, context=f"ask form errors ({language})")
        context.close()


def test_now_answering_waits_for_a_viewer_whose_video_is_behind(
    browser, asgi_live_server, live_meeting, resident, staff
):
    """The banner carries the moment the question was taken; a player (here a stand-in for
    webcast/player.js, which reports the program date time it is playing) that has not reached
    it keeps the banner hidden until it does."""
    meeting = live_meeting
    question = approved(meeting, resident, staff, text="Is the pool reopening?")
    base = asgi_live_server.url
    context = signed_in(browser, base, None)
    page = context.new_page()
    with page.expect_websocket():
        page.goto(base + meeting.get_absolute_url())
    page.wait_for_function("() => document.querySelector('[data-moot-stream^=questions]')")
    page.evaluate(
        "() => { window.mootPlayer = { playingDate: () => new Date(Date.now() - 60000) }; }"
    )
    in_thread(lambda: services.question_answering(actor=staff, question=question))
    banner = page.locator("#questions-now")
    banner.get_by_text("Is the pool reopening?").wait_for(state="attached", timeout=10000)
    assert banner.get_attribute("data-waiting") == "true"
    assert not banner.is_visible()
    page.evaluate(
        "() => { window.mootPlayer.playingDate = () => new Date(Date.now() + 1000);"
        " document.getElementById('questions-now').dispatchEvent("
        "   new CustomEvent('htmx:oobAfterSwap', {bubbles: true})); }"
    )
    banner.get_by_text("Is the pool reopening?").wait_for(state="visible", timeout=5000)
    context.close()


def test_a_refused_vote_says_why_next_to_the_button(
    browser, asgi_live_server, meeting, resident, staff
):
    approved(meeting, make_user(), staff, text="Votes close with the meeting?")
    base = asgi_live_server.url
    context = signed_in(browser, base, resident)
    page = context.new_page()
    page.goto(f"{base}/meetings/{meeting.pk}/questions/")
    in_thread(
        lambda: webcast_services.meeting_transition(
            actor=staff, meeting=meeting, to=Meeting.Status.ENDED
        )
    )
    page.get_by_role("button", name="Vote for this question").click()
    page.get_by_role("alert").filter(
        has_text="This meeting has ended: votes are closed."
    ).wait_for()
    assert page.get_by_role("button", name="Vote for this question").count() == 1
    context.close()


def test_most_votes_first_follows_the_pushed_counts(browser, asgi_live_server, meeting, staff):
    """An English and a Welsh page each get the pushed count in their own language, whatever
    language the voter's request ran in."""
    older = approved(meeting, make_user(), staff, text="Older question?")
    newer = approved(meeting, make_user(), staff, text="Newer question?")
    base = asgi_live_server.url
    contexts = {language: signed_in(browser, base, None, language) for language in ("en-gb", "cy")}
    pages = {language: context.new_page() for language, context in contexts.items()}
    order = (
        "() => Array.from(document.querySelectorAll('#questions-top-all > li')).map(li => li.id)"
    )
    for page in pages.values():
        with page.expect_websocket():
            page.goto(f"{base}/meetings/{meeting.pk}/questions/")
        page.wait_for_function("() => document.querySelector('[data-moot-stream^=questions]')")
        assert page.evaluate(order) == [f"question-{older.pk}", f"question-{newer.pk}"]
    voter = make_user()

    def vote_in_welsh() -> None:
        with translation.override("cy"):
            services.question_vote(meeting=meeting, question=newer, user=voter)

    # One vote: with Celery eager in tests the coalesced snapshot goes out at once, not after
    # the tick, so a second vote in the same tick would wait for the next change.
    in_thread(vote_in_welsh)
    for language, count in (("en-gb", "1 vote"), ("cy", "1 pleidlais")):
        pages[language].locator(f"#question-{newer.pk}-votes", has_text=count).wait_for(
            timeout=10000
        )
        pages[language].wait_for_function(
            f"() => document.querySelector('#questions-top-all > li').id === 'question-{newer.pk}'"
        )
    for context in contexts.values():
        context.close()


def test_the_chair_marks_now_answering_and_staff_see_it_live(
    browser, asgi_live_server, live_meeting, resident, staff
):
    """The councillor who chairs presses "Now answering": the push that re-renders the list
    removes the pressed form while its request runs, and the page is still swapped once (the
    form carries its own target). Staff's chair view follows live; a refused action (the
    meeting has ended meanwhile) shows why."""
    meeting = live_meeting
    approved(meeting, resident, staff, text="Will the bridge reopen?")
    approved(meeting, resident, staff, text="Who pays for the flood wall?")
    chair = councillor(meeting.committee, "chair")
    base = asgi_live_server.url
    staff_context = signed_in(browser, base, staff)
    watcher = staff_context.new_page()
    with watcher.expect_websocket():
        watcher.goto(f"{base}/staff/meetings/{meeting.pk}/questions/chair/")
    watcher.wait_for_function("() => document.querySelector('[data-moot-stream^=questions-mod]')")
    chair_context = signed_in(browser, base, chair)
    page = chair_context.new_page()
    with page.expect_websocket():
        page.goto(f"{base}/meetings/{meeting.pk}/questions/chair/")
    page.wait_for_function("() => document.querySelector('[data-moot-stream^=questions-chair]')")
    card = page.locator("#chair-list li", has_text="Will the bridge reopen?")
    card.get_by_role("button", name="Now answering").click()
    page.get_by_text("Now answering the question.").wait_for()
    assert page.locator("main").count() == 1
    assert page.locator("header.govuk-header").count() == 1
    page.locator("#chair-now", has_text="Will the bridge reopen?").wait_for()
    watcher.locator("#chair-now", has_text="Will the bridge reopen?").wait_for(timeout=10000)
    assert watcher.locator("#chair-list li", has_text="Will the bridge reopen?").count() == 0

    # The chair's page stops hearing pushes (as if its connection were lost), so it still shows
    # the buttons when the meeting ends; the watcher's page loses them live.
    page.evaluate(
        """() => document.body.addEventListener("htmx:wsBeforeMessage", (evt) => {
            evt.preventDefault();
            evt.stopPropagation();
        }, { capture: true })"""
    )
    in_thread(
        lambda: webcast_services.meeting_transition(
            actor=staff, meeting=meeting, to=Meeting.Status.ENDED
        )
    )
    watcher.locator("#chair-list button", has_text="Now answering").first.wait_for(
        state="detached", timeout=10000
    )
    other = page.locator("#chair-list li", has_text="Who pays for the flood wall?")
    other.get_by_role("button", name="Now answering").click()
    page.locator(".govuk-notification-banner", has_text="The meeting is not live.").wait_for()
    assert page.locator("main").count() == 1
    for context in (staff_context, chair_context):
        context.close()


def test_a_viewer_that_misses_a_message_gets_it_again_in_order_without_reloading(
    browser, asgi_live_server, meeting, resident, staff
):
    """An event stored but never delivered (lost on the way): the next one arrives ahead of
    it, the page holds that back, asks the server to replay from the last number it applied,
    and shows both in order, without a reload."""
    from django.template.loader import render_to_string
    from django.utils import timezone

    from engagement.realtime.models import StreamCounter, StreamEvent
    from webcast.questions.models import Question

    base = asgi_live_server.url
    stream = f"questions.{meeting.pk}"
    in_thread(lambda: approved(meeting, resident, staff, text="Already there?"))
    context = signed_in(browser, base, None)
    viewer = context.new_page()
    with viewer.expect_websocket():
        viewer.goto(f"{base}/meetings/{meeting.pk}/questions/?order=newest")
    viewer.wait_for_function("() => document.querySelector('[data-moot-stream^=questions]')")
    viewer.evaluate("() => { window.notReloaded = true; }")

    def lose_one_then_publish_another() -> None:
        lost = Question.objects.create(
            meeting=meeting,
            author=resident,
            display_name="Rhian",
            text="Lost on the way?",
            state=Question.State.APPROVED,
            moderated_at=timezone.now(),
        )
        counter = StreamCounter.objects.get(stream=stream)
        counter.last_seq += 1
        counter.save()
        html = render_to_string("questions/includes/_pushed_added.html", {"question": lost})
        StreamEvent.objects.create(
            stream=stream, seq=counter.last_seq, event="question.approved", html=html
        )
        approved(meeting, resident, staff, text="Delivered live?")

    in_thread(lose_one_then_publish_another)
    newest = viewer.locator("#questions-newest-all li.moot-question")
    viewer.locator("#questions-newest-all", has_text="Lost on the way?").wait_for(timeout=10000)
    viewer.locator("#questions-newest-all", has_text="Delivered live?").wait_for(timeout=10000)
    # Applied in order: the later question is above the one it overtook.
    assert [t.split("\n")[0] for t in newest.all_inner_texts()] == [
        "Delivered live?",
        "Lost on the way?",
        "Already there?",
    ]
    assert viewer.evaluate("() => window.notReloaded") is True
    context.close()
