"""Settings for a real Celery worker started by the SIGKILL tests: the test settings, but
tasks go through a real Redis broker and the worker uses the test run's database."""

import os

from engagement.settings.test import *  # noqa: F403
from engagement.settings.test import DATABASES

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = os.environ["MOOT_TEST_BROKER_URL"]
# Every broker key under the test process's prefix (the test run's Redis db may be shared).
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["MOOT_TEST_BROKER_PREFIX"]}
DATABASES["default"]["NAME"] = os.environ["MOOT_TEST_DB_NAME"]
SOCIAL_X_API_BASE_URL = os.environ["SOCIAL_X_API_BASE_URL"]
# Small routing transactions, so a worker killed part way through routing has committed some
# batches and not others.
SOCIAL_ROUTE_DRAIN = 10
