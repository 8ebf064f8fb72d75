from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "engagement.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from engagement.realtime import streams

        streams.register(
            "audit",
            can_watch=streams.council_admin,
            description="New audit entries, for admins watching the audit log.",
        )
