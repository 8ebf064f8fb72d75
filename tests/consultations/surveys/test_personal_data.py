"""A resident's consultation responses in "download my data", and anonymised with the account;
bad input to staff forms stores nothing; documents must be real PDFs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict

from consultations.surveys import responses, selectors, services
from consultations.surveys.models import Consultation, Document, Response
from engagement.accounts.services import user_anonymise, user_data_export

from .factories import make_consultation

pytestmark = pytest.mark.django_db


def test_download_and_delete_my_data(staff, resident):
    consultation = make_consultation(staff)
    draft = responses.response_start(consultation=consultation, user=resident)
    data = QueryDict(mutable=True)
    data["q-do-you-agree"] = "no"
    data["q-why-not"] = "Too early"
    for page in selectors.pages(consultation, selectors.questions(consultation.current_version)):
        responses.response_save_page(response=draft, page=page, data=data)
    sent = responses.response_submit(response=draft, email="rhian@example.org")
    exported = user_data_export(user=resident)["consultations"]
    assert exported == [
        {
            "consultation": "Library opening hours",
            "reference": sent.reference,
            "state": "submitted",
            "submitted_at": sent.submitted_at.isoformat(),
            "answers": {"Do you agree": "No", "Why not": "Too early"},
        }
    ]
    user_anonymise(user=resident)
    sent.refresh_from_db()
    assert (sent.user, sent.email) == (None, "")
    assert sent.anonymised_at is not None
    assert sent.answers.count() == 2  # the views still count; nothing points to the person


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("title", "x" * 151, "Ensure this value has at most 150 characters"),
        ("title", "<script>alert(1)</script>", "Remove the HTML"),
        ("summary", "nul\x00byte", "Null characters are not allowed."),
        ("summary", "bidi \u202e", "Remove the hidden control character"),
        ("opens_at", "yesterday", "Enter a valid date/time."),
        ("retention_days", "5", "Ensure this value is greater than or equal to 30."),
    ],
)
def test_bad_consultation_details_over_http_store_nothing(staff_client, field, value, message):
    data = {
        "title": "Bins",
        "summary": "Fortnightly",
        "audience": "everyone",
        "layout": "question",
        "opens_at": "2026-01-01T10:00",
        "closes_at": "2026-02-01T10:00",
        "retention_days": "365",
    } | {field: value}
    page = staff_client.post("/staff/consultations/new/", data)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert not Consultation.objects.exists()


def test_documents_must_be_pdfs(staff, staff_client):
    consultation = make_consultation(staff)
    url = f"/staff/consultations/{consultation.pk}/"
    fake = staff_client.post(
        url,
        {"form": "document", "title": "Plan", "file": SimpleUploadedFile("plan.pdf", b"<html>")},
    )
    assert fake.status_code == 400
    assert "The file is not a PDF, whatever its name says." in fake.content.decode()
    exe = staff_client.post(
        url, {"form": "document", "title": "Plan", "file": SimpleUploadedFile("plan.exe", b"MZ")}
    )
    assert "The document must be a PDF." in exe.content.decode()
    assert not Document.objects.exists()
    ok = staff_client.post(
        url,
        {
            "form": "document",
            "title": "Plan",
            "title_cy": "Cynllun",
            "file": SimpleUploadedFile("plan.pdf", b"%PDF-1.7\n%%EOF"),
        },
    )
    assert ok.status_code == 302
    document = Document.objects.get()
    assert document.size == 14
    assert "Plan" in staff_client.get(consultation.get_absolute_url()).content.decode()
    services.document_remove(actor=staff, document=document)
    assert not Document.objects.exists()


def test_a_file_answer_over_http(client, staff):
    from consultations.surveys.models import Question

    consultation = make_consultation(staff, published=False)
    section = consultation.current_version.sections.get()
    services.question_save(
        actor=staff, section=section, kind=Question.Kind.FILE, text="A photo", text_cy="Llun"
    )
    services.consultation_publish(actor=staff, consultation=consultation)
    slug = consultation.slug
    client.post(f"/consultations/{slug}/start/")
    client.post(f"/consultations/{slug}/respond/1/", {"q-do-you-agree": "yes"})
    wrong = client.post(
        f"/consultations/{slug}/respond/4/", {"q-a-photo": SimpleUploadedFile("a.png", b"GIF89a")}
    )
    assert wrong.status_code == 400
    assert "this one is not what its name says" in wrong.content.decode()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    assert (
        client.post(
            f"/consultations/{slug}/respond/4/", {"q-a-photo": SimpleUploadedFile("a.png", png)}
        ).status_code
        == 302
    )
    client.post(f"/consultations/{slug}/respond/check/", {})
    value = Response.objects.get().answers.get(question__key="a-photo").value
    assert value["name"] == "a.png"
    assert value["type"] == "image/png"
    assert value["size"] == 28
