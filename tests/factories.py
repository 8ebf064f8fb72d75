"""Factories shared by the whole suite. Users go through the accounts service, as in production."""

import factory
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.utils.text import slugify

from engagement.accounts.models import Role
from engagement.accounts.services import user_create
from engagement.people.models import Committee, Councillor, Membership, Party
from engagement.places.models import Postcode, Ward

# A fixed TOTP secret for test staff (base32); tests compute codes from it.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "correct-horse-battery-staple"


def make_user(
    email: str = "",
    *,
    roles: tuple[str, ...] = (Role.RESIDENT,),
    totp: bool | None = None,
    name: str = "",
    password: str = PASSWORD,
):
    """A verified user with ``roles``; staff and admins get TOTP unless ``totp=False``."""
    make_user.counter += 1
    email = email or f"user{make_user.counter}@example.org"
    user = user_create(email=email, password=password, name=name, roles=roles)
    wants_totp = totp if totp is not None else bool({Role.STAFF, Role.ADMIN} & set(roles))
    if wants_totp:
        TOTP.activate(user, TEST_TOTP_SECRET)
        assert Authenticator.objects.filter(user=user).exists()
    return user


make_user.counter = 0


def square(lon: float, lat: float, size: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon, lat],
                [lon + size, lat],
                [lon + size, lat + size],
                [lon, lat + size],
                [lon, lat],
            ]
        ],
    }


class WardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ward

    name = factory.Sequence(lambda n: f"Ward {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    ons_code = factory.Sequence(lambda n: f"W05{900000 + n:06d}")
    boundary = factory.Sequence(lambda n: square(-3.0 + (n % 50) * 0.01, 52.0))
    min_lon = factory.LazyAttribute(lambda o: o.boundary["coordinates"][0][0][0])
    min_lat = factory.LazyAttribute(lambda o: o.boundary["coordinates"][0][0][1])
    max_lon = factory.LazyAttribute(lambda o: o.boundary["coordinates"][0][2][0])
    max_lat = factory.LazyAttribute(lambda o: o.boundary["coordinates"][0][2][1])


_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _postcode(n: int) -> str:
    """A distinct, validly formatted postcode for each n (CF1 0AA, CF1 0AB, ...)."""
    letters = len(_INWARD_LETTERS)
    first, second = divmod(n % (letters * letters), letters)
    district, digit = divmod(n // (letters * letters), 10)
    return f"CF{1 + district} {digit}{_INWARD_LETTERS[first]}{_INWARD_LETTERS[second]}"


class PostcodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Postcode

    ward = factory.SubFactory(WardFactory)
    postcode = factory.Sequence(lambda n: _postcode(n))
    latitude = factory.LazyAttribute(lambda o: (o.ward.min_lat + o.ward.max_lat) / 2)
    longitude = factory.LazyAttribute(lambda o: (o.ward.min_lon + o.ward.max_lon) / 2)


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    name = factory.Sequence(lambda n: f"Party {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class CouncillorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Councillor
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Councillor {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    party = factory.SubFactory(PartyFactory)

    @factory.post_generation
    def wards(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        if create and extracted:
            self.wards.set(extracted)


class CommitteeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Committee

    name = factory.Sequence(lambda n: f"Committee {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    councillor = factory.SubFactory(CouncillorFactory)
    committee = factory.SubFactory(CommitteeFactory)
