"""The chair's view for councillors: the committee's chair and vice-chair mark questions "now
answering" and "answered" (audited like staff), its other members read the list, everyone else is
refused; the streams behind it follow the same rule; pushes never name who asked."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from engagement.accounts.models import Role
from engagement.audit.models import AuditEntry
from engagement.realtime.consumers import CLOSE_FORBIDDEN, StreamConsumer
from engagement.realtime.models import StreamEvent
from engagement.realtime.streams import may_watch
from tests.factories import CommitteeFactory, make_user
from webcast import services as webcast_services
from webcast.models import Meeting
from webcast.questions import services
from webcast.questions.models import Question

from .factories import approved, councillor

S = Question.State


@pytest.fixture
def people(meeting, resident, staff):
    committee = meeting.committee
    return {
        "anonymous": None,
        "resident": resident,
        "member": councillor(committee, "member"),
        "chair": councillor(committee, "chair"),
        "vice-chair": councillor(committee, "vice-chair"),
        "other chair": councillor(CommitteeFactory(), "chair"),
        "staff": staff,
    }


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def chair_url(meeting, rest: str = "") -> str:
    return f"/meetings/{meeting.pk}/questions/chair/{rest}"


EXPECTED_PAGE = {
    "anonymous": 302,
    "resident": 403,
    "member": 200,
    "chair": 200,
    "vice-chair": 200,
    "other chair": 403,
    "staff": 200,
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", EXPECTED_PAGE)
def test_who_may_open_the_chairs_view(live_meeting, people, staff, who):
    question = approved(live_meeting, make_user(), staff, text="Is the lido reopening?")
    response = client_for(people[who]).get(chair_url(live_meeting))
    assert response.status_code == EXPECTED_PAGE[who]
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    if response.status_code != 200:
        assert "Is the lido reopening?" not in response.content.decode()
        return
    body = response.content.decode()
    assert "Is the lido reopening?" in body
    assert question.author.email not in body  # councillors see the name shown, as residents do
    act = f'action="/meetings/{live_meeting.pk}/questions/chair/{question.pk}/act/"'
    if who == "member":
        assert act not in body
        assert "Questions in the meeting" in body
        assert f"questions-members.{live_meeting.pk}" in body
    else:
        assert body.count(act) == 2  # now answering, answered
        assert f"questions-chair.{live_meeting.pk}" in body
    # Never the moderation tools on this page.
    assert 'value="hide"' not in body
    assert "Edit or merge" not in body


EXPECTED_ACT = {
    "anonymous": 302,
    "resident": 403,
    "member": 403,
    "chair": 302,
    "vice-chair": 302,
    "other chair": 403,
    "staff": 302,
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", EXPECTED_ACT)
def test_who_may_mark_now_answering_and_answered(live_meeting, people, staff, who):
    question = approved(live_meeting, make_user(), staff)
    client = client_for(people[who])
    before = AuditEntry.objects.count()
    response = client.post(chair_url(live_meeting, f"{question.pk}/act/"), {"action": "answering"})
    assert response.status_code == EXPECTED_ACT[who]
    question.refresh_from_db()
    if EXPECTED_ACT[who] != 302 or who == "anonymous":
        assert question.state == S.APPROVED
        assert AuditEntry.objects.count() == before
        if who == "member":
            assert "anything else is for council staff" in response.content.decode()
        return
    assert response["Location"] == chair_url(live_meeting)
    assert question.state == S.ANSWERING
    entry = AuditEntry.objects.get(action="question.answering")
    assert (entry.actor, entry.changes["state"]) == (people[who], [S.APPROVED, S.ANSWERING])
    response = client.post(chair_url(live_meeting, f"{question.pk}/act/"), {"action": "answered"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.state == S.ANSWERED
    entry = AuditEntry.objects.get(action="question.answered")
    assert (entry.actor, entry.changes["state"]) == (people[who], [S.ANSWERING, S.ANSWERED])


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["approve", "restore", "hide", "reject", "ban", "edit", ""])
def test_the_chair_cannot_moderate(live_meeting, people, staff, resident, action):
    question = approved(live_meeting, resident, staff)
    before = AuditEntry.objects.count()
    chair = client_for(people["chair"])
    url = chair_url(live_meeting, f"{question.pk}/act/")
    response = chair.post(url, {"action": action, "reason": "No", "text": "Changed"})
    assert response.status_code == 403
    assert "anything else is for council staff" in response.content.decode()
    question.refresh_from_db()
    assert (question.state, question.text) == (S.APPROVED, "Why is the lido closed?")
    assert AuditEntry.objects.count() == before
    assert not live_meeting.bans.exists()
    # ...nor through the staff pages.
    for path, data in [
        (f"{question.pk}/act/", {"action": action or "hide"}),
        (f"{question.pk}/", {"action": "edit", "text": "Changed"}),
        ("settings/", {"moderation": "post", "accepting": "on"}),
    ]:
        url = f"/staff/meetings/{live_meeting.pk}/questions/{path}"
        assert chair.post(url, data).status_code == 403, url
    assert chair.get(f"/staff/meetings/{live_meeting.pk}/questions/").status_code == 403
    question.refresh_from_db()
    assert question.state == S.APPROVED
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_bad_requests_from_the_chair_change_nothing(live_meeting, people, staff):
    from tests.webcast.factories import make_meeting

    chair = client_for(people["chair"])
    question = approved(live_meeting, make_user(), staff)
    other = make_meeting(actor=staff, committee=live_meeting.committee)
    webcast_services.agenda_item_create(actor=staff, meeting=other, number="1", title="X")
    elsewhere = approved(other, make_user(), staff, text="Elsewhere?")
    # A question of another meeting, or none, through this meeting's URL.
    for pk in (elsewhere.pk, 999999):
        response = chair.post(chair_url(live_meeting, f"{pk}/act/"), {"action": "answering"})
        assert response.status_code == 404
    # The other meeting is not live: a clear 400.
    response = chair.post(chair_url(other, f"{elsewhere.pk}/act/"), {"action": "answering"})
    assert response.status_code == 400
    assert "The meeting is not live." in response.content.decode()
    # A stale page: someone else took the question first.
    services.question_answering(actor=staff, question=question)
    response = chair.post(
        chair_url(live_meeting, f"{question.pk}/act/"), {"action": "answering", "seen": "approved"}
    )
    assert response.status_code == 409
    assert "someone may have acted on it first" in response.content.decode()
    assert chair.get(chair_url(live_meeting, f"{question.pk}/act/")).status_code == 405
    elsewhere.refresh_from_db()
    question.refresh_from_db()
    assert (elsewhere.state, question.state) == (S.APPROVED, S.ANSWERING)
    assert not AuditEntry.objects.filter(actor=people["chair"]).exists()


@pytest.mark.django_db
def test_only_a_serving_councillor_on_the_committee_today(live_meeting, staff):
    committee = live_meeting.committee
    yesterday = timezone.localdate() - timedelta(days=1)
    former = councillor(committee, "chair", end_date=yesterday)
    future = councillor(committee, "chair", start_date=timezone.localdate() + timedelta(days=1))
    retired = councillor(committee, "chair")
    retired.councillor.is_active = False
    retired.councillor.save()
    suspended = councillor(committee, "chair")
    suspended.is_active = False
    suspended.save()
    current = councillor(
        committee, "vice-chair", start_date=yesterday, end_date=yesterday + timedelta(days=365)
    )
    for user in (former, future, retired):
        assert client_for(user).get(chair_url(live_meeting)).status_code == 403
    assert client_for(suspended).get(chair_url(live_meeting)).status_code == 302  # signed out
    assert client_for(current).get(chair_url(live_meeting)).status_code == 200


@pytest.mark.django_db
def test_the_staff_url_sends_councillors_to_theirs_and_keeps_working_for_staff(
    live_meeting, people, staff
):
    approved(live_meeting, make_user(), staff, text="Staff only?")
    staff_chair = f"/staff/meetings/{live_meeting.pk}/questions/chair/"
    for who in ("chair", "member"):
        response = client_for(people[who]).get(staff_chair)
        assert (response.status_code, response["Location"]) == (302, chair_url(live_meeting))
    assert client_for(people["other chair"]).get(staff_chair).status_code == 403
    assert client_for(people["resident"]).get(staff_chair).status_code == 403
    assert client_for(None).get(staff_chair).status_code == 302
    page = client_for(people["staff"]).get(staff_chair)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Staff only?" in body
    assert 'value="hide"' in body  # staff keep the moderation tools here
    assert "Edit or merge" in body
    assert f'href="{chair_url(live_meeting)}"' in body  # the link to send to the chair
    no_totp = make_user(roles=(Role.STAFF,), totp=False)
    assert client_for(no_totp).get(staff_chair)["Location"] == reverse("mfa_activate_totp")


@pytest.mark.django_db
def test_the_feed_links_committee_councillors_to_the_chairs_view(meeting, people):
    link = f'href="{chair_url(meeting)}"'
    for who, text in [("chair", "The chair's view"), ("member", "Your committee")]:
        body = client_for(people[who]).get(f"/meetings/{meeting.pk}/questions/").content.decode()
        assert link in body
        assert text in body
    for who in ("resident", "other chair", "anonymous"):
        body = client_for(people[who]).get(f"/meetings/{meeting.pk}/questions/").content.decode()
        assert link not in body


@pytest.mark.django_db
def test_the_councillor_streams_follow_the_same_rule(live_meeting, people):
    key = live_meeting.pk
    chair_stream, members_stream = f"questions-chair.{key}", f"questions-members.{key}"
    expected = {
        "anonymous": (False, False),
        "resident": (False, False),
        "member": (False, True),
        "chair": (True, True),
        "vice-chair": (True, True),
        "other chair": (False, False),
        "staff": (True, True),
    }
    for who, (chair_ok, members_ok) in expected.items():
        user = people[who] or AnonymousUser()
        assert may_watch(user, chair_stream) is chair_ok, who
        assert may_watch(user, members_stream) is members_ok, who
        # The moderation stream (who asked, the queue) stays staff's alone.
        assert may_watch(user, f"questions-mod.{key}") is (who == "staff"), who
    for bad in ("questions-chair.999999", "questions-chair.abc", "questions-chair"):
        assert not may_watch(people["chair"], bad)


@pytest.mark.django_db
def test_pushes_to_councillors_carry_public_names_and_the_right_buttons(
    live_meeting, people, staff, resident, django_capture_on_commit_callbacks
):
    question = services.question_from_social(
        meeting=live_meeting,
        network="bluesky",
        external_id="at://1",
        author_handle='"><img src=x onerror=alert(1)>',
        text="<script>alert(1)</script> pushed?",
    )
    # The panels are coalesced snapshots, published after commit (at once: jobs are eager).
    with django_capture_on_commit_callbacks(execute=True):
        services.question_approve(actor=staff, question=question)
    page = client_for(people["chair"]).get(chair_url(live_meeting)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; pushed?" in page
    with django_capture_on_commit_callbacks(execute=True):
        services.question_answering(actor=people["chair"], question=question)
    chair_events = StreamEvent.objects.filter(stream=f"questions-chair.{live_meeting.pk}")
    member_events = StreamEvent.objects.filter(stream=f"questions-members.{live_meeting.pk}")
    assert list(chair_events.values_list("event", flat=True)) == ["questions.chair"] * 2
    assert member_events.count() == 2
    act = f'hx-post="/meetings/{live_meeting.pk}/questions/chair/{question.pk}/act/"'
    answered = chair_events.last().html
    assert act in answered
    assert 'value="answered"' in answered
    assert act not in member_events.last().html
    for html in [e.html for e in chair_events] + [e.html for e in member_events]:
        assert "/staff/" not in html
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; pushed?" in html
        assert 'id="chair-list" class="govuk-list moot-questions" hx-swap-oob="true"' in html
    # A question waiting for moderation is not the councillors' business: no push.
    from .factories import ask

    with django_capture_on_commit_callbacks(execute=True):
        ask(live_meeting, make_user(), "Waiting?")
    assert chair_events.count() == 2


@pytest.mark.django_db
def test_late_joining_chair_page_plus_events_equals_a_fresh_page(
    live_meeting, people, staff, django_capture_on_commit_callbacks
):
    chair = client_for(people["chair"])
    with django_capture_on_commit_callbacks(execute=True):
        approved(live_meeting, make_user(), staff, text="Early?")
    early = chair.get(chair_url(live_meeting)).content.decode()
    stream = f"questions-chair.{live_meeting.pk}"
    marker = int(early.split(f'data-moot-stream="{stream}" data-moot-seq="')[1].split('"')[0])
    with django_capture_on_commit_callbacks(execute=True):
        later = approved(live_meeting, make_user(), staff, text="Later?")
    with django_capture_on_commit_callbacks(execute=True):
        services.question_answering(actor=people["chair"], question=later)
    last = StreamEvent.objects.filter(stream=stream, seq__gt=marker).order_by("seq").last()
    fresh = chair.get(chair_url(live_meeting)).content.decode()

    def panels(html: str) -> str:
        start = html.index('<div id="chair-now"')
        end = html.index("</ol>", html.index('<ol id="answered-list"')) + len("</ol>")
        html = html[start:end].replace(' hx-swap-oob="true"', "")
        return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', "", html)

    # Each snapshot renders the panels whole, so the last one is the state.
    assert last.event == "questions.chair"
    assert panels(last.html) == panels(fresh)
    assert "Later?" in panels(fresh)


@pytest.mark.django_db
def test_the_chairs_page_makes_the_same_number_of_queries_for_more_questions(
    live_meeting, people, staff
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    chair = client_for(people["chair"])
    for n in range(2):
        approved(live_meeting, make_user(), staff, text=f"Q{n}?")
    chair.get(chair_url(live_meeting))
    with CaptureQueriesContext(connection) as few:
        assert chair.get(chair_url(live_meeting)).status_code == 200
    for n in range(10):
        approved(live_meeting, make_user(), staff, text=f"More {n}?")
    with CaptureQueriesContext(connection) as many:
        assert chair.get(chair_url(live_meeting)).status_code == 200
    assert len(many) == len(few)


def _communicator(stream: str, user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), f"/ws/streams/?s={stream}")
    communicator.scope["user"] = user or AnonymousUser()
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_the_chair_receives_pushes_and_others_are_refused(meeting, staff):
    def setup():
        live = webcast_services.meeting_transition(
            actor=staff, meeting=meeting, to=Meeting.Status.LIVE
        )
        chair = councillor(meeting.committee, "chair")
        member = councillor(meeting.committee, "member")
        outsider = councillor(CommitteeFactory(), "chair")
        return live, chair, member, outsider

    live, chair, member, outsider = await database_sync_to_async(setup)()
    stream = f"questions-chair.{live.pk}"
    refused = [(stream, member), (stream, outsider), (f"questions-members.{live.pk}", outsider)]
    for name, user in refused:
        assert await _communicator(name, user).connect() == (False, CLOSE_FORBIDDEN)
    watcher = _communicator(stream, chair)
    assert (await watcher.connect())[0]
    reader = _communicator(f"questions-members.{live.pk}", member)
    assert (await reader.connect())[0]
    await database_sync_to_async(
        lambda: approved(live, make_user(), staff, text="Live for the chair?")
    )()
    pushed = await watcher.receive_from(timeout=3)
    assert "Live for the chair?" in pushed
    assert 'value="answering"' in pushed
    read = await reader.receive_from(timeout=3)
    assert "Live for the chair?" in read
    assert 'value="answering"' not in read
    await watcher.disconnect()
    await reader.disconnect()


class _HtmxAttributes(HTMLParser):
    """Collects the elements that send htmx requests and those that only carry a swap
    target, select or style for descendants to inherit."""

    def __init__(self) -> None:
        super().__init__()
        self.senders: list[dict[str, str | None]] = []
        self.inheritable: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if {"hx-post", "hx-get"} & found.keys():
            self.senders.append(found)
        elif {"hx-target", "hx-select", "hx-swap"} & found.keys():
            self.inheritable.append((tag, found))


@pytest.mark.django_db
def test_no_htmx_form_takes_its_swap_target_from_a_parent(live_meeting, people, staff, resident):
    """A form that inherits hx-target/hx-select from a parent loses them when a push removes
    it while its request runs, and htmx then swaps the whole page into the page. Every form on
    the live staff and chair pages (and the control room) carries its own."""
    question = approved(live_meeting, resident, staff)
    services.question_hide(actor=staff, question=approved(live_meeting, resident, staff, "Hid?"))
    services.question_answering(actor=staff, question=question)
    approved(live_meeting, resident, staff, text="Waiting for the chair?")
    from .factories import ask

    ask(live_meeting, make_user(), "Pending?")
    staff_client = client_for(staff)
    pages = [
        staff_client.get(f"/staff/meetings/{live_meeting.pk}/questions/"),
        staff_client.get(f"/staff/meetings/{live_meeting.pk}/questions/chair/"),
        staff_client.get(f"/staff/meetings/{live_meeting.pk}/control/"),
        client_for(people["chair"]).get(chair_url(live_meeting)),
    ]
    pushed = StreamEvent.objects.filter(stream__startswith="questions").values_list(
        "html", flat=True
    )
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    senders = 0
    for html in [p.content.decode() for p in pages] + list(pushed):
        parser = _HtmxAttributes()
        parser.feed(html)
        assert parser.inheritable == []
        for attrs in parser.senders:
            senders += 1
            assert attrs.get("hx-target"), attrs
            if attrs["hx-target"] == "#main-content":
                assert (attrs.get("hx-select"), attrs.get("hx-swap")) == (
                    "#main-content",
                    "outerHTML",
                )
    assert senders > 20


@pytest.mark.django_db
def test_the_chairs_view_follows_the_meeting_on_to_the_next_item_and_off_air(
    live_meeting, people, staff, django_capture_on_commit_callbacks
):
    """ "Now on item 2" puts item 2's questions first on every chair view, live; when the
    meeting ends the chair's buttons go."""
    budget = live_meeting.items.get(number="2")
    approved(live_meeting, make_user(), staff, text="About anything?")
    approved(live_meeting, make_user(), staff, text="About the budget?", item=budget)
    stream = f"questions-chair.{live_meeting.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        webcast_services.meeting_now_on_item(actor=staff, meeting=live_meeting, item=budget)
    for name in (
        stream,
        f"questions-members.{live_meeting.pk}",
        f"questions-mod.{live_meeting.pk}",
    ):
        pushed = StreamEvent.objects.filter(stream=name).order_by("seq").last()
        assert pushed.event in {"questions.chair", "questions.staff"}, name
        assert pushed.html.index("About the budget?") < pushed.html.index("About anything?")
        current = re.search(
            r'<li class="moot-question moot-question--current">.*?</li>', pushed.html, re.S
        )
        assert current is not None, name
        assert "About the budget?" in current.group(0), name
    assert 'value="answering"' in StreamEvent.objects.filter(stream=stream).last().html

    with django_capture_on_commit_callbacks(execute=True):
        webcast_services.meeting_transition(
            actor=staff, meeting=live_meeting, to=Meeting.Status.ENDED
        )
    assert 'value="answering"' not in StreamEvent.objects.filter(stream=stream).last().html


@pytest.mark.django_db
def test_the_chairs_panels_hold_the_top_of_the_list_and_staff_see_every_question(
    live_meeting, people, staff, monkeypatch
):
    """The live panels are re-rendered every tick while votes come in, so they hold the top
    ``CHAIR_LIMIT`` approved questions and say how many more there are; the staff page lists
    every one, each with its edit link."""
    from webcast.questions import selectors

    monkeypatch.setattr(selectors, "CHAIR_LIMIT", 3)
    monkeypatch.setattr(selectors, "ANSWERED_LIMIT", 1)
    voters = [make_user() for _ in range(2)]
    questions = [
        approved(live_meeting, make_user(), staff, text=f"Question {n}?") for n in range(5)
    ]
    for voter in voters:  # question 4 on top, then question 3
        services.question_vote(meeting=live_meeting, question=questions[4], user=voter)
    services.question_vote(meeting=live_meeting, question=questions[3], user=voters[0])

    page = client_for(people["chair"]).get(chair_url(live_meeting)).content.decode()
    chair_list = page.split('id="chair-list"')[1].split("</ol>")[0]
    assert re.findall(r"Question (\d)\?", chair_list) == ["4", "3", "0"]
    assert "And 2 more approved questions, with fewer votes." in chair_list

    staff_page = client_for(staff).get(f"/staff/meetings/{live_meeting.pk}/questions/")
    full = staff_page.content.decode().split("All 5 approved questions")[1].split("</ol>")[0]
    assert re.findall(r"all-text-\d+\">Question (\d)\?", full) == ["4", "3", "0", "1", "2"]
    for question in questions:
        assert f"/staff/meetings/{live_meeting.pk}/questions/{question.pk}/" in full

    for question in questions[:2]:
        services.question_answering(actor=staff, question=question)
        services.question_answered(actor=staff, question=question)
    page = client_for(people["chair"]).get(chair_url(live_meeting)).content.decode()
    answered = page.split('id="answered-list"')[1].split("</ol>")[0]
    assert "1 earlier answered question is not shown." in answered
    assert re.findall(r"Question (\d)\?", answered) == ["1"]
