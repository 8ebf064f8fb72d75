from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebcastConfig(AppConfig):
    name = "webcast"
    verbose_name = _("Meetings and webcasts")

    def ready(self) -> None:
        from engagement.core import home
        from engagement.realtime import streams

        from . import selectors

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
