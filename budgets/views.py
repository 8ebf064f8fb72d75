"""Resident pages: rounds, projects, the ballot (with a review step), receipts and results."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from engagement.core import ratelimit
from engagement.core.memo import memo
from engagement.realtime.pages import live_page

from . import selectors, services
from .ballots import BallotError, BallotRules, ballot_clean, money
from .forms import (
    EligibilityForm,
    PhoneCodeForm,
    PhoneForm,
    ProposeForm,
    ReceiptForm,
    submitted_choices,
)
from .models import Budget, PhoneCode, Round, VotingCode

SESSION_KEY = "budgets:eligibility:{}"
RECEIPT_KEY = "budgets:receipt"


def _round(slug: str) -> Round:
    try:
        return selectors.round_for_page(slug)
    except Round.DoesNotExist:
        raise Http404 from None


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "budgets/index.html", {"rounds": list(selectors.public_rounds())})


@live_page
def round_detail(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    budgets = selectors.round_budgets(round_)
    context = {
        "round": round_,
        "budgets": budgets,
        "map": selectors.project_map(budgets),
        "turnout": selectors.turnout_count(round_.pk),
        "turnout_stream": f"turnout.{round_.pk}",
        "eligibility": request.session.get(SESSION_KEY.format(round_.pk)),
    }
    return render(request, "budgets/round.html", context)


def project_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    round_ = _round(slug)
    project = get_object_or_404(
        selectors.Project.objects.select_related("budget__ward").exclude(
            status__in=["proposed", "withdrawn"]
        ),
        pk=pk,
        budget__round=round_,
    )
    return render(
        request,
        "budgets/project.html",
        {"round": round_, "project": project, "updates": project.updates.all()[:20]},
    )


# --- eligibility and verification ------------------------------------------------


def _email_verified(user: Any) -> bool:
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def _phone_verified(round_: Round, user: Any) -> str:
    from datetime import timedelta

    from django.utils import timezone

    sent = PhoneCode.objects.filter(
        round=round_,
        user=user,
        verified_at__gte=timezone.now() - timedelta(hours=2),
    ).first()
    return sent.phone_hash if sent else ""


@login_required
@require_http_methods(["GET", "POST"])
def eligibility(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    if not round_.voting_is_open():
        messages.error(request, _("Voting is not open."))
        return redirect(round_)
    phone_hash = _phone_verified(round_, request.user) if round_.verify_sms else ""
    email_ok = round_.verify_email and _email_verified(request.user)
    initial = {}
    if getattr(request.user, "postcode", None):
        initial["postcode"] = request.user.postcode.postcode
    form = EligibilityForm(request.POST or None, round_=round_, initial=initial)
    if request.method == "POST" and form.is_valid():
        code_text = form.cleaned_data.get("code", "")
        verified_by, code = "", None
        if code_text:
            if not ratelimit.hit("budget-code", request.user.pk, limit=10, window=600):
                form.add_error("code", _("Too many codes tried. Wait ten minutes and try again."))
            else:
                try:
                    code = services.voting_code_find(round_=round_, text=code_text)
                    verified_by = "letter"
                except services.VotingError as exc:
                    form.add_error("code", str(exc))
        elif email_ok:
            verified_by = "email"
        elif phone_hash:
            verified_by = "sms"
        elif round_.verify_sms:
            form.add_error(None, _("Confirm your mobile number first."))
        else:
            form.add_error(None, _("Confirm your email address first, from your account page."))
        if not form.errors:
            ward = (
                code.ward
                if code is not None and code.ward_id
                else form.cleaned_data["postcode"].ward
            )
            request.session[SESSION_KEY.format(round_.pk)] = {
                "ward": ward.pk,
                "ward_name": ward.name,
                "connection": form.cleaned_data["connection"],
                "verified_by": verified_by,
                "code": code.pk if code is not None else None,
                "phone_hash": phone_hash,
            }
            return redirect("budgets:choose", slug=round_.slug)
    context = {
        "round": round_,
        "form": form,
        "email_ok": email_ok,
        "phone_ok": bool(phone_hash),
    }
    return render(request, "budgets/eligibility.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    if not round_.verify_sms or not round_.voting_is_open():
        raise Http404
    sent = PhoneCode.objects.filter(round=round_, user=request.user).exists()
    phone_form = PhoneForm(request.POST if "phone" in request.POST else None)
    code_form = PhoneCodeForm(request.POST if "sms_code" in request.POST else None)
    if request.method == "POST" and phone_form.is_bound and phone_form.is_valid():
        if not ratelimit.hit("budget-sms", request.user.pk, limit=5, window=3600):
            phone_form.add_error("phone", _("Too many codes sent. Wait an hour and try again."))
        else:
            try:
                services.phone_code_send(
                    round_=round_, user=request.user, phone=phone_form.cleaned_data["phone"]
                )
            except services.VotingError as exc:
                phone_form.add_error("phone", str(exc))
            else:
                messages.success(request, _("We have sent you a code."))
                return redirect("budgets:phone", slug=round_.slug)
    if request.method == "POST" and code_form.is_bound and code_form.is_valid():
        try:
            services.phone_code_check(
                round_=round_, user=request.user, code=code_form.cleaned_data["sms_code"]
            )
        except services.VotingError as exc:
            code_form.add_error("sms_code", str(exc))
        else:
            messages.success(request, _("Your mobile number is confirmed."))
            return redirect("budgets:eligibility", slug=round_.slug)
    errors = phone_form.errors or code_form.errors
    return render(
        request,
        "budgets/phone.html",
        {"round": round_, "phone_form": phone_form, "code_form": code_form, "sent": sent},
        status=400 if errors else 200,
    )


def _identity(request: HttpRequest, round_: Round) -> services.Identity | None:
    """The identity the eligibility page stored for this round (the ward by id: no query)."""
    saved = request.session.get(SESSION_KEY.format(round_.pk))
    if not saved:
        return None
    return services.Identity(
        user=request.user,
        code=VotingCode.objects.filter(pk=saved["code"]).first() if saved["code"] else None,
        phone_hash=saved["phone_hash"] if saved["verified_by"] == "sms" else "",
        ward_id=saved["ward"],
        connection=saved["connection"],
        verified_by=saved["verified_by"],
    )


@login_required
def choose(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    identity = _identity(request, round_)
    if identity is None:
        return redirect("budgets:eligibility", slug=round_.slug)
    budgets = services.eligible_budgets(round_, identity.ward_id)
    if len(budgets) == 1 and round_.voting_is_open():
        return redirect("budgets:ballot", slug=round_.slug, budget=budgets[0].pk)
    return render(
        request,
        "budgets/choose.html",
        {
            "round": round_,
            "budgets": budgets,
            "ward_name": request.session[SESSION_KEY.format(round_.pk)]["ward_name"],
        },
    )


# --- the ballot ------------------------------------------------


def _ballot_context(round_: Round, budget: Budget, submitted: list[tuple[int, int]] | None) -> dict:
    projects = selectors.ballot_projects(budget)
    rules = BallotRules.for_budget(budget, projects)
    chosen = dict(submitted or [])
    spent = rules.cost({pid: v for pid, v in chosen.items() if pid in rules.costs})
    return {
        "round": round_,
        "budget": budget,
        "projects": projects,
        "rules": rules,
        "chosen": chosen,
        "spent": spent,
        "spent_money": money(spent),
        "left_money": money(max(budget.amount - spent, 0)),
        "amount_money": money(budget.amount),
        "over": spent > budget.amount,
        "spent_percent": min(int(spent * 100 / budget.amount), 100) if budget.amount else 0,
        "rank_choices": range(1, (rules.most_projects or len(projects)) + 1),
    }


def _budget_for_vote(request: HttpRequest, slug: str, budget_pk: int) -> tuple[Round, Budget]:
    """The budget and its round: every ballot takes this path, so each process keeps them for
    ``services.VOTE_PATH_SECONDS`` (counting waits longer than that after the close)."""
    budget = _vote_budget(budget_pk, slug)
    if budget is None:
        raise Http404
    return budget.round, budget


@memo(seconds=services.VOTE_PATH_SECONDS)
def _vote_budget(budget_pk: int, slug: str) -> Budget | None:
    return (
        Budget.objects.select_related("round")
        .exclude(round__phase=Round.Phase.DRAFT)
        .filter(pk=budget_pk, round__slug=slug)
        .first()
    )


@login_required
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def ballot(request: HttpRequest, slug: str, budget: int) -> HttpResponse:
    round_, budget_obj = _budget_for_vote(request, slug, budget)
    identity = _identity(request, round_)
    if identity is None:
        return redirect("budgets:eligibility", slug=round_.slug)
    if not round_.voting_is_open():
        messages.error(request, _("Voting is not open."))
        return redirect(round_)
    errors: list[str] = []
    submitted: list[tuple[int, int]] | None = None
    if request.method == "POST":
        action = request.POST.get("action", "review")
        try:
            submitted = submitted_choices(budget_obj.ballot_type, request.POST)
        except BallotError as exc:
            errors = exc.messages
        if action == "cast" and not errors:
            # The hot path: the service checks the ballot; nothing else is loaded.
            return _cast(request, round_, budget_obj, identity, submitted or [])
        context = _ballot_context(round_, budget_obj, submitted)
        if action == "change":
            context["errors"] = errors
            return render(request, "budgets/ballot.html", context)
        if request.htmx and action == "check":
            if not errors:
                try:
                    ballot_clean(context["rules"], submitted or [])
                except BallotError as exc:
                    context["live_errors"] = exc.messages
            return render(request, "budgets/includes/_budget_bar.html", context)
        if not errors:
            try:
                cleaned = ballot_clean(context["rules"], submitted or [])
            except BallotError as exc:
                errors = exc.messages
            else:
                context["cleaned"] = [
                    (p, cleaned[p.pk]) for p in context["projects"] if p.pk in cleaned
                ]
                if budget_obj.ballot_type == "ranked":
                    context["cleaned"].sort(key=lambda item: item[1])
                return render(request, "budgets/review.html", context)
    context = _ballot_context(round_, budget_obj, submitted)
    context["errors"] = errors
    return render(request, "budgets/ballot.html", context, status=400 if errors else 200)


def _cast(
    request: HttpRequest,
    round_: Round,
    budget: Budget,
    identity: services.Identity,
    submitted: list[tuple[int, int]],
) -> HttpResponse:
    if not ratelimit.hit("budget-cast", request.user.pk, limit=30, window=600):
        context = _ballot_context(round_, budget, submitted)
        context["errors"] = [_("You have voted many times in a few minutes. Wait and try again.")]
        return render(request, "budgets/ballot.html", context, status=429)
    try:
        receipt = services.ballot_cast(budget=budget, identity=identity, choices=submitted)
    except (services.VotingError, BallotError) as exc:
        errors = exc.messages if isinstance(exc, BallotError) else [str(exc)]
        context = _ballot_context(round_, budget, submitted)
        context["errors"] = errors
        return render(request, "budgets/ballot.html", context, status=400)
    request.session[RECEIPT_KEY] = {
        "code": receipt.code,
        "public_id": receipt.public_id,
        "replaced": receipt.replaced,
        "budget": budget.pk,
    }
    return redirect("budgets:done", slug=round_.slug, budget=budget.pk)


@login_required
def done(request: HttpRequest, slug: str, budget: int) -> HttpResponse:
    round_, budget_obj = _budget_for_vote(request, slug, budget)
    receipt = request.session.pop(RECEIPT_KEY, None)
    if not receipt or receipt["budget"] != budget_obj.pk:
        return redirect(round_)
    identity = _identity(request, round_)
    others = [
        b
        for b in services.eligible_budgets(round_, identity.ward_id if identity else None)
        if b.pk != budget_obj.pk
    ]
    return render(
        request,
        "budgets/done.html",
        {"round": round_, "budget": budget_obj, "receipt": receipt, "others": others},
    )


@require_http_methods(["GET", "POST"])
def receipt(request: HttpRequest) -> HttpResponse:
    form = ReceiptForm(request.POST or None)
    found = None
    if request.method == "POST" and form.is_valid():
        if not ratelimit.hit("budget-receipt", ratelimit.client_ip(request), limit=30, window=600):
            form.add_error("receipt", _("Too many checks. Wait ten minutes and try again."))
        else:
            found = services.receipt_check(code=form.cleaned_data["receipt"])
            if found is None:
                form.add_error(
                    "receipt",
                    _(
                        "No current ballot has that receipt. If you voted again, use the "
                        "newest one."
                    ),
                )
    return render(
        request,
        "budgets/receipt.html",
        {"form": form, "ballot": found},
        status=400 if form.errors else 200,
    )


# --- ideas ------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def propose(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    if round_.phase != Round.Phase.IDEAS or not round_.ideas_open:
        messages.error(request, _("This round is not taking ideas."))
        return redirect(round_)
    form = ProposeForm(request.POST or None, round_=round_)
    if request.method == "POST" and form.is_valid():
        if not ratelimit.hit("budget-idea", request.user.pk, limit=10, window=86400):
            form.add_error(None, _("You have sent a lot of ideas today. Try again tomorrow."))
        else:
            try:
                services.project_propose(
                    budget=form.cleaned_data["budget"], user=request.user, data=form.cleaned_data
                )
            except (services.VotingError, ValidationError) as exc:
                form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
            else:
                messages.success(
                    request, _("Thank you. Council staff will check your idea and let you know.")
                )
                return redirect(round_)
    return render(
        request,
        "budgets/propose.html",
        {"round": round_, "form": form},
        status=400 if form.errors else 200,
    )


# --- results ------------------------------------------------


def results(request: HttpRequest, slug: str) -> HttpResponse:
    round_ = _round(slug)
    published = round_.phase in (Round.Phase.RESULTS, Round.Phase.DELIVERY, Round.Phase.CLOSED)
    if not published:
        raise Http404
    budgets = selectors.round_budgets(round_)
    return render(
        request,
        "budgets/results.html",
        {
            "round": round_,
            "results": [r for r in (selectors.budget_result(b) for b in budgets) if r],
            "turnout": selectors.turnout(round_.pk),
        },
    )


def _published(slug: str) -> Round:
    round_ = _round(slug)
    if round_.phase not in (Round.Phase.RESULTS, Round.Phase.DELIVERY, Round.Phase.CLOSED):
        raise Http404
    return round_


def _download(text: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def results_csv(request: HttpRequest, slug: str) -> HttpResponse:
    from .exports import results_csv as export

    round_ = _published(slug)
    return _download(
        export(selectors.round_budgets(round_)), f"{round_.slug}-results.csv", "text/csv"
    )


def ballots_csv(request: HttpRequest, slug: str, budget: int) -> HttpResponse:
    from .exports import ballots_csv as export

    round_ = _published(slug)
    budget_obj = get_object_or_404(Budget, pk=budget, round=round_)
    return _download(export(budget_obj), f"{round_.slug}-{budget_obj.pk}-ballots.csv", "text/csv")


def ballots_pabulib(request: HttpRequest, slug: str, budget: int) -> HttpResponse:
    from engagement.council.selectors import council_settings

    from .exports import pabulib_export

    round_ = _published(slug)
    budget_obj = get_object_or_404(
        Budget.objects.select_related("ward", "round"), pk=budget, round=round_
    )
    text = pabulib_export(budget_obj, council=council_settings().name)
    return _download(text, f"{round_.slug}-{budget_obj.pk}.pb", "text/plain; charset=utf-8")
