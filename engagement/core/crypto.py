"""Random strings for Django from one ``os.urandom`` call instead of one per character.

Django's ``get_random_string`` draws each character with ``secrets.choice``: a system call per
character, 32 of them for a CSRF secret and 32 more for the mask every page applies to it (about
50 µs a page, a twentieth of a simple page's CPU). :func:`get_random_string` here is the same
function (same arguments, same alphabet, every character equally likely and independent, from
the same source: the operating system's CSPRNG) drawing all its bytes at once: a byte below the
largest multiple of the alphabet's size that fits in 256 picks ``byte % size``; any other byte is
thrown away (rejection sampling, so there is no modulo bias).

:func:`install` puts it in place of Django's where the CSRF middleware and the session store look
it up, and in ``django.utils.crypto`` for whatever looks it up there at call time. Alphabets
over 256 characters go to Django's own function.
"""

import os

from django.contrib.sessions.backends import base as sessions
from django.middleware import csrf
from django.utils import crypto

_django_get_random_string = crypto.get_random_string


def get_random_string(length: int, allowed_chars: str = crypto.RANDOM_STRING_CHARS) -> str:
    size = len(allowed_chars)
    if not 0 < size <= 256:
        return _django_get_random_string(length, allowed_chars)
    usable = 256 - 256 % size  # bytes below this map evenly onto the alphabet
    chars: list[str] = []
    while len(chars) < length:
        # Enough bytes for the whole string in one call unless many are thrown away.
        chars.extend(allowed_chars[b % size] for b in os.urandom(length + 16) if b < usable)
    return "".join(chars[:length])


def install() -> None:
    """Use :func:`get_random_string` for Django's random strings (called once, at start-up)."""
    for module in (crypto, csrf, sessions):  # the last two imported the name itself
        module.get_random_string = get_random_string
