from django.db.models import Prefetch, QuerySet

from .models import Committee, Councillor, Membership, Party


def councillor_filter_choices() -> dict[str, QuerySet]:
    from engagement.places.models import Ward

    return {"parties": Party.objects.all(), "wards": Ward.objects.only("name", "slug")}


def councillors_for_list(*, party: str = "", ward: str = "") -> QuerySet[Councillor]:
    qs = Councillor.objects.filter(is_active=True).select_related("party").prefetch_related("wards")
    if party:
        qs = qs.filter(party__slug=party)
    if ward:
        qs = qs.filter(wards__slug=ward)
    return qs.order_by("name")


def councillor_detail(slug: str) -> QuerySet[Councillor]:
    return (
        Councillor.objects.select_related("party")
        .prefetch_related(
            "wards",
            Prefetch("memberships", queryset=Membership.objects.select_related("committee")),
        )
        .filter(slug=slug)
    )


def committees_for_list() -> QuerySet[Committee]:
    return Committee.objects.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("councillor").filter(
                role=Membership.Role.CHAIR
            ),
            to_attr="chairs",
        )
    ).order_by("name")


def committee_detail(slug: str) -> QuerySet[Committee]:
    return Committee.objects.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("councillor", "councillor__party"),
        )
    ).filter(slug=slug)
