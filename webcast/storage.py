"""Where archives live: Django's storage API (``STORAGES["webcast_archive"]``), the local
``MEDIA_ROOT`` by default or an S3-compatible bucket through django-storages (README). Live
segments are not here: they stay on the local disk, served by the web server as ffmpeg writes
them (:func:`webcast.services.live_dir`)."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
}


def archive_storage() -> Storage:
    return storages["webcast_archive"]


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def put(name: str, content: bytes | str | Path) -> str:
    """Store ``content`` (bytes, text, or a local file's path) under exactly ``name``, replacing
    what was there; returns the name."""
    storage = archive_storage()
    if storage.exists(name):
        storage.delete(name)
    if isinstance(content, Path):
        with content.open("rb") as handle:
            upload = File(handle, name=Path(name).name)
            upload.content_type = content_type(name)
            saved = storage.save(name, upload)
    else:
        data = content.encode() if isinstance(content, str) else content
        upload = ContentFile(data, name=Path(name).name)
        upload.content_type = content_type(name)
        saved = storage.save(name, upload)
    if saved != name:  # a storage that renamed it would break the playlists' relative links
        raise OSError(f"The archive storage stored {name} as {saved}.")
    return saved


def read_text(name: str) -> str:
    with archive_storage().open(name, "rb") as handle:
        return handle.read().decode("utf-8")


def walk(prefix: str) -> Iterator[str]:
    """Every file name under ``prefix`` (a directory), at any depth."""
    storage = archive_storage()
    try:
        directories, files = storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{prefix.rstrip('/')}/{name}"
    for directory in directories:
        yield from walk(f"{prefix.rstrip('/')}/{directory}")


def delete_tree(prefix: str) -> int:
    """Delete every file under ``prefix``; returns how many (0 when there was nothing)."""
    storage = archive_storage()
    names = list(walk(prefix))
    for name in names:
        storage.delete(name)
    return len(names)


def local_or_url(name: str) -> str:
    """What ffmpeg should read for a stored file: its path on local storage, else its URL (an
    S3 object is read over HTTP with range requests, not downloaded whole)."""
    storage = archive_storage()
    try:
        return storage.path(name)
    except NotImplementedError:
        return storage.url(name)
