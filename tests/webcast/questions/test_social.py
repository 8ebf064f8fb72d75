"""Posts with a meeting's hashtag reach its moderation queue through the social module's
routing (the real ``post_route``), marked with their source; other posts become cases."""

import pytest

from social import services as social_services
from social.models import Case, SocialIdentity
from tests.social.factories import PostFactory
from webcast.questions import services
from webcast.questions.models import Question

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(meeting, staff):
    services.question_settings_update(
        actor=staff, meeting=meeting, moderation="pre", accepting=True, hashtag="#PlanningLive"
    )
    return meeting


def test_a_post_with_the_hashtag_becomes_a_question_not_a_case(tagged, resident):
    SocialIdentity.objects.create(
        user=resident,
        network="mastodon",
        handle="@rhian@example.social",
        verified_at="2026-01-01T00:00Z",
    )
    post = PostFactory(
        network="mastodon",
        author_handle="@rhian@example.social",
        author_name="Rhian",
        text="Will the lido reopen? #planninglive",
        url="https://example.social/@rhian/1",
    )
    assert social_services.post_route(post_id=post.pk) is None
    post.refresh_from_db()
    assert post.ignored == "diverted to meeting"
    question = Question.objects.get()
    assert (question.meeting, question.source, question.external_id, question.state) == (
        tagged,
        "mastodon",
        post.external_id,
        Question.State.PENDING,
    )
    assert question.author == resident  # a verified linked account
    assert question.external_url == "https://example.social/@rhian/1"
    assert Case.objects.count() == 0
    # Routing the same post again changes nothing.
    social_services.post_route(post_id=post.pk)
    assert Question.objects.count() == 1


def test_other_posts_and_closed_meetings_route_as_usual(tagged, staff):
    other = PostFactory(text="Bins not collected on #PlanningLiveX street")
    assert social_services.post_route(post_id=other.pk) is not None
    services.question_settings_update(
        actor=staff, meeting=tagged, moderation="pre", accepting=False, hashtag="#PlanningLive"
    )
    late = PostFactory(text="Too late? #PlanningLive")
    assert social_services.post_route(post_id=late.pk) is not None
    assert Question.objects.count() == 0
    assert Case.objects.count() == 2
