from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultationsConfig(AppConfig):
    name = "consultations"
    verbose_name = _("Consultations and petitions")

    def ready(self) -> None:
        from engagement.accounts import personal_data
        from engagement.core import home
        from engagement.realtime import streams

        from .petitions import selectors, services

        personal_data.register(
            "petitions", export=services.petitions_export, anonymise=services.petitions_anonymise
        )
        home.provide(
            "petitions", template="petitions/includes/_home.html", items=selectors.home_petitions
        )
        streams.register(
            "petition",
            can_watch=streams.public,
            description="A petition's confirmed count, pushed about once a second.",
            snapshot=selectors.count_snapshot,
        )
