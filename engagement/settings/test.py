"""Test settings: SQLite by default, PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")  # noqa: S105

from .base import *  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "locmem"
CELERY_TASK_ALWAYS_EAGER = True
# The test process keeps Python's collector as it is (importing engagement.asgi would tune it).
GC_THRESHOLDS = ()
CELERY_BROKER_URL = "memory://"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
WEBCAST_PRIVATE_ROOT = BASE_DIR / "var" / "test-private"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so the live server's threads share the test database.
    # Named per process so parallel runs on one machine do not share a file.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"moot-test-{os.getpid()}.sqlite3")
    }
if REDIS_URL:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"moot-test-{os.getpid()}"
    CACHES["default"]["KEY_PREFIX"] = f"moot-test-{os.getpid()}"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "10000/minute", "user": "10000/minute"}
ACCOUNT_RATE_LIMITS = False
MOOT_DEMO = False
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Threads (the live server, database_sync_to_async) must not keep connections to the test DB.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# No pool in tests: pooled connections would outlive each test and block dropping the test DB.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
