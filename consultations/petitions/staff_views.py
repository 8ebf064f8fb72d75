"""Staff pages for petitions: moderation, the council's answer, paper counts, fraud controls."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consultations.models import BlockRule, Petition, RejectionReason
from engagement.core.permissions import staff_required

from . import selectors, services


class ModerateForm(forms.Form):
    decision = forms.ChoiceField(
        label=_lazy("Decision"),
        choices=[
            ("approve", _lazy("Approve and publish")),
            ("reject", _lazy("Reject")),
            ("changes", _lazy("Ask for changes")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.ModelChoiceField(
        label=_lazy("Reason for rejecting"), queryset=RejectionReason.objects.all(), required=False
    )
    details = forms.CharField(
        label=_lazy("Explanation"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResponseForm(forms.Form):
    response = forms.CharField(
        label=_lazy("Council response"), widget=forms.Textarea(attrs={"rows": 6})
    )
    response_cy = forms.CharField(
        label=_lazy("Council response (Welsh)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class DebateForm(forms.Form):
    debate_at = forms.DateTimeField(
        label=_lazy("Debate date"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    details = forms.CharField(
        label=_lazy("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    url = forms.URLField(
        label=_lazy("Link to the meeting's agenda item or the recording"), required=False
    )


class PaperForm(forms.Form):
    paper_count = forms.IntegerField(label=_lazy("Paper signatures"), min_value=0)
    scan = forms.FileField(label=_lazy("Scan of the paper petition"), required=False)


class InvalidateForm(forms.Form):
    ip = forms.GenericIPAddressField(label=_lazy("IP address"), required=False)
    domain = forms.CharField(label=_lazy("Email domain"), max_length=200, required=False)
    since = forms.DateTimeField(
        label=_lazy("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=_lazy("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    confirm = forms.BooleanField(
        label=_lazy("Remove them (unticked: only count them)"), required=False
    )


class BlockRuleForm(forms.ModelForm):
    class Meta:
        model = BlockRule
        fields = ["kind", "value", "action", "note"]


def _errors(form: forms.Form, exc: Exception) -> None:
    form.add_error(None, exc.messages[0] if isinstance(exc, ValidationError) else str(exc))


@staff_required
@require_GET
def petitions(request: HttpRequest) -> HttpResponse:
    rows = Petition.objects.order_by("state", "-pk")[:500]
    return render(request, "petitions/staff/list.html", {"petitions": rows})


@staff_required
@require_http_methods(["GET", "POST"])
def petition(request: HttpRequest, pk: int) -> HttpResponse:
    petition = get_object_or_404(Petition, pk=pk)
    which = request.POST.get("form", "")
    forms_ = {
        "moderate": ModerateForm(request.POST if which == "moderate" else None),
        "response": ResponseForm(
            request.POST if which == "response" else None,
            initial={"response": petition.response, "response_cy": petition.response_cy},
        ),
        "paper": PaperForm(
            request.POST if which == "paper" else None,
            request.FILES if which == "paper" else None,
            initial={"paper_count": petition.paper_count},
        ),
        "invalidate": InvalidateForm(request.POST if which == "invalidate" else None),
        "debate": DebateForm(
            request.POST if which == "debate" else None,
            initial={
                "debate_at": petition.debate_at,
                "details": petition.debate_details,
                "url": petition.debate_url,
            },
        ),
    }
    archive_error = ""
    if request.method == "POST" and which == "archive":
        try:
            services.petition_archive(petition=petition, actor=request.user)
        except services.PetitionError as exc:
            archive_error = str(exc)
        else:
            messages.success(request, _("The petition has been archived."))
            return redirect("petitions_staff:petition", pk=petition.pk)
    if request.method == "POST" and which in forms_ and forms_[which].is_valid():
        data = forms_[which].cleaned_data
        try:
            if which == "moderate":
                services.petition_moderate(
                    petition=petition,
                    actor=request.user,
                    decision=data["decision"],
                    reason=data["reason"],
                    details=data["details"],
                )
                messages.success(request, _("The petition has been moderated."))
            elif which == "response":
                services.petition_respond(
                    petition=petition,
                    actor=request.user,
                    response=data["response"],
                    response_cy=data["response_cy"],
                )
                messages.success(request, _("The response has been published."))
            elif which == "debate":
                services.petition_debate(
                    petition=petition,
                    actor=request.user,
                    debate_at=data["debate_at"],
                    details=data["details"],
                    url=data["url"],
                )
                messages.success(request, _("The debate has been recorded."))
            elif which == "paper":
                services.petition_paper(
                    petition=petition,
                    actor=request.user,
                    count=data["paper_count"],
                    scan=data["scan"],
                )
                messages.success(request, _("The paper signatures have been recorded."))
            else:
                count = services.signatures_invalidate(
                    petition=petition,
                    actor=request.user,
                    ip=data["ip"] or "",
                    domain=data["domain"],
                    since=data["since"],
                    until=data["until"],
                    preview=not data["confirm"],
                )
                if data["confirm"]:
                    text = ngettext(
                        "%(count)s signature removed.", "%(count)s signatures removed.", count
                    )
                else:
                    text = ngettext(
                        "%(count)s signature matches.", "%(count)s signatures match.", count
                    )
                messages.success(request, text % {"count": count})
        except (services.PetitionError, ValidationError) as exc:
            _errors(forms_[which], exc)
        else:
            return redirect("petitions_staff:petition", pk=petition.pk)
    bound_errors = any(f.is_bound and f.errors for f in forms_.values()) or bool(archive_error)
    context = {
        "petition": petition,
        "forms": forms_,
        "archive_error": archive_error,
        "by_ward": selectors.signatures_by_ward(petition),
        "counts": {
            state: petition.signatures.filter(state=state).count()
            for state in ("pending", "validated", "fraudulent", "invalidated")
        },
    }
    return render(
        request, "petitions/staff/petition.html", context, status=400 if bound_errors else 200
    )


@staff_required
@require_http_methods(["GET", "POST"])
def block_rules(request: HttpRequest) -> HttpResponse:
    form = BlockRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.block_rule_add(actor=request.user, **form.cleaned_data)
        except services.PetitionError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("The rule has been added."))
            return redirect("petitions_staff:blocks")
    rules = BlockRule.objects.order_by("kind", "value")
    return render(
        request,
        "petitions/staff/blocks.html",
        {"form": form, "rules": rules},
        status=400 if form.errors else 200,
    )


@staff_required
@require_POST
def block_rule_remove(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(BlockRule, pk=pk)
    services.block_rule_remove(actor=request.user, rule=rule)
    messages.success(request, _("The rule has been removed."))
    return redirect("petitions_staff:blocks")
