import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.exceptions import ValidationError

from engagement.accounts import personal_data
from engagement.accounts.models import Role, User
from engagement.accounts.services import (
    inactive_residents_anonymise,
    profile_update,
    user_anonymise,
    user_data_export,
    user_set_roles,
)
from engagement.audit.models import AuditEntry
from engagement.notifications.models import Notification
from tests.factories import PostcodeFactory, make_user

pytestmark = pytest.mark.django_db


def test_roles_are_groups_and_staff_roles_open_the_admin(resident):
    assert resident.role_names() == {"resident"}
    assert not resident.is_staff
    staff = make_user("s@example.org", roles=(Role.STAFF,))
    assert (staff.is_staff, staff.is_council_staff, staff.is_council_admin) == (True, True, False)


def test_role_changes_are_audited(admin_user, resident):
    user_set_roles(actor=admin_user, user=resident, roles=[Role.COUNCILLOR])

    entry = AuditEntry.objects.get(action="user.set_roles")
    assert (entry.actor, entry.target_label) == (admin_user, "Rhian Resident")
    assert entry.changes == {"roles": [["resident"], ["councillor"]]}
    assert User.objects.get(pk=resident.pk).role_names() == {"councillor"}


def test_unknown_roles_are_refused(admin_user, resident):
    with pytest.raises(ValidationError, match="Unknown role: mayor"):
        user_set_roles(actor=admin_user, user=resident, roles=["mayor"])
    assert User.objects.get(pk=resident.pk).role_names() == {"resident"}


def test_the_ward_follows_the_postcode(resident):
    postcode = PostcodeFactory(postcode="CF10 1EP")

    profile_update(user=resident, name="Rhian", postcode="cf101ep", preferred_language="cy")

    resident.refresh_from_db()
    assert (resident.postcode, resident.ward, resident.preferred_language) == (
        postcode,
        postcode.ward,
        "cy",
    )


@pytest.mark.parametrize(
    ("postcode", "message"),
    [
        ("ABC 123", "Enter a real postcode, like CF10 1EP."),
        ("SW1A 1AA", "SW1A 1AA is not a postcode in this council's area."),
        ("CF10 1EPXXXX", "Enter a real postcode, like CF10 1EP: it is too long."),
    ],
)
def test_bad_postcodes_change_nothing(resident, postcode, message):
    with pytest.raises(ValidationError) as exc:
        profile_update(user=resident, name="New", postcode=postcode, preferred_language="en-gb")
    assert exc.value.message_dict == {"postcode": [message]}
    resident.refresh_from_db()
    assert (resident.name, resident.postcode) == ("Rhian Resident", None)


def test_control_characters_in_the_name_are_refused(resident):
    with pytest.raises(ValidationError) as exc:
        profile_update(user=resident, name="Evil\u202e", postcode="", preferred_language="en-gb")
    assert "name" in exc.value.message_dict
    resident.refresh_from_db()
    assert resident.name == "Rhian Resident"


def test_data_export_includes_every_registered_section(resident):
    personal_data.register("test_section", export=lambda user: {"answers": [user.pk]})
    try:
        data = user_data_export(user=resident)
    finally:
        personal_data.SECTIONS.pop("test_section")

    assert data["account"]["email"] == "resident@example.org"
    assert data["account"]["roles"] == ["resident"]
    assert data["account"]["email_addresses"] == [
        {"email": "resident@example.org", "verified": True, "primary": True}
    ]
    assert data["test_section"] == {"answers": [resident.pk]}


def test_anonymising_removes_the_person_and_keeps_aggregates(staff):
    postcode = PostcodeFactory()
    profile_update(
        user=staff, name="Sam Staff", postcode=postcode.postcode, preferred_language="en-gb"
    )
    Notification.objects.create(user=staff, kind="account", subject="s", body="b", delivery="never")
    anonymised_sections = []
    personal_data.register(
        "test_section", export=lambda u: {}, anonymise=anonymised_sections.append
    )
    try:
        user_anonymise(user=staff, actor=staff)
    finally:
        personal_data.SECTIONS.pop("test_section")

    staff.refresh_from_db()
    assert staff.email == f"anonymised-{staff.pk}@invalid.invalid"
    assert (staff.name, staff.postcode, staff.is_active, staff.is_staff) == ("", None, False, False)
    assert staff.ward == postcode.ward  # kept for ward-level totals
    assert not staff.has_usable_password()
    assert staff.role_names() == set()
    assert not EmailAddress.objects.filter(user=staff).exists()
    assert not Authenticator.objects.filter(user=staff).exists()
    assert anonymised_sections == [staff]
    entry = AuditEntry.objects.get(action="user.anonymise")
    assert (entry.actor_label, entry.changes) == ("account holder", {"reason": "request"})

    user_anonymise(user=staff)  # idempotent
    assert AuditEntry.objects.filter(action="user.anonymise").count() == 1


def test_retention_anonymises_only_long_inactive_residents():
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(days=400)
    stale = make_user("stale@example.org")
    fresh = make_user("fresh@example.org")
    old_staff = make_user("oldstaff@example.org", roles=(Role.STAFF,))
    User.objects.filter(pk__in=[stale.pk, old_staff.pk]).update(date_joined=old, last_login=old)

    assert inactive_residents_anonymise(days=365) == 1

    assert User.objects.get(pk=stale.pk).anonymised_at is not None
    assert User.objects.get(pk=fresh.pk).anonymised_at is None
    assert User.objects.get(pk=old_staff.pk).anonymised_at is None


def test_the_only_admin_cannot_be_anonymised(admin_user):
    with pytest.raises(ValidationError, match="only admin account"):
        user_anonymise(user=admin_user, actor=admin_user)
    assert User.objects.get(pk=admin_user.pk).anonymised_at is None

    make_user("second-admin@example.org", roles=(Role.ADMIN,))
    user_anonymise(user=admin_user, actor=admin_user)
    assert User.objects.get(pk=admin_user.pk).anonymised_at is not None


def test_anonymising_removes_the_name_from_earlier_audit_entries(admin_user, resident):
    user_set_roles(actor=admin_user, user=resident, roles=[Role.COUNCILLOR])
    user_anonymise(user=resident)
    entry = AuditEntry.objects.get(action="user.set_roles")
    assert entry.target_label == f"anonymised-{resident.pk}@invalid.invalid"
