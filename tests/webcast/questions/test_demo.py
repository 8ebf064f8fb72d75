"""seed_demo gives the demo meetings questions, once."""

import pytest

from engagement.core.demo import seed_demo
from webcast.demo import PAST, UPCOMING
from webcast.questions.models import Question

pytestmark = pytest.mark.django_db


def test_demo_questions_are_seeded_once(settings):
    settings.MOOT_DEMO = True
    seed_demo()
    upcoming = Question.objects.filter(meeting__title=UPCOMING)
    assert upcoming.filter(state="approved").count() == 3
    assert upcoming.filter(state="pending").count() == 1
    top = upcoming.order_by("-vote_count").first()
    assert top.vote_count == top.votes.count() > 0
    past = Question.objects.filter(meeting__title=PAST)
    assert [q.state for q in past] == ["answered", "answered"]
    assert all(q.answering_at for q in past)
    count = Question.objects.count()
    seed_demo()
    assert Question.objects.count() == count
