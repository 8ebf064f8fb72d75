"""The read API: published consultations only, their questionnaire, results after the close."""

import pytest
from django.utils import timezone

from consultations.surveys import responses
from consultations.surveys.models import Consultation

from .factories import make_consultation

pytestmark = pytest.mark.django_db


def test_published_consultations_and_results(client, staff):
    consultation = make_consultation(staff)
    make_consultation(staff, published=False, title="Draft one")
    listing = client.get("/api/consultations/").json()
    assert [c["slug"] for c in listing["results"]] == [consultation.slug]
    assert listing["results"][0]["phase"] == "open"
    detail = client.get(f"/api/consultations/{consultation.slug}/").json()
    assert [q["key"] for q in detail["questions"]] == [
        "do-you-agree",
        "why-not",
        "which-days-do-you-visit",
    ]
    assert detail["outcome"] is None
    assert client.get("/api/consultations/draft-one/").status_code == 404
    assert client.get(f"/api/consultations/{consultation.slug}/results/").status_code == 404
    for n, answer in enumerate(["yes", "no", "yes"]):
        responses.response_record(
            consultation=consultation, raw={"do-you-agree": answer}, channel="post", token=f"t{n}"
        )
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    results = client.get(f"/api/consultations/{consultation.slug}/results/").json()
    assert results["responses"] == 3
    assert results["by_channel"] == {"post": 3}
    assert results["questions"][0]["options"] == [
        {"value": "yes", "label": "Yes", "count": 2, "percent": 67, "mean_rank": None},
        {"value": "no", "label": "No", "count": 1, "percent": 33, "mean_rank": None},
    ]
    assert client.get("/api/schema/").status_code == 200
    assert client.post("/api/consultations/", {}).status_code in (401, 403, 405)
