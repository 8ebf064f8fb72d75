"""Consultations for tests: built through the services, as staff would."""

from datetime import timedelta

from django.utils import timezone

from consultations.surveys import services
from consultations.surveys.models import Consultation, Question


def opt(*labels: str) -> list[dict[str, str]]:
    return [
        {"value": label.lower(), "label": label, "label_cy": f"{label} (cy)"} for label in labels
    ]


def make_consultation(staff, *, published=True, opens=-1, closes=10, **fields) -> Consultation:
    now = timezone.now()
    defaults = {
        "title": "Library opening hours",
        "title_cy": "Oriau agor y llyfrgell",
        "summary": "We propose to open later on Saturdays.",
        "summary_cy": "Rydym yn cynnig agor yn hwyrach ar ddydd Sadwrn.",
        "opens_at": now + timedelta(days=opens),
        "closes_at": now + timedelta(days=closes),
    }
    consultation = services.consultation_create(actor=staff, **(defaults | fields))
    section = services.section_save(
        actor=staff,
        version=consultation.current_version,
        title="Your views",
        title_cy="Eich barn",
    )
    services.question_save(
        actor=staff,
        section=section,
        kind=Question.Kind.SINGLE,
        text="Do you agree",
        text_cy="Ydych chi'n cytuno",
        required=True,
        options=opt("Yes", "No"),
    )
    services.question_save(
        actor=staff,
        section=section,
        kind=Question.Kind.LONG_TEXT,
        text="Why not",
        text_cy="Pam lai",
        condition={"question": "do-you-agree", "values": ["no"]},
    )
    services.question_save(
        actor=staff,
        section=section,
        kind=Question.Kind.MULTIPLE,
        text="Which days do you visit",
        text_cy="Pa ddyddiau",
        options=opt("Monday", "Tuesday", "Saturday"),
        max_choices=2,
    )
    if published:
        # Publish while "now" is inside the window the test asked for.
        services.consultation_publish(actor=staff, consultation=consultation)
    consultation.refresh_from_db()
    return consultation


def make_every_type(staff, **fields) -> Consultation:
    """A published consultation with one question of every type (and an equality section)."""
    consultation = make_consultation(staff, published=False, **fields)
    version = consultation.current_version
    section = services.section_save(
        actor=staff, version=version, title="Everything else", title_cy="Popeth arall"
    )
    K = Question.Kind
    specs = [
        (K.SHORT_TEXT, "Your name", {}),
        (K.DROPDOWN, "Your area", {"options": opt("North", "South")}),
        (K.RANKING, "Rank these", {"options": opt("Parks", "Roads", "Libraries")}),
        (
            K.MATRIX,
            "How much do you agree",
            {"options": opt("Agree", "Disagree"), "rows": opt("Cleaner", "Safer")},
        ),
        (K.NUMBER, "How many visits a month", {"min_value": 0, "max_value": 100}),
        (K.DATE, "When did you last visit", {}),
        (K.POSTCODE, "Your postcode", {}),
        (K.EMAIL, "Your email", {}),
        (K.CONSENT, "We may quote you", {}),
        (K.FILE, "Attach a photo", {}),
    ]
    for kind, text, extra in specs:
        services.question_save(
            actor=staff,
            section=section,
            kind=kind,
            text=text,
            text_cy=f"{text} (cy)",
            help_text="A hint",
            help_text_cy="Awgrym",
            **extra,
        )
    equality = services.section_save(
        actor=staff, version=version, title="About you", title_cy="Amdanoch chi", equality=True
    )
    services.question_save(
        actor=staff,
        section=equality,
        kind=K.SINGLE,
        text="Your age group",
        text_cy="Eich grŵp oedran",
        options=opt("Under 30", "30 to 64", "65 or over"),
    )
    services.consultation_publish(actor=staff, consultation=consultation)
    consultation.refresh_from_db()
    return consultation
