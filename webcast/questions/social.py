"""Posts carrying a meeting's hashtag become questions in that meeting's moderation queue.

The social module's routing asks every registered diverter first (``social.routing``); this
one claims a post whose text has the hashtag of a meeting that takes questions, hands it to
:func:`services.question_from_social` (idempotent per post) and tells routing it is taken, so
no councillor case is opened for it. Called inside the routing transaction: the question is
stored, and published, only if that transaction commits.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from engagement.core.memo import memo
from webcast.models import Meeting

from .models import QuestionSettings

OPEN_STATUSES = (Meeting.Status.SCHEDULED, Meeting.Status.LIVE, Meeting.Status.ADJOURNED)


@memo(seconds=10)
def hashtags() -> list[tuple[re.Pattern[str], int]]:
    """``(pattern, meeting id)`` for every meeting that has a hashtag and has not ended."""
    rows = QuestionSettings.objects.filter(
        meeting__status__in=OPEN_STATUSES, accepting=True
    ).exclude(hashtag="")
    return [
        (re.compile(rf"(?<!\w){re.escape(tag)}(?!\w)", re.IGNORECASE), meeting_id)
        for tag, meeting_id in rows.values_list("hashtag", "meeting_id")
    ]


def meeting_hashtag_diverter(post: Any) -> Any:
    from social.models import SocialIdentity
    from social.routing import Diversion

    from . import services

    for pattern, meeting_id in hashtags():
        if not pattern.search(post.text or ""):
            continue
        meeting = Meeting.objects.filter(pk=meeting_id).first()
        if meeting is None:
            continue
        identity = (
            SocialIdentity.objects.filter(
                network=post.network, handle__iexact=post.author_handle, verified_at__isnull=False
            )
            .select_related("user")
            .first()
        )
        question = services.question_from_social(
            meeting=meeting,
            network=post.network,
            external_id=post.external_id,
            author_handle=post.author_handle,
            author_name=post.author_name,
            text=post.text,
            url=post.url,
            user=identity.user if identity else None,
        )
        if question is None:
            continue  # closed meanwhile, or the author is banned there: route it as usual
        return Diversion(
            target="meeting",
            detail=_("A question for %(meeting)s (its hashtag is in the post).")
            % {"meeting": meeting},
        )
    return None
