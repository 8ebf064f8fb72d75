"""Routing: each signal, the readable trace, multi-member wards, replies joining cases,
the extension point for other modules, and idempotence."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engagement.realtime.models import StreamEvent
from social import routing, services
from social.models import (
    Case,
    CaseEvent,
    GazetteerEntry,
    LiveChange,
    Post,
    RoutingRule,
    SocialIdentity,
    Team,
)
from tests.factories import PostcodeFactory, make_user

from .factories import PostFactory

pytestmark = pytest.mark.django_db


def route(**kwargs) -> Case:
    post = PostFactory(**kwargs)
    return services.post_route(post_id=post.pk)


def lines(case: Case) -> list[str]:
    return routing.trace_lines(case.trace)


def test_geotag_places_the_case_and_the_rota_shares_a_multi_member_ward(wards):
    first = route(lon=-3.19, lat=51.49, text="Fly-tipping here")
    second = route(lon=-3.19, lat=51.49, text="And more here")
    third = route(lon=-3.19, lat=51.49, text="Still here")
    assert first.ward == wards["canol"]
    assert [first.owner, second.owner, third.owner] == [
        wards["anwen"],
        wards["bryn"],
        wards["anwen"],
    ]
    assert list(first.watchers.all()) == [wards["bryn"]]
    assert first.target == "councillor"
    assert lines(first) == [
        "The geotag (51.49, -3.19) is in Canol ward.",
        "No topic rule matched.",
        "Cllr Anwen Ap owns it as a councillor for Canol ward.",
        "Watching: Cllr Bryn Bowen.",
    ]


def test_geotag_outside_every_ward_falls_through(wards):
    case = route(lon=0.5, lat=50.0, text="Hello")
    assert case.target == "triage"
    assert lines(case)[0] == "The geotag (50.0, 0.5) is outside every ward."
    assert (
        lines(case)[-1] == "Nothing placed it or matched a topic, so it went to the triage queue."
    )


def test_postcode_in_the_text(wards):
    PostcodeFactory(postcode="CF10 1EP", ward=wards["glan"])
    case = route(text="Streetlight out near cf101ep since Monday")
    assert case.ward == wards["glan"]
    assert case.owner == wards["ceri"]
    assert lines(case)[:2] == [
        "The post has no geotag.",
        "The postcode CF10 1EP in the text is in Glan ward.",
    ]
    assert list(case.watchers.all()) == []


def test_unknown_postcode_is_said_in_the_trace(wards):
    case = route(text="Problem at SW1A 1AA")
    assert "The postcode SW1A 1AA in the text is not in the council's area." in lines(case)
    assert case.target == "triage"


def test_gazetteer_names_longest_first_and_ambiguous_names_skipped(wards):
    GazetteerEntry.objects.create(name="Heol y Plas", normalised="heol y plas", ward=wards["glan"])
    GazetteerEntry.objects.create(name="High Street", normalised="high street", ward=wards["canol"])
    GazetteerEntry.objects.create(name="High Street", normalised="high street", ward=wards["glan"])
    routing.gazetteer_forget()
    case = route(text="Pothole on Heol-y-Plas, again!")
    assert case.ward == wards["glan"]
    assert "“Heol y Plas” in the text is in Glan ward (gazetteer)." in lines(case)
    ambiguous = route(author_handle="someone_else", text="Bins on High Street")
    assert ambiguous.ward is None
    assert (
        "“High Street” is in more than one ward (Canol, Glan), so it did not decide the ward."
        in lines(ambiguous)
    )


def test_author_linked_to_a_resident(wards):
    user = make_user("rhian@example.org")
    user.ward = wards["glan"]
    user.save()
    SocialIdentity.objects.create(
        user=user, network="x", handle="rhian_cf", verified_at=timezone.now()
    )
    SocialIdentity.objects.create(user=make_user(), network="x", handle="unverified")
    case = route(author_handle="Rhian_CF", text="Thanks for fixing it")
    assert case.ward == wards["glan"]
    assert case.resident == user
    assert "The author is linked to a resident account in Glan ward." in lines(case)
    assert route(author_handle="unverified", text="Hi").ward is None


def test_earlier_cases_from_the_same_author(wards):
    first = route(author_handle="gwen", lon=-3.17, lat=51.49, text="Bins")
    later = route(author_handle="gwen", text="Still no bins")
    assert later.ward == wards["glan"]
    assert f"The author's earlier case #{first.pk} was in Glan ward." in lines(later)


def test_topic_rule_sends_unplaced_posts_to_the_portfolio_holder_or_team(wards):
    waste = Team.objects.create(name="Waste", slug="waste")
    RoutingRule.objects.create(name="Waste", keywords="bins\nrecycling", team=waste, priority=3)
    RoutingRule.objects.create(
        name="Planning", keywords="planning application", councillor=wards["ceri"]
    )
    routing.rules_forget()
    to_team = route(text="My recycling was missed")
    assert (to_team.target, to_team.team, to_team.topic, to_team.priority) == (
        "team",
        waste,
        "Waste",
        3,
    )
    assert "The words “recycling” match the topic rule “Waste”." in lines(to_team)
    assert "The Waste team handles “Waste”." in lines(to_team)
    to_cllr = route(text="About the Planning Application on the corner")
    assert (to_cllr.target, to_cllr.owner) == ("councillor", wards["ceri"])
    assert "Cllr Ceri Cole owns it as the councillor for “Planning”." in lines(to_cllr)
    # Whole words only: "binsley" is not "bins".
    assert route(text="Binsley Road").target == "triage"


def test_placed_post_with_a_topic_keeps_the_ward_owner_and_the_portfolio_holder_watches(wards):
    RoutingRule.objects.create(name="Planning", keywords="planning", councillor=wards["ceri"])
    routing.rules_forget()
    case = route(lon=-3.19, lat=51.49, text="planning notice on the lamp post")
    assert case.owner == wards["anwen"]
    assert set(case.watchers.all()) == {wards["bryn"], wards["ceri"]}
    assert case.topic == "Planning"


def test_nothing_matched_goes_to_the_triage_team(wards):
    triage = Team.objects.create(name="Democratic services", slug="ds", is_triage=True)
    case = route(text="Hello")
    assert (case.target, case.team, case.owner) == ("triage", triage, None)
    assert lines(case) == [
        "The post has no geotag.",
        "There is no postcode in the text.",
        "No street or place name from the gazetteer is in the text.",
        "The author is not linked to a resident account with a ward.",
        "The author has no earlier case with a ward.",
        "No topic rule matched.",
        "Nothing placed it or matched a topic, so it went to the triage queue.",
    ]


def test_replies_join_their_case_and_reopen_it(wards, staff):
    case = route(external_id="100", text="Bins", conversation_id="100")
    services.case_set_state(case=case, actor=staff, state="waiting")
    joined = route(
        external_id="101", in_reply_to_id="100", conversation_id="100", text="Here is the photo"
    )
    assert joined.pk == case.pk
    assert joined.state == "open"
    assert Case.objects.count() == 1
    assert Post.objects.filter(case=case).count() == 2
    assert list(case.events.values_list("kind", flat=True)) == ["created", "state", "post", "state"]


def test_thread_replies_join_by_conversation(wards):
    case = route(external_id="200", conversation_id="200", text="Bins")
    other = route(external_id="202", conversation_id="200", in_reply_to_id="201", text="+1")
    assert other.pk == case.pk


def test_routing_twice_creates_one_case(wards):
    post = PostFactory(text="Bins")
    first = services.post_route(post_id=post.pk)
    again = services.post_route(post_id=post.pk)
    assert first.pk == again.pk
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(kind="created").count() == 1


def test_new_case_is_published_to_the_owner_watchers_and_staff(
    wards, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = route(lon=-3.19, lat=51.49, text="Graffiti")
    streams = set(
        StreamEvent.objects.filter(event="social.case.created").values_list("stream", flat=True)
    )
    assert streams == {
        "social-inbox.staff",
        f"social-inbox.{wards['anwen'].pk}",
        f"social-inbox.{wards['bryn'].pk}",
    }
    html = StreamEvent.objects.filter(stream="social-inbox.staff").get().html
    assert f'id="case-{case.pk}"' in html
    assert 'hx-swap-oob="afterbegin:#case-list"' in html


def test_due_times_follow_the_councils_targets(wards):
    from social.models import ListeningSettings

    ListeningSettings.objects.create(first_response_hours=4, resolution_hours=16)
    services.listening_settings.forget()
    case = route(text="Hi", posted_at=timezone.now() - timedelta(minutes=5))
    assert case.first_response_due > case.created_at
    assert case.resolution_due > case.first_response_due


def test_other_modules_can_divert_posts_before_routing(wards):
    """The live questions will register a diverter for meeting hashtags; this is its shape."""

    def meeting_hashtag(post):
        if "#fullcouncil" in post.text.lower():
            return routing.Diversion(target="meeting", detail="Full council question queue")
        return None

    routing.register_diverter(meeting_hashtag)
    try:
        post = PostFactory(text="Will the leader answer? #FullCouncil")
        assert services.post_route(post_id=post.pk) is None
        post.refresh_from_db()
        assert post.ignored == "diverted to meeting"
        assert post.routed_at is not None
        assert Case.objects.count() == 0
        assert route(text="Not for the meeting").target == "triage"
    finally:
        routing.unregister_diverter(meeting_hashtag)


def test_a_portfolio_holder_who_is_also_a_ward_councillor_watches_once(wards):
    RoutingRule.objects.create(name="Planning", keywords="planning", councillor=wards["bryn"])
    routing.rules_forget()
    case = route(lon=-3.19, lat=51.49, text="planning notice")
    assert case.owner == wards["anwen"]
    assert list(case.watchers.all()) == [wards["bryn"]]


def test_a_batch_publishes_one_event_per_inbox_with_only_its_cases(
    wards, django_capture_on_commit_callbacks
):
    canol = PostFactory(text="Canol thing", lon=-3.19, lat=51.49)
    glan = PostFactory(text="Glan thing", lon=-3.17, lat=51.49)
    with django_capture_on_commit_callbacks(execute=True):
        routed = services.posts_route(post_ids=[canol.pk, glan.pk])
    staff_event = StreamEvent.objects.get(stream="social-inbox.staff")
    assert staff_event.payload == {"cases": [routed[canol.pk].pk, routed[glan.pk].pk]}
    assert staff_event.html.count("<template>") == 2
    assert "Canol thing" in staff_event.html
    assert "Glan thing" in staff_event.html
    ceri = StreamEvent.objects.get(stream=f"social-inbox.{wards['ceri'].pk}")
    assert "Glan thing" in ceri.html
    assert "Canol thing" not in ceri.html
    assert "moot:row" not in ceri.html


def test_live_events_of_batches_routed_meanwhile_go_out_together(wards):
    """Routing leaves a live change per case in its transaction; the publishing job (queued
    once a tick) sends one event per inbox for everything waiting, and clears it."""
    first = route(text="First thing", lon=-3.19, lat=51.49)
    second = route(text="Second thing", lon=-3.19, lat=51.49)
    assert not StreamEvent.objects.exists()  # nothing committed yet, so nothing published
    assert LiveChange.objects.count() == 2
    assert services.live_publish_pending() == 2
    staff_event = StreamEvent.objects.get(stream="social-inbox.staff")
    assert staff_event.payload == {"cases": [first.pk, second.pk]}
    assert staff_event.event == "social.case.created"
    assert StreamEvent.objects.filter(stream=f"social-inbox.{wards['anwen'].pk}").count() == 1
    assert not LiveChange.objects.exists()
    assert services.live_publish_pending() == 0


def test_a_reply_publishes_its_case_as_changed(wards):
    case = route(external_id="300", conversation_id="300", text="Bins")
    services.live_publish_pending()
    route(external_id="301", in_reply_to_id="300", conversation_id="300", text="Still there")
    assert services.live_publish_pending() == 1
    event = StreamEvent.objects.filter(stream="social-inbox.staff").order_by("seq").last()
    assert event.event == "social.case.updated"
    assert event.payload == {"cases": [case.pk]}


def test_the_sweep_publishes_live_changes_whose_job_was_lost(wards):
    from social import tasks

    route(text="Lost job", lon=-3.19, lat=51.49)
    assert LiveChange.objects.count() == 1
    tasks.route_unrouted()  # eager in tests: the publishing job runs at once
    assert not LiveChange.objects.exists()
    assert StreamEvent.objects.filter(stream="social-inbox.staff").count() == 1


def test_a_drain_routes_the_oldest_waiting_posts_with_its_own(wards):
    first, second, third = (PostFactory(text=f"Thing {n}") for n in range(3))
    routed = services.posts_route(post_ids=[third.pk], drain=2)
    assert set(routed) == {first.pk, third.pk}
    assert Post.objects.get(pk=second.pk).routed_at is None
    services.posts_route(post_ids=[], drain=5)
    assert not Post.objects.filter(routed_at__isnull=True).exists()
    assert Case.objects.count() == 3


def test_a_post_that_fails_to_route_holds_up_nobody(wards):
    def explode(post):
        if "boom" in post.text:
            raise RuntimeError("a bug met a strange post")
        return

    good = PostFactory(text="Bins")
    bad = PostFactory(text="boom")
    later = PostFactory(text="Potholes")
    routing.register_diverter(explode)
    try:
        routed = services.posts_route(post_ids=[good.pk, bad.pk], drain=10)
        assert set(routed) == {good.pk, later.pk}
        assert Post.objects.get(pk=bad.pk).routed_at is None  # left for the sweep, not lost
        again = PostFactory(text="Streetlight")
        # Later drains leave the failing post out instead of failing on it every time.
        assert set(services.posts_route(post_ids=[], drain=10)) == {again.pk}
    finally:
        routing.unregister_diverter(explode)
    assert services.post_route(post_id=bad.pk).summary == "boom"
