import pytest
from rest_framework.authtoken.models import Token

from tests.factories import (
    CommitteeFactory,
    CouncillorFactory,
    MembershipFactory,
    PostcodeFactory,
    WardFactory,
)

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_read_endpoints(client):
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/wards/",
        "/api/wards/{slug}/",
        "/api/councillors/",
        "/api/committees/",
        "/api/postcodes/{postcode}/",
    ]:
        assert path in paths


def test_api_docs_page_renders_without_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"<script>" not in response.content


def test_wards_councillors_and_committees(client):
    ward = WardFactory(name="Canol", slug="canol", ons_code="W05000001")
    cllr = CouncillorFactory(name="Ann Evans", slug="ann-evans", wards=[ward])
    committee = CommitteeFactory(name="Planning", slug="planning")
    MembershipFactory(councillor=cllr, committee=committee, role="chair")

    wards = client.get("/api/wards/").json()
    assert wards["count"] == 1
    assert wards["results"][0] == {
        "url": "http://testserver/api/wards/canol/",
        "slug": "canol",
        "name": "Canol",
        "ons_code": "W05000001",
    }
    assert client.get("/api/wards/canol/").json()["boundary"]["type"] == "Polygon"
    councillor = client.get("/api/councillors/").json()["results"][0]
    assert (councillor["name"], councillor["wards"], councillor["party"]["slug"]) == (
        "Ann Evans",
        ["canol"],
        cllr.party.slug,
    )
    assert client.get("/api/committees/planning/").json()["memberships"] == [
        {"councillor": "ann-evans", "role": "chair", "start_date": None, "end_date": None}
    ]


def test_postcode_lookup(client):
    postcode = PostcodeFactory(postcode="CF10 1EP")
    found = client.get("/api/postcodes/cf101ep/")
    assert found.json()["ward"] == postcode.ward.slug
    assert client.get("/api/postcodes/SW1A1AA/").status_code == 404
    bad = client.get("/api/postcodes/<b>/")
    assert bad.status_code == 400
    assert bad.json() == {"detail": "Enter a real postcode, like CF10 1EP."}


def test_the_api_is_read_only_for_everyone(client, staff):
    assert client.post("/api/wards/", {"name": "x"}).status_code in {401, 403}
    token = Token.objects.create(user=staff)
    response = client.post(
        "/api/wards/", {"name": "x"}, headers={"Authorization": f"Token {token.key}"}
    )
    assert response.status_code == 405


def test_token_authentication_identifies_the_user(client, staff):
    token = Token.objects.create(user=staff)
    assert (
        client.get("/api/wards/", headers={"Authorization": f"Token {token.key}"}).status_code
        == 200
    )
    assert client.get("/api/wards/", headers={"Authorization": "Token wrong"}).status_code == 401


def test_a_huge_or_odd_limit_is_capped_not_an_error(client):
    WardFactory.create_batch(3)
    assert client.get("/api/wards/?limit=99999999999999999999999").status_code == 200
    assert len(client.get("/api/wards/?limit=1000000").json()["results"]) == 3
    assert client.get("/api/wards/?limit=abc&offset=-1").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/wards/%00/", "/api/councillors/a%00b/", "/api/committees/%00/"]
)
def test_lookups_with_nul_bytes_are_404s(client, path):
    assert client.get(path).status_code == 404
