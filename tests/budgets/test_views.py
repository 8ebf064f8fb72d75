"""The resident journey without JavaScript, staff pages, downloads and bad input (issue 5)."""

import pytest
from django.urls import reverse

from budgets import services
from budgets.models import Ballot, PaperEntry, Project, Result, Round, Voter
from engagement.audit.models import AuditEntry
from tests.budgets.factories import make_round, projects
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_():
    return make_round()


def postcode_of(round_: Round, index: int = 0) -> str:
    ward = round_.budgets.filter(ward__isnull=False).order_by("ward__name")[index].ward
    return ward.postcodes.first().postcode


def eligible(client, round_: Round, **extra):
    data = {"postcode": postcode_of(round_), "connection": "lives", "age": "on", **extra}
    return client.post(reverse("budgets:eligibility", args=[round_.slug]), data)


def test_the_whole_journey_without_javascript(round_, resident_client, resident):
    page = resident_client.get(round_.get_absolute_url())
    assert page.status_code == 200
    assert "Vote now" in page.content.decode()
    response = eligible(resident_client, round_)
    assert response.status_code == 302
    assert response["Location"] == reverse("budgets:choose", args=[round_.slug])
    choose = resident_client.get(response["Location"])
    assert [b.name for b in choose.context["budgets"]] == ["Council-wide", "Ward A budget"]

    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    url = reverse("budgets:ballot", args=[round_.slug, budget.pk])
    form = resident_client.get(url)
    assert form.status_code == 200
    assert 'name="project"' in form.content.decode()
    review = resident_client.post(url, {"project": [p["P1"], p["P3"]], "action": "review"})
    assert review.status_code == 200
    assert [proj.reference for proj, _v in review.context["cleaned"]] == ["P1", "P3"]
    assert Ballot.objects.count() == 0  # the review step stores nothing

    changed = resident_client.post(url, {"project": [p["P1"], p["P3"]], "action": "change"})
    assert changed.context["chosen"] == {p["P1"]: 1, p["P3"]: 1}

    cast = resident_client.post(url, {"project": [p["P1"], p["P3"]], "action": "cast"})
    assert cast.status_code == 302
    done = resident_client.get(cast["Location"])
    code = done.context["receipt"]["code"]
    assert code in done.content.decode()
    assert [b.name for b in done.context["others"]] == ["Ward A budget"]
    assert resident_client.get(cast["Location"]).status_code == 302  # shown once only

    check = resident_client.post(reverse("budgets:receipt"), {"receipt": code})
    assert check.context["ballot"].public_id == Ballot.objects.get().public_id
    voter = Voter.objects.get()
    assert (voter.user, voter.ward.name, voter.verified_by) == (resident, "Ward A", "email")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"project": ["P1", "P2", "P3", "P4"]}, "Choose no more than 3 projects."),
        ({}, "Choose at least 1 project."),
        ({"project": ["999999"]}, "A project on your ballot is not in this budget"),
        ({"project": ["not-a-number"]}, "use whole numbers"),
        ({"project": ["P1", "P1"]}, "is on your ballot twice"),
    ],
)
def test_bad_ballots_get_a_clear_error_and_store_nothing(round_, resident_client, data, message):
    eligible(resident_client, round_)
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    values = [str(p.get(v, v)) for v in data.get("project", [])]
    response = resident_client.post(
        reverse("budgets:ballot", args=[round_.slug, budget.pk]),
        {"project": values, "action": "cast"},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Ballot.objects.count() == Voter.objects.count() == 0


def test_a_ballot_for_another_area_is_refused(round_, resident_client):
    eligible(resident_client, round_)
    other = round_.budgets.filter(ward__isnull=False).order_by("ward__name")[1]
    response = resident_client.post(
        reverse("budgets:ballot", args=[round_.slug, other.pk]),
        {"project": [other.projects.first().pk], "action": "cast"},
    )
    assert response.status_code == 400
    assert "You can only vote in your own area" in response.content.decode()
    assert Ballot.objects.count() == 0


def test_eligibility_errors(round_, resident_client):
    response = eligible(resident_client, round_, postcode="ZZ99 9ZZ")
    assert response.status_code == 400
    assert "ZZ99 9ZZ is not a postcode in this council" in response.content.decode()
    response = eligible(resident_client, round_, age="")
    assert "You must be 16 or older to vote in this round." in response.content.decode()
    # skipping the eligibility step goes back to it
    budget = round_.budgets.get(ward__isnull=True)
    response = resident_client.post(
        reverse("budgets:ballot", args=[round_.slug, budget.pk]),
        {"project": [budget.projects.first().pk], "action": "cast"},
    )
    assert response["Location"] == reverse("budgets:eligibility", args=[round_.slug])
    assert Ballot.objects.count() == 0


def test_letter_code_journey(resident_client, staff):
    round_ = make_round(verify_email=False, verify_letter=True)
    code = services.voting_codes_generate(round_=round_, actor=staff, count=1, batch="A")[0]
    response = eligible(resident_client, round_, code="")
    assert "Enter the voting code from your letter." in response.content.decode()
    response = eligible(resident_client, round_, code="WRNG-CODE-XXXX")
    assert "not one of ours" in response.content.decode()
    response = eligible(resident_client, round_, code=code.code.lower())
    assert response.status_code == 302
    budget = round_.budgets.get(ward__isnull=True)
    resident_client.post(
        reverse("budgets:ballot", args=[round_.slug, budget.pk]),
        {"project": [budget.projects.first().pk], "action": "cast"},
    )
    assert Voter.objects.get().code == code


def test_closed_voting_redirects_with_a_message(resident_client):
    round_ = make_round(phase=Round.Phase.REVIEW)
    response = resident_client.get(reverse("budgets:eligibility", args=[round_.slug]))
    assert response.status_code == 302


def test_draft_rounds_and_unpublished_results_are_not_public(client, round_):
    draft = make_round(slug="draft", phase=Round.Phase.DRAFT, wards=0)
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(reverse("budgets:results", args=[round_.slug])).status_code == 404
    assert client.get(reverse("budgets:results_csv", args=[round_.slug])).status_code == 404


def test_results_page_and_downloads(round_, staff, django_capture_on_commit_callbacks):
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    for n, refs in enumerate([("P1",), ("P1", "P2"), ("P3",)]):
        user = make_user(f"r{n}@example.org")
        who = services.Identity(user=user, ward=None, verified_by="email")
        services.ballot_cast(budget=budget, identity=who, choices={p[r]: 1 for r in refs})
    with django_capture_on_commit_callbacks(execute=True):
        services.count_start(
            round_=round_, actor=staff, now=round_.voting_closes_at + services.COUNT_GRACE
        )
    services.round_set_phase(round_=round_, actor=staff, phase="results")
    from django.test import Client

    client = Client()
    page = client.get(reverse("budgets:results", args=[round_.slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Turnout by channel" in html
    assert "How this was counted" in html
    assert "Results by area" in html  # three budgets: council-wide and two wards
    result = page.context["results"][0]
    assert [(r.project.reference, r.votes, r.funded) for r in result.rows][:3] == [
        ("P1", 2, True),
        ("P3", 1, True),  # tied with P2 on votes: the lower cost wins the tie
        ("P4", 0, True),
    ]
    csv_text = client.get(reverse("budgets:results_csv", args=[round_.slug])).content.decode()
    assert csv_text.splitlines()[1] == "Council-wide,P1,New play park,60000,2,,yes"
    ballots = client.get(reverse("budgets:ballots_csv", args=[round_.slug, budget.pk]))
    lines = ballots.content.decode().splitlines()
    assert lines[0] == "ballot,project,value"
    assert len(lines) == 1 + 4
    assert "example.org" not in ballots.content.decode()
    pb = client.get(reverse("budgets:ballots_pb", args=[round_.slug, budget.pk])).content.decode()
    from budgets.tally.pabulib import parse_pabulib

    parsed = parse_pabulib(pb)
    assert len(parsed.votes) == 3
    assert {pid for pid, proj in parsed.projects.items() if proj.fields["selected"] == "1"} == {
        "P1",
        "P3",
        "P4",
    }


def test_staff_pages_need_staff(round_, resident_client, staff_client):
    url = reverse("budgets:staff_round", args=[round_.pk])
    assert resident_client.get(url).status_code == 403
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(reverse("budgets:staff_rounds")).status_code == 200


def test_staff_create_a_round_budget_and_project(staff_client):
    response = staff_client.post(
        reverse("budgets:staff_round_new"),
        {
            "title": "Green spaces",
            "slug": "green",
            "area_rule": "own",
            "minimum_age": 16,
            "verify_email": "on",
            "allow_vote_change": "on",
        },
    )
    assert response.status_code == 302
    round_ = Round.objects.get(slug="green")
    response = staff_client.post(
        reverse("budgets:staff_budget_new", args=[round_.pk]),
        {
            "name": "Whole town",
            "amount": "50000",
            "ballot_type": "approval",
            "min_projects": 1,
            "min_spend_percent": 0,
            "points": 10,
            "max_points_per_project": 5,
            "rank_count": 3,
            "rule": "greedy",
            "completion": "add1",
            "exhaustive_stop": "on",
            "tie_break": "name",
            "lot_seed": 0,
        },
    )
    assert response.status_code == 400
    assert "only apply to the Method of Equal Shares" in response.content.decode()
    assert round_.budgets.count() == 0
    assert AuditEntry.objects.filter(action="budget_round.create").count() == 1


def test_staff_paper_entry_pages(round_, staff_client, staff):
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    url = reverse("budgets:staff_paper", args=[round_.pk, budget.pk])
    response = staff_client.post(
        url, {"serial": "S1", "identity": "REG-9", "channel": "paper", "project": [p["P2"]]}
    )
    assert response.status_code == 302
    assert PaperEntry.objects.count() == 1
    page = staff_client.get(url)
    assert "S1" in page.content.decode()
    response = staff_client.post(
        url, {"serial": "S2", "identity": "REG-9", "channel": "paper", "project": []}
    )
    assert response.status_code == 400
    assert "Choose at least 1 project." in response.content.decode()


def test_pabulib_import_then_count_reproduces_the_official_outcome(staff):
    from budgets.importers import round_import_pabulib
    from tests.budgets.conftest import DATA

    text = (DATA / "netherlands_assen_2024.pb").read_text()
    round_ = round_import_pabulib(text=text, slug="assen", actor=staff)
    budget = round_.budgets.get()
    assert budget.projects.count() == 14
    assert Ballot.objects.filter(budget=budget).count() == 84
    budget.rule, budget.completion = "mes", "add1"
    budget.save()
    services.result_count(budget_id=budget.pk)
    result = Result.objects.get(budget=budget)
    from budgets.tally.pabulib import parse_pabulib
    from tests.budgets.conftest import official

    assert set(result.selected) == official(parse_pabulib(text))


def test_a_malformed_pabulib_file_changes_nothing(staff):
    from django.core.exceptions import ValidationError

    from budgets.importers import round_import_pabulib

    with pytest.raises(ValidationError) as caught:
        round_import_pabulib(text="META\nkey;value\nbudget;x\n", slug="bad", actor=staff)
    assert "not a valid pabulib file" in caught.value.messages[0]
    assert Round.objects.count() == Project.objects.count() == 0


def test_the_round_page_maps_located_projects(client, round_):
    budget = round_.budgets.get(ward__isnull=True)
    Project.objects.filter(budget=budget, reference="P1").update(latitude=52.005, longitude=-2.995)
    html = client.get(round_.get_absolute_url()).content.decode()
    project = Project.objects.get(budget=budget, reference="P1")
    assert html.count('class="moot-map__ward"') == 2
    assert html.count('class="moot-map__project"') == 1
    assert f'href="/budgets/parks-2026/projects/{project.pk}/" aria-label="New play park"' in html
    # the tables still list every project
    assert html.count("River path") == 1


def test_no_map_without_locations(client, round_):
    assert "moot-map" not in client.get(round_.get_absolute_url()).content.decode()


def test_casting_is_rate_limited(round_, resident_client):
    eligible(resident_client, round_)
    budget = round_.budgets.get(ward__isnull=True)
    url = reverse("budgets:ballot", args=[round_.slug, budget.pk])
    first = budget.projects.first().pk
    for _ in range(30):
        assert resident_client.post(url, {"project": [first], "action": "cast"}).status_code == 302
    response = resident_client.post(url, {"project": [first], "action": "cast"})
    assert response.status_code == 429
    assert "Wait and try again." in response.content.decode()
    assert Ballot.objects.count() == 1
