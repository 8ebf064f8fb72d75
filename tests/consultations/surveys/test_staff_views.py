"""Staff pages over HTTP: permissions, building a consultation (plain forms and htmx),
preview, publishing, entering and importing responses, browsing, analysis, themes, exports,
the outcome. Every write is audited."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from consultations.surveys import exports, responses, selectors
from consultations.surveys.models import Answer, Consultation, Question, Response
from engagement.audit.models import AuditEntry
from tests.factories import PostcodeFactory, WardFactory, make_user

from .factories import make_consultation

pytestmark = pytest.mark.django_db


def test_staff_pages_need_staff(client, resident_client, staff):
    consultation = make_consultation(staff)
    for path in [
        "/staff/consultations/",
        f"/staff/consultations/{consultation.pk}/",
        f"/staff/consultations/{consultation.pk}/builder/",
        f"/staff/consultations/{consultation.pk}/export.csv",
    ]:
        assert client.get(path).status_code == 302
        assert resident_client.get(path).status_code == 403


def test_every_staff_page_renders(staff_client, staff):
    consultation = make_consultation(staff)
    responses.response_record(
        consultation=consultation,
        raw={"do-you-agree": "no", "why-not": "Too early"},
        channel="post",
        token="t1",
        actor=staff,
    )
    section = consultation.current_version.sections.get()
    text_q = Question.objects.get(key="why-not", section=section)
    response = Response.objects.get()
    for path in [
        "/staff/consultations/",
        "/staff/consultations/new/",
        f"/staff/consultations/{consultation.pk}/",
        f"/staff/consultations/{consultation.pk}/edit/",
        f"/staff/consultations/{consultation.pk}/builder/",
        f"/staff/consultations/{consultation.pk}/builder/sections/{section.pk}/",
        f"/staff/consultations/{consultation.pk}/builder/sections/{section.pk}/questions/new/",
        f"/staff/consultations/{consultation.pk}/builder/sections/{section.pk}/questions/{text_q.pk}/",
        f"/staff/consultations/{consultation.pk}/preview/",
        f"/staff/consultations/{consultation.pk}/enter/",
        f"/staff/consultations/{consultation.pk}/import/",
        f"/staff/consultations/{consultation.pk}/responses/",
        f"/staff/consultations/{consultation.pk}/responses/?channel=post&words=early",
        f"/staff/consultations/{consultation.pk}/responses/{response.pk}/",
        f"/staff/consultations/{consultation.pk}/analysis/",
        f"/staff/consultations/{consultation.pk}/themes/{text_q.pk}/",
        f"/staff/consultations/{consultation.pk}/outcome/",
    ]:
        page = staff_client.get(path)
        assert page.status_code == 200, path
    assert staff_client.get(f"/staff/consultations/{consultation.pk}/export.pdf").status_code == 404


def test_build_and_publish_without_javascript(staff_client, staff, settings):
    now = timezone.localtime()
    created = staff_client.post(
        "/staff/consultations/new/",
        {
            "title": "Parking charges",
            "title_cy": "Taliadau parcio",
            "summary": "New charges in the town centre.",
            "summary_cy": "Taliadau newydd yng nghanol y dref.",
            "audience": "everyone",
            "layout": "question",
            "opens_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
            "retention_days": "365",
        },
    )
    consultation = Consultation.objects.get()
    assert created.url == f"/staff/consultations/{consultation.pk}/builder/"
    builder = f"/staff/consultations/{consultation.pk}/builder/"
    assert staff_client.post(builder, {"action": "add-section", "title": "Charges"}).url == builder
    section = consultation.current_version.sections.get()
    new_question = f"{builder}sections/{section.pk}/questions/new/"
    bad = staff_client.post(new_question, {"kind": "single", "text": "Fair?", "options": "Yes"})
    assert bad.status_code == 400
    assert "Give at least two options, one a line." in bad.content.decode()
    ok = staff_client.post(
        new_question,
        {
            "kind": "single",
            "text": "Are the charges fair?",
            "text_cy": "A yw'r taliadau'n deg?",
            "options": "Yes | Ydyn\nNo | Nac ydyn",
            "required": "on",
        },
    )
    assert ok.url == builder
    staff_client.post(
        new_question,
        {
            "kind": "long_text",
            "text": "What would be fairer?",
            "text_cy": "Beth fyddai'n decach?",
            "condition": ["are-the-charges-fair:no"],
        },
    )
    questions = selectors.questions(consultation.current_version)
    assert [(q.key, q.condition) for q in questions] == [
        ("are-the-charges-fair", {}),
        ("what-would-be-fairer", {"question": "are-the-charges-fair", "values": ["no"]}),
    ]
    assert questions[0].options == [
        {"value": "yes", "label": "Yes", "label_cy": "Ydyn"},
        {"value": "no", "label": "No", "label_cy": "Nac ydyn"},
    ]
    preview = staff_client.get(f"/staff/consultations/{consultation.pk}/preview/").content.decode()
    assert "Are the charges fair?" in preview
    assert "disabled" in preview
    refused = staff_client.post(f"/staff/consultations/{consultation.pk}/", {"form": "publish"})
    page = staff_client.get(refused.url).content.decode()
    assert "add the Welsh version of section “Charges”" in page
    assert (
        staff_client.post(
            f"{builder}sections/{section.pk}/", {"title": "Charges", "title_cy": "Taliadau"}
        ).url
        == builder
    )
    staff_client.post(f"/staff/consultations/{consultation.pk}/", {"form": "publish"})
    consultation.refresh_from_db()
    assert consultation.phase == "open"
    assert {
        "consultation.create",
        "consultation.section_save",
        "consultation.question_save",
        "consultation.publish",
    } <= set(AuditEntry.objects.values_list("action", flat=True))


def test_builder_with_htmx_returns_the_list(staff_client, staff):
    consultation = make_consultation(staff, published=False)
    builder = f"/staff/consultations/{consultation.pk}/builder/"
    days = Question.objects.get(key="which-days-do-you-visit")
    fragment = staff_client.post(
        builder, {"action": "up", "item": "question", "id": days.pk}, HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert [q.key for q in selectors.questions(consultation.current_version)][1] == days.key
    refused = staff_client.post(
        builder,
        {"action": "remove", "item": "question", "id": Question.objects.get(key="do-you-agree").pk},
        HTTP_HX_REQUEST="true",
    )
    assert "condition depends on this one" in refused.content.decode()
    assert staff_client.post(builder, {"action": "explode"}).status_code == 400
    other = make_consultation(staff, published=False, title="Other")
    foreign = Question.objects.filter(section__version=other.current_version).first()
    assert (
        staff_client.post(
            builder, {"action": "remove", "item": "question", "id": foreign.pk}
        ).status_code
        == 404
    )


def test_frozen_questions_and_a_new_version_over_http(staff_client, staff):
    consultation = make_consultation(staff)
    responses.response_record(
        consultation=consultation,
        raw={"do-you-agree": "yes"},
        channel="phone",
        token="x",
        actor=staff,
    )
    builder = f"/staff/consultations/{consultation.pk}/builder/"
    page = staff_client.get(builder).content.decode()
    assert "Make a new version" in page
    assert "Add a question" not in page
    section = consultation.current_version.sections.get()
    refused = staff_client.post(
        f"{builder}sections/{section.pk}/questions/new/", {"kind": "short_text", "text": "More"}
    )
    assert refused.status_code == 400
    assert "Make a new version to change them." in refused.content.decode()
    staff_client.post(builder, {"action": "version", "note": "Add a question"})
    consultation.refresh_from_db()
    assert consultation.current_version.number == 2


def test_staff_entry_over_http(staff_client, staff):
    consultation = make_consultation(staff)
    url = f"/staff/consultations/{consultation.pk}/enter/"
    page = staff_client.get(url).content.decode()
    token = page.split('name="token" value="')[1].split('"')[0]
    bad = staff_client.post(url, {"channel": "post", "token": token, "q-do-you-agree": "perhaps"})
    assert bad.status_code == 400
    assert "Select one of the options offered." in bad.content.decode()
    assert not Response.objects.exists()
    data = {"channel": "phone", "token": token, "q-do-you-agree": "no", "q-why-not": "Too early"}
    assert staff_client.post(url, data).status_code == 302
    assert staff_client.post(url, data).status_code == 302  # the same form twice
    response = Response.objects.get()
    assert (response.channel, response.entered_by) == ("phone", staff)


def test_import_over_http(staff_client, staff):
    consultation = make_consultation(staff)
    url = f"/staff/consultations/{consultation.pk}/import/"
    bad = staff_client.post(url, {"file": SimpleUploadedFile("r.csv", b"do-you-agree\nmaybe\n")})
    assert bad.status_code == 400
    assert "Line 2 (do-you-agree): Select one of the options offered." in bad.content.decode()
    good = staff_client.post(url, {"file": SimpleUploadedFile("r.csv", b"do-you-agree\nyes\nno\n")})
    assert good.status_code == 302
    assert Response.objects.filter(channel="post").count() == 2


def seed_responses(consultation, staff, n=3):
    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    for i in range(n):
        responses.response_record(
            consultation=consultation,
            raw={
                "do-you-agree": "no" if i % 2 else "yes",
                "why-not": f"Reason “{i}”, with a comma" if i % 2 else "",
                "which-days-do-you-visit": ["monday", "saturday"],
            },
            channel="post",
            token=f"seed-{i}",
            actor=staff,
        )


def test_exports_round_trip(staff_client, staff):
    consultation = make_consultation(staff)
    seed_responses(consultation, staff)
    url = f"/staff/consultations/{consultation.pk}/export"
    streamed = b"".join(staff_client.get(f"{url}.csv").streaming_content).decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(streamed)))
    assert [row["do-you-agree"] for row in table] == ["yes", "no", "yes"]
    assert table[1]["why-not"] == "Reason “1”, with a comma"
    assert table[0]["which-days-do-you-visit"] == "monday;saturday"
    # The CSV imports back into a copy of the consultation and gives the same answers.
    copy = make_consultation(staff, title="Copy")
    columns = ["do-you-agree", "why-not", "which-days-do-you-visit"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: row[k] for k in columns} for row in table)
    responses.responses_import_csv(
        consultation=copy, actor=staff, file=SimpleUploadedFile("c.csv", out.getvalue().encode())
    )
    assert (
        exports.csv_text(copy).splitlines()[1].split(",")[5:]
        == streamed.splitlines()[1].split(",")[5:]
    )
    data = json.loads(b"".join(staff_client.get(f"{url}.json").streaming_content))
    assert [r["answers"] for r in data["responses"]][1] == {
        "do-you-agree": "no",
        "why-not": "Reason “1”, with a comma",
        "which-days-do-you-visit": "monday;saturday",
    }
    assert [q["key"] for q in data["questions"]] == columns
    xlsx = b"".join(staff_client.get(f"{url}.xlsx").streaming_content)
    assert xlsx[:2] == b"PK"
    import zipfile

    sheet = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml").decode()
    assert "Reason “1”, with a comma" in sheet
    assert "Monday; Saturday" in sheet


def test_consult_export_matches_its_import_schema(staff_client, staff):
    consultation = make_consultation(staff)
    seed_responses(consultation, staff)
    data = json.loads(
        b"".join(
            staff_client.get(
                f"/staff/consultations/{consultation.pk}/export.consult"
            ).streaming_content
        )
    )
    assert set(data) == {
        "consultation_code",
        "consultation_title",
        "timestamp",
        "respondents",
        "questions",
        "responses_by_question",
        "multi_choice_by_question",
    }
    assert data["respondents"][0] == {
        "themefinder_id": 1,
        "demographic_data": {"channel": ["post"]},
    }
    assert data["questions"] == [
        {
            "question_text": "Do you agree",
            "question_number": 1,
            "has_free_text": False,
            "multi_choice_options": ["Yes", "No"],
        },
        {
            "question_text": "Why not",
            "question_number": 2,
            "has_free_text": True,
            "multi_choice_options": [],
        },
        {
            "question_text": "Which days do you visit",
            "question_number": 3,
            "has_free_text": False,
            "multi_choice_options": ["Monday", "Tuesday", "Saturday"],
        },
    ]
    assert data["responses_by_question"] == {
        "2": [{"themefinder_id": 2, "text": "Reason “1”, with a comma"}]
    }
    assert data["multi_choice_by_question"]["1"] == [
        {"themefinder_id": 1, "options": ["Yes"]},
        {"themefinder_id": 2, "options": ["No"]},
        {"themefinder_id": 3, "options": ["Yes"]},
    ]


def test_themes_over_http_and_htmx(staff_client, staff):
    consultation = make_consultation(staff)
    seed_responses(consultation, staff)
    question = Question.objects.get(key="why-not")
    url = f"/staff/consultations/{consultation.pk}/themes/{question.pk}/"
    assert staff_client.post(url, {"form": "theme", "name": ""}).status_code == 400
    assert staff_client.post(url, {"form": "theme", "name": "Opening hours"}).status_code == 302
    theme = consultation.themes.get()
    answer = Answer.objects.get(question__key="why-not")
    tagged = staff_client.post(
        url,
        {"form": "tag", "answer": answer.pk, "theme": theme.pk, "on": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert 'aria-pressed="true"' in tagged.content.decode()
    assert answer.theme_tags.count() == 1
    untagged = staff_client.post(
        url, {"form": "tag", "answer": answer.pk, "theme": theme.pk, "on": "0"}
    )
    assert untagged.status_code == 302
    assert answer.theme_tags.count() == 0


def test_response_browser_filters_and_query_count(
    staff_client, staff, django_assert_max_num_queries
):
    consultation = make_consultation(staff)
    seed_responses(consultation, staff, n=3)
    url = f"/staff/consultations/{consultation.pk}/responses/"
    assert "3 responses" in staff_client.get(url).content.decode()
    assert "1 response" in staff_client.get(url + "?words=comma").content.decode()
    with django_assert_max_num_queries(20) as few:
        staff_client.get(url)
    seed_responses_more(consultation, staff)
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(url)


def seed_responses_more(consultation, staff):
    for i in range(10):
        responses.response_record(
            consultation=consultation,
            raw={"do-you-agree": "yes"},
            channel="email",
            token=f"more-{i}",
            actor=staff,
        )


def test_outcome_over_http(staff_client, staff):
    consultation = make_consultation(staff)
    url = f"/staff/consultations/{consultation.pk}/outcome/"
    refused = staff_client.post(
        url, {"you_said": "a", "we_did": "b", "you_said_cy": "a", "we_did_cy": "b"}
    )
    assert refused.status_code == 400
    assert "once the consultation has closed" in refused.content.decode()
    Consultation.objects.filter(pk=consultation.pk).update(closes_at=timezone.now())
    assert (
        staff_client.post(
            url, {"you_said": "a", "we_did": "b", "you_said_cy": "a", "we_did_cy": "b"}
        ).status_code
        == 302
    )


def test_a_councillor_cannot_reach_staff_pages(staff):
    from django.test import Client

    from engagement.accounts.models import Role

    consultation = make_consultation(staff)
    client = Client()
    client.force_login(make_user("c@example.org", roles=(Role.COUNCILLOR,)))
    assert client.get(f"/staff/consultations/{consultation.pk}/enter/").status_code == 403


def test_exports_of_a_consultation_without_responses_are_valid(staff):
    consultation = make_consultation(staff)
    empty = json.loads("".join(exports.consult_stream(consultation)))
    assert (empty["respondents"], empty["responses_by_question"]) == ([], {})
    assert json.loads("".join(exports.json_stream(consultation)))["responses"] == []
    assert exports.csv_text(consultation).splitlines() == [
        "reference,submitted_at,channel,ward,version,do-you-agree,why-not,which-days-do-you-visit"
    ]


def test_analysis_counts_one_ward_or_channel(staff_client, staff):
    consultation = make_consultation(staff)
    seed_responses(consultation, staff, n=3)
    responses.response_record(
        consultation=consultation,
        raw={"do-you-agree": "no"},
        channel="phone",
        token="p",
        actor=staff,
    )
    everyone = selectors.question_counts(consultation)[0]
    assert [(r["value"], r["count"]) for r in everyone["rows"]] == [("yes", 2), ("no", 2)]
    by_phone = selectors.question_counts(consultation, {"channel": "phone"})[0]
    assert [(r["value"], r["count"]) for r in by_phone["rows"]] == [("yes", 0), ("no", 1)]
    page = staff_client.get(f"/staff/consultations/{consultation.pk}/analysis/?channel=phone")
    assert "Counting only the responses that match the filter." in page.content.decode()
