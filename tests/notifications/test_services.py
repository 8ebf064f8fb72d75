import pytest
from django.core import mail

from engagement.notifications.models import Delivery, Notification
from engagement.notifications.services import (
    digest_send,
    notification_preferences_set,
    notify,
    users_with_pending_digest,
)
from engagement.notifications.tasks import queue_daily_digests
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_an_immediate_notification_is_emailed_once_after_commit(
    resident, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = notify(user=resident, kind="account", subject="Welcome", body="Hello", url="/x/")

    note.refresh_from_db()
    assert note.emailed_at is not None
    assert [(m.to, m.subject) for m in mail.outbox] == [(["resident@example.org"], "Welcome")]
    assert mail.outbox[0].body == "Hello\n\nhttp://127.0.0.1:8000/x/"

    from engagement.notifications.services import notification_email_send

    assert notification_email_send(notification_id=note.pk) is False  # a retry sends nothing
    assert len(mail.outbox) == 1


def test_daily_notifications_wait_for_the_digest(resident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=resident, kind="updates", subject="One", body="first")
        notify(user=resident, kind="updates", subject="Two", body="second")

    assert mail.outbox == []
    assert digest_send(user_id=resident.pk) == 2
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Your daily update: 2 new"
    assert mail.outbox[0].body.startswith("* One\n  first\n\n* Two\n  second")
    assert digest_send(user_id=resident.pk) == 0  # idempotent
    assert len(mail.outbox) == 1


def test_never_means_stored_for_the_site_but_not_emailed(
    resident, django_capture_on_commit_callbacks
):
    notification_preferences_set(user=resident, preferences={"account": Delivery.NEVER})
    with django_capture_on_commit_callbacks(execute=True):
        note = notify(user=resident, kind="account", subject="Quiet", body="shh")
    assert note.delivery == Delivery.NEVER
    assert mail.outbox == []


def test_the_digest_job_queues_only_users_with_something_waiting(
    django_capture_on_commit_callbacks,
):
    waiting = [make_user(f"w{n}@example.org") for n in range(3)]
    idle = [make_user(f"i{n}@example.org") for n in range(5)]
    for user in waiting:
        notify(user=user, kind="updates", subject="S", body="B")
    notify(user=idle[0], kind="account", subject="S", body="B")  # immediate: not a digest

    assert sorted(users_with_pending_digest()) == sorted(u.pk for u in waiting)
    assert queue_daily_digests() == 3
    assert sorted(m.to[0] for m in mail.outbox) == [
        "w0@example.org",
        "w1@example.org",
        "w2@example.org",
    ]
    assert list(users_with_pending_digest()) == []


def test_inactive_users_are_not_notified(resident):
    resident.is_active = False
    resident.save()
    assert notify(user=resident, kind="account", subject="S", body="B") is None
    assert Notification.objects.count() == 0


def test_unknown_kinds_and_preferences_are_refused(resident):
    with pytest.raises(ValueError, match="Unknown notification kind"):
        notify(user=resident, kind="nope", subject="S", body="B")
    with pytest.raises(ValueError, match="Invalid preference"):
        notification_preferences_set(user=resident, preferences={"account": "sometimes"})


def test_notifications_are_in_the_data_export_and_go_with_the_account(resident):
    from engagement.accounts.services import user_anonymise, user_data_export

    notification_preferences_set(user=resident, preferences={"updates": Delivery.NEVER})
    notify(user=resident, kind="updates", subject="Road works", body="Mill Lane")

    exported = user_data_export(user=resident)["notifications"]
    assert [n["subject"] for n in exported["notifications"]] == ["Road works"]
    assert exported["preferences"] == {"updates": "never"}

    user_anonymise(user=resident)
    assert Notification.objects.count() == 0
    assert resident.notification_preferences.count() == 0


def test_pending_digest_items_of_a_closed_account_are_dropped(resident):
    notify(user=resident, kind="updates", subject="S", body="B")
    resident.is_active = False
    resident.save()
    assert digest_send(user_id=resident.pk) == 0
    assert list(users_with_pending_digest()) == []


def test_unsent_immediate_notifications_are_sent_again(resident):
    from datetime import timedelta

    from django.utils import timezone

    from engagement.notifications.tasks import resend_unsent_notifications

    lost = notify(user=resident, kind="account", subject="Lost", body="B")  # on_commit never ran
    fresh = notify(user=resident, kind="account", subject="Fresh", body="B")
    Notification.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert resend_unsent_notifications() == 1
    assert [m.subject for m in mail.outbox] == ["Lost"]
    fresh.refresh_from_db()
    assert fresh.emailed_at is None
