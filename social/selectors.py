"""Reads for the inbox, the case pages, the sources' health and response-time figures."""

from __future__ import annotations

from datetime import timedelta
from statistics import median
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from engagement.core.permissions import has_staff_access
from engagement.people.models import Councillor

from .models import Case, CaseEvent, Reply

OPEN_STATES = [Case.State.NEW, Case.State.OPEN, Case.State.WAITING]


def councillor_for(user: Any) -> Councillor | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Councillor.objects.filter(user=user, is_active=True).first()


def may_use_inbox(user: Any) -> bool:
    """Staff (with two-factor) and councillors with a linked councillor record."""
    return has_staff_access(user) or councillor_for(user) is not None


def may_watch_inbox(user: Any, key: str) -> bool:
    if key == "staff":
        return has_staff_access(user)
    councillor = councillor_for(user)
    return councillor is not None and key == str(councillor.pk)


def visible_cases(user: Any) -> QuerySet[Case]:
    """Every case for staff; for a councillor, the cases they own or watch and those of their
    wards."""
    base = Case.objects.filter(merged_into__isnull=True)
    if has_staff_access(user):
        return base
    councillor = councillor_for(user)
    if councillor is None:
        return base.none()
    ward_ids = list(councillor.wards.values_list("pk", flat=True))
    return base.filter(
        Q(owner=councillor) | Q(watchers=councillor) | Q(ward_id__in=ward_ids)
    ).distinct()


def may_act_on(user: Any, case: Case) -> bool:
    if has_staff_access(user):
        return True
    councillor = councillor_for(user)
    if councillor is None:
        return False
    return case.owner_id == councillor.pk or case.watchers.filter(pk=councillor.pk).exists()


VIEWS = ("mine", "ward", "watching", "overdue", "triage", "approval", "all")


def inbox(
    user: Any, *, view: str = "mine", state: str = "", q: str = "", network: str = ""
) -> QuerySet[Case]:
    """The inbox list for ``view`` (mine, ward, watching, overdue, triage, all), filtered, with
    what the rows show fetched in a fixed number of queries."""
    cases = visible_cases(user)
    councillor = councillor_for(user)
    now = timezone.now()
    if view == "mine":
        cases = cases.filter(owner=councillor) if councillor else cases.filter(pk__in=[])
    elif view == "ward":
        ward_ids = list(councillor.wards.values_list("pk", flat=True)) if councillor else []
        cases = cases.filter(ward_id__in=ward_ids)
    elif view == "watching":
        cases = cases.filter(watchers=councillor) if councillor else cases.filter(pk__in=[])
    elif view == "overdue":
        cases = cases.filter(state__in=OPEN_STATES).filter(
            Q(first_responded_at__isnull=True, first_response_due__lt=now)
            | Q(resolution_due__lt=now)
        )
    elif view == "triage":
        cases = cases.filter(target=Case.Target.TRIAGE)
    elif view == "approval":
        cases = cases.filter(replies__state=Reply.State.AWAITING_APPROVAL).distinct()
    if state == "open_any":
        cases = cases.filter(state__in=OPEN_STATES)
    elif state in Case.State.values:
        cases = cases.filter(state=state)
    if network:
        cases = cases.filter(network=network)
    if q:
        cases = cases.filter(
            Q(summary__icontains=q) | Q(author_handle__icontains=q) | Q(topic__icontains=q)
        )
    return (
        cases.select_related("owner", "team", "ward")
        .prefetch_related("labels")
        .order_by("-priority", "-created_at")
    )


def case_detail(case_id: int) -> Case:
    return Case.objects.select_related("owner", "team", "ward", "merged_into").get(pk=case_id)


def case_history(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor", "post").order_by("at", "pk")


def pending_approvals() -> QuerySet[Reply]:
    return Reply.objects.filter(state=Reply.State.AWAITING_APPROVAL).select_related(
        "case", "author"
    )


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(p * (len(ordered) - 1))))
    return ordered[index]


def response_figures(*, days: int = 90, by: str = "owner") -> list[dict[str, Any]]:
    """First-response and resolution times (median and p90, in hours) per owner, ward, topic or
    network over the last ``days``."""
    since = timezone.now() - timedelta(days=days)
    field = {"owner": "owner__name", "ward": "ward__name", "topic": "topic", "network": "network"}[
        by
    ]
    rows: dict[str, dict[str, list[float]]] = {}
    for key, created, responded, resolved in Case.objects.filter(
        created_at__gte=since, merged_into__isnull=True
    ).values_list(field, "created_at", "first_responded_at", "resolved_at"):
        bucket = rows.setdefault(key or "", {"first": [], "resolve": [], "count": []})
        bucket["count"].append(1)
        if responded:
            bucket["first"].append((responded - created).total_seconds() / 3600)
        if resolved:
            bucket["resolve"].append((resolved - created).total_seconds() / 3600)
    result = []
    for key, bucket in sorted(rows.items()):
        result.append(
            {
                "key": key,
                "cases": len(bucket["count"]),
                "first_median": median(bucket["first"]) if bucket["first"] else None,
                "first_p90": _percentile(bucket["first"], 0.9),
                "resolve_median": median(bucket["resolve"]) if bucket["resolve"] else None,
                "resolve_p90": _percentile(bucket["resolve"], 0.9),
            }
        )
    return result
