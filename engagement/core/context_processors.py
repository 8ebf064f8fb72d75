from typing import Any

from django.http import HttpRequest

from engagement.council.selectors import council_settings


def council(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "council": council_settings(),
        "show_staff_link": bool(
            user is not None and user.is_authenticated and user.is_council_staff
        ),
    }
