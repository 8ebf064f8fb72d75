"""Demo questions for ``seed_demo``: a few for next week's Planning Committee (approved with
votes, one waiting for moderation, the hashtag #LlanfairPlanning) and last month's, answered,
linking into the recording. Idempotent: nothing is created if the demo meeting has questions.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from webcast.demo import PAST, UPCOMING
from webcast.models import Meeting

from .models import Question, QuestionSettings, Vote

S = Question.State

UPCOMING_QUESTIONS = [
    ("4", "How many of the 48 homes at Heol Fawr will be affordable?", "Dafydd", S.APPROVED, 7),
    ("5", "If the lido reopens, will it be free for children?", "", S.APPROVED, 4),
    ("", "Can the meeting start later so people who work can watch live?", "Megan", S.APPROVED, 2),
    ("4", "Will the new road access at Heol Fawr be safe for the school?", "Siân", S.PENDING, 0),
]
PAST_QUESTIONS = [
    ("4", "Has the drainage report for Heol Fawr been published?", "Rhys", 5),
    ("5", "What would it cost to run the lido for one summer?", "", 3),
]


def seed_questions() -> bool:
    upcoming = Meeting.objects.filter(title=UPCOMING).first()
    past = Meeting.objects.filter(title=PAST).first()
    if upcoming is None or past is None or upcoming.questions.exists():
        return False
    users = get_user_model().objects.filter(email__endswith="@example.org").order_by("pk")
    residents = list(users[:8])
    asker = users.filter(email="resident@example.org").first()
    QuestionSettings.objects.get_or_create(
        meeting=upcoming, defaults={"hashtag": "#LlanfairPlanning"}
    )
    now = timezone.now()
    for number, text, name, state, votes in UPCOMING_QUESTIONS:
        question = Question.objects.create(
            meeting=upcoming,
            item=upcoming.items.filter(number=number).first() if number else None,
            author=asker,
            display_name=name,
            anonymous=not name,
            text=text,
            state=state,
            moderated_at=now if state == S.APPROVED else None,
        )
        for user in residents[:votes]:
            Vote.objects.create(question=question, user=user)
        question.vote_count = question.votes.count()
        question.save(update_fields=["vote_count"])
    for number, text, name, votes in PAST_QUESTIONS:
        item = past.items.filter(number=number).first()
        mark = item.marks.order_by("at").first() if item else None
        at = (mark.at if mark else past.went_live_at) + timedelta(minutes=5)
        question = Question.objects.create(
            meeting=past,
            item=item,
            display_name=name,
            anonymous=not name,
            text=text,
            state=S.ANSWERED,
            moderated_at=at - timedelta(minutes=20),
            answering_at=at,
            answered_at=at + timedelta(minutes=3),
        )
        for user in residents[:votes]:
            Vote.objects.create(question=question, user=user)
        question.vote_count = question.votes.count()
        question.save(update_fields=["vote_count"])
    return True
