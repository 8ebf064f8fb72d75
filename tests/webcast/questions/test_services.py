"""The question services: asking with every kind of bad input, votes, moderation, the chair,
social questions, what is published live, and personal data."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.audit.models import AuditEntry
from engagement.realtime.models import StreamEvent
from webcast import services as webcast_services
from webcast.models import Meeting
from webcast.questions import selectors, services
from webcast.questions.models import Ban, FlagWord, Question, QuestionSettings, Vote

from .factories import approved, ask

pytestmark = pytest.mark.django_db
S = Question.State


def _events(stream: str) -> list[StreamEvent]:
    return list(StreamEvent.objects.filter(stream=stream).order_by("seq"))


def _settings(meeting, staff, **changes):
    values = {"moderation": "pre", "accepting": True, "closes_at": None, "hashtag": ""} | changes
    return services.question_settings_update(actor=staff, meeting=meeting, **values)


# --- asking --------------------------------------------------------------------------------------


def test_a_question_waits_for_moderation_by_default(meeting, resident):
    item = meeting.items.get(number="2")
    question = ask(meeting, resident, "  What will the\n budget  cut? ", item=item)
    assert question.state == S.PENDING
    assert question.text == "What will the budget cut?"
    assert question.item == item
    assert question.display_name == "Rhian"
    assert question.source == Question.Source.WEB
    assert _events(f"questions.{meeting.pk}") == []  # nothing public yet
    (staff_event,) = _events(f"questions-mod.{meeting.pk}")
    assert staff_event.event == "question.asked"
    assert 'hx-swap-oob="beforeend:#queue-pending"' in staff_event.html
    assert "What will the budget cut?" in staff_event.html
    assert "resident@example.org" in staff_event.html  # staff always know who asked


def test_anonymous_questions_never_show_the_name(meeting, resident, staff):
    question = approved(meeting, resident, staff, anonymous=True, display_name="Rhian")
    assert question.display_name == ""
    assert question.public_name == "Anonymous"
    (event,) = _events(f"questions.{meeting.pk}")
    assert "Rhian" not in event.html
    assert "Anonymous" in event.html


def test_post_moderation_shows_at_once_unless_a_flag_word_matches(meeting, resident, staff):
    _settings(meeting, staff, moderation="post")
    FlagWord.objects.create(word="rubbish")
    selectors.flag_words.forget()
    shown = ask(meeting, resident, "When is the bin collection changing?")
    held = ask(meeting, resident, "Why is the council RUBBISH at this?")
    assert shown.state == S.APPROVED
    assert held.state == S.PENDING
    assert held.flags == "rubbish"
    assert ask(meeting, resident, "Rubbishy roads?").flags == ""  # whole words only
    public = _events(f"questions.{meeting.pk}")
    assert [e.event for e in public] == ["questions.status", "question.asked", "question.asked"]
    assert "questions-top-all" in public[1].html
    assert "questions-newest-all" in public[1].html


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "text", "Enter your question."),
        ("   \n ", "text", "Enter your question."),
        ("x" * 281, "text", "Your question must be 280 characters or fewer (it has 281)."),
        ("Why\u202e?", "text", "Remove the hidden control character (U+202E) from this text."),
        ("Null\x00byte", "text", "Remove the hidden control character (U+0000) from this text."),
        ("<script>alert(1)</script>", "text", "Remove the HTML"),
        ('Look <img src=x onerror="alert(1)">', "text", "Remove the HTML"),
        ("Fish &amp; chips?", "text", "Remove the HTML"),
    ],
)
def test_bad_questions_are_refused_and_nothing_is_stored(meeting, resident, text, field, message):
    with pytest.raises(ValidationError) as caught:
        ask(meeting, resident, text)
    assert caught.value.message_dict[field][0].startswith(message)
    assert Question.objects.count() == 0
    assert StreamEvent.objects.filter(stream__startswith="questions").count() == 0


def test_280_characters_and_links_are_fine(meeting, resident):
    text = "See https://example.org/a?b=1&c=2 " + "x" * (280 - 34)
    assert len(text) == 280
    assert ask(meeting, resident, text).text == text


def test_a_name_is_needed_unless_anonymous(meeting, resident):
    with pytest.raises(ValidationError) as caught:
        ask(meeting, resident, display_name="")
    assert "display_name" in caught.value.message_dict
    with pytest.raises(ValidationError):
        ask(meeting, resident, display_name="<b>me</b>")
    assert ask(meeting, resident, display_name="", anonymous=True).public_name == "Anonymous"


def test_an_item_of_another_meeting_is_refused(meeting, resident, staff):
    from tests.webcast.factories import make_meeting

    other = make_meeting(actor=staff)
    item = webcast_services.agenda_item_create(actor=staff, meeting=other, number="1", title="X")
    with pytest.raises(ValidationError) as caught:
        ask(meeting, resident, item=item)
    assert caught.value.message_dict["item"] == ["Choose an item on this meeting's agenda."]
    assert Question.objects.count() == 0


def test_only_signed_in_residents_ask(meeting):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(services.QuestionError, match="Sign in to ask a question."):
        ask(meeting, AnonymousUser())


def test_closed_meetings_take_no_questions(meeting, resident, staff):
    _settings(meeting, staff, accepting=False)
    with pytest.raises(services.QuestionError, match="Questions for this meeting are closed."):
        ask(meeting, resident)
    _settings(meeting, staff, closes_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(services.QuestionError, match="closed at"):
        ask(meeting, resident)
    _settings(meeting, staff, closes_at=timezone.now() + timedelta(hours=1))
    assert ask(meeting, resident).state == S.PENDING
    webcast_services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.ENDED)
    meeting.refresh_from_db()
    with pytest.raises(services.QuestionError, match="This meeting has ended"):
        ask(meeting, resident)
    assert Question.objects.count() == 1


def test_questions_open_when_the_agenda_is_published(staff, resident):
    from tests.webcast.factories import make_meeting

    meeting = make_meeting(actor=staff)
    with pytest.raises(services.QuestionError, match="when the agenda is published"):
        ask(meeting, resident)
    webcast_services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Minutes")
    assert ask(meeting, resident).pk


@pytest.mark.usefixtures("one_window")
def test_asking_is_rate_limited_per_resident(meeting, resident):
    for n in range(3):
        ask(meeting, resident, f"Question {n}?")
    with pytest.raises(services.RateLimited, match="Wait a minute"):
        ask(meeting, resident, "Question 4?")
    assert Question.objects.count() == 3


@pytest.mark.usefixtures("one_window")
def test_asking_is_rate_limited_per_address(meeting, db):
    from tests.factories import make_user

    for n in range(services.ASK_LIMIT_IP[0]):
        ask(meeting, make_user(), f"Question {n}?", ip="192.0.2.1")
    with pytest.raises(services.RateLimited):
        ask(meeting, make_user(), "One more?", ip="192.0.2.1")
    assert ask(meeting, make_user(), "From elsewhere?", ip="192.0.2.2").pk
    assert Question.objects.count() == services.ASK_LIMIT_IP[0] + 1


# --- votes ---------------------------------------------------------------------------------------


def test_one_vote_per_resident_and_it_can_be_withdrawn(meeting, resident, other_resident, staff):
    question = approved(meeting, resident, staff)
    assert services.question_vote(meeting=meeting, question=question, user=other_resident)
    assert not services.question_vote(meeting=meeting, question=question, user=other_resident)
    assert services.question_vote(meeting=meeting, question=question, user=resident)
    question.refresh_from_db()
    assert question.vote_count == 2
    assert services.question_unvote(meeting=meeting, question=question, user=other_resident)
    assert not services.question_unvote(meeting=meeting, question=question, user=other_resident)
    question.refresh_from_db()
    assert question.vote_count == 1 == Vote.objects.filter(question=question).count()


def test_the_database_refuses_a_second_vote(meeting, resident, staff):
    question = approved(meeting, resident, staff)
    Vote.objects.create(question=question, user=resident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vote.objects.create(question=question, user=resident)


def test_votes_on_the_wrong_question_are_refused(meeting, resident, other_resident, staff):
    from tests.webcast.factories import make_meeting

    pending = ask(meeting, resident)
    with pytest.raises(services.QuestionError, match="not open for votes"):
        services.question_vote(meeting=meeting, question=pending, user=other_resident)
    other = make_meeting(actor=staff)
    webcast_services.agenda_item_create(actor=staff, meeting=other, number="1", title="X")
    elsewhere = approved(other, resident, staff, text="Elsewhere?")
    with pytest.raises(services.QuestionError, match="not one of this meeting's"):
        services.question_vote(meeting=meeting, question=elsewhere, user=other_resident)
    assert Vote.objects.count() == 0
    assert Question.objects.filter(vote_count__gt=0).count() == 0


def test_votes_close_with_the_meeting(meeting, resident, other_resident, staff):
    question = approved(meeting, resident, staff)
    webcast_services.meeting_transition(actor=staff, meeting=meeting, to=Meeting.Status.ENDED)
    meeting.refresh_from_db()
    with pytest.raises(services.QuestionError, match="votes are closed"):
        services.question_vote(meeting=meeting, question=question, user=other_resident)
    assert Vote.objects.count() == 0


@pytest.mark.usefixtures("one_window")
def test_voting_is_rate_limited(meeting, resident, staff, settings):
    questions = [
        services.question_approve(
            actor=staff,
            question=Question.objects.create(meeting=meeting, text=f"Q{n}", display_name="x"),
        )
        for n in range(services.VOTE_LIMIT_USER[0] + 1)
    ]
    for question in questions[:-1]:
        services.question_vote(meeting=meeting, question=question, user=resident)
    with pytest.raises(services.RateLimited, match="Wait a minute"):
        services.question_vote(meeting=meeting, question=questions[-1], user=resident)
    assert Vote.objects.count() == services.VOTE_LIMIT_USER[0]


def test_votes_reach_the_feed_as_count_snapshots_not_vote_events(
    meeting, resident, other_resident, staff, django_capture_on_commit_callbacks
):
    question = approved(meeting, resident, staff)
    before = StreamEvent.objects.filter(stream=f"questions.{meeting.pk}").count()
    with django_capture_on_commit_callbacks(execute=True):
        services.question_vote(meeting=meeting, question=question, user=resident)
        services.question_vote(meeting=meeting, question=question, user=other_resident)
    # No event per vote: the snapshot job publishes the counts. Jobs run at once in tests, so
    # each vote makes one here; queued, a tick's votes make one (tests/realtime: coalescing).
    events = list(StreamEvent.objects.filter(stream=f"questions.{meeting.pk}", seq__gt=before))
    assert {e.event for e in events} == {"questions.votes"}
    assert events[-1].payload == {"votes": {str(question.pk): 2}}
    assert f'id="question-{question.pk}-votes"' in events[-1].html
    assert "2 votes" in events[-1].html


def test_a_votes_snapshot_carries_only_the_counts_that_changed_since_the_last(
    meeting, resident, other_resident, staff
):
    from engagement.realtime.services import snapshot_publish

    first = approved(meeting, resident, staff, text="First?")
    second = approved(meeting, other_resident, staff, text="Second?")
    stream = f"questions.{meeting.pk}"
    services.question_vote(meeting=meeting, question=first, user=other_resident)
    services.question_vote(meeting=meeting, question=second, user=resident)
    assert snapshot_publish(stream=stream).payload == {
        "votes": {str(first.pk): 1, str(second.pk): 1}
    }
    assert snapshot_publish(stream=stream) is None  # nothing changed since
    services.question_unvote(meeting=meeting, question=second, user=resident)
    event = snapshot_publish(stream=stream)
    assert event.payload == {"votes": {str(second.pk): 0}}
    assert f'id="question-{second.pk}-votes"' in event.html
    assert f'id="question-{first.pk}-votes"' not in event.html
    duplicate = approved(meeting, staff, staff, text="First, again?")
    services.question_vote(meeting=meeting, question=duplicate, user=resident)
    snapshot_publish(stream=stream)
    services.question_merge(actor=staff, question=duplicate, into=first)
    assert snapshot_publish(stream=stream).payload == {"votes": {str(first.pk): 2}}


# --- moderation ----------------------------------------------------------------------------------


def test_edit_then_approve_keeps_the_original_in_the_audit_log(meeting, resident, staff):
    question = ask(meeting, resident, "Why is teh lido closd?")
    item = meeting.items.get(number="2")
    services.question_approve(
        actor=staff, question=question, text="Why is the lido closed?", item=item
    )
    question.refresh_from_db()
    assert (question.state, question.text, question.item, question.edited) == (
        S.APPROVED,
        "Why is the lido closed?",
        item,
        True,
    )
    edit = AuditEntry.objects.get(action="question.edit")
    assert edit.changes["text"] == ["Why is teh lido closd?", "Why is the lido closed?"]
    assert edit.actor == staff
    assert AuditEntry.objects.filter(action="question.approve", target_id=str(question.pk)).exists()
    (event,) = _events(f"questions.{meeting.pk}")
    assert "questions-top-item-" + str(item.pk) in event.html


def test_a_bad_edit_changes_nothing(meeting, resident, staff):
    question = ask(meeting, resident)
    with pytest.raises(ValidationError):
        services.question_approve(actor=staff, question=question, text="<b>shout</b>")
    question.refresh_from_db()
    assert question.state == S.PENDING
    assert not AuditEntry.objects.filter(action__startswith="question.").exists()


def test_two_moderators_cannot_both_act_on_one_question(meeting, resident, staff):
    question = ask(meeting, resident)
    stale = Question.objects.get(pk=question.pk)
    services.question_reject(actor=staff, question=question, reason="Off topic")
    with pytest.raises(services.Conflict, match="Rejected"):
        services.question_approve(actor=staff, question=stale)
    stale.refresh_from_db()
    assert (stale.state, stale.reject_reason) == (S.REJECTED, "Off topic")
    assert AuditEntry.objects.filter(action="question.approve").count() == 0
    services.question_restore(actor=staff, question=stale)  # on purpose, from the hidden list
    stale.refresh_from_db()
    assert stale.state == S.APPROVED


def test_hiding_an_approved_question_removes_it_from_every_feed(meeting, resident, staff):
    question = approved(meeting, resident, staff)
    services.question_hide(actor=staff, question=question)
    event = _events(f"questions.{meeting.pk}")[-1]
    assert event.event == "question.hidden"
    assert f'hx-swap-oob="delete:#question-{question.pk}"' in event.html
    assert selectors.feed(meeting) == []


def test_merging_combines_votes_without_counting_anyone_twice(meeting, staff, db):
    from tests.factories import make_user

    asker, a, b, c = (make_user() for _ in range(4))
    keep = approved(meeting, asker, staff, text="Lido?")
    duplicate = approved(meeting, asker, staff, text="Lido again?")
    for user in (a, b):
        services.question_vote(meeting=meeting, question=keep, user=user)
    for user in (b, c):
        services.question_vote(meeting=meeting, question=duplicate, user=user)
    services.question_merge(actor=staff, question=duplicate, into=keep)
    keep.refresh_from_db()
    duplicate.refresh_from_db()
    assert keep.vote_count == 3
    assert set(Vote.objects.filter(question=keep).values_list("user", flat=True)) == {
        a.pk,
        b.pk,
        c.pk,
    }
    assert (duplicate.state, duplicate.merged_into, duplicate.vote_count) == (S.MERGED, keep, 0)
    with pytest.raises(services.QuestionError):
        services.question_merge(actor=staff, question=keep, into=keep)


def test_banning_rejects_what_waits_and_refuses_new_questions(meeting, resident, staff):
    first = ask(meeting, resident, "One?")
    services.participant_ban(actor=staff, question=first, reason="Abuse")
    first.refresh_from_db()
    assert first.state == S.REJECTED
    assert Ban.objects.get(meeting=meeting).user == resident
    with pytest.raises(services.QuestionError, match="cannot ask"):
        ask(meeting, resident, "Two?")
    assert AuditEntry.objects.filter(action="question.ban").count() == 1


# --- the chair -----------------------------------------------------------------------------------


def test_now_answering_then_answered_with_the_recording_time(live_meeting, resident, staff):
    meeting = live_meeting
    one = approved(meeting, resident, staff, text="One?")
    two = approved(meeting, resident, staff, text="Two?")
    services.question_answering(actor=staff, question=one)
    services.question_answering(actor=staff, question=two)
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.state == S.ANSWERED
    assert one.answered_at == two.answering_at
    assert two.state == S.ANSWERING
    assert two.answering_at >= one.answering_at
    last = _events(f"questions.{meeting.pk}")[-1]
    assert 'id="questions-now"' in last.html
    assert "Two?" in last.html
    assert f'data-at="{two.answering_at.isoformat()}"' in last.html
    services.question_answered(actor=staff, question=two)
    two.refresh_from_db()
    assert two.state == S.ANSWERED
    assert selectors.answered(meeting) == [one, two]


def test_answering_needs_a_live_meeting(meeting, resident, staff):
    question = approved(meeting, resident, staff)
    with pytest.raises(services.QuestionError, match="not live"):
        services.question_answering(actor=staff, question=question)
    question.refresh_from_db()
    assert question.state == S.APPROVED


# --- social media --------------------------------------------------------------------------------


def test_social_questions_join_the_queue_once_and_stay_plain_text(meeting):
    kwargs = {
        "meeting": meeting,
        "network": "mastodon",
        "external_id": "109",
        "author_handle": "@ann@example.social",
        "text": 'Will you fix <img src=x onerror="alert(1)"> the\u202e road? #PlanningLive',
        "url": "https://example.social/@ann/109",
    }
    question = services.question_from_social(**kwargs)
    assert services.question_from_social(**kwargs) == question
    assert Question.objects.count() == 1
    assert (question.state, question.source, question.external_author) == (
        S.PENDING,
        "mastodon",
        "@ann@example.social",
    )
    assert "\u202e" not in question.text
    (event,) = _events(f"questions-mod.{meeting.pk}")
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in event.html
    assert "<img src=x" not in event.html


def test_social_questions_are_cut_to_280_and_banned_authors_dropped(meeting, staff):
    long = services.question_from_social(
        meeting=meeting, network="x", external_id="1", author_handle="bob", text="y" * 400
    )
    assert len(long.text) == 280
    assert long.text.endswith("…")
    services.participant_ban(actor=staff, question=long)
    assert (
        services.question_from_social(
            meeting=meeting, network="x", external_id="2", author_handle="bob", text="Again"
        )
        is None
    )
    assert Question.objects.count() == 1
    with pytest.raises(services.QuestionError):
        services.question_from_social(
            meeting=meeting, network="myspace", external_id="3", author_handle="c", text="Hi"
        )


# --- settings and personal data -----------------------------------------------------------------


def test_settings_changes_are_audited_and_checked(meeting, staff):
    _settings(meeting, staff, moderation="post", hashtag="PlanningLive")
    stored = QuestionSettings.objects.get(meeting=meeting)
    assert (stored.moderation, stored.hashtag) == ("post", "#PlanningLive")
    entry = AuditEntry.objects.get(action="question_settings.update")
    assert entry.changes["moderation"] == ["pre", "post"]
    with pytest.raises(ValidationError):
        _settings(meeting, staff, hashtag="#no spaces")
    with pytest.raises(ValidationError):
        _settings(meeting, staff, moderation="none")


def test_export_and_anonymise(meeting, resident, staff):
    question = approved(meeting, resident, staff)
    services.question_vote(meeting=meeting, question=question, user=resident)
    data = services.questions_export(resident)
    assert data["questions"][0]["text"] == "Why is the lido closed?"
    assert len(data["votes"]) == 1
    services.questions_anonymise(resident)
    question.refresh_from_db()
    assert (question.author, question.display_name, question.public_name) == (
        None,
        "",
        "Anonymous",
    )
    assert question.vote_count == 1


def test_staff_enter_questions_received_another_way(meeting, staff):
    question = services.question_add_by_staff(
        actor=staff, meeting=meeting, text="From a card in the gallery?", display_name=""
    )
    assert (question.state, question.source, question.public_name) == (
        S.APPROVED,
        "staff",
        "Anonymous",
    )
    assert AuditEntry.objects.get(action="question.add").changes == {
        "text": "From a card in the gallery?"
    }
    with pytest.raises(ValidationError) as caught:
        services.question_add_by_staff(actor=staff, meeting=meeting, text="<i>x</i>")
    assert "text" in caught.value.message_dict
    assert Question.objects.count() == 1


def test_addresses_are_forgotten_after_30_days(meeting, resident):
    from webcast.questions.tasks import forget_addresses

    old = ask(meeting, resident, "Old?", ip="192.0.2.7")
    new = ask(meeting, resident, "New?", ip="192.0.2.8")
    Question.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert forget_addresses() == 1
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.ip_address, new.ip_address) == (None, "192.0.2.8")


def test_two_meetings_to_come_cannot_share_a_hashtag(meeting, staff):
    from tests.webcast.factories import make_meeting

    other = make_meeting(actor=staff)
    _settings(meeting, staff, hashtag="#Lido")
    with pytest.raises(ValidationError) as caught:
        _settings(other, staff, hashtag="lido")
    assert caught.value.message_dict["hashtag"] == [
        "Another meeting still to be held uses that hashtag; choose another."
    ]
    _settings(meeting, staff, hashtag="#Lido")  # the same meeting keeps it
