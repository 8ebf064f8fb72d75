"""Petitions (issue 7): creating, sponsoring, moderating, signing, confirming, anti-fraud."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from consultations.models import (
    BlockRule,
    Petition,
    PetitionScheme,
    PetitionTally,
    RejectionReason,
    Signature,
)
from consultations.petitions import selectors, services
from consultations.petitions.emails import normalise_email
from engagement.audit.models import AuditEntry
from engagement.realtime.models import StreamEvent
from tests.factories import PostcodeFactory, WardFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("Jo.Bloggs+petition@GoogleMail.com", "jobloggs@gmail.com"),
        ("jobloggs@gmail.com", "jobloggs@gmail.com"),
        ("jo.bloggs+x@example.org", "jo.bloggs+x@example.org"),
        ("Jo+tag@Outlook.com", "jo@outlook.com"),
        ("jo.bloggs@outlook.com", "jo.bloggs@outlook.com"),
    ],
)
def test_email_normalisation(address, normalised):
    assert normalise_email(address) == normalised


@pytest.fixture
def postcode():
    return PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")


def signer(n: int, *, ip: str | None = None, email: str = "") -> services.Signer:
    return services.Signer(
        name=f"Signer {n}", email=email or f"s{n}@example.org", postcode="cf101ep", ip=ip
    )


def last_token() -> str:
    return re.search(r"/petitions/confirm/([^/\s]+)/", mail.outbox[-1].body).group(1)


def open_petition(staff, captured) -> Petition:
    PetitionScheme.objects.create(sponsors_needed=2, response_threshold=3, debate_threshold=4)
    with captured(execute=True):
        petition = services.petition_create(
            action="Save the lido", background="It is loved.", details="", signer=signer(0)
        )
    services.signature_confirm(token=last_token())
    for n in (1, 2):
        with captured(execute=True):
            services.sponsor_sign(petition=Petition.objects.get(), signer=signer(n))
        services.signature_confirm(token=last_token())
    petition.refresh_from_db()
    assert petition.state == "sponsored"
    return services.petition_moderate(petition=petition, actor=staff, decision="approve")


def test_the_whole_flow(postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    assert petition.state == "open"
    assert petition.signature_count == 3  # the creator and two sponsors
    assert petition.closes_at - petition.opened_at == timedelta(days=183)
    assert AuditEntry.objects.filter(action="petition.approve").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(petition=petition, signer=signer(10))
    assert Petition.objects.get().signature_count == 3  # not counted before the click
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = services.signature_confirm(token=last_token())
    assert confirmed.state == "validated"
    petition.refresh_from_db()
    assert petition.signature_count == 4
    assert petition.response_threshold_at is not None
    assert petition.debate_threshold_at is not None
    assert StreamEvent.objects.filter(stream=f"petition.{petition.pk}").last().payload == {
        "count": 4
    }
    assert [(m.subject, m.to) for m in mail.outbox[-4:]] == [
        ("A petition has reached enough signatures for a council response", ["s0@example.org"]),
        ("A petition has reached enough signatures for a council response", [staff.email]),
        (
            "A petition has reached enough signatures for a debate at full council",
            ["s0@example.org"],
        ),
        ("A petition has reached enough signatures for a debate at full council", [staff.email]),
    ]
    assert selectors.petition_json(petition)["signatures_by_ward"] == [
        {"ward": "Canol", "count": 4}
    ]


def test_one_signature_per_normalised_email(postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    first = services.signature_create(petition=petition, signer=signer(5, email="jo.b@gmail.com"))
    again = services.signature_create(
        petition=petition, signer=signer(6, email="JoB+x@googlemail.com")
    )
    assert first is not None
    assert again is None
    assert Signature.objects.filter(normalised_email="job@gmail.com").count() == 1


def test_confirming_twice_counts_once_and_bad_links_are_refused(
    postcode, staff, django_capture_on_commit_callbacks
):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(petition=petition, signer=signer(7))
    token = last_token()
    with django_capture_on_commit_callbacks(execute=True):  # the count's tick job runs
        services.signature_confirm(token=token)
        services.signature_confirm(token=token)
    assert Petition.objects.get().signature_count == 4
    assert sum(PetitionTally.objects.values_list("confirmed", flat=True)) == 4
    with pytest.raises(services.PetitionError, match="not valid"):
        services.signature_confirm(token=token[:-1] + ("A" if token[-1] != "A" else "B"))
    later = petition.closes_at + timedelta(hours=25)
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(petition=petition, signer=signer(8))
    with pytest.raises(services.PetitionError, match="has closed"):
        services.signature_confirm(token=last_token(), now=later)


def test_over_the_ip_limit_a_signature_is_quietly_not_counted(
    postcode, staff, django_capture_on_commit_callbacks
):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(petition=petition, signer=signer(20, ip="203.0.113.9"))
        services.signature_create(petition=petition, signer=signer(21, ip="203.0.113.9"))
    assert len(mail.outbox) == sent + 2  # the same email either way
    states = dict(Signature.objects.filter(ip_address="203.0.113.9").values_list("name", "state"))
    assert states == {"Signer 20": "pending", "Signer 21": "fraudulent"}
    services.signature_confirm(token=last_token())
    assert Petition.objects.get().signature_count == 3
    services.block_rule_add(actor=staff, kind="domain", value="spam.example", action="block")
    services.signature_create(petition=petition, signer=signer(22, email="a@spam.example"))
    assert Signature.objects.get(name="Signer 22").state == "fraudulent"


def test_bad_input_stores_nothing(postcode):
    with pytest.raises(ValidationError) as caught:
        services.petition_create(
            action="x" * 81,
            background="ok",
            details="",
            signer=services.Signer(name="<script>", email="nope", postcode="ZZ99 9ZZ"),
        )
    errors = caught.value.message_dict
    assert set(errors) == {"action", "name", "email", "postcode"}
    assert errors["email"] == ["Enter an email address like name@example.com."]
    assert Petition.objects.count() == Signature.objects.count() == 0


def test_signing_a_petition_that_is_not_open_is_refused(postcode):
    petition = Petition.objects.create(action="A", background="B", sponsor_token="t1")
    with pytest.raises(services.PetitionError, match="not open"):
        services.signature_create(petition=petition, signer=signer(1))


def test_moderation_reject_and_invalidate(postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(petition=petition, signer=signer(30, ip="198.51.100.7"))
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_confirm(token=last_token())
    assert (
        services.signatures_invalidate(
            petition=petition, actor=staff, ip="198.51.100.7", preview=True
        )
        == 1
    )
    assert Petition.objects.get().signature_count == 4
    with django_capture_on_commit_callbacks(execute=True):
        services.signatures_invalidate(petition=petition, actor=staff, ip="198.51.100.7")
    assert Petition.objects.get().signature_count == 3
    assert AuditEntry.objects.filter(action="petition.invalidate").count() == 1
    other = Petition.objects.create(
        action="B", background="C", sponsor_token="t2", state=Petition.State.SPONSORED
    )
    with pytest.raises(services.PetitionError, match="Choose a reason"):
        services.petition_moderate(petition=other, actor=staff, decision="reject")
    reason = RejectionReason.objects.get(code="duplicate")  # from the standard list
    services.petition_moderate(petition=other, actor=staff, decision="reject", reason=reason)
    assert Petition.objects.get(pk=other.pk).state == "rejected"


def test_sign_and_confirm_over_http(client, postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    page = client.get(petition.get_absolute_url())
    assert "3 signatures" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            petition.get_absolute_url(),
            {
                "name": "Web Signer",
                "email": "web@example.org",
                "postcode": "CF10 1EP",
                "connection": "lives",
                "eligible": "on",
            },
        )
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.get(f"/petitions/confirm/{last_token()}/")
    assert confirmed.status_code == 200
    assert client.get(f"/petitions/{petition.pk}.json").json()["signature_count"] == 4
    bad = client.get("/petitions/confirm/not-a-token/")
    assert bad.status_code == 400
    missing = client.post(petition.get_absolute_url(), {"name": "X"})
    assert missing.status_code == 400
    assert "Confirm that you may sign this petition." in missing.content.decode()


SIGN_FORM = {
    "name": "Web Signer",
    "email": "web@example.org",
    "postcode": "CF10 1EP",
    "connection": "lives",
    "eligible": "on",
}


def test_signing_over_http_refuses_what_is_not_open_and_stores_nothing_twice(
    client, postcode, staff, django_capture_on_commit_callbacks
):
    """The form posts by id and the insert itself checks the petition is open."""
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    url = petition.get_absolute_url()
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, SIGN_FORM)
    again = client.post(url, {**SIGN_FORM, "email": "Web+again@Example.org"})
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/petitions/{petition.pk}/thanks/"
    assert petition.signatures.filter(normalised_email="web@example.org").count() == 1
    assert len(mail.outbox) == 4  # the creator, two sponsors and this signer: no second email

    before = Signature.objects.count()
    Petition.objects.filter(pk=petition.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    closed = client.post(url, {**SIGN_FORM, "email": "late@example.org"})
    assert closed.status_code == 400
    assert "This petition is not open for signatures." in closed.content.decode()
    hidden = Petition.objects.create(action="Draft", background="B", sponsor_token="t9")
    unpublished = client.post(hidden.get_absolute_url(), {**SIGN_FORM, "email": "x@example.org"})
    assert unpublished.status_code == 404
    assert client.post("/petitions/999999/", SIGN_FORM).status_code == 404
    assert Signature.objects.count() == before


def test_confirmation_emails_queue_in_the_table_and_survive_a_mail_server_outage(
    settings, postcode, staff, django_capture_on_commit_callbacks
):
    """Signing queues its email in the signature row; one job sends everything due over SMTP.
    An address refused outright is given up on (it would block the queue); while the server is
    down nothing is lost and, once it is back, each email goes exactly once."""
    from consultations.petitions.tasks import send_signature_emails
    from tests.fakes.smtp import FakeSMTP

    petition = open_petition(staff, django_capture_on_commit_callbacks)
    # Signing queues the job after commit, which never comes inside the test's transaction:
    # the test runs the job itself.
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port + 1  # nothing there
        for n in range(40, 45):
            services.signature_create(petition=petition.pk, signer=signer(n))
        assert Signature.objects.exclude(email_due="").count() == 5
        with pytest.raises(ConnectionError):
            services.signature_emails_send(batch=2)
        assert Signature.objects.exclude(email_due="").count() == 5  # nothing lost

        settings.EMAIL_PORT = server.port
        server.refuse = {"s42@example.org"}
        assert send_signature_emails.apply().get() == 4
        assert sorted(to[0] for to, _ in server.messages) == [
            f"s{n}@example.org" for n in (40, 41, 43, 44)
        ]
        assert not Signature.objects.exclude(email_due="").exists()
        assert services.signature_emails_send() == 0  # each email exactly once
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    token = re.search(rb"/petitions/confirm/([^/\s]+)/", server.messages[0][1]).group(1).decode()
    assert services.signature_confirm(token=token).state == Signature.State.VALIDATED
    signature = Signature.objects.get(normalised_email="s40@example.org")
    assert token not in (signature.token_hash, signature.link_nonce)  # the link is not stored


def test_response_debate_paper_and_scheduled_jobs(
    postcode, staff, django_capture_on_commit_callbacks
):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_create(
            petition=petition,
            signer=services.Signer(
                name="Keen", email="keen@example.org", postcode="CF10 1EP", notify=True
            ),
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.signature_confirm(token=last_token())
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_respond(petition=petition, actor=staff, response="We will reopen it.")
    assert (mail.outbox[-1].to, mail.outbox[-1].subject) == (
        ["keen@example.org"],
        "The council has responded to “Save the lido”",
    )
    services.petition_paper(petition=petition, actor=staff, count=250)
    petition.refresh_from_db()
    assert (petition.signature_count, petition.paper_count, petition.total_count) == (4, 250, 254)
    with pytest.raises(services.PetitionError, match="number of paper"):
        services.petition_paper(petition=petition, actor=staff, count=-1)

    assert services.petitions_close_due(now=petition.closes_at - timedelta(seconds=1)) == 0
    assert services.petitions_close_due(now=petition.closes_at) == 1
    petition.refresh_from_db()
    assert petition.state == "closed"
    later = petition.closed_at + timedelta(days=400)
    assert services.signers_anonymise_due(now=later) == 4  # the creator, two sponsors, Keen
    assert set(Signature.objects.values_list("email", "postcode")) == {("", "")}
    assert Petition.objects.get().signature_count == 4
    assert Petition.objects.get().state == "archived"  # finished with: moved to the archive
    assert services.signers_anonymise_due(now=later) == 0  # and running again changes nothing


def test_suspicious_activity_is_found(postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    services.block_rule_add(actor=staff, kind="ip", value="192.0.2.1", action="allow")
    for n in range(20):
        services.signature_create(
            petition=petition, signer=signer(100 + n, ip="192.0.2.1", email=f"x{n}@odd.example")
        )
    found = services.suspicious_activity(
        since=timezone.now() - timedelta(hours=1), domain_threshold=20
    )
    assert {(s.kind, s.value, s.signatures) for s in found} == {
        ("ip", "192.0.2.1", 20),
        ("domain", "odd.example", 20),
    }
    # allow-listed: none of the twenty was marked fraudulent by the rate limit
    assert not Signature.objects.filter(ip_address="192.0.2.1", state="fraudulent").exists()


def test_staff_moderate_and_remove_signatures_over_http(
    postcode, staff, staff_client, resident_client, django_capture_on_commit_callbacks
):
    PetitionScheme.objects.create(sponsors_needed=0)
    petition = Petition.objects.create(
        action="Fix the bridge", background="Broken", sponsor_token="s", state="sponsored"
    )
    url = f"/staff/petitions/{petition.pk}/"
    assert resident_client.get(url).status_code == 403
    assert staff_client.get(url).status_code == 200
    bad = staff_client.post(url, {"form": "moderate", "decision": "reject"})
    assert bad.status_code == 400
    assert "Choose a reason for rejecting the petition." in bad.content.decode()
    ok = staff_client.post(url, {"form": "moderate", "decision": "approve"})
    assert ok.status_code == 302
    petition.refresh_from_db()
    assert petition.state == "open"
    services.signature_create(petition=petition, signer=signer(1, ip="198.51.100.1"))
    preview = staff_client.post(url, {"form": "invalidate", "ip": "198.51.100.1"}, follow=True)
    assert "1 signature matches." in preview.content.decode()
    assert Signature.objects.get().state == "pending"
    staff_client.post(url, {"form": "invalidate", "ip": "198.51.100.1", "confirm": "on"})
    assert Signature.objects.get().state == "invalidated"
    blocks = staff_client.post(
        "/staff/petitions/blocks/", {"kind": "domain", "value": "Spam.Example", "action": "block"}
    )
    assert blocks.status_code == 302
    assert BlockRule.objects.get().value == "spam.example"


def test_changes_requested_then_made_by_the_creator(
    client, postcode, staff, django_capture_on_commit_callbacks
):
    PetitionScheme.objects.create(sponsors_needed=0)
    with django_capture_on_commit_callbacks(execute=True):
        petition = services.petition_create(
            action="Mend teh road", background="Potholes", details="", signer=signer(0)
        )
    services.signature_confirm(token=last_token())
    petition.refresh_from_db()
    petition.state = Petition.State.SPONSORED
    petition.save()
    with pytest.raises(services.PetitionError, match="Say what needs to change"):
        services.petition_moderate(petition=petition, actor=staff, decision="changes")
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_moderate(
            petition=petition, actor=staff, decision="changes", details="Fix the spelling."
        )
    email = mail.outbox[-1]
    assert email.subject == "Changes are needed to your petition"
    assert "Fix the spelling." in email.body
    token = re.search(r"/petitions/edit/([^/\s]+)/", email.body).group(1)
    response = client.post(
        f"/petitions/edit/{token}/", {"action": "Mend the road", "background": "Potholes"}
    )
    assert response.status_code == 302
    petition.refresh_from_db()
    assert (petition.action, petition.state) == ("Mend the road", "sponsored")
    again = client.post(f"/petitions/edit/{token}/", {"action": "X", "background": "Y"})
    assert again.status_code == 400  # no longer waiting for changes
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_moderate(petition=petition, actor=staff, decision="approve")
    assert mail.outbox[-1].subject == "Your petition is published"


def test_similar_open_petitions_are_suggested(client, postcode):
    Petition.objects.create(
        action="Reopen the swimming pool", background="b", sponsor_token="a", state="open"
    )
    Petition.objects.create(action="Plant trees", background="b", sponsor_token="b", state="open")
    Petition.objects.create(
        action="Swimming lessons", background="b", sponsor_token="c", state="rejected"
    )
    found = services.similar_petitions("Save our swimming pool!")
    assert [p.action for p in found] == ["Reopen the swimming pool"]
    html = client.get("/petitions/similar/?action=swimming").content.decode()
    assert "Reopen the swimming pool" in html
    assert "Swimming lessons" not in html


def test_ward_map_and_list_json(client, postcode, staff, django_capture_on_commit_callbacks):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    shaded = selectors.ward_map(petition)
    assert [(w["name"], w["count"], w["shade"]) for w in shaded["wards"]] == [("Canol", 3, 5)]
    html = client.get(petition.get_absolute_url()).content.decode()
    assert 'class="moot-shade-5"' in html
    listing = client.get("/petitions/petitions.json").json()["petitions"]
    assert listing == [
        {
            "id": petition.pk,
            "action": "Save the lido",
            "state": "open",
            "signature_count": 3,
            "paper_count": 0,
            "url": f"/petitions/{petition.pk}/",
        }
    ]


def test_staff_record_the_debate(
    postcode, staff, staff_client, client, django_capture_on_commit_callbacks
):
    petition = open_petition(staff, django_capture_on_commit_callbacks)
    response = staff_client.post(
        f"/staff/petitions/{petition.pk}/",
        {
            "form": "debate",
            "debate_at": "2027-01-20T18:00",
            "details": "Full council",
            "url": "https://example.gov.uk/meetings/42#item-5",
        },
    )
    assert response.status_code == 302
    html = client.get(petition.get_absolute_url()).content.decode()
    assert "20 January 2027, 18:00: Full council" in html
    assert AuditEntry.objects.filter(action="petition.debate").count() == 1


@pytest.mark.parametrize(
    "background",
    ["<script>alert(1)</script>", "Click <a href=x>here</a>", "Fish &amp; chips"],
)
def test_html_in_a_petition_is_refused(postcode, background):
    with pytest.raises(ValidationError) as caught:
        services.petition_create(action="Act", background=background, details="", signer=signer(1))
    assert caught.value.message_dict["background"] == [
        "Remove the HTML (text between < and >, or codes like &amp;) from this text."
    ]
    assert Petition.objects.count() == 0


def test_plain_text_with_symbols_is_fine(postcode):
    petition = services.petition_create(
        action="Cut speed to 20mph",
        background="Fish & chips, 3 < 5, kids' safety",
        details="",
        signer=signer(1),
    )
    assert petition.background == "Fish & chips, 3 < 5, kids' safety"


def test_personal_data(postcode, resident, staff, django_capture_on_commit_callbacks):
    from engagement.accounts.services import user_anonymise, user_data_export

    petition = open_petition(staff, django_capture_on_commit_callbacks)
    services.signature_create(
        petition=petition,
        signer=services.Signer(name="Rhian", email=resident.email.upper(), postcode="CF10 1EP"),
    )
    exported = user_data_export(user=resident)["petitions"]["signatures"]
    assert [(s["petition"], s["name"], s["state"]) for s in exported] == [
        ("Save the lido", "Rhian", "pending")
    ]
    user_anonymise(user=resident)
    signature = Signature.objects.get(name="", petition=petition, anonymised_at__isnull=False)
    assert (signature.email, signature.postcode) == ("", "")


def test_a_debate_on_a_meeting_agenda_links_to_the_item_and_then_to_the_recording(
    client, postcode, staff, django_capture_on_commit_callbacks
):
    from tests.webcast.factories import make_meeting
    from webcast import services as webcast_services
    from webcast.models import ItemMark

    petition = open_petition(staff, django_capture_on_commit_callbacks)
    meeting = make_meeting(actor=staff, title="Full council")
    item = webcast_services.agenda_item_create(
        actor=staff, meeting=meeting, number="7", title="Petition: save the lido", subject=petition
    )

    html = client.get(petition.get_absolute_url()).content.decode()
    assert f'href="/meetings/{meeting.pk}/#item-{item.pk}"' in html
    assert "agenda item 7" in html
    assert "Watch the debate" not in html  # not reached on camera yet

    reached = timezone.now().replace(microsecond=0)
    ItemMark.objects.create(meeting=meeting, item=item, at=reached)
    html = client.get(petition.get_absolute_url()).content.decode()
    assert f'href="/meetings/{meeting.pk}/?t={int(reached.timestamp())}#player"' in html
    [debate] = client.get(f"/petitions/{petition.pk}.json").json()["debates"]
    assert debate["item"] == "7"
    assert debate["recording_url"].endswith(f"?t={int(reached.timestamp())}#player")


def test_staff_archive_a_closed_petition_which_stays_public_under_archived(
    client, staff, staff_client, resident_client
):
    PetitionScheme.objects.create()
    now = timezone.now()
    petition = Petition.objects.create(
        action="Light the towpath",
        background="Dark",
        sponsor_token="t",
        state="open",
        opened_at=now - timedelta(days=200),
        closes_at=now + timedelta(days=1),
    )
    url = f"/staff/petitions/{petition.pk}/"

    refused = staff_client.post(url, {"form": "archive"})  # still open
    assert refused.status_code == 400
    assert "Only a closed or rejected petition can be archived." in refused.content.decode()
    assert resident_client.post(url, {"form": "archive"}).status_code == 403
    Petition.objects.filter(pk=petition.pk).update(state="closed", closed_at=now)
    assert Petition.objects.get().state == "closed"

    archived = staff_client.post(url, {"form": "archive"})

    assert archived.status_code == 302
    petition.refresh_from_db()
    assert (petition.state, petition.archived_at is not None) == ("archived", True)
    assert AuditEntry.objects.filter(action="petition.archive").count() == 1
    assert client.get(petition.get_absolute_url()).status_code == 200
    assert "Light the towpath" not in client.get("/petitions/").content.decode()
    assert "Light the towpath" in client.get("/petitions/?state=archived").content.decode()
    assert "Light the towpath" not in client.get("/petitions/?state=bogus").content.decode()
    again = staff_client.post(url, {"form": "archive"})
    assert again.status_code == 400  # archived already: nothing changes
    assert AuditEntry.objects.filter(action="petition.archive").count() == 1


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        ("ip", " 203.0.113.7 ", "203.0.113.7"),
        ("ip", "2001:DB8::1", "2001:db8::1"),
        ("domain", "@Spam.Example", "spam.example"),
        ("email", "Jane.Doe+x@GoogleMail.com", "janedoe@gmail.com"),
    ],
)
def test_block_rules_are_stored_as_they_match(staff, kind, value, stored):
    rule = services.block_rule_add(actor=staff, kind=kind, value=value, action="block")
    assert rule.value == stored


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("ip", "10.0.0.0/8", "ranges are not supported"),
        ("ip", "not an ip", "Enter one IP address"),
        ("domain", "spam", "Enter an email domain"),
        ("domain", "sp am.example", "Enter an email domain"),
        ("domain", "*.example.org", "Enter an email domain"),
        ("email", "not-an-address", "Enter an email address"),
    ],
)
def test_block_rules_refuse_values_that_could_never_match(staff, kind, value, error):
    """A rule matches exactly: a range, a pattern or a malformed value would never match
    anything while staff believed it did, so it is refused with what to enter instead."""
    with pytest.raises(services.PetitionError, match=re.escape(error)):
        services.block_rule_add(actor=staff, kind=kind, value=value, action="block")
    assert not BlockRule.objects.exists()


def test_staff_remove_a_block_rule_and_it_is_audited(staff_client, staff, resident_client):
    rule = services.block_rule_add(actor=staff, kind="ip", value="192.0.2.9", action="block")
    page = staff_client.get("/staff/petitions/blocks/").content.decode()
    assert f"/staff/petitions/blocks/{rule.pk}/remove/" in page
    url = f"/staff/petitions/blocks/{rule.pk}/remove/"
    assert resident_client.post(url).status_code == 403
    assert staff_client.get(url).status_code == 405
    assert staff_client.post(url).status_code == 302
    assert not BlockRule.objects.exists()
    assert AuditEntry.objects.filter(action="petition_block_rule.remove").count() == 1
    assert staff_client.post(url).status_code == 404


def test_admins_edit_the_scheme_reasons_and_rules_in_the_admin(admin_client_2fa, staff_client):
    scheme = PetitionScheme.objects.create()
    for path in (
        f"/django-admin/consultations/petitionscheme/{scheme.pk}/change/",
        "/django-admin/consultations/rejectionreason/add/",
        "/django-admin/consultations/blockrule/add/",
    ):
        assert admin_client_2fa.get(path).status_code == 200
        assert staff_client.get(path).status_code == 403
    bad = admin_client_2fa.post(
        "/django-admin/consultations/blockrule/add/",
        {"kind": "ip", "value": "10.0.0.0/8", "action": "block", "note": ""},
    )
    assert bad.status_code == 200
    assert "ranges are not supported" in bad.content.decode()
    assert not BlockRule.objects.exists()
    good = admin_client_2fa.post(
        "/django-admin/consultations/blockrule/add/",
        {"kind": "domain", "value": "@Spam.Example", "action": "block", "note": ""},
    )
    assert good.status_code == 302
    assert BlockRule.objects.get().value == "spam.example"


def test_changes_asked_before_enough_sponsors_do_not_skip_them(
    client, postcode, staff, django_capture_on_commit_callbacks
):
    """Moderation may ask for changes while a petition still gathers sponsors; the edit sends
    it back to gathering them, so it still cannot be approved without them. The edit page
    shows the text as it is and what staff asked for; a dead link is refused at once."""
    PetitionScheme.objects.create(sponsors_needed=2)
    with django_capture_on_commit_callbacks(execute=True):
        petition = services.petition_create(
            action="Mend teh road", background="Potholes", details="Elm St", signer=signer(0)
        )
    services.signature_confirm(token=last_token())
    petition.refresh_from_db()
    assert petition.state == Petition.State.VALIDATED
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_moderate(
            petition=petition, actor=staff, decision="changes", details="Fix the spelling."
        )
    token = re.search(r"/petitions/edit/([^/\s]+)/", mail.outbox[-1].body).group(1)
    page = client.get(f"/petitions/edit/{token}/").content.decode()
    assert 'value="Mend teh road"' in page
    assert "Potholes</textarea>" in page
    assert "Elm St</textarea>" in page
    assert "Fix the spelling." in page
    response = client.post(
        f"/petitions/edit/{token}/", {"action": "Mend the road", "background": "Potholes"}
    )
    assert response.status_code == 302
    petition.refresh_from_db()
    assert (petition.action, petition.state) == ("Mend the road", Petition.State.VALIDATED)
    with pytest.raises(services.PetitionError, match="enough sponsors"):
        services.petition_moderate(petition=petition, actor=staff, decision="approve")
    dead = client.get("/petitions/edit/not-a-real-token/")
    assert dead.status_code == 400
    assert "That link is not valid" in dead.content.decode()


def test_a_petition_rejected_with_its_text_hidden_is_named_nowhere(client, staff, postcode):
    """Rejected for revealing personal data: its page, the list, both JSONs, the thanks page
    and the sponsor link show only that it was rejected and why, never its words."""
    words = "Sack councillor John Smith of 12 High Street"
    petition = Petition.objects.create(
        action=words, background="He lives at 12 High Street", sponsor_token="hidden-sponsor",
        state=Petition.State.SPONSORED,
    )  # fmt: skip
    reason = RejectionReason.objects.get(code="personal-data")
    services.petition_moderate(petition=petition, actor=staff, decision="reject", reason=reason)
    pages = {
        "detail": client.get(f"/petitions/{petition.pk}/"),
        "list": client.get("/petitions/?state=rejected"),
        "list json": client.get("/petitions/petitions.json"),
        "thanks": client.get(f"/petitions/{petition.pk}/thanks/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert "John Smith" not in response.content.decode(), name
    assert "This petition was rejected" in pages["detail"].content.decode()
    assert "Reveals personal data" in pages["detail"].content.decode()
    assert "This petition was rejected" in pages["list"].content.decode()
    assert pages["list json"].json()["petitions"][0]["action"] is None
    assert client.get(f"/petitions/{petition.pk}.json").status_code == 404
    assert client.get("/petitions/sponsor/hidden-sponsor/").status_code == 404


def test_the_thanks_page_names_only_a_published_petition(client):
    waiting = Petition.objects.create(
        action="Not yet checked", background="b", sponsor_token="w", state="sponsored"
    )
    page = client.get(f"/petitions/{waiting.pk}/thanks/").content.decode()
    assert "Not yet checked" not in page
    assert "Click the link in it to confirm your signature" in page


def test_signing_a_closed_petition_says_so(client, postcode):
    closed = Petition.objects.create(
        action="Too late", background="b", sponsor_token="c1", state=Petition.State.CLOSED,
        closes_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    response = client.post(
        f"/petitions/{closed.pk}/",
        {"name": "Ann", "email": "ann@example.org", "postcode": postcode.postcode,
         "connection": "lives", "eligible": "on"},
    )  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert "This petition is not open for signatures." in page
    assert "Closed " in page
    assert not Signature.objects.exists()


def test_the_council_response_is_shown_in_the_page_language(client):
    from django.utils import translation

    petition = Petition.objects.create(
        action="Benches", background="b", sponsor_token="r1", state=Petition.State.CLOSED,
        response="We will install ten benches.", response_cy="Byddwn yn gosod deg mainc.",
    )  # fmt: skip
    english = client.get(f"/petitions/{petition.pk}/").content.decode()
    assert "We will install ten benches." in english
    client.cookies["django_language"] = "cy"
    welsh = client.get(f"/petitions/{petition.pk}/").content.decode()
    translation.activate("en-gb")
    assert "Byddwn yn gosod deg mainc." in welsh
    assert "We will install ten benches." not in welsh
    data = client.get(f"/petitions/{petition.pk}.json").json()
    assert (data["response"], data["response_cy"]) == (
        "We will install ten benches.",
        "Byddwn yn gosod deg mainc.",
    )


def test_the_creators_email_carries_the_sponsor_link(postcode, django_capture_on_commit_callbacks):
    """The petition page does not exist until it is published: the link to share is in the
    email itself (and on the page the confirmation opens)."""
    from django.utils import translation

    with django_capture_on_commit_callbacks(execute=True):
        petition = services.petition_create(
            action="Light the park", background="Dark", details="", signer=signer(0)
        )
    body = mail.outbox[-1].body
    assert f"/petitions/sponsor/{petition.sponsor_token}/" in body
    assert f"/petitions/{petition.pk}/" not in body
    with translation.override("cy"):
        from consultations.petitions import emails_out

        signature = Signature.objects.get(petition=petition)
        emails_out.signature_email(signature, token="t", kind="creator")
    assert "fel y gallant ei noddi" in mail.outbox[-1].body


def test_a_bulk_invalidation_audits_the_whole_query(staff, postcode):
    petition = Petition.objects.create(
        action="A", background="b", sponsor_token="q1", state=Petition.State.OPEN
    )
    since = timezone.now() - timedelta(hours=2)
    until = timezone.now()
    services.signatures_invalidate(
        petition=petition, actor=staff, domain="@spam.example", since=since, until=until
    )
    entry = AuditEntry.objects.get(action="petition.invalidate")
    assert entry.changes["domain"] == "@spam.example"
    assert (entry.changes["since"], entry.changes["until"]) == (
        since.isoformat(),
        until.isoformat(),
    )


def test_starting_a_petition_without_the_declaration_says_start(client, postcode):
    response = client.post(
        "/petitions/new/",
        {"action": "Plant trees", "background": "Shade", "name": "Ann",
         "email": "ann@example.org", "postcode": postcode.postcode, "connection": "lives"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Confirm that you may start this petition." in response.content.decode()
    assert not Petition.objects.exists()
