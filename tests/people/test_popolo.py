"""Popolo export, and export -> import -> export round trips."""

from datetime import date

import pytest

from engagement.council.selectors import council_settings_forget
from engagement.people.models import Committee, Councillor, Membership, Party
from engagement.people.popolo import export_popolo
from engagement.people.services import popolo_import
from tests.factories import (
    CommitteeFactory,
    CouncillorFactory,
    MembershipFactory,
    PartyFactory,
    WardFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def council():
    """Two wards, two parties, two committees, three councillors (one no longer serving)."""
    abbey = WardFactory(ons_code="W05000001", name="Abbey")
    bute = WardFactory(ons_code="W05000002", name="Bute")
    WardFactory(ons_code="W05000003", name="Castle")  # no councillors
    red = PartyFactory(name="Red Party", slug="red-party", colour="#d50000")
    PartyFactory(name="Blue Party", slug="blue-party", colour="#1d70b8")
    planning = CommitteeFactory(
        name="Planning Committee", slug="planning", description="Planning applications.\nAll."
    )
    scrutiny = CommitteeFactory(name="Scrutiny Committee", slug="scrutiny")
    gwen = CouncillorFactory(
        name="Gwen Price",
        slug="gwen-price",
        party=red,
        wards=[abbey, bute],
        portfolio="Housing and Regeneration",
        email="gwen.price@example.org",
        phone="01632 960001",
        x_handle="CllrGwenPrice",
        mastodon_handle="@gwen@mastodon.example",
        bluesky_handle="gwen.example.org",
    )
    huw = CouncillorFactory(name="Huw Ŵyn", slug="huw-wyn", party=red, wards=[abbey])
    CouncillorFactory(name="Old Hand", slug="old-hand", party=None, is_active=False)
    MembershipFactory(
        councillor=gwen, committee=planning, role="chair", start_date=date(2022, 5, 26)
    )
    MembershipFactory(
        councillor=huw,
        committee=planning,
        role="vice-chair",
        start_date=date(2022, 5, 26),
        end_date=date(2024, 5, 23),
    )
    MembershipFactory(councillor=huw, committee=scrutiny, role="member")


def test_export_popolo_writes_persons_organizations_posts_memberships_and_areas(council):
    data = export_popolo()

    assert data["persons"] == [
        {
            "id": "gwen-price",
            "name": "Gwen Price",
            "email": "gwen.price@example.org",
            "contact_details": [
                {"type": "voice", "value": "01632 960001"},
                {"type": "twitter", "value": "CllrGwenPrice"},
                {"type": "mastodon", "value": "@gwen@mastodon.example"},
                {"type": "bluesky", "value": "gwen.example.org"},
            ],
            "extras": {"serving": True},
        },
        {"id": "huw-wyn", "name": "Huw Ŵyn", "extras": {"serving": True}},
        {"id": "old-hand", "name": "Old Hand", "extras": {"serving": False}},
    ]
    assert data["organizations"] == [
        {"id": "council", "name": "Moot Demo Council", "classification": "council"},
        {"id": "cabinet", "name": "Cabinet", "classification": "executive", "parent_id": "council"},
        {
            "id": "party:blue-party",
            "name": "Blue Party",
            "classification": "party",
            "extras": {"colour": "#1d70b8"},
        },
        {
            "id": "party:red-party",
            "name": "Red Party",
            "classification": "party",
            "extras": {"colour": "#d50000"},
        },
        {
            "id": "committee:planning",
            "name": "Planning Committee",
            "classification": "committee",
            "parent_id": "council",
            "description": "Planning applications.\nAll.",
        },
        {
            "id": "committee:scrutiny",
            "name": "Scrutiny Committee",
            "classification": "committee",
            "parent_id": "council",
        },
    ]
    assert data["posts"][0] == {
        "id": "ward:W05000001",
        "label": "Councillor for Abbey",
        "role": "Councillor",
        "organization_id": "council",
        "area_id": "W05000001",
    }
    assert [post["id"] for post in data["posts"]] == [
        "ward:W05000001",
        "ward:W05000002",
        "ward:W05000003",
    ]
    assert data["memberships"] == [
        {"person_id": "gwen-price", "organization_id": "party:red-party"},
        {
            "person_id": "gwen-price",
            "organization_id": "council",
            "role": "Councillor",
            "post_id": "ward:W05000001",
            "area_id": "W05000001",
        },
        {
            "person_id": "gwen-price",
            "organization_id": "council",
            "role": "Councillor",
            "post_id": "ward:W05000002",
            "area_id": "W05000002",
        },
        {
            "person_id": "gwen-price",
            "organization_id": "cabinet",
            "role": "Cabinet member",
            "label": "Housing and Regeneration",
        },
        {
            "person_id": "gwen-price",
            "organization_id": "committee:planning",
            "role": "chair",
            "start_date": "2022-05-26",
        },
        {"person_id": "huw-wyn", "organization_id": "party:red-party"},
        {
            "person_id": "huw-wyn",
            "organization_id": "council",
            "role": "Councillor",
            "post_id": "ward:W05000001",
            "area_id": "W05000001",
        },
        {
            "person_id": "huw-wyn",
            "organization_id": "committee:planning",
            "role": "vice-chair",
            "start_date": "2022-05-26",
            "end_date": "2024-05-23",
        },
        {"person_id": "huw-wyn", "organization_id": "committee:scrutiny", "role": "member"},
    ]
    assert data["areas"][1] == {
        "id": "W05000002",
        "name": "Bute",
        "classification": "ward",
        "identifiers": [{"scheme": "ons", "identifier": "W05000002"}],
    }
    assert len(data["areas"]) == 3


def test_export_popolo_query_count_does_not_grow_with_councillors(
    council, django_assert_num_queries
):
    # wards, parties, committees, councillors + their wards + their memberships, council name
    council_settings_forget()
    with django_assert_num_queries(7):
        export_popolo()
    for _ in range(10):
        MembershipFactory(
            councillor=CouncillorFactory(wards=[WardFactory()]),
            committee=Committee.objects.get(slug="planning"),
        )

    council_settings_forget()
    with django_assert_num_queries(7):
        assert len(export_popolo()["persons"]) == 13


def _people_state() -> tuple:
    return (
        list(Party.objects.order_by("slug").values("slug", "name", "colour")),
        list(Committee.objects.order_by("slug").values("slug", "name", "description")),
        list(
            Councillor.objects.order_by("slug").values(
                "slug",
                "name",
                "party__slug",
                "portfolio",
                "email",
                "phone",
                "x_handle",
                "mastodon_handle",
                "bluesky_handle",
                "is_active",
            )
        ),
        sorted(Councillor.wards.through.objects.values_list("councillor__slug", "ward__ons_code")),
        list(
            Membership.objects.order_by("councillor__slug", "committee__slug").values_list(
                "councillor__slug", "committee__slug", "role", "start_date", "end_date"
            )
        ),
    )


def test_export_then_import_into_an_empty_database_round_trips_exactly(council):
    exported = export_popolo()
    state = _people_state()
    Councillor.objects.all().delete()
    Party.objects.all().delete()
    Committee.objects.all().delete()

    result = popolo_import(data=exported)

    assert result.counts == {
        "parties": {"created": 2, "updated": 0, "unchanged": 0},
        "committees": {"created": 2, "updated": 0, "unchanged": 0},
        "councillors": {"created": 3, "updated": 0, "unchanged": 0},
        "committee memberships": {"created": 3, "updated": 0, "unchanged": 0},
    }
    assert export_popolo() == exported
    assert _people_state() == state


def test_importing_the_export_over_itself_changes_nothing(council):
    exported = export_popolo()
    state = _people_state()

    result = popolo_import(data=exported)

    assert result.counts == {
        "parties": {"created": 0, "updated": 0, "unchanged": 2},
        "committees": {"created": 0, "updated": 0, "unchanged": 2},
        "councillors": {"created": 0, "updated": 0, "unchanged": 3},
        "committee memberships": {"created": 0, "updated": 0, "unchanged": 3},
    }
    assert result.changed is False
    assert _people_state() == state
