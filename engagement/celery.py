"""The Celery application. Workers: ``celery -A engagement worker --beat``."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engagement.settings.local")

app = Celery("engagement")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune(**_kwargs) -> None:
    """Each pool process, once it has started: the collector tuned for a long-running process."""
    from engagement.core.runtime import tune_garbage_collector

    tune_garbage_collector()
