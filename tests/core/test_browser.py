"""The shell in a real Chromium: zero axe-core violations in English and Welsh, on a phone,
plus keyboard and no-JavaScript journeys."""

import threading

import pytest
from django.db import connection
from django.test import Client

from tests.factories import (
    CommitteeFactory,
    CouncillorFactory,
    MembershipFactory,
    PostcodeFactory,
    WardFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC_PAGES = [
    "/",
    "/accessibility/",
    "/privacy/",
    "/cookies/",
    "/wards/",
    "/wards/canol/",
    "/wards/?postcode=nonsense",
    "/councillors/",
    "/councillors/ann-evans/",
    "/committees/",
    "/committees/planning/",
    "/no-such-page/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/login/code/",
    "/accounts/password/reset/",
]
RESIDENT_PAGES = [
    "/accounts/profile/",
    "/accounts/profile/emails/",
    "/accounts/profile/delete/",
    "/accounts/2fa/",
]
ADMIN_PAGES = ["/staff/", "/staff/settings/", "/staff/audit/", "/staff/users/", "/staff/imports/"]


@pytest.fixture
def civic_data():
    ward = WardFactory(name="Canol", slug="canol")
    PostcodeFactory(ward=ward, postcode="CF10 1EP")
    councillor = CouncillorFactory(name="Ann Evans", slug="ann-evans", wards=[ward])
    MembershipFactory(
        councillor=councillor, committee=CommitteeFactory(name="Planning", slug="planning")
    )


def _sign_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def _set_language(page, live_server, language: str) -> None:
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_public_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, civic_data, language
):
    _set_language(page, asgi_live_server, language)
    for path in PUBLIC_PAGES:
        page.goto(asgi_live_server.url + path)
        expected = "cy" if language == "cy" else "en-GB"
        assert page.locator("html").get_attribute("lang") == expected
        axe_check(page, context=f"{path} ({language})")


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_signed_in_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, resident, admin_user, language
):
    _set_language(page, asgi_live_server, language)
    _sign_in(page, asgi_live_server, resident)
    for path in RESIDENT_PAGES:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")
    page.context.clear_cookies()
    _set_language(page, asgi_live_server, language)
    _sign_in(page, asgi_live_server, admin_user)
    for path in ADMIN_PAGES:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")


def test_pages_fit_a_phone_screen(page, asgi_live_server, civic_data):
    for path in ["/", "/wards/", "/wards/canol/", "/councillors/", "/committees/planning/"]:
        page.goto(asgi_live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"


def test_the_skip_link_is_the_first_thing_a_keyboard_reaches(page, asgi_live_server):
    page.goto(asgi_live_server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"


def test_switching_to_welsh_and_back_without_javascript(browser, asgi_live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(asgi_live_server.url + "/privacy/")
        page.get_by_role("button", name="Cymraeg").click()
        assert page.url == asgi_live_server.url + "/privacy/"
        assert page.locator("html").get_attribute("lang") == "cy"
        page.get_by_role("button", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en-GB"
    finally:
        context.close()


def test_find_your_ward_by_postcode_without_javascript(browser, asgi_live_server, civic_data):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(asgi_live_server.url + "/")
        page.get_by_label("Postcode").fill("cf10 1ep")
        page.get_by_role("button", name="Find").click()
        assert page.url == asgi_live_server.url + "/wards/canol/"
        assert page.get_by_role("heading", level=1).text_content() == "Canol"
        page.goto(asgi_live_server.url + "/wards/?postcode=ZZ99+9ZZ")
        summary = page.locator(".govuk-error-summary").text_content()
        assert "ZZ99 9ZZ is not a postcode in this council's area." in summary
    finally:
        context.close()


def test_a_resident_updates_their_profile_with_the_keyboard_only(
    page, asgi_live_server, resident, civic_data
):
    _sign_in(page, asgi_live_server, resident)
    page.goto(asgi_live_server.url + "/accounts/profile/")
    page.get_by_label("Postcode").focus()
    page.keyboard.type("CF10 1EP")
    page.get_by_role("button", name="Save your details").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert (
        "Your details have been saved." in page.locator(".govuk-notification-banner").text_content()
    )
    assert "Your ward is Canol." in page.locator("main").text_content()


def test_the_audit_log_updates_live_for_an_admin(page, asgi_live_server, admin_user, staff):
    from engagement.audit.services import audit_record

    _sign_in(page, asgi_live_server, admin_user)
    with page.expect_websocket() as socket_info:
        page.goto(asgi_live_server.url + "/staff/audit/")
    socket = socket_info.value
    resume = socket.wait_for_event("framesent", timeout=5000)
    assert resume == '{"type":"resume","stream":"audit","after":0}'

    # Another admin's action, from another thread (Playwright's loop owns this one).
    def another_admin_acts() -> None:
        try:
            audit_record(actor=staff, action="ward.update_live_test")
        finally:
            connection.close()  # this thread's connection would outlive the test database

    other = threading.Thread(target=another_admin_acts)
    other.start()
    other.join()

    page.locator("#audit-rows code", has_text="ward.update_live_test").wait_for(timeout=5000)
    assert page.locator("#audit-rows tr").count() == 1  # the empty-state row went
    marker = page.locator("#moot-seq-audit")
    assert marker.get_attribute("data-moot-seq") == "1"


def test_a_resident_signs_up_verifies_and_signs_in_by_code_without_javascript(
    browser, asgi_live_server
):
    import re

    from allauth.account.models import EmailAddress
    from django.core import mail

    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(asgi_live_server.url + "/accounts/signup/")
        page.get_by_label("Email").fill("newcomer@example.org")
        page.get_by_label("Password", exact=True).fill("a-long-passphrase-2026")
        page.get_by_label("Password (again)").fill("a-long-passphrase-2026")
        page.locator("main form button[type=submit]").first.click()
        assert page.url == asgi_live_server.url + "/accounts/confirm-email/"
        link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
        page.goto(link.replace("http://127.0.0.1:8000", asgi_live_server.url))
        page.locator("main form button[type=submit]").first.click()
        assert EmailAddress.objects.get(email="newcomer@example.org").verified

        page.goto(asgi_live_server.url + "/accounts/login/")
        page.get_by_label("Email").fill("newcomer@example.org")
        page.get_by_label("Password").fill("a-long-passphrase-2026")
        page.locator("main form button[type=submit]").first.click()
        page.goto(asgi_live_server.url + "/accounts/profile/")
        assert "You are signed in as newcomer@example.org." in page.locator("main").text_content()

        page.context.clear_cookies()
        page.goto(asgi_live_server.url + "/accounts/login/code/")
        page.get_by_label("Email").fill("newcomer@example.org")
        page.locator("main form button[type=submit]").first.click()
        code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", mail.outbox[-1].body, re.MULTILINE)
        page.get_by_label("Code").fill(code.group(1))
        page.locator("main form button[type=submit]").first.click()
        page.goto(asgi_live_server.url + "/accounts/profile/")
        assert "You are signed in as newcomer@example.org." in page.locator("main").text_content()
    finally:
        context.close()
