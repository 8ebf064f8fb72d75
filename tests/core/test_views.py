import pytest
from django.urls import reverse

from engagement.council.services import council_settings_update
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SHELL_PAGES = ["home", "accessibility", "privacy", "cookies"]


@pytest.mark.parametrize("name", SHELL_PAGES)
def test_shell_pages_render_for_anyone(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b'class="govuk-skip-link"' in response.content
    assert b"Accessibility statement" in response.content


def test_home_page_shows_each_section_with_an_empty_state(client):
    content = client.get("/").content.decode()
    for text in [
        "There are no live or upcoming council meetings at the moment.",
        "There are no budget rounds open for voting at the moment.",
        "There are no open consultations at the moment.",
        "There are no open petitions at the moment.",
    ]:
        assert text in content


def test_every_response_has_a_strict_csp_and_server_timing(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["Server-Timing"].startswith("app;dur=")
    assert response["X-Frame-Options"] == "DENY"


def test_the_csp_header_is_django_csps_policy_and_follows_a_change_of_settings(client, settings):
    from csp.utils import build_policy

    assert client.get("/").headers["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy-Report-Only" not in client.get("/").headers
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"img-src": ["'self'"]},
        "EXCLUDE_URL_PREFIXES": ["/healthz"],
    }
    response = client.get("/")
    assert response.headers["Content-Security-Policy"] == build_policy() == "default-src 'none'"
    report_only = response.headers["Content-Security-Policy-Report-Only"]
    assert report_only == build_policy(report_only=True)
    assert "img-src 'self'" in report_only
    assert "Content-Security-Policy-Report-Only" not in client.get("/healthz").headers


def test_a_response_with_a_policy_of_its_own_is_left_to_django_csp(rf):
    from csp.decorators import csp_exempt, csp_update
    from csp.exceptions import CSPNonceError
    from django.http import HttpResponse

    from engagement.core.middleware import CSPMiddleware

    middleware = CSPMiddleware(lambda request: HttpResponse())

    def respond(view):
        request = rf.get("/")
        middleware.process_request(request)
        return request, middleware.process_response(request, view(request))

    _, response = respond(csp_update({"img-src": "https://maps.example"})(lambda r: HttpResponse()))
    assert "img-src 'self' data: https://maps.example" in response["Content-Security-Policy"]
    _, response = respond(csp_exempt()(lambda r: HttpResponse()))
    assert "Content-Security-Policy" not in response
    with pytest.raises(CSPNonceError):
        str(respond(lambda r: HttpResponse())[0].csp_nonce)


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_healthz_is_plain_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_brand_css_carries_the_council_colour(client):
    council_settings_update(actor=None, brand_colour="#005a30")
    response = client.get("/brand.css")
    assert response.content == b":root{--moot-brand:#005a30;}\n"
    assert response["Content-Type"] == "text/css; charset=utf-8"


class TestStaffDashboard:
    url = "/staff/"

    def test_signed_out_visitors_are_sent_to_sign_in(self, client):
        response = client.get(self.url)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/staff/"

    def test_residents_and_councillors_get_403_and_no_data(
        self, resident_client, councillor_user, client
    ):
        assert resident_client.get(self.url).status_code == 403
        client.force_login(councillor_user)
        response = client.get(self.url)
        assert response.status_code == 403
        assert b"You cannot see this page" in response.content

    def test_staff_without_two_factor_are_sent_to_set_it_up(self, client):
        user = make_user("no2fa@example.org", roles=("staff",), totp=False)
        client.force_login(user)
        response = client.get(self.url)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")

    def test_staff_with_two_factor_see_the_dashboard(self, staff_client):
        response = staff_client.get(self.url)
        assert response.status_code == 200
        assert b"Staff area" in response.content
        assert b"Audit log" not in response.content  # admins only

    def test_admins_also_see_admin_tools(self, admin_client_2fa):
        response = admin_client_2fa.get(self.url)
        assert b"Council settings" in response.content
        assert b"Audit log" in response.content


def test_django_admin_requires_the_staff_role_with_two_factor(
    client, resident_client, staff_client
):
    anonymous = client.get("/django-admin/", follow=True)
    assert anonymous.redirect_chain[-1][0] == "/accounts/login/?next=/django-admin/"
    assert resident_client.get("/django-admin/", follow=True).status_code == 403
    assert staff_client.get("/django-admin/").status_code == 200


def _menu(content: bytes) -> tuple[list[str], list[str], list[str]]:
    """The menu's labels, and the labels of its active items and of the current page's."""
    import re

    html = content.decode()
    menu = html[html.index('id="navigation"') : html.index("</nav>")]
    items = re.findall(r'<li class="([^"]*)">\s*<a [^>]*?( aria-current="page")?>([^<]*)</a>', menu)
    return (
        [label for _, _, label in items],
        [label for css, _, label in items if "item--active" in css],
        [label for _, current, label in items if current],
    )


def test_the_menu_marks_the_section_and_page_in_each_language_and_role(client, staff_client):
    """The menu is rendered once per process for each state (the chrome tag): every state
    that changes it must be part of its key."""
    labels, active, current = _menu(client.get("/").content)
    assert labels == ["Home", "Meetings", "Wards", "Councillors", "Committees"]
    assert (active, current) == (["Home"], ["Home"])
    _, active, current = _menu(client.get("/wards/").content)
    assert (active, current) == (["Wards"], ["Wards"])
    _, active, current = _menu(client.get("/committees/nope/").content)  # a 404 below a section
    assert (active, current) == (["Committees"], [])
    client.cookies["django_language"] = "cy"
    labels, active, current = _menu(client.get("/wards/").content)
    assert labels[0] != "Home"
    assert "Wards" not in labels
    assert len(active) == len(current) == 1
    labels, active, current = _menu(staff_client.get("/staff/").content)
    assert labels[-2:] == ["Inbox", "Staff area"]
    assert (active, current) == (["Staff area"], ["Staff area"])


def test_the_footer_follows_the_council_settings_at_once(
    client, django_capture_on_commit_callbacks
):
    def footer() -> str:
        return client.get("/").content.decode().split("<footer")[1]

    assert "Llanfair Test Council" not in footer()
    with django_capture_on_commit_callbacks(execute=True):
        council_settings_update(actor=None, name="Llanfair Test Council")
    assert "Llanfair Test Council" in footer()


def test_welsh_switch_is_hidden_when_the_council_turns_welsh_off(
    client, django_capture_on_commit_callbacks
):
    assert b"Cymraeg" in client.get("/").content
    with django_capture_on_commit_callbacks(execute=True):
        council_settings_update(actor=None, welsh_enabled=False)
    assert b"Cymraeg" not in client.get("/").content


@pytest.mark.parametrize("query", ["party=%00", "ward=%00", "party=" + "x" * 200, "ward=<b>"])
def test_bad_councillor_filters_are_a_400_not_a_500(client, query):
    response = client.get(f"/councillors/?{query}")
    assert response.status_code == 400
    assert b"That filter is not valid" in response.content


def test_ward_boundaries_cannot_be_edited_in_the_admin(staff_client):
    from tests.factories import WardFactory

    ward = WardFactory()
    before = ward.boundary
    response = staff_client.post(
        f"/django-admin/places/ward/{ward.pk}/change/",
        {"name": "Renamed", "slug": ward.slug, "boundary": '{"type": "Point"}'},
    )
    assert response.status_code == 302
    ward.refresh_from_db()
    assert (ward.name, ward.boundary) == ("Renamed", before)
    assert staff_client.get("/django-admin/places/ward/add/").status_code == 403


def test_the_500_page_stands_alone_in_both_languages(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    content = response.content.decode()
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in content
    assert "Mae’n ddrwg gennym, mae problem gyda’r gwasanaeth" in content
