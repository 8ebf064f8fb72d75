"""Writes for accounts: creation, roles, profile, data export and anonymisation."""

from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.models import AuditEntry
from engagement.audit.services import audit_record
from engagement.places.selectors import postcode_lookup

from . import personal_data
from .models import Role, User

STAFF_ROLES = {Role.STAFF, Role.ADMIN}


def user_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    roles: list[str] | tuple[str, ...] = (Role.RESIDENT,),
    email_verified: bool = True,
) -> User:
    """Create a user with a (verified) email address and roles. For seeding and staff set-up."""
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, name=name)
        user.full_clean()
        EmailAddress.objects.create(
            user=user, email=user.email, primary=True, verified=email_verified
        )
        _apply_roles(user, roles)
    return user


def _apply_roles(user: User, roles: list[str] | tuple[str, ...] | set[str]) -> None:
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValidationError(_("Unknown role: %(roles)s") % {"roles": ", ".join(sorted(unknown))})
    groups = [Group.objects.get_or_create(name=role)[0] for role in roles]
    user.groups.set(groups)
    user.is_staff = bool(set(roles) & STAFF_ROLES)
    user.save(update_fields=["is_staff"])
    user.__dict__.pop("_role_names", None)


def user_set_roles(*, actor: Any, user: User, roles: list[str]) -> User:
    """Replace ``user``'s roles (audited). An admin cannot remove their own admin role, so
    the council is never left without someone who can manage roles."""
    if actor is not None and actor.pk == user.pk and Role.ADMIN not in roles:
        raise ValidationError(
            _("You cannot remove your own admin role. Ask another admin to do it."),
            code="self_demotion",
        )
    with transaction.atomic():
        before = sorted(user.role_names())
        _apply_roles(user, roles)
        audit_record(
            actor=actor,
            action="user.set_roles",
            target=user,
            changes={"roles": [before, sorted(roles)]},
        )
    return user


def profile_update(*, user: User, name: str, postcode: str, preferred_language: str) -> User:
    """Update the resident's own profile; the ward follows from the postcode."""
    errors: dict[str, list[str]] = {}
    found = None
    if postcode.strip():
        try:
            found = postcode_lookup(postcode)
        except ValidationError as exc:
            errors["postcode"] = exc.messages
    if preferred_language not in {"en-gb", "cy"}:
        errors["preferred_language"] = [_("Choose English or Welsh.")]
    if errors:
        raise ValidationError(errors)
    user.name = name.strip()
    user.postcode = found
    user.ward = found.ward if found else None
    user.preferred_language = preferred_language
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name", "postcode", "ward", "preferred_language"])
    return user


def user_data_export(*, user: User) -> dict[str, Any]:
    """Everything Moot holds about ``user``, as JSON-ready data (the "download my data" file)."""
    data: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "email": user.email,
            "name": user.name,
            "postcode": user.postcode.postcode if user.postcode else None,
            "ward": user.ward.name if user.ward else None,
            "preferred_language": user.preferred_language,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
            "roles": sorted(user.role_names()),
            "email_addresses": [
                {"email": e.email, "verified": e.verified, "primary": e.primary}
                for e in EmailAddress.objects.filter(user=user).order_by("email")
            ],
        },
    }
    for name, section in sorted(personal_data.SECTIONS.items()):
        data[name] = section.export(user)
    return data


def user_anonymise(*, user: User, actor: Any | None = None, reason: str = "request") -> User:
    """Remove everything that identifies ``user`` and close the account; keep aggregates.

    Idempotent. Runs each module's anonymiser in the same transaction, so either all of a
    person's data is anonymised or none is.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.anonymised_at is not None:
            return user
        if user.is_council_admin and not _other_active_admins(user).exists():
            raise ValidationError(
                _(
                    "This is the council's only admin account. Make someone else an admin "
                    "before deleting it."
                ),
                code="last_admin",
            )
        for section in personal_data.SECTIONS.values():
            if section.anonymise is not None:
                section.anonymise(user)
        EmailAddress.objects.filter(user=user).delete()
        from allauth.mfa.models import Authenticator

        Authenticator.objects.filter(user=user).delete()
        user.email = f"anonymised-{user.pk}@invalid.invalid"
        user.name = ""
        user.postcode = None
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.anonymised_at = timezone.now()
        user.save()
        user.groups.clear()
        # Earlier entries about this person named them; keep the entries, drop the name.
        AuditEntry.objects.filter(
            target_type=user._meta.label_lower, target_id=str(user.pk)
        ).update(target_label=str(user))
        audit_record(
            actor=actor if actor is not None and actor.pk != user.pk else None,
            actor_label=None if actor is not None and actor.pk != user.pk else "account holder",
            action="user.anonymise",
            target=user,
            changes={"reason": reason},
        )
        # No session survives: the password hash changed (Django checks it on every request)
        # and the account is inactive.
    return user


def _other_active_admins(user: User):
    return User.objects.filter(is_active=True, groups__name=Role.ADMIN).exclude(pk=user.pk)


def inactive_residents_anonymise(*, days: int) -> int:
    """Anonymise residents (no other role) not seen for ``days`` days. Returns how many."""
    cutoff = timezone.now() - timedelta(days=days)
    candidates = (
        User.objects.filter(is_active=True, anonymised_at__isnull=True, date_joined__lt=cutoff)
        .exclude(last_login__gte=cutoff)
        .exclude(groups__name__in=[Role.COUNCILLOR, Role.STAFF, Role.ADMIN])
    )
    count = 0
    for user in candidates.iterator():
        user_anonymise(user=user, reason="retention")
        count += 1
    return count
