"""seed_demo fills social listening: routed demo cases with traces, idempotently."""

import pytest

from engagement.core.demo import seed_demo
from social.models import Case, RoutingRule, Source

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_routed_cases_once():
    seed_demo()
    assert Case.objects.count() == 8
    assert all(case.trace for case in Case.objects.all())
    assert set(Case.objects.values_list("target", flat=True)) >= {"councillor", "team"}
    assert Source.objects.filter(enabled=True).count() == 0
    assert RoutingRule.objects.count() == 6
    summary = seed_demo()
    assert not summary.changed
    assert Case.objects.count() == 8
