"""Settings shared by every environment.

One django-environ ``env`` reads the process environment; nothing here does I/O. What a council
decides (thresholds, branding, retention) lives in the database, not here: these are what the
server can do. See ``.env.example`` for every variable.
"""

from pathlib import Path
from urllib.parse import urlparse

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    # The civic core.
    "engagement",
    "engagement.accounts",
    "engagement.council",
    "engagement.places",
    "engagement.people",
    "engagement.audit",
    "engagement.realtime",
    "engagement.notifications",
    "engagement.core",
    # Modules.
    "webcast",
    "webcast.questions",
    "consultations",
    "budgets",
    "social",
]

MIDDLEWARE = [
    "engagement.core.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "engagement.core.middleware.CouncilLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "engagement.core.middleware.CSPMiddleware",
]

ROOT_URLCONF = "engagement.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "engagement.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "engagement.core.context_processors.council",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request runs in a fresh thread, so per-thread persistent connections
    # (CONN_MAX_AGE) are never reused and pile up. A process-wide psycopg pool is shared by
    # all threads instead; CONN_MAX_AGE must then be 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env.bool("DB_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the ASGI server and the Celery worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

# Requests each server process runs at once (middleware and view, each on a thread of its own);
# the rest wait their turn on the event loop. More than the database pool holds would only queue
# for a connection, and many threads taking turns with the GIL waste CPU. 0: no limit.
HTTP_REQUESTS_RUNNING = env.int(
    "HTTP_REQUESTS_RUNNING", default=env.int("DB_POOL_MAX_SIZE", default=10)
)

# The garbage collector's thresholds in the server's and the workers' processes, whose start-up
# heap is frozen first (engagement.core.runtime); empty: Python's defaults, nothing frozen.
GC_THRESHOLDS = tuple(env.list("GC_THRESHOLDS", cast=int, default=[20_000, 20, 10]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Redis: channel layer, cache, Celery broker -------------------------------------------------
# REDIS_URL is required outside tests; `make run` starts an embedded Redis and sets it.
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    # Each server process joins a stream's group once for all its viewers (realtime/hub.py), so
    # a group has one member per process, not per viewer, and no group grows into the silent
    # drops of django/channels_redis#62. CHANNEL_LAYER picks the layer: "lists" (RedisChannelLayer,
    # the default: a message waits up to `expiry` in Redis while a process reconnects) or "pubsub"
    # (RedisPubSubChannelLayer: at most once, lost while a subscriber reconnects). `capacity` is
    # per channel, i.e. per process and stream: events that may wait unread before the layer
    # drops them (100 by default, 1,000 here: a burst of moderation must not reach it).
    # socket_timeout: redis-py 8 reads with a 5 s timeout by default, the very time the Redis
    # layer blocks in BZPOPMIN; when both expire together a popped message is dropped unread.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": {
                "lists": "channels_redis.core.RedisChannelLayer",
                "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
            }[env("CHANNEL_LAYER", default="lists")],
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env("CHANNELS_PREFIX", default="moot"),
            },
        }
    }
    if CHANNEL_LAYERS["default"]["BACKEND"].endswith(".RedisChannelLayer"):
        CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = env.int("CHANNEL_CAPACITY", default=1000)
    # django-redis keeps one connection pool per process (Django's own RedisCache makes one per
    # cache instance, i.e. per request under ASGI).
    CACHES = {
        "default": {
            "BACKEND": "engagement.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_PREFIX", default="moot"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The page chrome every page repeats (head assets, header and menu, footer) is rendered once per
# process for each state: see engagement/core/templatetags/chrome.py.

# Sessions live in Redis when there is one (every request reads its session; keeping them off
# PostgreSQL saves a query per request and a write per login or vote). Redis must then persist
# (RDB or AOF, no eviction of keys with a TTL) or a restart signs everyone out.
SESSION_ENGINE = env(
    "SESSION_ENGINE",
    default="django.contrib.sessions.backends.cache"
    if REDIS_URL
    else "django.contrib.sessions.backends.db",
)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Europe/London"
# Long-running jobs get their own queue, so a meeting's archive never delays an email.
CELERY_TASK_ROUTES = {
    "webcast.tasks.archive_meeting": {"queue": "webcast"},
    "webcast.tasks.transcode_upload": {"queue": "webcast"},
}
CELERY_BEAT_SCHEDULE = {
    "notifications-daily-digest": {
        "task": "engagement.notifications.tasks.queue_daily_digests",
        "schedule": 60 * 60 * 24,
    },
    "notifications-resend-unsent": {
        "task": "engagement.notifications.tasks.resend_unsent_notifications",
        "schedule": 60 * 5,
    },
    "petitions-signature-emails": {
        "task": "consultations.petitions.tasks.send_signature_emails",
        "schedule": 60,
    },
    "petitions-close-due": {
        "task": "consultations.petitions.tasks.close_due_petitions",
        "schedule": 60,
    },
    "petitions-alert-suspicious": {
        "task": "consultations.petitions.tasks.alert_suspicious_activity",
        "schedule": 60 * 60,
    },
    "petitions-anonymise-signers": {
        "task": "consultations.petitions.tasks.anonymise_due_signers",
        "schedule": 60 * 60 * 24,
    },
    "consultations-anonymise-responses": {
        "task": "consultations.surveys.tasks.anonymise_due_responses",
        "schedule": 60 * 60 * 24,
    },
    "questions-forget-addresses": {
        "task": "webcast.questions.tasks.forget_addresses",
        "schedule": 60 * 60 * 24,
    },
    "webcast-captions-reminders": {
        "task": "webcast.tasks.send_captions_reminders",
        "schedule": 60 * 60 * 6,
    },
    "webcast-retention": {
        "task": "webcast.tasks.apply_retention",
        "schedule": 60 * 60 * 24,
    },
    "prune-expired": {
        "task": "engagement.core.tasks.prune_expired",
        "schedule": 60 * 60 * 24,
    },
    "accounts-retention": {
        "task": "engagement.accounts.tasks.apply_retention",
        "schedule": 60 * 60 * 24,
    },
    "social-poll-due-sources": {
        "task": "social.tasks.poll_due_sources",
        "schedule": 30,
    },
    "social-route-unrouted": {
        "task": "social.tasks.route_unrouted",
        "schedule": 60,
    },
    "social-escalate-overdue": {
        "task": "social.tasks.escalate_overdue",
        "schedule": 60 * 5,
    },
    "social-due-digests": {
        "task": "social.tasks.send_due_digests",
        "schedule": 60 * 60 * 24,
    },
    "social-retention": {
        "task": "social.tasks.anonymise_expired_cases",
        "schedule": 60 * 60 * 24,
    },
}

# Stored real-time events are for reconnecting clients; a week is far more than enough.
STREAM_EVENT_RETENTION_DAYS = env.int("STREAM_EVENT_RETENTION_DAYS", default=7)
REALTIME_TICK_SECONDS = env.float("REALTIME_TICK_SECONDS", default=1.0)
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=365)
# Consultation responses started from one address in ten minutes (a library or council office
# shares an address, so this is generous; it stops a script filling the table with drafts).
CONSULTATION_STARTS_PER_ADDRESS = env.int("CONSULTATION_STARTS_PER_ADDRESS", default=200)

# Demo data (seed_demo, demo_totp) publishes its secrets: allowed only where this is true.
MOOT_DEMO = env.bool("MOOT_DEMO", default=False)

# --- Internationalisation ------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", _("English")), ("cy", _("Welsh"))]
LOCALE_PATHS = [BASE_DIR / "engagement" / "locale"]
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Accounts (django-allauth) -------------------------------------------------------------------
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "request_login_code": "20/m/ip,3/m/key",
}
ACCOUNT_ADAPTER = "engagement.accounts.adapter.AccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Moot")

# --- Email and notifications --------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Moot <noreply@moot.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
NOTIFY_API_KEY = env("NOTIFY_API_KEY", default="")
NOTIFY_BASE_URL = env("NOTIFY_BASE_URL", default="https://api.notifications.service.gov.uk")
NOTIFY_EMAIL_TEMPLATE_ID = env("NOTIFY_EMAIL_TEMPLATE_ID", default="")
NOTIFY_SMS_TEMPLATE_ID = env("NOTIFY_SMS_TEMPLATE_ID", default="")
SMS_BACKEND = env("SMS_BACKEND", default="console")

# Participatory budgets: the key of the hash that ties a ballot to its voter row (ADR 7). Keep it
# apart from the database; empty means derived from SECRET_KEY.
BALLOT_LINK_KEY = env("BALLOT_LINK_KEY", default="")

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "engagement.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_ANON_RATE", default="600/minute"),
        "user": env("API_USER_RATE", default="1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moot API",
    "DESCRIPTION": "The REST API of Moot, the civic engagement platform.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "media-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- External services (each base URL is a setting so tests can use local fakes) ----------------
SOCIAL_X_API_BASE_URL = env("SOCIAL_X_API_BASE_URL", default="https://api.x.com")
SOCIAL_MASTODON_BASE_URL = env("SOCIAL_MASTODON_BASE_URL", default="https://mastodon.social")
SOCIAL_BLUESKY_BASE_URL = env("SOCIAL_BLUESKY_BASE_URL", default="https://bsky.social")
# How often each listening source is read (X charges per post read: see the README).
SOCIAL_POLL_INTERVAL_SECONDS = env.int("SOCIAL_POLL_INTERVAL_SECONDS", default=120)
FFMPEG_BINARY = env("FFMPEG_BINARY", default="")

# --- Webcasts (what the server can do; what a meeting uses is edited in the control room) --------
WEBCAST_RTMP_LISTEN_HOST = env("WEBCAST_RTMP_LISTEN_HOST", default="0.0.0.0")  # noqa: S104
WEBCAST_RTMP_PUBLIC_HOST = env("WEBCAST_RTMP_PUBLIC_HOST", default="127.0.0.1")
WEBCAST_RTMP_PORT_BASE = env.int("WEBCAST_RTMP_PORT_BASE", default=19350)
WEBCAST_X264_PRESET = env("WEBCAST_X264_PRESET", default="veryfast")
WEBCAST_DOCUMENT_MAX_BYTES = env.int("WEBCAST_DOCUMENT_MAX_BYTES", default=20 * 1024 * 1024)
WEBCAST_UPLOAD_MAX_BYTES = env.int("WEBCAST_UPLOAD_MAX_BYTES", default=8 * 1024**3)
# Safety recordings (everything received, as received) live here, outside MEDIA_ROOT, never
# served by the web server: staff download them through a view that checks and audits.
WEBCAST_PRIVATE_ROOT = env.path("WEBCAST_PRIVATE_ROOT", default=BASE_DIR / "var" / "private")
# With nginx, set this to an `internal` location aliasing WEBCAST_PRIVATE_ROOT (README) and the
# view hands the bytes (and range requests) to nginx with X-Accel-Redirect.
WEBCAST_PRIVATE_ACCEL_PREFIX = env("WEBCAST_PRIVATE_ACCEL_PREFIX", default="")
# Meeting archives (HLS VOD, MP4, poster, thumbnails, chapters, captions) go through Django's
# storage API: MEDIA_ROOT by default, or an S3-compatible bucket (WEBCAST_ARCHIVE_STORAGE=s3;
# credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as boto3 reads them). The bucket
# must be publicly readable (or behind a CDN) and allow CORS GETs from SITE_URL: see README.
STORAGES["webcast_archive"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if env("WEBCAST_ARCHIVE_STORAGE", default="local") == "s3":
    _s3_domain = env("WEBCAST_S3_CUSTOM_DOMAIN", default="") or None
    STORAGES["webcast_archive"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("WEBCAST_S3_BUCKET"),
            "endpoint_url": env("WEBCAST_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("WEBCAST_S3_REGION", default="") or None,
            "custom_domain": _s3_domain,
            "querystring_auth": False,  # playlists link their segments by relative URL
            "file_overwrite": True,
            # public-read where the provider uses object ACLs; unset with a bucket policy instead
            "default_acl": env("WEBCAST_S3_DEFAULT_ACL", default="") or None,
        },
    }
    _s3_origin = (
        f"https://{_s3_domain}"
        if _s3_domain
        else env("WEBCAST_S3_ENDPOINT_URL", default="")
        or f"https://{env('WEBCAST_S3_BUCKET')}.s3.amazonaws.com"
    )
    _s3_origin = "{0.scheme}://{0.netloc}".format(urlparse(_s3_origin))
    for _directive in ("img-src", "media-src", "connect-src"):  # posters, video, hls.js
        CONTENT_SECURITY_POLICY["DIRECTIVES"][_directive].append(_s3_origin)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
