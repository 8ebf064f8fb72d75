from datetime import timedelta

import pytest
from django.utils import timezone

from engagement.audit.models import AuditEntry
from engagement.audit.services import audit_record
from engagement.core.tasks import prune_expired
from engagement.notifications.models import Notification
from engagement.realtime.models import StreamEvent
from engagement.realtime.selectors import stream_position
from engagement.realtime.services import publish

pytestmark = pytest.mark.django_db


def test_prune_removes_only_what_is_past_its_retention(resident):
    long_ago = timezone.now() - timedelta(days=4000)
    old_entry = audit_record(actor=None, action="old.thing")
    AuditEntry.objects.filter(pk=old_entry.pk).update(at=long_ago)
    audit_record(actor=None, action="new.thing")
    old_event = publish(stream="test.prune", event="x")
    StreamEvent.objects.filter(pk=old_event.pk).update(created_at=long_ago)
    publish(stream="test.prune", event="y")
    sent = Notification.objects.create(
        user=resident,
        kind="account",
        subject="s",
        body="b",
        delivery="immediately",
        emailed_at=long_ago,
    )
    waiting = Notification.objects.create(
        user=resident, kind="updates", subject="s", body="b", delivery="daily"
    )
    Notification.objects.filter(pk__in=[sent.pk, waiting.pk]).update(created_at=long_ago)

    result = prune_expired()

    assert result == {"audit_entries": 1, "stream_events": 1, "notifications": 1}
    actions = sorted(AuditEntry.objects.values_list("action", flat=True))
    assert actions == ["audit.prune", "new.thing"]
    assert list(Notification.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert stream_position("test.prune") == 2  # numbering never restarts
