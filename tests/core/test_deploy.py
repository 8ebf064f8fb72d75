"""`check --deploy` under the production settings and the documented environment is clean."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "engagement.settings.production",
    "SECRET_KEY": "k3y-" + "x9Q2vL7pR4tW8zY1bN6mC3fH5jK0sD2gA7eU4iO9" * 2,
    "DATABASE_URL": "postgres://moot:secret@db.internal:5432/moot",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "ALLOWED_HOSTS": "moot.example.gov.uk",
    "BALLOT_LINK_KEY": "b4ll0t-" + "Zq8wE3rT6yU1iO4pA7sD0fG5hJ2kL9" * 2,
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_postgres_or_redis():
    sqlite = _manage("check", env={**PRODUCTION_ENV, "DATABASE_URL": "sqlite:///x.db"})
    assert sqlite.returncode != 0
    assert "Production needs PostgreSQL" in sqlite.stderr
    no_redis = _manage("check", env={**PRODUCTION_ENV, "REDIS_URL": ""})
    assert "Production needs Redis" in no_redis.stderr
    no_key = _manage("check", env={**PRODUCTION_ENV, "BALLOT_LINK_KEY": "short"})
    assert no_key.returncode != 0
    assert "Production needs BALLOT_LINK_KEY" in no_key.stderr


def test_production_uses_redis_for_channels_cache_and_celery():
    code = (
        "from django.conf import settings as s;"
        "print(s.CHANNEL_LAYERS['default']['BACKEND']);"
        "print(s.CACHES['default']['BACKEND']);"
        "print(s.CELERY_BROKER_URL);"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS);"
        "print(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src']);"
        "print(s.DATABASES['default']['CONN_MAX_AGE'], s.DATABASES['default']['OPTIONS']['pool'])"
    )
    result = _manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.stdout.splitlines() == [
        "channels_redis.core.RedisChannelLayer",
        "engagement.core.cache.RedisCache",
        "redis://cache.internal:6379/0",
        "True True 31536000",
        "[\"'self'\"]",
        "0 {'min_size': 2, 'max_size': 10, 'timeout': 10}",
    ]
