"""Consultations in a real Chromium: every page checked with axe-core (English and Welsh, every
question type, error states), a resident responds with and without JavaScript, and staff build
and publish a consultation."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from consultations.surveys import responses
from consultations.surveys.models import Consultation, Question, Response

from .factories import make_consultation, make_every_type

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_thread(fn):
    """Database work outside Playwright's event loop (the sync API runs one in this thread)."""
    result = {}

    def run() -> None:
        try:
            result["value"] = fn()
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return result.get("value")


def signed_in(browser, base, user, **options):
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
    )
    return context


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_resident_pages_have_no_axe_violations(page, asgi_live_server, axe_check, staff, language):
    consultation = in_thread(lambda: make_every_type(staff))
    closed = in_thread(lambda: make_consultation(staff, title="Closed one", opens=-10, closes=-1))
    base = asgi_live_server.url
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    slug = consultation.slug
    for path in [
        "/consultations/",
        f"/consultations/{slug}/",
        f"/consultations/{closed.slug}/outcome/",
    ]:
        page.goto(base + path)
        axe_check(page, context=f"{path} ({language})")
    page.goto(base + f"/consultations/{slug}/")
    page.locator("main form button").click()
    total = in_thread(lambda: len(responses.selectors.questions(consultation.current_version)))
    for number in range(1, total + 1):
        page.goto(base + f"/consultations/{slug}/respond/{number}/")
        if page.url.endswith("/check/"):
            continue
        axe_check(page, context=f"page {number} ({language})")
    page.goto(base + f"/consultations/{slug}/respond/1/")
    page.locator("main form button.govuk-button").first.click()  # nothing chosen: an error
    assert page.locator(".govuk-error-summary").count() == 1
    axe_check(page, context=f"page error ({language})")
    for path in ["respond/check/", "respond/save/"]:
        page.goto(base + f"/consultations/{slug}/{path}")
        axe_check(page, context=f"{path} ({language})")
    page.goto(base + "/consultations/resume/nonsense/")
    axe_check(page, context=f"resume failed ({language})")


@pytest.mark.parametrize("javascript", [False, True])
def test_a_resident_responds(browser, asgi_live_server, staff, javascript):
    from django.core import mail

    in_thread(lambda: make_consultation(staff))
    base = asgi_live_server.url
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(base + "/consultations/")
        page.get_by_role("link", name="Library opening hours").click()
        page.get_by_role("button", name="Start now").click()
        page.get_by_role("button", name="Continue").click()
        assert "Select an answer." in page.locator(".govuk-error-summary").text_content()
        page.get_by_label("No").check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Why not").fill("The buses stop at five.")
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Saturday").check()
        page.get_by_role("button", name="Continue").click()
        assert page.get_by_role("heading", level=1).text_content() == (
            "Check your answers before sending your response"
        )
        assert "The buses stop at five." in page.locator("main").text_content()
        page.get_by_label("Email address (optional)").fill("jo@example.org")
        page.get_by_label("Email me a copy of my response").check()
        page.get_by_role("button", name="Send response").click()
        assert page.get_by_role("heading", level=1).text_content() == "Response sent"
        reference = in_thread(lambda: Response.objects.get().reference)
        assert reference in page.locator(".govuk-panel").text_content()
        assert mail.outbox[-1].to == ["jo@example.org"]
        page.go_back()  # back to check your answers, and send again: still one response
        if page.locator("button", has_text="Send response").count():
            page.get_by_role("button", name="Send response").click()
        assert in_thread(lambda: Response.objects.filter(state="submitted").count()) == 1
    finally:
        context.close()


def test_staff_build_and_publish_a_consultation(browser, asgi_live_server, axe_check, staff):
    base = asgi_live_server.url
    in_thread(
        lambda: __import__("tests.factories", fromlist=["WardFactory"]).WardFactory(name="Canol")
    )
    context = signed_in(browser, base, staff)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(base + "/staff/consultations/")
        axe_check(page, context="staff list")
        page.get_by_role("link", name="New consultation").click()
        axe_check(page, context="staff new")
        page.get_by_label("Title", exact=True).fill("Play parks")
        page.get_by_label("Title (Welsh)").fill("Parciau chwarae")
        page.get_by_label("Plain-language summary").fill("Which play parks should we renew?")
        page.get_by_label("Summary (Welsh)").fill("Pa barciau chwarae ddylem ni eu hadnewyddu?")
        now = timezone.localtime()
        page.get_by_label("Opens").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        page.get_by_label("Closes").fill((now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Save").click()
        page.get_by_label("New section title").fill("Parks")
        page.get_by_role("button", name="Add a section").click()  # htmx swaps the list
        page.get_by_role("link", name="Edit section Parks").click()
        page.get_by_label("Title (Welsh)").fill("Parciau")
        page.get_by_role("button", name="Save").click()
        page.get_by_role("link", name="Add a question to Parks").click()
        axe_check(page, context="staff question")
        page.get_by_label("Type of question").select_option("multiple")
        page.get_by_label("Question", exact=True).fill("Which parks do you use")
        page.get_by_label("Question (Welsh)").fill("Pa barciau ydych chi'n eu defnyddio")
        page.get_by_label("Options (choice, dropdown, ranking; the columns of a matrix)").fill(
            "Victoria Park | Parc Victoria\nRiverside | Glan yr afon"
        )
        page.get_by_role("button", name="Save question").click()
        axe_check(page, context="staff builder")
        page.get_by_role("link", name="Preview").click()
        axe_check(page, context="staff preview")
        assert page.get_by_label("Victoria Park").is_disabled()
        page.get_by_role("link", name="Overview").click()
        page.get_by_role("button", name="Publish").click()
        assert "The consultation is published." in page.locator("main").text_content()
        axe_check(page, context="staff overview")
        consultation = in_thread(lambda: Consultation.objects.get(title="Play parks"))
        assert consultation.phase == "open"
        for path in ["enter/", "import/", "responses/", "analysis/", "outcome/", "edit/"]:
            page.goto(base + f"/staff/consultations/{consultation.pk}/{path}")
            axe_check(page, context=f"staff {path}")
        page.goto(base + f"/staff/consultations/{consultation.pk}/enter/")
        page.get_by_label("Phone").check()
        page.get_by_label("Riverside").check()
        page.get_by_role("button", name="Record the response").click()
        assert re.search(
            r"Response [A-Z2-9]{4}-[A-Z2-9]{4} has been recorded",
            page.locator("main").text_content(),
        )
        assert in_thread(lambda: Response.objects.get().channel) == "phone"
        question = in_thread(lambda: Question.objects.get(key="which-parks-do-you-use"))
        assert question.kind == "multiple"
    finally:
        context.close()
