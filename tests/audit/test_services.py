import pytest

from engagement.audit.models import AuditEntry
from engagement.audit.services import audit_record
from engagement.core.request_context import reset_current_ip, set_current_ip
from engagement.realtime.selectors import events_after
from tests.factories import WardFactory

pytestmark = pytest.mark.django_db


def test_an_entry_records_who_what_which_and_where_from(staff):
    ward = WardFactory(name="Canol")
    token = set_current_ip("192.0.2.7")
    try:
        entry = audit_record(actor=staff, action="ward.update", target=ward, changes={"a": [1, 2]})
    finally:
        reset_current_ip(token)

    assert (entry.actor, entry.actor_label, entry.action) == (
        staff,
        "staff@example.org",
        "ward.update",
    )
    assert (entry.target_type, entry.target_id, entry.target_label) == (
        "places.ward",
        str(ward.pk),
        "Canol",
    )
    assert (entry.changes, entry.ip_address) == ({"a": [1, 2]}, "192.0.2.7")


def test_system_actions_are_labelled_system():
    entry = audit_record(actor=None, action="ward.import")
    assert (entry.actor, entry.actor_label) == (None, "system")


def test_each_entry_is_published_to_the_admins_audit_stream(staff):
    entry = audit_record(actor=staff, action="ward.update")

    [event] = events_after("audit", 0)
    assert (event.event, event.payload) == (
        "audit.entry",
        {"id": entry.pk, "action": "ward.update"},
    )
    assert '<template><tbody hx-swap-oob="afterbegin:#audit-rows">' in event.html
    assert "<code>ward.update</code>" in event.html


def test_the_label_survives_the_actor_being_deleted(staff):
    audit_record(actor=staff, action="x.y")
    staff.delete()
    assert AuditEntry.objects.get().actor_label == "staff@example.org"
