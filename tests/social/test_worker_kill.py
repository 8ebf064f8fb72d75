"""A Celery worker killed with SIGKILL in the middle of ingest or routing loses no post and
creates no duplicate case: real worker processes, a real Redis broker, the fake X server.

After the kill a new worker starts and the two safety nets run as beat runs them: the poll of
a source whose lease has run out (its cursor was not moved, so the unstored pages are read
again), and the sweep of posts stored but not routed.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from kombu import Connection

from engagement.celery import app
from social import polling
from social.clients import split_cursor
from social.models import Case, Post, Source

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:task_always_eager has no effect on send_task"),
]

ROOT = Path(settings.BASE_DIR)
POSTS = 300


# The broker lives in the test run's own Redis db (REDIS_URL, or the private Redis), under a key
# prefix of this process: parallel runs on one Redis never share a queue, and the clean-up
# deletes only this run's keys.
BROKER_PREFIX = f"moot-test-{os.getpid()}-broker:"


@pytest.fixture
def broker_url(redis_url):
    client = redis.Redis.from_url(redis_url)

    def clean() -> None:
        keys = list(client.scan_iter(match=f"{BROKER_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)

    clean()
    yield redis_url
    clean()
    client.close()


@contextmanager
def worker(broker_url: str, fake_url: str):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.social.worker_settings",
        "MOOT_TEST_BROKER_URL": broker_url,
        "MOOT_TEST_BROKER_PREFIX": BROKER_PREFIX,
        "MOOT_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "SOCIAL_X_API_BASE_URL": fake_url,
    }
    proc = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "engagement",
            "worker",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def kill(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool children, no warning
    proc.wait(timeout=10)


def send(broker_url: str, name: str, *args) -> None:
    with Connection(broker_url, transport_options={"global_keyprefix": BROKER_PREFIX}) as conn:
        app.send_task(name, args=list(args), connection=conn)


def wait_for(condition, timeout: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_every_post_has_exactly_one_case():
    assert Post.objects.count() == POSTS
    assert Post.objects.filter(routed_at__isnull=True).count() == 0
    assert Post.objects.filter(case__isnull=True).count() == 0
    assert Case.objects.count() == POSTS
    assert not Case.objects.annotate(n=Count("posts")).exclude(n=1).exists()


def recover(broker_url: str, source: Source) -> None:
    """What beat does after a crash: the source's lease runs out, so it is due again; posts
    left unrouted are swept up."""
    Source.objects.filter(pk=source.pk).update(next_poll_at=timezone.now())
    send(broker_url, "social.tasks.poll_due_sources")
    wait_for(lambda: Post.objects.count() == POSTS, what="every post stored")
    send(broker_url, "social.tasks.route_unrouted", 0)
    wait_for(
        lambda: not Post.objects.filter(routed_at__isnull=True).exists(), what="every post routed"
    )


def test_sigkill_in_the_middle_of_ingest(fake_x, x_source, broker_url):
    for n in range(POSTS):
        fake_x.add_post(f"Post number {n} about the bins", mentions=fake_x.council_id)
    for _ in range(POSTS // 100):
        fake_x.delay_next(0.8)  # each page takes a while, so the kill lands between pages
    with worker(broker_url, fake_x.url) as proc:
        send(broker_url, "social.tasks.poll_source", x_source.pk)
        wait_for(lambda: Post.objects.count() >= 100, what="a page stored")
        kill(proc)
    stored = Post.objects.count()
    assert 100 <= stored < POSTS  # killed part way through
    x_source.refresh_from_db()
    since, newest, _next_page = split_cursor(x_source.cursor)
    # Not moved past anything unstored: the poll goes on from the page after the last stored.
    assert since is None
    assert newest in (None, max(Post.objects.values_list("external_id", flat=True), key=int))
    with worker(broker_url, fake_x.url):
        recover(broker_url, x_source)
    assert_every_post_has_exactly_one_case()
    x_source.refresh_from_db()
    assert x_source.cursor == max(Post.objects.values_list("external_id", flat=True), key=int)


def test_sigkill_in_the_middle_of_routing(fake_x, x_source, broker_url):
    for n in range(POSTS):
        fake_x.add_post(f"Streetlight {n} out", mentions=fake_x.council_id)

    def queue(post_ids):
        for start in range(0, len(post_ids), 10):
            send(broker_url, "social.tasks.route_posts", post_ids[start : start + 10])

    polling.source_poll(source_id=x_source.pk, force=True, route=queue)
    assert Post.objects.count() == POSTS
    with worker(broker_url, fake_x.url) as proc:
        wait_for(lambda: Case.objects.count() >= 30, what="routing under way")
        kill(proc)
    routed = Case.objects.count()
    assert 30 <= routed < POSTS
    with worker(broker_url, fake_x.url):
        recover(broker_url, x_source)
    assert_every_post_has_exactly_one_case()
