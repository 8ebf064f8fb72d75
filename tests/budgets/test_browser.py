"""Budget pages in a real Chromium: axe-core in English and Welsh, and voting on a phone
without JavaScript (issue 5)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from budgets import services
from tests.budgets.factories import make_round

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(context, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


@pytest.fixture
def voting_round():
    return make_round(verify_letter=True)


@pytest.fixture
def counted_round(staff):
    round_ = make_round(slug="counted")
    budget = round_.budgets.get(ward__isnull=True)

    def vote_and_count() -> None:
        try:
            for n, ref in enumerate(["P1", "P2", "P1"]):
                project = budget.projects.get(reference=ref)
                who = services.Identity(reference=f"r{n}", verified_by="email")
                services.ballot_cast(budget=budget, identity=who, choices={project.pk: 1})
            round_.phase = "counting"
            round_.save()
            for b in round_.budgets.all():
                services.result_count(budget_id=b.pk)
            services.round_set_phase(round_=round_, actor=staff, phase="results")
        finally:
            connection.close()

    worker = threading.Thread(target=vote_and_count)
    worker.start()
    worker.join()
    return round_


@pytest.mark.parametrize("language", ["en-gb", "cy"])
def test_budget_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, voting_round, counted_round, resident, staff, language
):
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": asgi_live_server.url}]
    )
    _sign_in(page.context, asgi_live_server, resident)
    budget = voting_round.budgets.get(ward__isnull=True)
    for path in [
        "/budgets/",
        "/budgets/parks-2026/",
        f"/budgets/parks-2026/projects/{budget.projects.first().pk}/",
        "/budgets/parks-2026/vote/",
        "/budgets/receipt/",
        "/budgets/counted/results/",
    ]:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")
    postcode = voting_round.budgets.filter(ward__isnull=False).first().ward.postcodes.first()
    page.goto(asgi_live_server.url + "/budgets/parks-2026/vote/")
    page.locator("#id_postcode").fill(postcode.postcode)
    page.locator("#id_age").check()
    page.locator("main form button.govuk-button").click()
    page.goto(asgi_live_server.url + f"/budgets/parks-2026/vote/{budget.pk}/")
    axe_check(page, context=f"ballot ({language})")
    page.locator("input[name=project]").first.check()
    page.locator("button[value=review]").click()
    axe_check(page, context=f"review ({language})")
    page.locator("button[value=cast]").click()
    axe_check(page, context=f"receipt ({language})")

    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": asgi_live_server.url}]
    )
    _sign_in(page.context, asgi_live_server, staff)
    for path in [
        "/staff/budgets/",
        f"/staff/budgets/{voting_round.pk}/",
        f"/staff/budgets/{voting_round.pk}/codes/",
        f"/staff/budgets/{voting_round.pk}/budgets/{budget.pk}/paper/",
        f"/staff/budgets/{voting_round.pk}/budgets/{budget.pk}/",
    ]:
        page.goto(asgi_live_server.url + path)
        axe_check(page, context=f"{path} ({language})")


def test_voting_on_a_phone_without_javascript(browser, asgi_live_server, voting_round, resident):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_in(context, asgi_live_server, resident)
        page.goto(asgi_live_server.url + "/budgets/parks-2026/")
        page.get_by_role("button", name="Vote now").click()
        postcode = voting_round.budgets.filter(ward__isnull=False).order_by("ward__name")[0]
        page.get_by_label("Postcode").fill(postcode.ward.postcodes.first().postcode)
        page.get_by_label("I am 16 or older.").check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("link", name="Council-wide").click()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        for name in ["New play park", "River path", "Bike shelters", "Community orchard"]:
            page.get_by_label(name).check()
        page.get_by_role("button", name="Review my ballot").click()
        assert (
            "Choose no more than 3 projects." in page.locator(".govuk-error-summary").text_content()
        )
        page.get_by_label("Community orchard").uncheck()
        page.get_by_role("button", name="Review my ballot").click()
        page.get_by_role("button", name="Cast my vote").click()
        receipt = page.locator(".moot-receipt").text_content().strip()
        assert len(receipt) == 14
        page.goto(asgi_live_server.url + "/budgets/receipt/")
        page.get_by_label("Your receipt code").fill(receipt)
        page.get_by_role("button", name="Check").click()
        assert "Your ballot is stored" in page.locator("main").text_content()
    finally:
        context.close()


def test_the_budget_bar_updates_as_projects_are_ticked(page, asgi_live_server, resident):
    round_ = make_round(ballot_type="knapsack")
    budget = round_.budgets.get(ward__isnull=True)
    budget.max_projects = None

    def save() -> None:
        try:
            budget.save()
        finally:
            connection.close()

    worker = threading.Thread(target=save)
    worker.start()
    worker.join()
    _sign_in(page.context, asgi_live_server, resident)
    postcode = round_.budgets.filter(ward__isnull=False).first().ward.postcodes.first()
    page.goto(asgi_live_server.url + "/budgets/parks-2026/vote/")
    page.locator("#id_postcode").fill(postcode.postcode)
    page.locator("#id_age").check()
    page.locator("main form button.govuk-button").click()
    page.goto(asgi_live_server.url + f"/budgets/parks-2026/vote/{budget.pk}/")
    page.get_by_label("New play park").check()
    page.locator("#budget-bar", has_text="£60,000 of £100,000 chosen").wait_for(timeout=5000)
    page.get_by_label("River path").check()
    page.get_by_label("Bike shelters").check()
    page.locator("#budget-bar", has_text="over budget").wait_for(timeout=5000)
