"""Petition pages in a real Chromium: axe-core in English and Welsh; the count rises live."""

import threading

import pytest
from django.db import connection

from consultations.models import Petition, PetitionTally
from consultations.petitions import services
from tests.factories import PostcodeFactory, WardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_petition():
    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    petition = Petition.objects.create(
        action="Save the lido",
        background="It is loved.",
        sponsor_token="tok",
        state=Petition.State.OPEN,
        signature_count=41,
    )
    # The count is the sum of the tally's shards (folded in by the count's tick job).
    PetitionTally.objects.create(petition=petition, shard=0, confirmed=41)
    return petition


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


def test_the_whole_petition_journey(browser, asgi_live_server, staff):
    """Create → confirm → sponsors → approve → sign → confirm → the count rises live elsewhere."""
    import re

    from django.core import mail

    from consultations.models import BlockRule, PetitionScheme

    def setup() -> None:
        try:
            PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
            PetitionScheme.objects.create(sponsors_needed=2)
            # Every browser here signs from 127.0.0.1: lift the per-address limit for it.
            BlockRule.objects.create(kind="ip", value="127.0.0.1", action="allow")
        finally:
            connection.close()

    worker = threading.Thread(target=setup)
    worker.start()
    worker.join()
    base = asgi_live_server.url
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)

    def fill_signer(name: str, email: str) -> None:
        page.get_by_label("Name").fill(name)
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Postcode").fill("CF10 1EP")
        page.locator("#id_eligible").check()

    def confirm_last() -> None:
        link = re.search(r"http://\S+/petitions/confirm/\S+/", mail.outbox[-1].body).group(0)
        page.goto(base + link[link.index("/petitions/") :])

    try:
        page.goto(base + "/petitions/new/")
        page.get_by_label("What do you want the council to do?").fill("Keep the library open")
        page.get_by_label("Why", exact=True).fill("It is the only warm place on Sundays.")
        fill_signer("Creator", "creator@example.org")
        page.get_by_role("button", name="Continue").click()
        confirm_last()
        sponsor_link = page.locator("main code").text_content().strip()
        for n in (1, 2):
            page.goto(base + sponsor_link[sponsor_link.index("/petitions/") :])
            fill_signer(f"Sponsor {n}", f"sponsor{n}@example.org")
            page.get_by_role("button", name="Sign as a supporter").click()
            confirm_last()

        staff_context = browser.new_context()
        from django.test import Client

        client = Client()
        client.force_login(staff)
        staff_context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
        )
        staff_page = staff_context.new_page()
        staff_page.goto(base + "/staff/petitions/")
        staff_page.get_by_role("link", name="Keep the library open").click()
        staff_page.get_by_label("Approve and publish").check()
        staff_page.get_by_role("button", name="Save decision").click()
        petition_url = staff_page.url.replace("/staff/petitions/", "/petitions/")
        staff_context.close()

        watcher = context.new_page()
        with watcher.expect_websocket():
            watcher.goto(petition_url)
        count = watcher.locator("[id^=petition-count-]")
        count.filter(has_text="3 signatures").wait_for()

        page.goto(petition_url)
        fill_signer("Resident", "resident@example.org")
        page.get_by_role("button", name="Sign this petition").click()
        assert page.get_by_role("heading", level=1).text_content() == "Check your email"
        confirm_last()
        assert "Your signature is confirmed" in page.locator("main").text_content()
        count.filter(has_text="4 signatures").wait_for(timeout=5000)
    finally:
        context.close()
