"""The "meeting adjourned" slate shown to viewers while a meeting is adjourned (a still image
ffmpeg loops, with silence, so nothing said in the room during the break goes out)."""

from __future__ import annotations

import zlib
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1280, 720


def slate_image() -> Path:
    """The slate as a PNG under ``MEDIA_ROOT`` (drawn once per council name), in English and
    Welsh."""
    from engagement.council.selectors import council_settings

    name = council_settings().display_name
    path = Path(settings.MEDIA_ROOT) / "webcast" / f"slate-{zlib.crc32(name.encode()):08x}.png"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (WIDTH, HEIGHT), (11, 12, 12))
    draw = ImageDraw.Draw(image)
    lines = [
        (name, 36),
        ("Meeting adjourned", 84),
        ("Cyfarfod wedi'i ohirio", 60),
        ("The webcast will resume shortly.", 36),
    ]
    y = 150
    for text, size in lines:
        font = ImageFont.load_default(size=size)
        box = draw.textbbox((0, 0), text, font=font)
        draw.text(((WIDTH - (box[2] - box[0])) // 2, y), text, fill=(255, 255, 255), font=font)
        y += size + 70
    temp = path.with_suffix(".tmp.png")
    image.save(temp)
    temp.replace(path)
    return path
