"""The councillor inbox and the case page (councillors and staff), and the staff pages for
sources, routing rules, the gazetteer and response figures. Thin: forms check, services write."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from engagement.core.permissions import staff_required
from engagement.realtime.pages import live_page

from . import forms, selectors, services
from .models import Case, GazetteerEntry, Reply, RoutingRule, SavedReply, Source
from .routing import trace_lines


def inbox_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Councillors with a councillor record, and staff (who must use two-factor)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.is_council_staff:
            return staff_required(view)(request, *args, **kwargs)
        if selectors.councillor_for(user) is None:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@inbox_required
@require_GET
@vary_on_headers("HX-Request")
@live_page
def inbox(request: HttpRequest) -> HttpResponse:
    is_staff = request.user.is_council_staff
    councillor = selectors.councillor_for(request.user)
    default = "mine" if councillor else "triage"
    view = request.GET.get("view", default)
    if view not in selectors.VIEWS:
        view = default
    form = forms.InboxFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    cases = selectors.inbox(
        request.user,
        view=view,
        state=filters.get("state", ""),
        q=filters.get("q", ""),
        network=filters.get("network", ""),
    )
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    stream = "social-inbox.staff" if is_staff else f"social-inbox.{councillor.pk}"
    tabs = [
        ("mine", _("My cases")),
        ("ward", _("My ward")),
        ("watching", _("Watching")),
        ("overdue", _("Overdue")),
    ]
    if is_staff:
        tabs += [
            ("triage", _("Triage")),
            ("approval", _("Replies to approve")),
            ("all", _("All cases")),
        ]
    context = {
        "form": form,
        "page": page,
        "view": view,
        "tabs": tabs,
        "stream": stream,
        "is_staff": is_staff,
        "query": request.GET.urlencode(),
        "approvals": selectors.pending_approvals().count() if is_staff else 0,
    }
    template = "social/includes/_results.html" if request.htmx else "social/inbox.html"
    return render(request, template, context)


def _visible_case(request: HttpRequest, pk: int) -> Case:
    case = selectors.visible_cases(request.user).filter(pk=pk).first()
    if case is None:
        merged = Case.objects.filter(pk=pk, merged_into__isnull=False).first()
        if (
            merged is not None
            and selectors.visible_cases(request.user).filter(pk=merged.merged_into_id).exists()
        ):
            return merged
        raise Http404
    return selectors.case_detail(case.pk)


@inbox_required
@require_http_methods(["GET", "POST"])
def case(request: HttpRequest, pk: int) -> HttpResponse:
    case = _visible_case(request, pk)
    if case.merged_into_id:
        messages.info(request, _("Case #%(case)s was merged into this one.") % {"case": case.pk})
        return redirect("social:case", pk=case.merged_into_id)
    is_staff = request.user.is_council_staff
    may_act = selectors.may_act_on(request.user, case)
    which = request.POST.get("form", "") if request.method == "POST" else ""
    if request.method == "POST" and not may_act:
        raise PermissionDenied
    staff_only = {"assign", "merge", "approve", "link"}
    if which in staff_only and not is_staff:
        raise PermissionDenied

    def bound(name: str, form_class: type, **kw: Any) -> Any:
        return form_class(request.POST if which == name else None, **kw)

    panel = {
        "reply": bound("reply", forms.ReplyForm),
        "note": bound("note", forms.NoteForm),
        "state": bound("state", forms.StateForm, initial={"state": case.state}),
        "priority": bound("priority", forms.PriorityForm, initial={"priority": case.priority}),
        "labels": bound("labels", forms.LabelsForm, initial={"labels": case.labels.all()}),
        "assign": bound(
            "assign",
            forms.AssignForm,
            initial={"owner": case.owner, "team": case.team, "watchers": case.watchers.all()},
        ),
        "merge": bound("merge", forms.MergeForm),
        "link": bound(
            "link",
            forms.LinkForm,
            initial={"petition": case.petition, "budget_project": case.budget_project},
        ),
    }
    if which in {"approve", "retry"}:
        reply_id = request.POST.get("reply", "")
        reply = get_object_or_404(Reply, pk=reply_id if reply_id.isdigit() else 0, case=case)
        try:
            if which == "approve":
                services.reply_approve(reply=reply, actor=request.user)
                messages.success(request, _("The reply is approved and being posted."))
            else:
                services.reply_retry(reply=reply, actor=request.user)
                messages.success(request, _("The reply is being posted again."))
        except services.CaseError as exc:
            messages.error(request, str(exc))
        return redirect("social:case", pk=case.pk)
    if which in panel and panel[which].is_valid():
        data = panel[which].cleaned_data
        try:
            if which == "reply":
                reply = services.case_reply(case=case, actor=request.user, text=data["text"])
                if reply.state == Reply.State.AWAITING_APPROVAL:
                    messages.success(request, _("Your reply is waiting for approval by staff."))
                else:
                    messages.success(request, _("Your reply is being posted."))
            elif which == "note":
                services.case_note(case=case, actor=request.user, text=data["text"])
                messages.success(request, _("Note added."))
            elif which == "state":
                services.case_set_state(case=case, actor=request.user, state=data["state"])
                messages.success(
                    request,
                    _("The case is now %(state)s.") % {"state": case.get_state_display().lower()},
                )
            elif which == "priority":
                services.case_set_priority(case=case, actor=request.user, priority=data["priority"])
                messages.success(request, _("Priority changed."))
            elif which == "labels":
                services.case_set_labels(case=case, actor=request.user, labels=list(data["labels"]))
                messages.success(request, _("Labels changed."))
            elif which == "assign":
                services.case_assign(
                    case=case,
                    actor=request.user,
                    owner=data["owner"],
                    team=data["team"],
                    watchers=list(data["watchers"]),
                )
                messages.success(request, _("The case has been reassigned."))
            elif which == "link":
                services.case_link(
                    case=case,
                    actor=request.user,
                    petition=data["petition"],
                    budget_project=data["budget_project"],
                )
                messages.success(request, _("Links saved."))
            elif which == "merge":
                into = selectors.visible_cases(request.user).filter(pk=data["into"]).first()
                if into is None:
                    raise services.CaseError(
                        _("There is no case #%(case)s.") % {"case": data["into"]}
                    )
                services.case_merge(case=case, into=into, actor=request.user)
                messages.success(request, _("Merged into case #%(case)s.") % {"case": into.pk})
                return redirect("social:case", pk=into.pk)
            return redirect("social:case", pk=case.pk)
        except services.CaseError as exc:
            panel[which].add_error(None, str(exc))
    status = 400 if which in panel and panel[which].errors else 200
    context = {
        "case": case,
        "posts": case.posts.order_by("posted_at"),
        "history": selectors.case_history(case),
        "trace": trace_lines(case.trace),
        "replies": case.replies.select_related("author").order_by("created_at"),
        "forms": panel,
        "may_act": may_act,
        "is_staff": is_staff,
        "saved_replies": SavedReply.objects.all(),
    }
    return render(request, "social/case.html", context, status=status)


# --- staff pages --------------------------------------------------------------------------------


@staff_required
@require_GET
def sources(request: HttpRequest) -> HttpResponse:
    return render(request, "social/staff/sources.html", {"sources": Source.objects.all()})


def _config_edit(
    request: HttpRequest,
    *,
    model: type,
    form_class: type,
    pk: int | None,
    title: str,
    action: str,
    back: str,
    saved: str,
) -> HttpResponse:
    """Create or edit one staff-configured object (a source, a routing rule), audited."""
    instance = get_object_or_404(model, pk=pk) if pk else None
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.config_save(form=form, actor=request.user, action=action)
        messages.success(request, saved)
        return redirect(back)
    return render(
        request,
        "social/staff/edit.html",
        {"form": form, "title": title, "back": back},
        status=400 if form.errors else 200,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def source_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _config_edit(
        request,
        model=Source,
        form_class=forms.SourceForm,
        pk=pk,
        title=_("Listening source"),
        action="social.source",
        back="social:sources",
        saved=_("Source saved."),
    )


@staff_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _config_edit(
        request,
        model=RoutingRule,
        form_class=forms.RoutingRuleForm,
        pk=pk,
        title=_("Routing rule"),
        action="social.rule",
        back="social:rules",
        saved=_("Routing rule saved."),
    )


def _rules_page(request: HttpRequest, import_form: Any, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "social/staff/rules.html",
        {
            "rules": RoutingRule.objects.select_related("councillor", "team"),
            "gazetteer_count": GazetteerEntry.objects.count(),
            "import_form": import_form,
        },
        status=status,
    )


@staff_required
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    return _rules_page(request, forms.GazetteerImportForm())


@staff_required
@require_POST
def gazetteer_import(request: HttpRequest) -> HttpResponse:
    form = forms.GazetteerImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            added = services.gazetteer_import(rows=form.cleaned_data["file"], actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
        else:
            messages.success(
                request, _("%(count)s names added to the gazetteer.") % {"count": added}
            )
            return redirect("social:rules")
    return _rules_page(request, form, status=400)


@inbox_required
@require_GET
def figures(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by", "owner")
    if by not in {"owner", "ward", "topic", "network"}:
        by = "owner"
    rows = selectors.response_figures(by=by)
    longest = max((r["first_median"] or 0 for r in rows), default=0) or 1
    for row in rows:
        row["first_share"] = f"{(row['first_median'] or 0) / longest:.4f}"
    return render(request, "social/figures.html", {"rows": rows, "by": by})


@require_GET
def figures_json(request: HttpRequest) -> HttpResponse:
    """Response times as open data, when the council publishes them (otherwise 404)."""
    from django.http import JsonResponse

    if not services.listening_settings().publish_figures:
        raise Http404
    data = {by: selectors.response_figures(by=by) for by in ("owner", "ward", "topic", "network")}
    response = JsonResponse({"days": 90, "hours": "from the post to the reply", **data})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def link_account(request: HttpRequest) -> HttpResponse:
    """Residents link their X, Mastodon or Bluesky account, so what they post reaches their
    ward's councillors: they post the code shown here from that account."""
    from engagement.core.ratelimit import hit

    from .models import SocialIdentity

    form = forms.LinkAccountForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if request.POST.get("remove", "").isdigit():
            services.identity_remove(user=request.user, identity_id=int(request.POST["remove"]))
            messages.success(request, _("The account is no longer linked."))
            return redirect("social:link_account")
        if not hit("social-link", request.user.pk, limit=10, window=3600):
            form.add_error(None, _("You have tried this too many times. Try again in an hour."))
        elif form.is_valid():
            try:
                services.identity_start(user=request.user, **form.cleaned_data)
            except services.CaseError as exc:
                form.add_error("handle", str(exc))
            else:
                return redirect("social:link_account")
        status = 400
    return render(
        request,
        "social/link_account.html",
        {
            "form": form,
            "identities": SocialIdentity.objects.filter(user=request.user).order_by("network"),
        },
        status=status,
    )
