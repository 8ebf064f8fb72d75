from fractions import Fraction

import pytest

from budgets.tally.pabulib import (
    PabulibError,
    election_from_pabulib,
    parse_pabulib,
    read_pabulib,
)

from .conftest import DATA

GOOD = """META
key;value
description;"Toy; with a semicolon"
budget;100.50
vote_type;approval
PROJECTS
project_id;cost;name
1;50.25;"Park; benches"
2;40;Library
10;10;Bins
VOTES
voter_id;vote
v1;1,2
v2;10
v3;
"""


def test_parses_sections_quotes_and_exact_decimals():
    pb = parse_pabulib(GOOD)

    assert pb.meta["description"] == "Toy; with a semicolon"
    assert pb.budget == Fraction(201, 2)
    assert pb.vote_type == "approval"
    assert list(pb.projects) == ["1", "2", "10"]
    assert pb.projects["1"].cost == Fraction(201, 4)
    assert pb.projects["1"].fields["name"] == "Park; benches"
    assert [(v.voter_id, v.projects) for v in pb.votes] == [
        ("v1", ("1", "2")),
        ("v2", ("10",)),
        ("v3", ()),
    ]


def test_cumulative_points_and_ordinal_order(data_file):
    gdansk = data_file("poland_gdansk_2020_rudniki.pb")
    assert gdansk.vote_type == "cumulative"
    assert (gdansk.votes[0].voter_id, gdansk.votes[0].projects) == ("290", ("2",))
    assert gdansk.votes[0].points == (Fraction(1),)
    score = {pid: Fraction(0) for pid in gdansk.projects}
    for vote in gdansk.votes:
        for pid, points in zip(vote.projects, vote.points, strict=True):
            score[pid] += points
    assert score == {pid: Fraction(p.fields["score"]) for pid, p in gdansk.projects.items()}

    krakow = data_file("poland_krakow_2018_wzgorza-krzeslawickie.pb")
    assert krakow.vote_type == "ordinal"
    assert krakow.votes[0].projects == ("1", "4", "2")  # most preferred first, as written


@pytest.mark.parametrize(
    "name",
    sorted(path.name for path in DATA.glob("*.pb")),
)
def test_vote_counts_match_the_published_votes_column(name):
    pb = read_pabulib(DATA / name)
    election = election_from_pabulib(pb)

    assert election.voters == len(pb.votes) == int(pb.meta["num_votes"])
    assert len(pb.projects) == int(pb.meta["num_projects"])
    assert election.votes == {pid: int(p.fields["votes"]) for pid, p in pb.projects.items()}


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        (GOOD.split("VOTES")[0], "missing section VOTES"),
        (
            _replace("PROJECTS\nproject_id;cost;name\n", ""),
            "line 9: expected section PROJECTS, found VOTES",
        ),
        (_replace("META\nkey;value\n", ""), "line 1: expected section META"),
        (_replace("budget;100.50", "budget;lots"), "line 4: budget 'lots' is not a number"),
        (_replace("budget;100.50\n", ""), "META has no 'budget'"),
        (_replace("2;40;Library", "2;4O;Library"), "line 9: cost of project '2' '4O' is not"),
        (_replace("2;40;Library", "2;-40;Library"), "line 9: cost of project '2' is negative"),
        (_replace("2;40;Library", "1;40;Library"), "line 9: duplicate project id '1'"),
        (_replace("v2;10", "v2;11"), "line 14: voter 'v2' votes for unknown project '11'"),
        (_replace("v2;10", "v2;10,10"), "line 14: voter 'v2' lists a project twice"),
        (_replace("v2;10", "v1;10"), "line 14: duplicate voter_id 'v1'"),
        (_replace("v2;10", "v2;10;extra"), "line 14: VOTES row has 3 fields, the header has 2"),
        (_replace("vote_type;approval", "vote_type;lottery"), "line 5: unknown vote_type"),
        (_replace("voter_id;vote", "voter_id;ballot"), "line 12: VOTES header has no 'vote'"),
        (_replace("VOTES", "VOTES\n\nVOTES"), "line 13: section VOTES appears twice"),
        (_replace('"Park; benches"', '"Park; benches'), "line 8: cannot split the row"),
        (
            _replace("vote_type;approval", "vote_type;cumulative").replace(
                "voter_id;vote", "voter_id;vote;points"
            ),
            "line 13: VOTES row has 2 fields, the header has 3",
        ),
    ],
)
def test_malformed_files_name_the_line(text, message):
    with pytest.raises(PabulibError, match="^" + message.replace("(", r"\(")):
        parse_pabulib(text)


def test_points_must_match_the_projects():
    text = (
        _replace("vote_type;approval", "vote_type;cumulative")
        .replace("voter_id;vote\n", "voter_id;vote;points\n")
        .replace("v1;1,2\n", "v1;1,2;3\n")
        .replace("v2;10\n", "v2;10;1\n")
        .replace("v3;\n", "v3;;\n")
    )
    with pytest.raises(PabulibError, match="^line 13: voter 'v1' has 2 projects but 1 points$"):
        parse_pabulib(text)


def test_unreadable_file(tmp_path):
    path = tmp_path / "latin1.pb"
    path.write_bytes("META\nkey;value\nbudget;1\ndescription;Łódź".encode("utf-16"))
    with pytest.raises(PabulibError, match="not UTF-8 text"):
        read_pabulib(path)
