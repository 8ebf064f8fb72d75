from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuestionsConfig(AppConfig):
    """The live question feed of a meeting (issue 4), an app of its own inside ``webcast``."""

    name = "webcast.questions"
    label = "questions"
    verbose_name = _("Meeting questions")

    def ready(self) -> None:
        from engagement.accounts import personal_data
        from engagement.realtime import streams

        from . import selectors, services

        streams.register(
            "questions",
            can_watch=streams.public,
            description="A meeting's approved questions, their state and (coalesced) votes.",
            snapshot=selectors.votes_snapshot,
        )
        streams.register(
            "questions-mod",
            can_watch=streams.council_staff,
            description="A meeting's moderation queue and the chair's view (staff).",
            snapshot=selectors.chair_snapshot,
        )
        streams.register(
            "questions-chair",
            can_watch=selectors.may_watch_chair_stream,
            description="The chair's view for the committee's chair and vice-chair (councillors).",
            snapshot=selectors.councillor_chair_snapshot,
        )
        streams.register(
            "questions-members",
            can_watch=selectors.may_watch_members_stream,
            description="The chair's view, read-only, for the committee's members (councillors).",
            snapshot=selectors.councillor_members_snapshot,
        )
        personal_data.register(
            "questions", export=services.questions_export, anonymise=services.questions_anonymise
        )
        from webcast.signals import meeting_moved_on

        meeting_moved_on.connect(
            services.chair_panels_changed, dispatch_uid="questions-chair-panels"
        )
        from social import routing

        from .social import meeting_hashtag_diverter

        routing.register_diverter(meeting_hashtag_diverter)
