"""The registry of stream kinds: who may watch a stream is decided here, not in consumers.

A stream name is ``<kind>`` or ``<kind>.<key>`` (e.g. ``audit`` or ``meeting.42``). Each module
registers its kinds with a permission check at import time of its ``streams`` module (loaded by
the app's ``ready()``).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}(\.[A-Za-z0-9_-]{1,40})?$")

CanWatch = Callable[[Any, str], bool]
Render = Callable[[], str]
"""An event's fragment, rendered in the active language (called once per language)."""
Snapshot = Callable[[str], tuple[str, Render, dict[str, Any]] | None]
"""``key -> (event, render, payload)``: the current state of a counter-like stream (or what
changed since the last snapshot, for one that sends only that), read once when called, with the
stream's counter locked; ``render`` then renders it in each language (see ``services.publish``).
None: nothing to publish."""


def template(name: str, context: dict[str, Any]) -> Render:
    """A ``render`` (for ``services.publish`` or a snapshot): the template ``name`` with
    ``context``, which holds what was read already (rendering it reads nothing more)."""
    from django.template.loader import render_to_string

    return lambda: render_to_string(name, context)


@dataclass(frozen=True)
class StreamKind:
    name: str
    can_watch: CanWatch
    description: str = ""
    snapshot: Snapshot | None = None


_KINDS: dict[str, StreamKind] = {}


def register(
    name: str, *, can_watch: CanWatch, description: str = "", snapshot: Snapshot | None = None
) -> None:
    """Register a stream kind. ``snapshot`` makes it a coalesced counter stream: see
    :func:`engagement.realtime.services.publish_soon`."""
    _KINDS[name] = StreamKind(
        name=name, can_watch=can_watch, description=description, snapshot=snapshot
    )


def snapshot_of(stream: str) -> tuple[str, Render, dict[str, Any]] | None:
    kind, key = split(stream)
    registered = _KINDS.get(kind)
    if registered is None or registered.snapshot is None:
        raise ValueError(f"Stream kind {kind!r} has no snapshot")
    return registered.snapshot(key)


def split(stream: str) -> tuple[str, str]:
    """``"meeting.42"`` -> ``("meeting", "42")``; raises ValueError for a malformed name."""
    if not STREAM_NAME.match(stream):
        raise ValueError(f"Malformed stream name: {stream!r}")
    kind, _, key = stream.partition(".")
    return kind, key


def may_watch(user: Any, stream: str) -> bool:
    """True if ``user`` may receive events on ``stream`` (False for unknown or malformed)."""
    try:
        kind, key = split(stream)
    except ValueError:
        return False
    registered = _KINDS.get(kind)
    return registered is not None and registered.can_watch(user, key)


def group_name(stream: str) -> str:
    """The channel-layer group for a stream (group names allow letters, digits, ``-_.``)."""
    return f"stream.{stream}"


def public(user: Any, key: str) -> bool:
    return True


def council_staff(user: Any, key: str) -> bool:
    """Staff or admin with two-factor set up: the same rule as every staff page."""
    from engagement.core.permissions import has_staff_access

    return has_staff_access(user)


def council_admin(user: Any, key: str) -> bool:
    from engagement.core.permissions import has_staff_access

    return has_staff_access(user, admin=True)
