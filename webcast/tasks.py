"""Webcast jobs: take ids, call a service, safe to retry."""

from engagement.tasks import task

from . import services


@task
def archive_meeting(meeting_id: int) -> str:
    """Build a meeting's archive (ffmpeg; minutes for a long meeting: routed to the webcast
    queue by CELERY_TASK_ROUTES)."""
    return services.meeting_archive_build(meeting_id=meeting_id).archive_state


@task
def send_captions_reminders() -> int:
    return services.captions_reminders_send()


@task
def transcode_upload(meeting_id: int, path: str) -> str:
    """An uploaded recording through the live pipeline, then the archive (webcast queue)."""
    return services.meeting_upload_transcode(meeting_id=meeting_id, path=path).archive_state


@task
def apply_retention() -> dict[str, int]:
    """Daily: remove archives and safety recordings past the council's periods."""
    from . import retention

    return retention.retention_apply()
