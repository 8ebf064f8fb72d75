"""Petition jobs: thin, taking ids, safe to retry (the worst case is an email sent twice)."""

from engagement.tasks import task

from . import emails_out


@task
def send_signature_emails() -> int:
    """Send every confirmation email due (queued by signing, and every minute as a sweep)."""
    from . import services

    return services.signature_emails_send()


@task
def send_signature_email(signature_id: int, token: str, kind: str) -> bool:
    """One confirmation email with its link: for messages queued before links were derived from
    the signature (remove once no deployment can hold one)."""
    return emails_out.signature_email_send(signature_id=signature_id, token=token, kind=kind)


@task
def petition_threshold_reached(petition_id: int, field: str) -> int:
    return emails_out.threshold_emails_send(petition_id=petition_id, field=field)


@task
def petition_update_emails(petition_id: int, what: str) -> int:
    return emails_out.update_emails_send(petition_id=petition_id, what=what)


@task
def close_due_petitions() -> int:
    from . import services

    return services.petitions_close_due()


@task
def anonymise_due_signers() -> int:
    from . import services

    return services.signers_anonymise_due()


@task
def alert_suspicious_activity() -> int:
    """Hourly: tell staff of IPs and domains signing one petition heavily in the last hour."""
    from datetime import timedelta

    from django.utils import timezone

    from . import services

    found = services.suspicious_activity(since=timezone.now() - timedelta(hours=1))
    if found:
        emails_out.suspicion_emails_send(found)
    return len(found)


@task
def moderation_email(petition_id: int, decision: str, token: str) -> bool:
    return emails_out.moderation_email_send(petition_id=petition_id, decision=decision, token=token)
