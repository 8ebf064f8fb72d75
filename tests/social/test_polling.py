"""Polling with the real tweepy, Mastodon.py and atproto clients against the fake servers:
cursors, pagination, rate limits with and without reset headers, 5xx storms, timeouts,
malformed payloads, duplicates."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from social import polling
from social.clients import BaseURLSession
from social.models import Case, Post, Source

pytestmark = pytest.mark.django_db


def poll(source, **kwargs):
    return polling.source_poll(source_id=source.pk, force=True, route=polling.route_now, **kwargs)


def test_tweepy_session_follows_the_base_url_setting(fake_x, x_source):
    from social.clients import adapter_for

    adapter = adapter_for(x_source)
    assert isinstance(adapter.client.session, BaseURLSession)
    assert adapter.client.session.base_url == fake_x.url
    poll(x_source)
    assert fake_x.calls(f"/2/users/{fake_x.council_id}/mentions")


def test_x_mentions_paginate_store_once_and_move_the_cursor(fake_x, x_source):
    ids = [
        fake_x.add_post(f"Bins not collected {n}", mentions=fake_x.council_id) for n in range(130)
    ]
    result = poll(x_source)
    assert result.status == "ok"
    assert result.fetched == 130
    assert Post.objects.count() == 130
    assert Case.objects.count() == 130
    x_source.refresh_from_db()
    assert x_source.cursor == ids[-1]  # the newest id, stored after the last page
    assert x_source.health == "ok"
    # Two pages of 100: the second asked with the first page's next token.
    calls = fake_x.calls("/mentions")
    assert len(calls) == 2
    assert calls[1].arg("pagination_token") == ids[30]
    # The next poll asks only for what is newer, and a repeated post is stored once.
    new = fake_x.add_post("Street light out", mentions=fake_x.council_id)
    result = poll(x_source)
    assert fake_x.calls("/mentions")[-1].arg("since_id") == ids[-1]
    assert result.fetched == 1
    assert Post.objects.get(external_id=new).case is not None
    x_source.cursor = ids[-1]
    x_source.save()
    poll(x_source)  # the same post delivered twice
    assert Post.objects.filter(external_id=new).count() == 1
    assert Case.objects.count() == 131


def test_x_search_source(fake_x, db):
    from social.fakes.x import TOKEN

    fake_x.add_post("Potholes on Heol y Plas #potholes")
    fake_x.add_post("Nothing to see here")
    source = Source.objects.create(
        name="Potholes",
        network="x",
        kind="search",
        account=fake_x.council_id,
        query="#potholes",
        secret=TOKEN,
    )
    assert poll(source).fetched == 1
    assert fake_x.calls("/2/tweets/search/recent")[0].arg("query") == "#potholes"


def test_429_with_reset_header_waits_until_the_reset(fake_x, x_source):
    reset = int((timezone.now() + timedelta(minutes=7)).timestamp())
    fake_x.fail_next(429, headers={"x-rate-limit-reset": str(reset)})
    result = poll(x_source)
    x_source.refresh_from_db()
    assert result.status == "rate_limited"
    assert x_source.health == "rate_limited"
    assert x_source.next_poll_at == datetime.fromtimestamp(reset, tz=UTC)
    assert len(fake_x.calls("/mentions")) == 1  # no retry in the same poll
    # Not due again before the reset: a scheduled poll does nothing.
    assert polling.source_poll(source_id=x_source.pk).status == "not_due"
    assert len(fake_x.calls("/mentions")) == 1


def test_429_without_headers_never_hot_loops(fake_x, x_source):
    fake_x.fail_next(429, times=3)
    before = timezone.now()
    for expected_minutes in (15, 30, 45):
        result = poll(x_source)
        assert result.status == "rate_limited"
        x_source.refresh_from_db()
        wait = x_source.next_poll_at - before
        assert wait >= timedelta(minutes=expected_minutes)
    assert len(fake_x.calls("/mentions")) == 3  # one request per poll, never more
    fake_x.add_post("Back again", mentions=fake_x.council_id)
    assert poll(x_source).status == "ok"
    x_source.refresh_from_db()
    assert x_source.failures == 0


def test_5xx_storm_backs_off_with_jitter_and_recovers(fake_x, x_source):
    fake_x.fail_next(503, times=4)
    waits = []
    for _ in range(4):
        start = timezone.now()
        assert poll(x_source).status == "failing"
        x_source.refresh_from_db()
        waits.append((x_source.next_poll_at - start).total_seconds())
    assert x_source.failures == 4
    assert "503" in x_source.last_error
    # 30, 60, 120, 240 s each scaled by 0.5-1.5
    for n, wait in enumerate(waits):
        assert 30 * 2**n * 0.5 - 1 <= wait <= 30 * 2**n * 1.5 + 1
    fake_x.add_post("Recovered", mentions=fake_x.council_id)
    assert poll(x_source).status == "ok"
    assert Post.objects.count() == 1


def test_backoff_is_jittered_and_capped():
    assert polling.backoff(1, rng=lambda: 0.0) == timedelta(seconds=15)
    assert polling.backoff(1, rng=lambda: 1.0) == timedelta(seconds=45)
    assert polling.backoff(30, rng=lambda: 0.5) == timedelta(hours=1)


def test_timeout_is_a_transient_failure(fake_x, x_source, monkeypatch):
    monkeypatch.setattr("social.clients.TIMEOUT", 0.3)
    fake_x.delay_next(1.0)
    result = poll(x_source)
    assert result.status == "failing"
    assert "Timeout" in result.error or "timed out" in result.error


def test_bad_credentials_are_a_clear_permanent_error(fake_x, x_source):
    x_source.secret = "wrong"
    x_source.save()
    result = poll(x_source)
    x_source.refresh_from_db()
    assert x_source.health == "failing"
    assert "Unauthorized" in x_source.last_error
    assert x_source.next_poll_at - timezone.now() > timedelta(minutes=55)
    assert Post.objects.count() == 0
    assert result.fetched == 0


def test_malformed_items_are_left_out_and_counted(fake_x, x_source):
    fake_x.add_post("Good post", mentions=fake_x.council_id)
    bad = fake_x.add_post("x", mentions=fake_x.council_id)
    fake_x.tweets[-1]["text"] = None  # a malformed item
    fake_x.tweets[-1]["created_at"] = "not a date"
    result = poll(x_source)
    assert result.status == "ok"
    assert result.skipped == 1
    assert not Post.objects.filter(external_id=bad).exists()
    x_source.refresh_from_db()
    assert x_source.last_error == "1 malformed item(s) left out in the last poll"


def test_a_page_that_is_not_json_fails_cleanly(fake_x, x_source):
    fake_x.fail_next(200, body=b"<html>proxy error</html>")
    result = poll(x_source)
    assert result.status == "failing"
    assert Post.objects.count() == 0


def test_html_script_and_huge_posts_are_stored_as_plain_text(fake_mastodon, mastodon_source):
    fake_mastodon.add_post(
        "", content_html="<p>Bins <script>alert(1)</script>on <b>Heol</b></p>" + "<p>x</p>" * 6000
    )
    poll(mastodon_source)
    post = Post.objects.get()
    assert post.text.startswith("Bins on Heol")
    assert "<" not in post.text
    assert "alert" not in post.text
    assert len(post.text) == 5000


def test_mastodon_mentions_move_forward_with_min_id(fake_mastodon, mastodon_source):
    first = fake_mastodon.add_post("First")
    poll(mastodon_source)
    mastodon_source.refresh_from_db()
    cursor = mastodon_source.cursor
    assert cursor  # the notification id
    for n in range(45):
        fake_mastodon.add_post(f"Later {n}")
    result = poll(mastodon_source)
    assert result.fetched == 45
    calls = fake_mastodon.calls("/api/v1/notifications")
    assert calls[1].arg("min_id") == cursor
    assert calls[1].query["types[]"] == ["mention"]
    assert Post.objects.count() == 46
    assert Post.objects.filter(external_id=first).exists()


def test_mastodon_rate_limit_reset_is_iso_time(fake_mastodon, mastodon_source):
    fake_mastodon.fail_next(429, headers={"X-RateLimit-Reset": "2031-01-01T00:00:00.000Z"})
    result = poll(mastodon_source)
    assert result.status == "rate_limited"
    assert result.next_poll_at.year == 2031


def test_mastodon_bot_accounts_are_filtered(fake_mastodon, mastodon_source):
    fake_mastodon.add_post("Automated weather report", bot=True)
    poll(mastodon_source)
    post = Post.objects.get()
    assert post.ignored == "spam: bot account"
    assert post.case is None
    assert Case.objects.count() == 0


def test_bluesky_mentions_and_cursor(fake_bluesky, bluesky_source):
    for n in range(120):
        fake_bluesky.add_post(f"Bluesky post {n}")
    result = poll(bluesky_source)
    assert result.fetched == 120
    bluesky_source.refresh_from_db()
    assert bluesky_source.cursor == fake_bluesky.posts[-1]["indexedAt"]
    fake_bluesky.add_post("One more")
    assert poll(bluesky_source).fetched == 1
    assert Post.objects.count() == 121
    assert len(fake_bluesky.calls("createSession")) == 2


def test_bluesky_search_uses_since(fake_bluesky, db):
    from social.fakes.bluesky import HANDLE, PASSWORD

    fake_bluesky.add_post("Flooding on the bypass", mention=False)
    source = Source.objects.create(
        name="Flooding",
        network="bluesky",
        kind="search",
        account=HANDLE,
        query="flooding",
        secret=PASSWORD,
    )
    assert poll(source).fetched == 1
    source.refresh_from_db()
    fake_bluesky.add_post("More flooding", mention=False)
    assert poll(source).fetched == 1
    assert fake_bluesky.calls("searchPosts")[-1].arg("since") == source.cursor


def test_bluesky_rate_limit(fake_bluesky, bluesky_source):
    fake_bluesky.fail_next(
        429, headers={"ratelimit-reset": "1924992000"}, body={"error": "RateLimitExceeded"}
    )
    result = poll(bluesky_source)
    assert result.status == "rate_limited"
    assert result.next_poll_at == datetime(2031, 1, 1, tzinfo=UTC)


def test_the_councils_own_posts_are_ignored(fake_x, x_source):
    from social.models import ListeningSettings

    ListeningSettings.objects.create(own_handles="@OurCouncil\ncllr_anwen")
    fake_x.add_post("Our bin day reminder", author="ourcouncil", mentions=fake_x.council_id)
    fake_x.add_post("I will look into it", author="cllr_anwen", mentions=fake_x.council_id)
    poll(x_source)
    assert set(Post.objects.values_list("ignored", flat=True)) == {"council's own post"}
    assert Case.objects.count() == 0


def test_poll_social_once_command(fake_x, x_source, capsys):
    fake_x.add_post("Graffiti on the bridge", mentions=fake_x.council_id)
    call_command("poll_social", "--once")
    out = capsys.readouterr().out
    assert "Council mentions (X): ok, 1 fetched, 1 new" in out
    assert Case.objects.count() == 1


def test_disabled_sources_are_not_polled(fake_x, x_source):
    x_source.enabled = False
    x_source.save()
    assert polling.source_poll(source_id=x_source.pk, force=True).status == "not_due"
    assert fake_x.calls("/mentions") == []


def test_a_poll_that_reaches_the_page_limit_goes_on_next_time(fake_x, x_source, monkeypatch):
    monkeypatch.setattr("social.clients.PAGE_LIMIT", 2)
    ids = [fake_x.add_post(f"Post {n}", mentions=fake_x.council_id) for n in range(450)]
    first = poll(x_source)
    assert first.fetched == 200
    x_source.refresh_from_db()
    assert x_source.cursor == f" {ids[-1]} {ids[250]}"  # since, newest, next page
    assert poll(x_source).fetched == 200
    assert poll(x_source).fetched == 50
    x_source.refresh_from_db()
    assert x_source.cursor == ids[-1]
    assert Post.objects.count() == 450
    new = fake_x.add_post("Newer", mentions=fake_x.council_id)
    assert poll(x_source).fetched == 1
    assert Post.objects.filter(external_id=new).exists()


def test_bluesky_page_limit_goes_on_next_time(fake_bluesky, bluesky_source, monkeypatch):
    monkeypatch.setattr("social.clients.PAGE_LIMIT", 1)
    for n in range(120):
        fake_bluesky.add_post(f"Bluesky post {n}")
    fetched = [poll(bluesky_source).fetched for _ in range(4)]
    assert fetched == [50, 50, 20, 0]
    assert Post.objects.count() == 120


def test_a_javascript_link_in_a_payload_is_not_kept(fake_mastodon, mastodon_source):
    status = fake_mastodon.add_post("Hello")
    fake_mastodon.statuses[-1]["url"] = "javascript:alert(document.cookie)"
    poll(mastodon_source)
    post = Post.objects.get(external_id=status)
    assert post.url == ""
    mastodon_source.refresh_from_db()
    assert mastodon_source.posts_read == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bluesky_server_errors_back_off(fake_bluesky, bluesky_source, status):
    fake_bluesky.add_post("Hello")
    fake_bluesky.fail_next(status, times=2, body={"error": "InternalServerError"})
    result = poll(bluesky_source)
    assert result.status == "failing"
    bluesky_source.refresh_from_db()
    assert bluesky_source.failures == 1
    assert bluesky_source.next_poll_at > timezone.now()
    assert Post.objects.count() == 0


def test_mastodon_timeout_and_recovery(fake_mastodon, mastodon_source, monkeypatch):
    monkeypatch.setattr("social.clients.TIMEOUT", 0.3)
    fake_mastodon.add_post("Hello")
    fake_mastodon.delay_next(1.0)
    result = poll(mastodon_source)
    assert result.status == "failing"
    assert "Mastodon" in result.error
    assert poll(mastodon_source).status == "ok"
    assert Post.objects.count() == 1


def test_bluesky_bad_app_password_is_permanent(fake_bluesky, bluesky_source):
    bluesky_source.secret = "wrong"
    bluesky_source.save()
    result = poll(bluesky_source)
    assert result.status == "failing"
    assert result.next_poll_at - timezone.now() > timedelta(minutes=55)


def test_nul_and_control_characters_in_a_payload_do_not_stop_the_poll(fake_x, x_source):
    fake_x.add_post(
        "Bins\x00 not\u202e collected", mentions=fake_x.council_id, extra={"note": "a\x00b"}
    )
    assert poll(x_source).status == "ok"
    post = Post.objects.get()
    assert post.text == "Bins not collected"
    assert post.raw["note"] == "ab"


def test_nul_in_ids_and_handles_does_not_stop_the_poll(fake_mastodon, mastodon_source):
    fake_mastodon.add_post("Hello")
    fake_mastodon.statuses[-1]["account"]["acct"] = "gw\x00en"
    fake_mastodon.statuses[-1]["url"] = "https://m.example/\x00x"
    assert poll(mastodon_source).status == "ok"
    post = Post.objects.get()
    assert (post.author_handle, post.url) == ("gwen", "https://m.example/x")
