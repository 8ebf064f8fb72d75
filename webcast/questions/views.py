"""Residents' pages for a meeting's questions: the feed, asking, voting and the projector view;
and the chair's view for the councillors of the meeting's committee.

Every page and form works without JavaScript (forms post and redirect back); with htmx a vote
swaps just its button, and the feed updates itself over the ``questions.<meeting>`` stream.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from engagement.core.permissions import has_staff_access
from engagement.core.ratelimit import client_ip
from engagement.realtime.pages import live_page
from webcast.models import Meeting

from . import selectors, services
from .forms import AskForm, FilterForm
from .models import Question, Vote


def _meeting(pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.select_related("committee", "current_item"), pk=pk)


def _filters(request: HttpRequest, meeting: Meeting) -> tuple[FilterForm, str, int | None]:
    form = FilterForm(request.GET or None, meeting=meeting)
    order, item_id = "top", None
    if form.is_valid():
        order = form.cleaned_data["order"] or "top"
        item = form.cleaned_data["item"]
        item_id = item.pk if item else None
    return form, order, item_id


def _put_errors(form: AskForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _feed_page(
    request: HttpRequest,
    meeting: Meeting,
    *,
    ask_form: AskForm | None = None,
    status: int = 200,
    template: str = "questions/feed.html",
) -> HttpResponse:
    filter_form, order, item_id = _filters(request, meeting)
    user = request.user
    if ask_form is None:
        initial = {"display_name": getattr(user, "name", "")}
        ask_form = AskForm(meeting=meeting, initial=initial)
    context: dict[str, Any] = {
        "meeting": meeting,
        "questions": selectors.feed(meeting, order=order, item_id=item_id, user=user),
        "order": order,
        "item_id": item_id,
        "list_id": selectors.list_id(order, item_id),
        "filter_form": filter_form,
        "ask_form": ask_form,
        "mine": selectors.my_waiting(meeting, user),
        "answered": selectors.answered(meeting),
        "stream": selectors.public_stream(meeting),
        "on_air": meeting.is_on_air,
        "committee_role": selectors.committee_role(user, meeting),
        **selectors.status_context(meeting),
        **selectors.now_context(meeting),
    }
    return render(request, template, context, status=status)


@require_GET
@live_page
def feed(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    return _feed_page(request, _meeting(meeting_pk))


@require_GET
@live_page
def projector(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    """Large type for the screen in the chamber: now answering, then the top questions."""
    return _feed_page(request, _meeting(meeting_pk), template="questions/projector.html")


@require_POST
def ask(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    meeting = _meeting(meeting_pk)
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("questions:feed", args=[meeting.pk]))
    form = AskForm(request.POST, meeting=meeting)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            question = services.question_ask(
                meeting=meeting,
                user=request.user,
                text=data["text"],
                item=data["item"],
                display_name=data["display_name"],
                anonymous=data["anonymous"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _put_errors(form, exc)
        except services.QuestionError as exc:
            form.add_error(None, str(exc))
            status = exc.status
        else:
            if question.state == Question.State.PENDING:
                messages.success(
                    request,
                    _("Thank you. Your question will appear once council staff have checked it."),
                )
            else:
                messages.success(request, _("Thank you. Your question is on the list."))
            return redirect(reverse("questions:feed", args=[meeting.pk]) + "#ask")
    return _feed_page(request, meeting, ask_form=form, status=status)


@require_POST
@vary_on_headers("HX-Request")
def vote(request: HttpRequest, meeting_pk: int, pk: int) -> HttpResponse:
    """Add (``action=add``) or withdraw (``action=remove``) an upvote."""
    meeting = _meeting(meeting_pk)
    back = request.POST.get("next", "")
    if not back.startswith(f"/meetings/{meeting.pk}/questions/") or "//" in back:
        back = reverse("questions:feed", args=[meeting.pk])
    if not request.user.is_authenticated:
        if request.htmx:  # a vote button pushed live to a visitor who is signed out
            response = HttpResponse(status=204)
            response["HX-Redirect"] = redirect_to_login(back)["Location"]
            return response
        return redirect_to_login(back)
    question = Question.objects.filter(pk=pk).select_related("meeting").first()
    if question is None:
        return _vote_error(request, meeting, None, _("There is no such question."), 404)
    action = request.POST.get("action", "add")
    if action not in {"add", "remove"}:
        message = _("Choose to add or withdraw your vote.")
        return _vote_error(request, meeting, question, message, 400)
    try:
        if action == "add":
            services.question_vote(
                meeting=meeting, question=question, user=request.user, ip=client_ip(request)
            )
        else:
            services.question_unvote(
                meeting=meeting, question=question, user=request.user, ip=client_ip(request)
            )
    except services.QuestionError as exc:
        return _vote_error(request, meeting, question, str(exc), exc.status)
    if request.htmx:
        question.refresh_from_db()
        question.voted = action == "add"
        return render(
            request,
            "questions/includes/_vote.html",
            {"question": question, "meeting": meeting, "next": back},
        )
    return redirect(back + f"#question-{question.pk}")


def _vote_error(
    request: HttpRequest, meeting: Meeting, question: Question | None, message: str, status: int
) -> HttpResponse:
    """The error with its 4xx status: the feed page with the message, or for htmx the vote
    button with the message under it (``questions.js`` lets htmx swap these 4xx replies)."""
    if request.htmx:
        if question is None or question.meeting_id != meeting.pk:
            return render(
                request, "questions/includes/_vote_error.html", {"error": message}, status=status
            )
        question.voted = Vote.objects.filter(question=question, user=request.user).exists()
        context = {"question": question, "meeting": meeting, "error": message}
        return render(request, "questions/includes/_vote.html", context, status=status)
    messages.error(request, message)
    return _feed_page(request, meeting, status=status)


# --- the chair's view for councillors ------------------------------------------------------------

CHAIR_ACTIONS = {"answering", "answered"}
"""All the chair may do: everything else (approve, hide, reject, edit, merge, ban) is staff's."""


def _chair_access(request: HttpRequest, meeting: Meeting) -> str:
    """``staff`` (with two-factor), ``chair`` (the committee's chair or vice-chair) or
    ``member`` (its other serving members); PermissionDenied for anyone else signed in.
    Councillors are not staff: no two-factor is asked of them, as in their inbox."""
    user = request.user
    if has_staff_access(user):
        return "staff"
    role = selectors.committee_role(user, meeting)
    if role in selectors.CHAIRS:
        return "chair"
    if role:
        return "member"
    raise PermissionDenied


def _chair_page(
    request: HttpRequest, meeting: Meeting, access: str, *, status: int = 200
) -> HttpResponse:
    can_chair = access != "member"
    context = {
        **selectors.staff_context(meeting),
        "councillor": True,
        "read_only": not can_chair,
        "stream": selectors.councillor_stream(meeting, can_chair=can_chair),
    }
    return render(request, "questions/chair.html", context, status=status)


@require_GET
@live_page
def chair(request: HttpRequest, meeting_pk: int) -> HttpResponse:
    """The chair's view for the councillor who chairs (or vice-chairs) the meeting's committee:
    the approved questions, the current item's first, with "Now answering" and "Answered".
    The committee's other members read it without the buttons; staff see what the chair sees
    (their own chair's view, with the moderation tools, is under /staff/)."""
    meeting = _meeting(meeting_pk)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return _chair_page(request, meeting, _chair_access(request, meeting))


@require_POST
def chair_act(request: HttpRequest, meeting_pk: int, pk: int) -> HttpResponse:
    """The chair's two buttons, "Now answering" and "Answered"; audited like staff's."""
    meeting = _meeting(meeting_pk)
    chair_url = reverse("questions:chair", args=[meeting.pk])
    if not request.user.is_authenticated:
        return redirect_to_login(chair_url)
    access = _chair_access(request, meeting)
    question = get_object_or_404(Question, pk=pk, meeting=meeting)
    action = request.POST.get("action", "")
    if access == "member" or action not in CHAIR_ACTIONS:
        messages.error(
            request,
            _(
                "The committee's chair and vice-chair can mark a question “now answering” or "
                "“answered”; anything else is for council staff."
            ),
        )
        return _chair_page(request, meeting, access, status=403)
    seen = request.POST.get("seen", "")[:10]  # the state the chair's page showed
    try:
        if action == "answering":
            services.question_answering(actor=request.user, question=question, seen=seen)
            messages.success(request, _("Now answering the question."))
        else:
            services.question_answered(actor=request.user, question=question, seen=seen)
            messages.success(request, _("The question is marked answered."))
    except services.QuestionError as exc:
        messages.error(request, str(exc))
        return _chair_page(request, meeting, access, status=exc.status)
    return redirect(chair_url)
