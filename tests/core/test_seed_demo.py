"""seed_demo (idempotent, a tiling of wards, postcodes inside them, councillors, sign-ins) and
demo_totp."""

import time
from collections import Counter
from io import StringIO
from itertools import combinations

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
from allauth.mfa.utils import is_mfa_enabled
from django.core.management import CommandError, call_command
from shapely.geometry import box, shape
from shapely.ops import unary_union

from engagement.accounts.models import Role, User
from engagement.audit.models import AuditEntry
from engagement.core.demo import (
    DEMO_BOUNDS,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    demo_data,
    demo_recovery_codes,
)
from engagement.council.models import CouncilSettings
from engagement.people.models import Committee, Councillor, Membership, Party
from engagement.places.models import Postcode, Ward
from engagement.places.selectors import normalise_postcode, ward_for_point
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_settings(settings):
    settings.MOOT_DEMO = True


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(demo_settings) -> str:
    return seed()


def snapshot() -> dict:
    """Every row seed_demo writes, in full."""
    models = [
        CouncilSettings,
        Ward,
        Postcode,
        Party,
        Committee,
        Councillor,
        Membership,
        User,
        EmailAddress,
        Authenticator,
        AuditEntry,
        Councillor.wards.through,
    ]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def test_seed_demo_twice_changes_nothing_the_second_time(demo_settings):
    seed()
    first = snapshot()

    output = seed()

    assert snapshot() == first
    assert {name: len(rows) for name, rows in first.items()} == {
        "CouncilSettings": 1,
        "Ward": 9,
        "Postcode": 270,
        "Party": 4,
        "Committee": 5,
        "Councillor": 25,
        "Membership": 35,
        "User": 4,
        "EmailAddress": 4,
        "Authenticator": 4,
        "AuditEntry": 22,  # 15 from building the demo consultations through their services
        "Councillor_wards": 25,
    }
    assert output.splitlines()[:8] == [
        "Demo council: Llanfair Gororau County Borough Council",
        "  wards: 0 created, 0 updated, 9 unchanged",
        "  postcodes: 0 created, 0 updated, 270 unchanged",
        "  parties: 0 created, 0 updated, 4 unchanged",
        "  committees: 0 created, 0 updated, 5 unchanged",
        "  councillors: 0 created, 0 updated, 25 unchanged",
        "  committee memberships: 0 created, 0 updated, 35 unchanged",
        "  Already up to date: nothing changed.",
    ]


def test_seed_demo_repairs_what_was_changed(seeded):
    ward = Ward.objects.get(ons_code="W05099005")
    ward.name = "Renamed"
    ward.save()
    Councillor.objects.order_by("slug").first().delete()

    output = seed()

    assert "  wards: 0 created, 1 updated, 8 unchanged" in output.splitlines()
    assert "  councillors: 1 created, 0 updated, 24 unchanged" in output.splitlines()
    assert Ward.objects.get(ons_code="W05099005").name == "Llanfair Town"
    assert Councillor.objects.count() == 25


def test_seed_demo_prints_the_demo_sign_ins(seeded):
    lines = seeded.splitlines()

    assert lines[:7] == [
        "Demo council: Llanfair Gororau County Borough Council",
        "  wards: 9 created, 0 updated, 0 unchanged",
        "  postcodes: 270 created, 0 updated, 0 unchanged",
        "  parties: 4 created, 0 updated, 0 unchanged",
        "  committees: 5 created, 0 updated, 0 unchanged",
        "  councillors: 25 created, 0 updated, 0 unchanged",
        "  committee memberships: 35 created, 0 updated, 0 unchanged",
    ]
    assert lines[8:] == [
        "Demo sign-ins (password: moot-demo-2026):",
        "  resident@example.org     resident (new)",
        "  councillor@example.org   councillor (new)",
        "  staff@example.org        democratic services staff (new); code: python manage.py "
        "demo_totp staff@example.org",
        "  admin@example.org        council admin (new); code: python manage.py demo_totp "
        "admin@example.org",
        "Two-factor for staff and admin (DEMO ONLY): TOTP secret "
        f"{DEMO_TOTP_SECRET}; recovery codes {' '.join(demo_recovery_codes())}",
    ]


def test_seed_demo_refuses_without_demo_or_debug(settings):
    settings.MOOT_DEMO = False
    settings.DEBUG = False

    with pytest.raises(CommandError) as exc:
        seed()

    assert str(exc.value) == (
        "seed_demo creates accounts with published passwords and two-factor secrets, so it runs "
        "only when the MOOT_DEMO or DEBUG setting is on (for example with "
        "engagement.settings.local)."
    )
    assert (Ward.objects.count(), User.objects.count()) == (0, 0)


def test_the_council_is_on_the_welsh_border(seeded):
    council = CouncilSettings.objects.get()

    assert (council.name, council.short_name, council.brand_colour, council.welsh_enabled) == (
        "Llanfair Gororau County Borough Council",
        "Llanfair Gororau",
        "#8a1538",
        True,
    )
    west, south, east, north = DEMO_BOUNDS
    assert (-4.0 < west < east < -2.9, 52.0 < south < north < 53.0) == (True, True)


def test_the_wards_tile_the_rectangle_without_gaps_or_overlaps(seeded):
    wards = list(Ward.objects.order_by("ons_code"))
    shapes = [shape(ward.boundary) for ward in wards]

    assert [ward.ons_code for ward in wards] == [f"W05099{n:03d}" for n in range(1, 10)]
    assert len({ward.name for ward in wards}) == 9
    assert all(s.is_valid and s.geom_type == "Polygon" for s in shapes)
    area = box(*DEMO_BOUNDS)
    union = unary_union(shapes)
    assert union.equals(area)
    assert union.symmetric_difference(area).area == 0
    assert sum(s.area for s in shapes) == pytest.approx(area.area, rel=1e-12)
    assert max(a.intersection(b).area for a, b in combinations(shapes, 2)) == 0
    # Neighbours share a whole edge (12 in a 3 x 3 grid); diagonal neighbours only a point.
    shared_edges = [(a, b) for a, b in combinations(shapes, 2) if a.intersection(b).length > 0]
    assert len(shared_edges) == 12
    for ward, geometry in zip(wards, shapes, strict=True):
        assert (ward.min_lon, ward.min_lat, ward.max_lon, ward.max_lat) == geometry.bounds


def test_every_ward_has_postcodes_inside_it(seeded):
    per_ward = Counter(Postcode.objects.values_list("ward__ons_code", flat=True))

    assert per_ward == {f"W05099{n:03d}": 30 for n in range(1, 10)}
    for postcode in Postcode.objects.select_related("ward"):
        assert normalise_postcode(postcode.postcode) == postcode.postcode
        assert postcode.postcode.startswith(f"LF{int(postcode.ward.ons_code[-1])} ")
        assert ward_for_point(lon=postcode.longitude, lat=postcode.latitude) == postcode.ward
        assert shape(postcode.ward.boundary).contains(
            shape({"type": "Point", "coordinates": [postcode.longitude, postcode.latitude]})
        )


def test_the_councillors_parties_cabinet_and_committees(seeded):
    councillors = list(Councillor.objects.prefetch_related("wards"))

    assert sorted(Counter(w.ward_id for w in Councillor.wards.through.objects.all()).values()) == [
        2,
        2,
        3,
        3,
        3,
        3,
        3,
        3,
        3,
    ]
    assert all(len(c.wards.all()) == 1 for c in councillors)
    assert dict(Counter(c.party.name for c in councillors)) == {
        "Gororau Alliance": 9,
        "Marches Independents": 7,
        "People First Llanfair": 5,
        "Green Valleys Party": 4,
    }
    assert sorted(c.portfolio for c in councillors if c.portfolio) == [
        "Deputy Leader; Finance and Resources",
        "Education and the Welsh Language",
        "Environment, Transport and Climate",
        "Housing and Regeneration",
        "Leader of the Council",
        "Social Care and Health",
    ]
    assert (
        sum(bool(c.x_handle) for c in councillors),
        sum(bool(c.mastodon_handle) for c in councillors),
        sum(bool(c.bluesky_handle) for c in councillors),
    ) == (13, 9, 13)
    assert all(c.email.endswith("@llanfair-gororau.example") for c in councillors)
    for committee in Committee.objects.prefetch_related("memberships__councillor"):
        roles = Counter(m.role for m in committee.memberships.all())
        assert roles == {"chair": 1, "vice-chair": 1, "member": 5}
    scrutiny = Committee.objects.get(slug="communities-scrutiny-committee")
    assert not scrutiny.memberships.exclude(councillor__portfolio="").exists()


def test_the_demo_sign_ins(seeded):
    users = {user.email: user for user in User.objects.all()}

    assert sorted(users) == [
        "admin@example.org",
        "councillor@example.org",
        "resident@example.org",
        "staff@example.org",
    ]
    assert {email: sorted(user.role_names()) for email, user in users.items()} == {
        "admin@example.org": [Role.ADMIN],
        "councillor@example.org": [Role.COUNCILLOR],
        "resident@example.org": [Role.RESIDENT],
        "staff@example.org": [Role.STAFF],
    }
    assert all(user.check_password(DEMO_PASSWORD) for user in users.values())
    assert EmailAddress.objects.filter(verified=True, primary=True).count() == 4
    councillor = Councillor.objects.get(user=users["councillor@example.org"])
    assert councillor.slug == demo_data().councillor_slug
    assert (
        bool(councillor.x_handle),
        bool(councillor.mastodon_handle),
        bool(councillor.bluesky_handle),
    ) == (True, True, True)
    # ... and chairs the Planning Committee, whose demo meetings take questions.
    assert councillor.memberships.get(committee__slug="planning-committee").role == "chair"
    resident = users["resident@example.org"]
    first_postcode = demo_data().postcodes_csv.splitlines()[1].split(",")[0]
    assert resident.postcode.postcode == first_postcode
    assert resident.ward == resident.postcode.ward == Ward.objects.get(ons_code="W05099001")
    for email in ("staff@example.org", "admin@example.org"):
        assert is_mfa_enabled(users[email])
        assert sorted(
            Authenticator.objects.filter(user=users[email]).values_list("type", flat=True)
        ) == ["recovery_codes", "totp"]
    assert not is_mfa_enabled(users["resident@example.org"])


def test_demo_totp_prints_a_code_allauth_accepts(seeded, monkeypatch):
    # One instant for both the command and allauth, so a 30-second step cannot pass between them.
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0)
    out = StringIO()

    call_command("demo_totp", "staff@example.org", stdout=out)

    code = out.getvalue().strip()
    assert len(code) == 6
    assert code.isdigit()
    assert validate_totp_code(DEMO_TOTP_SECRET, code) is True
    staff = User.objects.get(email="staff@example.org")
    authenticator = Authenticator.objects.get(user=staff, type=Authenticator.Type.TOTP)
    assert TOTP(authenticator).validate_code(code) is True
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0 + 60)
    assert validate_totp_code(DEMO_TOTP_SECRET, code) is False


def test_demo_recovery_codes_are_accepted(seeded):
    admin = User.objects.get(email="admin@example.org")
    codes = Authenticator.objects.get(user=admin, type=Authenticator.Type.RECOVERY_CODES).wrap()

    assert codes.get_unused_codes() == demo_recovery_codes()
    assert codes.validate_code(demo_recovery_codes()[0]) is True


def test_demo_totp_refuses_without_demo_or_debug(seeded, settings):
    settings.MOOT_DEMO = False
    settings.DEBUG = False

    with pytest.raises(CommandError) as exc:
        call_command("demo_totp", "staff@example.org", stdout=StringIO())

    assert str(exc.value) == (
        "demo_totp works only when the MOOT_DEMO or DEBUG setting is on: it is for the demo "
        "council, not for real accounts."
    )


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.org", "There is no account for nobody@example.org."),
        ("resident@example.org", "resident@example.org has no authenticator app set up."),
        (
            "real.staff@example.org",
            "real.staff@example.org does not use the demo authenticator, so its codes are not "
            "shown.",
        ),
    ],
)
def test_demo_totp_refuses_accounts_without_the_demo_authenticator(seeded, email, message):
    make_user("real.staff@example.org", roles=(Role.STAFF,))  # TOTP with its own secret

    with pytest.raises(CommandError) as exc:
        call_command("demo_totp", email, stdout=StringIO())

    assert str(exc.value) == message


def test_demo_data_is_the_same_every_time():
    assert demo_data() == demo_data()
