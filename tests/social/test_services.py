"""Case services: replies posted through the real clients to the fake servers, approval, notes,
states, assignment, merging, escalation; bad input changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engagement.audit.models import AuditEntry
from engagement.notifications.models import Notification
from social import polling, services
from social.models import Case, CaseEvent, ListeningSettings, Post, Reply
from tests.factories import CouncillorFactory, make_user

pytestmark = pytest.mark.django_db


def poll(source):
    return polling.source_poll(source_id=source.pk, force=True, route=polling.route_now)


def test_reply_reaches_x_as_a_reply_and_joins_the_thread(
    fake_x, x_source, staff, django_capture_on_commit_callbacks
):
    tweet = fake_x.add_post("Bins not collected on Heol y Plas", mentions=fake_x.council_id)
    poll(x_source)
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.case_reply(case=case, actor=staff, text="Sorry, we will collect today.")
    reply.refresh_from_db()
    assert reply.state == "sent"
    assert fake_x.replies == [
        {"id": reply.external_id, "text": "Sorry, we will collect today.", "in_reply_to": tweet}
    ]
    case.refresh_from_db()
    assert case.state == "open"
    assert case.first_responded_at is not None
    outbound = Post.objects.get(is_outbound=True)
    assert (outbound.case, outbound.external_id) == (case, reply.external_id)
    assert AuditEntry.objects.filter(action="social.case.reply").count() == 1
    # The resident answers our reply: it joins the same case.
    fake_x.add_post("Thank you!", mentions=fake_x.council_id, in_reply_to=reply.external_id)
    poll(x_source)
    assert Case.objects.count() == 1
    assert case.posts.filter(is_outbound=False).count() == 2
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["created", "reply", "reply", "post"]


def test_reply_reaches_mastodon(
    fake_mastodon, mastodon_source, staff, django_capture_on_commit_callbacks
):
    status = fake_mastodon.add_post("Streetlight out")
    poll(mastodon_source)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reply(case=Case.objects.get(), actor=staff, text="Reported to highways.")
    assert fake_mastodon.replies[0]["in_reply_to"] == status
    assert fake_mastodon.replies[0]["text"] == "Reported to highways."
    assert Reply.objects.get().state == "sent"


def test_reply_reaches_bluesky_with_root_and_parent(
    fake_bluesky, bluesky_source, staff, django_capture_on_commit_callbacks
):
    uri = fake_bluesky.add_post("Flooding by the school")
    poll(bluesky_source)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reply(case=Case.objects.get(), actor=staff, text="Crews are on the way.")
    assert fake_bluesky.replies[0]["in_reply_to"] == uri
    record = fake_bluesky.calls("createRecord")[0].body["record"]
    assert record["reply"]["root"]["uri"] == uri
    assert record["reply"]["parent"]["uri"] == uri


def test_a_failed_reply_is_marked_with_the_reason_and_can_be_retried(
    fake_x, x_source, staff, django_capture_on_commit_callbacks
):
    fake_x.add_post("Potholes", mentions=fake_x.council_id)
    poll(x_source)
    fake_x.fail_next(503)
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.case_reply(case=Case.objects.get(), actor=staff, text="On it")
    reply.refresh_from_db()
    assert reply.state == "failed"
    assert reply.error == "X: server error 503"
    assert fake_x.replies == []
    services.reply_send(reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == "sent"
    # Sending again does nothing: a sent reply is never posted twice.
    services.reply_send(reply_id=reply.pk)
    assert len(fake_x.replies) == 1


def test_replies_wait_for_approval_when_the_council_asks(
    fake_x, x_source, staff, django_capture_on_commit_callbacks
):
    ListeningSettings.objects.create(replies_need_approval=True)
    services.listening_settings.forget()
    cllr_user = make_user("cllr2@example.org", roles=("councillor",))
    CouncillorFactory(user=cllr_user)
    fake_x.add_post("Bins", mentions=fake_x.council_id)
    poll(x_source)
    case = Case.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.case_reply(case=case, actor=cllr_user, text="I'll chase this")
    assert reply.state == "awaiting_approval"
    assert fake_x.replies == []
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_approve(reply=reply, actor=staff)
    reply.refresh_from_db()
    assert reply.state == "sent"
    assert len(fake_x.replies) == 1
    with pytest.raises(services.CaseError, match="not waiting for approval"):
        services.reply_approve(reply=reply, actor=staff)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the reply."),
        ("   ", "Enter the reply."),
        ("x" * 281, "The reply must be 280 characters or fewer; it has 281."),
        ("<script>alert(1)</script>", "Remove the HTML"),
        ("Hello\u202eworld", "Remove the hidden control character"),
    ],
)
def test_bad_replies_are_refused_and_nothing_is_stored(fake_x, x_source, staff, text, message):
    fake_x.add_post("Bins", mentions=fake_x.council_id)
    poll(x_source)
    case = Case.objects.get()
    with pytest.raises(services.CaseError, match=message.replace("(", r"\(")):
        services.case_reply(case=case, actor=staff, text=text)
    assert Reply.objects.count() == 0
    assert CaseEvent.objects.filter(kind="reply").count() == 0
    assert AuditEntry.objects.filter(action="social.case.reply").count() == 0


def test_no_reply_on_a_closed_case(staff):
    case = Case.objects.create(network="x", author_handle="a", summary="s", state="closed")
    with pytest.raises(services.CaseError, match="Reopen the case"):
        services.case_reply(case=case, actor=staff, text="Hi")


def test_state_moves_are_checked_and_recorded(staff):
    case = Case.objects.create(network="x", author_handle="a", summary="s")
    services.case_set_state(case=case, actor=staff, state="resolved")
    assert case.resolved_at is not None
    with pytest.raises(services.CaseError, match="A case that is Resolved cannot be made Waiting"):
        services.case_set_state(case=case, actor=staff, state="waiting")
    with pytest.raises(services.CaseError, match="Choose a state"):
        services.case_set_state(case=case, actor=staff, state="bogus")
    services.case_set_state(case=case, actor=staff, state="open")
    assert case.resolved_at is None
    assert list(case.events.values_list("data", flat=True)) == [
        {"from": "new", "to": "resolved"},
        {"from": "resolved", "to": "open"},
    ]
    assert AuditEntry.objects.filter(action="social.case.state").count() == 2


def test_notes_priority_labels_and_assignment(staff, wards):
    from social.models import Label, Team

    case = Case.objects.create(network="x", author_handle="a", summary="s", owner=wards["anwen"])
    services.case_note(case=case, actor=staff, text="Called the depot.")
    with pytest.raises(services.CaseError, match="Remove the HTML"):
        services.case_note(case=case, actor=staff, text="<b>x</b>")
    services.case_set_priority(case=case, actor=staff, priority=4)
    with pytest.raises(services.CaseError, match="Choose a priority"):
        services.case_set_priority(case=case, actor=staff, priority=9)
    urgent = Label.objects.create(name="Urgent")
    services.case_set_labels(case=case, actor=staff, labels=[urgent])
    team = Team.objects.create(name="Highways", slug="highways")
    services.case_assign(
        case=case,
        actor=staff,
        owner=wards["ceri"],
        team=team,
        watchers=[wards["anwen"], wards["ceri"]],
    )
    case.refresh_from_db()
    assert (case.owner, case.team, case.priority) == (wards["ceri"], team, 4)
    assert list(case.watchers.all()) == [wards["anwen"]]  # the owner does not watch
    assert list(case.labels.all()) == [urgent]
    assert list(case.events.values_list("kind", flat=True)) == [
        "note",
        "priority",
        "labels",
        "assign",
    ]
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {
        "social.case.note",
        "social.case.priority",
        "social.case.labels",
        "social.case.assign",
    }


def test_merging_duplicates(staff):
    from tests.social.factories import PostFactory

    keep = Case.objects.create(network="x", author_handle="a", summary="Bins")
    dup = Case.objects.create(network="x", author_handle="a", summary="Bins again")
    PostFactory(case=dup)
    services.case_merge(case=dup, into=keep, actor=staff)
    dup.refresh_from_db()
    assert (dup.state, dup.merged_into) == ("closed", keep)
    assert keep.posts.count() == 1
    with pytest.raises(services.CaseError, match="cannot be merged into itself"):
        services.case_merge(case=keep, into=keep, actor=staff)
    with pytest.raises(services.CaseError, match="was itself merged"):
        services.case_merge(case=keep, into=dup, actor=staff)


def test_overdue_cases_are_escalated_once(staff):
    boss = make_user("head@example.org", roles=("staff",))
    ListeningSettings.objects.create(escalate_to=boss)
    services.listening_settings.forget()
    past = timezone.now() - timedelta(hours=1)
    late = Case.objects.create(
        network="x", author_handle="a", summary="Late", first_response_due=past
    )
    Case.objects.create(
        network="x",
        author_handle="b",
        summary="Fine",
        first_response_due=timezone.now() + timedelta(hours=3),
    )
    Case.objects.create(
        network="x",
        author_handle="c",
        summary="Answered",
        first_response_due=past,
        first_responded_at=past,
    )
    assert services.case_escalate_overdue() == 1
    assert services.case_escalate_overdue() == 0
    note = Notification.objects.get(user=boss)
    assert note.subject == f"Case #{late.pk} missed its response target"
    assert late.events.get().kind == "escalated"


def test_spam_heuristics():
    from social.clients import Fetched

    def fetched(text, handle="resident", bot=False):
        return Fetched(
            external_id="1", author_handle=handle, text=text, posted_at=timezone.now(), is_bot=bot
        )

    assert services.spam_reason(fetched("Bins not collected")) == ""
    assert services.spam_reason(fetched("x", bot=True)) == "bot account"
    assert (
        services.spam_reason(fetched("a http://a b http://b http://c http://d")) == "too many links"
    )
    assert services.spam_reason(fetched("Win http://x", handle="crypto84736251")) == (
        "generated-looking account with a link"
    )
    assert services.spam_reason(fetched("Huge GIVEAWAY http://x")) == "spam phrase with a link"
    assert services.spam_reason(fetched("@a @b @c @d @e @f @g hi")) == "too many mentions"


def test_personal_data_export_and_anonymise(wards):
    from engagement.accounts.personal_data import SECTIONS
    from social.models import SocialIdentity
    from tests.social.factories import PostFactory

    user = make_user("gwen@example.org")
    SocialIdentity.objects.create(
        user=user, network="x", handle="gwen_cf", verified_at=timezone.now()
    )
    post = PostFactory(author_handle="gwen_cf", text="Bins please")
    case = services.post_route(post_id=post.pk)
    assert case.resident == user
    data = SECTIONS["social"].export(user)
    assert data["accounts"][0]["handle"] == "gwen_cf"
    assert data["cases"][0]["posts"][0]["text"] == "Bins please"
    SECTIONS["social"].anonymise(user)
    case.refresh_from_db()
    assert case.resident is None
    assert not SocialIdentity.objects.filter(user=user).exists()


def test_daily_digest_lists_each_councillors_due_and_overdue_cases(wards):
    user = make_user("anwen-digest@example.org", roles=("councillor",))
    wards["anwen"].user = user
    wards["anwen"].save()
    now = timezone.now()
    late = Case.objects.create(
        network="x",
        author_handle="a",
        summary="Late one",
        owner=wards["anwen"],
        first_response_due=now - timedelta(hours=2),
    )
    soon = Case.objects.create(
        network="x",
        author_handle="b",
        summary="Soon one",
        owner=wards["anwen"],
        first_response_due=now + timedelta(hours=5),
    )
    Case.objects.create(
        network="x",
        author_handle="c",
        summary="Later",
        owner=wards["anwen"],
        first_response_due=now + timedelta(days=3),
    )
    Case.objects.create(
        network="x",
        author_handle="d",
        summary="Someone else's",
        owner=wards["ceri"],
        first_response_due=now - timedelta(hours=2),
    )
    assert services.due_digests_notify(now=now) == 1
    note = Notification.objects.get(user=user)
    assert note.kind == "social_due"
    assert note.delivery == "daily"
    assert note.subject == "2 social cases due or overdue"
    assert note.body == f"OVERDUE #{late.pk} Late one\ndue soon #{soon.pk} Soon one"
    assert note.url == "/inbox/?view=overdue"


def test_cases_past_retention_are_anonymised_but_still_counted(wards):
    from engagement.council.models import CouncilSettings
    from tests.social.factories import PostFactory

    CouncilSettings.objects.update_or_create(pk=1, defaults={"retention_social_case_days": 30})
    from engagement.council.selectors import council_settings_forget

    council_settings_forget()
    old = Case.objects.create(
        network="x",
        author_handle="gwen",
        summary="Bins at 4 Heol",
        state="closed",
        owner=wards["anwen"],
        ward=wards["canol"],
    )
    PostFactory(case=old, author_handle="gwen", text="Bins at 4 Heol", url="https://x.com/g/1")
    CaseEvent.objects.create(case=old, kind="note", text="Gwen is my neighbour")
    recent = Case.objects.create(
        network="x", author_handle="ifan", summary="Lights", state="closed"
    )
    still_open = Case.objects.create(network="x", author_handle="siw", summary="Open", state="open")
    long_ago = timezone.now() - timedelta(days=40)
    Case.objects.filter(pk__in=[old.pk, still_open.pk]).update(updated_at=long_ago)
    assert services.cases_anonymise_expired() == 1
    old.refresh_from_db()
    post = old.posts.get()
    assert (old.summary, old.author_handle, old.ward, old.owner) == (
        "(removed after the retention period)",
        "",
        wards["canol"],
        wards["anwen"],
    )
    assert (post.text, post.url, post.author_handle) == ("", "", "")
    assert old.events.get().text == ""
    assert Case.objects.get(pk=recent.pk).summary == "Lights"
    assert Case.objects.get(pk=still_open.pk).summary == "Open"
    assert services.cases_anonymise_expired() == 0
    assert AuditEntry.objects.filter(action="social.retention").count() == 1
