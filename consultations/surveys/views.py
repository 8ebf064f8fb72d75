"""Resident pages: the list, a consultation, responding page by page, check your answers, the
confirmation, save and come back later, and "We asked, you said, we did".

A draft response is found through the session (anonymous) or the account (signed in); the
emailed link of "save and come back later" puts it back in the session.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagement.core import ratelimit

from . import responses, selectors
from .conditions import items_for, visible_keys
from .forms import CheckForm, SaveForm, posted
from .models import Consultation, Response
from .services import SurveyError

SESSION_KEY = "consultation-response-{pk}"
DONE_KEY = "consultation-done"


def _consultation(slug: str) -> Consultation:
    return get_object_or_404(selectors.published().select_related("current_version"), slug=slug)


def _draft(request: HttpRequest, consultation: Consultation) -> Response | None:
    pk = request.session.get(SESSION_KEY.format(pk=consultation.pk))
    found = Response.objects.filter(
        consultation=consultation, state=Response.State.DRAFT
    ).select_related("consultation")
    if pk:
        draft = found.filter(pk=pk).first()
        if draft is not None:
            return draft
    if request.user.is_authenticated:
        return found.filter(user=request.user).first()
    return None


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "consultations/index.html", {"groups": selectors.public_list()})


@require_GET
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    consultation = _consultation(slug)
    context = {
        "consultation": consultation,
        "documents": consultation.documents.all(),
        "wards": consultation.wards.all(),
        "draft": _draft(request, consultation),
    }
    return render(request, "consultations/detail.html", context)


@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    consultation = _consultation(slug)
    draft = _draft(request, consultation)
    if draft is None:
        if not ratelimit.hit(
            "consultation-start",
            ratelimit.client_ip(request),
            limit=settings.CONSULTATION_STARTS_PER_ADDRESS,
            window=600,
        ):
            messages.error(request, _("Too many responses started from here. Try again later."))
            return redirect(consultation)
        try:
            draft = responses.response_start(consultation=consultation, user=request.user)
        except SurveyError as exc:
            messages.error(request, str(exc))
            return redirect(consultation)
    request.session[SESSION_KEY.format(pk=consultation.pk)] = draft.pk
    return redirect("consultations:page", slug=slug, number=1)


def _flow(response: Response) -> tuple[list, list[int]]:
    qs = selectors.questionnaire(response.version_id)
    page_list = selectors.pages(response.consultation, qs)
    shown = selectors.visible_page_indexes(page_list, items_for(qs), response.draft)
    return page_list, shown


@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    consultation = _consultation(slug)
    response = _draft(request, consultation)
    if response is None:
        messages.info(request, _("Start your response here."))
        return redirect(consultation)
    page_list, shown = _flow(response)
    index = number - 1
    if not 0 <= index < len(page_list):
        raise Http404
    if index not in shown:  # hidden by an earlier answer: go to the next shown page
        later = [i for i in shown if i > index]
        if later:
            return redirect("consultations:page", slug=slug, number=later[0] + 1)
        return redirect("consultations:check", slug=slug)
    questions = page_list[index]
    errors: dict[str, str] = {}
    values: dict[str, Any] = dict(response.draft)
    returning = request.GET.get("change") == "1" or request.POST.get("change") == "1"
    if request.method == "POST":
        if "save" in request.POST:
            _save_quietly(response, questions, request)
            return redirect("consultations:save", slug=slug)
        try:
            responses.response_save_page(
                response=response, page=questions, data=request.POST, files=request.FILES
            )
        except ValidationError as exc:
            errors = {k: v[0] for k, v in exc.message_dict.items()}
            values = _posted_values(questions, request, values)
        except SurveyError as exc:
            messages.error(request, str(exc))
            return redirect(consultation)
        else:
            page_list, shown = _flow(response)
            later = [i for i in shown if i > index]
            if returning:
                # A changed answer may have revealed a required question: ask it first.
                visible = set(
                    visible_keys(
                        items_for(selectors.questionnaire(response.version_id)), response.draft
                    )
                )
                missing = [
                    i
                    for i in later
                    if any(
                        q.required and q.key in visible and q.key not in response.draft
                        for q in page_list[i]
                    )
                ]
                if missing:
                    url = reverse(
                        "consultations:page", kwargs={"slug": slug, "number": missing[0] + 1}
                    )
                    return redirect(f"{url}?change=1")
                return redirect("consultations:check", slug=slug)
            if not later:
                return redirect("consultations:check", slug=slug)
            return redirect("consultations:page", slug=slug, number=later[0] + 1)
    position = shown.index(index)
    back = None
    if position > 0:
        back = ("page", shown[position - 1] + 1)
    all_questions = selectors.questionnaire(response.version_id)
    shown_keys = set(visible_keys(items_for(all_questions), values))
    by_key = {q.key: q for q in all_questions}
    context = {
        "consultation": consultation,
        "response": response,
        "questions": [
            {"q": q, "hint": selectors.condition_hint(q, by_key) if len(questions) > 1 else ""}
            for q in questions
            if q.key in shown_keys or len(questions) > 1
        ],
        "errors": errors,
        "values": values,
        "number": number,
        "position": position + 1,
        "total": len(shown),
        "back": back,
        "single": consultation.layout == Consultation.Layout.QUESTION,
        "section": questions[0].section,
        "returning": returning,
    }
    return render(request, "consultations/page.html", context, status=400 if errors else 200)


def _posted_values(questions, request, values: dict) -> dict:
    """What was typed, shown back in the form next to the errors (never stored)."""
    from .answers import raw_from_post

    shown = dict(values)
    for q in questions:
        raw = raw_from_post(q, request.POST, None)
        shown[q.key] = raw
    return shown


def _save_quietly(response: Response, questions, request: HttpRequest) -> None:
    """ "Save and come back later" keeps the page's answers if they are valid, else the last
    valid ones (nothing wrong is ever stored)."""
    with contextlib.suppress(ValidationError, SurveyError):
        responses.response_save_page(
            response=response, page=questions, data=request.POST, files=request.FILES
        )


@require_http_methods(["GET", "POST"])
def check(request: HttpRequest, slug: str) -> HttpResponse:
    consultation = _consultation(slug)
    response = _draft(request, consultation)
    if response is None:
        done = request.session.get(DONE_KEY, {})
        if str(consultation.pk) in done:  # a double click: the first submit already went
            return redirect("consultations:done", slug=slug, reference=done[str(consultation.pk)])
        return redirect(consultation)
    initial = {"email": response.email}
    form = CheckForm(posted(request), initial=initial)
    errors: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        try:
            sent = responses.response_submit(response=response, **form.cleaned_data)
        except ValidationError as exc:
            for key, message in exc.message_dict.items():
                if key in form.fields:
                    form.add_error(key, message[0])
                else:
                    errors[key] = message[0]
        except SurveyError as exc:
            messages.error(request, str(exc))
            return redirect(consultation)
        else:
            done = request.session.get(DONE_KEY, {})
            done[str(consultation.pk)] = sent.reference
            request.session[DONE_KEY] = done
            request.session.pop(SESSION_KEY.format(pk=consultation.pk), None)
            return redirect("consultations:done", slug=slug, reference=sent.reference)
    rows = selectors.check_answers(response)
    context = {
        "consultation": consultation,
        "rows": rows,
        "form": form,
        "errors": errors,
        "missing": [r for r in rows if r["question"].key in errors],
        "missing_pages": _missing_pages(response, errors),
    }
    status = 400 if (form.errors or errors) else 200
    return render(request, "consultations/check.html", context, status=status)


def _missing_pages(response: Response, errors: dict[str, str]) -> list[dict]:
    if not errors:
        return []
    qs = selectors.questionnaire(response.version_id)
    page_list = selectors.pages(response.consultation, qs)
    result = []
    for i, page_questions in enumerate(page_list):
        for q in page_questions:
            if q.key in errors:
                result.append({"question": q, "message": errors[q.key], "page": i + 1})
    return result


@require_GET
def done(request: HttpRequest, slug: str, reference: str) -> HttpResponse:
    consultation = _consultation(slug)
    if request.session.get(DONE_KEY, {}).get(str(consultation.pk)) != reference:
        raise Http404
    response = get_object_or_404(Response, consultation=consultation, reference=reference)
    return render(
        request, "consultations/done.html", {"consultation": consultation, "response": response}
    )


@require_http_methods(["GET", "POST"])
def save(request: HttpRequest, slug: str) -> HttpResponse:
    consultation = _consultation(slug)
    response = _draft(request, consultation)
    if response is None:
        return redirect(consultation)
    form = SaveForm(posted(request), initial={"email": response.email})
    if request.method == "POST" and form.is_valid():
        if not ratelimit.hit(
            "consultation-save", ratelimit.client_ip(request), limit=10, window=600
        ):
            form.add_error(None, _("Too many emails sent from here. Try again in a few minutes."))
        else:
            try:
                responses.response_save_for_later(
                    response=response, email=form.cleaned_data["email"]
                )
            except ValidationError as exc:
                form.add_error("email", exc.message_dict["email"][0])
            except SurveyError as exc:
                form.add_error(None, str(exc))
            else:
                return render(
                    request,
                    "consultations/saved.html",
                    {"consultation": consultation, "email": form.cleaned_data["email"]},
                )
    return render(
        request,
        "consultations/save.html",
        {"consultation": consultation, "form": form},
        status=400 if form.errors else 200,
    )


@require_GET
def resume(request: HttpRequest, token: str) -> HttpResponse:
    try:
        response = responses.response_resume(token=token)
    except SurveyError as exc:
        return render(request, "consultations/resume_failed.html", {"error": str(exc)}, status=400)
    consultation = response.consultation
    request.session[SESSION_KEY.format(pk=consultation.pk)] = response.pk
    messages.success(request, _("Welcome back: your answers so far are saved."))
    return redirect("consultations:check", slug=consultation.slug)


@require_GET
def outcome(request: HttpRequest, slug: str) -> HttpResponse:
    consultation = _consultation(slug)
    if consultation.phase not in (Consultation.Phase.CLOSED, Consultation.Phase.OUTCOME):
        raise Http404
    context = {
        "consultation": consultation,
        "counts": selectors.question_counts(consultation),
        "channels": selectors.channel_counts(consultation),
    }
    return render(request, "consultations/outcome.html", context)
