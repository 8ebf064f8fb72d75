"""Every staff write to consultations: details, documents, the builder, versions, publishing,
themes, the outcome, and retention. Responding is in ``responses.py``.

Each function validates first (raising ``ValidationError`` or :class:`SurveyError` and changing
nothing), writes in one transaction and records an audit entry for the staff member.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.tasks import enqueue

from .answers import CHOICE_KINDS, PERSONAL_KINDS
from .models import (
    Answer,
    AnswerTheme,
    Consultation,
    Document,
    Question,
    Response,
    Section,
    Theme,
    Version,
)

K = Question.Kind
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


class SurveyError(ValueError):
    """A request that cannot be taken; the message says why and nothing was stored."""


CONSULTATION_FIELDS = [
    "title",
    "title_cy",
    "slug",
    "summary",
    "summary_cy",
    "description",
    "description_cy",
    "audience",
    "layout",
    "opens_at",
    "closes_at",
    "retention_days",
]


# --- the consultation ----------------------------------------------------------------------------


def _check_dates(consultation: Consultation) -> None:
    if (
        consultation.opens_at
        and consultation.closes_at
        and consultation.closes_at <= consultation.opens_at
    ):
        raise ValidationError({"closes_at": _("The closing date must be after the opening.")})


def consultation_create(
    *, actor: Any, wards: list[Any] | None = None, **fields: Any
) -> Consultation:
    """A new draft consultation with an empty first version of its questionnaire."""
    fields = {k: v for k, v in fields.items() if k in CONSULTATION_FIELDS}
    if not fields.get("slug"):
        fields["slug"] = _unique_slug(fields.get("title", ""))
    consultation = Consultation(created_by=actor, **fields)
    consultation.full_clean(exclude=["current_version", "created_by"])
    _check_dates(consultation)
    _check_audience(consultation, wards)
    with transaction.atomic():
        consultation.save()
        if wards:
            consultation.wards.set(wards)
        version = Version.objects.create(consultation=consultation, number=1)
        consultation.current_version = version
        consultation.save(update_fields=["current_version"])
        audit_record(actor=actor, action="consultation.create", target=consultation)
    return consultation


def _unique_slug(title: str) -> str:
    base = slugify(title)[:60] or "consultation"
    slug, n = base, 1
    while Consultation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_audience(consultation: Consultation, wards: list[Any] | None) -> None:
    if consultation.audience == Consultation.Audience.WARDS and not wards:
        raise ValidationError({"wards": _("Choose the wards whose residents may respond.")})


def consultation_update(
    *, actor: Any, consultation: Consultation, wards: list[Any] | None = None, **fields: Any
) -> Consultation:
    before = {name: getattr(consultation, name) for name in CONSULTATION_FIELDS}
    for name, value in fields.items():
        if name in CONSULTATION_FIELDS:
            setattr(consultation, name, value)
    consultation.full_clean(exclude=["current_version", "created_by"])
    _check_dates(consultation)
    _check_audience(consultation, wards)
    changes = {
        name: [str(before[name]), str(getattr(consultation, name))]
        for name in CONSULTATION_FIELDS
        if before[name] != getattr(consultation, name)
    }
    with transaction.atomic():
        consultation.save()
        consultation.wards.set(wards or [])
        audit_record(
            actor=actor, action="consultation.update", target=consultation, changes=changes
        )
    return consultation


def welsh_missing(consultation: Consultation) -> list[str]:
    """What has no Welsh version yet (each as a short description for staff)."""
    from . import selectors

    missing = []
    if not consultation.title_cy:
        missing.append(_("the title"))
    if not consultation.summary_cy:
        missing.append(_("the summary"))
    if consultation.description and not consultation.description_cy:
        missing.append(_("the detail"))
    for document in consultation.documents.all():
        if not document.title_cy:
            missing.append(_("document “%(t)s”") % {"t": document.title})
    version = consultation.current_version
    if version is not None:
        for section in version.sections.all():
            if not section.title_cy or (section.intro and not section.intro_cy):
                missing.append(_("section “%(t)s”") % {"t": section.title})
        for q in selectors.questions(version):
            if (
                not q.text_cy
                or (q.help_text and not q.help_text_cy)
                or any(not o.get("label_cy") for o in [*q.options, *q.rows])
            ):
                missing.append(_("question “%(t)s”") % {"t": q.text})
    return missing


def consultation_publish(*, actor: Any, consultation: Consultation) -> Consultation:
    """Publish a draft: it shows as forthcoming, then opens and closes on its dates.

    Refused without questions, with ward audience but no required postcode question, or (when
    the council has Welsh on) with any text lacking its Welsh version."""
    from engagement.council.selectors import council_settings

    from . import selectors

    if consultation.published_at is not None:
        raise SurveyError(_("This consultation is already published."))
    qs = selectors.questions(consultation.current_version)
    if not qs:
        raise SurveyError(_("Add at least one question before publishing."))
    if consultation.audience == Consultation.Audience.WARDS and not any(
        q.kind == K.POSTCODE and q.required and not q.condition and not q.section.condition
        for q in qs
    ):
        raise SurveyError(
            _(
                "A consultation for chosen wards needs a required postcode question, shown to "
                "everyone, to check where respondents live."
            )
        )
    if council_settings().welsh_enabled:
        missing = welsh_missing(consultation)
        if missing:
            raise SurveyError(
                _("The council offers Welsh: add the Welsh version of %(what)s.")
                % {"what": ", ".join(missing)}
            )
    with transaction.atomic():
        consultation.published_at = timezone.now()
        consultation.save(update_fields=["published_at"])
        audit_record(actor=actor, action="consultation.publish", target=consultation)
    return consultation


def consultation_unpublish(*, actor: Any, consultation: Consultation) -> Consultation:
    """Back to draft: only before anyone has responded."""
    if consultation.responses.exists():
        raise SurveyError(_("People have responded, so this consultation cannot go back to draft."))
    with transaction.atomic():
        consultation.published_at = None
        consultation.save(update_fields=["published_at"])
        audit_record(actor=actor, action="consultation.unpublish", target=consultation)
    return consultation


def consultation_close(*, actor: Any, consultation: Consultation) -> Consultation:
    """Close an open consultation now (early)."""
    now = timezone.now()
    if consultation.phase != Consultation.Phase.OPEN:
        raise SurveyError(_("Only an open consultation can be closed."))
    with transaction.atomic():
        consultation.closes_at = now
        consultation.save(update_fields=["closes_at"])
        audit_record(actor=actor, action="consultation.close", target=consultation)
    return consultation


# --- documents -----------------------------------------------------------------------------------


def document_add(
    *, actor: Any, consultation: Consultation, title: str, title_cy: str = "", file: Any
) -> Document:
    errors: dict[str, str] = {}
    if file is None:
        errors["file"] = _("Choose a PDF file.")
    else:
        if not file.name.lower().endswith(".pdf"):
            errors["file"] = _("The document must be a PDF.")
        elif file.size > DOCUMENT_MAX_BYTES:
            errors["file"] = _("The document must be smaller than 20 MB.")
        else:
            file.seek(0)
            if not file.read(5).startswith(b"%PDF-"):
                errors["file"] = _("The file is not a PDF, whatever its name says.")
            file.seek(0)
    document = Document(
        consultation=consultation,
        title=title.strip(),
        title_cy=title_cy.strip(),
        position=consultation.documents.count(),
    )
    try:
        document.full_clean(exclude=["file"])
    except ValidationError as exc:
        errors |= {k: v[0] for k, v in exc.message_dict.items()}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        document.size = file.size
        document.file.save(file.name, file, save=False)
        document.save()
        audit_record(actor=actor, action="consultation.document_add", target=consultation)
    return document


def document_remove(*, actor: Any, document: Document) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="consultation.document_remove",
            target=document.consultation,
            changes={"document": [document.title, None]},
        )
        document.file.delete(save=False)
        document.delete()


# --- the builder ---------------------------------------------------------------------------------


def _changed() -> None:
    """The questionnaire changed: respondents in this process see it at once (see
    ``selectors.questionnaire``)."""
    from . import selectors

    transaction.on_commit(selectors.questionnaire.forget)


def _editable(version: Version) -> None:
    if Response.objects.filter(version=version).exists():
        raise SurveyError(
            _(
                "People have responded to this version, so its questions cannot change. "
                "Make a new version to change them."
            )
        )


def section_save(
    *,
    actor: Any,
    version: Version,
    section: Section | None = None,
    title: str,
    title_cy: str = "",
    intro: str = "",
    intro_cy: str = "",
    equality: bool = False,
    condition: dict | None = None,
) -> Section:
    """Add a section at the end, or change one."""
    _editable(version)
    _changed()
    if section is None:
        position = (version.sections.aggregate(m=Max("position"))["m"] or 0) + 1
        section = Section(version=version, position=position)
    section.title, section.title_cy = title.strip(), title_cy.strip()
    section.intro, section.intro_cy = intro.strip(), intro_cy.strip()
    section.equality = equality
    section.condition = _clean_condition(version, condition or {}, before_section=section)
    section.full_clean()
    with transaction.atomic():
        section.save()
        if equality:
            section.questions.update(required=False)
        audit_record(
            actor=actor,
            action="consultation.section_save",
            target=version.consultation,
            changes={"section": [None, section.title]},
        )
    return section


def section_remove(*, actor: Any, section: Section) -> None:
    version = section.version
    _editable(version)
    _changed()
    keys = set(section.questions.values_list("key", flat=True))
    if _referenced(version, keys, exclude_section=section):
        raise SurveyError(
            _("Another question's condition depends on this section: change it first.")
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="consultation.section_remove",
            target=version.consultation,
            changes={"section": [section.title, None]},
        )
        section.delete()


def _referenced(version: Version, keys: set[str], exclude_section: Section | None = None) -> bool:
    for section in version.sections.exclude(pk=getattr(exclude_section, "pk", None)):
        if section.condition.get("question") in keys:
            return True
        for condition in section.questions.values_list("condition", flat=True):
            if condition.get("question") in keys:
                return True
    return False


OPTION_LINE = re.compile(r"^(?P<label>[^|]+?)\s*(?:\|\s*(?P<cy>[^|]*))?$")


def parse_options(text: str) -> list[dict[str, str]]:
    """Options written one a line, ``English label | Welsh label`` (the Welsh optional).
    Each gets a stable value made from its English label."""
    options: list[dict[str, str]] = []
    seen: set[str] = set()
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        match = OPTION_LINE.match(line)
        if not match:
            raise ValidationError(
                _("Line %(n)s: write an option as ‘Label | Welsh label’.") % {"n": n}
            )
        label = match["label"].strip()
        if len(label) > 200:
            raise ValidationError(
                _("Line %(n)s: an option must be 200 characters or fewer.") % {"n": n}
            )
        value = slugify(label)[:40] or f"option-{n}"
        while value in seen:
            value = f"{value}-{n}"
        seen.add(value)
        options.append({"value": value, "label": label, "label_cy": (match["cy"] or "").strip()})
    return options


def options_text(options: list[dict[str, str]]) -> str:
    return "\n".join(
        f"{o['label']} | {o['label_cy']}" if o.get("label_cy") else o["label"] for o in options
    )


def _clean_condition(
    version: Version,
    condition: dict,
    *,
    before_section: Section | None = None,
    before_question: Question | None = None,
) -> dict:
    """A condition naming an earlier choice question and options it offers, or ValidationError."""
    from . import selectors

    if not condition or not condition.get("question"):
        return {}
    key, values = condition["question"], [str(v) for v in condition.get("values") or []]
    earlier = []
    for q in selectors.questions(version):
        if before_question is not None:
            if q.pk == before_question.pk:
                break
            if before_question.pk is None and _order(q.section) > _order(before_question.section):
                break
        if before_section is not None and (
            q.section_id == before_section.pk
            or (before_section.pk is not None and _order(q.section) > _order(before_section))
        ):
            break
        earlier.append(q)
    found = next((q for q in earlier if q.key == key), None)
    if found is None or found.kind not in {K.SINGLE, K.DROPDOWN, K.MULTIPLE, K.CONSENT}:
        raise ValidationError(
            {"condition": _("A condition must depend on an earlier choice question.")}
        )
    offered = {v for v, _label in found.choices} if found.kind != K.CONSENT else {"yes"}
    if not values or not set(values) <= offered:
        raise ValidationError({"condition": _("Choose which answers show this question.")})
    return {"question": key, "values": values}


def _order(section: Section) -> tuple[int, int]:
    return (section.position, section.pk or 0)


def question_save(
    *,
    actor: Any,
    section: Section,
    question: Question | None = None,
    kind: str,
    text: str,
    text_cy: str = "",
    help_text: str = "",
    help_text_cy: str = "",
    required: bool = False,
    options: list[dict[str, str]] | None = None,
    rows: list[dict[str, str]] | None = None,
    min_choices: int | None = None,
    max_choices: int | None = None,
    min_value: Decimal | None = None,
    max_value: Decimal | None = None,
    max_length: int | None = None,
    condition: dict | None = None,
) -> Question:
    """Add a question at the end of ``section``, or change one. Its key (used in exports and
    conditions) is made once from the text and kept across edits and versions."""
    version = section.version
    _editable(version)
    _changed()
    if question is None:
        position = (section.questions.aggregate(m=Max("position"))["m"] or 0) + 1
        question = Question(section=section, position=position, key=_new_key(version, text))
    elif question.kind != kind and _referenced(version, {question.key}):
        raise SurveyError(_("Another question's condition depends on this one: change it first."))
    question.kind = kind
    question.text, question.text_cy = text.strip(), text_cy.strip()
    question.help_text, question.help_text_cy = help_text.strip(), help_text_cy.strip()
    question.required = required and not section.equality
    question.options = (options or []) if kind in CHOICE_KINDS else []
    question.rows = (rows or []) if kind == K.MATRIX else []
    question.min_choices = min_choices if kind == K.MULTIPLE else None
    question.max_choices = max_choices if kind == K.MULTIPLE else None
    question.min_value = min_value if kind == K.NUMBER else None
    question.max_value = max_value if kind == K.NUMBER else None
    question.max_length = max_length if kind in (K.SHORT_TEXT, K.LONG_TEXT) else None
    errors: dict[str, list[str]] = {}
    try:
        question.full_clean(exclude=["section"])
    except ValidationError as exc:
        errors |= exc.message_dict
    errors |= _check_question(question)
    try:
        question.condition = _clean_condition(version, condition or {}, before_question=question)
    except ValidationError as exc:
        errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        question.save()
        audit_record(
            actor=actor,
            action="consultation.question_save",
            target=version.consultation,
            changes={"question": [question.key, question.text]},
        )
    return question


def _check_question(q: Question) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if q.kind in CHOICE_KINDS and len(q.options) < 2:
        errors["options"] = [_("Give at least two options, one a line.")]
    if q.kind == K.MATRIX and not q.rows:
        errors["rows"] = [_("Give at least one row, one a line.")]
    if q.kind == K.MULTIPLE:
        low, high = q.min_choices, q.max_choices
        if high is not None and high > len(q.options):
            errors["max_choices"] = [_("The maximum cannot be more than the number of options.")]
        if low is not None and high is not None and low > high:
            errors["min_choices"] = [_("The minimum cannot be more than the maximum.")]
    if (
        q.kind == K.NUMBER
        and q.min_value is not None
        and q.max_value is not None
        and q.min_value > q.max_value
    ):
        errors["min_value"] = [_("The lowest number cannot be more than the highest.")]
    return errors


def _new_key(version: Version, text: str) -> str:
    from . import selectors

    taken = {q.key for q in selectors.questions(version)}
    base = slugify(text)[:30].strip("-") or "question"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


def question_remove(*, actor: Any, question: Question) -> None:
    version = question.section.version
    _editable(version)
    _changed()
    if _referenced(version, {question.key}):
        raise SurveyError(_("Another question's condition depends on this one: change it first."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="consultation.question_remove",
            target=version.consultation,
            changes={"question": [question.text, None]},
        )
        question.delete()


def item_move(*, actor: Any, item: Question | Section, direction: int) -> None:
    """Swap a question (within its section) or a section with its neighbour. A move that would
    put a question before the one its condition depends on is refused."""
    if isinstance(item, Question):
        version = item.section.version
        siblings = list(item.section.questions.order_by("position", "pk"))
    else:
        version = item.version
        siblings = list(version.sections.order_by("position", "pk"))
    _editable(version)
    _changed()
    index = siblings.index(item)
    other = index + direction
    if not 0 <= other < len(siblings):
        return
    siblings[index], siblings[other] = siblings[other], siblings[index]
    with transaction.atomic():
        for n, sibling in enumerate(siblings, 1):
            type(sibling).objects.filter(pk=sibling.pk).update(position=n)
        if not _conditions_in_order(version):
            transaction.set_rollback(True)
            raise SurveyError(
                _("That would put a question before the question its condition depends on.")
            )
        audit_record(actor=actor, action="consultation.builder_move", target=version.consultation)


def _conditions_in_order(version: Version) -> bool:
    """Every condition depends on a question shown before it (sections: in an earlier one)."""
    from . import selectors

    seen: set[str] = set()
    before_section: set[str] = set()
    current = None
    for q in selectors.questions(version):
        if q.section_id != current:
            current, before_section = q.section_id, set(seen)
        if q.section.condition and q.section.condition.get("question") not in before_section:
            return False
        if q.condition and q.condition.get("question") not in seen:
            return False
        seen.add(q.key)
    return True


def version_create(*, actor: Any, consultation: Consultation, note: str = "") -> Version:
    """Copy the current version's sections and questions into a new version that becomes
    current; earlier responses keep the version they answered."""
    old = consultation.current_version
    with transaction.atomic():
        number = (consultation.versions.aggregate(m=Max("number"))["m"] or 0) + 1
        version = Version.objects.create(
            consultation=consultation, number=number, note=note.strip()[:200]
        )
        if old is not None:
            for section in old.sections.prefetch_related("questions"):
                questions = list(section.questions.all())
                section.pk = None
                section.version = version
                section.save()
                for q in questions:
                    q.pk = None
                    q.section = section
                    q.save()
        consultation.current_version = version
        consultation.save(update_fields=["current_version"])
        audit_record(
            actor=actor,
            action="consultation.version_create",
            target=consultation,
            changes={"version": [old.number if old else None, number]},
        )
    return version


# --- themes --------------------------------------------------------------------------------------


def theme_create(
    *, actor: Any, consultation: Consultation, name: str, description: str = ""
) -> Theme:
    theme = Theme(consultation=consultation, name=name.strip(), description=description.strip())
    theme.full_clean(exclude=["consultation"])
    try:
        with transaction.atomic():
            theme.save()
            audit_record(
                actor=actor,
                action="consultation.theme_create",
                target=consultation,
                changes={"theme": [None, theme.name]},
            )
    except IntegrityError:
        raise ValidationError({"name": _("There is already a theme with that name.")}) from None
    return theme


def answer_tag(*, actor: Any, answer: Answer, theme: Theme, on: bool = True) -> bool:
    """Tag (or untag) a free-text answer with a theme of the same consultation. Idempotent."""
    if theme.consultation_id != answer.response.consultation_id:
        raise SurveyError(_("That theme belongs to another consultation."))
    with transaction.atomic():
        if on:
            _tag, changed = AnswerTheme.objects.get_or_create(
                answer=answer, theme=theme, defaults={"tagged_by": actor}
            )
        else:
            changed = bool(AnswerTheme.objects.filter(answer=answer, theme=theme).delete()[0])
        if changed:
            audit_record(
                actor=actor,
                action="consultation.answer_tag" if on else "consultation.answer_untag",
                target=answer.response.consultation,
                changes={"answer": answer.pk, "theme": theme.name},
            )
    return changed


# --- the outcome ---------------------------------------------------------------------------------


def outcome_publish(
    *,
    actor: Any,
    consultation: Consultation,
    you_said: str,
    we_did: str,
    you_said_cy: str = "",
    we_did_cy: str = "",
) -> Consultation:
    """Publish "We asked, you said, we did" and email the respondents who asked for it."""
    from engagement.council.selectors import council_settings

    if consultation.phase not in (Consultation.Phase.CLOSED, Consultation.Phase.OUTCOME):
        raise SurveyError(_("The outcome can be published once the consultation has closed."))
    consultation.you_said, consultation.we_did = you_said.strip(), we_did.strip()
    consultation.you_said_cy, consultation.we_did_cy = you_said_cy.strip(), we_did_cy.strip()
    errors = {}
    if not consultation.you_said:
        errors["you_said"] = _("Say what people told you.")
    if not consultation.we_did:
        errors["we_did"] = _("Say what the council did or will do.")
    if council_settings().welsh_enabled:
        if not consultation.you_said_cy:
            errors["you_said_cy"] = _("Add the Welsh version.")
        if not consultation.we_did_cy:
            errors["we_did_cy"] = _("Add the Welsh version.")
    consultation.full_clean(exclude=["current_version", "created_by"])
    if errors:
        raise ValidationError(errors)
    first = consultation.outcome_published_at is None
    with transaction.atomic():
        if first:
            consultation.outcome_published_at = timezone.now()
        consultation.save()
        audit_record(actor=actor, action="consultation.outcome_publish", target=consultation)
        from .tasks import send_outcome_emails

        enqueue(send_outcome_emails, consultation.pk)
    return consultation


# --- retention and personal data -----------------------------------------------------------------


def _anonymise_responses(responses: Any, now: Any) -> int:
    """Blank who responded and the personal answers (email, file, postcode kept as its ward)."""
    from django.core.files.storage import default_storage

    ids = list(responses.values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        personal = Answer.objects.filter(response_id__in=ids, question__kind__in=PERSONAL_KINDS)
        for answer in personal.select_related("question"):
            if answer.question.kind == K.FILE and isinstance(answer.value, dict):
                default_storage.delete(answer.value.get("path", ""))
        personal.delete()
        Response.objects.filter(pk__in=ids).update(
            email="", user=None, resume_hash=None, draft={}, anonymised_at=now
        )
    return len(ids)


def responses_anonymise_due(*, now: Any = None) -> int:
    """Daily: anonymise responses to consultations closed more than their retention period ago,
    and delete drafts never submitted 30 days after their consultation closed."""
    now = now or timezone.now()
    count = 0
    for consultation in Consultation.objects.filter(
        published_at__isnull=False, closes_at__lt=now
    ).only("pk", "closes_at", "retention_days"):
        drafts = Response.objects.filter(consultation=consultation, state=Response.State.DRAFT)
        if consultation.closes_at + timedelta(days=30) < now:
            drafts.delete()
        if consultation.closes_at + timedelta(days=consultation.retention_days) < now:
            due = Response.objects.filter(consultation=consultation, anonymised_at__isnull=True)
            done = _anonymise_responses(due, now)
            if done:
                audit_record(
                    actor=None,
                    action="consultation.anonymise",
                    target=consultation,
                    changes={"responses": done},
                )
            count += done
    return count


def responses_export(user: Any) -> list[dict[str, Any]]:
    """The user's consultation responses, for "download my data"."""
    from .answers import display

    result = []
    for response in user.consultation_responses.select_related("consultation").prefetch_related(
        "answers__question"
    ):
        result.append(
            {
                "consultation": response.consultation.title,
                "reference": response.reference,
                "state": response.state,
                "submitted_at": response.submitted_at.isoformat()
                if response.submitted_at
                else None,
                "answers": {
                    a.question.text: display(a.question, a.value) for a in response.answers.all()
                }
                or dict(response.draft),
            }
        )
    return result


def responses_anonymise(user: Any) -> None:
    _anonymise_responses(user.consultation_responses.all(), timezone.now())
