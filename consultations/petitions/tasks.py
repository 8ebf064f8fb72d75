"""Petition jobs: thin, taking ids, safe to retry (the worst case is an email sent twice)."""

from engagement.tasks import task

from . import emails_out


@task
def send_signature_email(signature_id: int, token: str, kind: str) -> bool:
    return emails_out.signature_email_send(signature_id=signature_id, token=token, kind=kind)


@task
def petition_threshold_reached(petition_id: int, field: str) -> int:
    return emails_out.threshold_emails_send(petition_id=petition_id, field=field)
