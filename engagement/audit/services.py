"""Recording to the audit log. Every staff and admin write calls :func:`audit_record`."""

from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile

from engagement.core.request_context import current_ip
from engagement.realtime.services import publish
from engagement.realtime.streams import template

from .models import AuditEntry


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Write one audit entry in the caller's transaction (it commits or rolls back with the work).

    ``actor`` is a user or None for the system (imports from the command line, scheduled jobs);
    ``action`` is a dotted verb such as ``"ward.import"`` or ``"council_settings.update"``.
    """
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor_label or actor.email
        actor_obj = actor
    else:
        label = actor_label or "system"
        actor_obj = None
    entry = AuditEntry.objects.create(
        actor=actor_obj,
        actor_label=label[:254],
        action=action[:80],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_label=str(target)[:254] if target is not None else "",
        changes=changes or {},
        ip_address=current_ip(),
    )
    publish(
        stream="audit",
        event="audit.entry",
        render=template("audit/includes/_pushed_row.html", {"entry": entry}),
        payload={"id": entry.pk, "action": entry.action},
    )
    return entry


def model_changes(instance: models.Model, fields: list[str], before: dict[str, Any]) -> dict:
    """The ``{"field": [old, new]}`` diff of ``fields`` between ``before`` and ``instance``."""
    diff = {}
    for name in fields:
        new = getattr(instance, name)
        old = before.get(name)
        if old != new:
            diff[name] = [_plain(old), _plain(new)]
    return diff


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, FieldFile):
        return value.name or ""
    return str(value)


def audit_prune(*, days: int) -> int:
    """Delete entries older than ``days`` (the council's retention period); record the prune."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
        if deleted:
            audit_record(
                actor=None, action="audit.prune", changes={"deleted": deleted, "days": days}
            )
    return deleted
