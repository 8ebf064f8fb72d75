import json
import re

import pytest
from django.core import mail

from engagement.accounts.models import User
from tests.factories import PostcodeFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/profile/",
        "/accounts/profile/emails/",
        "/accounts/profile/my-data.json",
        "/accounts/profile/delete/",
    ],
)
def test_account_pages_need_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_resident_updates_their_profile(resident_client, resident):
    postcode = PostcodeFactory()
    response = resident_client.post(
        "/accounts/profile/",
        {"name": "Rhian Jones", "postcode": postcode.postcode.lower(), "preferred_language": "cy"},
    )
    assert response.status_code == 302
    resident.refresh_from_db()
    assert (resident.name, resident.ward) == ("Rhian Jones", postcode.ward)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"name": "x" * 151, "postcode": "", "preferred_language": "en-gb"},
            "at most 150 characters",
        ),
        (
            {"name": "<script>alert(1)</script>", "postcode": "<b>", "preferred_language": "en-gb"},
            "Enter a real postcode",
        ),
        ({"name": "ok", "postcode": "", "preferred_language": "fr"}, "Select a valid choice"),
        ({"name": "a\x00b", "postcode": "", "preferred_language": "en-gb"}, "Null characters"),
    ],
)
def test_bad_profile_input_is_explained_and_nothing_changes(resident_client, resident, data, error):
    response = resident_client.post("/accounts/profile/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert b"There is a problem" in response.content
    resident.refresh_from_db()
    assert resident.name == "Rhian Resident"


def test_download_my_data_is_a_json_attachment(resident_client):
    response = resident_client.get("/accounts/profile/my-data.json")
    assert response["Content-Disposition"].startswith('attachment; filename="moot-my-data-')
    assert json.loads(response.content)["account"]["email"] == "resident@example.org"


def test_deleting_the_account_needs_confirmation_then_signs_out(resident_client, resident):
    refused = resident_client.post("/accounts/profile/delete/", {})
    assert b"Tick the box to confirm" in refused.content
    assert User.objects.get(pk=resident.pk).anonymised_at is None

    response = resident_client.post("/accounts/profile/delete/", {"confirm": "on"})
    assert response.status_code == 302
    assert User.objects.get(pk=resident.pk).anonymised_at is not None
    assert resident_client.get("/accounts/profile/").status_code == 302


def test_sign_up_makes_an_unverified_resident_and_sends_a_verification_email(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new@example.org",
            "password1": "a-long-passphrase-2026",
            "password2": "a-long-passphrase-2026",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.org")
    assert user.role_names() == {"resident"}
    assert user.emailaddress_set.get().verified is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.org"]
    assert mail.outbox[0].subject.startswith("[Moot] ")
    assert mail.outbox[0].body.startswith("Hello from Moot Demo Council!")


def test_sign_in_by_emailed_code(client, resident):
    client.post("/accounts/login/code/", {"email": "resident@example.org"})
    assert len(mail.outbox) == 1
    code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", mail.outbox[0].body, re.MULTILINE)
    assert code, mail.outbox[0].body
    response = client.post("/accounts/login/code/confirm/", {"code": code.group(1)})
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_notification_preferences_are_saved_and_validated(resident_client, resident):
    ok = resident_client.post(
        "/accounts/profile/emails/",
        {"kind-account": "never", "kind-updates": "immediately", "kind-budget_ideas": "daily"},
    )
    assert ok.status_code == 302
    assert dict(resident.notification_preferences.values_list("kind", "delivery")) == {
        "account": "never",
        "updates": "immediately",
        "budget_ideas": "daily",
    }
    bad = resident_client.post("/accounts/profile/emails/", {"kind-account": "<b>"})
    assert bad.status_code == 400
    assert b"Choose how you want to hear about this." in bad.content


def test_staff_must_reauthenticate_before_deleting_their_account(staff_client, staff):
    response = staff_client.post("/accounts/profile/delete/", {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert User.objects.get(pk=staff.pk).anonymised_at is None
