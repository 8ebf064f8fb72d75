"""A Django email backend that sends through GOV.UK Notify.

Select it with ``EMAIL_BACKEND=engagement.notifications.backends.NotifyEmailBackend`` and set
``NOTIFY_API_KEY`` and ``NOTIFY_EMAIL_TEMPLATE_ID`` (a Notify template whose subject is
``((subject))`` and whose body is ``((body))``). ``NOTIFY_BASE_URL`` points at another server.
Every email Moot sends, allauth's included, then goes through Notify.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class NotifyEmailBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        if not settings.NOTIFY_API_KEY or not settings.NOTIFY_EMAIL_TEMPLATE_ID:
            raise ImproperlyConfigured(
                "NotifyEmailBackend needs NOTIFY_API_KEY and NOTIFY_EMAIL_TEMPLATE_ID."
            )
        from notifications_python_client.notifications import NotificationsAPIClient

        self.client = NotificationsAPIClient(
            settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL
        )

    def send_messages(self, email_messages: Any) -> int:
        sent = 0
        for message in email_messages:
            body = message.body
            for recipient in message.recipients():
                try:
                    self.client.send_email_notification(
                        email_address=recipient,
                        template_id=settings.NOTIFY_EMAIL_TEMPLATE_ID,
                        personalisation={"subject": message.subject, "body": body},
                    )
                    sent += 1
                except Exception:
                    if not self.fail_silently:
                        raise
                    logger.exception("GOV.UK Notify refused an email")
        return sent
