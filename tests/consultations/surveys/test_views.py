"""Resident pages over HTTP, without JavaScript: list, detail, page by page, check your answers,
the confirmation, a double submit, save and come back later, the outcome page."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from consultations.surveys import services
from consultations.surveys.models import Consultation, Response

from .factories import make_consultation

pytestmark = pytest.mark.django_db


@pytest.fixture
def consultation(staff):
    return make_consultation(staff)


def test_list_and_detail(client, consultation, staff):
    draft = make_consultation(staff, published=False, title="Secret draft")
    page = client.get("/consultations/")
    assert page.status_code == 200
    assert "Library opening hours" in page.content.decode()
    assert "Secret draft" not in page.content.decode()
    assert client.get(f"/consultations/{draft.slug}/").status_code == 404
    detail = client.get(consultation.get_absolute_url())
    assert "Start now" in detail.content.decode()


def test_the_whole_journey_one_question_a_page(
    client, consultation, django_capture_on_commit_callbacks
):
    slug = consultation.slug
    start = client.post(f"/consultations/{slug}/start/")
    assert start.url == f"/consultations/{slug}/respond/1/"
    first = client.get(start.url)
    assert first.status_code == 200
    assert '<h1 class="govuk-fieldset__heading">Do you agree</h1>' in first.content.decode()
    empty = client.post(start.url, {})
    assert empty.status_code == 400
    assert "Select an answer." in empty.content.decode()
    assert (
        client.post(start.url, {"q-do-you-agree": "no"}).url == f"/consultations/{slug}/respond/2/"
    )
    assert client.post(f"/consultations/{slug}/respond/2/", {"q-why-not": "Buses"}).url == (
        f"/consultations/{slug}/respond/3/"
    )
    too_many = client.post(
        f"/consultations/{slug}/respond/3/",
        {"q-which-days-do-you-visit": ["monday", "tuesday", "saturday"]},
    )
    assert "Select no more than 2 options." in too_many.content.decode()
    done = client.post(
        f"/consultations/{slug}/respond/3/", {"q-which-days-do-you-visit": ["monday"]}
    )
    assert done.url == f"/consultations/{slug}/respond/check/"
    check = client.get(done.url).content.decode()
    assert "Buses" in check
    assert "Monday" in check
    # Change the first answer to "yes": the page about why not disappears, its answer goes.
    assert (
        client.post(
            f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes", "change": "1"}
        ).url
        == done.url
    )
    check = client.get(done.url).content.decode()
    assert "Buses" not in check
    assert (
        client.get(f"/consultations/{slug}/respond/2/").url == f"/consultations/{slug}/respond/3/"
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(done.url, {"email": "jo@example.org", "wants_copy": "on"})
    reference = Response.objects.get().reference
    assert sent.url == f"/consultations/{slug}/respond/done/{reference}/"
    confirmation = client.get(sent.url).content.decode()
    assert reference in confirmation
    # A double click (the form posted again) lands on the same confirmation, one response stored.
    again = client.post(done.url, {"email": "jo@example.org", "wants_copy": "on"})
    assert again.url == sent.url
    assert Response.objects.count() == 1
    assert dict(Response.objects.get().answers.values_list("question__key", "value")) == {
        "do-you-agree": "yes",
        "which-days-do-you-visit": ["monday"],
    }
    assert len(mail.outbox) == 1
    assert Client().get(sent.url).status_code == 404  # another browser cannot see it


def test_one_page_per_section_with_hidden_answers_ignored(client, staff):
    consultation = make_consultation(staff, layout=Consultation.Layout.SECTION)
    slug = consultation.slug
    client.post(f"/consultations/{slug}/start/")
    page = client.get(f"/consultations/{slug}/respond/1/").content.decode()
    assert "Answer this only if you answered “No” to “Do you agree”." in page
    posted = client.post(
        f"/consultations/{slug}/respond/1/",
        {"q-do-you-agree": "yes", "q-why-not": "<b>tampered</b> hidden"},
    )
    assert posted.url == f"/consultations/{slug}/respond/check/"
    assert client.post(posted.url, {}).status_code == 302
    assert dict(Response.objects.get().answers.values_list("question__key", "value")) == {
        "do-you-agree": "yes"
    }


def test_save_and_come_back_later_over_http(
    client, consultation, django_capture_on_commit_callbacks
):
    slug = consultation.slug
    client.post(f"/consultations/{slug}/start/")
    saved = client.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "no", "save": "1"})
    assert saved.url == f"/consultations/{slug}/respond/save/"
    assert client.post(saved.url, {"email": "nope"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(saved.url, {"email": "jo@example.org"}).status_code == 200
    link = re.search(r"http://\S+/consultations/resume/\S+/", mail.outbox[-1].body).group(0)
    other = Client()
    back = other.get(link[link.index("/consultations") :])
    assert back.url == f"/consultations/{slug}/respond/check/"
    assert "No" in other.get(back.url).content.decode()
    assert other.get("/consultations/resume/wrong/").status_code == 400


def test_closed_consultations_refuse_and_show_the_outcome(client, consultation, staff):
    client.post(f"/consultations/{consultation.slug}/start/")
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    refused = client.post(
        f"/consultations/{consultation.slug}/respond/1/", {"q-do-you-agree": "no"}
    )
    assert refused.status_code == 302
    assert client.get(refused.url).content.decode().count("has closed") >= 1
    assert not Response.objects.filter(state="submitted").exists()
    outcome = client.get(f"/consultations/{consultation.slug}/outcome/")
    assert outcome.status_code == 200
    assert "We asked, you said, we did" in outcome.content.decode()
    consultation.refresh_from_db()
    services.outcome_publish(
        actor=staff,
        consultation=consultation,
        you_said="Later",
        we_did="Open till 7",
        you_said_cy="Hwyrach",
        we_did_cy="Ar agor tan 7",
    )
    assert (
        "Open till 7" in client.get(f"/consultations/{consultation.slug}/outcome/").content.decode()
    )
    welsh = client.get(
        f"/consultations/{consultation.slug}/outcome/", HTTP_ACCEPT_LANGUAGE="cy"
    ).content.decode()
    assert "Ar agor tan 7" in welsh


def test_pages_need_a_draft(client, consultation):
    assert client.get(f"/consultations/{consultation.slug}/respond/1/").status_code == 302
    client.post(f"/consultations/{consultation.slug}/start/")
    assert client.get(f"/consultations/{consultation.slug}/respond/99/").status_code == 404
    assert (
        client.get(f"/consultations/{consultation.slug}/respond/done/ABCD-EFGH/").status_code == 404
    )


def test_starting_responses_is_rate_limited_per_address(consultation, settings):
    settings.CONSULTATION_STARTS_PER_ADDRESS = 2
    url = f"/consultations/{consultation.slug}/start/"
    for _ in range(2):
        assert Client().post(url).url.endswith("/respond/1/")
    refused = Client()
    assert refused.post(url).url == consultation.get_absolute_url()
    assert (
        "Too many responses started from here"
        in refused.get(consultation.get_absolute_url()).content.decode()
    )
    assert Response.objects.count() == 2


def test_signed_in_residents_carry_on_from_any_device(resident, consultation):
    first, second = Client(), Client()
    first.force_login(resident)
    second.force_login(resident)
    slug = consultation.slug
    first.post(f"/consultations/{slug}/start/")
    first.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "no"})
    detail = second.get(f"/consultations/{slug}/").content.decode()
    assert "Carry on with your response" in detail
    second.post(f"/consultations/{slug}/start/")
    check = second.get(f"/consultations/{slug}/respond/check/").content.decode()
    assert 'value="resident@example.org"' in check  # the copy goes to the account's address
    second.post(f"/consultations/{slug}/respond/check/", {"email": "resident@example.org"})
    response = Response.objects.get()
    assert (response.user, response.state) == (resident, "submitted")


def test_the_home_page_lists_open_consultations(client, consultation):
    assert "Library opening hours" in client.get("/").content.decode()


def test_emails_are_in_the_language_the_respondent_used(
    client, staff, consultation, django_capture_on_commit_callbacks
):
    slug = consultation.slug
    client.cookies["django_language"] = "cy"
    client.post(f"/consultations/{slug}/start/")
    client.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/consultations/{slug}/respond/check/",
            {"email": "jo@example.org", "wants_copy": "on", "wants_outcome": "on"},
        )
    assert Response.objects.get().language == "cy"
    assert "Oriau agor y llyfrgell" in mail.outbox[-1].body  # the Welsh title
    assert "Ydych chi'n cytuno" in mail.outbox[-1].body
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    consultation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.outcome_publish(
            actor=staff,
            consultation=consultation,
            you_said="Later",
            we_did="Open till 7",
            you_said_cy="Hwyrach",
            we_did_cy="Ar agor tan 7",
        )
    assert "Ar agor tan 7" in mail.outbox[-1].body
    assert "Open till 7" not in mail.outbox[-1].body


def test_a_changed_answer_that_reveals_a_required_question_asks_it(client, staff):
    from consultations.surveys.models import Question

    consultation = make_consultation(staff, published=False)
    why = Question.objects.get(key="why-not")
    services.question_save(
        actor=staff,
        section=why.section,
        question=why,
        kind=why.kind,
        text=why.text,
        text_cy=why.text_cy,
        required=True,
        condition=why.condition,
    )
    services.consultation_publish(actor=staff, consultation=consultation)
    slug = consultation.slug
    client.post(f"/consultations/{slug}/start/")
    client.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes"})
    client.post(f"/consultations/{slug}/respond/3/", {})
    changed = client.post(
        f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "no", "change": "1"}
    )
    assert changed.url == f"/consultations/{slug}/respond/2/?change=1"
    assert client.post(changed.url, {"q-why-not": "Buses", "change": "1"}).url == (
        f"/consultations/{slug}/respond/check/"
    )


def test_changing_an_answer_skips_required_questions_it_hides(client, staff):
    from consultations.surveys.models import Question

    consultation = make_consultation(staff, published=False, layout=Consultation.Layout.SECTION)
    first = consultation.current_version.sections.get()
    later = services.section_save(
        actor=staff, version=consultation.current_version, title="More", title_cy="Mwy"
    )
    Question.objects.filter(key__in=["why-not", "which-days-do-you-visit"]).update(section=later)
    Question.objects.filter(key="why-not").update(required=True)
    services.consultation_publish(actor=staff, consultation=consultation)
    assert first.questions.count() == 1
    slug = consultation.slug
    client.post(f"/consultations/{slug}/start/")
    client.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes"})
    client.post(f"/consultations/{slug}/respond/2/", {})
    changed = client.post(
        f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes", "change": "1"}
    )
    assert changed.url == f"/consultations/{slug}/respond/check/"
