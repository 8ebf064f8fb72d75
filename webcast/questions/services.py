"""Every write to a meeting's questions: ask, vote, moderate, chair, ban, settings, and the
entry point for questions arriving from social media.

Concurrency: a change of state locks the question's row (``SELECT ... FOR UPDATE``) and checks
the state it found, so when two moderators press buttons on one question at once, the second is
told what the first did and nothing else changes. Votes lock the question row before the vote
row (as merges do, lowest id first), so votes, withdrawals and merges never deadlock and the
count always equals the rows.

Live: public changes go to ``questions.<meeting>``, the moderation queue and the chair's view to
``questions-mod.<meeting>`` (staff), and the public changes also to the councillors' chair view
(``questions-chair.<meeting>`` for the chair and vice-chair, ``questions-members.<meeting>``
read-only); votes are coalesced into one snapshot a second on each.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.core import ratelimit
from engagement.core.validators import validate_no_control_characters, validate_no_markup
from engagement.realtime.services import publish, publish_soon
from engagement.realtime.streams import template
from webcast.models import AgendaItem, Meeting

from . import selectors
from .models import MAX_LENGTH, Ban, Question, QuestionSettings, Vote

S = Question.State
ASK_LIMIT_USER = (3, 60)
"""Questions a resident may ask a minute."""
ASK_LIMIT_IP = (10, 60)
"""Questions a minute from one address (higher: a library, or the chamber's wifi, is shared)."""
VOTE_LIMIT_USER = (60, 60)
VOTE_LIMIT_IP = (200, 60)
VOTABLE = (S.APPROVED, S.ANSWERING)


class QuestionError(ValueError):
    """A request that cannot be taken; the message says why and nothing was changed."""

    status = 400


class RateLimited(QuestionError):
    status = 429


class Conflict(QuestionError):
    """Someone else acted first (another moderator, or the question moved on)."""

    status = 409


# --- text ----------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def clean_text(text: str, *, field: str = "text") -> str:
    """A question as plain text on one line: control characters and HTML refused with a clear
    message, runs of spaces and line breaks made one space."""
    try:
        validate_no_control_characters(text)
        validate_no_markup(text)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise ValidationError({field: [_("Enter your question.")]})
    if len(text) > MAX_LENGTH:
        raise ValidationError(
            {
                field: [
                    _("Your question must be %(max)s characters or fewer (it has %(n)s).")
                    % {"max": MAX_LENGTH, "n": len(text)}
                ]
            }
        )
    return text


def _clean_name(name: str) -> str:
    try:
        validate_no_markup(name)
    except ValidationError as exc:
        raise ValidationError({"display_name": exc.messages}) from exc
    name = _SPACES.sub(" ", name).strip()
    if len(name) > 60:
        raise ValidationError({"display_name": [_("Your name must be 60 characters or fewer.")]})
    return name


def _flags(text: str) -> str:
    found = [word for word in selectors.flag_words() if _word_in(word, text)]
    return ", ".join(found)[:200]


def _word_in(word: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def _check_item(meeting: Meeting, item: AgendaItem | None) -> None:
    if item is not None and item.meeting_id != meeting.pk:
        raise ValidationError({"item": [_("Choose an item on this meeting's agenda.")]})


def _is_banned(meeting: Meeting, *, user: Any = None, source: str = "", author: str = "") -> bool:
    bans = Ban.objects.filter(meeting=meeting)
    if user is not None and getattr(user, "pk", None) and bans.filter(user=user).exists():
        return True
    return bool(author) and bans.filter(source=source, external_author=author).exists()


# --- asking --------------------------------------------------------------------------------------


def question_ask(
    *,
    meeting: Meeting,
    user: Any,
    text: str,
    item: AgendaItem | None = None,
    display_name: str = "",
    anonymous: bool = False,
    ip: str | None = None,
) -> Question:
    """A signed-in resident asks a question of the meeting (or of one agenda item).

    Pre-moderation (the default) holds it for staff; post-moderation shows it at once unless a
    word from the flag list is in it. Over the rate limits: :class:`RateLimited`.
    """
    if not getattr(user, "is_authenticated", False):
        raise QuestionError(_("Sign in to ask a question."))
    errors: dict[str, list[str]] = {}
    try:
        text = clean_text(text)
    except ValidationError as exc:
        errors |= exc.message_dict
    try:
        display_name = _clean_name(display_name)
        if not anonymous and not display_name:
            errors["display_name"] = [
                _("Enter the name to show with your question, or choose to ask anonymously.")
            ]
    except ValidationError as exc:
        errors |= exc.message_dict
    try:
        _check_item(meeting, item)
    except ValidationError as exc:
        errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    closed = selectors.closed_reason(meeting)
    if closed:
        raise QuestionError(closed)
    if _is_banned(meeting, user=user):
        raise QuestionError(_("You cannot ask questions in this meeting."))
    if not (
        ratelimit.hit("questions-ask", user.pk, limit=ASK_LIMIT_USER[0], window=ASK_LIMIT_USER[1])
        and (
            not ip
            or ratelimit.hit("questions-ask-ip", ip, limit=ASK_LIMIT_IP[0], window=ASK_LIMIT_IP[1])
        )
    ):
        raise RateLimited(
            _("You have asked %(n)s questions in the last minute. Wait a minute, then ask again.")
            % {"n": ASK_LIMIT_USER[0]}
        )
    flags = _flags(text)
    settings = selectors.settings_for(meeting)
    post = settings.moderation == QuestionSettings.Moderation.POST
    with transaction.atomic():
        question = Question.objects.create(
            meeting=meeting,
            item=item,
            author=user,
            display_name="" if anonymous else display_name,
            anonymous=anonymous,
            text=text,
            flags=flags,
            state=S.APPROVED if post and not flags else S.PENDING,
            moderated_at=timezone.now() if post and not flags else None,
            ip_address=ip or None,
        )
        _published(question, event="question.asked")
    return question


@transaction.atomic
def question_add_by_staff(
    *,
    actor: Any,
    meeting: Meeting,
    text: str,
    item: AgendaItem | None = None,
    display_name: str = "",
) -> Question:
    """A question staff received another way (email, phone, a card in the public gallery),
    approved as it is entered; audited. An empty name shows as "Anonymous"."""
    errors: dict[str, list[str]] = {}
    for check in (
        lambda: clean_text(text),
        lambda: _clean_name(display_name),
        lambda: _check_item(meeting, item),
    ):
        try:
            check()
        except ValidationError as exc:
            errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    if meeting.status in {Meeting.Status.ENDED, Meeting.Status.ARCHIVED}:
        raise QuestionError(_("This meeting has ended: it no longer takes questions."))
    name = _clean_name(display_name)
    question = Question.objects.create(
        meeting=meeting,
        item=item,
        display_name=name,
        anonymous=not name,
        text=clean_text(text),
        flags=_flags(text),
        state=S.APPROVED,
        source=Question.Source.STAFF,
        moderated_at=timezone.now(),
    )
    _audit(actor, "add", question, text=question.text)
    _published(question, event="question.added")
    return question


def question_from_social(
    *,
    meeting: Meeting,
    network: str,
    external_id: str,
    author_handle: str,
    text: str,
    author_name: str = "",
    url: str = "",
    user: Any = None,
) -> Question | None:
    """A post carrying the meeting's hashtag, from the social module (issue 8).

    Idempotent: the same post (``network``, ``external_id``) makes one question however often
    it arrives. Always held for moderation, marked with its source. Returns None, storing
    nothing, when the meeting no longer takes questions or the author is banned from it.
    ``text`` is cleaned rather than refused (it was written elsewhere): control characters
    dropped, spaces collapsed, cut to 280 characters; it is shown as plain text everywhere.
    """
    if network not in {Question.Source.X, Question.Source.MASTODON, Question.Source.BLUESKY}:
        raise QuestionError(f"Unknown network {network!r}")
    if not external_id:
        raise QuestionError("A social question needs the post's id")
    existing = Question.objects.filter(source=network, external_id=external_id).first()
    if existing is not None:
        return existing
    if selectors.closed_reason(meeting):
        return None
    author_handle = _printable(author_handle)[:200]
    if _is_banned(meeting, user=user, source=network, author=author_handle):
        return None
    body = _SPACES.sub(" ", _printable(text)).strip()
    if len(body) > MAX_LENGTH:
        body = body[: MAX_LENGTH - 1].rstrip() + "…"
    if not body:
        return None
    name = _SPACES.sub(" ", _printable(author_name or author_handle)).strip()[:60]
    try:
        with transaction.atomic():
            question = Question.objects.create(
                meeting=meeting,
                author=user if getattr(user, "pk", None) else None,
                display_name=name,
                text=body,
                flags=_flags(body),
                state=S.PENDING,
                source=network,
                external_id=external_id[:200],
                external_url=url[:500] if url.startswith(("https://", "http://")) else "",
                external_author=author_handle,
            )
            _published(question, event="question.asked")
    except IntegrityError:  # the same post, stored by another worker meanwhile
        return Question.objects.get(source=network, external_id=external_id)
    return question


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text or "")


# --- votes ---------------------------------------------------------------------------------------


def _check_vote(meeting: Meeting, question: Question, user: Any, ip: str | None) -> None:
    if not getattr(user, "is_authenticated", False):
        raise QuestionError(_("Sign in to vote for questions."))
    if question.meeting_id != meeting.pk:
        raise QuestionError(_("That question is not one of this meeting's."))
    if meeting.status in {Meeting.Status.ENDED, Meeting.Status.ARCHIVED}:
        raise QuestionError(_("This meeting has ended: votes are closed."))
    limits = [ratelimit.Limit("questions-vote", user.pk, VOTE_LIMIT_USER[0], 60)]
    if ip:
        limits.append(ratelimit.Limit("questions-vote-ip", ip, VOTE_LIMIT_IP[0], 60))
    if not ratelimit.hit_all(*limits):
        raise RateLimited(
            _("You have voted %(n)s times in the last minute. Wait a minute, then vote again.")
            % {"n": VOTE_LIMIT_USER[0]}
        )


def question_vote(
    *, meeting: Meeting, question: Question, user: Any, ip: str | None = None
) -> bool:
    """Upvote; True if the vote is new, False if this resident had already voted (no change)."""
    _check_vote(meeting, question, user, ip)
    if connection.vendor == "postgresql":
        votable, added = _vote_pg(meeting, question, user)
    else:
        votable, added = _vote_orm(meeting, question, user)
    if not votable:
        if _is_banned(meeting, user=user):
            raise QuestionError(_("You cannot vote in this meeting."))
        raise QuestionError(_("This question is not open for votes."))
    if not added:
        return False
    _votes_changed(meeting)
    return True


# The busy path (hundreds of votes a second in a popular meeting): one statement locks the
# question if it takes votes from this resident (the right meeting, a votable state, no ban),
# adds the vote unless there is one, and counts it only if it was added. The ORM spent more CPU
# compiling the update and the insert than PostgreSQL spent running them.
_VOTE_PG = """
    WITH votable AS (
        SELECT id FROM {question}
        WHERE id = %(question)s AND meeting_id = %(meeting)s AND state = ANY(%(states)s)
          AND NOT EXISTS (
              SELECT 1 FROM {ban} WHERE meeting_id = %(meeting)s AND user_id = %(user)s
          )
        FOR UPDATE
    ), added AS (
        INSERT INTO {vote} (question_id, user_id, created_at)
        SELECT id, %(user)s, %(now)s FROM votable
        ON CONFLICT (question_id, user_id) DO NOTHING
        RETURNING question_id
    ), counted AS (
        UPDATE {question} SET vote_count = {question}.vote_count + 1, votes_dirty = true
        FROM added WHERE {question}.id = added.question_id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM votable), (SELECT count(*) FROM added)
"""


def _vote_pg(meeting: Meeting, question: Question, user: Any) -> tuple[int, int]:
    """(whether the question takes this resident's vote, whether a vote was added)."""
    quote = connection.ops.quote_name
    statement = _VOTE_PG.format(
        question=quote(Question._meta.db_table),
        ban=quote(Ban._meta.db_table),
        vote=quote(Vote._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "question": question.pk,
                "meeting": meeting.pk,
                "states": list(VOTABLE),
                "user": user.pk,
                "now": timezone.now(),
            },
        )
        votable, added = cursor.fetchone()
    return votable, added


def _vote_orm(meeting: Meeting, question: Question, user: Any) -> tuple[int, int]:
    """:func:`_vote_pg` for SQLite (the demo), in a transaction."""
    try:
        with transaction.atomic():
            counted = (
                Question.objects.filter(pk=question.pk, meeting_id=meeting.pk, state__in=VOTABLE)
                .filter(~Exists(Ban.objects.filter(meeting_id=meeting.pk, user_id=user.pk)))
                .update(vote_count=F("vote_count") + 1, votes_dirty=True)
            )
            if not counted:
                return 0, 0
            Vote.objects.create(question_id=question.pk, user=user)
    except IntegrityError:
        return 1, 0
    return 1, 1


def question_unvote(
    *, meeting: Meeting, question: Question, user: Any, ip: str | None = None
) -> bool:
    """Withdraw an upvote; True if there was one."""
    _check_vote(meeting, question, user, ip)
    with transaction.atomic():
        locked = Question.objects.select_for_update().filter(pk=question.pk).first()
        if _is_banned(meeting, user=user):
            raise QuestionError(_("You cannot vote in this meeting."))
        if locked is None or locked.state not in VOTABLE:
            raise QuestionError(_("This question is not open for votes."))
        deleted, _rows = Vote.objects.filter(question_id=question.pk, user=user).delete()
        if not deleted:
            return False
        Question.objects.filter(pk=question.pk).update(
            vote_count=F("vote_count") - 1, votes_dirty=True
        )
        _votes_changed(meeting)
    return True


def _votes_changed(meeting: Meeting) -> None:
    publish_soon(stream=selectors.public_stream(meeting))
    chair_panels_changed(meeting)


# --- moderation ----------------------------------------------------------------------------------


def _locked(question: Question, allowed: tuple[str, ...], doing: str, seen: str = "") -> Question:
    """The question's row, locked, if it is in one of the ``allowed`` states and, when the
    moderator's page said which state it showed (``seen``), still in that one: so a moderator
    acting on what they saw never overrides what another moderator did a moment before."""
    locked = Question.objects.select_for_update().select_related("meeting").get(pk=question.pk)
    if locked.state not in allowed or (seen and locked.state != seen):
        raise Conflict(
            _(
                "This question cannot be %(doing)s: it is now “%(state)s” (someone may have "
                "acted on it first)."
            )
            % {"doing": doing, "state": locked.get_state_display()}
        )
    return locked


def _audit(actor: Any, action: str, question: Question, **changes: Any) -> None:
    audit_record(actor=actor, action=f"question.{action}", target=question, changes=changes)


@transaction.atomic
def question_approve(
    *,
    actor: Any,
    question: Question,
    text: str | None = None,
    item: AgendaItem | None | bool = False,
    seen: str = "",
) -> Question:
    """Approve a pending question, optionally editing it first: the original stays in the
    audit log. ``item=False`` leaves the agenda item as it is. Only from pending: a moderator
    pressing "approve" on a question another has just rejected is told so (see
    :func:`question_restore` to bring back a hidden or rejected one on purpose)."""
    question = _locked(question, (S.PENDING,), _("approved"), seen)
    before = question.state
    _apply_edit(actor, question, text, item)
    question.state = S.APPROVED
    question.moderated_at = timezone.now()
    question.reject_reason = ""
    question.save()
    _audit(actor, "approve", question, state=[before, S.APPROVED])
    _published(question, event="question.approved", was=before)
    return question


@transaction.atomic
def question_restore(*, actor: Any, question: Question, seen: str = "") -> Question:
    """Bring a hidden or rejected question back to the approved list."""
    question = _locked(question, (S.HIDDEN, S.REJECTED), _("restored"), seen)
    before = question.state
    question.state, question.reject_reason = S.APPROVED, ""
    question.moderated_at = timezone.now()
    question.save()
    _audit(actor, "restore", question, state=[before, S.APPROVED])
    _published(question, event="question.restored", was=before)
    return question


@transaction.atomic
def question_edit(
    *, actor: Any, question: Question, text: str, item: AgendaItem | None | bool = False
) -> Question:
    """Correct a question's text or agenda item (pending or public); audited with the original."""
    question = _locked(
        question, (S.PENDING, S.APPROVED, S.ANSWERING, S.ANSWERED, S.HIDDEN), _("edited")
    )
    _apply_edit(actor, question, text, item)
    question.save()
    _published(question, event="question.edited", was=question.state)
    return question


def _apply_edit(
    actor: Any, question: Question, text: str | None, item: AgendaItem | None | bool
) -> None:
    changes: dict[str, Any] = {}
    if text is not None:
        text = clean_text(text)
        if text != question.text:
            changes["text"] = [question.text, text]
            question.text = text
            question.edited = True
            question.flags = _flags(text)
    if item is not False:
        _check_item(question.meeting, item)  # type: ignore[arg-type]
        new_id = item.pk if item else None  # type: ignore[union-attr]
        if new_id != question.item_id:
            changes["item"] = [question.item_id, new_id]
            question.item = item  # type: ignore[assignment]
    if changes:
        _audit(actor, "edit", question, **changes)


@transaction.atomic
def question_reject(
    *, actor: Any, question: Question, reason: str = "", seen: str = ""
) -> Question:
    """Reject with a reason only staff see (from pending, or an approved one not yet answered)."""
    reason = _SPACES.sub(" ", _printable(reason)).strip()
    if len(reason) > 500:
        raise ValidationError({"reason": [_("The reason must be 500 characters or fewer.")]})
    question = _locked(question, (S.PENDING, S.APPROVED), _("rejected"), seen)
    before = question.state
    question.state, question.reject_reason = S.REJECTED, reason
    question.moderated_at = timezone.now()
    question.save()
    _audit(actor, "reject", question, state=[before, S.REJECTED], reason=reason)
    _published(question, event="question.rejected", was=before)
    return question


@transaction.atomic
def question_hide(*, actor: Any, question: Question, seen: str = "") -> Question:
    question = _locked(
        question, (S.PENDING, S.APPROVED, S.ANSWERING, S.ANSWERED), _("hidden"), seen
    )
    before = question.state
    question.state = S.HIDDEN
    question.moderated_at = timezone.now()
    question.save()
    _audit(actor, "hide", question, state=[before, S.HIDDEN])
    _published(question, event="question.hidden", was=before)
    return question


@transaction.atomic
def question_merge(*, actor: Any, question: Question, into: Question) -> Question:
    """Merge a duplicate into another question of the same meeting: the duplicate's votes move
    there, except those of residents who voted for both (each resident counts once)."""
    if question.pk == into.pk:
        raise QuestionError(_("Choose another question to merge this one into."))
    first, second = sorted([question.pk, into.pk])
    rows = {
        q.pk: q
        for q in Question.objects.select_for_update()
        .select_related("meeting")
        .filter(pk__in=[first, second])
        .order_by("pk")
    }
    duplicate, target = rows[question.pk], rows[into.pk]
    if duplicate.meeting_id != target.meeting_id:
        raise QuestionError(_("Both questions must be from the same meeting."))
    if duplicate.state not in (S.PENDING, S.APPROVED, S.HIDDEN):
        raise Conflict(
            _("This question cannot be merged: it is now “%(state)s”.")
            % {"state": duplicate.get_state_display()}
        )
    if target.state not in (S.PENDING, *Question.PUBLIC_STATES):
        raise QuestionError(
            _("The question to merge into is “%(state)s”; choose one that is approved or waiting.")
            % {"state": target.get_state_display()}
        )
    both = Vote.objects.filter(question=target).values("user_id")
    Vote.objects.filter(question=duplicate, user_id__in=both).delete()
    Vote.objects.filter(question=duplicate).update(question=target)
    before = duplicate.state
    duplicate.state, duplicate.merged_into = S.MERGED, target
    duplicate.vote_count = 0
    duplicate.moderated_at = timezone.now()
    duplicate.save()
    target.vote_count = Vote.objects.filter(question=target).count()
    target.votes_dirty = True
    target.save(update_fields=["vote_count", "votes_dirty", "updated_at"])
    _audit(actor, "merge", duplicate, state=[before, S.MERGED], into=target.pk)
    _published(duplicate, event="question.merged", was=before)
    _votes_changed(target.meeting)
    return target


# --- the chair -----------------------------------------------------------------------------------


@transaction.atomic
def question_answering(*, actor: Any, question: Question, seen: str = "") -> Question:
    """ "Now answering": the time is kept so the recording can be opened at that moment. The
    question answered before it (if any) is marked answered at the same time."""
    question = _locked(question, (S.APPROVED, S.ANSWERED), _("answered now"), seen)
    meeting = Meeting.objects.select_for_update().get(pk=question.meeting_id)
    if not meeting.is_on_air:
        raise QuestionError(_("The meeting is not live."))
    now = timezone.now()
    for previous in Question.objects.select_for_update().filter(meeting=meeting, state=S.ANSWERING):
        previous.state, previous.answered_at = S.ANSWERED, now
        previous.save()
        _audit(actor, "answered", previous, state=[S.ANSWERING, S.ANSWERED])
        _published(previous, event="question.answered", was=S.ANSWERING)
    before = question.state
    question.state, question.answering_at, question.answered_at = S.ANSWERING, now, None
    question.save()
    _audit(actor, "answering", question, state=[before, S.ANSWERING], at=now.isoformat())
    _published(question, event="question.answering", was=before)
    return question


@transaction.atomic
def question_answered(*, actor: Any, question: Question, seen: str = "") -> Question:
    """Mark answered (from "now answering", or straight from approved)."""
    question = _locked(question, (S.APPROVED, S.ANSWERING), _("marked answered"), seen)
    meeting = question.meeting
    now = timezone.now()
    if question.state == S.APPROVED and not meeting.is_on_air:
        raise QuestionError(_("The meeting is not live."))
    before = question.state
    question.state, question.answered_at = S.ANSWERED, now
    question.answering_at = question.answering_at or now
    question.save()
    _audit(actor, "answered", question, state=[before, S.ANSWERED])
    _published(question, event="question.answered", was=before)
    return question


# --- bans and settings ---------------------------------------------------------------------------


@transaction.atomic
def participant_ban(*, actor: Any, question: Question, reason: str = "") -> Ban:
    """Ban the person who asked ``question`` from this meeting's questions; their questions
    still waiting are rejected."""
    question = Question.objects.select_related("meeting").get(pk=question.pk)
    meeting = question.meeting
    reason = _SPACES.sub(" ", _printable(reason)).strip()[:500]
    if question.author_id:
        ban, _created = Ban.objects.get_or_create(
            meeting=meeting,
            user_id=question.author_id,
            defaults={"reason": reason, "created_by": actor},
        )
        waiting = Question.objects.filter(meeting=meeting, author_id=question.author_id)
    elif question.external_author:
        ban, _created = Ban.objects.get_or_create(
            meeting=meeting,
            source=question.source,
            external_author=question.external_author,
            defaults={"reason": reason, "created_by": actor},
        )
        waiting = Question.objects.filter(
            meeting=meeting, source=question.source, external_author=question.external_author
        )
    else:
        raise QuestionError(_("Nobody can be banned for this question: its author is unknown."))
    audit_record(actor=actor, action="question.ban", target=question, changes={"reason": reason})
    for pending in waiting.filter(state=S.PENDING):
        question_reject(actor=actor, question=pending, reason=_("Banned from this meeting."))
    return ban


@transaction.atomic
def participant_unban(*, actor: Any, ban: Ban) -> None:
    audit_record(
        actor=actor,
        action="question.unban",
        target=ban.meeting,
        changes={"user": ban.user_id, "author": ban.external_author},
    )
    ban.delete()


@transaction.atomic
def question_settings_update(
    *,
    actor: Any,
    meeting: Meeting,
    moderation: str,
    accepting: bool,
    closes_at: datetime | None = None,
    hashtag: str = "",
) -> QuestionSettings:
    if moderation not in QuestionSettings.Moderation.values:
        raise ValidationError({"moderation": [_("Choose pre-moderation or post-moderation.")]})
    hashtag = hashtag.strip()
    if hashtag and not re.fullmatch(r"#?\w{2,59}", hashtag):
        raise ValidationError(
            {
                "hashtag": [
                    _("Enter a hashtag of letters, digits and underscores, like #PlanningLive.")
                ]
            }
        )
    if hashtag and not hashtag.startswith("#"):
        hashtag = "#" + hashtag
    if (
        hashtag
        and QuestionSettings.objects.filter(
            hashtag__iexact=hashtag,
            meeting__status__in=[
                Meeting.Status.SCHEDULED,
                Meeting.Status.LIVE,
                Meeting.Status.ADJOURNED,
            ],
        )
        .exclude(meeting=meeting)
        .exists()
    ):
        raise ValidationError(
            {"hashtag": [_("Another meeting still to be held uses that hashtag; choose another.")]}
        )
    Meeting.objects.select_for_update().get(pk=meeting.pk)
    settings, _created = QuestionSettings.objects.get_or_create(meeting=meeting)
    before = {
        "moderation": settings.moderation,
        "accepting": settings.accepting,
        "closes_at": settings.closes_at.isoformat() if settings.closes_at else None,
        "hashtag": settings.hashtag,
    }
    settings.moderation, settings.accepting = moderation, accepting
    settings.closes_at, settings.hashtag = closes_at, hashtag
    settings.save()
    after = {
        "moderation": moderation,
        "accepting": accepting,
        "closes_at": closes_at.isoformat() if closes_at else None,
        "hashtag": hashtag,
    }
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit_record(
            actor=actor, action="question_settings.update", target=meeting, changes=changes
        )
    selectors.settings_forget()
    from .social import hashtags

    hashtags.forget()  # type: ignore[attr-defined]
    _publish_status(meeting)
    return settings


def _publish_status(meeting: Meeting) -> None:
    render = template(
        "questions/includes/_status.html", {**selectors.status_context(meeting), "oob": True}
    )
    publish(stream=selectors.public_stream(meeting), event="questions.status", render=render)


# --- publishing ----------------------------------------------------------------------------------


def _published(question: Question, *, event: str, was: str = "") -> None:
    """Tell the public feed and the staff views what changed (after commit).

    The public feed and the moderation queue get this question's own change at once. The
    chair's panels (the approved list, now answering, answered), on the staff view and the
    councillors', are rendered whole, so they are coalesced like vote counts: one snapshot a
    tick however many questions moved, instead of three re-renders of every approved question
    for each approval.
    """
    meeting = question.meeting
    public_now = question.state in Question.PUBLIC_STATES
    public_before = was in Question.PUBLIC_STATES
    answering = event in {"question.answering", "question.answered"} or S.ANSWERING in (
        question.state,
        was,
    )
    parts = []
    if public_now and not public_before:
        parts.append(template("questions/includes/_pushed_added.html", {"question": question}))
    elif public_before and not public_now:
        parts.append(template("questions/includes/_pushed_removed.html", {"question": question}))
    elif public_now:
        parts.append(template("questions/includes/_pushed_changed.html", {"question": question}))
    if answering:
        now = {**selectors.now_context(meeting), "oob": True}
        parts.append(template("questions/includes/_now.html", now))
    payload = {"question": question.pk, "state": question.state}
    if parts:
        publish(
            stream=selectors.public_stream(meeting),
            event=event,
            render=lambda: "".join(part() for part in parts),
            payload=payload,
        )
    if S.PENDING in (question.state, was):
        pending_count = Question.objects.filter(meeting=meeting, state=S.PENDING).count()
        staff = {"question": question, "was": was, "pending_count": pending_count}
        publish(
            stream=selectors.staff_stream(meeting),
            event=event,
            render=template("questions/staff/includes/_pushed.html", staff),
            payload=payload,
        )
    if parts:
        chair_panels_changed(meeting)


def chair_panels_changed(meeting: Meeting, **_signal: Any) -> None:
    """The chair's panels changed: one snapshot a tick on the staff and councillors' streams
    (also when the meeting moves on: :data:`webcast.signals.meeting_moved_on`)."""
    publish_soon(stream=selectors.staff_stream(meeting))
    for can_chair in (True, False):
        publish_soon(stream=selectors.councillor_stream(meeting, can_chair=can_chair))


# --- personal data -------------------------------------------------------------------------------


def questions_export(user: Any) -> dict[str, Any]:
    return {
        "questions": [
            {
                "meeting": str(q.meeting),
                "text": q.text,
                "name_shown": q.display_name,
                "anonymous": q.anonymous,
                "state": q.state,
                "asked_at": q.created_at.isoformat(),
            }
            for q in Question.objects.filter(author=user).select_related("meeting__committee")
        ],
        "votes": [
            {"question": v.question.text, "voted_at": v.created_at.isoformat()}
            for v in Vote.objects.filter(user=user).select_related("question")
        ],
    }


def questions_anonymise(user: Any) -> None:
    """Questions stay (they were asked in public), without the name or the link to the person;
    votes stay counted."""
    Question.objects.filter(author=user).update(
        author=None, display_name="", anonymous=True, ip_address=None
    )


ADDRESS_DAYS = 30
"""How long the address a question came from is kept (to look into abuse), in days."""


def question_addresses_forget(*, days: int = ADDRESS_DAYS) -> int:
    """Blank the addresses of questions asked more than ``days`` ago (a daily job)."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(days=days)
    return Question.objects.filter(created_at__lt=cutoff, ip_address__isnull=False).update(
        ip_address=None
    )
