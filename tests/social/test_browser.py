"""The social inbox in a real Chromium: a post appears on the fake X server, the case appears
live in the right councillor's inbox, the reply typed there reaches the fake server; axe-core
finds nothing on the inbox, case, figures and staff pages."""

import threading

import pytest
from django.db import connection
from django.test import Client

from social import polling
from social.models import Case
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}]
    )


def in_thread(fn) -> None:
    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()


def test_post_to_live_case_to_reply(page, asgi_live_server, axe_check, fake_x, x_source, wards):
    base = asgi_live_server.url
    user = make_user("anwen-browser@example.org", roles=("councillor",))
    wards["anwen"].user = user
    wards["anwen"].save()
    sign_in(page, base, user)
    page.set_default_timeout(10_000)
    with page.expect_websocket():
        page.goto(base + "/inbox/")
    axe_check(page, context="inbox (empty)")

    def resident_posts() -> None:
        fake_x.add_post(
            "Overflowing bin by the bus stop", mentions=fake_x.council_id, lon=-3.19, lat=51.49
        )
        polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)

    in_thread(resident_posts)
    case = Case.objects.get()
    assert case.owner == wards["anwen"]
    row = page.locator(f"#case-{case.pk}")
    row.wait_for()  # arrived over the websocket, no reload
    assert "Overflowing bin by the bus stop" in row.inner_text()
    axe_check(page, context="inbox (one case)")

    page.keyboard.press("j")  # the triage shortcut focuses the first case
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/inbox/cases/{case.pk}/")
    axe_check(page, context="case page")
    page.get_by_label("Reply", exact=True).fill("Thanks, the bin will be emptied today.")
    page.get_by_role("button", name="Post reply").click()
    page.get_by_text("Your reply is being posted.").wait_for()
    assert fake_x.replies[0]["text"] == "Thanks, the bin will be emptied today."
    assert fake_x.replies[0]["in_reply_to"] == case.posts.get(is_outbound=False).external_id
    page.get_by_role("button", name="Post reply").click()  # empty: a clear error
    page.get_by_text("Write a reply or choose a saved reply.").first.wait_for()
    axe_check(page, context="case page with an error")


def test_staff_pages_have_no_axe_violations(
    page, asgi_live_server, axe_check, staff, wards, x_source
):
    from social import services
    from tests.social.factories import PostFactory

    in_thread(
        lambda: services.post_route(post_id=PostFactory(text="Hello", lon=-3.19, lat=51.49).pk)
    )
    base = asgi_live_server.url
    sign_in(page, base, staff)
    case = Case.objects.get()
    for path in [
        "/inbox/?view=all",
        f"/inbox/cases/{case.pk}/",
        "/inbox/sources/",
        f"/inbox/sources/{x_source.pk}/",
        "/inbox/rules/",
        "/inbox/rules/new/",
        "/inbox/figures/",
        "/inbox/link-account/",
    ]:
        page.goto(base + path)
        axe_check(page, context=path)
