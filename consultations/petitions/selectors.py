"""Reads for petitions: public lists, a petition's page, counts by ward, the JSON."""

from typing import Any

from django.db.models import Count, QuerySet
from django.template.loader import render_to_string

from consultations.models import Petition, Signature

PUBLIC_STATES = (Petition.State.OPEN, Petition.State.CLOSED, Petition.State.REJECTED)


def public_petitions() -> QuerySet[Petition]:
    return Petition.objects.filter(state__in=PUBLIC_STATES)


def home_petitions(request: Any) -> list[Petition]:
    return list(Petition.objects.filter(state=Petition.State.OPEN).order_by("-signature_count")[:5])


def count_snapshot(key: str) -> tuple[str, str, dict[str, Any]]:
    """The ``petition.<id>`` stream's state: the confirmed count."""
    petition = Petition.objects.only("signature_count", "paper_count").get(pk=int(key))
    html = render_to_string("petitions/includes/_count.html", {"petition": petition})
    return "petition.count", html, {"count": petition.signature_count}


def signatures_by_ward(petition: Petition) -> list[tuple[str, int]]:
    rows = (
        Signature.objects.filter(petition=petition, state=Signature.State.VALIDATED)
        .values("ward__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "ward__name")
    )
    return [(row["ward__name"] or "", row["n"]) for row in rows]


def petition_json(petition: Petition) -> dict[str, Any]:
    """In the spirit of e-petitions' JSON: the petition, its state and its counts."""
    return {
        "id": petition.pk,
        "action": petition.action,
        "background": petition.background,
        "details": petition.details,
        "state": petition.state,
        "signature_count": petition.signature_count,
        "paper_count": petition.paper_count,
        "opened_at": petition.opened_at.isoformat() if petition.opened_at else None,
        "closes_at": petition.closes_at.isoformat() if petition.closes_at else None,
        "response_threshold_reached_at": petition.response_threshold_at.isoformat()
        if petition.response_threshold_at
        else None,
        "debate_threshold_reached_at": petition.debate_threshold_at.isoformat()
        if petition.debate_threshold_at
        else None,
        "signatures_by_ward": [
            {"ward": ward, "count": n} for ward, n in signatures_by_ward(petition)
        ],
    }
