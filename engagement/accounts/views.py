"""A resident's own account: profile, notification preferences, data download, deletion."""

import json

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from engagement.notifications.kinds import kinds_for
from engagement.notifications.models import Delivery
from engagement.notifications.services import delivery_for, notification_preferences_set

from . import services
from .forms import DeleteAccountForm, ProfileForm


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.profile_update(user=user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, _("Your details have been saved."))
                return redirect("accounts:profile")
    else:
        form = ProfileForm(
            initial={
                "name": user.name,
                "postcode": user.postcode.postcode if user.postcode else "",
                "preferred_language": user.preferred_language,
            }
        )
    return render(
        request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = [
        {"key": kind.key, "label": kind.label, "value": delivery_for(user=user, kind=kind.key)}
        for kind in kinds_for(user)
    ]
    errors: dict[str, str] = {}
    if request.method == "POST":
        chosen = {}
        for row in rows:
            value = request.POST.get(f"kind-{row['key']}", "")
            if value not in Delivery.values:
                errors[row["key"]] = _("Choose how you want to hear about this.")
            chosen[row["key"]] = value
            row["value"] = value
        if not errors:
            notification_preferences_set(user=user, preferences=chosen)
            messages.success(request, _("Your email preferences have been saved."))
            return redirect("accounts:notifications")
    return render(
        request,
        "accounts/notifications.html",
        {"rows": rows, "choices": Delivery.choices, "errors": errors},
        status=400 if errors else 200,
    )


@login_required
@require_http_methods(["GET"])
def download_data(request: HttpRequest) -> HttpResponse:
    data = services.user_data_export(user=request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="moot-my-data-{stamp}.json"'
    return response


def _is_council_staff(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.is_council_staff


@login_required
@reauthentication_required(enabled=_is_council_staff)
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Staff and admins confirm who they are again first (their accounts can do more)."""
    if request.method == "POST":
        form = DeleteAccountForm(request.POST)
        if form.is_valid():
            try:
                services.user_anonymise(user=request.user, actor=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                logout(request)
                messages.success(request, _("Your account has been deleted."))
                return redirect("home")
    else:
        form = DeleteAccountForm()
    return render(
        request, "accounts/delete.html", {"form": form}, status=400 if form.errors else 200
    )
