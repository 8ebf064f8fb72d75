"""Safety recordings move from MEDIA_ROOT (served by the web server) to WEBCAST_PRIVATE_ROOT
(never served). Files are moved, not copied, and the stored paths follow; a file already gone
is left as it is (its download then answers 404). Run with the supervisor stopped."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import migrations


def _move(old: Path, new: Path) -> bool:
    if not old.is_file():
        return False
    new.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(old, new)  # a rename on one file system; copy and delete across two
    return True


def forwards(apps, schema_editor):
    media = Path(settings.MEDIA_ROOT)
    private = Path(settings.WEBCAST_PRIVATE_ROOT)
    old_root = media / "webcast" / "recordings"
    IngestRun = apps.get_model("webcast", "IngestRun")
    Meeting = apps.get_model("webcast", "Meeting")
    for run in IngestRun.objects.exclude(recording=""):
        old = Path(run.recording)
        if not old.is_relative_to(old_root):
            continue
        new = private / "webcast" / "recordings" / old.relative_to(old_root)
        _move(old, new)
        run.recording = str(new)
        run.save(update_fields=["recording"])
    if old_root.is_dir():  # uploads and anything else of the meetings' recordings
        for old in old_root.rglob("*"):
            if old.is_file():
                _move(old, private / "webcast" / "recordings" / old.relative_to(old_root))
        shutil.rmtree(old_root, ignore_errors=True)
    for meeting in Meeting.objects.exclude(archive={}):
        name = (meeting.archive or {}).get("recording", "")
        if not name.startswith("webcast/archive/"):
            continue
        new_name = f"webcast/recordings/{meeting.pk}/recording.mkv"
        _move(media / name, private / new_name)
        (media / "webcast" / "archive" / str(meeting.pk) / "recording-parts.txt").unlink(
            missing_ok=True
        )
        meeting.archive = {**meeting.archive, "recording": new_name}
        meeting.save(update_fields=["archive"])


class Migration(migrations.Migration):
    dependencies = [("webcast", "0004_viewers")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
