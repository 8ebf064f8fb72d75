"""Staff pages: the moderation queue, one question (edit, merge, reject, ban), the chair's view
and the meeting's question settings.

Every action is a plain form that posts and redirects back (so it works without JavaScript);
the pages update themselves over the staff stream ``questions-mod.<meeting>``, so several
moderators see each other's work at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagement.core.permissions import staff_required
from engagement.realtime.pages import live_page
from webcast.models import Meeting

from . import selectors, services
from .forms import EditForm, RejectForm, SettingsForm, StaffAddForm
from .models import Ban, Question

S = Question.State
DONE = {
    "approve": _lazy("The question is approved."),
    "hide": _lazy("The question is hidden."),
    "restore": _lazy("The question is back on the approved list."),
    "reject": _lazy("The question is rejected."),
    "answering": _lazy("Now answering the question."),
    "answered": _lazy("The question is marked answered."),
    "ban": _lazy("The person who asked is banned from this meeting's questions."),
}


def _meeting(pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.select_related("committee", "current_item"), pk=pk)


def _back(request: HttpRequest, meeting: Meeting) -> str:
    wanted = request.POST.get("next", "")
    prefix = f"/staff/meetings/{meeting.pk}/questions/"
    if wanted.startswith(prefix) and "//" not in wanted:
        return wanted
    return prefix


def _staff_context(meeting: Meeting) -> dict[str, Any]:
    panels = selectors.staff_context(meeting)
    return {
        **panels,
        # The live panels hold the top of the list; every approved question is here.
        "approved_all": (
            selectors.chair_questions(meeting, limit=None) if panels["chair_more"] > 0 else []
        ),
        "queue": selectors.queue(meeting),
        "stream": selectors.staff_stream(meeting),
        "public_stream": selectors.public_stream(meeting),
        "settings": selectors.settings_for(meeting),
        "closed": selectors.closed_reason(meeting),
        "hidden_list": selectors.moderated(meeting, states=(S.HIDDEN, S.REJECTED)),
        "bans": list(Ban.objects.filter(meeting=meeting).select_related("user")),
        "add_form": StaffAddForm(meeting=meeting),
    }


@staff_required
@require_GET
@live_page
def queue(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = _meeting(meeting_pk)
    return render(request, "questions/staff/queue.html", _staff_context(meeting))


@staff_required
@require_POST
def add(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    """Enter a question received by email, phone or in the room (approved as entered)."""
    meeting = _meeting(meeting_pk)
    form = StaffAddForm(request.POST, meeting=meeting)
    status = 400
    if form.is_valid():
        try:
            services.question_add_by_staff(actor=request.user, meeting=meeting, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.QuestionError as exc:
            form.add_error(None, str(exc))
            status = exc.status
        else:
            messages.success(request, _("The question is added to the approved list."))
            return redirect("questions_staff:queue", meeting_pk=meeting.pk)
    context = _staff_context(meeting) | {"add_form": form}
    return render(request, "questions/staff/queue.html", context, status=status)


@require_GET
def chair(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    """The chair's view for staff. A councillor on the meeting's committee who follows a link
    here is sent to the councillors' chair view (``questions:chair``)."""
    user = request.user
    councillor = user.is_authenticated and not user.is_council_staff
    if councillor and selectors.committee_role(user, _meeting(meeting_pk)):
        return redirect("questions:chair", meeting_pk=meeting_pk)
    return _staff_chair(request, meeting_pk)


@staff_required
@live_page
def _staff_chair(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = _meeting(meeting_pk)
    return render(request, "questions/chair.html", _staff_context(meeting))


@staff_required
@require_POST
def act(request: HttpRequest, meeting_pk: int, pk: int) -> HttpResponse:
    """One button: approve, hide, reject, now answering, answered, ban."""
    meeting = _meeting(meeting_pk)
    question = get_object_or_404(Question, pk=pk, meeting=meeting)
    action = request.POST.get("action", "")
    actor = request.user
    seen = request.POST.get("seen", "")[:10]  # the state the moderator's page showed
    try:
        if action == "approve":
            services.question_approve(actor=actor, question=question, seen=seen)
        elif action == "restore":
            services.question_restore(actor=actor, question=question, seen=seen)
        elif action == "hide":
            services.question_hide(actor=actor, question=question, seen=seen)
        elif action == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("The reason must be 500 characters or fewer."))
            services.question_reject(
                actor=actor, question=question, reason=form.cleaned_data["reason"], seen=seen
            )
        elif action == "answering":
            services.question_answering(actor=actor, question=question, seen=seen)
        elif action == "answered":
            services.question_answered(actor=actor, question=question, seen=seen)
        elif action == "ban":
            services.participant_ban(
                actor=actor, question=question, reason=request.POST.get("reason", "")[:500]
            )
        else:
            raise services.QuestionError(_("Unknown action."))
    except (ValidationError, services.QuestionError) as exc:
        text = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        status = exc.status if isinstance(exc, services.QuestionError) else 400
        messages.error(request, text)
        return render(request, "questions/staff/queue.html", _staff_context(meeting), status=status)
    messages.success(request, DONE[action])
    return redirect(_back(request, meeting))


@staff_required
@require_http_methods(["GET", "POST"])
def question(request: HttpRequest, meeting_pk: int, pk: int) -> HttpResponse:
    """One question: edit (and approve), merge into another, reject with a reason."""
    meeting = _meeting(meeting_pk)
    question = get_object_or_404(
        Question.objects.select_related("author", "item", "merged_into"), pk=pk, meeting=meeting
    )
    action = request.POST.get("action", "")
    form = EditForm(
        request.POST if action in {"edit", "edit-approve"} else None,
        meeting=meeting,
        initial={"text": question.text, "item": question.item},
    )
    reject_form = RejectForm(request.POST if action == "reject" else None)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            if action in {"edit", "edit-approve"}:
                if not form.is_valid():
                    raise ValidationError(_("Check the question."))
                data = form.cleaned_data
                if action == "edit-approve":
                    services.question_approve(
                        actor=request.user, question=question, text=data["text"], item=data["item"]
                    )
                    messages.success(request, DONE["approve"])
                else:
                    services.question_edit(
                        actor=request.user, question=question, text=data["text"], item=data["item"]
                    )
                    messages.success(request, _("The question is saved."))
            elif action == "merge":
                into = Question.objects.filter(
                    pk=_int(request.POST.get("into")), meeting=meeting
                ).first()
                if into is None:
                    raise services.QuestionError(_("Choose the question to merge this one into."))
                services.question_merge(actor=request.user, question=question, into=into)
                messages.success(request, _("The questions are merged; their votes are combined."))
            else:
                raise services.QuestionError(_("Unknown action."))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                error = exc.messages[0]
            status = 400
        except services.QuestionError as exc:
            error, status = str(exc), exc.status
        else:
            return redirect(reverse("questions_staff:queue", args=[meeting.pk]))
    others = (
        Question.objects.filter(meeting=meeting, state__in=[S.PENDING, *Question.PUBLIC_STATES])
        .exclude(pk=question.pk)
        .order_by("-vote_count", "created_at")[:200]
    )
    context = {
        "meeting": meeting,
        "question": question,
        "form": form,
        "reject_form": reject_form,
        "others": others,
        "error": error,
    }
    return render(request, "questions/staff/question.html", context, status=status)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@staff_required
@require_http_methods(["GET", "POST"])
def settings_edit(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = _meeting(meeting_pk)
    current = selectors.settings_for(meeting)
    initial = {
        "moderation": current.moderation,
        "accepting": current.accepting,
        "closes_at": current.closes_at,
        "hashtag": current.hashtag,
    }
    form = SettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.question_settings_update(
                actor=request.user, meeting=meeting, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The question settings are saved."))
            return redirect("questions_staff:queue", meeting_pk=meeting.pk)
    return render(
        request,
        "questions/staff/settings.html",
        {"meeting": meeting, "form": form},
        status=400 if form.errors else 200,
    )


@staff_required
@require_POST
def unban(request: HttpRequest, meeting_pk: int, pk: int) -> HttpResponse:
    meeting = _meeting(meeting_pk)
    ban = get_object_or_404(Ban, pk=pk, meeting=meeting)
    services.participant_unban(actor=request.user, ban=ban)
    messages.success(request, _("The ban is lifted."))
    return redirect("questions_staff:queue", meeting_pk=meeting.pk)
