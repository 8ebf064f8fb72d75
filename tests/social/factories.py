"""Factories for social listening tests."""

import factory
from django.utils import timezone

from social.models import Case, Post
from tests.factories import CouncillorFactory  # noqa: F401  (re-exported for these tests)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    network = "x"
    external_id = factory.Sequence(lambda n: str(5_000_000 + n))
    author_handle = "resident"
    text = "Hello council"
    posted_at = factory.LazyFunction(timezone.now)


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    network = "x"
    author_handle = "resident"
    summary = "Bins not collected"
