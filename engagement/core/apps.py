from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "engagement.core"
    label = "core"
    verbose_name = _("Site shell")

    def ready(self) -> None:
        from . import crypto

        crypto.install()
