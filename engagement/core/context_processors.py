from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from engagement.council.selectors import council_settings


@cache
def _sections() -> tuple[tuple[str, str, bool], ...]:
    """The menu's sections as ``(name, url, whole tree)``: a section is active on its own page
    and, for a whole tree, on every page below it. The URLs never change in a running process."""
    return (
        ("home", reverse("home"), False),
        ("meetings", reverse("webcast:index"), True),
        ("wards", reverse("places:wards"), True),
        ("councillors", reverse("people:councillors"), True),
        ("committees", reverse("people:committees"), True),
        ("inbox", reverse("social:inbox"), True),
        ("staff", reverse("staff_dashboard"), True),
    )


def navigation(path: str) -> tuple[str, bool]:
    """``(the active menu section or "", whether this is the section's own page)``."""
    for name, url, tree in _sections():
        if path == url:
            return name, True
        if tree and path.startswith(url):
            return name, False
    return "", False


def council(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    section, section_page = navigation(request.path)
    return {
        "council": council_settings(),
        "show_staff_link": bool(
            user is not None and user.is_authenticated and user.is_council_staff
        ),
        # The social inbox: councillors and staff (the roles are cached on the user).
        "show_inbox_link": bool(
            user is not None
            and user.is_authenticated
            and user.has_role("councillor", "staff", "admin")
        ),
        # The menu depends on these alone, so it is rendered once per combination (and language).
        "nav_section": section,
        "nav_section_page": section_page,
    }
