import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from engagement.audit.models import AuditEntry
from engagement.council.models import CouncilSettings
from engagement.council.selectors import council_settings

pytestmark = pytest.mark.django_db

URL = "/staff/settings/"


def _form(**overrides):
    data = {
        "name": "Llanfair Borough Council",
        "short_name": "Llanfair",
        "brand_colour": "#005a30",
        "contact_email": "help@llanfair.example",
        "contact_phone": "01234 567890",
        "contact_address": "Town Hall",
        "website": "https://llanfair.example",
        "welsh_enabled": "on",
        "retention_inactive_account_days": "1095",
        "retention_question_days": "730",
        "retention_social_case_days": "730",
        "retention_audit_days": "2555",
    }
    data.update(overrides)
    return data


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "#005a30").save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_only_admins_may_open_council_settings(client, resident_client, staff_client):
    assert client.get(URL).status_code == 302
    assert resident_client.get(URL).status_code == 403
    assert staff_client.get(URL).status_code == 403


def test_an_admin_saves_settings_and_the_change_is_audited(
    admin_client_2fa, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_2fa.post(URL, _form(logo=_png()))

    assert response.status_code == 302
    saved = council_settings()
    assert (saved.name, saved.brand_colour, saved.logo.name.startswith("council/logo")) == (
        "Llanfair Borough Council",
        "#005a30",
        True,
    )
    entry = AuditEntry.objects.get(action="council_settings.update")
    assert entry.actor == admin_user
    assert entry.changes["name"] == ["Moot Demo Council", "Llanfair Borough Council"]
    assert entry.changes["brand_colour"] == ["#1d70b8", "#005a30"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"name": ""}, "This field is required."),
        ({"short_name": "Bad\u202eName"}, "hidden control character"),
        ({"brand_colour": "#zzzzzz"}, "six hexadecimal digits"),
        ({"brand_colour": "javascript:alert(1)"}, "at most 7 characters"),
        ({"retention_question_days": "5"}, "greater than or equal to 30"),
        ({"retention_question_days": "lots"}, "Enter a whole number."),
        ({"contact_email": "<script>"}, "Enter a valid email address."),
        (
            {
                "logo": SimpleUploadedFile(
                    "logo.png", b"<svg onload=alert(1)>", content_type="image/png"
                )
            },
            "not a readable image",
        ),
        (
            {"logo": SimpleUploadedFile("logo.svg", b"<svg/>", content_type="image/svg+xml")},
            "File extension",
        ),
    ],
)
def test_bad_settings_are_explained_and_nothing_is_saved(admin_client_2fa, overrides, message):
    response = admin_client_2fa.post(URL, _form(**overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert CouncilSettings.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_welsh_pages_use_the_welsh_name_when_there_is_one(
    client, django_capture_on_commit_callbacks
):
    from engagement.council.services import council_settings_update

    with django_capture_on_commit_callbacks(execute=True):
        council_settings_update(
            actor=None, name="Cardiff Council", name_cy="Cyngor Caerdydd", short_name="Cardiff"
        )
    english = client.get("/").content.decode()
    client.cookies["django_language"] = "cy"
    welsh = client.get("/").content.decode()

    assert "<title>Home – Cardiff Council</title>" in english
    assert "– Cyngor Caerdydd</title>" in welsh
    header = welsh.split("</header>")[0]
    assert "Cardiff" in header  # no Welsh short name given: the English one is used


def test_an_admin_removes_the_logo(admin_client_2fa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client_2fa.post(URL, _form(logo=_png())).status_code == 302
    logo = council_settings().logo
    assert logo.storage.exists(logo.name)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_2fa.post(URL, _form(**{"logo-clear": "on"}))

    assert response.status_code == 302
    assert not council_settings().logo
    assert not logo.storage.exists(logo.name)  # the old file went too
    assert AuditEntry.objects.filter(action="council_settings.update").count() == 2


def test_a_decompression_bomb_logo_is_refused(admin_client_2fa):
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buffer, "PNG")
    bomb = SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")
    response = admin_client_2fa.post(URL, _form(logo=bomb))
    assert response.status_code == 400
    assert "at most 4000 by 4000 pixels" in response.content.decode()
    assert CouncilSettings.objects.count() == 0


def test_control_characters_in_the_address_are_refused(admin_client_2fa):
    response = admin_client_2fa.post(URL, _form(contact_address="Town Hall\x01"))
    assert response.status_code == 400
    assert "hidden control character (U+0001)" in response.content.decode()
