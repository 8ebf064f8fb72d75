"""The question pages without JavaScript: asking, voting and reading as plain forms; staff pages
refuse everyone else; bad input gets a 4xx with a clear message and changes nothing; every view
keeps an HTML payload inert."""

import re

import pytest
from django.test import Client

from engagement.audit.models import AuditEntry
from tests.factories import make_user
from webcast.questions import services
from webcast.questions.models import Question, Vote

from .factories import approved, ask

pytestmark = pytest.mark.django_db
S = Question.State


def feed_url(meeting) -> str:
    return f"/meetings/{meeting.pk}/questions/"


def staff_url(meeting, rest: str = "") -> str:
    return f"/staff/meetings/{meeting.pk}/questions/{rest}"


def test_a_resident_asks_without_javascript(meeting, resident_client):
    page = resident_client.get(feed_url(meeting))
    assert page.status_code == 200
    assert f'action="/meetings/{meeting.pk}/questions/ask/"' in page.content.decode()
    item = meeting.items.get(number="2")
    response = resident_client.post(
        feed_url(meeting) + "ask/",
        {"text": "What happens to the library?", "item": item.pk, "display_name": "Rhian"},
        follow=True,
    )
    assert response.redirect_chain == [(feed_url(meeting) + "#ask", 302)]
    body = response.content.decode()
    assert "Your question will appear once council staff have checked it." in body
    assert "What happens to the library?" in body  # under "Your questions not on the list"
    assert "Waiting to be checked" in body
    question = Question.objects.get()
    assert (question.item, question.state, question.display_name) == (item, S.PENDING, "Rhian")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "", "display_name": "R"}, "Enter your question."),
        ({"text": "x" * 281, "display_name": "R"}, "280 characters or fewer (it has 281)"),
        ({"text": "<script>alert(1)</script>", "display_name": "R"}, "Remove the HTML"),
        ({"text": "Tab\u0007bell", "display_name": "R"}, "hidden control character (U+0007)"),
        ({"text": "Fine?", "display_name": ""}, "Enter the name to show"),
        ({"text": "Fine?", "display_name": "R", "item": "999999"}, "Choose an item"),
        ({"text": "Fine?", "display_name": "R", "item": "abc"}, "Choose an item"),
    ],
)
def test_bad_questions_get_a_400_and_nothing_is_stored(meeting, resident_client, data, message):
    response = resident_client.post(feed_url(meeting) + "ask/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "govuk-error-summary" in response.content.decode()
    assert Question.objects.count() == 0


@pytest.mark.usefixtures("one_window")
def test_the_rate_limit_says_so_with_a_429(meeting, resident_client):
    for n in range(3):
        data = {"text": f"Question {n}?", "display_name": "R"}
        assert resident_client.post(feed_url(meeting) + "ask/", data).status_code == 302
    response = resident_client.post(feed_url(meeting) + "ask/", {"text": "4?", "display_name": "R"})
    assert response.status_code == 429
    assert "Wait a minute, then ask again." in response.content.decode()
    assert Question.objects.count() == 3


def test_signed_out_visitors_read_and_are_sent_to_sign_in(meeting, resident, staff, client):
    approved(meeting, resident, staff, text="Visible question?")
    page = client.get(feed_url(meeting)).content.decode()
    assert "Visible question?" in page
    assert "Sign in to ask a question" in page
    response = client.post(feed_url(meeting) + "ask/", {"text": "Hi?", "display_name": "X"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Question.objects.count() == 1


def test_voting_and_withdrawing_as_plain_forms(meeting, resident, staff, resident_client):
    question = approved(meeting, make_user(), staff)
    url = f"{feed_url(meeting)}{question.pk}/vote/"
    response = resident_client.post(url, {"action": "add"})
    assert response.status_code == 302
    assert response["Location"] == f"{feed_url(meeting)}#question-{question.pk}"
    page = resident_client.get(feed_url(meeting)).content.decode()
    assert "Withdraw my vote" in page
    assert "1 vote" in page
    assert resident_client.post(url, {"action": "remove"}).status_code == 302
    assert Vote.objects.count() == 0
    question.refresh_from_db()
    assert question.vote_count == 0


def test_a_vote_with_htmx_returns_just_the_button(meeting, staff, resident_client):
    question = approved(meeting, make_user(), staff)
    response = resident_client.post(
        f"{feed_url(meeting)}{question.pk}/vote/", {"action": "add"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<div class="moot-question__vote"><form')
    assert 'value="remove"' in body
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]


def test_bad_votes_get_a_4xx_and_change_nothing(meeting, resident, staff, resident_client):
    from tests.webcast.factories import make_meeting
    from webcast import services as webcast_services

    pending = ask(meeting, make_user())
    other = make_meeting(actor=staff)
    webcast_services.agenda_item_create(actor=staff, meeting=other, number="1", title="X")
    elsewhere = approved(other, make_user(), staff, text="Elsewhere?")
    base = feed_url(meeting)
    cases = [
        (f"{base}{pending.pk}/vote/", {"action": "add"}, 400, "not open for votes"),
        (f"{base}{elsewhere.pk}/vote/", {"action": "add"}, 400, "not one of this meeting"),
        (f"{base}999999/vote/", {"action": "add"}, 404, "There is no such question."),
        (f"{base}{elsewhere.pk}/vote/", {"action": "boost"}, 400, "add or withdraw"),
    ]
    for url, data, status, message in cases:
        response = resident_client.post(url, data)
        assert response.status_code == status, url
        assert message in response.content.decode()
    assert Vote.objects.count() == 0
    assert resident_client.get(f"{base}{pending.pk}/vote/").status_code == 405


def test_staff_pages_refuse_residents_and_signed_out_visitors(meeting, resident, resident_client):
    question = ask(meeting, resident)
    for url in [
        staff_url(meeting),
        staff_url(meeting, "chair/"),
        staff_url(meeting, "settings/"),
        staff_url(meeting, f"{question.pk}/"),
    ]:
        assert resident_client.get(url).status_code == 403, url
        assert Client().get(url).status_code == 302, url
    for action in ["approve", "hide", "reject", "ban", "answering"]:
        url = staff_url(meeting, f"{question.pk}/act/")
        response = resident_client.post(url, {"action": action})
        assert response.status_code == 403
    response = resident_client.post(
        staff_url(meeting, f"{question.pk}/"), {"action": "edit-approve", "text": "Changed"}
    )
    assert response.status_code == 403
    question.refresh_from_db()
    assert (question.state, question.text) == (S.PENDING, "Why is the lido closed?")
    assert not AuditEntry.objects.filter(action__startswith="question").exists()


def test_staff_without_two_factor_are_sent_to_set_it_up(meeting):
    from engagement.accounts.models import Role

    client = Client()
    client.force_login(make_user(roles=(Role.STAFF,), totp=False))
    assert client.get(staff_url(meeting)).status_code == 302


def test_staff_moderate_without_javascript(meeting, resident, staff, staff_client):
    question = ask(meeting, resident, "Why is teh lido closed?")
    queue = staff_client.get(staff_url(meeting)).content.decode()
    assert "Why is teh lido closed?" in queue
    assert "resident@example.org" in queue
    response = staff_client.post(
        staff_url(meeting, f"{question.pk}/"),
        {"action": "edit-approve", "text": "Why is the lido closed?", "item": ""},
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.state, question.text) == (S.APPROVED, "Why is the lido closed?")
    # A second moderator with the stale page presses approve: told, nothing changes.
    response = staff_client.post(staff_url(meeting, f"{question.pk}/act/"), {"action": "approve"})
    assert response.status_code == 409
    assert "someone may have acted on it first" in response.content.decode()
    # ...or rejects from the same stale queue (the form says it showed the question waiting).
    response = staff_client.post(
        staff_url(meeting, f"{question.pk}/act/"), {"action": "reject", "seen": "pending"}
    )
    assert response.status_code == 409
    question.refresh_from_db()
    assert question.state == S.APPROVED
    response = staff_client.post(
        staff_url(meeting, f"{question.pk}/act/"), {"action": "reject", "reason": "Duplicate"}
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.state, question.reject_reason) == (S.REJECTED, "Duplicate")
    response = staff_client.post(staff_url(meeting, f"{question.pk}/act/"), {"action": "nonsense"})
    assert response.status_code == 400


def test_merge_and_bad_merge_targets(meeting, staff, staff_client):
    keep = approved(meeting, make_user(), staff, text="Keep?")
    duplicate = ask(meeting, make_user(), "Duplicate?")
    url = staff_url(meeting, f"{duplicate.pk}/")
    assert staff_client.post(url, {"action": "merge", "into": "x"}).status_code == 400
    assert staff_client.post(url, {"action": "merge", "into": duplicate.pk}).status_code == 400
    duplicate.refresh_from_db()
    assert duplicate.state == S.PENDING
    assert staff_client.post(url, {"action": "merge", "into": keep.pk}).status_code == 302
    duplicate.refresh_from_db()
    assert (duplicate.state, duplicate.merged_into) == (S.MERGED, keep)


def test_settings_page(meeting, staff_client):
    url = staff_url(meeting, "settings/")
    assert staff_client.get(url).status_code == 200
    bad = staff_client.post(url, {"moderation": "post", "accepting": "on", "hashtag": "#a b"})
    assert bad.status_code == 400
    assert "Enter a hashtag" in bad.content.decode()
    good = staff_client.post(url, {"moderation": "post", "accepting": "on", "hashtag": "Lido"})
    assert good.status_code == 302
    assert meeting.question_settings.hashtag == "#Lido"


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "<svg/onload=alert(1)>",
]


def test_html_from_social_posts_is_inert_on_every_view(live_meeting, staff, staff_client, client):
    meeting = live_meeting
    questions = [
        services.question_from_social(
            meeting=meeting,
            network="bluesky",
            external_id=f"at://{n}",
            author_handle=payload,
            author_name=payload,
            text=f"Q{n} {payload}",
        )
        for n, payload in enumerate(XSS)
    ]
    for question in questions[:2]:
        services.question_approve(actor=staff, question=question)
    services.question_answering(actor=staff, question=questions[0])
    pages = [
        client.get(feed_url(meeting)),
        client.get(feed_url(meeting) + "projector/"),
        client.get(meeting.get_absolute_url()),
        staff_client.get(staff_url(meeting)),
        staff_client.get(staff_url(meeting, "chair/")),
        staff_client.get(staff_url(meeting, f"{questions[1].pk}/")),
    ]
    from engagement.realtime.models import StreamEvent

    pushed = [e.html for e in StreamEvent.objects.filter(stream__startswith="questions")]
    for body in [p.content.decode() for p in pages] + pushed:
        assert "<script>alert" not in body
        assert "<img src=x" not in body
        assert "<svg/onload" not in body
        assert not re.search(r'href="javascript:', body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].content.decode()


def test_staff_add_a_question_from_the_queue_page(meeting, staff_client, resident_client):
    url = staff_url(meeting, "add/")
    assert resident_client.post(url, {"text": "By phone?"}).status_code == 403
    bad = staff_client.post(url, {"text": "x" * 281})
    assert bad.status_code == 400
    assert "280 characters or fewer" in bad.content.decode()
    assert Question.objects.count() == 0
    good = staff_client.post(url, {"text": "By phone?", "display_name": "Mr Jones"})
    assert good.status_code == 302
    assert Question.objects.get().public_name == "Mr Jones"


@pytest.mark.parametrize("who", ["visitor", "resident", "staff"])
def test_busy_pages_make_the_same_number_of_queries_for_more_questions(
    meeting, resident, staff, who
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    if who != "visitor":
        client.force_login(resident if who == "resident" else staff)
    url = staff_url(meeting) if who == "staff" else feed_url(meeting)
    item = meeting.items.first()

    def add(n: int) -> None:
        for i in range(n):
            question = Question.objects.create(
                meeting=meeting, author=make_user(), text=f"Q{i}?", display_name="A", item=item
            )
            if i % 2:
                services.question_approve(actor=staff, question=question)

    add(2)
    client.get(url)  # per-process caches (council and question settings) filled
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add(12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_htmx_votes_get_their_error_beside_the_button(meeting, staff, resident_client, client):
    question = approved(meeting, make_user(), staff)
    url = f"{feed_url(meeting)}{question.pk}/vote/"
    services.question_hide(actor=staff, question=question)
    response = resident_client.post(url, {"action": "add"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert 'class="govuk-error-message" role="alert"' in response.content.decode()
    assert "This question is not open for votes." in response.content.decode()
    signed_out = client.post(url, {"action": "add"}, HTTP_HX_REQUEST="true")
    assert signed_out.status_code == 204
    assert signed_out["HX-Redirect"].startswith("/accounts/login/?next=")
    assert Vote.objects.count() == 0


def test_the_api_lists_public_questions_only_and_links_answers(live_meeting, resident, staff):
    meeting = live_meeting
    ask(meeting, resident, "Still waiting?")
    answered = approved(meeting, resident, staff, text="Taken <now>?".replace("<now>", "now"))
    services.question_vote(meeting=meeting, question=answered, user=resident)
    services.question_answering(actor=staff, question=answered)
    approved(meeting, make_user(), staff, text="Anonymous one?", anonymous=True)
    response = Client().get(f"/api/meetings/{meeting.pk}/questions/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["text"] for r in results] == ["Taken now?", "Anonymous one?"]
    first = results[0]
    assert (first["name"], first["votes"], first["state"]) == ("Rhian", 1, "answering")
    stamp = int(Question.objects.get(pk=first["id"]).answering_at.timestamp())
    assert first["recording_url"].endswith(f"/meetings/{meeting.pk}/?t={stamp}#player")
    assert results[1]["name"] == "Anonymous"
    assert "author" not in first
    assert "email" not in response.content.decode()
    assert Client().get("/api/meetings/999999/questions/").status_code == 404
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/meetings/{meeting_pk}/questions/" in schema.content
