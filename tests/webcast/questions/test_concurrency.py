"""Several moderators and many voters at once (PostgreSQL): one moderator wins, counts always
equal the vote rows, merges never double count or deadlock.

Real threads, each with its own database connection, released together by a barrier. SQLite
serialises every writer, which proves nothing, so this needs PostgreSQL; CI runs it there, and
under ``CI=true`` a missing PostgreSQL is a failure, not a skip.
"""

import os
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from engagement.audit.models import AuditEntry
from tests.factories import make_user
from webcast.questions import services
from webcast.questions.models import Question, Vote

from .factories import approved, ask

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("This test needs PostgreSQL (set DATABASE_URL).")
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")


def at_once(calls: list[Callable[[], object]]) -> list[str]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            call()
            outcome = "ok"
        except services.QuestionError as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # noqa: BLE001 (any other failure is the finding)
            outcome = repr(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_only_one_of_several_moderators_acts_on_a_question(meeting, resident, staff):
    question = ask(meeting, resident)
    calls = [
        # As from the queue: each moderator's page showed the question waiting.
        (lambda: services.question_approve(actor=staff, question=question, seen="pending")),
        (
            lambda: services.question_reject(
                actor=staff, question=question, reason="No", seen="pending"
            )
        ),
    ] * 4
    outcomes = at_once(calls)
    assert outcomes == ["Conflict"] * 7 + ["ok"]
    question.refresh_from_db()
    done = AuditEntry.objects.filter(action__in=["question.approve", "question.reject"])
    assert done.count() == 1
    assert (
        done.get().action == f"question.{'approve' if question.state == 'approved' else 'reject'}"
    )


def test_votes_withdrawals_and_a_merge_at_once_keep_counts_exact(meeting, resident, staff):
    keep = approved(meeting, resident, staff, text="Keep?")
    duplicate = approved(meeting, resident, staff, text="Duplicate?")
    voters = [make_user() for _ in range(12)]
    for voter in voters[:6]:  # these vote for both: they must count once after the merge
        services.question_vote(meeting=meeting, question=keep, user=voter)
    calls: list[Callable[[], object]] = []
    for voter in voters:
        calls.append(
            lambda v=voter: services.question_vote(meeting=meeting, question=duplicate, user=v)
        )
    for voter in voters[:3]:
        calls.append(
            lambda v=voter: services.question_unvote(meeting=meeting, question=keep, user=v)
        )
    calls.append(lambda: services.question_merge(actor=staff, question=duplicate, into=keep))
    outcomes = at_once(calls)
    assert all(o in {"ok", "QuestionError"} for o in outcomes), outcomes
    keep.refresh_from_db()
    duplicate.refresh_from_db()
    assert duplicate.state == Question.State.MERGED
    assert keep.vote_count == Vote.objects.filter(question=keep).count()
    assert Vote.objects.filter(question=duplicate).count() == 0
    assert duplicate.vote_count == 0
