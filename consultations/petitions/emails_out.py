"""The emails petitions send: confirm a signature, share the sponsor link, thresholds reached."""

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from consultations.models import Petition, Signature
from engagement.accounts.models import Role, User
from engagement.notifications.services import absolute_url, send_email


def signature_email_send(*, signature_id: int, token: str, kind: str) -> bool:
    """The confirmation email of one signature, its link given (the job that took a link per
    message before links were derived from the row; kept for messages queued back then)."""
    signature = Signature.objects.select_related("petition").filter(pk=signature_id).first()
    if signature is None or signature.anonymised_at is not None:
        return False
    signature_email(signature, token=token, kind=kind)
    return True


def signature_email(signature: Signature, *, token: str, kind: str) -> None:
    """The confirmation email. Fraudulent signatures get exactly the same email (the link then
    changes nothing), so whoever sends them learns nothing."""
    petition = signature.petition
    link = absolute_url(reverse("petitions:confirm", kwargs={"token": token}))
    if kind == "creator":
        subject = _("Confirm your email to start your petition")
        sponsor = reverse("petitions:sponsor", kwargs={"token": petition.sponsor_token})
        body = _(
            "Click this link to confirm your email address and start your petition "
            "“%(action)s”:\n\n%(link)s\n\nThen share this link with people who support it, "
            "so that they can sponsor it:\n\n%(sponsor)s"
        ) % {"action": petition.action, "link": link, "sponsor": absolute_url(sponsor)}
    else:
        subject = _("Confirm your signature")
        body = _(
            "Click this link to confirm your signature on the petition “%(action)s”. Your "
            "signature is counted only once you have clicked it:\n\n%(link)s"
        ) % {"action": petition.action, "link": link}
    send_email(to=signature.email, subject=subject, body=body)


def threshold_emails_send(*, petition_id: int, field: str) -> int:
    """Tell the creator and the staff that a threshold has been reached."""
    petition = Petition.objects.get(pk=petition_id)
    creator = petition.signatures.filter(creator=True).first()
    what = (
        _("enough signatures for a council response")
        if field == "response_threshold_at"
        else _("enough signatures for a debate at full council")
    )
    subject = _("A petition has reached %(what)s") % {"what": what}
    body = _("The petition “%(action)s” now has %(count)s signatures: %(what)s.\n\n%(link)s") % {
        "action": petition.action,
        "count": petition.signature_count,
        "what": what,
        "link": absolute_url(petition.get_absolute_url()),
    }
    sent = 0
    recipients = [creator.email] if creator and creator.anonymised_at is None else []
    recipients += list(
        User.objects.filter(groups__name=Role.STAFF, is_active=True).values_list("email", flat=True)
    )
    for email in dict.fromkeys(recipients):
        with translation.override("en-gb"):
            send_email(to=email, subject=subject, body=body)
        sent += 1
    return sent


def update_emails_send(*, petition_id: int, what: str) -> int:
    """Email the council's response to signers who asked to hear about the petition."""
    petition = Petition.objects.get(pk=petition_id)
    signers = Signature.objects.filter(
        petition=petition, notify=True, state=Signature.State.VALIDATED, anonymised_at=None
    ).values_list("email", flat=True)
    subject = _("The council has responded to “%(action)s”") % {"action": petition.action}
    body = _("%(response)s\n\nRead it on the petition page: %(link)s") % {
        "response": petition.response,
        "link": absolute_url(petition.get_absolute_url()),
    }
    sent = 0
    for email in signers.iterator():
        send_email(to=email, subject=subject, body=body)
        sent += 1
    return sent


def suspicion_emails_send(found) -> int:
    lines = [
        f"petition {s.petition_id}: {s.signatures} signatures from {s.kind} {s.value}"
        for s in found
    ]
    body = _("These look like heavy signing from one source in the last hour:\n\n%(lines)s") % {
        "lines": "\n".join(lines)
    }
    staff = User.objects.filter(groups__name=Role.STAFF, is_active=True).values_list(
        "email", flat=True
    )
    for email in staff:
        send_email(to=email, subject=_("Petitions: suspicious signing"), body=body)
    return len(staff)


def moderation_email_send(*, petition_id: int, decision: str, token: str) -> bool:
    """Tell the creator what moderation decided (and, for changes, how to make them)."""
    petition = Petition.objects.select_related("rejection").get(pk=petition_id)
    creator = petition.signatures.filter(creator=True, anonymised_at=None).first()
    if creator is None:
        return False
    if decision == "approve":
        subject = _("Your petition is published")
        body = _("Your petition “%(action)s” is open for signatures: %(link)s") % {
            "action": petition.action,
            "link": absolute_url(petition.get_absolute_url()),
        }
    elif decision == "reject":
        subject = _("Your petition was not published")
        body = _("Your petition “%(action)s” was rejected: %(reason)s\n\n%(details)s") % {
            "action": petition.action,
            "reason": petition.rejection.label if petition.rejection else "",
            "details": petition.rejection_details,
        }
    else:
        subject = _("Changes are needed to your petition")
        body = _(
            "Council staff ask for changes to your petition “%(action)s”:\n\n%(note)s\n\n"
            "Make them here: %(link)s"
        ) % {
            "action": petition.action,
            "note": petition.moderation_note,
            "link": absolute_url(reverse("petitions:edit", kwargs={"token": token})),
        }
    send_email(to=creator.email, subject=subject, body=body)
    return True
