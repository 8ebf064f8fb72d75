from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "engagement.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from engagement.accounts import personal_data

        from .services import notifications_anonymise, notifications_export

        personal_data.register(
            "notifications", export=notifications_export, anonymise=notifications_anonymise
        )
