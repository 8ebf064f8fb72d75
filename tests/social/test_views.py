"""The inbox, the case page and the staff pages: permissions, forms, bad input, query counts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from engagement.audit.models import AuditEntry
from social.models import Case, CaseEvent, GazetteerEntry, Post, Reply, RoutingRule, Source, Team
from tests.factories import CouncillorFactory, make_user

from .factories import PostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anwen_client(wards):
    user = make_user("anwen@example.org", roles=("councillor",))
    wards["anwen"].user = user
    wards["anwen"].save()
    client = Client()
    client.force_login(user)
    return client


def make_case(**kwargs):
    kwargs.setdefault("summary", "Bins")
    case = Case.objects.create(network="x", author_handle="resident", **kwargs)
    PostFactory(case=case, text=case.summary, routed_at=case.created_at)
    return case


def test_signed_out_and_residents_cannot_open_the_inbox(client, resident_client):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert resident_client.get("/inbox/").status_code == 403


def test_staff_without_two_factor_are_sent_to_set_it_up():
    user = make_user("nomfa@example.org", roles=("staff",), totp=False)
    client = Client()
    client.force_login(user)
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert "totp" in response["Location"]


def test_a_councillor_sees_only_their_own_ward_and_watched_cases(anwen_client, wards):
    mine = make_case(owner=wards["anwen"], ward=wards["canol"])
    other_ward = make_case(owner=wards["ceri"], ward=wards["glan"], summary="Glan thing")
    watched = make_case(owner=wards["ceri"], summary="Watched thing")
    watched.watchers.add(wards["anwen"])
    page = anwen_client.get("/inbox/").content.decode()
    assert f'id="case-{mine.pk}"' in page
    assert f'id="case-{other_ward.pk}"' not in page
    watching = anwen_client.get("/inbox/?view=watching").content.decode()
    assert f'id="case-{watched.pk}"' in watching
    assert anwen_client.get(f"/inbox/cases/{other_ward.pk}/").status_code == 404
    assert anwen_client.get(f"/inbox/cases/{mine.pk}/").status_code == 200
    # A case in their ward owned by someone else: they can read it but not act on it.
    bryns = make_case(owner=wards["bryn"], ward=wards["canol"])
    assert anwen_client.get(f"/inbox/cases/{bryns.pk}/").status_code == 200
    response = anwen_client.post(f"/inbox/cases/{bryns.pk}/", {"form": "note", "text": "Hi"})
    assert response.status_code == 403
    assert not CaseEvent.objects.filter(kind="note").exists()


def test_a_councillor_cannot_use_staff_only_forms(anwen_client, wards):
    case = make_case(owner=wards["anwen"])
    response = anwen_client.post(
        f"/inbox/cases/{case.pk}/", {"form": "assign", "owner": wards["ceri"].pk}
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.owner == wards["anwen"]
    assert anwen_client.get("/inbox/sources/").status_code == 403


def test_filters_search_and_htmx_partial(staff_client, wards):
    make_case(summary="Bins on Heol y Plas")
    make_case(summary="Streetlight out", state="resolved")
    page = staff_client.get("/inbox/?view=all&q=heol").content.decode()
    assert "Bins on Heol y Plas" in page
    assert "Streetlight out" not in page
    page = staff_client.get("/inbox/?view=all&state=resolved").content.decode()
    assert "Streetlight out" in page
    assert "Bins on Heol" not in page
    partial = staff_client.get("/inbox/?view=all", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    assert partial["Vary"].count("HX-Request") == 1
    # Nonsense filters are ignored, not a 500.
    assert staff_client.get("/inbox/?view=<script>&state=zzz&page=abc").status_code == 200


def test_inbox_query_count_does_not_grow_with_cases(staff_client, wards):
    for _ in range(3):
        make_case(owner=wards["anwen"], ward=wards["canol"])
    staff_client.get("/inbox/?view=all")  # warm the per-process caches (council settings)
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/inbox/?view=all")
    for _ in range(20):
        make_case(owner=wards["ceri"], ward=wards["glan"])
    with CaptureQueriesContext(connection) as many:
        staff_client.get("/inbox/?view=all")
    assert len(many) == len(few)


def test_case_page_shows_the_trace_conversation_and_history(staff_client, wards):
    from social import services

    post = PostFactory(text="Flooding on Heol y Plas", lon=-3.19, lat=51.49)
    case = services.post_route(post_id=post.pk)
    page = staff_client.get(f"/inbox/cases/{case.pk}/").content.decode()
    assert "The geotag (51.49, -3.19) is in Canol ward." in page
    assert "Flooding on Heol y Plas" in page
    assert "Case created" in page


def test_reply_form_posts_and_bad_input_is_a_400(
    staff_client, staff, wards, fake_x, x_source, django_capture_on_commit_callbacks
):
    from social import polling

    fake_x.add_post("Bins", mentions=fake_x.council_id)
    polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)
    case = Case.objects.get()
    url = f"/inbox/cases/{case.pk}/"
    for bad in ["", "<b>hi</b>", "x" * 501]:
        response = staff_client.post(url, {"form": "reply", "text": bad})
        assert response.status_code == 400
    assert Reply.objects.count() == 0
    response = staff_client.post(url, {"form": "reply", "text": "x" * 300})
    assert response.status_code == 400
    assert "280 characters or fewer" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"form": "reply", "text": "We are on it"})
    assert response.status_code == 302
    assert fake_x.replies[0]["text"] == "We are on it"


def test_saved_reply_is_used_when_the_text_is_empty(staff_client, wards):
    from social.models import ListeningSettings, SavedReply
    from social.services import listening_settings

    ListeningSettings.objects.create(replies_need_approval=False)
    listening_settings.forget()
    saved = SavedReply.objects.create(title="Thanks", text="Thanks, we have passed this on.")
    case = make_case()
    response = staff_client.post(
        f"/inbox/cases/{case.pk}/", {"form": "reply", "text": "", "saved_reply": saved.pk}
    )
    assert response.status_code == 302
    assert Reply.objects.get().text == "Thanks, we have passed this on."


def test_state_assign_and_merge_forms(staff_client, wards):
    case = make_case()
    other = make_case()
    url = f"/inbox/cases/{case.pk}/"
    assert staff_client.post(url, {"form": "state", "state": "waiting"}).status_code == 302
    assert staff_client.post(url, {"form": "state", "state": "nonsense"}).status_code == 400
    response = staff_client.post(
        url, {"form": "assign", "owner": wards["ceri"].pk, "watchers": [wards["anwen"].pk]}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.state, case.owner) == ("waiting", wards["ceri"])
    assert staff_client.post(url, {"form": "merge", "into": 999999}).status_code == 400
    response = staff_client.post(url, {"form": "merge", "into": other.pk})
    assert response["Location"] == f"/inbox/cases/{other.pk}/"
    # The merged case's page sends you on.
    assert staff_client.get(url)["Location"] == f"/inbox/cases/{other.pk}/"


def test_sources_page_and_form(staff_client, staff):
    response = staff_client.post(
        "/inbox/sources/new/",
        {
            "name": "Hashtag",
            "network": "x",
            "kind": "search",
            "account": "123",
            "query": "",
            "secret": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter the search terms for a search source." in body
    assert "Enter the access token or app password." in body
    assert Source.objects.count() == 0
    response = staff_client.post(
        "/inbox/sources/new/",
        {
            "name": "Hashtag",
            "network": "x",
            "kind": "search",
            "account": "123",
            "query": "#ourtown",
            "secret": "s3cret",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    source = Source.objects.get()
    # Editing without a new secret keeps the old one; the secret never reaches the page or log.
    response = staff_client.post(
        f"/inbox/sources/{source.pk}/",
        {
            "name": "Hashtag 2",
            "network": "x",
            "kind": "search",
            "account": "123",
            "query": "#ourtown",
            "secret": "",
            "enabled": "on",
        },
    )
    source.refresh_from_db()
    assert (source.name, source.secret) == ("Hashtag 2", "s3cret")
    assert "s3cret" not in staff_client.get(f"/inbox/sources/{source.pk}/").content.decode()
    entries = AuditEntry.objects.filter(action__startswith="social.source")
    assert [e.action for e in entries.order_by("pk")] == [
        "social.source.create",
        "social.source.update",
    ]
    assert all("s3cret" not in str(e.changes) for e in entries)
    assert "Hashtag 2" in staff_client.get("/inbox/sources/").content.decode()


def test_routing_rule_form(staff_client, wards):
    team = Team.objects.create(name="Waste", slug="waste")
    response = staff_client.post(
        "/inbox/rules/new/", {"name": "Waste", "keywords": "  \n ", "priority": 2, "order": 1}
    )
    assert response.status_code == 400
    assert "Enter at least one keyword." in response.content.decode()
    response = staff_client.post(
        "/inbox/rules/new/", {"name": "Waste", "keywords": "bins", "priority": 2, "order": 1}
    )
    assert "Choose a councillor or a team" in response.content.decode()
    response = staff_client.post(
        "/inbox/rules/new/",
        {
            "name": "Waste",
            "keywords": "bins\n recycling \n",
            "team": team.pk,
            "priority": 2,
            "order": 1,
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert RoutingRule.objects.get().keywords == "bins\nrecycling"
    assert AuditEntry.objects.filter(action="social.rule.create").count() == 1


def test_gazetteer_import_all_or_nothing(staff_client, wards):
    bad = SimpleUploadedFile(
        "g.csv", b"name,ward,kind\nHeol y Plas,Glan,street\nNowhere,Atlantis,street\n"
    )
    response = staff_client.post("/inbox/gazetteer/import/", {"file": bad})
    assert response.status_code == 400
    assert "Line 3: there is no ward called “Atlantis”." in response.content.decode()
    assert GazetteerEntry.objects.count() == 0
    good = SimpleUploadedFile(
        "g.csv", b"name,ward,kind\nHeol y Plas,glan,street\nParc Cathays,Canol,place\n"
    )
    response = staff_client.post("/inbox/gazetteer/import/", {"file": good})
    assert response.status_code == 302
    assert sorted(GazetteerEntry.objects.values_list("normalised", flat=True)) == [
        "heol y plas",
        "parc cathays",
    ]
    not_csv = SimpleUploadedFile("g.csv", b"\xff\xfe\x00garbage")
    assert staff_client.post("/inbox/gazetteer/import/", {"file": not_csv}).status_code == 400
    no_header = SimpleUploadedFile("g.csv", b"just,some\ntext,here\n")
    response = staff_client.post("/inbox/gazetteer/import/", {"file": no_header})
    assert "The first row must name the columns" in response.content.decode()


def test_figures_page(staff_client, anwen_client, wards):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for hours in (1, 2, 3):
        Case.objects.create(
            network="x",
            author_handle="a",
            summary="s",
            owner=wards["anwen"],
            created_at=now - timedelta(hours=hours),
            first_responded_at=now - timedelta(hours=hours) + timedelta(hours=hours),
        )
    page = staff_client.get("/inbox/figures/?by=owner").content.decode()
    assert "Cllr Anwen Ap" in page
    assert ">2.0<" in page  # the median first response, in hours
    assert anwen_client.get("/inbox/figures/?by=bogus").status_code == 200


def test_councillor_without_a_record_is_refused():
    user = make_user("cllr-nobody@example.org", roles=("councillor",))
    client = Client()
    client.force_login(user)
    assert client.get("/inbox/").status_code == 403
    CouncillorFactory(user=user)
    assert client.get("/inbox/").status_code == 200


def test_staff_link_a_case_to_a_petition(staff_client, wards):
    from consultations.models import Petition

    petition = Petition.objects.create(
        action="Save the lido", background="b", sponsor_token="t", state="open"
    )
    case = make_case()
    url = f"/inbox/cases/{case.pk}/"
    assert staff_client.post(url, {"form": "link", "petition": 999}).status_code == 400
    response = staff_client.post(url, {"form": "link", "petition": petition.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.petition == petition
    assert "Save the lido" in staff_client.get(url).content.decode()
    assert AuditEntry.objects.filter(action="social.case.link").count() == 1


def test_response_times_as_open_data_only_when_published(client, wards):
    from social.models import ListeningSettings
    from social.services import listening_settings

    Case.objects.create(network="x", author_handle="a", summary="s", owner=wards["anwen"])
    assert client.get("/inbox/response-times.json").status_code == 404
    ListeningSettings.objects.create(publish_figures=True)
    listening_settings.forget()
    data = client.get("/inbox/response-times.json").json()
    assert data["owner"][0]["key"] == "Cllr Anwen Ap"
    assert data["owner"][0]["cases"] == 1
    assert "author" not in str(data)


def test_a_failed_reply_can_be_sent_again_from_the_case_page(
    staff_client, wards, fake_x, x_source, django_capture_on_commit_callbacks
):
    from social import polling

    fake_x.add_post("Bins", mentions=fake_x.council_id)
    polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)
    case = Case.objects.get()
    url = f"/inbox/cases/{case.pk}/"
    fake_x.fail_next(500)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"form": "reply", "text": "On it"})
    reply = Reply.objects.get()
    assert reply.state == "failed"
    assert "Try again" in staff_client.get(url).content.decode()
    assert staff_client.post(url, {"form": "retry", "reply": "abc"}).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"form": "retry", "reply": reply.pk})
    reply.refresh_from_db()
    assert reply.state == "sent"
    assert [r["text"] for r in fake_x.replies] == ["On it"]
    response = staff_client.post(url, {"form": "retry", "reply": reply.pk}, follow=True)
    assert "Only a reply that failed can be sent again." in response.content.decode()


def test_a_resident_links_their_account_by_posting_a_code(
    resident_client, resident, wards, fake_x, x_source
):
    from social import polling
    from social.models import SocialIdentity

    resident.ward = wards["glan"]
    resident.save()
    assert Client().get("/inbox/link-account/").status_code == 302
    for bad in [
        {"network": "x", "handle": "<script>"},
        {"network": "myspace", "handle": "jo"},
        {"network": "x", "handle": ""},
    ]:
        assert resident_client.post("/inbox/link-account/", bad).status_code == 400
    assert SocialIdentity.objects.count() == 0
    response = resident_client.post("/inbox/link-account/", {"network": "x", "handle": "@Rhian_CF"})
    assert response.status_code == 302
    identity = SocialIdentity.objects.get()
    page = resident_client.get("/inbox/link-account/").content.decode()
    assert f"moot-{identity.code}" in page
    # Someone else posting the code does nothing; the owner of the handle posting it links it.
    fake_x.add_post(f"moot-{identity.code}", author="impostor", mentions=fake_x.council_id)
    polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)
    identity.refresh_from_db()
    assert identity.verified_at is None
    fake_x.add_post(
        f"Hi @ourcouncil moot-{identity.code.lower()}",
        author="rhian_cf",
        mentions=fake_x.council_id,
    )
    polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)
    identity.refresh_from_db()
    assert identity.verified_at is not None
    assert identity.code == ""
    code_post = Post.objects.get(author_handle="rhian_cf")
    assert (code_post.ignored, code_post.case) == ("account linking code", None)
    # Now their posts reach their ward.
    fake_x.add_post("The bins were missed", author="rhian_cf", mentions=fake_x.council_id)
    polling.source_poll(source_id=x_source.pk, force=True, route=polling.route_now)
    case = Case.objects.get(author_handle="rhian_cf")
    assert (case.ward, case.resident) == (wards["glan"], resident)
    # Another resident cannot take over a linked handle.
    other = make_user("other@example.org")
    client = Client()
    client.force_login(other)
    response = client.post("/inbox/link-account/", {"network": "x", "handle": "rhian_cf"})
    assert "already linked to another resident" in response.content.decode()
    resident_client.post("/inbox/link-account/", {"remove": identity.pk})
    assert not SocialIdentity.objects.exists()


def test_inbox_notification_kinds_are_offered_only_to_councillors_and_staff(
    resident_client, anwen_client
):
    assert (
        "New cases in your social inbox"
        not in resident_client.get("/accounts/profile/emails/").content.decode()
    )
    page = anwen_client.get("/accounts/profile/emails/").content.decode()
    assert "New cases in your social inbox" in page
    assert "Your social cases due or overdue (daily)" in page
    assert "missed a response target" not in page  # escalations go to staff


def test_staff_see_the_cases_with_replies_to_approve(staff_client, anwen_client, wards):
    from social.models import ListeningSettings
    from social.services import listening_settings

    ListeningSettings.objects.create(replies_need_approval=True)
    listening_settings.forget()
    waiting = make_case(owner=wards["anwen"])
    other = make_case(owner=wards["anwen"], summary="No reply yet")
    anwen_client.post(f"/inbox/cases/{waiting.pk}/", {"form": "reply", "text": "Sorted"})
    assert Reply.objects.get().state == "awaiting_approval"
    page = staff_client.get("/inbox/?view=approval").content.decode()
    assert f'id="case-{waiting.pk}"' in page
    assert f'id="case-{other.pk}"' not in page
    assert "1 reply waiting for approval" in staff_client.get("/inbox/").content.decode()


def test_a_mastodon_search_source_follows_one_hashtag(staff_client):
    data = {
        "name": "Tag",
        "network": "mastodon",
        "kind": "search",
        "account": "council",
        "query": "bins and roads",
        "secret": "t",
        "enabled": "on",
    }
    response = staff_client.post("/inbox/sources/new/", data)
    assert response.status_code == 400
    assert "On Mastodon a source follows one hashtag" in response.content.decode()
    assert Source.objects.count() == 0
    response = staff_client.post("/inbox/sources/new/", {**data, "query": "#ourtown"})
    assert response.status_code == 302
