"""Celery's autodiscovery imports each app's ``tasks`` module; the petition scheme keeps its jobs
in a sub-package, so importing them here is what registers them with a worker."""

from .petitions import tasks as petition_tasks  # noqa: F401
from .surveys import tasks as survey_tasks  # noqa: F401
