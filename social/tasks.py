"""Social listening jobs: thin, taking ids, idempotent (polls claim their source; routing locks
the post; a sent reply is never sent again)."""

from django.utils.translation import gettext as _

from engagement.tasks import enqueue, task


@task
def poll_due_sources() -> int:
    """Beat: queue a poll for every enabled source that is due."""
    from .polling import due_sources

    ids = list(due_sources().values_list("pk", flat=True))
    for source_id in ids:
        poll_source.delay(source_id)
    return len(ids)


@task(autoretry_for=())
def poll_source(source_id: int) -> str:
    """Poll one source. Errors are the source's health, not the task's: it does not retry
    (the next poll is scheduled by the poll itself)."""
    from .polling import source_poll

    return source_poll(source_id=source_id).status


@task
def route_posts(post_ids: list[int]) -> int:
    """Route these posts, and with them the oldest others still waiting (up to
    ``services.drain_size()`` in one transaction; posts another worker holds are left to it)."""
    from .services import drain_size, posts_route

    return len(posts_route(post_ids=post_ids, drain=drain_size()))


@task
def publish_live() -> int:
    """Publish the live events of routed cases still waiting (queued by routing at most once a
    tick, to catch what the last publishing left)."""
    from .services import live_publish_pending

    return live_publish_pending()


@task
def route_unrouted(older_than_seconds: int = 60) -> int:
    """Beat: route posts stored but not routed for a minute (their routing task was lost with
    a killed worker, or the broker was down when they were stored), and publish live events
    still waiting (their job was lost)."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import LiveChange, Post

    if LiveChange.objects.exists():
        publish_live.delay()

    stale = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Post.objects.filter(routed_at__isnull=True, fetched_at__lte=stale)
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    for start in range(0, len(ids), 200):
        enqueue(route_posts, ids[start : start + 200])
    return len(ids)


@task
def send_reply(reply_id: int) -> str:
    from .services import reply_send

    return reply_send(reply_id=reply_id).state


@task
def notify_new_cases(case_ids: list[int]) -> int:
    """Tell each new case's owner (by their notification preference). A retry may notify
    twice, never lose one."""
    from engagement.notifications.services import notify

    from .models import Case

    sent = 0
    for case in Case.objects.select_related("owner__user").filter(pk__in=case_ids):
        if case.owner is None or case.owner.user is None:
            continue
        notify(
            user=case.owner.user,
            kind="social_case",
            subject=_("New case #%(case)s in your inbox") % {"case": case.pk},
            body=case.summary,
            url=case.get_absolute_url(),
        )
        sent += 1
    return sent


@task
def escalate_overdue() -> int:
    from .services import case_escalate_overdue

    return case_escalate_overdue()


@task
def send_due_digests() -> int:
    """Beat, daily: each councillor's cases due or overdue, for their daily digest."""
    from .services import due_digests_notify

    return due_digests_notify()


@task
def anonymise_expired_cases() -> int:
    """Beat, daily: anonymise social cases past the council's retention period."""
    from .services import cases_anonymise_expired

    return cases_anonymise_expired()
