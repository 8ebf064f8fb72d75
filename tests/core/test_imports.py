"""The staff import page runs the same services as the commands, from an upload."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from engagement.audit.models import AuditEntry
from engagement.places.models import Postcode, Ward
from tests.places.factories import collection, feature, onspd_csv, onspd_row

pytestmark = pytest.mark.django_db

URL = "/staff/imports/"


def _upload(name: str, content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="application/octet-stream")


def test_only_staff_may_import(client, resident_client):
    assert client.get(URL).status_code == 302
    assert resident_client.post(URL, {"kind": "wards"}).status_code == 403


def test_staff_import_wards_then_postcodes(staff_client, staff):
    wards = json.dumps(collection(feature("E05000001", "Abbey")))
    response = staff_client.post(URL, {"kind": "wards", "file": _upload("wards.geojson", wards)})
    assert response.status_code == 302
    assert list(Ward.objects.values_list("ons_code", "name")) == [("E05000001", "Abbey")]

    csv = onspd_csv([onspd_row("CF10 1EP", "51.485", "-3.195", "E05000001")])
    response = staff_client.post(
        URL, {"kind": "postcodes", "file": _upload("onspd.csv", csv)}, follow=True
    )
    assert "Imported onspd.csv: postcodes: 1 created" in response.content.decode()
    assert Postcode.objects.get().ward.ons_code == "E05000001"
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor")) == [
        ("ward.import", staff.pk),
        ("postcode.import", staff.pk),
    ]


def test_a_bad_file_lists_its_problems_and_imports_nothing(staff_client):
    bad = json.dumps(collection(feature("E05000001", "Abbey"), feature("NOPE", "Bad\u202e")))
    response = staff_client.post(URL, {"kind": "wards", "file": _upload("wards.geojson", bad)})

    assert response.status_code == 400
    content = response.content.decode()
    assert "Nothing was imported" in content
    assert "features[1] (NOPE)" in content
    assert Ward.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "wards"}, "This field is required."),
        ({"kind": "nonsense", "file": "x"}, "Select a valid choice."),
        ({"kind": "postcodes", "file": "wards.geojson"}, "The file must end in .csv."),
        ({"kind": "popolo", "file": "people.json", "content": "{not json"}, "not valid JSON"),
    ],
)
def test_wrong_uploads_are_explained(staff_client, data, message):
    payload = dict(data)
    if "file" in payload:
        payload["file"] = _upload(payload["file"], payload.pop("content", "{}"))
    response = staff_client.post(URL, payload)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_import_summary_is_in_the_page_language(staff_client):
    staff_client.cookies["django_language"] = "cy"
    wards = json.dumps(collection(feature("E05000001", "Abbey")))
    response = staff_client.post(
        URL, {"kind": "wards", "file": _upload("wards.geojson", wards)}, follow=True
    )
    banner = response.content.decode().split("govuk-notification-banner__heading")[1][:300]
    assert "wardiau: 1 wedi&#x27;u creu, 0 wedi&#x27;u diweddaru, 0 heb eu newid" in banner
