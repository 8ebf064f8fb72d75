import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagement.audit.services import audit_record
from tests.factories import WardFactory

pytestmark = pytest.mark.django_db

URL = "/staff/audit/"


def test_only_admins_may_browse_the_audit_log(client, resident_client, staff_client):
    assert client.get(URL).status_code == 302
    assert resident_client.get(URL).status_code == 403
    assert staff_client.get(URL).status_code == 403


def test_admins_filter_by_action_and_object_type(admin_client_2fa, admin_user, staff):
    ward = WardFactory(name="Canol")
    audit_record(actor=staff, action="ward.update", target=ward, changes={"name": ["Old", "Canol"]})
    audit_record(actor=admin_user, action="council_settings.update")

    everything = admin_client_2fa.get(URL).content.decode()
    wards_only = admin_client_2fa.get(URL, {"action": "ward.", "target_type": "places.ward"})

    assert "2 entries" in everything
    assert "1 entry" in wards_only.content.decode()
    assert "staff@example.org" in wards_only.content.decode()
    assert "council_settings.update" not in wards_only.content.decode()


def test_htmx_requests_get_only_the_results_fragment(admin_client_2fa):
    response = admin_client_2fa.get(URL, headers={"HX-Request": "true"})
    assert b"<html" not in response.content
    assert b"0 entries" in response.content
    assert "HX-Request" in response["Vary"]


def test_a_bad_date_filter_is_a_400_with_a_message(admin_client_2fa):
    response = admin_client_2fa.get(URL, {"since": "yesterday"})
    assert response.status_code == 400
    assert b"Enter a valid date." in response.content


def test_query_count_does_not_grow_with_entries(admin_client_2fa, staff):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_2fa.get(URL).status_code == 200
        return len(ctx)

    audit_record(actor=staff, action="x.one")
    queries()  # warm the council settings cache
    few = queries()
    for n in range(30):
        audit_record(actor=staff, action=f"x.{n}", target=WardFactory())
    assert queries() == few
