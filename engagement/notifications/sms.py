"""Sending text messages: GOV.UK Notify in production, the console in development.

``SMS_BACKEND`` chooses: ``notify`` (``NOTIFY_API_KEY`` and ``NOTIFY_SMS_TEMPLATE_ID``, a template
whose body is ``((body))``), ``console`` (printed to standard output) or ``locmem`` (kept in
:data:`outbox`, for tests).
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

outbox: list[dict[str, str]] = []
"""Messages sent with the ``locmem`` backend."""


class SmsError(RuntimeError):
    """The text message could not be sent."""


def send_sms(*, to: str, body: str) -> None:
    backend = settings.SMS_BACKEND
    if backend == "locmem":
        outbox.append({"to": to, "body": body})
    elif backend == "console":
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()
    elif backend == "notify":
        if not settings.NOTIFY_API_KEY or not settings.NOTIFY_SMS_TEMPLATE_ID:
            raise ImproperlyConfigured(
                "SMS_BACKEND=notify needs NOTIFY_API_KEY and NOTIFY_SMS_TEMPLATE_ID."
            )
        from notifications_python_client.errors import HTTPError
        from notifications_python_client.notifications import NotificationsAPIClient

        client = NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL)
        try:
            client.send_sms_notification(
                phone_number=to,
                template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
                personalisation={"body": body},
            )
        except (HTTPError, OSError) as exc:
            logger.warning("GOV.UK Notify refused a text message: %s", exc)
            raise SmsError(str(exc)) from exc
    else:
        raise ImproperlyConfigured(f"Unknown SMS_BACKEND {backend!r} (notify, console or locmem).")
