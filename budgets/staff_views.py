"""Staff pages for running a round: set-up, review, codes, paper entry, counting, delivery.

Every write goes through :mod:`budgets.services` (which audits it). No page here shows how a
named person voted: paper entries are visible only until their two keyings agree.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from engagement.core.permissions import staff_required
from engagement.realtime.pages import live_page

from . import selectors, services
from .ballots import BallotError, BallotRules
from .forms import (
    BudgetForm,
    CodesForm,
    PabulibImportForm,
    PaperIdentityForm,
    ProjectForm,
    ProjectUpdateForm,
    RoundForm,
    VoidCodesForm,
    submitted_choices,
)
from .models import Budget, PaperEntry, Project, Result, Round, VotingCode


def _add_errors(form: Form, exc: Exception) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    elif isinstance(exc, ValidationError | BallotError):
        for error in exc.messages:
            form.add_error(None, error)
    else:
        form.add_error(None, str(exc))


def _form_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    form = context.get("form")
    status = 400 if form is not None and form.is_bound and form.errors else 200
    return render(request, template, context, status=status)


@staff_required
@require_GET
def rounds(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "budgets/staff/rounds.html",
        {"rounds": Round.objects.prefetch_related("budgets").all()},
    )


@staff_required
@require_GET
@live_page
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    budgets = selectors.round_budgets(round_)
    paper = {
        row["budget_id"]: row
        for row in PaperEntry.objects.filter(budget__round=round_)
        .values("budget_id")
        .order_by()
        .annotate(**_counts())
    }
    context = {
        "round": round_,
        "budgets": budgets,
        "turnout": selectors.turnout(round_.pk),
        "paper": paper,
        "proposed": Project.objects.filter(budget__round=round_, status="proposed").count(),
        "phases": Round.Phase.choices,
        "codes": VotingCode.objects.filter(round=round_).count(),
        "results": {r.budget_id: r for r in Result.objects.filter(budget__round=round_)},
        "count_stream": f"budgetcount.{round_.pk}",
    }
    return render(request, "budgets/staff/round.html", context)


def _counts() -> dict[str, Any]:
    from django.db.models import Count, Q

    return {
        "waiting": Count("pk", filter=Q(status="waiting")),
        "mismatch": Count("pk", filter=Q(status="mismatch")),
    }


@staff_required
@require_http_methods(["GET", "POST"])
def round_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk) if pk else Round()
    form = RoundForm(request.POST or None, instance=round_)
    if request.method == "POST" and form.is_valid():
        try:
            services.round_save(round_=round_, actor=request.user, data=form.cleaned_data)
        except (ValidationError, services.VotingError) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The round has been saved."))
            return redirect("budgets:staff_round", pk=round_.pk)
    return _form_page(
        request,
        "budgets/staff/form.html",
        {
            "form": form,
            "round": round_ if pk else None,
            "title": _("Edit round") if pk else _("New round"),
        },
    )


@staff_required
@require_POST
def round_phase(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    try:
        services.round_set_phase(
            round_=round_, actor=request.user, phase=request.POST.get("phase", "")
        )
    except services.VotingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("The round is now in: %(phase)s.") % {"phase": round_.get_phase_display()}
        )
    return redirect("budgets:staff_round", pk=round_.pk)


@staff_required
@require_POST
def count(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    try:
        services.count_start(round_=round_, actor=request.user)
    except services.VotingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Counting has started."))
    return redirect("budgets:staff_round", pk=round_.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def budget_edit(request: HttpRequest, pk: int, budget: int | None = None) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    budget_obj = (
        get_object_or_404(Budget, pk=budget, round=round_) if budget else Budget(round=round_)
    )
    form = BudgetForm(request.POST or None, instance=budget_obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.budget_save(budget=budget_obj, actor=request.user, data=form.cleaned_data)
        except (ValidationError, services.VotingError) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The budget has been saved."))
            return redirect("budgets:staff_round", pk=round_.pk)
    return _form_page(
        request,
        "budgets/staff/form.html",
        {"form": form, "round": round_, "title": _("Edit budget") if budget else _("New budget")},
    )


@staff_required
@require_http_methods(["GET", "POST"])
def project_edit(
    request: HttpRequest, pk: int, budget: int | None = None, project: int | None = None
) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    if project:
        project_obj = get_object_or_404(Project, pk=project, budget__round=round_)
    else:
        project_obj = Project(budget=get_object_or_404(Budget, pk=budget, round=round_))
    form = ProjectForm(request.POST or None, request.FILES or None, instance=project_obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_save(project=project_obj, actor=request.user, data=form.cleaned_data)
        except (ValidationError, services.VotingError) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The project has been saved."))
            return redirect("budgets:staff_round", pk=round_.pk)
    return _form_page(
        request,
        "budgets/staff/form.html",
        {
            "form": form,
            "round": round_,
            "title": _("Edit project") if project else _("New project"),
            "multipart": True,
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def project_update(request: HttpRequest, pk: int, project: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    project_obj = get_object_or_404(Project, pk=project, budget__round=round_)
    form = ProjectUpdateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update_add(
                project=project_obj, actor=request.user, data=form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The delivery update has been published."))
            return redirect("budgets:staff_round", pk=round_.pk)
    return _form_page(
        request,
        "budgets/staff/form.html",
        {
            "form": form,
            "round": round_,
            "title": _("Delivery update: %(project)s") % {"project": project_obj.title},
            "multipart": True,
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def codes(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=pk)
    generate = CodesForm(request.POST if "count" in request.POST else None)
    void = VoidCodesForm(request.POST if "codes" in request.POST else None)
    if request.method == "POST" and generate.is_bound and generate.is_valid():
        try:
            made = services.voting_codes_generate(
                round_=round_,
                actor=request.user,
                count=generate.cleaned_data["count"],
                batch=generate.cleaned_data["batch"],
                ward=generate.cleaned_data["ward"],
            )
        except services.VotingError as exc:
            _add_errors(generate, exc)
        else:
            messages.success(request, _("%(count)s codes generated.") % {"count": len(made)})
            return redirect("budgets:staff_codes", pk=round_.pk)
    if request.method == "POST" and void.is_bound and void.is_valid():
        try:
            voided = services.voting_codes_void(
                round_=round_, actor=request.user, codes=void.cleaned_data["codes"].splitlines()
            )
        except services.VotingError as exc:
            _add_errors(void, exc)
        else:
            messages.success(request, _("%(count)s codes voided.") % {"count": voided})
            return redirect("budgets:staff_codes", pk=round_.pk)
    from django.db.models import Count, Q

    batches = (
        VotingCode.objects.filter(round=round_)
        .values("batch", "ward__name")
        .order_by("batch")
        .annotate(
            total=Count("pk"),
            used=Count("pk", filter=Q(voter__isnull=False)),
            voided=Count("pk", filter=Q(voided_at__isnull=False)),
        )
    )
    errors = (generate.is_bound and generate.errors) or (void.is_bound and void.errors)
    return render(
        request,
        "budgets/staff/codes.html",
        {"round": round_, "generate": generate, "void": void, "batches": batches},
        status=400 if errors else 200,
    )


@staff_required
@require_GET
def codes_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Unused, unvoided codes of one batch (or all) for a mail merge. Audited: they are secrets."""
    from engagement.audit.services import audit_record

    from .exports import csv_text

    round_ = get_object_or_404(Round, pk=pk)
    rows = VotingCode.objects.filter(round=round_, voided_at__isnull=True, voter__isnull=True)
    batch = request.GET.get("batch", "")
    if batch:
        rows = rows.filter(batch=batch)
    text = csv_text(
        ["code", "batch", "ward", "round", "vote_at"],
        (
            [
                c.code,
                c.batch,
                c.ward.name if c.ward_id else "",
                round_.title,
                request.build_absolute_uri(round_.get_absolute_url()),
            ]
            for c in rows.select_related("ward").order_by("batch", "pk")
        ),
    )
    audit_record(
        actor=request.user, action="budget_codes.export", target=round_, changes={"batch": batch}
    )
    response = HttpResponse(text, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{round_.slug}-codes.csv"'
    return response


@staff_required
@require_http_methods(["GET", "POST"])
def paper(request: HttpRequest, pk: int, budget: int) -> HttpResponse:
    """Key a paper or assisted ballot: the same form as online, plus the serial and the voter."""
    round_ = get_object_or_404(Round, pk=pk)
    budget_obj = get_object_or_404(Budget, pk=budget, round=round_)
    projects = selectors.ballot_projects(budget_obj)
    rules = BallotRules.for_budget(budget_obj, projects)
    form = PaperIdentityForm(request.POST or None)
    chosen: dict[int, int] = {}
    if request.method == "POST":
        if request.POST.get("discard"):
            services.paper_entry_discard(
                budget=budget_obj, actor=request.user, serial=request.POST["discard"]
            )
            messages.success(request, _("Those entries were discarded: key the paper again."))
            return redirect("budgets:staff_paper", pk=round_.pk, budget=budget_obj.pk)
        try:
            pairs = submitted_choices(budget_obj.ballot_type, request.POST)
            chosen = dict(pairs)
        except BallotError as exc:
            pairs = None
            _add_errors(form, exc)
        if form.is_valid() and pairs is not None:
            try:
                state, _receipt = services.paper_entry_add(
                    budget=budget_obj,
                    actor=request.user,
                    serial=form.cleaned_data["serial"],
                    identity=form.cleaned_data["identity"],
                    choices=pairs,
                    channel=form.cleaned_data["channel"],
                )
            except (services.VotingError, BallotError) as exc:
                _add_errors(form, exc)
            else:
                text = {
                    "waiting": _("Entry saved. A second person must key the same paper."),
                    "mismatch": _("The two entries differ: reconcile them below."),
                    "cast": _("Both entries agree: the ballot has been counted in."),
                }[state]
                (messages.warning if state == "mismatch" else messages.success)(request, text)
                return redirect("budgets:staff_paper", pk=round_.pk, budget=budget_obj.pk)
    entries = PaperEntry.objects.filter(budget=budget_obj).select_related("entered_by")
    # What differs is named, not the values: no staff screen shows how a named person voted.
    mismatches: dict[str, list[dict[str, Any]]] = {}
    waiting = []
    for entry in entries:
        row = {"entry": entry}
        if entry.status == "mismatch":
            mismatches.setdefault(entry.serial, []).append(row)
        else:
            waiting.append(row)
    for rows in mismatches.values():
        first = rows[0]["entry"]
        parts = []
        if any(r["entry"].identity.casefold() != first.identity.casefold() for r in rows):
            parts.append(_("the voter"))
        if any(r["entry"].channel != first.channel for r in rows):
            parts.append(_("paper or assisted"))
        if any(r["entry"].choices != first.choices for r in rows):
            parts.append(_("the choices"))
        rows[0]["differs"] = _("They differ in: %(parts)s.") % {"parts": ", ".join(parts)}
    return render(
        request,
        "budgets/staff/paper.html",
        {
            "round": round_,
            "budget": budget_obj,
            "projects": projects,
            "rules": rules,
            "form": form,
            "chosen": chosen,
            "rank_choices": range(1, (rules.most_projects or len(projects)) + 1),
            "waiting": waiting,
            "mismatches": mismatches,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def pabulib_import(request: HttpRequest) -> HttpResponse:
    from .importers import round_import_pabulib

    form = PabulibImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            text = form.cleaned_data["file"].read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.add_error("file", _("The file is not UTF-8 text."))
        else:
            try:
                round_ = round_import_pabulib(
                    text=text, slug=form.cleaned_data["slug"], actor=request.user
                )
            except (ValidationError, services.VotingError) as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("The round has been imported."))
                return redirect("budgets:staff_round", pk=round_.pk)
    return _form_page(
        request,
        "budgets/staff/form.html",
        {"form": form, "title": _("Import a pabulib file"), "multipart": True},
    )
