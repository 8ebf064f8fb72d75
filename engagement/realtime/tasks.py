"""Real-time jobs: publishing coalesced counter snapshots."""

from engagement.tasks import task

from . import services


@task
def publish_snapshot(stream: str) -> int:
    published = services.snapshot_publish(stream=stream)
    return published.seq if published is not None else 0
