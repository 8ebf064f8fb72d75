"""Every write of a response: online page by page, saved for later, submitted; entered by staff
on a resident's behalf; imported from CSV.

Online, a response is a draft row holding cleaned answers in ``draft``; submitting checks the
whole questionnaire again, then flips the row from draft to submitted with a conditional UPDATE,
so a double click or a retried request stores one response (the second finds it submitted and
gets the same confirmation). Staff entry and imports store a submitted response at once under a
``submission_token`` the form carried; the unique constraint on it makes a resubmitted form a
no-op. Answers to questions hidden by the conditions are never stored (``conditions.prune``).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.tasks import enqueue

from . import selectors
from .answers import (
    K,
    clean_answer,
    raw_from_post,
    raw_from_text,
    required_error,
    store_upload,
    text_of,
)
from .conditions import items_for, prune, visible_keys
from .models import Answer, Consultation, EqualityRecord, Question, Response
from .services import SurveyError

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
IMPORT_MAX_ROWS = 20_000


def _reference() -> str:
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _n in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def _hash(token: str) -> str:
    key = f"moot.consultations.resume:{settings.SECRET_KEY}".encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def _with_reference(write: Any, attempts: int = 5) -> Any:
    """``write(reference)`` with a new reference, again with another if it is taken (one in a
    trillion, but a busy consultation makes many), each try in a savepoint. Call it inside a
    transaction."""
    for attempt in range(attempts):
        reference = _reference()
        if Response.objects.filter(reference=reference).exists() and attempt < attempts - 1:
            continue
        try:
            with transaction.atomic():
                return write(reference)
        except IntegrityError:
            if attempt == attempts - 1 or not Response.objects.filter(reference=reference).exists():
                raise
    raise AssertionError("unreachable")


def new_submission_token() -> str:
    return secrets.token_urlsafe(24)


def _must_be_open(consultation: Consultation) -> None:
    phase = consultation.phase
    if phase == Consultation.Phase.FORTHCOMING:
        raise SurveyError(_("This consultation is not open yet."))
    if phase != Consultation.Phase.OPEN:
        raise SurveyError(_("This consultation has closed, so it no longer takes responses."))


def _audience_error(consultation: Consultation, questions: list[Question], answers: dict) -> dict:
    """``{question key: message}`` if the consultation is for chosen wards and the postcode
    given is not in one."""
    if consultation.audience != Consultation.Audience.WARDS:
        return {}
    allowed = {w.slug: w.name for w in consultation.wards.all()}
    for q in questions:
        if q.kind == K.POSTCODE and q.key in answers and answers[q.key].get("ward") not in allowed:
            return {
                q.key: _("This consultation is for residents of %(wards)s only.")
                % {"wards": ", ".join(sorted(allowed.values()))}
            }
    return {}


# --- online --------------------------------------------------------------------------------------


def response_start(*, consultation: Consultation, user: Any = None) -> Response:
    """A draft response on the current version (a signed-in resident's existing draft is
    reused)."""
    _must_be_open(consultation)
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in:
        existing = Response.objects.filter(
            consultation=consultation, user=user, state=Response.State.DRAFT
        ).first()
        if existing is not None:
            return existing
    return Response.objects.create(
        consultation=consultation,
        version_id=consultation.current_version_id,
        submission_token=new_submission_token(),
        user=user if signed_in else None,
        email=user.email if signed_in else "",
        language=_language(),
    )


def _language() -> str:
    from django.utils.translation import get_language

    return "cy" if (get_language() or "").startswith("cy") else "en-gb"


def response_save_page(
    *, response: Response, page: list[Question], data: Any, files: Any = None
) -> Response:
    """Check and keep the answers to one page. ValidationError ``{question key: message}`` for
    each answer that is wrong (or required and missing while shown); nothing is kept then."""
    if response.state != Response.State.DRAFT:
        raise SurveyError(_("This response has already been sent."))
    consultation = response.consultation
    _must_be_open(consultation)
    questions = selectors.questionnaire(response.version_id)
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for q in page:
        raw = raw_from_post(q, data, files)
        if q.kind == K.FILE and raw is None and q.key in response.draft:
            raw = response.draft[q.key]
        try:
            cleaned[q.key] = clean_answer(q, raw, enforce_required=False)
        except ValidationError as exc:
            errors[q.key] = exc.messages[0]
    merged = {k: v for k, v in {**response.draft, **cleaned}.items() if v is not None}
    shown = set(visible_keys(items_for(questions), merged))
    errors = {k: v for k, v in errors.items() if k in shown}
    for q in page:
        if q.key in shown and q.required and q.key not in merged and q.key not in errors:
            errors[q.key] = required_error(q).messages[0]
    errors |= {
        k: v for k, v in _audience_error(consultation, page, merged).items() if k not in errors
    }
    if errors:
        raise ValidationError(errors)
    for key, value in list(merged.items()):
        if not isinstance(value, dict | list | str | bool | int | float):
            merged[key] = store_upload(value)
    response.draft = prune(items_for(questions), merged)
    response.save(update_fields=["draft", "updated_at"])
    return response


def response_save_for_later(*, response: Response, email: str) -> str:
    """Email a link to come back to this draft. Returns the token (the link's secret)."""
    if response.state != Response.State.DRAFT:
        raise SurveyError(_("This response has already been sent."))
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": _("Enter an email address like name@example.com.")}
        ) from None
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        response.resume_hash = _hash(token)
        response.email = email
        response.language = _language()
        response.save(update_fields=["resume_hash", "email", "language", "updated_at"])
        from .tasks import send_resume_link

        enqueue(send_resume_link, response.pk, token)
    return token


def response_resume(*, token: str) -> Response:
    response = Response.objects.filter(resume_hash=_hash(token or "")).first()
    if response is None:
        raise SurveyError(_("That link is not valid. Check it is the whole link from the email."))
    if response.state != Response.State.DRAFT:
        raise SurveyError(_("This response has already been sent."))
    return response


def _finalise(
    consultation: Consultation, questions: list[Question], answers: dict[str, Any]
) -> dict[str, Any]:
    """Check a whole questionnaire's cleaned answers: only those shown, every required one
    given, the audience respected. ValidationError ``{key: message}``."""
    items = items_for(questions)
    shown = set(visible_keys(items, answers))
    errors = {
        q.key: required_error(q).messages[0]
        for q in questions
        if q.key in shown and q.required and answers.get(q.key) is None
    }
    errors |= _audience_error(consultation, questions, answers)
    if errors:
        raise ValidationError(errors)
    return prune(items, answers)


def _counted(consultation_id: int) -> None:
    """One more response: the staff's live count catches up within about a second."""
    from engagement.realtime.services import publish_soon

    publish_soon(stream=f"consultation.{consultation_id}")


def _write_answers(response: Response, questions: list[Question], answers: dict[str, Any]) -> None:
    """Answers as rows; equality answers into an unlinked record; the ward from a postcode."""
    equality = {}
    rows = []
    for q in questions:
        if q.key not in answers:
            continue
        value = answers[q.key]
        if q.section.equality:
            equality[q.key] = value
            continue
        rows.append(Answer(response=response, question=q, value=value, text=text_of(q, value)))
        if q.kind == K.POSTCODE and value.get("ward") and response.ward_id is None:
            from engagement.places.models import Ward

            response.ward = Ward.objects.filter(slug=value["ward"]).first()
    Answer.objects.bulk_create(rows)
    if equality:
        EqualityRecord.objects.create(consultation_id=response.consultation_id, answers=equality)


def response_submit(
    *,
    response: Response,
    email: str = "",
    wants_copy: bool = False,
    wants_outcome: bool = False,
) -> Response:
    """Send a draft. Idempotent: a second call (a double click) returns the sent response."""
    if response.state == Response.State.SUBMITTED:
        return response
    consultation = response.consultation
    _must_be_open(consultation)
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(
                {"email": _("Enter an email address like name@example.com.")}
            ) from None
    elif wants_copy or wants_outcome:
        raise ValidationError({"email": _("Enter your email address to get emails from us.")})
    questions = selectors.questionnaire(response.version_id)
    answers = _finalise(consultation, questions, response.draft)
    now = timezone.now()
    with transaction.atomic():
        updated = _with_reference(
            lambda reference: Response.objects.filter(
                pk=response.pk, state=Response.State.DRAFT
            ).update(
                state=Response.State.SUBMITTED,
                reference=reference,
                submitted_at=now,
                email=email,
                wants_outcome=wants_outcome,
                language=_language(),
                resume_hash=None,
                draft={},
                updated_at=now,
            )
        )
        if not updated:
            return Response.objects.get(pk=response.pk)
        response.refresh_from_db()
        _write_answers(response, questions, answers)
        if response.ward_id:
            response.save(update_fields=["ward"])
        Consultation.objects.filter(pk=consultation.pk).update(
            response_count=F("response_count") + 1
        )
        _counted(consultation.pk)
        if wants_copy:
            from .tasks import send_response_copy

            enqueue(send_response_copy, response.pk)
    return response


# --- staff entry, imports, the API ---------------------------------------------------------------


def response_record(
    *,
    consultation: Consultation,
    raw: dict[str, Any],
    channel: str,
    token: str,
    actor: Any = None,
    user: Any = None,
    email: str = "",
    wants_outcome: bool = False,
    check_open: bool = True,
    audit: bool = True,
) -> Response:
    """Store a whole response at once (raw answers by question key). Staff entry records the
    channel and who entered it; a repeated ``token`` returns the response already stored."""
    if channel not in Response.Channel.values:
        raise SurveyError(_("Choose how the response came in."))
    if not token or len(token) > 64:
        raise SurveyError(_("The form has expired: reload the page and try again."))
    existing = Response.objects.filter(submission_token=token).first()
    if existing is not None:
        if existing.consultation_id != consultation.pk:
            raise SurveyError(_("The form has expired: reload the page and try again."))
        return existing
    if check_open:
        _must_be_open(consultation)
    elif consultation.published_at is None:
        raise SurveyError(_("This consultation is not published."))
    questions = selectors.questions(consultation.current_version_id)
    answers = clean_all(consultation, questions, raw)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(
                {"email": _("Enter an email address like name@example.com.")}
            ) from None
    now = timezone.now()
    try:
        with transaction.atomic():
            response = _with_reference(
                lambda reference: Response.objects.create(
                    consultation=consultation,
                    version_id=consultation.current_version_id,
                    state=Response.State.SUBMITTED,
                    channel=channel,
                    submission_token=token,
                    reference=reference,
                    user=user,
                    entered_by=actor if channel != Response.Channel.ONLINE else None,
                    email=email,
                    wants_outcome=wants_outcome and bool(email),
                    submitted_at=now,
                )
            )
            for key, value in answers.items():
                if not isinstance(value, dict | list | str | bool | int | float):
                    answers[key] = store_upload(value)
            _write_answers(response, questions, answers)
            if response.ward_id:
                response.save(update_fields=["ward"])
            Consultation.objects.filter(pk=consultation.pk).update(
                response_count=F("response_count") + 1
            )
            _counted(consultation.pk)
            if actor is not None and audit:
                audit_record(
                    actor=actor,
                    action="consultation.response_enter",
                    target=consultation,
                    changes={"reference": response.reference, "channel": channel},
                )
    except IntegrityError:
        existing = Response.objects.filter(submission_token=token).first()
        if existing is None:
            raise
        return existing
    return response


def clean_all(
    consultation: Consultation, questions: list[Question], raw: dict[str, Any]
) -> dict[str, Any]:
    """Clean every answer of a whole questionnaire; errors only for questions that are shown."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {q.key for q in questions}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValidationError(
            {"__all__": _("There is no question %(keys)s.") % {"keys": ", ".join(unknown)}}
        )
    for q in questions:
        try:
            value = clean_answer(q, raw.get(q.key), enforce_required=False)
        except ValidationError as exc:
            errors[q.key] = exc.messages[0]
            continue
        if value is not None:
            cleaned[q.key] = value
    shown = set(visible_keys(items_for(questions), cleaned))
    errors = {k: v for k, v in errors.items() if k in shown}
    try:
        answers = _finalise(consultation, questions, cleaned)
    except ValidationError as exc:
        errors = {k: v[0] for k, v in exc.message_dict.items()} | errors
        answers = {}
    if errors:
        raise ValidationError(errors)
    return answers


def raw_from_staff_post(questions: Iterable[Question], data: Any, files: Any) -> dict[str, Any]:
    return {q.key: raw_from_post(q, data, files) for q in questions}


def responses_import_csv(*, consultation: Consultation, actor: Any, file: Any) -> int:
    """Import responses from a CSV (a header row of question keys, plus optional ``channel``,
    ``email`` and ``reference``-free rows). Every row is checked first; if any is wrong nothing
    is stored and ValidationError lists each problem with its line. Re-importing the same file
    stores nothing twice (each row's token is a hash of the file and the line)."""
    if consultation.published_at is None:
        raise SurveyError(_("Publish the consultation before importing responses."))
    content = file.read()
    if len(content) > 20 * 1024 * 1024:
        raise ValidationError(_("The file must be smaller than 20 MB."))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("The file must be a CSV saved as UTF-8.")) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValidationError(_("The file has no responses (or no header row)."))
    if len(rows) > IMPORT_MAX_ROWS:
        raise ValidationError(
            _("Import at most %(n)s responses at a time.") % {"n": IMPORT_MAX_ROWS}
        )
    questions = selectors.questions(consultation.current_version_id)
    by_key = {q.key: q for q in questions}
    extra = {"channel", "email"}
    header = set(rows[0].keys())
    unknown = sorted(header - set(by_key) - extra - {None})
    if unknown:
        raise ValidationError(
            _("Unknown columns: %(cols)s. Use the question keys shown in the builder.")
            % {"cols": ", ".join(unknown)}
        )
    digest = hashlib.sha256(content).hexdigest()[:40]
    problems: list[str] = []
    prepared = []
    for line, row in enumerate(rows, 2):
        if None in row:
            problems.append(_("Line %(n)s: more cells than columns.") % {"n": line})
            continue
        channel = (row.get("channel") or Response.Channel.POST).strip().lower()
        if channel not in Response.Channel.values:
            problems.append(_("Line %(n)s: unknown channel “%(c)s”.") % {"n": line, "c": channel})
            continue
        try:
            raw = {key: raw_from_text(by_key[key], row[key]) for key in row if key in by_key}
            answers = clean_all(consultation, questions, raw)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                label = by_key[key].key if key in by_key else ""
                problems.append(
                    f"{_('Line %(n)s') % {'n': line}}{' (' + label + ')' if label else ''}: "
                    f"{messages[0]}"
                )
            continue
        email = (row.get("email") or "").strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(_("Line %(n)s: the email address is not valid.") % {"n": line})
                continue
        prepared.append((f"import-{digest}-{line}", channel, email, raw, answers))
    if problems:
        raise ValidationError(problems[:200])
    stored = 0
    with transaction.atomic():
        for token, channel, email, raw, _answers in prepared:
            before = Response.objects.filter(submission_token=token).exists()
            response_record(
                consultation=consultation,
                raw=raw,
                channel=channel,
                token=token,
                email=email,
                actor=actor,
                check_open=False,
                audit=False,
            )
            stored += 0 if before else 1
        audit_record(
            actor=actor,
            action="consultation.responses_import",
            target=consultation,
            changes={"rows": len(prepared), "stored": stored},
        )
    return stored
