"""Conditional display as a pure function, with properties checked by hypothesis."""

from hypothesis import given
from hypothesis import strategies as st

from consultations.surveys.conditions import Item, prune, visible_keys

KEYS = [f"q{n}" for n in range(6)]
VALUES = ["a", "b", "c"]


@st.composite
def questionnaires(draw):
    """Up to six questions; each may depend on any key (earlier, later, itself or unknown)."""
    n = draw(st.integers(min_value=1, max_value=6))
    items = []
    for i in range(n):
        condition = draw(
            st.one_of(
                st.just({}),
                st.fixed_dictionaries(
                    {
                        "question": st.sampled_from([*KEYS, "nope"]),
                        "values": st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
                    }
                ),
            )
        )
        section = draw(st.one_of(st.just({}), st.just(condition)))
        items.append(Item(key=KEYS[i], condition=condition, section_condition=section))
    return items


answer_values = st.one_of(
    st.none(), st.sampled_from(VALUES), st.lists(st.sampled_from(VALUES), max_size=3), st.just(True)
)
answer_sets = st.dictionaries(st.sampled_from(KEYS), answer_values)


@given(questionnaires(), answer_sets)
def test_only_answers_to_shown_questions_are_kept(items, answers):
    kept = prune(items, answers)
    shown = visible_keys(items, answers)
    assert set(kept) <= set(shown)
    assert all(kept[k] == answers[k] for k in kept)
    assert all(answers.get(k) is not None for k in kept)


@given(questionnaires(), answer_sets)
def test_hidden_answers_change_nothing(items, answers):
    """Whatever was answered to hidden questions, what is shown and kept is the same as if
    they had never been answered: tampering with a hidden field has no effect."""
    kept = prune(items, answers)
    assert visible_keys(items, kept) == visible_keys(items, answers)
    assert prune(items, kept) == kept


@given(questionnaires(), answer_sets)
def test_a_condition_never_looks_forward(items, answers):
    """Whether a question shows depends only on answers to questions before it."""
    shown = visible_keys(items, answers)
    for i, item in enumerate(items):
        earlier = {k: v for k, v in answers.items() if k in {x.key for x in items[:i]}}
        assert (item.key in visible_keys(items[: i + 1], earlier)) == (item.key in shown)


@given(questionnaires(), answer_sets)
def test_unconditional_questions_always_show(items, answers):
    shown = visible_keys(items, answers)
    for item in items:
        if not item.condition and not item.section_condition:
            assert item.key in shown


def test_examples():
    items = [
        Item("agree"),
        Item("why", condition={"question": "agree", "values": ["no"]}),
        Item("how", condition={"question": "why", "values": ["x"]}),
        Item("days"),
        Item("sat", condition={"question": "days", "values": ["saturday"]}),
        Item("consented", condition={"question": "consent", "values": ["yes"]}),
    ]
    answers = {"agree": "yes", "why": "x", "how": "y", "days": ["monday", "saturday"], "sat": "z"}
    assert visible_keys(items, answers) == ["agree", "days", "sat"]
    assert prune(items, answers) == {"agree": "yes", "days": ["monday", "saturday"], "sat": "z"}
    assert visible_keys(items, {"agree": "no", "why": "x"}) == ["agree", "why", "how", "days"]
    assert visible_keys(
        [Item("consent"), Item("more", condition={"question": "consent", "values": ["yes"]})],
        {"consent": True},
    ) == ["consent", "more"]
