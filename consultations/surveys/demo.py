"""Demo consultations for ``seed_demo``: one open (every journey can be tried, with responses
already in from several channels) and one closed with its outcome published.

Idempotent: nothing is created if the demo consultations exist. Built through the services,
as staff would (the audit log shows the system as the actor).
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from engagement.places.models import Postcode

from . import responses, services
from .models import Consultation, Question

DEMO_SEED = 2026
OPEN_SLUG = "town-centre-traffic"
K = Question.Kind


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    from django.utils.text import slugify

    return [{"value": slugify(en), "label": en, "label_cy": cy} for en, cy in pairs]


def _questionnaire(consultation: Consultation) -> None:
    version = consultation.current_version
    views = services.section_save(
        actor=None,
        version=version,
        title="Your views",
        title_cy="Eich barn",
        intro="Tell us what you think of the plan to close High Street to through traffic.",
        intro_cy="Dywedwch wrthym beth yw eich barn am y cynllun i gau'r Stryd Fawr i draffig.",
    )
    agree = _options(("Yes", "Ydw"), ("No", "Nac ydw"), ("Not sure", "Ddim yn siŵr"))
    services.question_save(
        actor=None,
        section=views,
        kind=K.SINGLE,
        text="Do you support closing High Street to through traffic",
        text_cy="Ydych chi'n cefnogi cau'r Stryd Fawr i draffig trwodd",
        required=True,
        options=agree,
    )
    services.question_save(
        actor=None,
        section=views,
        kind=K.LONG_TEXT,
        text="Why do you not support it",
        text_cy="Pam nad ydych chi'n ei gefnogi",
        condition={"question": "do-you-support-closing-high-st", "values": ["no"]},
    )
    services.question_save(
        actor=None,
        section=views,
        kind=K.MULTIPLE,
        text="How do you usually travel to the town centre",
        text_cy="Sut ydych chi fel arfer yn teithio i ganol y dref",
        help_text="Choose up to two.",
        help_text_cy="Dewiswch hyd at ddau.",
        options=_options(
            ("Walking", "Cerdded"), ("Bicycle", "Beic"), ("Bus", "Bws"), ("Car", "Car")
        ),
        max_choices=2,
    )
    services.question_save(
        actor=None,
        section=views,
        kind=K.MATRIX,
        text="How much do you agree with each aim",
        text_cy="I ba raddau ydych chi'n cytuno â phob nod",
        options=_options(("Agree", "Cytuno"), ("Neutral", "Niwtral"), ("Disagree", "Anghytuno")),
        rows=_options(("Cleaner air", "Aer glanach"), ("Safer streets", "Strydoedd mwy diogel")),
    )
    services.question_save(
        actor=None,
        section=views,
        kind=K.POSTCODE,
        text="Your postcode",
        text_cy="Eich cod post",
        help_text="So we can see views by ward.",
        help_text_cy="Er mwyn i ni weld barn fesul ward.",
    )
    about = services.section_save(
        actor=None,
        version=version,
        title="About you",
        title_cy="Amdanoch chi",
        equality=True,
    )
    services.question_save(
        actor=None,
        section=about,
        kind=K.SINGLE,
        text="Your age group",
        text_cy="Eich grŵp oedran",
        options=_options(
            ("Under 30", "O dan 30"), ("30 to 64", "30 i 64"), ("65 or over", "65 neu hŷn")
        ),
    )


def seed_consultations() -> bool:
    if Consultation.objects.filter(slug=OPEN_SLUG).exists():
        return False
    postcodes = list(Postcode.objects.order_by("postcode").values_list("postcode", flat=True)[:40])
    now = timezone.now()
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data
    consultation = services.consultation_create(
        actor=None,
        slug=OPEN_SLUG,
        title="Town centre traffic and parking",
        title_cy="Traffig a pharcio yng nghanol y dref",
        summary=(
            "We propose to close High Street to through traffic on weekdays from 10am to 4pm, "
            "with more blue-badge parking on Market Square."
        ),
        summary_cy=(
            "Rydym yn cynnig cau'r Stryd Fawr i draffig trwodd ar ddyddiau'r wythnos rhwng 10am "
            "a 4pm, gyda mwy o leoedd parcio bathodyn glas ar Sgwâr y Farchnad."
        ),
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=35),
    )
    _questionnaire(consultation)
    services.consultation_publish(actor=None, consultation=consultation)
    consultation.refresh_from_db()
    for n in range(24):
        answer = rng.choice(["yes", "yes", "no", "not-sure"])
        raw = {
            "do-you-support-closing-high-st": answer,
            "why-do-you-not-support-it": rng.choice(
                ["Deliveries to my shop would be hard.", "The buses are too slow already."]
            )
            if answer == "no"
            else "",
            "how-do-you-usually-travel-to-t": rng.sample(["walking", "bicycle", "bus", "car"], 2),
            "how-much-do-you-agree-with-eac": {
                "cleaner-air": rng.choice(["agree", "neutral"]),
                "safer-streets": rng.choice(["agree", "disagree"]),
            },
            "your-postcode": rng.choice(postcodes) if postcodes else "",
            "your-age-group": rng.choice(["under-30", "30-to-64", "65-or-over"]),
        }
        responses.response_record(
            consultation=consultation,
            raw=raw,
            channel=rng.choice(["online", "online", "online", "post", "phone"]),
            token=f"demo-{n}",
        )
    closed = services.consultation_create(
        actor=None,
        slug="library-opening-hours",
        title="Library opening hours",
        title_cy="Oriau agor llyfrgelloedd",
        summary="We asked whether libraries should open later on Thursdays.",
        summary_cy="Gofynnon ni a ddylai llyfrgelloedd agor yn hwyrach ar ddydd Iau.",
        opens_at=now - timedelta(days=90),
        closes_at=now - timedelta(days=30),
    )
    section = services.section_save(
        actor=None, version=closed.current_version, title="Opening hours", title_cy="Oriau agor"
    )
    services.question_save(
        actor=None,
        section=section,
        kind=K.SINGLE,
        text="Should libraries open until 8pm on Thursdays",
        text_cy="A ddylai llyfrgelloedd agor tan 8pm ar ddydd Iau",
        required=True,
        options=_options(("Yes", "Dylen"), ("No", "Na ddylen")),
    )
    services.consultation_publish(actor=None, consultation=closed)
    for n in range(12):
        responses.response_record(
            consultation=closed,
            raw={"should-libraries-open-until-8p": "yes" if n % 4 else "no"},
            channel="online",
            token=f"demo-closed-{n}",
            check_open=False,
        )
    closed.refresh_from_db()
    services.outcome_publish(
        actor=None,
        consultation=closed,
        you_said="Three in four of you wanted later opening on Thursdays.",
        you_said_cy="Roedd tri o bob pedwar ohonoch eisiau agor yn hwyrach ar ddydd Iau.",
        we_did="From April, every library opens until 8pm on Thursdays.",
        we_did_cy="O fis Ebrill, bydd pob llyfrgell ar agor tan 8pm ar ddydd Iau.",
    )
    return True
