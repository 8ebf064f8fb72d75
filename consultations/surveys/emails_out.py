"""The emails consultations send: a link to come back later, a copy of a response, the outcome."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from engagement.notifications.services import absolute_url, send_email

from .answers import display
from .models import Consultation, Response


def resume_link_send(*, response_id: int, token: str) -> bool:
    response = Response.objects.select_related("consultation").filter(pk=response_id).first()
    if response is None or response.state != Response.State.DRAFT or not response.email:
        return False
    with translation.override(response.language):
        _resume_link_send(response, token)
    return True


def _resume_link_send(response: Response, token: str) -> None:
    consultation = response.consultation
    link = absolute_url(reverse("consultations:resume", kwargs={"token": token}))
    body = _(
        "You saved your response to “%(title)s” to finish later. Use this link to carry on "
        "where you left off:\n\n%(link)s\n\nThe consultation closes on %(closes)s. Your answers "
        "are not sent to the council until you press “Send response”."
    ) % {
        "title": consultation.display_title,
        "link": link,
        "closes": date_format(timezone.localtime(consultation.closes_at), "j F Y, H:i"),
    }
    send_email(to=response.email, subject=_("Finish your consultation response"), body=body)


def response_copy_send(*, response_id: int) -> bool:
    response = (
        Response.objects.select_related("consultation")
        .prefetch_related("answers__question__section")
        .filter(pk=response_id, state=Response.State.SUBMITTED)
        .first()
    )
    if response is None or not response.email:
        return False
    with translation.override(response.language):
        _response_copy_send(response)
    return True


def _response_copy_send(response: Response) -> None:
    lines = [
        _("Thank you for responding to “%(title)s”. Your reference is %(ref)s.")
        % {"title": response.consultation.display_title, "ref": response.reference},
        "",
        _("Your answers:"),
        "",
    ]
    answers = sorted(
        response.answers.all(),
        key=lambda a: (a.question.section.position, a.question.position, a.question.pk),
    )
    for answer in answers:
        lines += [answer.question.display_text, display(answer.question, answer.value), ""]
    lines.append(absolute_url(response.consultation.get_absolute_url()))
    send_email(
        to=response.email,
        subject=_("Your consultation response %(ref)s") % {"ref": response.reference},
        body="\n".join(lines),
    )


def _outcome_message(consultation: Consultation) -> tuple[str, str]:
    link = absolute_url(reverse("consultations:outcome", kwargs={"slug": consultation.slug}))
    subject = _("The outcome of “%(title)s”") % {"title": consultation.display_title}
    body = _(
        "You asked to hear the outcome of the consultation “%(title)s”.\n\nYou said:\n%(said)s"
        "\n\nWe did:\n%(did)s\n\nRead more: %(link)s"
    ) % {
        "title": consultation.display_title,
        "said": consultation.display_you_said,
        "did": consultation.display_we_did,
        "link": link,
    }
    return subject, body


def outcome_emails_send(*, consultation_id: int, batch: int = 200) -> int:
    """Email "We asked, you said, we did" to each respondent who asked, in their language, once
    each (marked sent in the same transaction as the send; a retry carries on with the rest)."""
    consultation = Consultation.objects.get(pk=consultation_id)
    messages: dict[str, tuple[str, str]] = {}
    for language in ("en-gb", "cy"):
        with translation.override(language):
            messages[language] = _outcome_message(consultation)
    sent = 0
    while True:
        with transaction.atomic():
            due = list(
                Response.objects.select_for_update(skip_locked=True)
                .filter(
                    consultation=consultation,
                    state=Response.State.SUBMITTED,
                    wants_outcome=True,
                    outcome_sent_at__isnull=True,
                )
                .exclude(email="")[:batch]
            )
            if not due:
                return sent
            for response in due:
                subject, body = messages.get(response.language, messages["en-gb"])
                send_email(to=response.email, subject=subject, body=body)
                sent += 1
            Response.objects.filter(pk__in=[r.pk for r in due]).update(
                outcome_sent_at=timezone.now()
            )
