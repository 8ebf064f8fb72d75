"""Fixtures for social listening: the fake X, Mastodon and Bluesky servers (the real clients
talk to them over loopback HTTP), sources pointing at them, wards with councillors."""

import pytest

from social.fakes.bluesky import HANDLE as BSKY_HANDLE
from social.fakes.bluesky import PASSWORD as BSKY_PASSWORD
from social.fakes.bluesky import FakeBluesky
from social.fakes.mastodon import TOKEN as MASTODON_TOKEN
from social.fakes.mastodon import FakeMastodon
from social.fakes.x import TOKEN as X_TOKEN
from social.fakes.x import FakeX
from social.models import Source
from tests.factories import CouncillorFactory, WardFactory, square


@pytest.fixture
def fake_x(settings):
    with FakeX() as fake:
        settings.SOCIAL_X_API_BASE_URL = fake.url
        fake.council_id = fake.add_user("ourcouncil")
        yield fake


@pytest.fixture
def fake_mastodon(settings):
    with FakeMastodon() as fake:
        settings.SOCIAL_MASTODON_BASE_URL = fake.url
        yield fake


@pytest.fixture
def fake_bluesky(settings):
    with FakeBluesky() as fake:
        settings.SOCIAL_BLUESKY_BASE_URL = fake.url
        yield fake


@pytest.fixture
def x_source(db, fake_x):
    return Source.objects.create(
        name="Council mentions",
        network="x",
        kind="mentions",
        account=fake_x.council_id,
        secret=X_TOKEN,
    )


@pytest.fixture
def mastodon_source(db, fake_mastodon):
    return Source.objects.create(
        name="Mastodon mentions",
        network="mastodon",
        kind="mentions",
        account="ourcouncil",
        secret=MASTODON_TOKEN,
    )


@pytest.fixture
def bluesky_source(db, fake_bluesky):
    return Source.objects.create(
        name="Bluesky mentions",
        network="bluesky",
        kind="mentions",
        account=BSKY_HANDLE,
        secret=BSKY_PASSWORD,
    )


@pytest.fixture
def wards(db):
    """Two wards side by side: Canol (two councillors) and Glan (one)."""
    canol = WardFactory(name="Canol", slug="canol", boundary=square(-3.20, 51.48, 0.02))
    glan = WardFactory(name="Glan", slug="glan", boundary=square(-3.18, 51.48, 0.02))
    for ward in (canol, glan):
        ward.min_lon, ward.min_lat = ward.boundary["coordinates"][0][0]
        ward.max_lon, ward.max_lat = ward.boundary["coordinates"][0][2]
        ward.save()
    a = CouncillorFactory(name="Cllr Anwen Ap", wards=[canol])
    b = CouncillorFactory(name="Cllr Bryn Bowen", wards=[canol])
    c = CouncillorFactory(name="Cllr Ceri Cole", wards=[glan])
    return {"canol": canol, "glan": glan, "anwen": a, "bryn": b, "ceri": c}
