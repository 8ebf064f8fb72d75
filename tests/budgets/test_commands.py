import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from budgets.tally.pabulib import read_pabulib

from .conftest import DATA, official

ASSEN = str(DATA / "netherlands_assen_2024.pb")
WIELICZKA = str(DATA / "poland_wieliczka_2023_green_budget.pb")


def run(*args: str) -> dict:
    out = StringIO()
    call_command("tally_pabulib", *args, "--json", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # one JSON object
    return json.loads(lines[0])


def test_mes_add1_json():
    result = run(ASSEN, "--rule", "mes", "--completion", "add1")
    seconds = result.pop("seconds")
    assert isinstance(seconds, float)
    assert seconds >= 0
    assert result == {
        "rule": "mes",
        # selection order
        "selected": ["3", "9", "11", "2", "13", "14", "5", "6", "12"],
        "spent": "76700",
        "budget": "100000",
        "voters": 84,
        "projects": 14,
        "variant": {
            "rule": "mes",
            "utilities": "cost",
            "completion": "add1",
            "exhaustive_stop": True,
            "integral_start": False,
            "voter_budget": "42703/21",
            "comparison": False,
            "tie_break": "name",
        },
    }
    assert set(result["selected"]) == official(read_pabulib(ASSEN))


def test_every_option_lands_in_the_variant():
    result = run(
        WIELICZKA,
        "--rule",
        "mes",
        "--completion",
        "add1u",
        "--no-exhaustive-stop",
        "--integral-start",
        "--comparison",
        "--tie-break",
        "cost-votes-lot",
        "--seed",
        "5",
    )
    assert result["variant"] == {
        "rule": "mes",
        "utilities": "cost",
        "completion": "add1u",
        "exhaustive_stop": False,
        "integral_start": True,
        "voter_budget": result["variant"]["voter_budget"],
        "comparison": True,
        "comparison_tally": result["variant"]["comparison_tally"],
        "tie_break": "cost-votes-lot",
        "seed": 5,
    }
    # README: integral per-voter budgets from 306 to 315 zł all give the official 30 projects.
    assert result["variant"]["voter_budget"] == "315"
    assert result["variant"]["comparison_tally"] == {"prefer_mes": 1576, "prefer_greedy": 1050}
    assert set(result["selected"]) == official(read_pabulib(WIELICZKA))


@pytest.mark.parametrize(
    ("rule", "selected", "spent"),
    [
        ("greedy", ["3", "8", "1", "6", "4", "7", "5"], "116700"),
        ("greedy-no-skip", ["3", "8", "1", "6", "4"], "99800"),
    ],
)
def test_greedy_json(rule, selected, spent):
    result = run(str(DATA / "poland_krakow_2018_wzgorza-krzeslawickie.pb"), "--rule", rule)
    assert (result["selected"], result["spent"], result["variant"]) == (
        selected,
        spent,
        {"rule": rule, "tie_break": "name"},
    )


def test_decimal_costs_give_an_exact_spend(tmp_path):
    path = tmp_path / "decimal.pb"
    path.write_text(
        "META\nkey;value\nbudget;10.5\nvote_type;approval\n"
        "PROJECTS\nproject_id;cost\na;3.25\nb;7.1\nc;9\n"
        "VOTES\nvoter_id;vote\n1;a,b\n2;b\n3;c\n",
        encoding="utf-8",
    )
    result = run(str(path), "--rule", "phragmen")
    # b at time 7.1 / 2; a at 3.25; c at 9: a, then b at (3.25 + 7.1) / 2; then c does not fit.
    assert (result["selected"], result["spent"]) == (["a", "b"], "207/20")


def test_readable_summary():
    out = StringIO()
    call_command("tally_pabulib", ASSEN, "--rule", "greedy", stdout=out)
    text = out.getvalue()
    assert text.startswith("Assen Top Idee: 84 voters, 14 projects, budget 100000\n")
    assert "Rule: rule=greedy, tie_break=name\n" in text
    assert "  3  7200  PopUp Podium\n" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "greedy", "--completion", "add1"], "completion only applies to the mes rule"),
        (["--rule", "phragmen", "--comparison"], "comparison only applies to the mes rule"),
        (["--rule", "mes", "--no-exhaustive-stop"], "--exhaustive-stop/--no-exhaustive-stop only"),
        (["--rule", "mes", "--integral-start"], "--integral-start/--no-integral-start only"),
        (["--rule", "greedy", "--seed", "3"], "--seed only applies with --tie-break cost-votes"),
    ],
)
def test_bad_option_combinations(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("tally_pabulib", ASSEN, *args, stdout=StringIO())


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_text("META\nkey;value\nbudget;ten\nPROJECTS\nproject_id;cost\nVOTES\nvoter_id;vote\n")
    with pytest.raises(CommandError, match="bad.pb: line 3: budget 'ten' is not a number"):
        call_command("tally_pabulib", str(bad), "--rule", "greedy", stdout=StringIO())
    with pytest.raises(CommandError, match="cannot read .*missing.pb: No such file"):
        call_command("tally_pabulib", str(tmp_path / "missing.pb"), "--rule", "greedy")


def test_unknown_rule_exits_non_zero():
    with pytest.raises(CommandError, match="invalid choice: 'borda'"):
        call_command("tally_pabulib", ASSEN, "--rule", "borda")
