"""Daily housekeeping: every store of personal or bulky data is pruned to its retention period."""

from django.conf import settings

from engagement.audit.services import audit_prune
from engagement.council.selectors import council_settings
from engagement.notifications.services import notifications_prune
from engagement.realtime.services import stream_events_prune
from engagement.tasks import task


@task
def prune_expired() -> dict[str, int]:
    council = council_settings()
    return {
        "audit_entries": audit_prune(days=council.retention_audit_days),
        "stream_events": stream_events_prune(days=settings.STREAM_EVENT_RETENTION_DAYS),
        "notifications": notifications_prune(days=settings.NOTIFICATION_RETENTION_DAYS),
    }
