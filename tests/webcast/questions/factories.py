"""Questions made through the services, as in production."""

from webcast.questions import services
from webcast.questions.models import Question


def ask(meeting, user, text="Why is the lido closed?", **extra) -> Question:
    extra.setdefault("display_name", "Rhian")
    return services.question_ask(meeting=meeting, user=user, text=text, **extra)


def approved(meeting, user, staff, text="Why is the lido closed?", **extra) -> Question:
    return services.question_approve(actor=staff, question=ask(meeting, user, text, **extra))
