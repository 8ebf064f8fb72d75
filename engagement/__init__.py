"""Moot: the Django project and the shared civic core."""

from .celery import app as celery_app

__all__ = ("celery_app",)
