import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagement.accounts.models import User
from engagement.audit.models import AuditEntry
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_only_admins_manage_roles(client, resident_client, staff_client, resident):
    for url in ["/staff/users/", f"/staff/users/{resident.pk}/"]:
        assert client.get(url).status_code == 302
        assert resident_client.get(url).status_code == 403
        assert staff_client.get(url).status_code == 403


def test_an_admin_finds_a_person_and_makes_them_staff(admin_client_2fa, admin_user, resident):
    listing = admin_client_2fa.get("/staff/users/", {"q": "rhian"}).content.decode()
    assert "resident@example.org" in listing
    assert "1 person" in listing

    response = admin_client_2fa.post(
        f"/staff/users/{resident.pk}/", {"roles": ["resident", "staff"]}
    )

    assert response.status_code == 302
    assert User.objects.get(pk=resident.pk).role_names() == {"resident", "staff"}
    entry = AuditEntry.objects.get(action="user.set_roles")
    assert (entry.actor, entry.changes) == (
        admin_user,
        {"roles": [["resident"], ["resident", "staff"]]},
    )


def test_an_admin_cannot_remove_their_own_admin_role(admin_client_2fa, admin_user):
    response = admin_client_2fa.post(f"/staff/users/{admin_user.pk}/", {"roles": ["staff"]})
    assert response.status_code == 400
    assert "You cannot remove your own admin role" in response.content.decode()
    assert User.objects.get(pk=admin_user.pk).role_names() == {"admin"}
    assert not AuditEntry.objects.exists()


def test_unknown_roles_are_refused(admin_client_2fa, resident):
    response = admin_client_2fa.post(f"/staff/users/{resident.pk}/", {"roles": ["mayor"]})
    assert response.status_code == 400
    assert (
        "Select a valid choice. mayor is not one of the available choices."
        in response.content.decode()
    )
    assert User.objects.get(pk=resident.pk).role_names() == {"resident"}


def test_the_people_list_query_count_does_not_grow(admin_client_2fa):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_2fa.get("/staff/users/").status_code == 200
        return len(ctx)

    queries()
    few = queries()
    for n in range(25):
        make_user(f"p{n}@example.org")
    assert queries() == few
