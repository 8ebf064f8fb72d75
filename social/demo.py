"""Demo social listening for ``seed_demo``: teams, topic rules, saved replies, a gazetteer from
the demo wards, three sources (switched off: the demo has no network credentials; point them
at the fake servers with the SOCIAL_*_BASE_URL settings to try polling) and a dozen posts
routed into cases through the real routing, so every case has its trace.

Idempotent: nothing is created if the demo sources exist.
"""

from datetime import timedelta

from django.utils import timezone

from engagement.people.models import Councillor
from engagement.places.models import Postcode, Ward

from .models import (
    GazetteerEntry,
    Label,
    ListeningSettings,
    Post,
    RoutingRule,
    SavedReply,
    Source,
    Team,
)
from .routing import gazetteer_forget, normalise_name, rules_forget
from .services import listening_settings, post_route

TOPICS = [
    ("Waste and recycling", "bins\nbin\nrecycling\nfly-tipping\nfly tipping\nlitter", "waste"),
    ("Roads", "pothole\npotholes\nroad\nstreetlight\nstreet light\npavement", "highways"),
    ("Parking", "parking\nparked\nresidents permit\ntraffic warden", "highways"),
    ("Housing", "housing\nhomeless\ndamp\nmould\ncouncil house", "housing"),
    ("Council tax", "council tax\nbill\nbenefits", "revenues"),
    ("Planning", "planning\nplanning application\nextension\nbuilding", None),
]


def seed_social() -> bool:
    if Source.objects.filter(name__startswith="Demo:").exists():
        return False
    wards = list(Ward.objects.order_by("name").defer("boundary"))
    if not wards:
        return False
    ListeningSettings.objects.get_or_create(
        pk=1, defaults={"own_handles": "@demo_council\ndemo_council@mastodon.example"}
    )
    listening_settings.forget()
    Team.objects.get_or_create(
        slug="democratic-services", defaults={"name": "Democratic services", "is_triage": True}
    )
    teams = {}
    for slug, name in [
        ("waste", "Waste and recycling"),
        ("highways", "Highways"),
        ("housing", "Housing"),
        ("revenues", "Council tax and benefits"),
    ]:
        teams[slug], _ = Team.objects.get_or_create(slug=slug, defaults={"name": name})
    holder = Councillor.objects.exclude(portfolio="").order_by("name").first()
    for order, (topic, words, team) in enumerate(TOPICS, start=1):
        RoutingRule.objects.get_or_create(
            name=topic,
            defaults={
                "keywords": words,
                "team": teams.get(team),
                "order": order * 10,
                "councillor": holder if team is None else None,
            },
        )
    for title, text in [
        ("Thanks, passed on", "Thank you for letting us know. We have passed this to the team."),
        ("Need more detail", "Thanks. Could you tell us the street name or postcode?"),
        ("Fixed", "This has now been fixed. Thank you for reporting it."),
    ]:
        SavedReply.objects.get_or_create(title=title, defaults={"text": text})
    for name in ("Urgent", "Press interest", "Repeat report"):
        Label.objects.get_or_create(name=name)
    for ward in wards:
        street = f"{ward.name} Road"
        GazetteerEntry.objects.get_or_create(
            normalised=normalise_name(street), ward=ward, defaults={"name": street}
        )
    gazetteer_forget()
    rules_forget()
    x = Source.objects.create(
        name="Demo: council mentions",
        network="x",
        kind="mentions",
        account="demo_council",
        secret="demo-token",  # noqa: S106 (a placeholder; the source is off)
        enabled=False,
    )
    Source.objects.create(
        name="Demo: Mastodon mentions",
        network="mastodon",
        kind="mentions",
        account="demo_council",
        secret="demo-token",  # noqa: S106 (a placeholder; the source is off)
        enabled=False,
    )
    Source.objects.create(
        name="Demo: Bluesky search",
        network="bluesky",
        kind="search",
        account="demo-council.bsky.social",
        query="demo council",
        secret="demo-password",  # noqa: S106 (a placeholder; the source is off)
        enabled=False,
    )
    postcode = Postcode.objects.select_related("ward").order_by("postcode").first()
    first = wards[0]
    lon = (first.min_lon + first.max_lon) / 2
    lat = (first.min_lat + first.max_lat) / 2
    posts = [
        ("ffion_h", "The bins on our street were missed again this week", {}),
        (
            "dai_jones",
            f"Huge pothole outside number 12, {postcode.postcode if postcode else ''}",
            {},
        ),
        ("gwen_cf", f"Fly-tipping on {wards[-1].name} Road behind the shops", {}),
        ("rhys88", "Streetlight flickering all night", {"lon": lon, "lat": lat}),
        ("anon_walker", "Is the library open on Saturdays?", {}),
        ("seren_w", "Damp and mould in our council house, nobody replies", {}),
        ("tom_b", "When is the planning application for the old school decided?", {}),
        ("megan_p", "Parking on the pavement makes it impossible with a pushchair", {}),
    ]
    now = timezone.now()
    for n, (handle, text, extra) in enumerate(posts):
        post = Post.objects.create(
            network="x",
            external_id=str(1900000000000000000 + n),
            source=x,
            author_handle=handle,
            text=text,
            posted_at=now - timedelta(hours=3 * (len(posts) - n)),
            url=f"https://x.com/{handle}/status/{1900000000000000000 + n}",
            **extra,
        )
        post_route(post_id=post.pk)
    return True
