"""``python manage.py poll_social [--once]``: run the listening pollers in this process.

Without a Celery worker (the demo, a cron job, debugging): polls every due source, routes what
it stored, and sleeps until the next source is due. ``--once`` polls every enabled source once,
due or not, and exits.
"""

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from social.models import Source
from social.polling import due_sources, route_now, source_poll


class Command(BaseCommand):
    help = "Poll the social listening sources (X, Mastodon, Bluesky) and route new posts."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Poll each source once and exit.")

    def handle(self, *args, once: bool = False, **options):
        while True:
            if once:
                ids = list(Source.objects.filter(enabled=True).values_list("pk", flat=True))
            else:
                ids = list(due_sources().values_list("pk", flat=True))
            for source_id in ids:
                result = source_poll(source_id=source_id, force=once, route=route_now)
                source = Source.objects.get(pk=source_id)
                line = (
                    f"{source}: {result.status}, {result.fetched} fetched,"
                    f" {len(result.new_post_ids or [])} new"
                )
                if result.error:
                    line += f" ({result.error})"
                self.stdout.write(line)
            if once:
                return
            nxt = (
                Source.objects.filter(enabled=True, next_poll_at__isnull=False)
                .order_by("next_poll_at")
                .values_list("next_poll_at", flat=True)
                .first()
            )
            wait = 30.0 if nxt is None else (nxt - timezone.now()).total_seconds()
            time.sleep(min(max(wait, 1.0), 60.0))
