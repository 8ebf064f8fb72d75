from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BudgetsConfig(AppConfig):
    name = "budgets"
    verbose_name = _("Participatory budgets")

    def ready(self) -> None:
        from engagement.accounts import personal_data
        from engagement.core import home
        from engagement.realtime import streams

        from . import selectors, services

        personal_data.register(
            "budgets", export=services.budgets_export, anonymise=services.budgets_anonymise
        )
        home.provide("budgets", template="budgets/includes/_home.html", items=selectors.home_rounds)
        streams.register(
            "turnout",
            can_watch=streams.public,
            description="A round's live turnout, pushed about once a second while people vote.",
            snapshot=selectors.turnout_snapshot,
        )
        streams.register(
            "budgetcount",
            can_watch=streams.council_staff,
            description="Progress of a round's count, for the staff who started it.",
        )
