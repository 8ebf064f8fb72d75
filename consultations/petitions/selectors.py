"""Reads for petitions: public lists, a petition's page, counts by ward, the JSON."""

from typing import Any

from django.db.models import Count, QuerySet

from consultations.models import Petition, Signature
from engagement.notifications.services import absolute_url
from engagement.realtime.streams import Render, template

PUBLIC_STATES = (
    Petition.State.OPEN,
    Petition.State.CLOSED,
    Petition.State.REJECTED,
    Petition.State.ARCHIVED,
)


def public_petitions() -> QuerySet[Petition]:
    return Petition.objects.filter(state__in=PUBLIC_STATES).select_related("rejection")


def home_petitions(request: Any) -> list[Petition]:
    return list(Petition.objects.filter(state=Petition.State.OPEN).order_by("-signature_count")[:5])


def count_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """The ``petition.<id>`` stream's state: the confirmed count. Being the count's tick job, it
    first folds the tally into the petition (which also acts on the thresholds reached)."""
    from .services import petition_count_fold

    petition = petition_count_fold(int(key))
    render = template("petitions/includes/_count.html", {"petition": petition})
    return "petition.count", render, {"count": petition.signature_count}


def signatures_by_ward(petition: Petition) -> list[tuple[str, int]]:
    rows = (
        Signature.objects.filter(petition=petition, state=Signature.State.VALIDATED)
        .values("ward__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "ward__name")
    )
    return [(row["ward__name"] or "", row["n"]) for row in rows]


SHADES = 5


def ward_map(petition: Petition, size: int = 360) -> dict[str, Any] | None:
    """Every ward shaded by its confirmed signatures (five shades; the table has the numbers)."""
    from engagement.places.geometry import SvgProjection
    from engagement.places.models import Ward

    wards = list(Ward.objects.only("name", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"))
    if not wards:
        return None
    counts = dict(signatures_by_ward(petition))
    most = max(counts.values(), default=0)
    projection = SvgProjection(
        (
            min(w.min_lon for w in wards),
            min(w.min_lat for w in wards),
            max(w.max_lon for w in wards),
            max(w.max_lat for w in wards),
        ),
        size,
    )
    shaded = []
    for ward in wards:
        n = counts.get(ward.name, 0)
        shade = 0 if not n or not most else 1 + min(SHADES - 1, (n * SHADES - 1) // most)
        shaded.append(
            {"name": ward.name, "count": n, "shade": shade, "d": projection.path(ward.boundary)}
        )
    return {"width": projection.width, "height": projection.height, "wards": shaded}


def petitions_json() -> list[dict[str, Any]]:
    return [
        {
            "id": p.pk,
            "action": None if p.text_hidden else p.action,
            "state": p.state,
            "signature_count": p.signature_count,
            "paper_count": p.paper_count,
            "url": p.get_absolute_url(),
        }
        for p in public_petitions().order_by("-signature_count", "-pk")[:500]
    ]


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
        "response": petition.response or None,
        "response_cy": petition.response_cy or None,
        "debate_at": petition.debate_at.isoformat() if petition.debate_at else None,
        "debate_details": petition.debate_details or None,
        "signatures_by_ward": [
            {"ward": ward, "count": n} for ward, n in signatures_by_ward(petition)
        ],
        "debates": [
            {
                "meeting": item["meeting"],
                "starts_at": item["starts_at"].isoformat(),
                "item": item["number"],
                "url": absolute_url(item["url"]),
                "recording_url": absolute_url(item["watch_url"]) if item["watch_url"] else None,
            }
            for item in debate_items(petition)
        ],
    }


def debate_items(petition: Petition) -> list[dict[str, Any]]:
    """The meetings' agenda items about ``petition`` (staff link them on the agenda), oldest
    first: each with the link to the item and, once the meeting reached it on camera, the link
    that plays the recording from that moment."""
    from django.contrib.contenttypes.models import ContentType

    from webcast.models import AgendaItem

    items = (
        AgendaItem.objects.filter(
            subject_type=ContentType.objects.get_for_model(Petition), subject_id=str(petition.pk)
        )
        .select_related("meeting__committee")
        .prefetch_related("marks")
        .order_by("meeting__starts_at", "position")
    )
    found = []
    for item in items:
        meeting = item.meeting
        url = f"{meeting.get_absolute_url()}#{item.anchor}"
        marks = sorted(item.marks.all(), key=lambda mark: mark.at)
        watch = (
            f"{meeting.get_absolute_url()}?t={int(marks[0].at.timestamp())}#player" if marks else ""
        )
        found.append(
            {
                "meeting": str(meeting),
                "starts_at": meeting.starts_at,
                "number": item.number,
                "title": item.title,
                "url": url,
                "watch_url": watch,
            }
        )
    return found
