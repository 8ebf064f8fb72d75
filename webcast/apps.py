from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebcastConfig(AppConfig):
    name = "webcast"
    verbose_name = _("Meetings and webcasts")

    def ready(self) -> None:
        from engagement.accounts import personal_data
        from engagement.core import home
        from engagement.realtime import streams

        from . import selectors, services

        home.provide(
            "meetings", template="webcast/includes/_home.html", items=selectors.home_meetings
        )
        streams.register(
            "meeting",
            can_watch=streams.public,
            description="A meeting's status, agenda item and speaker, for every viewer.",
        )
        streams.register(
            "webcast-control",
            can_watch=streams.council_staff,
            description="A meeting's ingest health for the control room, about once a second.",
            snapshot=selectors.control_snapshot,
        )
        personal_data.register(
            "meeting_speaking",
            export=services.speaking_export,
            anonymise=services.speaking_anonymise,
        )
