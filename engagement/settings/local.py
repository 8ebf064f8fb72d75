"""The embedded default used by `make run`: SQLite, the launcher's local Redis, console email."""

import os

os.environ.setdefault("SECRET_KEY", "local-development-only-not-secret")  # noqa: S105
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("MOOT_DEMO", "true")

from .base import *  # noqa: E402

# Static files straight from the apps (no collectstatic step in the demo).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
