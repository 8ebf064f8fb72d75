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
        # The social inbox: councillors and staff (the roles are cached on the user).
        "show_inbox_link": bool(
            user is not None
            and user.is_authenticated
            and user.has_role("councillor", "staff", "admin")
        ),
    }
