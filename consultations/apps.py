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
        from .surveys import selectors as survey_selectors
        from .surveys import services as survey_services

        personal_data.register(
            "petitions", export=services.petitions_export, anonymise=services.petitions_anonymise
        )
        home.provide(
            "petitions", template="petitions/includes/_home.html", items=selectors.home_petitions
        )
        personal_data.register(
            "consultations",
            export=survey_services.responses_export,
            anonymise=survey_services.responses_anonymise,
        )
        home.provide(
            "consultations",
            template="consultations/includes/_home.html",
            items=survey_selectors.home_consultations,
        )
        streams.register(
            "consultation",
            can_watch=streams.council_staff,
            description="A consultation's response count (staff), pushed about once a second.",
            snapshot=survey_selectors.count_snapshot,
        )
        streams.register(
            "petition",
            can_watch=streams.public,
            description="A petition's confirmed count, pushed about once a second.",
            snapshot=selectors.count_snapshot,
        )
