"""Archives in an S3-compatible bucket through django-storages, for real: a local moto S3
server, boto3, and the same archive job as on local disk (ffmpeg on a streamed meeting)."""

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from django.test import Client
from django.urls import reverse
from moto.server import ThreadedMotoServer

from webcast import pipeline, selectors, services
from webcast.models import Meeting

from .test_archive import _info, streamed_meeting

S = Meeting.Status
BUCKET = "moot-archive"


@pytest.fixture
def s3(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in the process: each test starts from none.
    assert httpx.post(f"{endpoint}/moto-api/reset").status_code == 200
    keys = {"aws_access_key_id": "moot-test", "aws_secret_access_key": "moot-test"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2", **keys)
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    settings.STORAGES = settings.STORAGES | {
        "webcast_archive": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "eu-west-2",
                "access_key": keys["aws_access_key_id"],
                "secret_key": keys["aws_secret_access_key"],
                "querystring_auth": False,
                "file_overwrite": True,
                "default_acl": "public-read",  # moto enforces object ACLs on anonymous reads
            },
        }
    }
    yield client, f"{endpoint}/{BUCKET}"
    server.stop()


def _keys(client, prefix: str) -> dict[str, str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        obj["Key"].removeprefix(prefix): client.head_object(Bucket=BUCKET, Key=obj["Key"])[
            "ContentType"
        ]
        for obj in listing
    }


@pytest.mark.django_db(transaction=True)
def test_the_archive_goes_to_s3_and_plays_from_there(s3, staff, staff_client, settings, tmp_path):
    client, base = s3
    meeting, one, two, second_run = streamed_meeting(staff)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)  # the archive job
    meeting.refresh_from_db()
    assert (meeting.status, meeting.archive_state) == (S.ARCHIVED, "done")

    prefix = f"webcast/archive/{meeting.pk}/"
    keys = _keys(client, prefix)
    segments = sorted(k for k in keys if k.endswith(".ts"))
    assert len([k for k in segments if k.startswith("hls/240p/")]) == 4
    assert len([k for k in segments if k.startswith("hls/audio/")]) >= 4
    assert {keys[k] for k in segments} == {"video/mp2t"}
    assert keys["hls/master.m3u8"] == keys["hls/240p/index.m3u8"] == "application/vnd.apple.mpegurl"
    assert keys["meeting.mp4"] == "video/mp4"
    assert keys["chapters.vtt"].startswith("text/vtt")
    assert keys["poster.jpg"] == keys[f"item-{two.pk}.jpg"] == "image/jpeg"
    # Nothing of the archive on local disk: not in MEDIA_ROOT, and the live copy has gone. The
    # safety recording stays private on the server, never in the bucket.
    assert not (Path(settings.MEDIA_ROOT) / "webcast" / "archive").exists()
    assert not services.live_dir(meeting).exists()
    assert not [k for k in keys if "recording" in k]
    assert (services.recordings_dir(meeting) / "recording.mkv").is_file()

    # The page points the player, poster, chapters and thumbnails at the bucket, and what it
    # points at plays: master → rendition → a segment, and the MP4 end to end.
    page = Client().get(meeting.get_absolute_url()).content.decode()
    master_url = f"{base}/{prefix}hls/master.m3u8"
    assert f'data-hls="{master_url}"' in page
    assert f'poster="{base}/{prefix}poster.jpg"' in page
    assert f'src="{base}/{prefix}chapters.vtt"' in page
    assert f'src="{base}/{prefix}item-{two.pk}.jpg"' in page
    master = httpx.get(master_url)
    assert master.status_code == 200
    rendition = httpx.get(f"{base}/{prefix}hls/240p/index.m3u8")
    vod = pipeline.parse_media_playlist(rendition.text)
    assert len(vod) == 4
    assert vod[0].program_date_time
    segment = httpx.get(f"{base}/{prefix}hls/240p/{vod[0].uri}")
    assert segment.content[:1] == b"\x47"  # MPEG-TS sync byte
    mp4 = tmp_path / "downloaded.mp4"
    mp4.write_bytes(httpx.get(f"{base}/{prefix}meeting.mp4").content)
    assert _info(mp4).duration == pytest.approx(8.0, abs=0.15)
    api = Client().get(f"/api/meetings/{meeting.pk}/").json()
    assert api["recording"]["mp4"] == f"{base}/{prefix}meeting.mp4"

    # A corrected agenda time rewrites the chapters in the bucket; the thumbnail is cut again
    # by ffmpeg reading the MP4 from the bucket over HTTP.
    before = client.head_object(Bucket=BUCKET, Key=f"{prefix}item-{two.pk}.jpg")["ETag"]
    mark = meeting.item_marks.get(item=two)
    services.item_mark_update(actor=staff, mark=mark, at=second_run + timedelta(seconds=2))
    chapters = httpx.get(f"{base}/{prefix}chapters.vtt").text
    assert chapters.endswith("chapter-2\n00:00:06.000 --> 00:00:08.000\n2. Budget\n")
    after = client.head_object(Bucket=BUCKET, Key=f"{prefix}item-{two.pk}.jpg")["ETag"]
    assert after != before

    # Captions are stored there too, and staff edit what is stored.
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nGood evening.\n"
    services.meeting_captions_set(actor=staff, meeting=meeting, text=vtt)
    assert httpx.get(f"{base}/{prefix}captions.vtt").text == vtt
    staff_page = staff_client.get(reverse("webcast_staff:meeting", args=[meeting.pk]))
    assert "Good evening." in staff_page.content.decode()


def test_the_s3_setting_configures_the_storage_and_the_content_security_policy():
    """WEBCAST_ARCHIVE_STORAGE=s3 as an operator sets it (README), in a fresh process."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.STORAGES['webcast_archive'], s.CONTENT_SECURITY_POLICY]))"
    )
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "engagement.settings.test",
        "WEBCAST_ARCHIVE_STORAGE": "s3",
        "WEBCAST_S3_BUCKET": "council-archive",
        "WEBCAST_S3_ENDPOINT_URL": "https://s3.example-objects.net:8443/",
        "WEBCAST_S3_REGION": "eu-west-2",
        "WEBCAST_S3_DEFAULT_ACL": "public-read",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    storage, csp = json.loads(result.stdout.strip().splitlines()[-1])
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "council-archive"
    assert storage["OPTIONS"]["querystring_auth"] is False
    assert storage["OPTIONS"]["default_acl"] == "public-read"
    assert storage["OPTIONS"]["endpoint_url"] == "https://s3.example-objects.net:8443/"
    for directive in ("img-src", "media-src", "connect-src"):
        assert "https://s3.example-objects.net:8443" in csp["DIRECTIVES"][directive]
    assert "https://s3.example-objects.net:8443" not in csp["DIRECTIVES"]["script-src"]


@pytest.mark.django_db(transaction=True)
def test_a_bucket_that_fails_leaves_the_meeting_to_retry(s3, staff, settings):
    client, _base = s3
    options = settings.STORAGES["webcast_archive"]["OPTIONS"]
    settings.STORAGES = settings.STORAGES | {
        "webcast_archive": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": options | {"bucket_name": "not-made-yet"},
        }
    }
    meeting, *_ = streamed_meeting(staff)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    meeting.refresh_from_db()
    assert (meeting.status, meeting.archive_state) == (S.ENDED, "failed")
    assert "NoSuchBucket" in meeting.archive["error"]
    assert selectors.archive_urls(meeting) == {}
    # Nothing was lost: the live ladder and the safety recording are still on disk.
    assert (services.live_dir(meeting) / "master.m3u8").exists()
    assert len(services.recording_parts(meeting)) == 2

    client.create_bucket(
        Bucket="not-made-yet", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    meeting = services.meeting_archive_build(meeting_id=meeting.pk)
    assert (meeting.status, meeting.archive_state) == (S.ARCHIVED, "done")
    assert not services.live_dir(meeting).exists()
    keys = client.list_objects_v2(Bucket="not-made-yet")["Contents"]
    assert any(obj["Key"].endswith("hls/master.m3u8") for obj in keys)
