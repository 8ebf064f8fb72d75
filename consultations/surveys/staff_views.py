"""Staff pages for consultations: details, documents, the builder (htmx, with plain forms
underneath), preview, publishing, versions, entering and importing responses, the response
browser, analysis, themes, exports and the outcome. Every write goes through a service, which
records it in the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from engagement.core.permissions import staff_required
from engagement.realtime.pages import live_page

from . import exports, responses, selectors, services
from .answers import display
from .forms import (
    ConsultationForm,
    DocumentForm,
    EntryForm,
    FilterForm,
    ImportForm,
    OutcomeForm,
    QuestionForm,
    SectionConditionForm,
    SectionForm,
    ThemeForm,
    VersionForm,
    condition_initial,
    posted,
)
from .models import Answer, Consultation, Document, Question, Response, Section, Theme


def _get(pk: int) -> Consultation:
    return get_object_or_404(Consultation.objects.select_related("current_version"), pk=pk)


def _form_errors(form: Any, exc: Exception) -> None:
    """A service's ValidationError (or SurveyError) onto the form, by field where it can."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc.messages[0] if isinstance(exc, ValidationError) else str(exc))


@staff_required
@require_GET
def consultation_list(request: HttpRequest) -> HttpResponse:
    rows = Consultation.objects.order_by("-pk")[:500]
    return render(request, "consultations/staff/list.html", {"consultations": rows})


@staff_required
@require_http_methods(["GET", "POST"])
def consultation_new(request: HttpRequest) -> HttpResponse:
    form = ConsultationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        wards = list(data.pop("wards"))
        try:
            consultation = services.consultation_create(actor=request.user, wards=wards, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The consultation has been created as a draft."))
            return redirect("consultations_staff:builder", pk=consultation.pk)
    return render(
        request,
        "consultations/staff/edit.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def consultation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    form = ConsultationForm(posted(request), instance=consultation)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        wards = list(data.pop("wards"))
        try:
            services.consultation_update(
                actor=request.user, consultation=consultation, wards=wards, **data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
            consultation.refresh_from_db()
        else:
            messages.success(request, _("The consultation has been saved."))
            return redirect("consultations_staff:detail", pk=pk)
    return render(
        request,
        "consultations/staff/edit.html",
        {"form": form, "consultation": consultation},
        status=400 if form.errors else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
@live_page
def consultation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    document_form = DocumentForm(
        request.POST if request.POST.get("form") == "document" else None,
        request.FILES if request.POST.get("form") == "document" else None,
    )
    if request.method == "POST":
        action = request.POST.get("form", "")
        try:
            if action == "publish":
                services.consultation_publish(actor=request.user, consultation=consultation)
                messages.success(request, _("The consultation is published."))
            elif action == "unpublish":
                services.consultation_unpublish(actor=request.user, consultation=consultation)
                messages.success(request, _("The consultation is a draft again."))
            elif action == "close":
                services.consultation_close(actor=request.user, consultation=consultation)
                messages.success(request, _("The consultation is closed."))
            elif action == "document" and document_form.is_valid():
                services.document_add(
                    actor=request.user, consultation=consultation, **document_form.cleaned_data
                )
                messages.success(request, _("The document has been added."))
            elif action == "remove-document":
                document = get_object_or_404(
                    Document, pk=request.POST.get("document") or 0, consultation=consultation
                )
                services.document_remove(actor=request.user, document=document)
                messages.success(request, _("The document has been removed."))
            elif action != "document":
                return HttpResponse(_("Unknown action."), status=400)
        except services.SurveyError as exc:
            messages.error(request, str(exc))
            return redirect("consultations_staff:detail", pk=pk)
        except ValidationError as exc:
            _form_errors(document_form, exc)
        if not document_form.errors:
            return redirect("consultations_staff:detail", pk=pk)
    context = {
        "consultation": consultation,
        "documents": consultation.documents.all(),
        "document_form": document_form,
        "versions": consultation.versions.all(),
        "channels": selectors.channel_counts(consultation),
        "welsh_missing": services.welsh_missing(consultation),
        "stream": f"consultation.{consultation.pk}",
    }
    return render(
        request,
        "consultations/staff/detail.html",
        context,
        status=400 if document_form.errors else 200,
    )


# --- the builder ---------------------------------------------------------------------------------


def _builder_context(consultation: Consultation) -> dict[str, Any]:
    version = consultation.current_version
    return {
        "consultation": consultation,
        "version": version,
        "sections": selectors.sections_with_questions(version),
        "frozen": selectors.version_has_responses(version),
        "version_form": VersionForm(),
    }


@staff_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def builder(request: HttpRequest, pk: int) -> HttpResponse:
    """The questionnaire. POSTs move or remove a section or question; with htmx the list is
    swapped in place, without it the page reloads."""
    consultation = _get(pk)
    version = consultation.current_version
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "add-section":
                services.section_save(
                    actor=request.user,
                    version=version,
                    title=request.POST.get("title", "") or _("Questions"),
                )
            elif action in ("up", "down", "remove"):
                kind = request.POST.get("item", "")
                model = Question if kind == "question" else Section
                lookup = (
                    {"section__version": version} if model is Question else {"version": version}
                )
                item = get_object_or_404(model, pk=request.POST.get("id") or 0, **lookup)
                if action == "remove":
                    if model is Question:
                        services.question_remove(actor=request.user, question=item)
                    else:
                        services.section_remove(actor=request.user, section=item)
                else:
                    services.item_move(
                        actor=request.user, item=item, direction=-1 if action == "up" else 1
                    )
            elif action == "version":
                form = VersionForm(request.POST)
                note = form.cleaned_data["note"] if form.is_valid() else ""
                services.version_create(actor=request.user, consultation=consultation, note=note)
                messages.success(request, _("A new version has been made: edit it below."))
                consultation = _get(pk)
            else:
                return HttpResponse(_("Unknown action."), status=400)
        except (services.SurveyError, ValidationError) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, message)
        if not request.htmx:
            return redirect("consultations_staff:builder", pk=pk)
    context = _builder_context(consultation)
    if request.htmx:
        return render(request, "consultations/staff/includes/_builder.html", context)
    return render(request, "consultations/staff/builder.html", context)


def _earlier(section: Section, question: Question | None) -> list[Question]:
    earlier = []
    for q in selectors.questions(section.version_id):
        if question is not None and q.pk == question.pk:
            break
        if (q.section.position, q.section.pk) > (section.position, section.pk):
            break
        earlier.append(q)
    return earlier


@staff_required
@require_http_methods(["GET", "POST"])
def section_edit(request: HttpRequest, pk: int, section_id: int) -> HttpResponse:
    consultation = _get(pk)
    section = get_object_or_404(Section, pk=section_id, version=consultation.current_version)
    form = SectionForm(posted(request), instance=section)
    earlier = [q for q in _earlier(section, None) if q.section_id != section.pk]
    condition_form = SectionConditionForm(
        request.POST or None,
        earlier=earlier,
        initial={"condition": condition_initial(section.condition)},
    )
    if request.method == "POST" and form.is_valid() and condition_form.is_valid():
        try:
            services.section_save(
                actor=request.user,
                version=section.version,
                section=section,
                condition=condition_form.cleaned_data["condition"],
                **form.cleaned_data,
            )
        except (services.SurveyError, ValidationError) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The section has been saved."))
            return redirect("consultations_staff:builder", pk=pk)
    return render(
        request,
        "consultations/staff/section.html",
        {"consultation": consultation, "form": form, "condition_form": condition_form},
        status=400 if (form.errors or condition_form.errors) else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def question_edit(
    request: HttpRequest, pk: int, section_id: int, question_id: int | None = None
) -> HttpResponse:
    consultation = _get(pk)
    section = get_object_or_404(Section, pk=section_id, version=consultation.current_version)
    question = get_object_or_404(Question, pk=question_id, section=section) if question_id else None
    initial = {}
    if question is not None:
        initial = {
            name: getattr(question, name)
            for name in [
                "kind",
                "text",
                "text_cy",
                "help_text",
                "help_text_cy",
                "required",
                "min_choices",
                "max_choices",
                "min_value",
                "max_value",
                "max_length",
            ]
        }
        initial["options"] = services.options_text(question.options)
        initial["rows"] = services.options_text(question.rows)
        initial["condition"] = condition_initial(question.condition)
    form = QuestionForm(posted(request), initial=initial, earlier=_earlier(section, question))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            data["options"] = services.parse_options(data["options"])
        except ValidationError as exc:
            form.add_error("options", exc.messages[0])
        try:
            data["rows"] = services.parse_options(data["rows"])
        except ValidationError as exc:
            form.add_error("rows", exc.messages[0])
        if not form.errors:
            try:
                services.question_save(
                    actor=request.user, section=section, question=question, **data
                )
            except (services.SurveyError, ValidationError) as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The question has been saved."))
                return redirect("consultations_staff:builder", pk=pk)
    return render(
        request,
        "consultations/staff/question.html",
        {"consultation": consultation, "section": section, "question": question, "form": form},
        status=400 if form.errors else 200,
    )


@staff_required
@require_GET
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Every page as a respondent sees it (nothing can be sent from here)."""
    consultation = _get(pk)
    qs = selectors.questions(consultation.current_version)
    by_key = {q.key: q for q in qs}
    pages = [
        [{"q": q, "hint": selectors.condition_hint(q, by_key)} for q in page]
        for page in selectors.pages(consultation, qs)
    ]
    return render(
        request,
        "consultations/staff/preview.html",
        {"consultation": consultation, "pages": pages, "values": {}, "errors": {}},
    )


# --- responses ------------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def enter(request: HttpRequest, pk: int) -> HttpResponse:
    """A postal, email or phone response entered on the resident's behalf."""
    consultation = _get(pk)
    qs = selectors.questions(consultation.current_version)
    form = EntryForm(posted(request), initial={"token": responses.new_submission_token()})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        raw = responses.raw_from_staff_post(qs, request.POST, request.FILES)
        values = {k: v for k, v in raw.items() if k}
        if form.is_valid():
            try:
                response = responses.response_record(
                    consultation=consultation,
                    raw=raw,
                    channel=form.cleaned_data["channel"],
                    token=form.cleaned_data["token"],
                    actor=request.user,
                    email=form.cleaned_data["email"],
                    wants_outcome=form.cleaned_data["wants_outcome"],
                    check_open=False,
                )
            except ValidationError as exc:
                for key, message in exc.message_dict.items():
                    if key in form.fields:
                        form.add_error(key, message[0])
                    elif key == "__all__":
                        form.add_error(None, message[0])
                    else:
                        errors[key] = message[0]
            except services.SurveyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("Response %(ref)s has been recorded.") % {"ref": response.reference},
                )
                return redirect("consultations_staff:enter", pk=pk)
    by_key = {q.key: q for q in qs}
    context = {
        "consultation": consultation,
        "form": form,
        "questions": [{"q": q, "hint": selectors.condition_hint(q, by_key)} for q in qs],
        "errors": errors,
        "values": values,
    }
    status = 400 if (form.errors or errors) else 200
    return render(request, "consultations/staff/enter.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def import_csv(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    form = ImportForm(posted(request), request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            stored = responses.responses_import_csv(
                consultation=consultation, actor=request.user, file=form.cleaned_data["file"]
            )
        except ValidationError as exc:
            problems = exc.messages
        except services.SurveyError as exc:
            problems = [str(exc)]
        else:
            messages.success(request, _("%(n)s responses imported.") % {"n": stored})
            return redirect("consultations_staff:responses", pk=pk)
    context = {
        "consultation": consultation,
        "form": form,
        "problems": problems,
        "questions": selectors.questions(consultation.current_version),
    }
    status = 400 if (form.errors or problems) else 200
    return render(request, "consultations/staff/import.html", context, status=status)


@staff_required
@vary_on_headers("HX-Request")
@require_GET
def response_list(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    form = FilterForm(request.GET or None, consultation=consultation)
    filters = form.cleaned_data if form.is_valid() else {}
    found = selectors.browse(consultation, filters)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "consultation": consultation,
        "form": form,
        "page": page,
        "total": page.paginator.count,
        "query": query.urlencode(),
    }
    template = (
        "consultations/staff/includes/_responses.html"
        if request.htmx
        else "consultations/staff/responses.html"
    )
    return render(request, template, context)


@staff_required
@require_GET
def response_detail(request: HttpRequest, pk: int, response_id: int) -> HttpResponse:
    consultation = _get(pk)
    response = get_object_or_404(
        Response.objects.select_related("ward", "entered_by", "version"),
        pk=response_id,
        consultation=consultation,
        state=Response.State.SUBMITTED,
    )
    answers = sorted(
        response.answers.select_related("question__section"),
        key=lambda a: (a.question.section.position, a.question.position, a.question.pk),
    )
    rows = [{"question": a.question, "value": display(a.question, a.value)} for a in answers]
    return render(
        request,
        "consultations/staff/response.html",
        {"consultation": consultation, "response": response, "rows": rows},
    )


@staff_required
@require_GET
def analysis(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    form = FilterForm(request.GET or None, consultation=consultation)
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    context = {
        "consultation": consultation,
        "form": form,
        "filtered": bool(filters),
        "counts": selectors.question_counts(consultation, filters),
        "equality": selectors.equality_counts(consultation),
        "channels": selectors.channel_counts(consultation),
        "themes": selectors.theme_counts(consultation),
        "text_questions": selectors.text_questions(consultation),
    }
    return render(request, "consultations/staff/analysis.html", context)


@staff_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def themes(request: HttpRequest, pk: int, question_id: int) -> HttpResponse:
    """Tag the free-text answers to one question with themes (each tag an htmx toggle, or a
    plain form without JavaScript)."""
    consultation = _get(pk)
    question = get_object_or_404(
        Question, pk=question_id, section__version__consultation=consultation
    )
    form = ThemeForm(request.POST if request.POST.get("form") == "theme" else None)
    if request.method == "POST":
        if request.POST.get("form") == "theme":
            if form.is_valid():
                try:
                    services.theme_create(
                        actor=request.user, consultation=consultation, **form.cleaned_data
                    )
                except ValidationError as exc:
                    _form_errors(form, exc)
                else:
                    return redirect("consultations_staff:themes", pk=pk, question_id=question_id)
        elif request.POST.get("form") == "tag":
            answer = get_object_or_404(
                Answer, pk=request.POST.get("answer") or 0, response__consultation=consultation
            )
            theme = get_object_or_404(
                Theme, pk=request.POST.get("theme") or 0, consultation=consultation
            )
            services.answer_tag(
                actor=request.user, answer=answer, theme=theme, on=request.POST.get("on") == "1"
            )
            if request.htmx:
                answer = Answer.objects.prefetch_related("theme_tags").get(pk=answer.pk)
                answer.theme_ids = {tag.theme_id for tag in answer.theme_tags.all()}
                return render(
                    request,
                    "consultations/staff/includes/_answer.html",
                    {
                        "answer": answer,
                        "themes": consultation.themes.all(),
                        "consultation": consultation,
                        "question": question,
                    },
                )
            return redirect(
                f"{request.path}?page={request.POST.get('page', '1')}#answer-{answer.pk}"
            )
        else:
            return HttpResponse(_("Unknown action."), status=400)
    answers = selectors.free_text_answers(consultation, question)
    page = Paginator(answers, 25).get_page(request.GET.get("page"))
    for answer in page:
        answer.theme_ids = {tag.theme_id for tag in answer.theme_tags.all()}
    context = {
        "consultation": consultation,
        "question": question,
        "page": page,
        "themes": list(consultation.themes.all()),
        "form": form,
    }
    return render(
        request,
        "consultations/staff/themes.html",
        context,
        status=400 if form.errors else 200,
    )


@staff_required
@require_GET
def export(request: HttpRequest, pk: int, fmt: str) -> Any:
    consultation = _get(pk)
    name = f"{consultation.slug}-responses"
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(consultation), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    if fmt == "json":
        response = StreamingHttpResponse(
            exports.json_stream(consultation), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    if fmt == "xlsx":
        return FileResponse(
            exports.xlsx_file(consultation),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "consult":
        response = StreamingHttpResponse(
            exports.consult_stream(consultation), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="{consultation.slug}-consult.json"'
        return response
    raise Http404


@staff_required
@require_http_methods(["GET", "POST"])
def outcome(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = _get(pk)
    form = OutcomeForm(
        request.POST or None,
        initial={
            "you_said": consultation.you_said,
            "you_said_cy": consultation.you_said_cy,
            "we_did": consultation.we_did,
            "we_did_cy": consultation.we_did_cy,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.outcome_publish(
                actor=request.user, consultation=consultation, **form.cleaned_data
            )
        except (services.SurveyError, ValidationError) as exc:
            _form_errors(form, exc)
            consultation.refresh_from_db()
        else:
            messages.success(request, _("The outcome is published."))
            return redirect("consultations_staff:detail", pk=pk)
    return render(
        request,
        "consultations/staff/outcome.html",
        {"consultation": consultation, "form": form},
        status=400 if form.errors else 200,
    )
