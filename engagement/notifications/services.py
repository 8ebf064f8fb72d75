"""Notifying users: one service, honouring each user's preferences."""

import smtplib
import threading
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from engagement.tasks import enqueue

from .kinds import KINDS
from .models import Delivery, Notification, NotificationPreference


def delivery_for(*, user: Any, kind: str) -> str:
    pref = NotificationPreference.objects.filter(user=user, kind=kind).first()
    return pref.delivery if pref else KINDS[kind].default


def notify(*, user: Any, kind: str, subject: str, body: str, url: str = "") -> Notification | None:
    """Notify ``user``: stored for the site, and emailed now, in the daily digest or never.

    Returns None (and stores nothing) for inactive or anonymised users.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind: {kind}")
    if not user.is_active or user.anonymised_at is not None:
        return None
    delivery = delivery_for(user=user, kind=kind)
    notification = Notification.objects.create(
        user=user,
        kind=kind,
        subject=subject[:200],
        body=body[:5000],
        url=url[:500],
        delivery=delivery,
    )
    if delivery == Delivery.IMMEDIATELY:
        from .tasks import send_notification_email

        enqueue(send_notification_email, notification.pk)
    return notification


def notification_preferences_set(*, user: Any, preferences: dict[str, str]) -> None:
    for kind, delivery in preferences.items():
        if kind not in KINDS or delivery not in Delivery.values:
            raise ValueError(f"Invalid preference {kind}={delivery}")
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"delivery": delivery}
        )


# One open connection to the email backend per thread (a Celery worker process sends many emails
# in a row), keyed by the backend's settings so a changed setting gets a new one.
_connections = threading.local()


def _email_connection() -> Any:
    key = (settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), settings.EMAIL_PORT)
    held = getattr(_connections, "held", None)
    if held is None or held[0] != key:
        if held is not None:
            held[1].close()
        held = (key, get_connection(fail_silently=False))
        _connections.held = held
    return held[1]


def send_email(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text email through the configured backend (SMTP, console, GOV.UK Notify).

    The connection stays open for the next email from this thread: an SMTP session each time
    (connect, greeting, EHLO, QUIT) cost more than the message. A connection the server has
    dropped meanwhile is opened again and the message sent once more on it; any other failure
    raises, and the calling task is retried.
    """
    message = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    connection = _email_connection()
    try:
        connection.open()
        connection.send_messages([message])
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        connection.close()
        connection.open()
        connection.send_messages([message])


def notification_email_send(*, notification_id: int) -> bool:
    """Email one notification unless it already went. Idempotent; True if an email was sent.

    The row is locked while the email is sent and marked sent in the same transaction, so two
    copies of the task never both send it. If the process dies after sending but before the
    commit, the resend sweep sends it again: at least once, never lost.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if notification is None or not notification.user.is_active:
            return False
        with translation.override(notification.user.preferred_language):
            body = notification.body
            if notification.url:
                body += "\n\n" + absolute_url(notification.url)
            send_email(to=notification.user.email, subject=notification.subject, body=body)
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    return True


def digest_send(*, user_id: int) -> int:
    """Send ``user_id`` one email with every pending daily notification. Idempotent.

    The rows are locked and marked in the same transaction, so a retried or duplicated task
    sends nothing twice. Returns how many notifications the email carried.
    """
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update()
            .filter(user_id=user_id, delivery=Delivery.DAILY, emailed_at__isnull=True)
            .order_by("created_at", "id")
        )
        if not pending:
            return 0
        user = pending[0].user
        if not user.is_active or user.anonymised_at is not None:
            # A closed account: nothing will ever be sent, so nothing is kept waiting.
            Notification.objects.filter(pk__in=[n.pk for n in pending]).delete()
            return 0
        with translation.override(user.preferred_language):
            lines = []
            for item in pending:
                lines.append(f"* {item.subject}\n  {item.body}")
                if item.url:
                    lines.append(f"  {absolute_url(item.url)}")
            subject = _("Your daily update: %(count)d new") % {"count": len(pending)}
            send_email(to=user.email, subject=subject, body="\n\n".join(lines))
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=now)
    return len(pending)


def users_with_pending_digest():
    """Ids of users who have at least one daily notification waiting (and only those)."""
    return (
        Notification.objects.filter(delivery=Delivery.DAILY, emailed_at__isnull=True)
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()
    )


def absolute_url(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return settings.SITE_URL.rstrip("/") + path


def notifications_prune(*, days: int) -> int:
    """Delete notifications older than ``days`` that are no longer waiting to be emailed."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(days=days)
    waiting = Notification.objects.filter(delivery=Delivery.DAILY, emailed_at__isnull=True)
    deleted, _ = (
        Notification.objects.filter(created_at__lt=cutoff)
        .exclude(pk__in=waiting.values("pk"))
        .delete()
    )
    return deleted


def unsent_immediate_notifications(*, older_than_minutes: int = 10, within_days: int = 2):
    """Ids of "send straight away" notifications still unsent after ``older_than_minutes``
    (their task was lost or ran out of retries), from the last ``within_days`` days."""
    from datetime import timedelta

    now = timezone.now()
    return Notification.objects.filter(
        delivery=Delivery.IMMEDIATELY,
        emailed_at__isnull=True,
        created_at__lt=now - timedelta(minutes=older_than_minutes),
        created_at__gte=now - timedelta(days=within_days),
        user__is_active=True,
    ).values_list("pk", flat=True)


def notifications_export(user: Any) -> dict[str, Any]:
    return {
        "notifications": [
            {
                "kind": n.kind,
                "subject": n.subject,
                "body": n.body,
                "url": n.url,
                "created_at": n.created_at.isoformat(),
                "emailed_at": n.emailed_at.isoformat() if n.emailed_at else None,
            }
            for n in Notification.objects.filter(user=user).order_by("created_at", "id")
        ],
        "preferences": dict(
            NotificationPreference.objects.filter(user=user).values_list("kind", "delivery")
        ),
    }


def notifications_anonymise(user: Any) -> None:
    Notification.objects.filter(user=user).delete()
    NotificationPreference.objects.filter(user=user).delete()
