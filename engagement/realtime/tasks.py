"""Real-time jobs: publishing coalesced counter snapshots."""

from engagement.tasks import task

from . import services


@task
def publish_snapshot(stream: str) -> int:
    return services.snapshot_publish(stream=stream).seq
