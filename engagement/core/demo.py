"""The demo council: Llanfair Gororau County Borough Council, a fictional council on the
Welsh-English border (gororau: the borderlands, the Marches).

Everything is generated from ``random.Random(DEMO_SEED)``, without the network, and goes through
the same services as real data: the wards through :func:`wards_import`, the postcodes through
:func:`postcodes_import`, the councillors through :func:`popolo_import`. Running
:func:`seed_demo` again changes nothing (see its docstring).

The wards tile a rectangle near the border in mid Wales: a 3 x 3 grid whose inner vertices are
jittered and whose shared edges wiggle, each shared edge written once and used by both
neighbours, so there are no gaps and no overlaps. Postcodes use the invented area ``LF`` (not a
real UK postcode area), one district per ward; phone numbers are in Ofcom's drama range
(01632 960xxx); every email domain ends in ``.example``.

DEMO ONLY: the password, the TOTP secret and the recovery-code seed below are published in the
source code. They make the demo and the browser tests able to sign in as staff. Never run
``seed_demo`` on a real council's server (the command refuses unless ``MOOT_DEMO`` or ``DEBUG``).
"""

from __future__ import annotations

import csv
import io
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from shapely.geometry import Point, Polygon

from engagement.accounts.models import Role, User
from engagement.accounts.services import profile_update, user_create
from engagement.council.models import CouncilSettings
from engagement.council.services import council_settings_update
from engagement.people.models import Councillor
from engagement.people.popolo import (
    CABINET_ID,
    CABINET_NAME,
    CABINET_ROLE,
    COMMITTEE_PREFIX,
    COUNCIL_ID,
    PARTY_PREFIX,
    POST_PREFIX,
    WARD_ROLE,
)
from engagement.people.services import councillor_link_user, popolo_import
from engagement.places.importers import ImportResult
from engagement.places.services import postcodes_import, wards_import

DEMO_SEED = 2026
# DEMO ONLY — published secrets, see the module docstring.
DEMO_PASSWORD = "moot-demo-2026"  # noqa: S105
DEMO_TOTP_SECRET = "MOOTDEMOTWENTYTWENTYSIXLLANFAIRG"  # noqa: S105  (base32, 20 bytes)
DEMO_RECOVERY_SEED = "moot-demo-recovery-codes-2026"

DEMO_COUNCIL: dict[str, Any] = {
    "name": "Llanfair Gororau County Borough Council",
    "short_name": "Llanfair Gororau",
    "name_cy": "Cyngor Bwrdeistref Sirol Llanfair Gororau",
    "short_name_cy": "Llanfair Gororau",
    "brand_colour": "#8a1538",
    "contact_email": "contact@llanfair-gororau.example",
    "contact_phone": "01632 960000",
    "contact_address": "Neuadd y Sir / County Hall\nStryd Fawr / High Street\n"
    "Llanfair Gororau\nLF5 1AB",
    "website": "https://www.llanfair-gororau.example",
    "welsh_enabled": True,
}

# West, south, east, north (WGS84): the upper Severn valley where it meets the border.
DEMO_BOUNDS = (-3.34, 52.50, -3.04, 52.71)
GRID = 3
# Ward names in reading order (north-west first); codes W05099001... follow the same order.
WARD_NAMES = [
    "Bryn Gororau", "Castell Clawdd", "Pentreffin",
    "Cwm Llanfair", "Llanfair Town", "Marcher Fields",
    "Aberffin", "Maes-y-Dŵr", "Hafren Meadows",
]  # fmt: skip
FIRST_WARD_CODE = 99001  # W05099001: outside the range ONS has issued
SEATS = [3, 3, 2, 3, 3, 3, 2, 3, 3]
POSTCODES_PER_WARD = 30
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

FIRST_NAMES = [
    "Aled", "Bethan", "Carys", "Dafydd", "Eleri", "Ffion", "Gareth", "Gwen", "Huw", "Ieuan",
    "Lowri", "Mared", "Nia", "Owain", "Rhodri", "Sioned", "Tomos", "Alys", "Ben", "Charlotte",
    "Daniel", "Emma", "George", "Hannah", "Imran", "Kate", "Mark", "Priya", "Sam", "Zofia",
]  # fmt: skip
LAST_NAMES = [
    "Bowen", "Davies", "Evans", "Griffiths", "Hopkins", "Hughes", "Jenkins", "Jones", "Lewis",
    "Meredith", "Morgan", "Parry", "Powell", "Price", "Pritchard", "Roberts", "Thomas",
    "Vaughan", "Williams", "Clarke", "Shaw", "Bennett", "Khan", "Nowak", "Patel", "Rees",
]  # fmt: skip
# Fictional parties: slug, name, colour, and how many of the 25 seats each holds.
PARTIES = [
    ("gororau-alliance", "Gororau Alliance", "#0b6b5d", 9),
    ("marches-independents", "Marches Independents", "#5c2d91", 7),
    ("people-first-llanfair", "People First Llanfair", "#b3261e", 5),
    ("green-valleys-party", "Green Valleys Party", "#2e7d32", 4),
]
PORTFOLIOS = [
    "Leader of the Council",
    "Deputy Leader; Finance and Resources",
    "Housing and Regeneration",
    "Education and the Welsh Language",
    "Environment, Transport and Climate",
    "Social Care and Health",
]
COMMITTEES = [
    ("planning-committee", "Planning Committee",
     "Decides planning applications and enforcement. Pwyllgor Cynllunio."),
    ("licensing-committee", "Licensing Committee",
     "Premises, taxi and gambling licences."),
    ("governance-and-audit-committee", "Governance and Audit Committee",
     "Reviews the council's finances, risks and internal controls."),
    ("communities-scrutiny-committee", "Communities Scrutiny Committee",
     "Holds the cabinet to account on housing, transport and community services."),
    ("welsh-language-and-culture-committee", "Welsh Language and Culture Committee",
     "Oversees the Welsh Language Standards and the council's cultural services."),
]  # fmt: skip
CHAIRED_BY_DEMO_COUNCILLOR = "planning-committee"
COMMITTEE_START = "2022-05-26"  # the annual meeting after the May 2022 elections
DEMO_DOMAIN = "llanfair-gororau.example"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str
    description: str

    @property
    def needs_totp(self) -> bool:
        return self.role in {Role.STAFF, Role.ADMIN}


DEMO_USERS = [
    DemoUser("resident@example.org", "Siân Evans", Role.RESIDENT, "resident"),
    DemoUser("councillor@example.org", "", Role.COUNCILLOR, "councillor"),
    DemoUser("staff@example.org", "Elin Davies", Role.STAFF, "democratic services staff"),
    DemoUser("admin@example.org", "Geraint Owen", Role.ADMIN, "council admin"),
]


def demo_allowed() -> bool:
    """Demo accounts with published secrets exist only where MOOT_DEMO or DEBUG is on."""
    return bool(getattr(settings, "MOOT_DEMO", False) or settings.DEBUG)


# --- Generated data -----------------------------------------------------------------------------

Coord = tuple[float, float]


def _point(x: float, y: float) -> Coord:
    return (round(x, 6), round(y, 6))


def _wiggle(rng: random.Random, a: Coord, b: Coord, *, on_boundary: bool) -> list[Coord]:
    """Three points between a and b; off the straight line unless the edge is on the outside."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    normal = (-(b[1] - a[1]) / length, (b[0] - a[0]) / length)
    amplitude = 0.06 * min(DEMO_BOUNDS[2] - DEMO_BOUNDS[0], DEMO_BOUNDS[3] - DEMO_BOUNDS[1]) / GRID
    points = []
    for t in (0.25, 0.5, 0.75):
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        if on_boundary:
            # Exactly on the rectangle's side: one coordinate is the side's own.
            x, y = (a[0], y) if a[0] == b[0] else (x, a[1])
        else:
            offset = rng.uniform(-amplitude, amplitude)
            x, y = x + normal[0] * offset, y + normal[1] * offset
        points.append(_point(x, y))
    return points


def demo_ward_features(rng: random.Random) -> dict[str, Any]:
    """The wards as an ONS-style GeoJSON FeatureCollection (WD24CD / WD24NM properties)."""
    west, south, east, north = DEMO_BOUNDS
    width, height = (east - west) / GRID, (north - south) / GRID
    vertex: dict[tuple[int, int], Coord] = {}
    for i in range(GRID + 1):
        for j in range(GRID + 1):
            x, y = west + i * width, south + j * height
            if 0 < i < GRID:
                x += rng.uniform(-0.2, 0.2) * width
            if 0 < j < GRID:
                y += rng.uniform(-0.2, 0.2) * height
            vertex[i, j] = _point(x, y)
    # Each edge is generated once; both wards it separates use the same points.
    east_edge = {
        (i, j): _wiggle(rng, vertex[i, j], vertex[i + 1, j], on_boundary=j in (0, GRID))
        for i in range(GRID)
        for j in range(GRID + 1)
    }
    north_edge = {
        (i, j): _wiggle(rng, vertex[i, j], vertex[i, j + 1], on_boundary=i in (0, GRID))
        for i in range(GRID + 1)
        for j in range(GRID)
    }
    features = []
    for n, name in enumerate(WARD_NAMES):
        i, j = n % GRID, GRID - 1 - n // GRID
        ring = [
            vertex[i, j], *east_edge[i, j],
            vertex[i + 1, j], *north_edge[i + 1, j],
            vertex[i + 1, j + 1], *reversed(east_edge[i, j + 1]),
            vertex[i, j + 1], *reversed(north_edge[i, j]),
            vertex[i, j],
        ]  # fmt: skip
        features.append(
            {
                "type": "Feature",
                "properties": {"WD24CD": f"W05{FIRST_WARD_CODE + n:06d}", "WD24NM": name},
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def demo_postcodes_csv(rng: random.Random, wards: dict[str, Any]) -> str:
    """ONSPD-style CSV: POSTCODES_PER_WARD postcodes in district LF<n> for the n-th ward, each at
    a point strictly inside its ward."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["pcds", "lat", "long", "osward", "doterm"])
    for n, feature in enumerate(wards["features"], start=1):
        polygon = Polygon(feature["geometry"]["coordinates"][0])
        min_lon, min_lat, max_lon, max_lat = polygon.bounds
        units = sorted(rng.sample(range(10 * len(_INWARD_LETTERS) ** 2), POSTCODES_PER_WARD))
        for unit in units:
            sector, letters = divmod(unit, len(_INWARD_LETTERS) ** 2)
            first, second = divmod(letters, len(_INWARD_LETTERS))
            while True:
                lon, lat = _point(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat))
                if polygon.contains(Point(lon, lat)):
                    break
            writer.writerow(
                [
                    f"LF{n} {sector}{_INWARD_LETTERS[first]}{_INWARD_LETTERS[second]}",
                    f"{lat:.6f}",
                    f"{lon:.6f}",
                    feature["properties"]["WD24CD"],
                    "",
                ]
            )
    return out.getvalue()


def demo_popolo(rng: random.Random, wards: dict[str, Any]) -> dict[str, Any]:
    """Councillors, parties, cabinet and committees as Popolo (the shape export_popolo writes)."""
    seats = sum(SEATS)
    names = list(zip(rng.sample(FIRST_NAMES, seats), rng.sample(LAST_NAMES, seats), strict=True))
    party_of = [slug for slug, _name, _colour, count in PARTIES for _ in range(count)]
    rng.shuffle(party_of)
    ward_codes = [f["properties"]["WD24CD"] for f in wards["features"]]
    ward_of = [code for code, count in zip(ward_codes, SEATS, strict=True) for _ in range(count)]

    persons, memberships = [], []
    slugs = []
    for k, ((first, last), party, ward) in enumerate(zip(names, party_of, ward_of, strict=True)):
        slug = slugify(f"{first} {last}")
        slugs.append(slug)
        handle = f"{first}{last}".lower()
        contacts = [{"type": "voice", "value": f"01632 960{100 + k:03d}"}]
        if k % 2 == 0:
            contacts.append({"type": "twitter", "value": f"Cllr{first}{last}"[:15]})
        if k % 3 == 0:
            contacts.append({"type": "mastodon", "value": f"@{handle}@mastodon.example"})
        if k % 4 in (0, 1):
            contacts.append({"type": "bluesky", "value": f"{handle}.{DEMO_DOMAIN}"})
        persons.append(
            {
                "id": slug,
                "name": f"{first} {last}",
                "email": f"{first}.{last}@{DEMO_DOMAIN}".lower(),
                "contact_details": contacts,
                "extras": {"serving": True},
            }
        )
        memberships.append({"person_id": slug, "organization_id": PARTY_PREFIX + party})
        memberships.append(
            {
                "person_id": slug,
                "organization_id": COUNCIL_ID,
                "role": WARD_ROLE,
                "post_id": POST_PREFIX + ward,
                "area_id": ward,
            }
        )
    # A coalition cabinet from the two largest parties.
    largest = {PARTIES[0][0], PARTIES[1][0]}
    coalition = [s for s, p in zip(slugs, party_of, strict=True) if p in largest]
    cabinet = rng.sample(coalition, len(PORTFOLIOS))
    for slug, portfolio in zip(cabinet, PORTFOLIOS, strict=True):
        memberships.append(
            {
                "person_id": slug,
                "organization_id": CABINET_ID,
                "role": CABINET_ROLE,
                "label": portfolio,
            }
        )
    for committee_slug, _name, _description in COMMITTEES:
        eligible = [s for s in slugs if "scrutiny" not in committee_slug or s not in cabinet]
        chosen = rng.sample(eligible, 7)
        if committee_slug == CHAIRED_BY_DEMO_COUNCILLOR:
            # The demo councillor account (the first person) chairs this committee, so that the
            # chair's view of meeting questions can be tried in the demo.
            if slugs[0] in chosen:
                chosen.remove(slugs[0])
            else:
                chosen.pop()
            chosen.insert(0, slugs[0])
        for rank, slug in enumerate(chosen):
            role = "chair" if rank == 0 else "vice-chair" if rank == 1 else "member"
            memberships.append(
                {
                    "person_id": slug,
                    "organization_id": COMMITTEE_PREFIX + committee_slug,
                    "role": role,
                    "start_date": COMMITTEE_START,
                }
            )
    organizations = [
        {"id": COUNCIL_ID, "name": DEMO_COUNCIL["name"], "classification": "council"},
        {
            "id": CABINET_ID,
            "name": CABINET_NAME,
            "classification": "executive",
            "parent_id": COUNCIL_ID,
        },
        *(
            {
                "id": PARTY_PREFIX + slug,
                "name": name,
                "classification": "party",
                "extras": {"colour": colour},
            }
            for slug, name, colour, _count in PARTIES
        ),
        *(
            {
                "id": COMMITTEE_PREFIX + slug,
                "name": name,
                "classification": "committee",
                "parent_id": COUNCIL_ID,
                "description": description,
            }
            for slug, name, description in COMMITTEES
        ),
    ]
    posts = [
        {
            "id": POST_PREFIX + f["properties"]["WD24CD"],
            "label": f"Councillor for {f['properties']['WD24NM']}",
            "role": WARD_ROLE,
            "organization_id": COUNCIL_ID,
            "area_id": f["properties"]["WD24CD"],
        }
        for f in wards["features"]
    ]
    return {
        "persons": persons,
        "organizations": organizations,
        "posts": posts,
        "memberships": memberships,
    }


@dataclass(frozen=True)
class DemoData:
    wards: dict[str, Any]
    postcodes_csv: str
    popolo: dict[str, Any]

    @property
    def councillor_slug(self) -> str:
        """The councillor the demo councillor account is linked to (X, Mastodon and Bluesky)."""
        return self.popolo["persons"][0]["id"]


def demo_data() -> DemoData:
    """All the generated demo data; the same on every call."""
    rng = random.Random(DEMO_SEED)  # noqa: S311  (demo data, not security)
    wards = demo_ward_features(rng)
    postcodes = demo_postcodes_csv(rng, wards)
    return DemoData(wards, postcodes, demo_popolo(rng, wards))


# --- Seeding ------------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    results: dict[str, ImportResult] = field(default_factory=dict)
    users_created: list[str] = field(default_factory=list)
    changed: bool = False


def seed_demo() -> DemoSummary:
    """Create or refresh the demo council, in one transaction.

    Idempotent: every step is an upsert or a get-or-create, and when nothing needed doing the
    transaction is rolled back, so a second run leaves no trace (not even the audit entries of
    the no-op imports). Users that exist are left as they are.
    """
    data = demo_data()
    summary = DemoSummary()
    with transaction.atomic():
        summary.changed |= _seed_council()
        summary.results["wards"] = wards_import(source=data.wards, source_name="seed_demo")
        summary.results["postcodes"] = postcodes_import(
            source=io.StringIO(data.postcodes_csv), source_name="seed_demo"
        )
        summary.results["people"] = popolo_import(data=data.popolo, source_name="seed_demo")
        summary.changed |= any(result.changed for result in summary.results.values())
        summary.changed |= _seed_users(data, summary)
        from budgets.demo import seed_budget_rounds
        from consultations.demo import seed_petitions
        from consultations.surveys.demo import seed_consultations
        from social.demo import seed_social

        summary.changed |= seed_budget_rounds()
        summary.changed |= seed_petitions()
        summary.changed |= seed_consultations()
        summary.changed |= seed_social()
        from webcast.demo import seed_meetings

        summary.changed |= seed_meetings()
        from webcast.questions.demo import seed_questions

        summary.changed |= seed_questions()
        if not summary.changed:
            transaction.set_rollback(True)
    return summary


def _seed_council() -> bool:
    current = CouncilSettings.objects.order_by("pk").first()
    if current is not None and all(
        getattr(current, name) == value for name, value in DEMO_COUNCIL.items()
    ):
        return False
    council_settings_update(actor=None, **DEMO_COUNCIL)
    return True


def _seed_users(data: DemoData, summary: DemoSummary) -> bool:
    changed = False
    councillor = Councillor.objects.get(slug=data.councillor_slug)
    for demo in DEMO_USERS:
        user = User.objects.filter(email=demo.email).first()
        if user is None:
            user = user_create(
                email=demo.email,
                password=DEMO_PASSWORD,
                name=demo.name or councillor.name,
                roles=(demo.role,),
                email_verified=True,
            )
            summary.users_created.append(demo.email)
            changed = True
            if demo.role == Role.RESIDENT:
                first_postcode = data.postcodes_csv.splitlines()[1].split(",")[0]
                profile_update(
                    user=user, name=user.name, postcode=first_postcode, preferred_language="en-gb"
                )
        if demo.role == Role.COUNCILLOR and councillor.user_id != user.pk:
            councillor_link_user(councillor=councillor, user=user)
            changed = True
        if demo.needs_totp:
            changed |= _ensure_demo_authenticators(user)
    return changed


def _ensure_demo_authenticators(user: User) -> bool:
    """A TOTP authenticator with the demo secret and recovery codes, unless the user has them."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from allauth.mfa.utils import encrypt

    changed = False
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
        changed = True
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists():
        Authenticator.objects.create(
            user=user,
            type=Authenticator.Type.RECOVERY_CODES,
            data={"seed": encrypt(DEMO_RECOVERY_SEED), "used_mask": 0},
        )
        changed = True
    return changed


def demo_recovery_codes() -> list[str]:
    """The demo staff's recovery codes (allauth derives them from the published seed)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.utils import encrypt

    instance = Authenticator(
        type=Authenticator.Type.RECOVERY_CODES,
        data={"seed": encrypt(DEMO_RECOVERY_SEED), "used_mask": 0},
    )
    return RecoveryCodes(instance).generate_codes()


def demo_totp_code(*, email: str, at: float | None = None) -> str:
    """The current TOTP code of a demo account: one whose authenticator uses the published demo
    secret (so no real secret can be read this way). ValidationError otherwise."""
    from allauth.mfa import app_settings
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from allauth.mfa.utils import decrypt

    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise ValidationError(_("There is no account for %(email)s.") % {"email": email})
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        raise ValidationError(
            _("%(email)s has no authenticator app set up.") % {"email": user.email}
        )
    secret = decrypt(authenticator.data["secret"])
    if secret != DEMO_TOTP_SECRET:
        raise ValidationError(
            _("%(email)s does not use the demo authenticator, so its codes are not shown.")
            % {"email": user.email}
        )
    counter = int(time.time() if at is None else at) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))
