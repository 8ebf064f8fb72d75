"""Consultation jobs: thin, taking ids, safe to retry."""

from engagement.tasks import task

from . import emails_out


@task
def send_resume_link(response_id: int, token: str) -> bool:
    return emails_out.resume_link_send(response_id=response_id, token=token)


@task
def send_response_copy(response_id: int) -> bool:
    return emails_out.response_copy_send(response_id=response_id)


@task
def send_outcome_emails(consultation_id: int) -> int:
    return emails_out.outcome_emails_send(consultation_id=consultation_id)


@task
def anonymise_due_responses() -> int:
    from . import services

    return services.responses_anonymise_due()
