"""Questions made through the services, as in production; councillors on a committee."""

from engagement.accounts.models import Role
from tests.factories import CouncillorFactory, MembershipFactory, make_user
from webcast.questions import services
from webcast.questions.models import Question


def ask(meeting, user, text="Why is the lido closed?", **extra) -> Question:
    extra.setdefault("display_name", "Rhian")
    return services.question_ask(meeting=meeting, user=user, text=text, **extra)


def approved(meeting, user, staff, text="Why is the lido closed?", **extra) -> Question:
    return services.question_approve(actor=staff, question=ask(meeting, user, text, **extra))


def councillor(committee, role="member", **membership):
    """A councillor's sign-in account, on ``committee`` in ``role`` (chair, vice-chair, member)."""
    user = make_user(roles=(Role.COUNCILLOR,))
    MembershipFactory(
        councillor=CouncillorFactory(user=user), committee=committee, role=role, **membership
    )
    return user
