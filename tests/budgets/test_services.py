"""Voting, codes, paper entry and counting through the services (issue 5)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from budgets import services
from budgets.ballots import BallotError
from budgets.models import Ballot, BallotChoice, Budget, PaperEntry, Result, Round, Voter
from budgets.services import Identity, VotingError
from engagement.audit.models import AuditEntry
from engagement.realtime.models import StreamEvent
from tests.budgets.factories import make_round, projects
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_():
    return make_round()


def councilwide(round_: Round) -> Budget:
    return round_.budgets.get(ward__isnull=True)


def ward_budget(round_: Round, index: int = 0) -> Budget:
    return round_.budgets.filter(ward__isnull=False).order_by("ward__name")[index]


def identity_for(user, round_: Round, ward_index: int = 0) -> Identity:
    return Identity(user=user, ward=ward_budget(round_, ward_index).ward, verified_by="email")


def test_a_ballot_is_stored_apart_from_the_voter(
    round_, resident, django_capture_on_commit_callbacks
):
    budget = councilwide(round_)
    p = projects(budget)
    with django_capture_on_commit_callbacks(execute=True):
        receipt = services.ballot_cast(
            budget=budget,
            identity=identity_for(resident, round_),
            choices={p["P1"]: 1, p["P2"]: 1},
        )
    voter = Voter.objects.get()
    ballot = Ballot.objects.get()
    assert (voter.user, voter.channel, voter.verified_by) == (resident, "online", "email")
    assert ballot.voter_token == services.voter_token(voter)
    assert resident.email not in ballot.voter_token
    assert sorted(ballot.choices.values_list("project__reference", flat=True)) == ["P1", "P2"]
    assert services.receipt_check(code=receipt.code) == ballot
    assert services.receipt_check(code=receipt.code.lower().replace("-", " ")) == ballot
    assert ballot.public_id == receipt.public_id
    assert not receipt.replaced
    # the turnout stream got one coalesced snapshot
    event = StreamEvent.objects.get(stream=f"turnout.{round_.pk}")
    assert event.payload == {"voters": 1}


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({}, "Choose at least 1 project."),
        ({"P1": 1, "P2": 1, "P3": 1, "P4": 1}, "Choose no more than 3 projects."),
        ({"P1": 2}, "Tick each project you support once."),
    ],
)
def test_ballots_that_break_the_rules_store_nothing(round_, resident, choices, message):
    budget = councilwide(round_)
    p = projects(budget)
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(
            budget=budget,
            identity=identity_for(resident, round_),
            choices={p[ref]: v for ref, v in choices.items()},
        )
    assert message in caught.value.messages
    assert (Voter.objects.count(), Ballot.objects.count()) == (0, 0)


def test_a_project_twice_or_from_another_budget_is_refused(round_, resident):
    budget = councilwide(round_)
    p = projects(budget)
    other = projects(ward_budget(round_))
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(
            budget=budget,
            identity=identity_for(resident, round_),
            choices=[(p["P1"], 1), (p["P1"], 1)],
        )
    assert caught.value.messages == ["“New play park” is on your ballot twice."]
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(
            budget=budget,
            identity=identity_for(resident, round_),
            choices=[(other["W00"], 1)],
        )
    assert caught.value.messages == ["A project on your ballot is not in this budget's vote."]
    assert Ballot.objects.count() == 0


def test_knapsack_points_and_ranked_rules(resident):
    round_ = make_round(ballot_type="knapsack")
    budget = councilwide(round_)
    budget.min_spend_percent = 50
    budget.max_projects = None
    budget.save()
    p = projects(budget)
    who = identity_for(resident, round_)
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(
            budget=budget, identity=who, choices={p["P1"]: 1, p["P2"]: 1, p["P3"]: 1}
        )
    assert caught.value.messages == [
        "Your choices cost £110,000, more than the budget of £100,000."
    ]
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(budget=budget, identity=who, choices={p["P4"]: 1})
    assert caught.value.messages == ["Your choices cost £10,000: spend at least £50,000."]
    services.ballot_cast(budget=budget, identity=who, choices={p["P1"]: 1, p["P2"]: 1})

    budget.ballot_type = "cumulative"
    budget.points, budget.max_points_per_project = 10, 5
    budget.save()
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(budget=budget, identity=who, choices={p["P1"]: 6, p["P2"]: 5})
    assert caught.value.messages == [
        "Give “New play park” no more than 5 points.",
        "You have 10 points to share but gave 11.",
    ]
    budget.ballot_type = "ranked"
    budget.rank_count = 2
    budget.save()
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(budget=budget, identity=who, choices={p["P1"]: 1, p["P2"]: 3})
    assert caught.value.messages == ["Number your choices 1, 2, 3 and so on without gaps."]
    with pytest.raises(BallotError) as caught:
        services.ballot_cast(budget=budget, identity=who, choices={p["P1"]: 1, p["P2"]: 1})
    assert caught.value.messages == ["Give each project a different place in your order."]


def test_the_last_ballot_counts_when_changes_are_allowed(round_, resident):
    budget = councilwide(round_)
    p = projects(budget)
    first = services.ballot_cast(
        budget=budget, identity=identity_for(resident, round_), choices={p["P1"]: 1}
    )
    second = services.ballot_cast(
        budget=budget, identity=identity_for(resident, round_), choices={p["P2"]: 1}
    )
    assert second.replaced
    assert Ballot.objects.count() == 1
    assert list(BallotChoice.objects.values_list("project__reference", flat=True)) == ["P2"]
    assert services.receipt_check(code=first.code) is None
    assert services.receipt_check(code=second.code).public_id == second.public_id


def test_no_second_ballot_when_changes_are_not_allowed(resident):
    round_ = make_round(allow_vote_change=False)
    budget = councilwide(round_)
    p = projects(budget)
    services.ballot_cast(
        budget=budget, identity=identity_for(resident, round_), choices={p["P1"]: 1}
    )
    with pytest.raises(VotingError, match="already voted in this budget"):
        services.ballot_cast(
            budget=budget, identity=identity_for(resident, round_), choices={p["P2"]: 1}
        )
    assert list(BallotChoice.objects.values_list("project__reference", flat=True)) == ["P1"]


def test_votes_outside_the_window_are_refused(round_, resident):
    budget = councilwide(round_)
    p = projects(budget)
    for now in (round_.voting_opens_at - timedelta(seconds=1), round_.voting_closes_at):
        with pytest.raises(VotingError, match="Voting is not open."):
            services.ballot_cast(
                budget=budget,
                identity=identity_for(resident, round_),
                choices={p["P1"]: 1},
                now=now,
            )
    assert Voter.objects.count() == 0


def test_area_rules(resident):
    round_ = make_round()
    own, other = ward_budget(round_, 0), ward_budget(round_, 1)
    who = identity_for(resident, round_, 0)
    with pytest.raises(VotingError, match="only vote in your own area"):
        services.ballot_cast(budget=other, identity=who, choices={projects(other)["W10"]: 1})
    services.ballot_cast(budget=own, identity=who, choices={projects(own)["W00"]: 1})
    assert [b.name for b in services.eligible_budgets(round_, who.area_id())] == [
        "Council-wide",
        "Ward A budget",
    ]

    plus_one = make_round(slug="plus-one", area_rule="own_plus_one", wards=3)
    budgets = list(plus_one.budgets.filter(ward__isnull=False).order_by("ward__name"))
    who = Identity(user=resident, ward=budgets[0].ward, verified_by="email")
    for budget in budgets[:2]:
        services.ballot_cast(budget=budget, identity=who, choices={budget.projects.first().pk: 1})
    with pytest.raises(VotingError, match="already voted in one other area"):
        services.ballot_cast(
            budget=budgets[2], identity=who, choices={budgets[2].projects.first().pk: 1}
        )
    assert Ballot.objects.filter(budget__round=plus_one).count() == 2


def test_letter_codes_vote_once_and_void_codes_are_refused(round_, staff):
    round_.verify_letter = True
    round_.save()
    ward = ward_budget(round_).ward
    codes = services.voting_codes_generate(
        round_=round_, actor=staff, count=3, batch="Letter run 1", ward=ward
    )
    assert len({c.code for c in codes}) == 3
    assert all(len(c.code) == 14 and c.code.count("-") == 2 for c in codes)
    assert AuditEntry.objects.filter(action="budget_codes.generate").count() == 1
    budget = councilwide(round_)
    p = projects(budget)
    code = services.voting_code_find(round_=round_, text=codes[0].code.lower())
    services.ballot_cast(
        budget=budget,
        identity=Identity(code=code, verified_by="letter"),
        choices={p["P1"]: 1},
    )
    assert Voter.objects.get().ward == ward
    with pytest.raises(VotingError, match="already been used"):
        services.voting_code_find(round_=round_, text=codes[0].code)
    with pytest.raises(VotingError, match="cannot be voided"):
        services.voting_codes_void(round_=round_, actor=staff, codes=[codes[0].code])
    assert services.voting_codes_void(round_=round_, actor=staff, codes=[codes[1].code]) == 1
    with pytest.raises(VotingError, match="has been cancelled"):
        services.voting_code_find(round_=round_, text=codes[1].code)
    with pytest.raises(VotingError, match="not one of ours"):
        services.voting_code_find(round_=round_, text="AAAA-BBBB-CCCC")


def test_sms_codes(round_, resident):
    from engagement.notifications import sms

    round_.verify_sms = True
    round_.save()
    sms.outbox.clear()
    with pytest.raises(VotingError, match="UK mobile number"):
        services.phone_code_send(round_=round_, user=resident, phone="01234 567890")
    services.phone_code_send(round_=round_, user=resident, phone="07700 900982")
    assert sms.outbox[0]["to"] == "+447700900982"
    code = sms.outbox[0]["body"].split(" is ")[1][:6]
    with pytest.raises(VotingError, match="not right"):
        services.phone_code_check(
            round_=round_, user=resident, code="000000" if code != "000000" else "111111"
        )
    phone_hash = services.phone_code_check(round_=round_, user=resident, code=code)
    assert "7700900982" not in phone_hash
    budget = councilwide(round_)
    services.ballot_cast(
        budget=budget,
        identity=Identity(user=resident, phone_hash=phone_hash, verified_by="sms"),
        choices={projects(budget)["P1"]: 1},
    )
    other = make_user("other@example.org")
    with pytest.raises(VotingError, match="already been used to vote"):
        services.phone_code_send(round_=round_, user=other, phone="+44 7700 900982")


def test_paper_double_entry(round_, staff):
    second = make_user("second@example.org", roles=("staff",))
    budget = councilwide(round_)
    p = projects(budget)
    state, receipt = services.paper_entry_add(
        budget=budget, actor=staff, serial="0001", identity="REF-1", choices=[(p["P1"], 1)]
    )
    assert (state, receipt) == ("waiting", None)
    with pytest.raises(VotingError, match="different person"):
        services.paper_entry_add(
            budget=budget, actor=staff, serial="0001", identity="REF-1", choices=[(p["P1"], 1)]
        )
    state, receipt = services.paper_entry_add(
        budget=budget, actor=second, serial="0001", identity="REF-1", choices=[(p["P2"], 1)]
    )
    assert state == "mismatch"
    assert set(PaperEntry.objects.values_list("status", flat=True)) == {"mismatch"}
    assert Ballot.objects.count() == 0
    assert services.paper_entry_discard(budget=budget, actor=staff, serial="0001") == 2
    services.paper_entry_add(
        budget=budget, actor=staff, serial="0001", identity="REF-1", choices=[(p["P2"], 1)]
    )
    state, receipt = services.paper_entry_add(
        budget=budget, actor=second, serial="0001", identity="ref-1", choices=[(p["P2"], 1)]
    )
    assert state == "cast"
    assert PaperEntry.objects.count() == 0
    voter = Voter.objects.get()
    assert (voter.channel, voter.reference) == ("paper", "REF-1")
    assert Ballot.objects.get().channel == "paper"


def test_paper_and_online_exclude_each_other(round_, staff, resident):
    second = make_user("second@example.org", roles=("staff",))
    budget = councilwide(round_)
    p = projects(budget)
    services.ballot_cast(
        budget=budget, identity=identity_for(resident, round_), choices={p["P1"]: 1}
    )
    services.paper_entry_add(
        budget=budget, actor=staff, serial="7", identity=resident.email, choices=[(p["P2"], 1)]
    )
    with pytest.raises(VotingError, match="already voted online"):
        services.paper_entry_add(
            budget=budget, actor=second, serial="7", identity=resident.email, choices=[(p["P2"], 1)]
        )
    # and the other way round
    other = make_user("paper@example.org")
    services.paper_entry_add(
        budget=budget, actor=staff, serial="8", identity=other.email, choices=[(p["P3"], 1)]
    )
    services.paper_entry_add(
        budget=budget, actor=second, serial="8", identity=other.email, choices=[(p["P3"], 1)]
    )
    with pytest.raises(VotingError, match="already voted on paper"):
        services.ballot_cast(
            budget=budget, identity=identity_for(other, round_), choices={p["P1"]: 1}
        )
    assert Ballot.objects.count() == 2


def test_counting_stores_the_outcome_and_publishes(
    round_, staff, django_capture_on_commit_callbacks
):
    budget = councilwide(round_)
    budget.rule, budget.completion = "mes", "add1"
    budget.save()
    p = projects(budget)
    for n, refs in enumerate([("P1", "P2"), ("P1",), ("P2", "P3"), ("P4",), ("P1", "P4")]):
        user = make_user(f"v{n}@example.org")
        services.ballot_cast(
            budget=budget, identity=identity_for(user, round_), choices={p[r]: 1 for r in refs}
        )
    with pytest.raises(VotingError, match="has not closed"):
        services.count_start(round_=round_, actor=staff)
    with pytest.raises(VotingError, match="every ballot in flight"):
        services.count_start(round_=round_, actor=staff, now=round_.voting_closes_at)
    with django_capture_on_commit_callbacks(execute=True):
        services.count_start(
            round_=round_, actor=staff, now=round_.voting_closes_at + services.COUNT_GRACE
        )
    result = Result.objects.get(budget=budget)
    assert result.status == "done"
    assert result.progress == 100
    assert result.ballots == 5
    assert result.votes == {"P1": 3, "P2": 2, "P3": 1, "P4": 2}
    from budgets.tally.rules import Election, TieBreak, mes

    expected = mes(
        Election(
            {"P1": 60_000, "P2": 30_000, "P3": 20_000, "P4": 10_000},
            100_000,
            [{"P1", "P2"}, {"P1"}, {"P2", "P3"}, {"P4"}, {"P1", "P4"}],
        ),
        completion="add1",
        tie_break=TieBreak(kind="cost-votes-lot", seed=0),
    )
    assert result.selected == list(expected.selected)
    assert result.spent == Decimal(int(expected.spent))
    assert result.variant["completion"] == "add1"
    assert result.satisfied == 5 - sum(
        1
        for refs in [("P1", "P2"), ("P1",), ("P2", "P3"), ("P4",), ("P1", "P4")]
        if not set(refs) & set(expected.selected)
    )
    round_.refresh_from_db()
    assert round_.phase == "counting"
    assert StreamEvent.objects.filter(stream=f"budgetcount.{round_.pk}").count() >= 4
    services.round_set_phase(round_=round_, actor=staff, phase="results")
    assert Result.objects.filter(published=True).count() == 3


def test_rules_cannot_change_once_voting_opens(round_, staff):
    budget = councilwide(round_)
    with pytest.raises(VotingError, match="can no longer change"):
        services.budget_save(budget=budget, actor=staff, data={"rule": "mes"})
    with pytest.raises(VotingError, match="can no longer change"):
        services.round_save(round_=round_, actor=staff, data={"allow_vote_change": False})
    project = budget.projects.first()
    with pytest.raises(VotingError, match="are fixed"):
        services.project_save(project=project, actor=staff, data={"cost": Decimal(1)})


def test_opening_voting_needs_a_window_and_projects(staff):
    round_ = Round.objects.create(title="Empty", slug="empty")
    with pytest.raises(VotingError, match="one phase at a time"):
        services.round_set_phase(round_=round_, actor=staff, phase="results")
    with pytest.raises(VotingError, match="Set when voting opens"):
        services.round_set_phase(round_=round_, actor=staff, phase="voting")
    round_.voting_opens_at = timezone.now()
    round_.voting_closes_at = timezone.now() + timedelta(days=3)
    round_.save()
    with pytest.raises(VotingError, match="at least one budget"):
        services.round_set_phase(round_=round_, actor=staff, phase="voting")
    assert Round.objects.get(pk=round_.pk).phase == "draft"


def test_an_idea_is_reviewed_and_its_proposer_told(resident, staff):
    from engagement.notifications.models import Notification

    round_ = make_round(slug="ideas", phase=Round.Phase.IDEAS, wards=0, ideas_open=True)
    budget = councilwide(round_)
    idea = services.project_propose(
        budget=budget,
        user=resident,
        data={"title": "Swings", "description": "New swings", "cost": Decimal(5000)},
    )
    assert (idea.status, idea.reference) == ("proposed", "IDEA-0005")
    with pytest.raises(ValidationError) as caught:
        services.project_save(project=idea, actor=staff, data={"status": "rejected"})
    assert caught.value.message_dict["review_note"] == [
        "Give the reason the project is not feasible."
    ]
    idea.refresh_from_db()
    services.project_save(
        project=idea, actor=staff, data={"status": "rejected", "review_note": "Private land."}
    )
    note = Notification.objects.get(user=resident)
    assert note.kind == "budget_ideas"
    assert note.subject == "Your idea “Swings” cannot go on the ballot"
    assert note.body.endswith("Their reason: Private land.")


def test_ideas_are_refused_outside_the_ideas_phase(round_, resident):
    with pytest.raises(VotingError, match="not taking ideas"):
        services.project_propose(
            budget=councilwide(round_), user=resident, data={"title": "X", "cost": Decimal(1)}
        )


def test_personal_data_export_and_anonymise(round_, resident):
    from engagement.accounts.services import user_anonymise, user_data_export

    budget = councilwide(round_)
    services.ballot_cast(
        budget=budget, identity=identity_for(resident, round_), choices={projects(budget)["P1"]: 1}
    )
    exported = user_data_export(user=resident)["budgets"]
    assert exported["votes"] == [
        {
            "round": "Parks and play 2026",
            "date": timezone.localdate().isoformat(),
            "channel": "online",
            "verified_by": "email",
            "ward": "Ward A",
            "connection": "lives",
        }
    ]
    assert "choices" not in str(exported)
    user_anonymise(user=resident)
    voter = Voter.objects.get()
    assert voter.user is None
    assert voter.reference == f"anonymised:{voter.pk}"
    assert Ballot.objects.count() == 1  # the vote still counts
