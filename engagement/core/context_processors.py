from typing import Any

from django.http import HttpRequest

from engagement.council.selectors import council_settings

from .permissions import has_staff_access


def council(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "council": council_settings(),
        "show_staff_link": bool(
            user is not None and user.is_authenticated and user.is_council_staff
        ),
        "has_staff_access": has_staff_access(user) if user is not None else False,
    }
