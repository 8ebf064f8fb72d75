"""Reads for accounts."""

from django.db.models import Prefetch, QuerySet

from .models import User


def users_for_admin(*, search: str = "", role: str = "") -> QuerySet[User]:
    from django.contrib.auth.models import Group

    users = (
        User.objects.filter(anonymised_at__isnull=True)
        .select_related("ward")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.only("name")))
        .order_by("email")
    )
    if search:
        users = users.filter(email__icontains=search) | users.filter(name__icontains=search)
    if role:
        users = users.filter(groups__name=role)
    return users.distinct()
