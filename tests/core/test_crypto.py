"""Django's random strings from one ``os.urandom`` call (``engagement.core.crypto``)."""

import re
import string
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from engagement.core import crypto


@pytest.mark.parametrize(
    "alphabet",
    ["ab", string.ascii_letters + string.digits, "".join(map(chr, range(33, 33 + 255)))],
)
def test_strings_have_the_length_and_alphabet_asked_for(alphabet):
    for length in (0, 1, 32, 200):
        drawn = crypto.get_random_string(length, alphabet)
        assert len(drawn) == length
        assert set(drawn) <= set(alphabet)
    assert crypto.get_random_string(12) != crypto.get_random_string(12)


def test_every_character_is_equally_likely():
    """An alphabet of 200: taking ``byte % 200`` of every byte would make the first 56
    characters twice as likely as the rest (about 781 draws each in 100,000 against 391);
    rejection sampling makes them all about 500."""
    alphabet = "".join(map(chr, range(0x100, 0x100 + 200)))
    counts = Counter(crypto.get_random_string(100_000, alphabet))
    assert set(counts) == set(alphabet)
    low = sum(counts[c] for c in alphabet[:56]) / 56
    high = sum(counts[c] for c in alphabet[56:]) / 144
    assert 470 < low < 530
    assert 470 < high < 530
    assert all(380 < n < 620 for n in counts.values())  # each within about 5 sigma of 500


def test_alphabets_over_256_characters_go_to_djangos_function():
    alphabet = "".join(map(chr, range(0x100, 0x100 + 300)))
    drawn = crypto.get_random_string(500, alphabet)
    assert len(drawn) == 500
    assert set(drawn) <= set(alphabet)
    assert len(set(drawn)) > 150


def test_django_csrf_and_sessions_use_it():
    from django.contrib.sessions.backends import base as sessions
    from django.middleware import csrf
    from django.utils import crypto as django_crypto

    for module in (csrf, sessions, django_crypto):
        assert module.get_random_string is crypto.get_random_string


@pytest.mark.django_db
def test_a_form_posts_with_the_token_its_page_gave_and_not_without():
    client = Client(enforce_csrf_checks=True)
    url = reverse("petitions:create")
    page = client.get(url)
    secret = client.cookies["csrftoken"].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    assert len(secret) == 32
    assert len(token) == 64
    assert token != secret
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 400  # form errors
    forged = "a" * 64
    assert client.post(url, {"csrfmiddlewaretoken": forged}).status_code == 403
