"""Petition pages in a real Chromium: axe-core in English and Welsh; the count rises live."""

import threading

import pytest
from django.db import connection

from consultations.models import Petition
from consultations.petitions import services
from tests.factories import PostcodeFactory, WardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_petition():
    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    return Petition.objects.create(
        action="Save the lido",
        background="It is loved.",
        sponsor_token="tok",
        state=Petition.State.OPEN,
        signature_count=41,
    )


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_petition_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, open_petition, language
):
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": asgi_live_server.url}]
    )
    for path in [
        "/petitions/",
        "/petitions/new/",
        f"/petitions/{open_petition.pk}/",
        f"/petitions/{open_petition.pk}/thanks/",
        "/petitions/sponsor/tok/",
        "/petitions/confirm/nonsense/",
    ]:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")
    page.goto(asgi_live_server.url + f"/petitions/{open_petition.pk}/")
    page.locator("main form button.govuk-button").click()
    axe_check(page, context=f"sign errors ({language})")


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_staff_petition_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, open_petition, staff, language
):
    from django.test import Client

    client = Client()
    client.force_login(staff)
    page.context.add_cookies(
        [
            {"name": "django_language", "value": language, "url": asgi_live_server.url},
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": asgi_live_server.url,
            },
        ]
    )
    for path in [
        "/staff/petitions/",
        f"/staff/petitions/{open_petition.pk}/",
        "/staff/petitions/blocks/",
    ]:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")


def test_the_count_rises_live(page, asgi_live_server, open_petition):
    with page.expect_websocket():
        page.goto(asgi_live_server.url + f"/petitions/{open_petition.pk}/")
    page.locator(f"#petition-count-{open_petition.pk}", has_text="41 signatures").wait_for()

    def someone_confirms() -> None:
        try:
            signature = services.signature_create(
                petition=open_petition,
                signer=services.Signer(name="A", email="a@example.org", postcode="CF10 1EP"),
            )
            from consultations.models import Signature

            Signature.objects.filter(pk=signature.pk).update(token_hash=services._token_hash("t"))
            services.signature_confirm(token="t")
        finally:
            connection.close()

    worker = threading.Thread(target=someone_confirms)
    worker.start()
    worker.join()
    page.locator(f"#petition-count-{open_petition.pk}", has_text="42 signatures").wait_for(
        timeout=5000
    )
