"""Sending a private file (a safety recording) to staff: streamed from disk with HTTP range
requests (so a player can seek and a broken download can resume), or handed to nginx with
``X-Accel-Redirect`` when ``WEBCAST_PRIVATE_ACCEL_PREFIX`` is set."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def requested_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The single byte range ``header`` asks for, as (first, last) inclusive; None for the whole
    file (no header, or one this view does not take, such as several ranges); False when the
    range lies outside the file (416)."""
    match = RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def private_file_response(request: HttpRequest, path: Path, *, filename: str) -> HttpResponse:
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    disposition = f'attachment; filename="{filename}"'
    prefix = settings.WEBCAST_PRIVATE_ACCEL_PREFIX
    if prefix:
        relative = path.relative_to(Path(settings.WEBCAST_PRIVATE_ROOT).resolve())
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{relative.as_posix()}"
        response["Content-Disposition"] = disposition
        return response
    size = path.stat().st_size
    wanted = requested_range(request.headers.get("Range", ""), size)
    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        response = FileResponse(path.open("rb"), as_attachment=True, filename=filename)
        response["Content-Type"] = content_type
    else:
        start, end = wanted
        response = StreamingHttpResponse(
            _read(path, start, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
        response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response
