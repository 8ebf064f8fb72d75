"""Notification jobs: thin, taking ids, idempotent."""

from engagement.tasks import task

from . import services


@task
def send_notification_email(notification_id: int) -> bool:
    return services.notification_email_send(notification_id=notification_id)


@task
def send_digest(user_id: int) -> int:
    return services.digest_send(user_id=user_id)


@task
def queue_daily_digests() -> int:
    """Queue one digest task per user with something waiting, and nobody else.

    Decidim's digest queued every user and collapsed at ~40,000; here the query returns only
    users with pending daily notifications, streamed in chunks.
    """
    queued = 0
    for user_id in services.users_with_pending_digest().iterator(chunk_size=2000):
        send_digest.delay(user_id)
        queued += 1
    return queued


@task
def resend_unsent_notifications() -> int:
    """Every few minutes: queue again any immediate notification whose email has not gone."""
    queued = 0
    for notification_id in services.unsent_immediate_notifications().iterator():
        send_notification_email.delay(notification_id)
        queued += 1
    return queued
