"""Consultations (issue 6): lifecycle, the builder, versions, responding, staff entry, imports,
themes, the outcome and retention."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.utils import timezone

from consultations.surveys import responses, selectors, services
from consultations.surveys.models import (
    Answer,
    Consultation,
    EqualityRecord,
    Question,
    Response,
    Version,
)
from engagement.audit.models import AuditEntry
from engagement.council.models import CouncilSettings
from tests.factories import PostcodeFactory, WardFactory

from .factories import make_consultation, opt

pytestmark = pytest.mark.django_db
K = Question.Kind


def post(**values) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in values.items():
        if isinstance(value, list):
            data.setlist(key, value)
        else:
            data[key] = value
    return data


def page_of(consultation, key):
    return [q for q in selectors.questions(consultation.current_version) if q.key == key]


def test_phases_follow_the_dates(staff):
    consultation = make_consultation(staff, published=False)
    assert consultation.phase == Consultation.Phase.DRAFT
    services.consultation_publish(actor=staff, consultation=consultation)
    now = timezone.now()
    assert consultation.phase_at(now) == "open"
    assert consultation.phase_at(now - timedelta(days=2)) == "forthcoming"
    assert consultation.phase_at(now + timedelta(days=11)) == "closed"
    assert AuditEntry.objects.order_by("pk").first().action == "consultation.create"
    assert AuditEntry.objects.filter(action="consultation.publish").count() == 1


def test_publishing_is_refused_until_the_consultation_is_complete(staff):
    consultation = services.consultation_create(
        actor=staff,
        title="Bins",
        summary="Fortnightly collections",
        opens_at=timezone.now(),
        closes_at=timezone.now() + timedelta(days=5),
    )
    with pytest.raises(services.SurveyError, match="Add at least one question"):
        services.consultation_publish(actor=staff, consultation=consultation)
    section = services.section_save(actor=staff, version=consultation.current_version, title="S")
    services.question_save(actor=staff, section=section, kind=K.SHORT_TEXT, text="Views")
    with pytest.raises(services.SurveyError) as exc:
        services.consultation_publish(actor=staff, consultation=consultation)
    assert str(exc.value) == (
        "The council offers Welsh: add the Welsh version of the title, the summary, "
        "section “S”, question “Views”."
    )
    CouncilSettings.objects.update_or_create(pk=1, defaults={"welsh_enabled": False})
    from engagement.council.selectors import council_settings_forget

    council_settings_forget()
    services.consultation_publish(actor=staff, consultation=consultation)
    assert consultation.published_at is not None


def test_bad_consultation_details_are_refused(staff):
    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        services.consultation_create(
            actor=staff, title="<b>Bins</b>", summary="x", opens_at=now, closes_at=now
        )
    assert "title" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.consultation_create(
            actor=staff, title="Bins", summary="x", opens_at=now, closes_at=now - timedelta(1)
        )
    assert exc.value.message_dict == {"closes_at": ["The closing date must be after the opening."]}
    with pytest.raises(ValidationError) as exc:
        services.consultation_create(
            actor=staff,
            title="Bins",
            summary="x",
            opens_at=now,
            closes_at=now + timedelta(1),
            audience="wards",
        )
    assert exc.value.message_dict == {"wards": ["Choose the wards whose residents may respond."]}
    assert not Consultation.objects.exists()


def test_the_builder_checks_questions_and_conditions(staff):
    consultation = make_consultation(staff, published=False)
    section = consultation.current_version.sections.get()
    with pytest.raises(ValidationError) as exc:
        services.question_save(
            actor=staff, section=section, kind=K.SINGLE, text="Pick", options=opt("Only")
        )
    assert exc.value.message_dict == {"options": ["Give at least two options, one a line."]}
    with pytest.raises(ValidationError) as exc:
        services.question_save(
            actor=staff,
            section=section,
            kind=K.SHORT_TEXT,
            text="Later",
            condition={"question": "why-not", "values": ["x"]},
        )
    assert exc.value.message_dict == {
        "condition": ["A condition must depend on an earlier choice question."]
    }
    with pytest.raises(ValidationError) as exc:
        services.question_save(
            actor=staff,
            section=section,
            kind=K.SHORT_TEXT,
            text="Later",
            condition={"question": "do-you-agree", "values": ["perhaps"]},
        )
    assert exc.value.message_dict == {"condition": ["Choose which answers show this question."]}
    first = page_of(consultation, "do-you-agree")[0]
    with pytest.raises(services.SurveyError, match="depends on this one"):
        services.question_remove(actor=staff, question=first)
    with pytest.raises(services.SurveyError, match="before the question its condition"):
        services.item_move(actor=staff, item=page_of(consultation, "why-not")[0], direction=-1)
    assert [q.key for q in selectors.questions(consultation.current_version)] == [
        "do-you-agree",
        "why-not",
        "which-days-do-you-visit",
    ]
    services.item_move(
        actor=staff, item=page_of(consultation, "which-days-do-you-visit")[0], direction=-1
    )
    assert [q.key for q in selectors.questions(consultation.current_version)][1] == (
        "which-days-do-you-visit"
    )
    assert services.parse_options("Yes | Ie\nNo\n\nYes") == [
        {"value": "yes", "label": "Yes", "label_cy": "Ie"},
        {"value": "no", "label": "No", "label_cy": ""},
        {"value": "yes-4", "label": "Yes", "label_cy": ""},
    ]


def respond(consultation, answers: dict, **submit) -> Response:
    response = responses.response_start(consultation=consultation)
    for page in selectors.pages(consultation, selectors.questions(consultation.current_version)):
        responses.response_save_page(response=response, page=page, data=post(**answers))
    return responses.response_submit(response=response, **submit)


def test_respond_online_hidden_answers_are_ignored_and_a_double_submit_stores_one(
    staff, django_capture_on_commit_callbacks
):
    consultation = make_consultation(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = respond(
            consultation,
            {
                "q-do-you-agree": "yes",
                "q-why-not": "Hidden but sent",
                "q-which-days-do-you-visit": ["saturday"],
            },
            email="jo@example.org",
            wants_copy=True,
        )
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", response.reference)
    assert dict(response.answers.values_list("question__key", "value")) == {
        "do-you-agree": "yes",
        "which-days-do-you-visit": ["saturday"],
    }
    again = responses.response_submit(response=Response.objects.get(pk=response.pk))
    assert again.reference == response.reference
    assert Answer.objects.count() == 2
    consultation.refresh_from_db()
    assert consultation.response_count == 1
    assert mail.outbox[-1].subject == f"Your consultation response {response.reference}"
    assert "Do you agree\nYes" in mail.outbox[-1].body


def test_a_stale_draft_object_cannot_submit_twice(staff):
    consultation = make_consultation(staff)
    response = responses.response_start(consultation=consultation)
    responses.response_save_page(
        response=response,
        page=page_of(consultation, "do-you-agree"),
        data=post(**{"q-do-you-agree": "no"}),
    )
    stale = Response.objects.get(pk=response.pk)
    first = responses.response_submit(response=response)
    second = responses.response_submit(response=stale)  # the same draft, read before the first
    assert second.reference == first.reference
    assert Response.objects.filter(state="submitted").count() == 1
    assert Answer.objects.count() == 1


def test_page_errors_store_nothing_and_required_only_when_shown(staff):
    consultation = make_consultation(staff)
    response = responses.response_start(consultation=consultation)
    page = page_of(consultation, "do-you-agree")
    with pytest.raises(ValidationError) as exc:
        responses.response_save_page(response=response, page=page, data=post())
    assert exc.value.message_dict == {"do-you-agree": ["Select an answer."]}
    with pytest.raises(ValidationError) as exc:
        responses.response_save_page(
            response=response, page=page, data=post(**{"q-do-you-agree": "tampered"})
        )
    assert exc.value.message_dict == {"do-you-agree": ["Select one of the options offered."]}
    response.refresh_from_db()
    assert response.draft == {}
    with pytest.raises(ValidationError) as exc:
        responses.response_submit(response=response)
    assert exc.value.message_dict == {"do-you-agree": ["Select an answer."]}
    assert Response.objects.get().state == "draft"


def test_changing_an_answer_drops_answers_that_become_hidden(staff):
    consultation = make_consultation(staff)
    response = responses.response_start(consultation=consultation)
    agree, why = page_of(consultation, "do-you-agree"), page_of(consultation, "why-not")
    responses.response_save_page(
        response=response, page=agree, data=post(**{"q-do-you-agree": "no"})
    )
    responses.response_save_page(
        response=response, page=why, data=post(**{"q-why-not": "Too late"})
    )
    assert response.draft == {"do-you-agree": "no", "why-not": "Too late"}
    responses.response_save_page(
        response=response, page=agree, data=post(**{"q-do-you-agree": "yes"})
    )
    assert response.draft == {"do-you-agree": "yes"}


def test_responses_after_the_close_or_before_the_opening_are_refused(staff):
    consultation = make_consultation(staff)
    response = responses.response_start(consultation=consultation)
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    response.consultation.refresh_from_db()
    with pytest.raises(services.SurveyError, match="has closed"):
        responses.response_save_page(
            response=response,
            page=page_of(consultation, "do-you-agree"),
            data=post(**{"q-do-you-agree": "no"}),
        )
    with pytest.raises(services.SurveyError, match="has closed"):
        responses.response_submit(response=response)
    forthcoming = make_consultation(staff, opens=2, closes=5, title="Later one")
    with pytest.raises(services.SurveyError, match="not open yet"):
        responses.response_start(consultation=forthcoming)


def test_save_and_come_back_later(staff, django_capture_on_commit_callbacks):
    consultation = make_consultation(staff)
    response = responses.response_start(consultation=consultation)
    responses.response_save_page(
        response=response,
        page=page_of(consultation, "do-you-agree"),
        data=post(**{"q-do-you-agree": "no"}),
    )
    with pytest.raises(ValidationError):
        responses.response_save_for_later(response=response, email="nope")
    with django_capture_on_commit_callbacks(execute=True):
        responses.response_save_for_later(response=response, email="jo@example.org")
    token = re.search(r"/consultations/resume/([^/\s]+)/", mail.outbox[-1].body).group(1)
    assert responses.response_resume(token=token).draft == {"do-you-agree": "no"}
    with pytest.raises(services.SurveyError, match="not valid"):
        responses.response_resume(token=token + "x")
    responses.response_submit(response=response)
    with pytest.raises(services.SurveyError, match="not valid"):
        responses.response_resume(token=token)  # the link dies once the response is sent


def test_frozen_once_answered_then_a_new_version(staff):
    consultation = make_consultation(staff)
    respond(consultation, {"q-do-you-agree": "yes"})
    section = consultation.current_version.sections.get()
    with pytest.raises(services.SurveyError, match="Make a new version"):
        services.question_save(actor=staff, section=section, kind=K.SHORT_TEXT, text="More")
    version = services.version_create(actor=staff, consultation=consultation, note="Add a question")
    consultation.refresh_from_db()
    assert consultation.current_version == version
    assert version.number == 2
    new_section = version.sections.get()
    services.question_save(actor=staff, section=new_section, kind=K.SHORT_TEXT, text="More")
    assert [q.key for q in selectors.questions(version)] == [
        "do-you-agree",
        "why-not",
        "which-days-do-you-visit",
        "more",
    ]
    old = Version.objects.get(consultation=consultation, number=1)
    assert len(selectors.questions(old)) == 3
    second = respond(consultation, {"q-do-you-agree": "no", "q-more": "Extra"})
    assert second.version == version
    counts = selectors.question_counts(consultation)
    agree = counts[0]
    assert agree["answered"] == 2
    assert [(r["value"], r["count"]) for r in agree["rows"]] == [("yes", 1), ("no", 1)]


def test_ward_audience_is_checked_by_postcode(staff):
    inside = WardFactory(name="Canol", slug="canol")
    PostcodeFactory(ward=inside, postcode="CF10 1EP")
    PostcodeFactory(ward=WardFactory(name="Gogledd", slug="gogledd"), postcode="CF10 2AA")
    consultation = make_consultation(staff, published=False, audience="wards", wards=[inside])
    with pytest.raises(services.SurveyError, match="needs a required postcode question"):
        services.consultation_publish(actor=staff, consultation=consultation)
    section = consultation.current_version.sections.get()
    services.question_save(
        actor=staff,
        section=section,
        kind=K.POSTCODE,
        text="Your postcode",
        text_cy="Cod post",
        required=True,
    )
    services.consultation_publish(actor=staff, consultation=consultation)
    response = responses.response_start(consultation=consultation)
    page = page_of(consultation, "your-postcode")
    with pytest.raises(ValidationError) as exc:
        responses.response_save_page(
            response=response, page=page, data=post(**{"q-your-postcode": "CF10 2AA"})
        )
    assert exc.value.message_dict == {
        "your-postcode": ["This consultation is for residents of Canol only."]
    }
    sent = respond(consultation, {"q-do-you-agree": "yes", "q-your-postcode": "cf10 1ep"})
    assert sent.ward == inside


def test_equality_answers_are_kept_apart(staff):
    consultation = make_consultation(staff, published=False)
    section = services.section_save(
        actor=staff,
        version=consultation.current_version,
        title="About you",
        title_cy="Amdanoch",
        equality=True,
    )
    services.question_save(
        actor=staff,
        section=section,
        kind=K.SINGLE,
        text="Age group",
        text_cy="Oed",
        required=True,
        options=opt("Under 30", "30 or over"),
    )
    assert page_of(consultation, "age-group")[0].required is False  # equality is always optional
    services.consultation_publish(actor=staff, consultation=consultation)
    response = respond(consultation, {"q-do-you-agree": "yes", "q-age-group": "under 30"})
    assert not response.answers.filter(question__key="age-group").exists()
    assert EqualityRecord.objects.get().answers == {"age-group": "under 30"}
    assert selectors.equality_counts(consultation)[0]["rows"][0]["count"] == 1


def test_staff_entry_records_the_channel_and_a_repeated_form_stores_one(staff):
    consultation = make_consultation(staff)
    raw = {"do-you-agree": "no", "why-not": "Buses", "which-days-do-you-visit": ["monday"]}
    first = responses.response_record(
        consultation=consultation, raw=raw, channel="post", token="tok-1", actor=staff
    )
    again = responses.response_record(
        consultation=consultation, raw=raw, channel="post", token="tok-1", actor=staff
    )
    assert first.pk == again.pk
    assert (first.channel, first.entered_by, first.state) == ("post", staff, "submitted")
    assert Response.objects.count() == 1
    assert AuditEntry.objects.filter(action="consultation.response_enter").count() == 1
    with pytest.raises(ValidationError) as exc:
        responses.response_record(
            consultation=consultation,
            raw={
                "do-you-agree": "maybe",
                "which-days-do-you-visit": ["monday", "tuesday", "saturday"],
            },
            channel="phone",
            token="tok-2",
            actor=staff,
        )
    assert exc.value.message_dict == {
        "do-you-agree": ["Select one of the options offered."],
        "which-days-do-you-visit": ["Select no more than 2 options."],
    }
    with pytest.raises(ValidationError) as exc:
        responses.response_record(
            consultation=consultation,
            raw={"nope": "x"},
            channel="phone",
            token="tok-3",
            actor=staff,
        )
    assert exc.value.messages == ["There is no question nope."]
    with pytest.raises(services.SurveyError, match="how the response came in"):
        responses.response_record(
            consultation=consultation, raw=raw, channel="pigeon", token="tok-4", actor=staff
        )
    assert Response.objects.count() == 1


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("responses.csv", text.encode())


def test_csv_import_is_all_or_nothing_and_idempotent(staff):
    consultation = make_consultation(staff)
    bad = (
        "do-you-agree,why-not,which-days-do-you-visit,channel\n"
        "yes,,monday,post\nmaybe,,,phone\nno,Far,sunday,email\n"
    )
    with pytest.raises(ValidationError) as exc:
        responses.responses_import_csv(consultation=consultation, actor=staff, file=csv_file(bad))
    assert exc.value.messages == [
        "Line 3 (do-you-agree): Select one of the options offered.",
        "Line 4 (which-days-do-you-visit): Select only the options offered.",
    ]
    assert Response.objects.count() == 0
    good = (
        "do-you-agree,why-not,which-days-do-you-visit,channel,email\n"
        "yes,,monday;saturday,post,\nno,Far,,email,a@example.org\n"
    )
    assert (
        responses.responses_import_csv(consultation=consultation, actor=staff, file=csv_file(good))
        == 2
    )
    assert (
        responses.responses_import_csv(consultation=consultation, actor=staff, file=csv_file(good))
        == 0
    )
    assert sorted(Response.objects.values_list("channel", flat=True)) == ["email", "post"]
    assert Answer.objects.get(question__key="why-not").text == "Far"
    with pytest.raises(ValidationError, match="Unknown columns: colour"):
        responses.responses_import_csv(
            consultation=consultation, actor=staff, file=csv_file("colour\nred\n")
        )
    with pytest.raises(ValidationError, match="UTF-8"):
        responses.responses_import_csv(
            consultation=consultation,
            actor=staff,
            file=SimpleUploadedFile("x.csv", b"\xff\xfe\x00"),
        )
    assert AuditEntry.objects.filter(action="consultation.responses_import").count() == 2


def test_themes_and_the_outcome(staff, django_capture_on_commit_callbacks):
    consultation = make_consultation(staff)
    response = respond(
        consultation,
        {"q-do-you-agree": "no", "q-why-not": "Buses stop at five"},
        email="jo@example.org",
        wants_outcome=True,
    )
    respond(consultation, {"q-do-you-agree": "yes"})
    theme = services.theme_create(actor=staff, consultation=consultation, name="Transport")
    with pytest.raises(ValidationError):
        services.theme_create(actor=staff, consultation=consultation, name="Transport")
    answer = response.answers.get(question__key="why-not")
    assert services.answer_tag(actor=staff, answer=answer, theme=theme) is True
    assert services.answer_tag(actor=staff, answer=answer, theme=theme) is False
    assert selectors.theme_counts(consultation).get().answers == 1
    with pytest.raises(services.SurveyError, match="once the consultation has closed"):
        services.outcome_publish(actor=staff, consultation=consultation, you_said="a", we_did="b")
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    consultation.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.outcome_publish(actor=staff, consultation=consultation, you_said="", we_did="b")
    assert set(exc.value.message_dict) == {"you_said", "you_said_cy", "we_did_cy"}
    with django_capture_on_commit_callbacks(execute=True):
        services.outcome_publish(
            actor=staff,
            consultation=consultation,
            you_said="Later buses",
            we_did="We will open until 7pm",
            you_said_cy="Bysiau hwyrach",
            we_did_cy="Byddwn ar agor tan 7pm",
        )
    assert consultation.phase == "outcome"
    assert [m.to for m in mail.outbox] == [["jo@example.org"]]
    assert "We will open until 7pm" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        services.outcome_publish(
            actor=staff,
            consultation=consultation,
            you_said="Later buses",
            we_did="We will open until 8pm",
            you_said_cy="Bysiau hwyrach",
            we_did_cy="Byddwn ar agor tan 8pm",
        )
    assert len(mail.outbox) == 1  # each respondent is told once


def test_retention_anonymises_respondents(staff, resident):
    consultation = make_consultation(staff)
    section = consultation.current_version.sections.get()
    Response.objects.all().delete()
    services.version_create(actor=staff, consultation=consultation)
    consultation.refresh_from_db()
    section = consultation.current_version.sections.get()
    services.question_save(actor=staff, section=section, kind=K.EMAIL, text="Contact email")
    response = responses.response_start(consultation=consultation, user=resident)
    for page in selectors.pages(consultation, selectors.questions(consultation.current_version)):
        responses.response_save_page(
            response=response,
            page=page,
            data=post(
                **{"q-do-you-agree": "no", "q-why-not": "Hours", "q-contact-email": "r@example.org"}
            ),
        )
    responses.response_submit(response=response, email="r@example.org")
    draft = responses.response_start(consultation=consultation)
    assert services.responses_anonymise_due() == 0
    later = consultation.closes_at + timedelta(days=consultation.retention_days + 1)
    assert services.responses_anonymise_due(now=later) == 1
    response.refresh_from_db()
    assert (response.user, response.email, response.anonymised_at) == (None, "", later)
    assert sorted(response.answers.values_list("question__key", flat=True)) == [
        "do-you-agree",
        "why-not",
    ]
    assert not Response.objects.filter(pk=draft.pk).exists()
    assert AuditEntry.objects.filter(action="consultation.anonymise").count() == 1
    assert services.responses_anonymise_due(now=later) == 0


def test_seed_demo_consultations_are_complete_and_idempotent(db):
    from consultations.surveys.demo import seed_consultations
    from tests.factories import PostcodeFactory, WardFactory

    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    assert seed_consultations() is True
    assert seed_consultations() is False
    town = Consultation.objects.get(slug="town-centre-traffic")
    assert (town.phase, town.response_count) == ("open", 24)
    assert EqualityRecord.objects.filter(consultation=town).count() == 24
    library = Consultation.objects.get(slug="library-opening-hours")
    assert (library.phase, library.response_count) == ("outcome", 12)


def test_staff_see_the_count_rise_live(staff, django_capture_on_commit_callbacks):
    from engagement.realtime import streams
    from engagement.realtime.models import StreamEvent

    consultation = make_consultation(staff)
    with django_capture_on_commit_callbacks(execute=True):
        respond(consultation, {"q-do-you-agree": "yes"})
    event = StreamEvent.objects.filter(stream=f"consultation.{consultation.pk}").last()
    assert event.payload == {"count": 1}
    assert "1 response</span>" in event.html
    assert streams.may_watch(staff, f"consultation.{consultation.pk}") is True
    from django.contrib.auth.models import AnonymousUser

    assert streams.may_watch(AnonymousUser(), f"consultation.{consultation.pk}") is False


def test_a_reference_already_taken_is_drawn_again(staff, monkeypatch):
    consultation = make_consultation(staff)
    first = responses.response_record(
        consultation=consultation, raw={"do-you-agree": "yes"}, channel="post", token="a"
    )
    drawn = iter([first.reference, first.reference, "NEWR-EF22"])
    monkeypatch.setattr(responses, "_reference", lambda: next(drawn))
    second = responses.response_record(
        consultation=consultation, raw={"do-you-agree": "no"}, channel="post", token="b"
    )
    assert second.reference == "NEWR-EF22"
    drawn = iter([first.reference, "NEWR-EF33"])
    draft = responses.response_start(consultation=consultation)
    responses.response_save_page(
        response=draft,
        page=page_of(consultation, "do-you-agree"),
        data=post(**{"q-do-you-agree": "no"}),
    )
    assert responses.response_submit(response=draft).reference == "NEWR-EF33"
