"""Popolo JSON export (the import is :func:`engagement.people.services.popolo_import`).

The shape Moot writes, and reads back exactly (http://www.popoloproject.com/specs/):

``persons``
    ``id`` is the councillor's slug; ``name``; ``email``; ``contact_details`` of type ``voice``
    (phone), ``twitter`` (X), ``mastodon`` and ``bluesky``; ``extras.serving`` (false for a
    councillor who no longer serves). Empty values are left out.
``organizations``
    the council (id ``council``, classification ``council``), its cabinet (id ``cabinet``,
    classification ``executive``), parties (id ``party:<slug>``, classification ``party``,
    ``extras.colour``) and committees (id ``committee:<slug>``, classification ``committee``,
    ``description``).
``posts``
    one per ward: id ``ward:<ONS code>``, role ``Councillor``, ``area_id``.
``memberships``
    per person, in this order: the party; one per ward (organization ``council``, role
    ``Councillor``, ``post_id`` and ``area_id``); the cabinet (role ``Cabinet member``, the
    portfolio as ``label``); committees (role ``chair``, ``vice-chair`` or ``member``, with
    ``start_date`` / ``end_date`` as YYYY-MM-DD when known).
``areas``
    the wards: ``id`` is the ONS code, ``name``, classification ``ward``, an ``ons`` identifier.

A councillor's sign-in account is not exported: it is not open data.
"""

from typing import Any

from django.db.models import Prefetch

from engagement.council.selectors import council_settings
from engagement.places.models import Ward

from .models import Committee, Councillor, Membership, Party

COUNCIL_ID = "council"
CABINET_ID = "cabinet"
PARTY_PREFIX = "party:"
COMMITTEE_PREFIX = "committee:"
POST_PREFIX = "ward:"
WARD_ROLE = "Councillor"
CABINET_ROLE = "Cabinet member"
CABINET_NAME = "Cabinet"

# contact_details types, in the order they are written, and the Councillor field of each.
CONTACT_FIELDS = {
    "voice": "phone",
    "twitter": "x_handle",
    "mastodon": "mastodon_handle",
    "bluesky": "bluesky_handle",
}


def export_popolo() -> dict[str, Any]:
    """Councillors, parties, committees, memberships and wards as one Popolo document.

    Deterministic (sorted by slug / ONS code) and a constant number of queries.
    """
    wards = list(Ward.objects.order_by("ons_code").only("ons_code", "name"))
    parties = list(Party.objects.order_by("slug"))
    committees = list(Committee.objects.order_by("slug"))
    councillors = (
        Councillor.objects.select_related("party")
        .prefetch_related(
            Prefetch("wards", queryset=Ward.objects.order_by("ons_code").only("ons_code")),
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("committee").order_by("committee__slug"),
            ),
        )
        .order_by("slug")
    )

    persons: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    for councillor in councillors:
        persons.append(_person(councillor))
        memberships.extend(_memberships(councillor))

    organizations: list[dict[str, Any]] = [
        {"id": COUNCIL_ID, "name": council_settings().name, "classification": "council"},
        {
            "id": CABINET_ID,
            "name": CABINET_NAME,
            "classification": "executive",
            "parent_id": COUNCIL_ID,
        },
    ]
    organizations += [
        {
            "id": PARTY_PREFIX + party.slug,
            "name": party.name,
            "classification": "party",
            "extras": {"colour": party.colour},
        }
        for party in parties
    ]
    for committee in committees:
        entry = {
            "id": COMMITTEE_PREFIX + committee.slug,
            "name": committee.name,
            "classification": "committee",
            "parent_id": COUNCIL_ID,
        }
        if committee.description:
            entry["description"] = committee.description
        organizations.append(entry)

    return {
        "persons": persons,
        "organizations": organizations,
        "posts": [
            {
                "id": POST_PREFIX + ward.ons_code,
                "label": f"Councillor for {ward.name}",
                "role": WARD_ROLE,
                "organization_id": COUNCIL_ID,
                "area_id": ward.ons_code,
            }
            for ward in wards
        ],
        "memberships": memberships,
        "areas": [
            {
                "id": ward.ons_code,
                "name": ward.name,
                "classification": "ward",
                "identifiers": [{"scheme": "ons", "identifier": ward.ons_code}],
            }
            for ward in wards
        ],
    }


def _person(councillor: Councillor) -> dict[str, Any]:
    person: dict[str, Any] = {"id": councillor.slug, "name": councillor.name}
    if councillor.email:
        person["email"] = councillor.email
    contacts = [
        {"type": kind, "value": getattr(councillor, field)}
        for kind, field in CONTACT_FIELDS.items()
        if getattr(councillor, field)
    ]
    if contacts:
        person["contact_details"] = contacts
    person["extras"] = {"serving": councillor.is_active}
    return person


def _memberships(councillor: Councillor) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if councillor.party is not None:
        out.append(
            {"person_id": councillor.slug, "organization_id": PARTY_PREFIX + councillor.party.slug}
        )
    out += [
        {
            "person_id": councillor.slug,
            "organization_id": COUNCIL_ID,
            "role": WARD_ROLE,
            "post_id": POST_PREFIX + ward.ons_code,
            "area_id": ward.ons_code,
        }
        for ward in councillor.wards.all()
    ]
    if councillor.portfolio:
        out.append(
            {
                "person_id": councillor.slug,
                "organization_id": CABINET_ID,
                "role": CABINET_ROLE,
                "label": councillor.portfolio,
            }
        )
    for membership in councillor.memberships.all():
        entry: dict[str, Any] = {
            "person_id": councillor.slug,
            "organization_id": COMMITTEE_PREFIX + membership.committee.slug,
            "role": membership.role,
        }
        if membership.start_date:
            entry["start_date"] = membership.start_date.isoformat()
        if membership.end_date:
            entry["end_date"] = membership.end_date.isoformat()
        out.append(entry)
    return out
