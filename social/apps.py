from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = _("Social listening")

    def ready(self) -> None:
        from engagement.accounts import personal_data
        from engagement.notifications import kinds
        from engagement.notifications.models import Delivery
        from engagement.realtime import streams

        from . import selectors, services

        inbox_roles = ("councillor", "staff", "admin")
        kinds.register(
            "social_case",
            _("New cases in your social inbox"),
            Delivery.IMMEDIATELY,
            roles=inbox_roles,
        )
        kinds.register(
            "social_due",
            _("Your social cases due or overdue (daily)"),
            Delivery.DAILY,
            roles=inbox_roles,
        )
        kinds.register(
            "social_escalation",
            _("Social cases that missed a response target"),
            Delivery.IMMEDIATELY,
            roles=("staff", "admin"),
        )
        personal_data.register(
            "social", export=services.social_export, anonymise=services.social_anonymise
        )
        streams.register(
            "social-inbox",
            can_watch=selectors.may_watch_inbox,
            description="A councillor's social inbox (key: councillor id) or staff's (key: staff).",
        )
