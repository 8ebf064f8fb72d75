"""popolo_import (upserts, and every kind of bad input refused with nothing changed) and
councillor_link_user."""

import copy
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from engagement.audit.models import AuditEntry
from engagement.people.models import Committee, Councillor, Membership, Party
from engagement.people.services import councillor_link_user, popolo_import
from tests.factories import (
    CommitteeFactory,
    CouncillorFactory,
    MembershipFactory,
    PartyFactory,
    WardFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


def document() -> dict:
    """A small valid Popolo document for ward W05000001."""
    return copy.deepcopy(
        {
            "persons": [
                {
                    "id": "gwen-price",
                    "name": "Gwen Price",
                    "email": "gwen@example.org",
                    "contact_details": [
                        {"type": "voice", "value": "01632 960001"},
                        {"type": "twitter", "value": "CllrGwenPrice"},
                        {"type": "fax", "value": "01632 960002"},
                    ],
                    "extras": {"serving": True},
                }
            ],
            "organizations": [
                {"id": "council", "name": "Test Council", "classification": "council"},
                {"id": "cabinet", "name": "Cabinet", "classification": "executive"},
                {
                    "id": "party:red-party",
                    "name": "Red Party",
                    "classification": "party",
                    "extras": {"colour": "#d50000"},
                },
                {
                    "id": "committee:planning",
                    "name": "Planning",
                    "classification": "committee",
                    "description": "Planning applications.",
                },
            ],
            "posts": [
                {
                    "id": "ward:W05000001",
                    "role": "Councillor",
                    "organization_id": "council",
                    "area_id": "W05000001",
                }
            ],
            "memberships": [
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
                    "organization_id": "cabinet",
                    "role": "Cabinet member",
                    "label": "Housing",
                },
                {
                    "person_id": "gwen-price",
                    "organization_id": "committee:planning",
                    "role": "Vice Chair",
                    "start_date": "2022-05-26",
                },
            ],
            "areas": [{"id": "W05000001", "name": "Abbey"}],
        }
    )


@pytest.fixture
def ward():
    return WardFactory(ons_code="W05000001", name="Abbey")


def test_popolo_import_creates_everything(ward):
    result = popolo_import(data=document(), source_name="people.json")

    assert result.counts == {
        "parties": {"created": 1, "updated": 0, "unchanged": 0},
        "committees": {"created": 1, "updated": 0, "unchanged": 0},
        "councillors": {"created": 1, "updated": 0, "unchanged": 0},
        "committee memberships": {"created": 1, "updated": 0, "unchanged": 0},
    }
    gwen = Councillor.objects.get()
    assert (
        gwen.slug,
        gwen.name,
        gwen.email,
        gwen.phone,
        gwen.x_handle,
        gwen.mastodon_handle,
        gwen.portfolio,
        gwen.party.slug,
        gwen.is_active,
    ) == (
        "gwen-price",
        "Gwen Price",
        "gwen@example.org",
        "01632 960001",
        "CllrGwenPrice",
        "",
        "Housing",
        "red-party",
        True,
    )
    assert list(gwen.wards.all()) == [ward]
    assert (Party.objects.get().name, Party.objects.get().colour) == ("Red Party", "#d50000")
    assert Committee.objects.get().description == "Planning applications."
    assert list(
        Membership.objects.values_list("committee__slug", "role", "start_date", "end_date")
    ) == [("planning", "vice-chair", date(2022, 5, 26), None)]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_label) == ("popolo.import", "system")
    assert entry.changes == {**result.as_dict(), "file": "people.json"}


def test_popolo_import_replaces_a_listed_persons_memberships_and_leaves_others_alone(ward):
    bute = WardFactory(ons_code="W05000002", name="Bute")
    other = CouncillorFactory(name="Huw Jones", slug="huw-jones", wards=[bute])
    gwen = CouncillorFactory(name="Gwen Old", slug="gwen-price", wards=[bute], portfolio="Old")
    licensing = CommitteeFactory(name="Licensing", slug="licensing")
    MembershipFactory(councillor=gwen, committee=licensing, role="member")
    MembershipFactory(councillor=other, committee=licensing, role="chair")
    planning = CommitteeFactory(name="Planning", slug="planning", description="Old text.")
    MembershipFactory(councillor=gwen, committee=planning, role="member")
    user = make_user("gwen@example.org")
    councillor_link_user(councillor=gwen, user=user)

    result = popolo_import(data=document())

    assert result.counts == {
        "parties": {"created": 1, "updated": 0, "unchanged": 0},
        "committees": {"created": 0, "updated": 1, "unchanged": 0},
        "councillors": {"created": 0, "updated": 1, "unchanged": 0},
        "committee memberships": {"created": 0, "updated": 1, "unchanged": 0, "deleted": 1},
    }
    gwen.refresh_from_db()
    assert (gwen.name, gwen.portfolio, gwen.party.slug, gwen.user) == (
        "Gwen Price",
        "Housing",
        "red-party",
        user,
    )
    assert list(gwen.wards.all()) == [ward]
    assert sorted(
        Membership.objects.values_list("councillor__slug", "committee__slug", "role")
    ) == [("gwen-price", "planning", "vice-chair"), ("huw-jones", "licensing", "chair")]
    assert list(other.wards.all()) == [bute]
    assert Committee.objects.get(slug="planning").description == "Planning applications."


def test_popolo_import_reads_other_producers_ids_and_contact_types(ward):
    data = document()
    data["organizations"][2]["id"] = "red-party"
    data["memberships"][0]["organization_id"] = "red-party"
    data["persons"][0]["contact_details"] = [
        {"type": "cell", "value": "07700 900001"},
        {"type": "x", "value": "gwen"},
    ]
    del data["posts"]
    del data["memberships"][1]["post_id"]

    popolo_import(data=data)

    gwen = Councillor.objects.get()
    assert (gwen.party.slug, gwen.phone, gwen.x_handle) == ("red-party", "07700 900001", "gwen")
    assert list(gwen.wards.values_list("ons_code", flat=True)) == ["W05000001"]


@pytest.fixture
def existing(ward):
    """Rows a bad import must not touch: it would update all of them."""
    party = PartyFactory(name="Red Party", slug="red-party", colour="#000000")
    gwen = CouncillorFactory(name="Gwen Old", slug="gwen-price", party=party)
    MembershipFactory(councillor=gwen, committee=CommitteeFactory(name="Old", slug="planning"))
    return gwen


def _state() -> tuple:
    return (
        list(Party.objects.order_by("pk").values()),
        list(Committee.objects.order_by("pk").values()),
        list(Councillor.objects.order_by("pk").values()),
        list(Councillor.wards.through.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        AuditEntry.objects.count(),
    )


def _person(d):
    return d["persons"][0]


def _memberships(d):
    return d["memberships"]


BAD_DOCUMENTS = [
    pytest.param(
        lambda d: d.update(persons={"id": "gwen-price"}),
        ["persons: must be a list, not an object."]
        + [
            f"memberships[{n}] (gwen-price in {org}): person_id gwen-price is not among the "
            "persons."
            for n, org in enumerate(["party:red-party", "council", "cabinet", "committee:planning"])
        ],
        id="persons-not-a-list",
    ),
    pytest.param(
        lambda d: _person(d).update(name=42),
        ['persons[0] (gwen-price): "name" must be text, not a number.'],
        id="name-is-a-number",
    ),
    pytest.param(
        lambda d: _person(d).pop("name"),
        ['persons[0] (gwen-price): "name" is missing.'],
        id="name-missing",
    ),
    pytest.param(
        lambda d: _person(d).update(name="G" * 151),
        [
            "persons[0] (gwen-price): name: Ensure this value has at most 150 characters (it "
            "has 151)."
        ],
        id="name-too-long",
    ),
    pytest.param(
        lambda d: _person(d).update(name="Gwen\u202ePrice"),
        [
            "persons[0] (gwen-price): name: Remove the hidden control character (U+202E) from "
            "this text."
        ],
        id="name-control-character",
    ),
    pytest.param(
        lambda d: _person(d).update(name="Gwen\nPrice"),
        ["persons[0] (gwen-price): name: Enter this on a single line."],
        id="name-two-lines",
    ),
    pytest.param(
        lambda d: _person(d).update(email="not-an-email"),
        ["persons[0] (gwen-price): email: Enter a valid email address."],
        id="bad-email",
    ),
    pytest.param(
        lambda d: _person(d).update(extras={"serving": "yes"}),
        ['persons[0] (gwen-price): "extras.serving" must be true or false, not text.'],
        id="serving-not-a-boolean",
    ),
    pytest.param(
        lambda d: _person(d).update(extras=[1]),
        ['persons[0] (gwen-price): "extras" must be an object, not a list.'],
        id="extras-not-an-object",
    ),
    pytest.param(
        lambda d: _person(d).update(contact_details="01632 960001"),
        ['persons[0] (gwen-price): "contact_details" must be a list, not text.'],
        id="contact-details-not-a-list",
    ),
    pytest.param(
        lambda d: _person(d)["contact_details"].append({"type": "twitter", "value": "x" * 51}),
        ["persons[0] (gwen-price) contact_details[3]: a second twitter contact; keep one."],
        id="two-twitter-handles",
    ),
    pytest.param(
        lambda d: _person(d)["contact_details"][1].update(value="x" * 51),
        [
            "persons[0] (gwen-price): contact_details twitter: Ensure this value has at most 50 "
            "characters (it has 51)."
        ],
        id="x-handle-too-long",
    ),
    pytest.param(
        lambda d: _person(d)["contact_details"][0].update(value=1632960001),
        ['persons[0] (gwen-price) contact_details[0]: "value" must be text, not a number.'],
        id="phone-is-a-number",
    ),
    pytest.param(
        lambda d: _person(d).update(id="Gwen Price"),
        [
            "persons[0] (Gwen Price): id: Enter a valid “slug” consisting of letters, numbers, "
            "underscores or hyphens."
        ]
        + [
            f"memberships[{n}] (gwen-price in {org}): person_id gwen-price is not among the "
            "persons."
            for n, org in enumerate(["party:red-party", "council", "cabinet", "committee:planning"])
        ],
        id="id-not-a-slug",
    ),
    pytest.param(
        lambda d: d["persons"].append({"id": "gwen-price", "name": "Another Gwen"}),
        ["persons[1] (gwen-price): another person has the same id."],
        id="duplicate-person",
    ),
    pytest.param(
        lambda d: d["areas"].append({"id": "W05999999", "name": "Nowhere"}),
        [
            "areas[1] (W05999999): W05999999 is not an imported ward; import the ward boundaries "
            "first."
        ],
        id="unknown-area",
    ),
    pytest.param(
        lambda d: _memberships(d).append(
            {"person_id": "gwen-price", "organization_id": "council", "area_id": "W05999999"}
        ),
        [
            "memberships[4] (gwen-price in council): area_id W05999999 is not an imported ward; "
            "import the ward boundaries first."
        ],
        id="membership-in-unknown-area",
    ),
    pytest.param(
        lambda d: _memberships(d).append({"person_id": "gwen-price", "organization_id": "council"}),
        [
            'memberships[4] (gwen-price in council): a council membership needs an "area_id" (the '
            "ward)."
        ],
        id="council-membership-without-area",
    ),
    pytest.param(
        lambda d: _memberships(d)[1].update(area_id="W05000002"),
        [
            "memberships[1] (gwen-price in council): area_id W05000002 does not match the "
            "post's area W05000001."
        ],
        id="area-and-post-disagree",
    ),
    pytest.param(
        lambda d: _memberships(d).append(
            {"person_id": "nobody", "organization_id": "party:red-party"}
        ),
        ["memberships[4] (nobody in party:red-party): person_id nobody is not among the persons."],
        id="unknown-person",
    ),
    pytest.param(
        lambda d: _memberships(d)[0].update(organization_id="party:blue"),
        [
            "memberships[0] (gwen-price in party:blue): organization_id party:blue is not among "
            "the organizations."
        ],
        id="unknown-organization",
    ),
    pytest.param(
        lambda d: _memberships(d).append({"person_id": 7, "organization_id": "council"}),
        ['memberships[4]: "person_id" must be text, not a number.'],
        id="person-id-is-a-number",
    ),
    pytest.param(
        lambda d: _memberships(d).append("gwen-price"),
        ["memberships[4]: must be an object, not text."],
        id="membership-not-an-object",
    ),
    pytest.param(
        lambda d: d["organizations"][2].update(classification="faction"),
        [
            'organizations[2] (party:red-party): "classification" must be one of council, '
            'executive, party, committee (found "faction").'
        ],
        id="unknown-classification",
    ),
    pytest.param(
        lambda d: d["organizations"][2].update(name=["Red"]),
        ['organizations[2] (party:red-party): "name" must be text, not a list.'],
        id="party-name-is-a-list",
    ),
    pytest.param(
        lambda d: d["organizations"][2].update(extras={"colour": "red"}),
        [
            "organizations[2] (party:red-party): extras.colour: Enter a colour as a # followed "
            "by six hexadecimal digits, like #1d70b8."
        ],
        id="bad-party-colour",
    ),
    pytest.param(
        lambda d: d["organizations"][3].update(name="P" * 151),
        [
            "organizations[3] (committee:planning): name: Ensure this value has at most 150 "
            "characters (it has 151)."
        ],
        id="committee-name-too-long",
    ),
    pytest.param(
        lambda d: d["organizations"][3].update(description="Plans\u200b"),
        [
            "organizations[3] (committee:planning): description: Remove the hidden control "
            "character (U+200B) from this text."
        ],
        id="description-control-character",
    ),
    pytest.param(
        lambda d: d["organizations"][3].update(description="d" * 2001),
        [
            "organizations[3] (committee:planning): description: Ensure this value has at most "
            "2000 characters (it has 2001)."
        ],
        id="description-too-long",
    ),
    pytest.param(
        lambda d: d["organizations"].append(
            {"id": "council", "name": "Again", "classification": "council"}
        ),
        ["organizations[4] (council): another organization has the same id."],
        id="duplicate-organization",
    ),
    pytest.param(
        lambda d: d["organizations"].append(
            {"id": "party:blue", "name": "Red Party", "classification": "party"}
        ),
        [
            'organizations[2] (party:red-party): another party (blue) is already called "Red '
            'Party".',
            'organizations[4] (party:blue): another party (red-party) is already called "Red '
            'Party".',
        ],
        id="two-parties-same-name",
    ),
    pytest.param(
        lambda d: _memberships(d)[3].update(role="secretary"),
        [
            'memberships[3] (gwen-price in committee:planning): "role" must be one of chair, '
            'vice-chair, member (found "secretary").'
        ],
        id="unknown-committee-role",
    ),
    pytest.param(
        lambda d: _memberships(d)[3].update(start_date="2022-13-01"),
        [
            'memberships[3] (gwen-price in committee:planning): "start_date" must be a full '
            'date like 2024-05-23 (found "2022-13-01").'
        ],
        id="impossible-date",
    ),
    pytest.param(
        lambda d: _memberships(d)[3].update(start_date="2022"),
        [
            'memberships[3] (gwen-price in committee:planning): "start_date" must be a full '
            'date like 2024-05-23 (found "2022").'
        ],
        id="partial-date",
    ),
    pytest.param(
        lambda d: _memberships(d)[3].update(end_date="2021-05-01"),
        ["memberships[3] (gwen-price in committee:planning): end_date is before start_date."],
        id="ends-before-it-starts",
    ),
    pytest.param(
        lambda d: _memberships(d).append(
            {"person_id": "gwen-price", "organization_id": "committee:planning"}
        ),
        [
            "memberships[4] (gwen-price in committee:planning): a second membership of the same "
            "committee."
        ],
        id="same-committee-twice",
    ),
    pytest.param(
        lambda d: (
            d["organizations"].append(
                {"id": "party:blue", "name": "Blue", "classification": "party"}
            ),
            _memberships(d).append({"person_id": "gwen-price", "organization_id": "party:blue"}),
        ),
        [
            "memberships[4] (gwen-price in party:blue): a second party membership; a councillor "
            "has one party."
        ],
        id="two-parties",
    ),
    pytest.param(
        lambda d: _memberships(d)[2].update(label="P" * 201),
        [
            "memberships[2] (gwen-price in cabinet): label (the cabinet portfolio): Ensure this "
            "value has at most 200 characters (it has 201)."
        ],
        id="portfolio-too-long",
    ),
    pytest.param(
        lambda d: _memberships(d)[2].pop("label"),
        ['memberships[2] (gwen-price in cabinet): "label" is missing.'],
        id="portfolio-missing",
    ),
]


@pytest.mark.parametrize(("mutate", "messages"), BAD_DOCUMENTS)
def test_popolo_import_refuses_bad_input_and_changes_nothing(existing, mutate, messages):
    data = document()
    mutate(data)
    before = _state()

    with pytest.raises(ValidationError) as exc:
        popolo_import(data=data)

    assert exc.value.messages == messages
    assert _state() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "The file is not Popolo JSON: it needs persons, organizations and memberships."),
        (
            {"areas": []},
            "The file is not Popolo JSON: it needs persons, organizations and memberships.",
        ),
        ('{"persons": [', "The file is not valid JSON (line 1, column 14: Expecting value)."),
    ],
)
def test_popolo_import_refuses_what_is_not_popolo(existing, data, message):
    before = _state()

    with pytest.raises(ValidationError) as exc:
        popolo_import(data=data)

    assert exc.value.messages == [message]
    assert _state() == before


def test_a_new_party_may_not_take_an_existing_partys_name(existing):
    data = document()
    data["organizations"][2]["id"] = "party:reds"
    data["memberships"][0]["organization_id"] = "party:reds"
    before = _state()

    with pytest.raises(ValidationError) as exc:
        popolo_import(data=data)

    assert exc.value.messages == [
        'organizations[2] (party:reds): another party (red-party) is already called "Red Party".'
    ]
    assert _state() == before


# --- councillor_link_user -----------------------------------------------------------------------


def test_councillor_link_user_links_once_and_audits_once():
    councillor = CouncillorFactory(name="Gwen Price")
    user = make_user("gwen@example.org")

    councillor_link_user(councillor=councillor, user=user)
    councillor_link_user(councillor=councillor, user=user)

    councillor.refresh_from_db()
    assert councillor.user == user
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target_label, entry.changes) == (
        "councillor.link_user",
        "Gwen Price",
        {"user": [None, "gwen@example.org"]},
    )


def test_councillor_link_user_refuses_an_account_linked_to_someone_else():
    user = make_user("gwen@example.org")
    councillor_link_user(councillor=CouncillorFactory(name="Gwen Price"), user=user)
    other = CouncillorFactory(name="Huw Jones")

    with pytest.raises(ValidationError) as exc:
        councillor_link_user(councillor=other, user=user)

    assert exc.value.messages == ["That account is already linked to Gwen Price."]
    other.refresh_from_db()
    assert other.user is None


def test_councillor_link_user_unlinks():
    user = make_user("gwen@example.org")
    councillor = CouncillorFactory(name="Gwen Price")
    councillor_link_user(councillor=councillor, user=user)

    councillor_link_user(councillor=councillor, user=None)

    councillor.refresh_from_db()
    assert councillor.user is None
    assert AuditEntry.objects.order_by("pk").last().changes == {"user": ["gwen@example.org", None]}


def test_a_renamed_partys_old_name_can_go_to_a_new_party(existing):
    data = document()
    data["organizations"][2]["name"] = "Crimson Party"
    data["organizations"].append(
        {"id": "party:new-red", "name": "Red Party", "classification": "party"}
    )

    result = popolo_import(data=data)

    assert result.counts["parties"] == {"created": 1, "updated": 1, "unchanged": 0}
    assert sorted(Party.objects.values_list("slug", "name")) == [
        ("new-red", "Red Party"),
        ("red-party", "Crimson Party"),
    ]
