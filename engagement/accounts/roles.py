"""The permissions each role's group carries, kept in sync after every migrate."""

from django.contrib.auth.models import Group, Permission

from .models import Role

# "app_label.codename" per role; admin inherits staff's.
STAFF_PERMISSIONS = [
    "core.access_staff_area",
    "places.view_ward",
    "places.add_ward",
    "places.change_ward",
    "places.view_postcode",
    "places.add_postcode",
    "places.change_postcode",
    "people.view_councillor",
    "people.add_councillor",
    "people.change_councillor",
    "people.view_committee",
    "people.add_committee",
    "people.change_committee",
    "people.view_membership",
    "people.add_membership",
    "people.change_membership",
    "people.delete_membership",
    "people.view_party",
    "people.add_party",
    "people.change_party",
    # social listening: what the council decides, edited in the admin
    *[
        f"social.{verb}_{model}"
        for model in (
            "listeningsettings",
            "team",
            "label",
            "savedreply",
            "gazetteerentry",
            "socialidentity",
        )
        for verb in ("view", "add", "change", "delete")
        if not (model == "listeningsettings" and verb == "delete")
    ],
]
ADMIN_PERMISSIONS = [
    *STAFF_PERMISSIONS,
    "council.view_councilsettings",
    "council.change_councilsettings",
    "audit.view_auditentry",
    "accounts.view_user",
    "accounts.change_user",
    "places.delete_ward",
    "places.delete_postcode",
    "people.delete_councillor",
    "people.delete_committee",
    "people.delete_party",
    # the petition scheme: its settings, rejection reasons, block and allow rules
    "consultations.view_petitionscheme",
    "consultations.add_petitionscheme",
    "consultations.change_petitionscheme",
    *[
        f"consultations.{verb}_{model}"
        for model in ("rejectionreason", "blockrule")
        for verb in ("view", "add", "change", "delete")
    ],
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.RESIDENT: [],
    Role.COUNCILLOR: ["people.view_councillor", "people.view_committee"],
    Role.STAFF: STAFF_PERMISSIONS,
    Role.ADMIN: ADMIN_PERMISSIONS,
}


def sync_role_groups(**kwargs: object) -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)
